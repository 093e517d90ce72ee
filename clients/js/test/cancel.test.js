// Cancellation (spec §2.6): `cancel()` sends `$/cancelRequest` and the run
// answers `cancelled` with the output read before it; a queued job leaves
// the queue and the others move up; a run not yet sent is never sent; a
// cancel after the end changes nothing.

import assert from "node:assert/strict";
import { after, before, test } from "node:test";

import { CoderunClient } from "../src/coderun.js";
import { python, startServer, until } from "./server.js";

/** @type {import("./server.js").RunningServer} */
let server;
/** @type {CoderunClient} */
let client;

before(async () => {
  server = await startServer({ name: "cancel", args: ["--run-slots", "1", "--queue-length", "4"] });
  client = new CoderunClient(server.url);
});

after(async () => {
  client?.close();
  await server?.stop();
});

const TICKER = python("import time\ni = 0\nwhile True:\n    print('tick', i, flush=True)\n    i += 1\n    time.sleep(0.1)\n", { limits: { wallTimeMs: 60000 } });

test("Regular cancellation: a running job ends cancelled, with the output read before", async () => {
  const job = client.run(TICKER);
  await until(() => job.stdout.includes("tick 2"), 10000, "three ticks");
  const sent = Date.now();
  job.cancel();
  const result = await job.result;
  assert.ok(Date.now() - sent < 5000, "the cancel took effect at once");
  assert.equal(result.status, "cancelled");
  assert.equal(result.exitCode, null);
  assert.equal(result.stages.at(-1)?.status, "cancelled");
  assert.match(job.stdout, /^tick 0\ntick 1\ntick 2\n/);
  assert.equal(job.events.at(-1)?.type, "result");
});

test("Queued jobs report their places, move up as others leave, and a cancelled one leaves the queue", async () => {
  const first = client.run(TICKER);
  await until(() => first.state === "running", 10000, "the first to run");
  const second = client.run(TICKER);
  const third = client.run(TICKER);
  await until(() => second.position === 1 && third.position === 2, 10000, "positions 1 and 2");
  second.cancel();
  const r2 = await second.result;
  assert.equal(r2.status, "cancelled");
  assert.deepEqual(r2.stages, [], "a job cancelled in the queue never started");
  await until(() => third.position === 1, 10000, "the third to move up");
  const thirdPositions = third.events.flatMap((e) => (e.type === "status" && e.state === "queued" ? [e.position] : []));
  assert.deepEqual(thirdPositions, [2, 1]);
  first.cancel();
  assert.equal((await first.result).status, "cancelled");
  await until(() => third.state === "running", 10000, "the third to run");
  third.cancel();
  assert.equal((await third.result).status, "cancelled");
});

test("Cancelling a run not yet sent never sends it", async () => {
  const lazy = new CoderunClient(server.url, { lazy: true, reconnect: false });
  try {
    const job = lazy.run(python("print('must not run')"));
    job.cancel();
    const result = await job.result;
    assert.equal(result.status, "cancelled");
    assert.deepEqual(result.stages, []);
    assert.equal(job.id, null);
    const other = await lazy.run(python("print('runs')")).result;
    assert.equal(other.status, "exited");
  } finally {
    lazy.close();
  }
});

test("A cancel after the job ended leaves its result as it was", async () => {
  const job = client.run(python("print('quick')"));
  const result = await job.result;
  job.cancel();
  assert.equal(result.status, "exited");
  assert.equal(job.events.filter((e) => e.type === "result").length, 1);
});

test("A cancel that races the program's own end gives one result either way", async () => {
  const job = client.run(python("print('x')"));
  await until(() => job.state === "running" || job.done, 10000, "the job to run");
  job.cancel();
  const result = await job.result;
  assert.ok(result.status === "exited" || result.status === "cancelled", result.status);
});

test("Cancelling an interactive job waiting for input stops it", async () => {
  const job = client.run(python("input()", { interactive: true, limits: { wallTimeMs: 60000 } }));
  await until(() => job.state === "running", 10000, "running");
  job.cancel();
  assert.equal((await job.result).status, "cancelled");
});
