// stdin of an interactive run (spec §4.3): `write()` texts reach the
// program in order, text written before it starts is kept, `closeStdin()`
// gives it end of file, and misuse is refused in the client.

import assert from "node:assert/strict";
import { after, before, test } from "node:test";

import { CoderunClient, CoderunError } from "../src/coderun.js";
import { python, startServer, until } from "./server.js";

/** @type {import("./server.js").RunningServer} */
let server;
/** @type {CoderunClient} */
let client;

before(async () => {
  server = await startServer({ name: "stdin" });
  client = new CoderunClient(server.url);
});

after(async () => {
  client?.close();
  await server?.stop();
});

const ECHO = "while (line := input('> ')) != 'quit':\n    print(line.upper())\n";

test("Lines written to an interactive run reach the program in order, as the student types them", async () => {
  const job = client.run(python(ECHO, { interactive: true }));
  await until(() => job.stdout.endsWith("> "), 10000, "the first prompt");
  job.write("hello\n");
  await until(() => job.stdout.includes("HELLO"), 10000, "the first answer");
  job.write("wor");
  job.write("ld\n");
  job.write("quit\n");
  const result = await job.result;
  assert.equal(result.status, "exited");
  assert.equal(job.stdout, "> HELLO\n> WORLD\n> ");
});

test("Text written before the program starts is kept until it runs", async () => {
  const job = client.run(python("print(input() + input())", { interactive: true }));
  assert.notEqual(job.state, "running");
  job.write("ab\n");
  job.write("cd\n");
  await job.result;
  assert.equal(job.stdout, "abcd\n");
});

test("Text written before the run is even sent is sent after it, in order", async () => {
  const lazy = new CoderunClient(server.url, { lazy: true });
  try {
    const job = lazy.run(python("import sys\nprint(repr(sys.stdin.read()))", { interactive: true }));
    assert.equal(job.state, "pending");
    job.write("first\n");
    job.closeStdin("second");
    await job.result;
    assert.equal(job.stdout, "'first\\nsecond'\n");
  } finally {
    lazy.close();
  }
});

test("Many small writes arrive whole and in order", async () => {
  const job = client.run(python("import sys\ndata = sys.stdin.read()\nprint(len(data), data[:20], data[-20:])", { interactive: true }));
  let expected = "";
  for (let i = 0; i < 500; i++) {
    const text = `${i},`;
    expected += text;
    job.write(text);
  }
  job.closeStdin();
  await job.result;
  assert.equal(job.stdout, `${expected.length} ${expected.slice(0, 20)} ${expected.slice(-20)}\n`);
});

test("closeStdin() gives the program end of file, after its last text", async () => {
  const job = client.run(python("import sys\nprint(repr(sys.stdin.read()))", { interactive: true }));
  job.write("one\n");
  job.closeStdin("two");
  await job.result;
  assert.equal(job.stdout, "'one\\ntwo'\n");
});

test("Writing after closeStdin() is refused", async () => {
  const job = client.run(python("import sys\nsys.stdin.read()", { interactive: true }));
  job.closeStdin();
  assert.throws(() => job.write("late"), CoderunError);
  await job.result;
});

test("write() on a run that is not interactive is refused in the client", async () => {
  const job = client.run(python("print(1)"));
  assert.throws(() => job.write("x"), TypeError);
  assert.throws(() => job.closeStdin(), TypeError);
  await job.result;
});

test("write() after the job ended is ignored", async () => {
  const job = client.run(python("print(1)", { interactive: true }));
  job.closeStdin();
  await job.result;
  job.write("nobody is reading\n");
});

test("An interactive program nobody answers still ends at its wall time", async () => {
  const result = await client.run(python("input()", { interactive: true, limits: { wallTimeMs: 700 } })).result;
  assert.equal(result.status, "timeout");
});
