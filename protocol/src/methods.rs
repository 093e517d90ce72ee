//! The protocol's methods and notifications, one empty type each.
//!
//! As in lsp-types, a method is a type with its `METHOD` string and its
//! `Params` and `Result` types, so that a handler names the method once and
//! the compiler checks the rest. [`REQUESTS`] and [`NOTIFICATIONS`] list every
//! method string; a test checks each maps to its type.

use serde::{de::DeserializeOwned, Serialize};

use crate::{
    CancelParams, InitializeParams, InitializeResult, JobDiagnosticsParams, JobOutputParams, JobStatusParams,
    JobStdinParams, RunParams, RunResult,
};

/// A request: one response per call.
pub trait Request {
    type Params: DeserializeOwned + Serialize;
    type Result: DeserializeOwned + Serialize;
    const METHOD: &'static str;
}

/// A notification: no response.
pub trait Notification {
    type Params: DeserializeOwned + Serialize;
    const METHOD: &'static str;
}

/// Client to server, first on every connection.
pub enum Initialize {}
impl Request for Initialize {
    type Params = InitializeParams;
    type Result = InitializeResult;
    const METHOD: &'static str = "initialize";
}

/// Client to server: build and run files, streaming the job's events.
pub enum Run {}
impl Request for Run {
    type Params = RunParams;
    type Result = RunResult;
    const METHOD: &'static str = "run";
}

/// Server to client: the job moved to a new state or queue position.
pub enum JobStatus {}
impl Notification for JobStatus {
    type Params = JobStatusParams;
    const METHOD: &'static str = "job/status";
}

/// Server to client: text the program wrote.
pub enum JobOutput {}
impl Notification for JobOutput {
    type Params = JobOutputParams;
    const METHOD: &'static str = "job/output";
}

/// Server to client: structured compiler or runtime diagnostics.
pub enum JobDiagnostics {}
impl Notification for JobDiagnostics {
    type Params = JobDiagnosticsParams;
    const METHOD: &'static str = "job/diagnostics";
}

/// Client to server: text for an interactive job's stdin.
pub enum JobStdin {}
impl Notification for JobStdin {
    type Params = JobStdinParams;
    const METHOD: &'static str = "job/stdin";
}

/// Client to server: cancel a request still in flight.
pub enum Cancel {}
impl Notification for Cancel {
    type Params = CancelParams;
    const METHOD: &'static str = "$/cancelRequest";
}

/// Every request method, client to server.
pub const REQUESTS: &[&str] = &[Initialize::METHOD, Run::METHOD];

/// Every notification method, in either direction.
pub const NOTIFICATIONS: &[&str] =
    &[JobStatus::METHOD, JobOutput::METHOD, JobDiagnostics::METHOD, JobStdin::METHOD, Cancel::METHOD];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_method_string_maps_to_its_type() {
        assert_eq!(REQUESTS, &["initialize", "run"]);
        assert_eq!(NOTIFICATIONS, &["job/status", "job/output", "job/diagnostics", "job/stdin", "$/cancelRequest"]);
    }
}
