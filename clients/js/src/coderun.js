// @coderun/client: run students' code on a coderun server.
//
// The package's entry point, served by the server at /client/coderun.js.
// `CoderunClient` is the session (connect, initialize, reconnect), `Job` one
// run's events and result, `RpcConnection` the bare JSON-RPC peer beneath,
// and the errors carry the protocol's codes. The <coderun-snippet> element
// is in snippet.js.
//
//     import { CoderunClient } from "https://coderun.example/client/coderun.js";
//     const client = new CoderunClient("https://coderun.example");
//     const job = client.run({ language: "python", files: [{ path: "main.py", content: "print(42)" }] });
//     job.on("output", ({ stream, text }) => console.log(stream, text));
//     const result = await job.result; // { status: "exited", exitCode: 0, ... }

export { CoderunClient, rpcUrl, VERSION } from "./client.js";
export { Job } from "./job.js";
export { RpcConnection } from "./connection.js";
export { CoderunError, ConnectionError, ErrorCode, RpcError, closeMeaning } from "./errors.js";
export { JOB_STATES, Method, PROTOCOL_VERSION, RUN_STATUSES } from "./protocol.js";
export { describeError, describeResult, describeState, formatBytes, formatDuration } from "./describe.js";

/**
 * @typedef {import("./client.js").ClientOptions} ClientOptions
 * @typedef {import("./client.js").ClientState} ClientState
 * @typedef {import("./job.js").JobEvent} JobEvent
 * @typedef {import("./job.js").JobPhase} JobPhase
 * @typedef {import("./protocol.js").RunParams} RunParams
 * @typedef {import("./protocol.js").RunResult} RunResult
 * @typedef {import("./protocol.js").InitializeResult} InitializeResult
 * @typedef {import("./protocol.js").Diagnostic} Diagnostic
 * @typedef {import("./protocol.js").LanguageInfo} LanguageInfo
 * @typedef {import("./protocol.js").Limits} Limits
 */
