// The connection's life: jobs in flight fail clearly when the socket drops,
// the client reconnects with backoff, runs started while it is down wait
// for the next session, and each way the server closes a connection (spec
// §2.1: 1000 idle, 1001 shutdown, 1009 message too big) is handled.

import assert from "node:assert/strict";
import { test } from "node:test";

import { CoderunClient, ConnectionError } from "../src/coderun.js";
import { python, startServer, until } from "./server.js";

const FAST = { initialDelayMs: 100, maxDelayMs: 400, factor: 2 };
const SLEEPER = python("import time\nprint('started', flush=True)\ntime.sleep(30)\n", { limits: { wallTimeMs: 60000 } });

/**
 * How many jobs the server is running, once none is (or after 10 s).
 * @param {import("./server.js").RunningServer} server
 */
async function runningJobs(server) {
  let running = -1;
  for (let i = 0; i < 100 && running !== 0; i++) {
    const metrics = await (await fetch(`${server.url}/metrics`)).json();
    running = metrics.jobs.running + metrics.jobs.queued;
    if (running) await new Promise((r) => setTimeout(r, 100));
  }
  return running;
}

/**
 * Records the client's states as they change.
 * @param {CoderunClient} client
 */
function recordStates(client) {
  /** @type {string[]} */
  const states = [];
  client.on("state", (state) => states.push(state));
  return states;
}

test("A job in flight when the server dies fails with a ConnectionError, and the client reconnects when the server is back", async () => {
  let server = await startServer({ name: "reconnect-kill" });
  const client = new CoderunClient(server.url, { reconnect: FAST });
  const states = recordStates(client);
  try {
    const job = client.run(SLEEPER);
    await new Promise((resolve) => job.on("output", resolve));
    await server.stop("SIGKILL");
    await assert.rejects(job.result, (error) => {
      assert.ok(error instanceof ConnectionError, String(error));
      assert.equal(error.closeCode, 1006);
      assert.match(error.message, /connection/);
      return true;
    });
    assert.equal(job.state, "done");
    await until(() => client.state === "retrying", 5000, "retrying");
    // Attempts keep failing while no server listens; the waits grow.
    await new Promise((r) => setTimeout(r, 700));
    server = await startServer({ name: "reconnect-kill-2", listen: server.host });
    await until(() => client.state === "open", 10000, "the client to reconnect");
    const result = await client.run(python("print('back')")).result;
    assert.equal(result.status, "exited");
    assert.deepEqual(states.slice(0, 3), ["connecting", "open", "retrying"]);
    assert.ok(states.filter((s) => s === "connecting").length >= 3, states.join(" "));
    assert.equal(states.at(-1), "open");
  } finally {
    client.close();
    await server.stop();
  }
});

test("The backoff between failed attempts grows up to its maximum", async () => {
  const client = new CoderunClient("http://127.0.0.1:9", { reconnect: { initialDelayMs: 50, maxDelayMs: 300, factor: 2 } });
  /** @type {number[]} */
  const waits = [];
  client.on("state", (state, detail) => {
    if (state === "retrying" && detail.retryInMs !== undefined) waits.push(detail.retryInMs);
  });
  try {
    await until(() => waits.length >= 5, 10000, "five retries");
    // 50, 100, 200, 300, 300, each within ±20 % jitter.
    const expected = [50, 100, 200, 300, 300];
    waits.slice(0, 5).forEach((wait, i) => assert.ok(Math.abs(wait - expected[i]) <= expected[i] * 0.2 + 1, `wait ${i}: ${wait}`));
    assert.ok(client.lastError instanceof ConnectionError);
  } finally {
    client.close();
  }
});

test("Runs started while the server is down wait, and run once it is back", async () => {
  const first = await startServer({ name: "reconnect-wait" });
  const host = first.host;
  await first.stop("SIGKILL");
  const client = new CoderunClient(`http://${host}`, { reconnect: FAST });
  /** @type {import("./server.js").RunningServer | undefined} */
  let server;
  try {
    const job = client.run(python("print('queued while down')"));
    await until(() => client.state === "retrying", 5000, "retrying");
    assert.equal(job.state, "pending");
    server = await startServer({ name: "reconnect-wait-2", listen: host });
    const result = await job.result;
    assert.equal(result.status, "exited");
    assert.equal(job.stdout, "queued while down\n");
  } finally {
    client.close();
    await server?.stop();
  }
});

test("A server shutting down lets the job finish, closes with 1001, and the client comes back to the next server", async () => {
  let server = await startServer({ name: "reconnect-shutdown", config: "shutdown_grace_ms = 5000\n" });
  const client = new CoderunClient(server.url, { reconnect: FAST });
  /** @type {{code: number, reason: string}[]} */
  const closes = [];
  client.on("close", (c) => closes.push(c));
  try {
    const job = client.run(python("import time\nprint('working', flush=True)\ntime.sleep(1)\nprint('done')\n"));
    await new Promise((resolve) => job.on("output", resolve));
    const stopped = server.stop("SIGTERM");
    const result = await job.result;
    assert.equal(result.status, "exited");
    assert.equal(job.stdout, "working\ndone\n");
    await stopped;
    await until(() => closes.length > 0, 5000, "the close");
    assert.equal(closes[0].code, 1001);
    await until(() => client.state === "retrying" || client.state === "connecting", 5000, "a reconnect attempt");
    server = await startServer({ name: "reconnect-shutdown-2", listen: server.host });
    assert.equal((await client.run(python("print(1)")).result).status, "exited");
  } finally {
    client.close();
    await server.stop();
  }
});

test("A run over the server's message cap closes the connection with 1009; the job fails naming it and the client reconnects", async () => {
  const server = await startServer({ name: "reconnect-1009", config: "[connection]\nmax_message_bytes = 65536\n" });
  const client = new CoderunClient(server.url, { reconnect: FAST });
  try {
    await client.connect();
    const big = client.run(python(`print(len("""${"x".repeat(100_000)}"""))`));
    await assert.rejects(big.result, (error) => {
      assert.ok(error instanceof ConnectionError);
      assert.equal(error.closeCode, 1009);
      assert.match(error.message, /larger than it accepts/);
      return true;
    });
    assert.equal((await client.run(python("print('small')")).result).status, "exited");
  } finally {
    client.close();
    await server.stop();
  }
});

test("A connection the server closed for idleness (1000) is reopened only when a run needs it", async () => {
  const server = await startServer({ name: "reconnect-idle", config: "[connection]\nidle_timeout_ms = 500\n" });
  const client = new CoderunClient(server.url, { reconnect: FAST });
  try {
    await client.connect();
    await until(() => client.state === "idle", 5000, "the idle close");
    assert.ok(client.lastError instanceof ConnectionError);
    assert.equal(/** @type {ConnectionError} */ (client.lastError).closeCode, 1000);
    // No attempt is made while nothing needs the server.
    await new Promise((r) => setTimeout(r, 400));
    assert.equal(client.state, "idle");
    const result = await client.run(python("print('awake')")).result;
    assert.equal(result.status, "exited");
    assert.equal(client.state, "open");
  } finally {
    client.close();
    await server.stop();
  }
});

test("A socket that closes under the client fails the jobs in flight, and the client reconnects", async () => {
  const server = await startServer({ name: "reconnect-socket" });
  const client = new CoderunClient(server.url, { reconnect: FAST });
  try {
    const job = client.run(SLEEPER);
    await new Promise((resolve) => job.on("output", resolve));
    const first = client.connection;
    assert.ok(first);
    // What a network failure looks like from the page: the socket just closes.
    first.socket.close();
    await assert.rejects(job.result, ConnectionError);
    await until(() => client.state === "open" && client.connection !== first, 10000, "a new session");
    assert.equal((await client.run(python("print('again')")).result).status, "exited");
    // The server cancelled the job of the dropped connection: nothing runs.
    assert.deepEqual(await runningJobs(server), 0);
  } finally {
    client.close();
    await server.stop();
  }
});

test("close() fails every job not yet answered, sent or not, with clientClosed, and later runs fail at once", async () => {
  const server = await startServer({ name: "reconnect-close" });
  const client = new CoderunClient(server.url, { reconnect: FAST });
  try {
    const sent = client.run(SLEEPER);
    await new Promise((resolve) => sent.on("output", resolve));
    client.close();
    await assert.rejects(sent.result, (error) => error instanceof ConnectionError && error.clientClosed);
    const later = client.run(python("print(1)"));
    await assert.rejects(later.result, (error) => error instanceof ConnectionError && error.clientClosed);
    await assert.rejects(client.connect(), ConnectionError);
    assert.equal(client.state, "closed");
    assert.equal(await runningJobs(server), 0);
  } finally {
    await server.stop();
  }
});

test("With reconnect off, runs waiting for an unreachable server fail instead of waiting", async () => {
  const client = new CoderunClient("http://127.0.0.1:9", { reconnect: false });
  try {
    const job = client.run(python("print(1)"));
    await assert.rejects(job.result, ConnectionError);
    assert.equal(client.state, "idle");
  } finally {
    client.close();
  }
});
