//! Jobs: what the scheduler and sandboxes work on.
//!
//! These are domain types, not wire types: the RPC handlers convert a
//! `run` request into a [`JobSpec`] (validating as they go), and convert a
//! job's [`JobEvent`]s and [`JobOutcome`] back into notifications and a
//! result. The job driver ([`driver`]) never sees serde types.

pub mod diagnostics;
pub mod driver;
pub mod files;
pub mod outcome;
pub mod stage_output;
pub mod stdin;
pub mod utf8;

use std::{sync::Arc, time::Duration};

use crate::catalog::Language;
pub use files::JobFile;
pub use outcome::{JobOutcome, StageKind, StageOutcome, Status};

/// Everything needed to run one job.
#[derive(Debug, Clone)]
pub struct JobSpec {
    pub language: Arc<Language>,
    pub files: Vec<JobFile>,
    /// The entry file, one of `files`.
    pub entry: String,
    pub args: Vec<String>,
    pub stdin: StdinSource,
    /// Limits of the run stage.
    pub limits: JobLimits,
    /// Limits of the build stage, if the language has one.
    pub build_limits: JobLimits,
}

/// Where the program's stdin comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StdinSource {
    /// These bytes, then end of file.
    Fixed(Vec<u8>),
    /// Chunks sent while the job runs.
    Interactive,
}

/// A chunk of interactive stdin.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StdinChunk {
    Data(Vec<u8>),
    Eof,
}

/// The limits of one stage.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct JobLimits {
    pub wall_time: Duration,
    pub cpu_time: Duration,
    pub memory_bytes: u64,
    pub processes: u64,
    pub output_bytes: u64,
    pub file_size_bytes: u64,
    pub open_files: u64,
}

/// Where a job is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JobState {
    /// Waiting; 1 is next.
    Queued {
        position: u32,
    },
    Starting,
    Building,
    Running,
}

/// Which stream output came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OutStream {
    Stdout,
    Stderr,
}

/// A diagnostic about the student's files, found by [`diagnostics`] in a
/// stage's output.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Diagnostic {
    /// The job's path of the file, exactly as the `run` request gave it.
    pub file: String,
    /// 0-based (line, character) of the start and the exclusive end, with
    /// characters counted in UTF-16 code units as the protocol does.
    pub start: (u32, u32),
    pub end: (u32, u32),
    pub severity: Severity,
    pub message: String,
    pub code: Option<String>,
    pub source: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Severity {
    Error,
    Warning,
    Information,
    Hint,
}

/// What a running job tells its client, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum JobEvent {
    State(JobState),
    Output(OutStream, String),
    Diagnostics(Vec<Diagnostic>),
}
