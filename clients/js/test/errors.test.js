// Every error a `run` can be refused with reaches the client as an
// `RpcError` with the protocol's code and data (spec §7): -32003 unknown
// language, -32004 a limit above its maximum, -32005 busy (queue full or
// shutting down), -32006 invalid files, -32007 too many jobs, -32602
// invalid params, -32603 the server failed. Each fails only its job.

import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";

import { CoderunClient, ErrorCode, RpcError, describeError } from "../src/coderun.js";
import { python, startServer } from "./server.js";

/**
 * Asserts that a job failed with `code`, and returns the error.
 * @param {import("../src/job.js").Job} job
 * @param {number} code
 */
async function refused(job, code) {
  /** @type {RpcError | undefined} */
  let caught;
  await assert.rejects(job.result, (error) => {
    assert.ok(error instanceof RpcError, String(error));
    assert.equal(error.code, code, error.message);
    caught = error;
    return true;
  });
  assert.equal(job.state, "done");
  assert.deepEqual(job.events, [], "a refused run has no events");
  return /** @type {RpcError} */ (caught);
}

const SLEEPER = python("import time\nprint('started', flush=True)\ntime.sleep(30)\n", { limits: { wallTimeMs: 60000 } });

describe("Refused runs", () => {
  /** @type {import("./server.js").RunningServer} */
  let server;
  /** @type {CoderunClient} */
  let client;
  before(async () => {
    server = await startServer({ name: "errors" });
    client = new CoderunClient(server.url);
  });
  after(async () => {
    client?.close();
    await server?.stop();
  });

  test("A language the server does not offer is UnknownLanguage (-32003)", async () => {
    const error = await refused(client.run({ language: "cobol", files: [{ path: "main.cob", content: "" }] }), ErrorCode.UnknownLanguage);
    assert.equal(error.codeName, "UnknownLanguage");
    assert.equal(describeError(error), "the server does not run this language");
  });

  test("A limit above its maximum is LimitExceeded (-32004) with the limit and the maximum", async () => {
    const init = await client.connect();
    const max = init.limits.maximums.memoryBytes;
    const error = await refused(client.run(python("print(1)", { limits: { memoryBytes: max + 1 } })), ErrorCode.LimitExceeded);
    assert.equal(error.limit, "memoryBytes");
    assert.equal(error.maximum, max);
  });

  test("A limit below 1 is InvalidParams (-32602)", async () => {
    await refused(client.run(python("print(1)", { limits: { wallTimeMs: 0 } })), ErrorCode.InvalidParams);
  });

  test("An entry that is not among the files is InvalidParams (-32602)", async () => {
    await refused(client.run(python("print(1)", { entry: "other.py" })), ErrorCode.InvalidParams);
  });

  test("stdin with interactive: true is InvalidParams (-32602)", async () => {
    await refused(client.run(python("print(1)", { stdin: "x", interactive: true })), ErrorCode.InvalidParams);
  });

  test("A path that climbs out of the working directory is InvalidFiles (-32006) naming the file", async () => {
    const error = await refused(client.run({ language: "python", files: [{ path: "main.py", content: "" }, { path: "../x.py", content: "" }] }), ErrorCode.InvalidFiles);
    assert.match(error.message, /\.\.\/x\.py/);
  });

  test("No files at all is InvalidFiles (-32006)", async () => {
    await refused(client.run({ language: "python", files: [] }), ErrorCode.InvalidFiles);
  });

  test("Malformed base64 is InvalidFiles (-32006)", async () => {
    await refused(client.run({ language: "python", files: [{ path: "main.py", content: "!!!", encoding: "base64" }] }), ErrorCode.InvalidFiles);
  });

  test("A refused run fails only itself: the session goes on", async () => {
    const bad = client.run({ language: "cobol", files: [{ path: "x", content: "" }] });
    const good = client.run(python("print('fine')"));
    await assert.rejects(bad.result, RpcError);
    assert.equal((await good.result).status, "exited");
  });
});

describe("Capacity", () => {
  test("Past the jobs one connection may have in flight, a run is TooManyJobs (-32007)", async () => {
    const server = await startServer({ name: "errors-jobs", args: ["--jobs-per-connection", "1"] });
    const client = new CoderunClient(server.url);
    try {
      const first = client.run(SLEEPER);
      await new Promise((resolve) => first.on("output", resolve));
      const error = await refused(client.run(python("print(2)")), ErrorCode.TooManyJobs);
      assert.match(describeError(error), /too many programs/);
      first.cancel();
      assert.equal((await first.result).status, "cancelled");
      assert.equal((await client.run(python("print(3)")).result).status, "exited");
    } finally {
      client.close();
      await server.stop();
    }
  });

  test("With the queue full, a run is Busy (-32005) with retryAfterMs", async () => {
    const server = await startServer({ name: "errors-busy", args: ["--run-slots", "1", "--queue-length", "1"] });
    const client = new CoderunClient(server.url);
    try {
      const running = client.run(SLEEPER);
      await new Promise((resolve) => running.on("output", resolve));
      const waiting = client.run(SLEEPER);
      await new Promise((resolve) => waiting.on("status", resolve));
      assert.equal(waiting.state, "queued");
      const error = await refused(client.run(python("print(3)")), ErrorCode.Busy);
      assert.equal(typeof error.retryAfterMs, "number");
      assert.match(describeError(error), /busy; try again in/);
      waiting.cancel();
      running.cancel();
      await Promise.all([running.result, waiting.result]);
    } finally {
      client.close();
      await server.stop();
    }
  });

  test("While the server shuts down, a new run is Busy (-32005)", async () => {
    const server = await startServer({ name: "errors-shutdown", config: "shutdown_grace_ms = 3000\n" });
    const client = new CoderunClient(server.url, { reconnect: false });
    try {
      const running = client.run(python("import time\nprint('started', flush=True)\ntime.sleep(1.5)\n"));
      await new Promise((resolve) => running.on("output", resolve));
      const stopped = server.stop("SIGTERM");
      await new Promise((r) => setTimeout(r, 300));
      const error = await refused(client.run(python("print('late')")), ErrorCode.Busy);
      assert.equal(typeof error.retryAfterMs, "number");
      assert.equal((await running.result).status, "exited");
      await stopped;
    } finally {
      client.close();
      await server.stop();
    }
  });

  test("A sandbox that fails is InternalError (-32603), after the job's notifications", async () => {
    // A working directory too small for the files: the sandbox cannot take them.
    const server = await startServer({ name: "errors-internal", config: "[native]\nworkdir_bytes = 65536\n[pool]\nper_key = 0\n" });
    const client = new CoderunClient(server.url);
    try {
      const job = client.run({
        language: "python",
        files: [
          { path: "main.py", content: "print(1)" },
          { path: "big.txt", content: "x".repeat(300_000) },
        ],
      });
      await assert.rejects(job.result, (error) => error instanceof RpcError && error.code === ErrorCode.InternalError);
      assert.deepEqual(job.events.map((e) => e.type), ["status"], "the job had started");
      assert.equal((await client.run(python("print('next')")).result).status, "exited");
    } finally {
      client.close();
      await server.stop();
    }
  });
});
