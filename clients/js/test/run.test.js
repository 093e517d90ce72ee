// `run` against a real server: a job's events arrive in order and end with
// its result (spec §2.5), for interpreted and compiled languages, through
// listeners and through async iteration; output streams as it is written;
// every way a program can end is a result, not an error (spec §4.6).

import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";

import { CoderunClient } from "../src/coderun.js";
import { c, python, startServer } from "./server.js";

/** @type {import("./server.js").RunningServer} */
let server;
/** @type {CoderunClient} */
let client;

before(async () => {
  server = await startServer({ name: "run" });
  client = new CoderunClient(server.url);
});

after(async () => {
  client?.close();
  await server?.stop();
});

/**
 * The kinds of a job's events, consecutive outputs counted once: a
 * notification is not one write or one line (spec §4.5).
 * @param {import("../src/job.js").JobEvent[]} events
 */
const kinds = (events) =>
  events
    .map((e) => (e.type === "status" ? `status:${e.state}` : e.type))
    .filter((kind, i, all) => kind !== "output" || all[i - 1] !== "output");

describe("Events", () => {
  test("A run reports starting, running, its output, then its result, in that order", async () => {
    const job = client.run(python("print('hello')"));
    const result = await job.result;
    assert.equal(result.status, "exited");
    assert.equal(result.exitCode, 0);
    assert.deepEqual(kinds(job.events), ["status:starting", "status:running", "output", "result"]);
    assert.equal(job.stdout, "hello\n");
    assert.equal(typeof job.id, "number");
    assert.equal(job.state, "done");
  });

  test("A compiled run is building before running, and the build's output comes before running", async () => {
    const job = client.run(c('#include <stdio.h>\nint main(void) { int unused; puts("hi"); return 0; }\n'));
    const result = await job.result;
    assert.equal(result.status, "exited", JSON.stringify(result));
    assert.deepEqual(result.stages.map((s) => s.name), ["build", "run"]);
    const order = kinds(job.events);
    const building = order.indexOf("status:building");
    const running = order.indexOf("status:running");
    assert.ok(building >= 0 && running > building, order.join(" "));
    assert.equal(job.stdout, "hi\n");
  });

  test("A failed build is a buildFailed result carrying the compiler's stderr, never running", async () => {
    const job = client.run(c("int main(void) {\n    return 0\n}\n"));
    const result = await job.result;
    assert.equal(result.status, "buildFailed");
    assert.equal(result.stages.length, 1);
    assert.match(job.stderr, /error/);
    assert.ok(!kinds(job.events).includes("status:running"));
  });

  test("A compile error arrives as job/diagnostics on its file and line, before the result", async () => {
    const job = client.run({ language: "c", entry: "prog.c", files: [{ path: "prog.c", content: "int main(void) {\n    return 0\n}\n" }] });
    const result = await job.result;
    assert.equal(result.status, "buildFailed");
    const order = kinds(job.events);
    assert.ok(order.includes("diagnostics"), `no job/diagnostics: ${order.join(" ")}`);
    assert.ok(order.indexOf("diagnostics") < order.indexOf("result"));
    const [first] = job.diagnostics;
    assert.equal(first.file, "prog.c");
    assert.equal(first.severity, "error");
    // gcc: "prog.c:2:13: error: expected ‘;’ before ‘}’ token"; ranges are 0-based.
    assert.deepEqual(first.range.start, { line: 1, character: 12 });
    assert.match(first.message, /expected/);
  });

  test("Async iteration replays every event from the first and ends with the result", async () => {
    const job = client.run(python("import sys\nprint('out')\nprint('err', file=sys.stderr)\n"));
    await job.result;
    const seen = [];
    for await (const event of job) seen.push(event);
    assert.deepEqual(seen, job.events);
    assert.equal(seen.at(-1)?.type, "result");
    // A second iteration sees the same events.
    const again = [];
    for await (const event of job) again.push(event);
    assert.deepEqual(again, seen);
  });

  test("Async iteration started before any event waits for each one as it comes", async () => {
    const job = client.run(python("print(1)\nprint(2)\n"));
    const seen = [];
    for await (const event of job) seen.push(event.type);
    assert.equal(seen.at(-1), "result");
    assert.equal(job.stdout, "1\n2\n");
  });

  test("Listeners see each event before the result promise resolves", async () => {
    const job = client.run(python("print('a')\n"));
    /** @type {string[]} */
    const order = [];
    let text = "";
    job.on("status", (e) => order.push(`status:${e.state}`));
    // A notification is not one write or one line (spec): join the texts.
    job.on("output", (e) => {
      text += e.text;
      if (order.at(-1) !== "output") order.push("output");
    });
    job.on("result", (r) => order.push(`result:${r.status}`));
    /** @type {string[]} */
    const all = [];
    job.on("event", (e) => all.push(e.type));
    await job.result;
    order.push("resolved");
    assert.deepEqual(order, ["status:starting", "status:running", "output", "result:exited", "resolved"]);
    assert.equal(text, "a\n");
    assert.deepEqual(all, job.events.map((e) => e.type));
  });

  test("stdout and stderr arrive as separate streams, each in order", async () => {
    const job = client.run(python("import sys\nfor i in range(5):\n    print(i)\n    print(-i, file=sys.stderr)\n"));
    await job.result;
    assert.equal(job.stdout, "0\n1\n2\n3\n4\n");
    assert.equal(job.stderr, "0\n-1\n-2\n-3\n-4\n");
  });

  test("Output streams in while the program runs, before it ends", async () => {
    const job = client.run(python("import time\nfor i in range(4):\n    print('tick', i)\n    time.sleep(0.4)\n"));
    const first = await new Promise((resolve) => job.on("output", (e) => resolve({ at: Date.now(), done: job.done })));
    const result = await job.result;
    const end = Date.now();
    assert.equal(first.done, false, "the first output came with the result");
    assert.ok(end - first.at >= 900, `first output only ${end - first.at} ms before the end`);
    assert.equal(result.status, "exited");
  });

  test("Jobs on one connection run at once and their events do not mix", async () => {
    const a = client.run(python("import time\nfor i in range(3):\n    print('a', i); time.sleep(0.1)\n"));
    const b = client.run(python("import time\nfor i in range(3):\n    print('b', i); time.sleep(0.1)\n"));
    const [ra, rb] = await Promise.all([a.result, b.result]);
    assert.equal(ra.status, "exited");
    assert.equal(rb.status, "exited");
    assert.notEqual(a.id, b.id);
    assert.equal(a.stdout, "a 0\na 1\na 2\n");
    assert.equal(b.stdout, "b 0\nb 1\nb 2\n");
  });
});

describe("Params", () => {
  test("Several files, an entry and args reach the program", async () => {
    const job = client.run({
      language: "python",
      files: [
        { path: "app/start.py", content: "import sys\nsys.path.insert(0, 'lib')\nimport greet\ngreet.hello(sys.argv[1])\n" },
        { path: "lib/greet.py", content: "def hello(name):\n    print(f'Hello, {name}!')\n" },
      ],
      entry: "app/start.py",
      args: ["Grace"],
    });
    assert.equal((await job.result).status, "exited", job.stderr);
    assert.equal(job.stdout, "Hello, Grace!\n");
  });

  test("A base64 file arrives as bytes", async () => {
    const job = client.run({
      language: "python",
      files: [
        { path: "main.py", content: "print(open('data.bin', 'rb').read().hex())" },
        { path: "data.bin", content: "AAEC/w==", encoding: "base64" },
      ],
    });
    await job.result;
    assert.equal(job.stdout, "000102ff\n");
  });

  test("stdin given with the run is the whole input, then end of file", async () => {
    const job = client.run(python("import sys\nprint(sys.stdin.read().upper(), end='')\n", { stdin: "ada\nlovelace\n" }));
    await job.result;
    assert.equal(job.stdout, "ADA\nLOVELACE\n");
  });
});

describe("Results", () => {
  test("A non-zero exit is an exited result with its code, not an error", async () => {
    const result = await client.run(python("raise SystemExit(3)")).result;
    assert.equal(result.status, "exited");
    assert.equal(result.exitCode, 3);
  });

  test("A program past its wall time is a timeout result", async () => {
    const result = await client.run(python("while True: pass", { limits: { wallTimeMs: 1000 } })).result;
    assert.ok(result.status === "timeout" || result.status === "cpuTime", result.status);
    assert.equal(result.exitCode, null);
    assert.equal(typeof result.signal, "string");
  });

  test("A sleeping program past its wall time is a timeout result", async () => {
    const result = await client.run(python("import time\ntime.sleep(30)", { limits: { wallTimeMs: 800 } })).result;
    assert.equal(result.status, "timeout");
  });

  test("Output past outputBytes is cut and the result says outputLimit", async () => {
    const job = client.run(python("print('x' * 100000)", { limits: { outputBytes: 1000 } }));
    const result = await job.result;
    assert.equal(result.status, "outputLimit");
    assert.equal(result.outputTruncated, true);
    assert.ok(job.stdout.length <= 1000, `${job.stdout.length} bytes forwarded`);
  });

  test("A crash is a signal result naming the signal", async () => {
    const result = await client.run(c("#include <signal.h>\nint main(void) { raise(SIGSEGV); return 0; }\n")).result;
    assert.equal(result.status, "signal", JSON.stringify(result));
    assert.equal(result.signal, "SIGSEGV");
  });
});
