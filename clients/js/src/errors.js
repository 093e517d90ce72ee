// The errors this client rejects with.
//
// `RpcError` is an error response from the server and carries the protocol's
// code (spec §7); `ConnectionError` says that the connection, not the server,
// ended a request: it closed, could not be opened, or the client was closed.
// A program that fails, times out or is cancelled is neither: that is a
// `RunResult`.

/** The protocol's error codes (spec §7), by name. */
export const ErrorCode = Object.freeze({
  ParseError: -32700,
  InvalidRequest: -32600,
  MethodNotFound: -32601,
  InvalidParams: -32602,
  InternalError: -32603,
  Unauthorized: -32001,
  NotInitialized: -32002,
  UnknownLanguage: -32003,
  LimitExceeded: -32004,
  Busy: -32005,
  InvalidFiles: -32006,
  TooManyJobs: -32007,
});

/** @typedef {typeof ErrorCode[keyof typeof ErrorCode]} ErrorCodeValue */

/** @type {Map<number, string>} */
const NAMES = new Map(Object.entries(ErrorCode).map(([name, code]) => [code, name]));

/** The base class of every error this client makes. */
export class CoderunError extends Error {
  /**
   * @param {string} message
   * @param {ErrorOptions} [options]
   */
  constructor(message, options) {
    super(message, options);
    this.name = new.target.name;
  }
}

/**
 * An error response from the server. Act on `code` and `data`; `message` is
 * for people and its wording may change.
 */
export class RpcError extends CoderunError {
  /**
   * @param {number} code
   * @param {string} message
   * @param {unknown} [data]
   */
  constructor(code, message, data) {
    super(message);
    /** The protocol's error code, e.g. `ErrorCode.Busy` (-32005). */
    this.code = code;
    /** The error's `data`, for the codes that define it (-32004, -32005). */
    this.data = data;
  }

  /**
   * An error response's `error` object as an `RpcError`.
   * @param {import("./protocol.js").ResponseError} error
   */
  static fromWire(error) {
    const code = typeof error?.code === "number" ? error.code : ErrorCode.InternalError;
    const message = typeof error?.message === "string" ? error.message : `error ${code}`;
    return new RpcError(code, message, error?.data ?? undefined);
  }

  /** The code's name in `ErrorCode`, e.g. `"Busy"`, or `"Unknown"`. */
  get codeName() {
    return NAMES.get(this.code) ?? "Unknown";
  }

  /** With `Busy`: how long to wait before trying again, in ms. */
  get retryAfterMs() {
    const data = /** @type {{retryAfterMs?: unknown} | undefined} */ (this.data);
    return typeof data?.retryAfterMs === "number" ? data.retryAfterMs : undefined;
  }

  /** With `LimitExceeded`: the limit's name, e.g. `"memoryBytes"`. */
  get limit() {
    const data = /** @type {{limit?: unknown} | undefined} */ (this.data);
    return typeof data?.limit === "string" ? data.limit : undefined;
  }

  /** With `LimitExceeded`: the largest value the server accepts for `limit`. */
  get maximum() {
    const data = /** @type {{maximum?: unknown} | undefined} */ (this.data);
    return typeof data?.maximum === "number" ? data.maximum : undefined;
  }
}

/**
 * The connection ended a request: it closed while the request was in flight
 * (`closeCode` says how), it could not be opened, or the client was closed
 * (`clientClosed`). A job that failed this way may or may not have run; the
 * server cancels every job of a connection that closes (spec §2.6).
 */
export class ConnectionError extends CoderunError {
  /**
   * @param {string} message
   * @param {{closeCode?: number, reason?: string, clientClosed?: boolean}} [details]
   */
  constructor(message, details = {}) {
    super(message);
    /** The WebSocket close code, when the socket closed (1006: abnormally). */
    this.closeCode = details.closeCode;
    /** The close reason the server gave, if any. */
    this.reason = details.reason ?? "";
    /** True when `CoderunClient.close()` ended the request. */
    this.clientClosed = details.clientClosed ?? false;
  }

  /**
   * The error for requests in flight on a socket that closed with `code`.
   * @param {number} code
   * @param {string} reason
   */
  static closed(code, reason) {
    return new ConnectionError(`${closeMeaning(code)} (close code ${code}${reason ? `: ${reason}` : ""})`, {
      closeCode: code,
      reason,
    });
  }
}

/**
 * What a WebSocket close code means for the requests in flight (spec §2.1).
 * @param {number} code
 */
export function closeMeaning(code) {
  switch (code) {
    case 1000:
      return "the server closed the connection";
    case 1001:
      return "the server is shutting down";
    case 1009:
      return "the server closed the connection: a message was larger than it accepts";
    case 1006:
      return "the connection to the server was lost";
    default:
      return "the connection to the server closed";
  }
}
