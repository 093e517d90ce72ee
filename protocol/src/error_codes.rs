//! The JSON-RPC error codes of the protocol, with the data some of them carry.
//!
//! The first five are JSON-RPC 2.0's own; the rest are this protocol's, in
//! the range JSON-RPC reserves for implementation-defined server errors.
//! `spec/README.md` has the normative table; a test there checks that every
//! code below appears in it.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// Invalid JSON was received. The response's `id` is `null`.
pub const PARSE_ERROR: i32 = -32700;
/// The JSON is not a valid request object, the id is already in flight, or
/// `initialize` was sent twice.
pub const INVALID_REQUEST: i32 = -32600;
/// The method does not exist.
pub const METHOD_NOT_FOUND: i32 = -32601;
/// The params are invalid; the message names the field.
pub const INVALID_PARAMS: i32 = -32602;
/// An internal error of the server. Details go to the server's log.
pub const INTERNAL_ERROR: i32 = -32603;
/// The request needs a token and none or a wrong one was given.
pub const UNAUTHORIZED: i32 = -32001;
/// A request other than `initialize` arrived before `initialize`.
pub const NOT_INITIALIZED: i32 = -32002;
/// The `language` is not one the server offers.
pub const UNKNOWN_LANGUAGE: i32 = -32003;
/// A requested limit is above its maximum; `data` is [`LimitExceededData`].
pub const LIMIT_EXCEEDED: i32 = -32004;
/// The queue is full; `data` is [`BusyData`].
pub const BUSY: i32 = -32005;
/// The files are invalid: an absolute path, `..`, an empty or `.` segment,
/// NUL or backslash, duplicates, too many files or too many bytes.
pub const INVALID_FILES: i32 = -32006;
/// The connection already has as many jobs in flight as it may.
pub const TOO_MANY_JOBS: i32 = -32007;

/// Every error code with its name, in table order. Used by tests that check
/// the spec documents each one.
pub const ALL: &[(i32, &str)] = &[
    (PARSE_ERROR, "parse error"),
    (INVALID_REQUEST, "invalid request"),
    (METHOD_NOT_FOUND, "method not found"),
    (INVALID_PARAMS, "invalid params"),
    (INTERNAL_ERROR, "internal error"),
    (UNAUTHORIZED, "unauthorized"),
    (NOT_INITIALIZED, "not initialized"),
    (UNKNOWN_LANGUAGE, "unknown language"),
    (LIMIT_EXCEEDED, "limit exceeded"),
    (BUSY, "busy"),
    (INVALID_FILES, "invalid files"),
    (TOO_MANY_JOBS, "too many jobs"),
];

/// `data` of a [`LIMIT_EXCEEDED`] error.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct LimitExceededData {
    /// The name of the limit as in `Limits`, e.g. `"memoryBytes"`.
    pub limit: String,
    /// The largest value the server accepts for it.
    pub maximum: u64,
}

/// `data` of a [`BUSY`] error.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct BusyData {
    /// How long the client should wait before trying again.
    pub retry_after_ms: u64,
}
