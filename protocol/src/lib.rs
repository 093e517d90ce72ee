//! Wire types of the coderun protocol, version 1.
//!
//! This crate is the single source of truth for what travels over the
//! WebSocket at `/rpc` and through `POST /rpc`: the JSON-RPC 2.0 envelope
//! ([`jsonrpc`]), the methods and notifications ([`methods`]), their params
//! and results, and the protocol's error codes ([`error_codes`]). The JSON
//! Schema in `spec/schema/` is generated from these types ([`schema`]) and a
//! test fails when the checked-in copy drifts.
//!
//! Serde conventions, the same on every type: fields are `camelCase`,
//! optional fields are skipped when `None`, closed string sets are enums,
//! and envelopes never use `deny_unknown_fields` so that newer peers can add
//! fields. The crate depends on serde, serde_json and schemars only.

pub mod diagnostic;
pub mod error_codes;
pub mod initialize;
pub mod job;
pub mod jsonrpc;
pub mod limits;
pub mod methods;
pub mod run;
pub mod schema;

pub use diagnostic::{Diagnostic, DiagnosticSeverity, Position, Range};
pub use initialize::{ClientInfo, InitializeParams, InitializeResult, LanguageInfo, LimitsInfo, ServerInfo};
pub use job::{CancelParams, JobDiagnosticsParams, JobOutputParams, JobState, JobStatusParams, JobStdinParams, Stream};
pub use jsonrpc::{Message, Notification, Request, RequestId, Response, ResponseError};
pub use limits::{Limits, PartialLimits};
pub use run::{Encoding, FileParam, OutputChunk, RunParams, RunResult, RunStatus, StageName, StageResult};

/// The protocol version this crate describes, as sent in `initialize`.
pub const PROTOCOL_VERSION: &str = "1";
