// One JSON-RPC 2.0 peer over one WebSocket, for the life of that socket.
//
// `RpcConnection` knows the envelope and nothing of the coderun lifecycle: it
// numbers requests, matches responses to them by id (`92` and `"92"` are
// different ids), hands notifications to `onNotification` in the order they
// arrive, and when the socket closes rejects every request in flight with a
// `ConnectionError`. It never times a request out: the protocol gives
// requests no deadline, and a `run` lasts as long as its program.
// Reconnecting is `CoderunClient`'s concern, one level up.

import { ConnectionError, CoderunError, RpcError } from "./errors.js";

/**
 * The WHATWG WebSocket constructor: the browser's, Node's global one, or
 * any implementation with the same interface.
 * @typedef {new (url: string) => WebSocket} WebSocketConstructor
 */

/**
 * @typedef {object} PendingRequest
 * @property {string} method
 * @property {(result: any) => void} resolve
 * @property {(error: Error) => void} reject
 */

export class RpcConnection {
  /** @type {WebSocket} */
  #socket;
  /** @type {Map<import("./protocol.js").RequestId, PendingRequest>} */
  #pending = new Map();
  #nextId = 1;
  #closed = false;

  /**
   * Called with each notification from the server, in order.
   * @type {(method: string, params: any) => void}
   */
  onNotification = () => {};

  /**
   * Called with errors that belong to no request in flight: an error
   * response whose id is `null` or unknown (e.g. `-32700` for a frame the
   * server could not parse), or a frame that is not JSON-RPC.
   * @type {(error: CoderunError) => void}
   */
  onProtocolError = () => {};

  /**
   * Called once, when the socket has closed, after every request in flight
   * has been rejected.
   * @type {(code: number, reason: string) => void}
   */
  onClose = () => {};

  /**
   * Opens a WebSocket to `url` and resolves once it is open. Rejects with a
   * `ConnectionError` when it cannot be opened (a refused upgrade, e.g. 403
   * for a foreign origin, looks the same as an unreachable server: browsers
   * do not tell pages why).
   * @param {string} url a `ws:` or `wss:` URL
   * @param {WebSocketConstructor} [WebSocketImpl] the global `WebSocket` when absent
   * @returns {Promise<RpcConnection>}
   */
  static open(url, WebSocketImpl = globalThis.WebSocket) {
    if (typeof WebSocketImpl !== "function") {
      return Promise.reject(
        new ConnectionError("no WebSocket implementation: pass one as the WebSocket option (Node 20: run with --experimental-websocket, or pass the ws package's WebSocket)"),
      );
    }
    return new Promise((resolve, reject) => {
      /** @type {WebSocket} */
      let socket;
      try {
        socket = new WebSocketImpl(url);
      } catch (error) {
        reject(new ConnectionError(`cannot open ${url}: ${/** @type {Error} */ (error).message}`));
        return;
      }
      const failed = (/** @type {CloseEvent | Event} */ event) => {
        socket.removeEventListener("open", opened);
        const code = "code" in event ? event.code : 1006;
        reject(new ConnectionError(`cannot connect to ${url}`, { closeCode: code }));
        try {
          socket.close();
        } catch {
          // Closing a socket that never opened may throw in some implementations.
        }
      };
      const opened = () => {
        socket.removeEventListener("error", failed);
        socket.removeEventListener("close", failed);
        resolve(new RpcConnection(socket));
      };
      socket.addEventListener("open", opened, { once: true });
      socket.addEventListener("error", failed, { once: true });
      socket.addEventListener("close", failed, { once: true });
    });
  }

  /** @param {WebSocket} socket an open WebSocket */
  constructor(socket) {
    this.#socket = socket;
    socket.addEventListener("message", (event) => this.#receive(event.data));
    socket.addEventListener("close", (event) => this.#closedWith(event.code, event.reason));
  }

  /** The underlying socket (for tests and diagnostics). */
  get socket() {
    return this.#socket;
  }

  /** Whether the socket is still open. */
  get isOpen() {
    return !this.#closed;
  }

  /**
   * Sends a request and returns its id and a promise of its result. The
   * promise rejects with an `RpcError` for an error response and with a
   * `ConnectionError` when the socket closes first.
   * @param {string} method
   * @param {object} params
   * @returns {{id: number, response: Promise<any>}}
   */
  call(method, params) {
    const id = this.#nextId++;
    const response = new Promise((resolve, reject) => {
      if (this.#closed) {
        reject(new ConnectionError("the connection is closed"));
        return;
      }
      this.#pending.set(id, { method, resolve, reject });
      this.#send({ jsonrpc: "2.0", id, method, params });
    });
    return { id, response };
  }

  /**
   * Sends a request and resolves with its result.
   * @param {string} method
   * @param {object} params
   */
  request(method, params) {
    return this.call(method, params).response;
  }

  /**
   * Sends a notification. Does nothing once the socket has closed: a
   * notification has no answer to wait for, and the server has already
   * cancelled every job of a closed connection.
   * @param {string} method
   * @param {object} params
   */
  notify(method, params) {
    if (!this.#closed) this.#send({ jsonrpc: "2.0", method, params });
  }

  /**
   * Closes the socket. Requests in flight are rejected when it has closed.
   * @param {number} [code]
   * @param {string} [reason]
   */
  close(code = 1000, reason = "") {
    if (this.#closed) return;
    try {
      this.#socket.close(code, reason);
    } catch {
      this.#socket.close();
    }
    // Some implementations report the close only once the server answers
    // it; nothing more may be sent from now on, so settle now.
    this.#closedWith(code, reason, true);
  }

  /** @param {object} message */
  #send(message) {
    this.#socket.send(JSON.stringify(message));
  }

  /** @param {unknown} data */
  #receive(data) {
    if (this.#closed) return;
    if (typeof data !== "string") {
      this.onProtocolError(new CoderunError("the server sent a binary message"));
      return;
    }
    let message;
    try {
      message = JSON.parse(data);
    } catch {
      this.onProtocolError(new CoderunError("the server sent a message that is not JSON"));
      return;
    }
    if (message === null || typeof message !== "object" || Array.isArray(message)) {
      this.onProtocolError(new CoderunError("the server sent a message that is not a JSON-RPC object"));
      return;
    }
    if (typeof message.method === "string") {
      // The server sends no requests (spec §2.2); a message with an id and a
      // method is ignored rather than answered.
      if (!("id" in message)) this.onNotification(message.method, message.params ?? {});
      return;
    }
    const pending = "id" in message && message.id !== null ? this.#pending.get(message.id) : undefined;
    if (!pending) {
      if (message.error) this.onProtocolError(RpcError.fromWire(message.error));
      return;
    }
    this.#pending.delete(message.id);
    if (message.error) pending.reject(RpcError.fromWire(message.error));
    else pending.resolve(message.result);
  }

  /**
   * @param {number} code
   * @param {string} reason
   * @param {boolean} [byClient] whether `close()` closed it
   */
  #closedWith(code, reason, byClient = false) {
    if (this.#closed) return;
    this.#closed = true;
    const error = byClient
      ? new ConnectionError("the connection was closed by the client", { closeCode: code, reason, clientClosed: true })
      : ConnectionError.closed(code, reason);
    const pending = [...this.#pending.values()];
    this.#pending.clear();
    for (const request of pending) request.reject(error);
    this.onClose(code, reason);
  }
}
