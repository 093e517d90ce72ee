// The coderun client: one session with a coderun server, kept open.
//
// `CoderunClient` owns a `RpcConnection` and the lifecycle around it:
// it connects on first use, sends `initialize` before anything else
// (spec §2.4), queues runs until the session is initialized, routes each
// `job/*` notification to its `Job`, and reconnects with exponential backoff
// when the socket drops. Jobs in flight when the socket drops fail with a
// `ConnectionError`, because the server cancels every job of a closed
// connection (spec §2.6); runs not yet sent wait for the next session.
//
// States: `idle` (no socket; the next use connects), `connecting` (socket
// opening or `initialize` in flight), `open`, `retrying` (waiting out the
// backoff), `failed` (`initialize` was refused, e.g. a wrong token; the next
// use tries again), `closed` (by `close()`, for good).
//
// Nothing here times out: the protocol gives requests no deadline. A
// connection the server closed for being idle (close code 1000) is not
// reopened until it is needed.

import { RpcConnection } from "./connection.js";
import { Emitter } from "./emitter.js";
import { ConnectionError, ErrorCode, RpcError } from "./errors.js";
import { Job } from "./job.js";
import { Method, PROTOCOL_VERSION } from "./protocol.js";

/** This package's version, sent in `initialize`'s `client`. */
export const VERSION = "0.1.0";

/**
 * @typedef {import("./protocol.js").InitializeResult} InitializeResult
 * @typedef {import("./protocol.js").LanguageInfo} LanguageInfo
 * @typedef {import("./protocol.js").RunParams} RunParams
 * @typedef {import("./protocol.js").ClientInfo} ClientInfo
 * @typedef {import("./connection.js").WebSocketConstructor} WebSocketConstructor
 */

/** @typedef {"idle" | "connecting" | "open" | "retrying" | "failed" | "closed"} ClientState */

/**
 * @typedef {object} ReconnectOptions
 * @property {number} [initialDelayMs] the first wait before reconnecting (500)
 * @property {number} [maxDelayMs] the longest wait between attempts (15000)
 * @property {number} [factor] how much each wait grows (2)
 */

/**
 * @typedef {object} ClientOptions
 * @property {string} [token] the server's access token, sent in `initialize`
 * @property {ClientInfo} [client] who this client is, for the server's logs
 * @property {WebSocketConstructor} [WebSocket] a WebSocket implementation;
 *   the global one when absent
 * @property {ReconnectOptions | false} [reconnect] backoff when the socket
 *   drops; `false` never reconnects on its own (the next use still connects)
 * @property {boolean} [lazy] connect on first use rather than at once
 */

/**
 * Details of a state change.
 * @typedef {object} StateDetail
 * @property {Error} [error] why the client left `open` or `connecting`
 * @property {number} [retryInMs] with `retrying`: the wait before the next attempt
 */

/**
 * @typedef {object} ClientEvents
 * @property {[ClientState, StateDetail]} state the state changed
 * @property {[InitializeResult]} open a session was initialized
 * @property {[{code: number, reason: string}]} close the socket of a session closed
 * @property {[Error]} protocolError an error that belongs to no request
 */

/**
 * The WebSocket URL of a server: `http(s)://host/` becomes `ws(s)://host/rpc`;
 * a `ws(s):` URL, or one already ending in `/rpc`, is kept.
 * @param {string | URL} server
 * @param {string} [base] for a relative `server`; the page's URL in a browser
 */
export function rpcUrl(server, base = globalThis.location?.href) {
  const url = new URL(server, base);
  if (url.protocol === "http:") url.protocol = "ws:";
  else if (url.protocol === "https:") url.protocol = "wss:";
  if (url.protocol !== "ws:" && url.protocol !== "wss:") throw new TypeError(`not a server URL: ${server}`);
  if (!url.pathname.endsWith("/rpc")) url.pathname = url.pathname.replace(/\/?$/, "/rpc");
  url.hash = "";
  return url.href;
}

/** @extends {Emitter<{[K in keyof ClientEvents]: ClientEvents[K]}>} */
export class CoderunClient extends Emitter {
  /** @type {ClientState} */
  state = "idle";
  /**
   * The result of the latest `initialize`, kept across reconnects.
   * @type {InitializeResult | null}
   */
  initializeResult = null;
  /**
   * Why the client last left `open` or `connecting`, if it did.
   * @type {Error | null}
   */
  lastError = null;

  /** @type {RpcConnection | null} */
  #conn = null;
  /**
   * Runs not yet sent, in the order `run` was called.
   * @type {Job[]}
   */
  #queue = [];
  /**
   * Runs sent on the current connection and not yet answered.
   * @type {Map<import("./protocol.js").RequestId, Job>}
   */
  #inFlight = new Map();
  /** @type {{resolve: (result: InitializeResult) => void, reject: (error: Error) => void}[]} */
  #waiters = [];
  /** Failed attempts since the last session opened. */
  #attempt = 0;
  /** @type {ReturnType<typeof setTimeout> | undefined} */
  #retryTimer;
  /** Counts connection attempts, so that a stale one knows it is stale. */
  #generation = 0;
  /** @type {ClientOptions} */
  #options;

  /**
   * @param {string | URL} server the server's URL (`https://coderun.example`)
   *   or its WebSocket URL (`wss://coderun.example/rpc`)
   * @param {ClientOptions} [options]
   */
  constructor(server, options = {}) {
    super();
    /** The WebSocket URL this client connects to. */
    this.url = rpcUrl(server);
    this.#options = options;
    if (!options.lazy) queueMicrotask(() => this.#ensureConnecting());
  }

  /** The connection of the current session, if one is open or opening. */
  get connection() {
    return this.#conn;
  }

  /** The languages of the latest session, in the server's order. */
  get languages() {
    return this.initializeResult?.languages ?? [];
  }

  /**
   * The language with this id, if the server offers it.
   * @param {string} id
   */
  language(id) {
    return this.languages.find((language) => language.id === id);
  }

  /**
   * Whether the server offers a feature, e.g. `"interactive"` (spec §6).
   * @param {string} name
   */
  hasFeature(name) {
    return this.initializeResult?.features.includes(name) ?? false;
  }

  /**
   * Resolves with the session's `initialize` result once the client is
   * connected, connecting first if it is not. Rejects when `initialize` is
   * refused (an `RpcError`, e.g. `Unauthorized`) or the client is closed;
   * while the server cannot be reached it keeps waiting, through retries.
   * @returns {Promise<InitializeResult>}
   */
  connect() {
    if (this.state === "open" && this.initializeResult) return Promise.resolve(this.initializeResult);
    if (this.state === "closed") return Promise.reject(this.#closedError());
    return new Promise((resolve, reject) => {
      this.#waiters.push({ resolve, reject });
      this.#ensureConnecting(true);
    });
  }

  /**
   * Starts a run and returns its job at once; the request is sent as soon
   * as the session is initialized. See `Job` for its events and result.
   * @param {RunParams} params
   * @returns {Job}
   */
  run(params) {
    /** @type {Job} */
    const job = new Job(params, () => this.#withdraw(job));
    if (this.state === "closed") {
      job._fail(this.#closedError());
      return job;
    }
    this.#queue.push(job);
    if (this.state === "open") this.#flush();
    else this.#ensureConnecting(true);
    return job;
  }

  /**
   * Sends any request on the session (after connecting) and resolves with
   * its result: a way to reach methods this client does not wrap.
   * @param {string} method
   * @param {object} params
   */
  async request(method, params) {
    await this.connect();
    const conn = this.#conn;
    if (!conn) throw new ConnectionError("the connection closed before the request was sent");
    return conn.request(method, params);
  }

  /**
   * Closes the client for good: the socket closes (which cancels the
   * server's jobs of this connection), and every job not yet answered fails
   * with a `ConnectionError` whose `clientClosed` is true.
   */
  close() {
    if (this.state === "closed") return;
    clearTimeout(this.#retryTimer);
    this.#generation++;
    this.#setState("closed", {});
    const error = this.#closedError();
    this.#failQueued(error);
    for (const job of this.#inFlight.values()) job._fail(error);
    this.#inFlight.clear();
    this.#conn?.close(1000, "client closed");
    this.#conn = null;
  }

  /** @param {boolean} [now] skip the backoff wait, for a user's action */
  #ensureConnecting(now = false) {
    if (this.state === "idle" || this.state === "failed" || (now && this.state === "retrying")) {
      clearTimeout(this.#retryTimer);
      void this.#open();
    }
  }

  async #open() {
    const generation = ++this.#generation;
    this.#setState("connecting", {});
    /** @type {RpcConnection} */
    let conn;
    try {
      conn = await RpcConnection.open(this.url, this.#options.WebSocket);
    } catch (error) {
      if (generation === this.#generation) this.#retryLater(/** @type {Error} */ (error));
      return;
    }
    if (generation !== this.#generation) {
      conn.close();
      return;
    }
    this.#conn = conn;
    conn.onNotification = (method, params) => this.#notification(method, params);
    conn.onProtocolError = (error) => this.emit("protocolError", error);
    conn.onClose = (code, reason) => this.#socketClosed(conn, code, reason);

    /** @type {import("./protocol.js").InitializeParams} */
    const params = {
      protocolVersion: PROTOCOL_VERSION,
      client: this.#options.client ?? { name: "@coderun/client", version: VERSION },
    };
    if (this.#options.token !== undefined) params.token = this.#options.token;
    /** @type {InitializeResult} */
    let result;
    try {
      result = await conn.request(Method.initialize, params);
    } catch (error) {
      if (generation !== this.#generation) return;
      this.#conn = null;
      conn.close();
      if (error instanceof RpcError && (error.code === ErrorCode.Unauthorized || error.code === ErrorCode.InvalidParams)) {
        // Asking again on a new connection would be refused the same way.
        this.#fail(error);
      } else {
        this.#retryLater(/** @type {Error} */ (error));
      }
      return;
    }
    if (generation !== this.#generation) return;
    this.initializeResult = result;
    this.#attempt = 0;
    this.lastError = null;
    this.#setState("open", {});
    this.emit("open", result);
    const waiters = this.#waiters;
    this.#waiters = [];
    for (const waiter of waiters) waiter.resolve(result);
    this.#flush();
  }

  /** Sends every queued run on the open session, in order. */
  #flush() {
    const conn = this.#conn;
    if (!conn || this.state !== "open") return;
    const queue = this.#queue;
    this.#queue = [];
    for (const job of queue) {
      const { id, response } = conn.call(Method.run, job.params);
      this.#inFlight.set(id, job);
      job._sent(conn, id);
      response.then(
        (result) => {
          this.#inFlight.delete(id);
          job._settle(result);
        },
        (error) => {
          if (this.#inFlight.get(id) === job) this.#inFlight.delete(id);
          job._fail(error);
        },
      );
    }
  }

  /**
   * @param {string} method
   * @param {any} params
   */
  #notification(method, params) {
    // Notifications about a job the client does not know are ignored (spec).
    if (params && typeof params === "object" && "job" in params) this.#inFlight.get(params.job)?._notify(method, params);
  }

  /**
   * @param {RpcConnection} conn
   * @param {number} code
   * @param {string} reason
   */
  #socketClosed(conn, code, reason) {
    if (conn !== this.#conn) return;
    this.#conn = null;
    this.emit("close", { code, reason });
    // The jobs in flight fail through their requests, which the connection
    // has just rejected. `initialize` in flight fails the same way, and
    // `#open` takes it from there.
    if (this.state !== "open") return;
    const error = ConnectionError.closed(code, reason);
    if (code === 1000 && this.#queue.length === 0 && this.#waiters.length === 0) {
      // The server closed an idle session; open a new one when it is needed.
      this.lastError = error;
      this.#setState("idle", { error });
    } else {
      this.#retryLater(error);
    }
  }

  /** @param {Error} error why the last attempt or session ended */
  #retryLater(error) {
    this.lastError = error;
    const options = this.#options.reconnect;
    if (options === false) {
      this.#failQueued(error);
      this.#setState("idle", { error });
      return;
    }
    const initial = options?.initialDelayMs ?? 500;
    const max = options?.maxDelayMs ?? 15000;
    const factor = options?.factor ?? 2;
    // Jitter keeps the pages of a whole class from reconnecting in step
    // after a server restart.
    const delay = Math.round(Math.min(max, initial * factor ** this.#attempt) * (0.8 + Math.random() * 0.4));
    this.#attempt++;
    this.#setState("retrying", { error, retryInMs: delay });
    clearTimeout(this.#retryTimer);
    this.#retryTimer = setTimeout(() => {
      if (this.state === "retrying") void this.#open();
    }, delay);
  }

  /** @param {Error} error an `initialize` refusal */
  #fail(error) {
    this.lastError = error;
    this.#setState("failed", { error });
    this.#failQueued(error);
  }

  /** @param {Error} error */
  #failQueued(error) {
    const queue = this.#queue;
    this.#queue = [];
    for (const job of queue) job._fail(error);
    const waiters = this.#waiters;
    this.#waiters = [];
    for (const waiter of waiters) waiter.reject(error);
  }

  /** @param {Job} job */
  #withdraw(job) {
    const index = this.#queue.indexOf(job);
    if (index < 0) return false;
    this.#queue.splice(index, 1);
    return true;
  }

  #closedError() {
    return new ConnectionError("the client is closed", { clientClosed: true });
  }

  /**
   * @param {ClientState} state
   * @param {StateDetail} detail
   */
  #setState(state, detail) {
    this.state = state;
    this.emit("state", state, detail);
  }
}
