// Words for people: what a job's state, its result or an error means, in
// the short form a status line shows ("queued #3", "exited 0 in 42 ms",
// "time limit 5 s exceeded", "output cut at 64 KiB").
//
// Every `RunStatus` of the spec (§4.6) has its sentence here; a status from
// a later protocol version still gets one ("ended: <status>"). Pure
// functions, so that the element and its tests share them.

import { ConnectionError, ErrorCode, RpcError } from "./errors.js";

/**
 * @typedef {import("./protocol.js").RunResult} RunResult
 * @typedef {import("./protocol.js").PartialLimits} PartialLimits
 * @typedef {import("./job.js").JobPhase} JobPhase
 */

/**
 * How a status line colours a sentence.
 * @typedef {"ok" | "error" | "warning" | "neutral"} Tone
 */

/**
 * The limits a job ran under, for sentences that name them.
 * @typedef {object} LimitsInForce
 * @property {PartialLimits} [run] the run stage's: the request's merged over the defaults
 * @property {PartialLimits} [build] the build stage's (`initialize`'s `limits.build`)
 */

/**
 * A duration for people: "42 ms", "1.5 s", "5 s", "2 min 5 s".
 * @param {number} ms
 */
export function formatDuration(ms) {
  if (ms < 1000) return `${Math.round(ms)} ms`;
  if (ms < 60_000) return `${trim(ms / 1000)} s`;
  const minutes = Math.floor(ms / 60_000);
  const seconds = Math.round((ms % 60_000) / 1000);
  return seconds ? `${minutes} min ${seconds} s` : `${minutes} min`;
}

/**
 * A size for people, in binary units: "64 KiB", "1.5 MiB", "900 bytes".
 * @param {number} bytes
 */
export function formatBytes(bytes) {
  const units = ["KiB", "MiB", "GiB", "TiB"];
  if (bytes < 1024) return `${bytes} ${bytes === 1 ? "byte" : "bytes"}`;
  let value = bytes / 1024;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return `${trim(value)} ${units[unit]}`;
}

/** @param {number} value at most one decimal, none when it is .0 */
function trim(value) {
  return (Math.round(value * 10) / 10).toString();
}

/**
 * A job's state while it is in flight: "queued #3", "building…".
 * @param {JobPhase} state
 * @param {number} [position] with `queued`
 */
export function describeState(state, position) {
  switch (state) {
    case "pending":
      return "connecting…";
    case "sent":
    case "starting":
      return "starting…";
    case "queued":
      return position ? `queued #${position}` : "queued";
    case "building":
      return "building…";
    case "running":
      return "running…";
    default:
      return "";
  }
}

/** What common signals mean, for students who have not met them. */
const SIGNALS = /** @type {Record<string, string>} */ ({
  SIGSEGV: "segmentation fault: a bad memory access",
  SIGBUS: "bus error: a bad memory access",
  SIGABRT: "aborted",
  SIGFPE: "arithmetic error, e.g. division by zero",
  SIGILL: "illegal instruction",
  SIGKILL: "killed",
  SIGTERM: "terminated",
  SIGPIPE: "broken pipe",
  SIGXFSZ: "file size limit exceeded",
  SIGXCPU: "CPU time limit exceeded",
});

/**
 * How a job ended, in one line, and how to colour it.
 * @param {RunResult} result
 * @param {LimitsInForce} [limits] to name the limit a job reached
 * @returns {{text: string, tone: Tone}}
 */
export function describeResult(result, limits = {}) {
  const last = result.stages.at(-1);
  const stageLimits = last?.name === "build" ? limits.build : limits.run;
  const whileBuilding = last?.name === "build" ? " while building" : "";
  switch (result.status) {
    case "exited": {
      const code = result.exitCode ?? 0;
      const time = last ? ` in ${formatDuration(last.wallTimeMs)}` : "";
      return { text: `exited ${code}${time}`, tone: code === 0 ? "ok" : "error" };
    }
    case "buildFailed":
      return { text: `build failed (exit code ${result.exitCode})`, tone: "error" };
    case "timeout": {
      const limit = stageLimits?.wallTimeMs;
      return {
        text: limit ? `time limit ${formatDuration(limit)} exceeded${whileBuilding}` : `time limit exceeded${whileBuilding}`,
        tone: "warning",
      };
    }
    case "cpuTime": {
      const limit = stageLimits?.cpuTimeMs;
      return {
        text: limit ? `CPU time limit ${formatDuration(limit)} exceeded${whileBuilding}` : `CPU time limit exceeded${whileBuilding}`,
        tone: "warning",
      };
    }
    case "memory": {
      const limit = stageLimits?.memoryBytes;
      return { text: limit ? `out of memory (limit ${formatBytes(limit)})${whileBuilding}` : `out of memory${whileBuilding}`, tone: "warning" };
    }
    case "outputLimit": {
      const limit = stageLimits?.outputBytes;
      return { text: limit ? `output cut at ${formatBytes(limit)}` : "output cut: too much output", tone: "warning" };
    }
    case "signal": {
      const name = result.signal ?? "a signal";
      const meaning = result.signal ? SIGNALS[result.signal] : undefined;
      return { text: meaning ? `killed by ${name} (${meaning})` : `killed by ${name}`, tone: "error" };
    }
    case "cancelled":
      return {
        text: last ? `stopped after ${formatDuration(last.wallTimeMs)}` : "stopped before it started",
        tone: "neutral",
      };
    default:
      return { text: `ended: ${result.status}`, tone: "neutral" };
  }
}

/**
 * A request's failure, in one line: an `RpcError`, a `ConnectionError`, or
 * anything else thrown.
 * @param {unknown} error
 */
export function describeError(error) {
  if (error instanceof RpcError) {
    switch (error.code) {
      case ErrorCode.Busy: {
        const wait = error.retryAfterMs;
        return wait ? `the server is busy; try again in ${formatDuration(wait)}` : "the server is busy; try again soon";
      }
      case ErrorCode.TooManyJobs:
        return "too many programs running from this page; stop one first";
      case ErrorCode.Unauthorized:
        return "the server refused this page's access token";
      case ErrorCode.UnknownLanguage:
        return "the server does not run this language";
      case ErrorCode.LimitExceeded: {
        const max = error.maximum;
        const limit = error.limit ?? "a limit";
        return max !== undefined ? `${limit} is above the server's maximum (${max})` : `${limit} is above the server's maximum`;
      }
      default:
        return `the server refused to run this: ${error.message} (${error.code})`;
    }
  }
  if (error instanceof ConnectionError) return error.clientClosed ? "stopped: the page closed its connection" : error.message;
  return error instanceof Error ? error.message : String(error);
}
