//! Notifications about a job in flight, and the client's notifications that
//! steer it. A job's id is the id of the `run` request that started it.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::{Diagnostic, RequestId};

/// Where a job is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub enum JobState {
    /// Waiting for a slot; `position` says where in the queue.
    Queued,
    /// A sandbox is being prepared.
    Starting,
    /// The build stage is running.
    Building,
    /// The program is running.
    Running,
}

/// Params of `job/status`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct JobStatusParams {
    pub job: RequestId,
    pub state: JobState,
    /// For `queued`: 1 for the next job to start. Sent again whenever it changes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub position: Option<u32>,
}

/// An output stream of the program.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub enum Stream {
    Stdout,
    Stderr,
}

/// Params of `job/output`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct JobOutputParams {
    pub job: RequestId,
    pub stream: Stream,
    /// Valid UTF-8: a multi-byte character is never split between two
    /// notifications, and bytes that are not UTF-8 arrive as U+FFFD.
    pub text: String,
}

/// Params of `job/diagnostics`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct JobDiagnosticsParams {
    pub job: RequestId,
    pub diagnostics: Vec<Diagnostic>,
}

/// Params of `job/stdin`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct JobStdinParams {
    pub job: RequestId,
    pub text: String,
    /// Close the program's stdin after this text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub eof: Option<bool>,
}

/// Params of `$/cancelRequest`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct CancelParams {
    /// The id of the request to cancel.
    pub id: RequestId,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_round_trips_exactly() {
        let text = r#"{"job":1,"state":"queued","position":3}"#;
        let p: JobStatusParams = serde_json::from_str(text).unwrap();
        assert_eq!(p.state, JobState::Queued);
        assert_eq!(serde_json::to_string(&p).unwrap(), text);
    }

    #[test]
    fn output_round_trips_exactly() {
        let text = r#"{"job":"a","stream":"stderr","text":"é\n"}"#;
        let p: JobOutputParams = serde_json::from_str(text).unwrap();
        assert_eq!(serde_json::to_string(&p).unwrap(), text);
    }

    #[test]
    fn stdin_round_trips_exactly() {
        let text = r#"{"job":2,"text":"Ada\n","eof":true}"#;
        let p: JobStdinParams = serde_json::from_str(text).unwrap();
        assert_eq!(serde_json::to_string(&p).unwrap(), text);
    }
}
