//! `run`: build and run a set of files, streaming the job's events.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::{Diagnostic, PartialLimits, Stream};

/// Params of `run`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct RunParams {
    /// A language id from `initialize`'s `languages`.
    pub language: String,
    /// The job's files, written under its working directory.
    pub files: Vec<FileParam>,
    /// The file to build or run; the language's default entry when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub entry: Option<String>,
    /// Command-line arguments for the program.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub args: Option<Vec<String>>,
    /// The whole of stdin for a job that is not interactive.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stdin: Option<String>,
    /// When true, stdin comes from `job/stdin` notifications instead.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub interactive: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limits: Option<PartialLimits>,
}

/// How a file's `content` is encoded.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub enum Encoding {
    #[default]
    Utf8,
    Base64,
}

/// One file of a job.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct FileParam {
    /// A relative path with `/` separators, e.g. `src/main.rs`.
    pub path: String,
    pub content: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub encoding: Option<Encoding>,
}

/// How a job, or one of its stages, ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub enum RunStatus {
    /// The program ended on its own, with any exit code.
    Exited,
    /// The build stage failed; the run stage did not start.
    BuildFailed,
    /// The wall-time limit was reached.
    Timeout,
    /// The CPU-time limit was reached.
    CpuTime,
    /// The memory limit was reached.
    Memory,
    /// The output limit was reached.
    OutputLimit,
    /// The program was killed by a signal of its own doing; `signal` names it.
    Signal,
    /// The client cancelled the job, or went away.
    Cancelled,
}

/// A stage of a job.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub enum StageName {
    Build,
    Run,
}

/// How one stage went.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct StageResult {
    pub name: StageName,
    pub status: RunStatus,
    /// The exit code, or `null` when the stage was ended by a signal.
    pub exit_code: Option<i32>,
    /// The signal's name, e.g. `"SIGSEGV"`, or `null`.
    pub signal: Option<String>,
    pub wall_time_ms: u64,
    pub cpu_time_ms: u64,
    /// Peak memory of the stage, in bytes.
    pub memory_bytes: u64,
}

/// Result of `run`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct RunResult {
    pub status: RunStatus,
    /// The exit code of the last stage that ran, or `null`.
    pub exit_code: Option<i32>,
    /// The signal that ended the last stage that ran, or `null`.
    pub signal: Option<String>,
    pub stages: Vec<StageResult>,
    /// Whether any output was cut at `outputBytes`.
    pub output_truncated: bool,
    /// Time spent waiting in the queue.
    pub queued_ms: u64,
    /// Time from leaving the queue to the end of the job.
    pub wall_time_ms: u64,
    /// Only in answers to `POST /rpc`: the output, in order.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub output: Option<Vec<OutputChunk>>,
    /// Only in answers to `POST /rpc`: the diagnostics, in order.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub diagnostics: Option<Vec<Diagnostic>>,
}

/// A piece of output in a `POST /rpc` answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct OutputChunk {
    pub stream: Stream,
    pub text: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn run_params_round_trip_exactly() {
        let text = r#"{"language":"python","files":[{"path":"main.py","content":"print(1)"},{"path":"a.bin","content":"AAE=","encoding":"base64"}],"args":["x"],"interactive":true,"limits":{"wallTimeMs":1000}}"#;
        let p: RunParams = serde_json::from_str(text).unwrap();
        assert_eq!(p.files[1].encoding, Some(Encoding::Base64));
        assert_eq!(serde_json::to_string(&p).unwrap(), text);
    }

    #[test]
    fn result_keeps_null_exit_code_and_signal() {
        let r = RunResult {
            status: RunStatus::Signal,
            exit_code: None,
            signal: Some("SIGSEGV".into()),
            stages: vec![StageResult {
                name: StageName::Run,
                status: RunStatus::Signal,
                exit_code: None,
                signal: Some("SIGSEGV".into()),
                wall_time_ms: 3,
                cpu_time_ms: 1,
                memory_bytes: 4096,
            }],
            output_truncated: false,
            queued_ms: 0,
            wall_time_ms: 5,
            output: None,
            diagnostics: None,
        };
        let text = serde_json::to_string(&r).unwrap();
        assert_eq!(
            text,
            r#"{"status":"signal","exitCode":null,"signal":"SIGSEGV","stages":[{"name":"run","status":"signal","exitCode":null,"signal":"SIGSEGV","wallTimeMs":3,"cpuTimeMs":1,"memoryBytes":4096}],"outputTruncated":false,"queuedMs":0,"wallTimeMs":5}"#
        );
        assert_eq!(serde_json::from_str::<RunResult>(&text).unwrap(), r);
    }

    #[test]
    fn statuses_are_camel_case() {
        let all = [
            (RunStatus::Exited, "exited"),
            (RunStatus::BuildFailed, "buildFailed"),
            (RunStatus::Timeout, "timeout"),
            (RunStatus::CpuTime, "cpuTime"),
            (RunStatus::Memory, "memory"),
            (RunStatus::OutputLimit, "outputLimit"),
            (RunStatus::Signal, "signal"),
            (RunStatus::Cancelled, "cancelled"),
        ];
        for (s, name) in all {
            assert_eq!(serde_json::to_value(s).unwrap(), serde_json::json!(name));
        }
    }
}
