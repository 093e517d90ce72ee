// The session: `initialize` before anything else (spec §2.4), what it
// reports, tokens (§3.2), and the lifecycle errors a client can meet:
// -32001 unauthorized, -32002 not initialized, -32600 a second initialize,
// -32601 an unknown method, -32700 a frame the server cannot parse.

import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { after, before, describe, test } from "node:test";

import { CoderunClient, CoderunError, ErrorCode, PROTOCOL_VERSION, RpcConnection, RpcError, rpcUrl } from "../src/coderun.js";
import { python, startServer, until } from "./server.js";

describe("Initialize", () => {
  /** @type {import("./server.js").RunningServer} */
  let server;
  before(async () => {
    server = await startServer({ name: "session" });
  });
  after(async () => {
    await server?.stop();
  });

  test("Connecting sends initialize and keeps the server's languages, limits and features", async () => {
    const client = new CoderunClient(server.url);
    try {
      const init = await client.connect();
      assert.equal(init.protocolVersion, PROTOCOL_VERSION);
      assert.equal(init.server.name, "coderun");
      assert.ok(client.language("python"), "python is offered");
      assert.equal(client.language("python")?.entry, "main.py");
      assert.equal(client.language("cobol"), undefined);
      assert.ok(init.limits.defaults.wallTimeMs > 0);
      assert.ok(init.limits.maximums.wallTimeMs >= init.limits.defaults.wallTimeMs);
      assert.ok(client.hasFeature("interactive"));
      assert.ok(client.hasFeature("cancel"));
      assert.equal(client.hasFeature("no-such-feature"), false);
      assert.equal(client.state, "open");
      assert.deepEqual(client.initializeResult, init);
      // A second connect() answers from the open session.
      assert.equal(await client.connect(), init);
    } finally {
      client.close();
    }
  });

  test("The client names itself in initialize, for the server's log", async () => {
    const client = new CoderunClient(server.url, { client: { name: "lesson-page", version: "7" } });
    try {
      await client.connect();
      await until(() => /client=lesson-page version=Some\("7"\)/.test(server.log()), 5000, "the log line");
    } finally {
      client.close();
    }
  });

  test("A lazy client connects on first use, not before", async () => {
    const client = new CoderunClient(server.url, { lazy: true });
    try {
      await new Promise((r) => setTimeout(r, 100));
      assert.equal(client.state, "idle");
      assert.equal((await client.run(python("print(1)")).result).status, "exited");
      assert.equal(client.state, "open");
    } finally {
      client.close();
    }
  });

  test("Several clients each hold their own session", async () => {
    const a = new CoderunClient(server.url);
    const b = new CoderunClient(server.url);
    try {
      const [ra, rb] = await Promise.all([a.run(python("print('a')")).result, b.run(python("print('b')")).result]);
      assert.equal(ra.status, "exited");
      assert.equal(rb.status, "exited");
    } finally {
      a.close();
      b.close();
    }
  });

  test("A second initialize is refused with InvalidRequest (-32600) and the session stays as it was", async () => {
    const client = new CoderunClient(server.url);
    try {
      await client.connect();
      await assert.rejects(client.request("initialize", { protocolVersion: "1" }), (error) => {
        assert.ok(error instanceof RpcError);
        assert.equal(error.code, ErrorCode.InvalidRequest);
        assert.equal(error.codeName, "InvalidRequest");
        return true;
      });
      assert.equal((await client.run(python("print('still fine')")).result).status, "exited");
    } finally {
      client.close();
    }
  });

  test("A method the server does not know is refused with MethodNotFound (-32601)", async () => {
    const client = new CoderunClient(server.url);
    try {
      await assert.rejects(client.request("compile", {}), (error) => error instanceof RpcError && error.code === ErrorCode.MethodNotFound);
    } finally {
      client.close();
    }
  });

  test("A request before initialize is refused with NotInitialized (-32002)", async () => {
    const conn = await RpcConnection.open(rpcUrl(server.url));
    try {
      await assert.rejects(conn.request("run", python("print(1)")), (error) => error instanceof RpcError && error.code === ErrorCode.NotInitialized);
      // initialize then succeeds on the same connection.
      const init = await conn.request("initialize", { protocolVersion: "1" });
      assert.equal(init.protocolVersion, "1");
    } finally {
      conn.close();
    }
  });

  test("A protocol version the server does not speak fails initialize with InvalidParams (-32602)", async () => {
    const conn = await RpcConnection.open(rpcUrl(server.url));
    try {
      await assert.rejects(conn.request("initialize", { protocolVersion: "2" }), (error) => error instanceof RpcError && error.code === ErrorCode.InvalidParams);
    } finally {
      conn.close();
    }
  });

  test("A frame the server cannot parse comes back as a protocol error (-32700) and requests in flight go on", async () => {
    const client = new CoderunClient(server.url);
    try {
      await client.connect();
      /** @type {Error[]} */
      const errors = [];
      client.on("protocolError", (error) => errors.push(error));
      const job = client.run(python("import time\ntime.sleep(0.3)\nprint('ok')"));
      client.connection?.socket.send("this is not JSON");
      await until(() => errors.length > 0, 5000, "the protocol error");
      assert.ok(errors[0] instanceof RpcError);
      assert.equal(/** @type {RpcError} */ (errors[0]).code, ErrorCode.ParseError);
      assert.equal((await job.result).status, "exited");
      assert.equal(job.stdout, "ok\n");
    } finally {
      client.close();
    }
  });

  test("Numeric and string ids are told apart when matching responses", async () => {
    // RpcConnection numbers its own requests; a raw string id must not
    // resolve the numeric request of the same digits.
    const conn = await RpcConnection.open(rpcUrl(server.url));
    try {
      await conn.request("initialize", { protocolVersion: "1" });
      /** @type {CoderunError[]} */
      const stray = [];
      conn.onProtocolError = (e) => stray.push(e);
      const { id, response } = conn.call("run", python("import time\ntime.sleep(0.3)\nprint(1)"));
      conn.socket.send(JSON.stringify({ jsonrpc: "2.0", id: String(id), method: "compile", params: {} }));
      await until(() => stray.length > 0, 5000, "the string id's answer");
      assert.equal(/** @type {RpcError} */ (stray[0]).code, ErrorCode.MethodNotFound);
      assert.equal((await response).status, "exited");
    } finally {
      conn.close();
    }
  });
});

describe("WebSocket implementations", () => {
  /** @type {import("./server.js").RunningServer} */
  let server;
  before(async () => {
    server = await startServer({ name: "websocket" });
  });
  after(async () => {
    await server?.stop();
  });

  test("A WebSocket implementation passed in is the one used", async () => {
    let made = 0;
    class Counting extends WebSocket {
      /** @param {string} url */
      constructor(url) {
        super(url);
        made++;
      }
    }
    const client = new CoderunClient(server.url, { WebSocket: Counting });
    try {
      assert.equal((await client.run(python("print(1)")).result).status, "exited");
      assert.equal(made, 1);
    } finally {
      client.close();
    }
  });

  test("Without any WebSocket, a run fails saying how to provide one", () => {
    // A Node 20 without --experimental-websocket has no global WebSocket.
    const script = `
      const { CoderunClient } = await import(${JSON.stringify(new URL("../src/coderun.js", import.meta.url).href)});
      const client = new CoderunClient("${server.url}", { reconnect: false });
      try { await client.run({ language: "python", files: [] }).result; } catch (e) { console.log(e.name + ": " + e.message); }
      client.close();`;
    const out = execFileSync(process.execPath, ["--no-experimental-websocket", "--input-type=module", "-e", script], { encoding: "utf8" });
    assert.match(out, /^ConnectionError: no WebSocket implementation: pass one as the WebSocket option/);
  });
});

describe("Tokens", () => {
  /** @type {import("./server.js").RunningServer} */
  let server;
  before(async () => {
    server = await startServer({ name: "token", args: ["--token", "s3cr3t"] });
  });
  after(async () => {
    await server?.stop();
  });

  test("The right token in initialize opens the session", async () => {
    const client = new CoderunClient(server.url, { token: "s3cr3t" });
    try {
      assert.equal((await client.run(python("print('in')")).result).status, "exited");
    } finally {
      client.close();
    }
  });

  test("A wrong token fails connect and queued runs with Unauthorized (-32001), without retrying", async () => {
    const client = new CoderunClient(server.url, { token: "wrong", reconnect: { initialDelayMs: 50 } });
    try {
      const job = client.run(python("print('never')"));
      await assert.rejects(job.result, (error) => error instanceof RpcError && error.code === ErrorCode.Unauthorized);
      await assert.rejects(client.connect(), (error) => error instanceof RpcError && error.code === ErrorCode.Unauthorized);
      assert.equal(client.state, "failed");
      await new Promise((r) => setTimeout(r, 200));
      assert.equal(client.state, "failed", "a refused token is not retried on its own");
    } finally {
      client.close();
    }
  });

  test("No token at all is Unauthorized (-32001) too", async () => {
    const client = new CoderunClient(server.url);
    try {
      await assert.rejects(client.connect(), (error) => error instanceof RpcError && error.code === ErrorCode.Unauthorized);
    } finally {
      client.close();
    }
  });
});

describe("URLs", () => {
  test("A server's http URL becomes its WebSocket URL at /rpc", () => {
    assert.equal(rpcUrl("http://127.0.0.1:8080"), "ws://127.0.0.1:8080/rpc");
    assert.equal(rpcUrl("https://code.example/"), "wss://code.example/rpc");
    assert.equal(rpcUrl("https://code.example/runner/"), "wss://code.example/runner/rpc");
    assert.equal(rpcUrl("wss://code.example/rpc"), "wss://code.example/rpc");
    assert.equal(rpcUrl("/", "https://course.example/lesson/1"), "wss://course.example/rpc");
    assert.throws(() => rpcUrl("ftp://x"), TypeError);
  });
});
