// A job: one `run` request and everything the server says about it.
//
// `CoderunClient.run` returns a `Job` at once, before the request is sent.
// The job collects its notifications as events, in the order the server
// sent them, and gives them out two ways: listeners (`job.on("output", ...)`)
// called as each arrives, and async iteration (`for await (const event of
// job)`), which replays from the first event and ends with the result. The
// result is last, always (spec §2.5): `job.result` resolves after every
// event has been delivered.
//
// Invariant: a job settles once. After its result or its error, later
// notifications and calls are ignored.

import { Emitter } from "./emitter.js";
import { CoderunError } from "./errors.js";
import { Method } from "./protocol.js";

/**
 * @typedef {import("./protocol.js").RunParams} RunParams
 * @typedef {import("./protocol.js").RunResult} RunResult
 * @typedef {import("./protocol.js").RequestId} RequestId
 * @typedef {import("./protocol.js").JobState} JobState
 * @typedef {import("./protocol.js").Stream} Stream
 * @typedef {import("./protocol.js").Diagnostic} Diagnostic
 */

/**
 * @typedef {{type: "status", state: JobState, position?: number}} StatusEvent
 * @typedef {{type: "output", stream: Stream, text: string}} OutputEvent
 * @typedef {{type: "diagnostics", diagnostics: Diagnostic[]}} DiagnosticsEvent
 * @typedef {{type: "result", result: RunResult}} ResultEvent
 * @typedef {StatusEvent | OutputEvent | DiagnosticsEvent | ResultEvent} JobEvent
 */

/**
 * Where a job is: `pending` until its `run` is sent (the client may still be
 * connecting), `sent` until the server reports a state, then the server's
 * states, and `done` once it has a result or an error.
 * @typedef {"pending" | "sent" | JobState | "done"} JobPhase
 */

/**
 * @typedef {object} JobEvents
 * @property {[JobEvent]} event every event, in order, the result included
 * @property {[StatusEvent]} status
 * @property {[OutputEvent]} output
 * @property {[DiagnosticsEvent]} diagnostics
 * @property {[RunResult]} result
 * @property {[Error]} error the run failed: an `RpcError` or a `ConnectionError`
 */

/**
 * What a job needs of the connection it was sent on.
 * @typedef {{notify(method: string, params: object): void}} JobLink
 */

/** @extends {Emitter<{[K in keyof JobEvents]: JobEvents[K]}>} */
export class Job extends Emitter {
  /**
   * The request's id on its connection; `null` until the `run` is sent.
   * @type {RequestId | null}
   */
  id = null;
  /** @type {JobPhase} */
  state = "pending";
  /**
   * With `queued`: the place in the queue, 1 for the next to start.
   * @type {number | undefined}
   */
  position = undefined;
  /**
   * Every event so far, in order.
   * @type {JobEvent[]}
   */
  events = [];
  /**
   * The diagnostics so far, in order.
   * @type {Diagnostic[]}
   */
  diagnostics = [];
  /**
   * The result of the run (not an error: a program that fails is a result).
   * @type {Promise<RunResult>}
   */
  result;

  /** @type {(result: RunResult) => void} */
  #resolve = () => {};
  /** @type {(error: Error) => void} */
  #reject = () => {};
  /** @type {Error | null} */
  #error = null;
  /** @type {JobLink | null} */
  #link = null;
  /**
   * Stdin written before the run was sent, in order.
   * @type {{text: string, eof: boolean}[]}
   */
  #stdinBacklog = [];
  #stdinClosed = false;
  #cancelRequested = false;
  /**
   * Iterators waiting for the next event.
   * @type {Set<() => void>}
   */
  #wakers = new Set();
  /** @type {() => boolean} */
  #withdraw;

  /**
   * @param {RunParams} params
   * @param {() => boolean} withdraw takes the job out of the client's queue
   *   of unsent runs; false if it was no longer there
   */
  constructor(params, withdraw) {
    super();
    /** The params of the `run` request. */
    this.params = params;
    this.#withdraw = withdraw;
    this.result = new Promise((resolve, reject) => {
      this.#resolve = resolve;
      this.#reject = reject;
    });
    // A page that only listens for events must not see an unhandled
    // rejection when a run fails; a `.then` on `result` still sees it.
    this.result.catch(() => {});
  }

  /** Whether the job has its result or has failed. */
  get done() {
    return this.state === "done";
  }

  /** Whether the run takes `write()`: it was started with `interactive: true`. */
  get interactive() {
    return this.params.interactive === true;
  }

  /** Everything the program wrote to stdout so far. */
  get stdout() {
    return this.#text("stdout");
  }

  /** Everything the program (or its compiler) wrote to stderr so far. */
  get stderr() {
    return this.#text("stderr");
  }

  /**
   * Writes `text` to the program's stdin (an interactive run only). Text
   * written before the program starts is kept until it does, and texts
   * reach it in the order written (spec §4.3). Ignored once the job is done.
   * @param {string} text
   */
  write(text) {
    this.#stdin(text, false);
  }

  /**
   * Closes the program's stdin, after `text` if given: the program then
   * reads end of file. Later writes are refused.
   * @param {string} [text]
   */
  closeStdin(text = "") {
    this.#stdin(text, true);
  }

  /**
   * Stops the job. The result then has status `cancelled`, unless the
   * program ended on its own first. A run not yet sent is never sent.
   */
  cancel() {
    if (this.done || this.#cancelRequested) return;
    this.#cancelRequested = true;
    if (this.#link && this.id !== null) {
      this.#link.notify(Method.cancelRequest, { id: this.id });
    } else if (this.#withdraw()) {
      this._settle({
        status: "cancelled",
        exitCode: null,
        signal: null,
        stages: [],
        outputTruncated: false,
        queuedMs: 0,
        wallTimeMs: 0,
      });
    }
  }

  /**
   * The events from the first, in order, ending with the `result` event.
   * Throws the job's error, after the events before it, if the run failed.
   * @returns {AsyncIterator<JobEvent>}
   */
  [Symbol.asyncIterator]() {
    let index = 0;
    return {
      next: async () => {
        for (;;) {
          if (index < this.events.length) return { value: this.events[index++], done: false };
          if (this.#error) throw this.#error;
          if (this.done) return { value: undefined, done: true };
          await new Promise((wake) => this.#wakers.add(() => wake(undefined)));
        }
      },
      return: async () => {
        index = Infinity;
        return { value: undefined, done: true };
      },
    };
  }

  /**
   * @internal The client sent the `run` with this id on `link`.
   * @param {JobLink} link
   * @param {RequestId} id
   */
  _sent(link, id) {
    this.#link = link;
    this.id = id;
    this.state = "sent";
    for (const { text, eof } of this.#stdinBacklog) {
      link.notify(Method.jobStdin, eof ? { job: id, text, eof } : { job: id, text });
    }
    this.#stdinBacklog = [];
    if (this.#cancelRequested) link.notify(Method.cancelRequest, { id });
  }

  /**
   * @internal A notification about this job, in the order received.
   * @param {string} method
   * @param {any} params
   */
  _notify(method, params) {
    if (this.done) return;
    switch (method) {
      case Method.jobStatus: {
        /** @type {StatusEvent} */
        const event = { type: "status", state: params.state };
        if (typeof params.position === "number") event.position = params.position;
        this.state = params.state;
        this.position = event.position;
        this.#push(event);
        this.emit("status", event);
        break;
      }
      case Method.jobOutput: {
        /** @type {OutputEvent} */
        const event = { type: "output", stream: params.stream, text: params.text };
        this.#push(event);
        this.emit("output", event);
        break;
      }
      case Method.jobDiagnostics: {
        /** @type {DiagnosticsEvent} */
        const event = { type: "diagnostics", diagnostics: params.diagnostics ?? [] };
        this.diagnostics.push(...event.diagnostics);
        this.#push(event);
        this.emit("diagnostics", event);
        break;
      }
      default:
      // Later protocol versions may add notifications about a job.
    }
  }

  /**
   * @internal The run's result.
   * @param {RunResult} result
   */
  _settle(result) {
    if (this.done) return;
    this.state = "done";
    this.position = undefined;
    this.#push({ type: "result", result });
    this.emit("result", result);
    this.#resolve(result);
  }

  /**
   * @internal The run failed: an error response, or the connection.
   * @param {Error} error
   */
  _fail(error) {
    if (this.done) return;
    this.state = "done";
    this.position = undefined;
    this.#error = error;
    this.#wake();
    this.emit("error", error);
    this.#reject(error);
  }

  /**
   * @param {string} text
   * @param {boolean} eof
   */
  #stdin(text, eof) {
    if (typeof text !== "string") throw new TypeError("stdin text must be a string");
    if (!this.interactive) throw new TypeError("write() and closeStdin() need a run started with interactive: true");
    if (this.done) return;
    if (this.#stdinClosed) throw new CoderunError("stdin is closed: closeStdin() was called");
    if (eof) this.#stdinClosed = true;
    if (this.#link && this.id !== null) {
      this.#link.notify(Method.jobStdin, eof ? { job: this.id, text, eof } : { job: this.id, text });
    } else {
      this.#stdinBacklog.push({ text, eof });
    }
  }

  /** @param {JobEvent} event */
  #push(event) {
    this.events.push(event);
    this.emit("event", event);
    this.#wake();
  }

  #wake() {
    const wakers = [...this.#wakers];
    this.#wakers.clear();
    for (const wake of wakers) wake();
  }

  /** @param {Stream} stream */
  #text(stream) {
    let text = "";
    for (const event of this.events) if (event.type === "output" && event.stream === stream) text += event.text;
    return text;
  }
}
