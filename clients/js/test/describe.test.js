// The status line's sentences: every `RunStatus` of the spec, read from the
// spec's own examples, gets its sentence, naming the limit that was reached;
// states and errors read as people say them.

import assert from "node:assert/strict";
import { readFileSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";

import { ConnectionError, ErrorCode, RUN_STATUSES, RpcError, describeError, describeResult, describeState, formatBytes, formatDuration } from "../src/coderun.js";
import { REPO } from "./server.js";

const examples = join(REPO, "spec/examples");
/** @type {Map<string, import("../src/protocol.js").RunResult>} */
const results = new Map();
for (const name of readdirSync(examples).filter((n) => n.startsWith("run.response."))) {
  results.set(name.replace(/^run\.response\.|\.json$/g, ""), JSON.parse(readFileSync(join(examples, name), "utf8")).result);
}

/** Limits as the spec's initialize example has them, with a 5 s wall time asked for. */
const LIMITS = {
  run: { wallTimeMs: 5000, cpuTimeMs: 10000, memoryBytes: 268435456, outputBytes: 65536 },
  build: { wallTimeMs: 60000, cpuTimeMs: 60000, memoryBytes: 1073741824, outputBytes: 1048576 },
};

test("Every status of the spec has an example, and every example a sentence", () => {
  const statuses = new Set([...results.values()].map((r) => r.status));
  for (const status of RUN_STATUSES) assert.ok(statuses.has(status), `no example with status ${status}`);
  for (const [name, result] of results) {
    const { text } = describeResult(result, LIMITS);
    assert.ok(text && !text.startsWith("ended:"), `${name}: ${text}`);
  }
});

test("Each status reads as a student would expect", () => {
  /** @param {string} name */
  const say = (name) => describeResult(/** @type {any} */ (results.get(name)), LIMITS);
  assert.deepEqual(say("exited"), { text: "exited 0 in 38 ms", tone: "ok" });
  assert.deepEqual(say("exited-nonzero"), { text: "exited 1 in 41 ms", tone: "error" });
  assert.deepEqual(say("build-failed"), { text: "build failed (exit code 1)", tone: "error" });
  assert.deepEqual(say("timeout"), { text: "time limit 5 s exceeded", tone: "warning" });
  assert.deepEqual(say("cpu-time"), { text: "CPU time limit 10 s exceeded", tone: "warning" });
  assert.deepEqual(say("memory"), { text: "out of memory (limit 256 MiB)", tone: "warning" });
  assert.deepEqual(say("output-limit"), { text: "output cut at 64 KiB", tone: "warning" });
  assert.deepEqual(say("signal"), { text: "killed by SIGSEGV (segmentation fault: a bad memory access)", tone: "error" });
  assert.deepEqual(say("cancelled"), { text: "stopped after 4.2 s", tone: "neutral" });
  assert.deepEqual(say("cancelled-while-queued"), { text: "stopped before it started", tone: "neutral" });
});

test("A limit reached while building names the build's limit", () => {
  const result = {
    status: /** @type {const} */ ("timeout"),
    exitCode: null,
    signal: "SIGKILL",
    stages: [{ name: /** @type {const} */ ("build"), status: /** @type {const} */ ("timeout"), exitCode: null, signal: "SIGKILL", wallTimeMs: 60000, cpuTimeMs: 1, memoryBytes: 1 }],
    outputTruncated: false,
    queuedMs: 0,
    wallTimeMs: 60010,
  };
  assert.equal(describeResult(result, LIMITS).text, "time limit 1 min exceeded while building");
  assert.equal(describeResult(result).text, "time limit exceeded while building");
});

test("A status from a later protocol version still gets a sentence", () => {
  const result = /** @type {any} */ ({ ...results.get("exited"), status: "quotaExceeded" });
  assert.deepEqual(describeResult(result), { text: "ended: quotaExceeded", tone: "neutral" });
});

test("States read as they happen", () => {
  assert.equal(describeState("queued", 3), "queued #3");
  assert.equal(describeState("pending"), "connecting…");
  assert.equal(describeState("starting"), "starting…");
  assert.equal(describeState("building"), "building…");
  assert.equal(describeState("running"), "running…");
  assert.equal(describeState("done"), "");
});

test("Durations and sizes are short and exact", () => {
  assert.equal(formatDuration(42), "42 ms");
  assert.equal(formatDuration(1500), "1.5 s");
  assert.equal(formatDuration(5000), "5 s");
  assert.equal(formatDuration(125000), "2 min 5 s");
  assert.equal(formatBytes(900), "900 bytes");
  assert.equal(formatBytes(65536), "64 KiB");
  assert.equal(formatBytes(1536), "1.5 KiB");
  assert.equal(formatBytes(268435456), "256 MiB");
  assert.equal(formatBytes(1073741824), "1 GiB");
});

test("Errors read as what to do next", () => {
  assert.equal(describeError(new RpcError(ErrorCode.Busy, "busy", { retryAfterMs: 2000 })), "the server is busy; try again in 2 s");
  assert.equal(describeError(new RpcError(ErrorCode.LimitExceeded, "x", { limit: "memoryBytes", maximum: 5 })), "memoryBytes is above the server's maximum (5)");
  assert.equal(describeError(new RpcError(ErrorCode.InvalidFiles, "invalid files: x")), "the server refused to run this: invalid files: x (-32006)");
  assert.equal(describeError(ConnectionError.closed(1001, "")), "the server is shutting down (close code 1001)");
  assert.equal(describeError(new Error("boom")), "boom");
});
