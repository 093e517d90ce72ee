// The coderun protocol's wire types, as JSDoc typedefs, and its constants.
//
// These mirror spec/schema/protocol.schema.json (generated from the Rust
// protocol crate); test/protocol-types.test.js fails when a typedef here
// and a definition there disagree on fields, optionality or enum values.
// Descriptions are the spec's own words, shortened.

/** The protocol version this client speaks. */
export const PROTOCOL_VERSION = "1";

/** Every method of the protocol, by direction. */
export const Method = Object.freeze({
  initialize: "initialize",
  run: "run",
  jobStatus: "job/status",
  jobOutput: "job/output",
  jobDiagnostics: "job/diagnostics",
  jobStdin: "job/stdin",
  cancelRequest: "$/cancelRequest",
});

/** The statuses a run or a stage can end with, in the spec's order. */
export const RUN_STATUSES = Object.freeze(
  /** @type {const} */ (["exited", "buildFailed", "timeout", "cpuTime", "memory", "outputLimit", "signal", "cancelled"]),
);

/** The states of a job in flight, in the order they move through. */
export const JOB_STATES = Object.freeze(/** @type {const} */ (["queued", "starting", "building", "running"]));

/**
 * A request id. `92` and `"92"` are different ids.
 * @typedef {number | string} RequestId
 */

/**
 * A job's id: the id of the `run` request that started it.
 * @typedef {RequestId} JobId
 */

/** @typedef {'stdout' | 'stderr'} Stream */

/** @typedef {'utf8' | 'base64'} Encoding */

/** @typedef {'build' | 'run'} StageName */

/** @typedef {'queued' | 'starting' | 'building' | 'running'} JobState */

/**
 * How a job, or one of its stages, ended.
 * @typedef {'exited' | 'buildFailed' | 'timeout' | 'cpuTime' | 'memory' | 'outputLimit' | 'signal' | 'cancelled'} RunStatus
 */

/** @typedef {'error' | 'warning' | 'information' | 'hint'} DiagnosticSeverity */

/**
 * @typedef {object} ClientInfo
 * @property {string} name
 * @property {string} [version]
 */

/**
 * @typedef {object} InitializeParams
 * @property {string} protocolVersion The protocol version the client speaks: `"1"`.
 * @property {ClientInfo} [client] Who the client is, for the server's logs.
 * @property {string} [token] The server's access token, when it requires one.
 */

/**
 * @typedef {object} ServerInfo
 * @property {string} name
 * @property {string} version
 */

/**
 * @typedef {object} LanguageInfo
 * @property {string} id The id to send as `run`'s `language`, e.g. `"python"`.
 * @property {string} name A name for people, e.g. `"Python"`.
 * @property {string} version The toolchain's version as it reports it.
 * @property {string[]} extensions File extensions, with the dot.
 * @property {string} entry The file run when `run` names no `entry`.
 * @property {boolean} compiled Whether a build stage runs before the run stage.
 */

/**
 * A full set of limits (spec §4.4).
 * @typedef {object} Limits
 * @property {number} wallTimeMs Wall-clock time of the stage, in ms.
 * @property {number} cpuTimeMs CPU time of all the stage's processes, in ms.
 * @property {number} memoryBytes Memory of all the job's processes, in bytes.
 * @property {number} processes Processes and threads alive at once.
 * @property {number} outputBytes Bytes the stage may write to stdout and stderr together.
 * @property {number} fileSizeBytes Largest file the program may write, in bytes.
 * @property {number} openFiles Files a process may have open at once.
 */

/**
 * Any subset of the limits, as a `run` asks for them.
 * @typedef {object} PartialLimits
 * @property {number} [wallTimeMs]
 * @property {number} [cpuTimeMs]
 * @property {number} [memoryBytes]
 * @property {number} [processes]
 * @property {number} [outputBytes]
 * @property {number} [fileSizeBytes]
 * @property {number} [openFiles]
 */

/**
 * @typedef {object} LimitsInfo
 * @property {Limits} defaults What the run stage gets for each limit a `run` does not name.
 * @property {Limits} maximums The largest value accepted for each limit.
 * @property {Limits} [build] The limits of the build stage; absent when no language is compiled.
 */

/**
 * @typedef {object} InitializeResult
 * @property {string} protocolVersion
 * @property {ServerInfo} server
 * @property {LanguageInfo[]} languages The languages this server can run now.
 * @property {LimitsInfo} limits
 * @property {string[]} features Open set of feature names, e.g. `"interactive"`.
 */

/**
 * @typedef {object} FileParam
 * @property {string} path A relative path with `/` separators.
 * @property {string} content The file's text, or its bytes in base64.
 * @property {Encoding} [encoding] How `content` is written; `'utf8'` when absent.
 */

/**
 * @typedef {object} RunParams
 * @property {string} language A language id from `initialize`'s `languages`.
 * @property {FileParam[]} files The job's files.
 * @property {string} [entry] The file to build or run; the language's default when absent.
 * @property {string[]} [args] Command-line arguments for the program.
 * @property {string} [stdin] The whole of stdin for a job that is not interactive.
 * @property {boolean} [interactive] Keep stdin open for `job/stdin`.
 * @property {PartialLimits} [limits] Limits of the run stage, merged over the defaults.
 */

/**
 * @typedef {object} StageResult
 * @property {StageName} name
 * @property {RunStatus} status How the stage ended; never `'buildFailed'`.
 * @property {number | null} exitCode
 * @property {string | null} signal The signal's name, e.g. `"SIGSEGV"`, or `null`.
 * @property {number} wallTimeMs
 * @property {number} cpuTimeMs
 * @property {number} memoryBytes Peak memory of the stage, in bytes.
 */

/**
 * @typedef {object} OutputChunk
 * @property {Stream} stream
 * @property {string} text
 */

/**
 * @typedef {object} RunResult
 * @property {RunStatus} status How the job ended.
 * @property {number | null} exitCode The exit code of the last stage, or `null`.
 * @property {string | null} signal The signal that ended the last stage, or `null`.
 * @property {StageResult[]} stages The stages that started, in order.
 * @property {boolean} outputTruncated Whether a stage's output was cut at `outputBytes`.
 * @property {number} queuedMs Time spent waiting for a run slot, in ms.
 * @property {number} wallTimeMs Time from leaving the queue to the end of the job, in ms.
 * @property {OutputChunk[]} [output] Only on `POST /rpc`.
 * @property {Diagnostic[]} [diagnostics] Only on `POST /rpc`.
 */

/**
 * A position in a file: 0-based line, 0-based character in UTF-16 code units.
 * @typedef {object} Position
 * @property {number} line
 * @property {number} character
 */

/**
 * A range in a file; `end` is exclusive.
 * @typedef {object} Range
 * @property {Position} start
 * @property {Position} end
 */

/**
 * @typedef {object} Diagnostic
 * @property {string} file The file's path, exactly as given in `run`'s `files`.
 * @property {Range} range
 * @property {DiagnosticSeverity} severity
 * @property {string} message
 * @property {string} [code] The tool's code for the message, e.g. `E0308`.
 * @property {string} [source] The tool that produced it, e.g. `gcc`.
 */

/**
 * @typedef {object} JobStatusParams
 * @property {JobId} job
 * @property {JobState} state
 * @property {number} [position] Only with `queued`: 1 for the next job to start.
 */

/**
 * @typedef {object} JobOutputParams
 * @property {JobId} job
 * @property {Stream} stream
 * @property {string} text Valid UTF-8, never empty.
 */

/**
 * @typedef {object} JobDiagnosticsParams
 * @property {JobId} job
 * @property {Diagnostic[]} diagnostics New diagnostics; each notification adds to the job's.
 */

/**
 * @typedef {object} JobStdinParams
 * @property {JobId} job
 * @property {string} text Text to write to the program's stdin.
 * @property {boolean} [eof] Close stdin after this text.
 */

/**
 * @typedef {object} CancelParams
 * @property {RequestId} id The id of the `run` request to cancel.
 */

/**
 * `data` of `-32004`.
 * @typedef {object} LimitExceededData
 * @property {string} limit The limit's name as in `Limits`.
 * @property {number} maximum The largest value the server accepts for it.
 */

/**
 * `data` of `-32005`.
 * @typedef {object} BusyData
 * @property {number} retryAfterMs How long to wait before trying again, in ms.
 */

/**
 * An error response's `error`.
 * @typedef {object} ResponseError
 * @property {number} code
 * @property {string} message
 * @property {unknown} [data]
 */

export {};
