//! Conversions between wire types and domain types, at the handlers'
//! edge: a `run` request becomes a [`JobSpec`] (validated), and a job's
//! events and outcome become notifications and a result.

use std::{sync::Arc, time::Duration};

use base64::Engine;
use coderun_protocol as p;

use super::errors::RpcError;
use crate::{
    catalog::Catalog,
    config::Config,
    job::{
        files, Diagnostic, JobEvent, JobFile, JobLimits, JobOutcome, JobSpec, JobState, OutStream, Severity, StageKind,
        Status, StdinSource,
    },
};

/// Validates a `run` request and turns it into a job.
///
/// Checks, in order: the language, the limits, the files, the entry.
pub fn job_spec(params: p::RunParams, catalog: &Catalog, config: &Config) -> Result<JobSpec, RpcError> {
    let language = catalog.get(&params.language).ok_or_else(|| RpcError::UnknownLanguage(params.language.clone()))?;
    let limits = merge_limits(params.limits.unwrap_or_default(), &config.limits.defaults, &config.limits.maximums)?;
    let mut job_files = Vec::with_capacity(params.files.len());
    for f in params.files {
        files::check_path(&f.path, &config.files)?;
        let content = match f.encoding.unwrap_or_default() {
            p::Encoding::Utf8 => f.content.into_bytes(),
            p::Encoding::Base64 => base64::engine::general_purpose::STANDARD
                .decode(f.content.as_bytes())
                .map_err(|_| files::FileError::Base64(f.path.clone()))?,
        };
        job_files.push(JobFile { path: f.path, content });
    }
    files::check_set(&job_files, &config.files)?;
    let entry = params.entry.unwrap_or_else(|| language.def.entry.clone());
    if !job_files.iter().any(|f| f.path == entry) {
        return Err(RpcError::InvalidParams(format!("entry: {entry:?} is not one of the files")));
    }
    let stdin = match (params.interactive.unwrap_or(false), params.stdin) {
        (true, Some(_)) => {
            return Err(RpcError::InvalidParams("stdin: an interactive job takes stdin from job/stdin".into()))
        }
        (true, None) => StdinSource::Interactive,
        (false, s) => StdinSource::Fixed(s.unwrap_or_default().into_bytes()),
    };
    Ok(JobSpec {
        language: Arc::clone(&language),
        files: job_files,
        entry,
        args: params.args.unwrap_or_default(),
        stdin,
        limits,
        build_limits: job_limits(&config.limits.build),
    })
}

/// Fills the limits a request leaves out from the defaults, refusing any
/// above its maximum.
pub fn merge_limits(req: p::PartialLimits, defaults: &p::Limits, max: &p::Limits) -> Result<JobLimits, RpcError> {
    let mut merged = *defaults;
    let targets: [&mut u64; 7] = [
        &mut merged.wall_time_ms,
        &mut merged.cpu_time_ms,
        &mut merged.memory_bytes,
        &mut merged.processes,
        &mut merged.output_bytes,
        &mut merged.file_size_bytes,
        &mut merged.open_files,
    ];
    for ((target, (name, requested)), (_, maximum)) in targets.into_iter().zip(req.fields()).zip(max.fields()) {
        if let Some(v) = requested {
            if v > maximum {
                return Err(RpcError::LimitExceeded { limit: name, requested: v, maximum });
            }
            if v == 0 {
                return Err(RpcError::InvalidParams(format!("limits.{name}: must be at least 1")));
            }
            *target = v;
        }
    }
    Ok(job_limits(&merged))
}

fn job_limits(l: &p::Limits) -> JobLimits {
    JobLimits {
        wall_time: Duration::from_millis(l.wall_time_ms),
        cpu_time: Duration::from_millis(l.cpu_time_ms),
        memory_bytes: l.memory_bytes,
        processes: l.processes,
        output_bytes: l.output_bytes,
        file_size_bytes: l.file_size_bytes,
        open_files: l.open_files,
    }
}

/// A job event as the notification that carries it.
pub fn notification(job: &p::RequestId, event: JobEvent) -> p::Notification {
    use p::methods::{JobDiagnostics, JobOutput, JobStatus, Notification as _};
    match event {
        JobEvent::State(state) => {
            let (state, position) = match state {
                JobState::Queued { position } => (p::JobState::Queued, Some(position)),
                JobState::Starting => (p::JobState::Starting, None),
                JobState::Building => (p::JobState::Building, None),
                JobState::Running => (p::JobState::Running, None),
            };
            p::Notification::new(JobStatus::METHOD, p::JobStatusParams { job: job.clone(), state, position })
        }
        JobEvent::Output(stream, text) => p::Notification::new(
            JobOutput::METHOD,
            p::JobOutputParams { job: job.clone(), stream: stream_wire(stream), text },
        ),
        JobEvent::Diagnostics(ds) => p::Notification::new(
            JobDiagnostics::METHOD,
            p::JobDiagnosticsParams { job: job.clone(), diagnostics: ds.into_iter().map(diagnostic).collect() },
        ),
    }
}

pub fn stream_wire(s: OutStream) -> p::Stream {
    match s {
        OutStream::Stdout => p::Stream::Stdout,
        OutStream::Stderr => p::Stream::Stderr,
    }
}

pub fn diagnostic(d: Diagnostic) -> p::Diagnostic {
    let pos = |(line, character)| p::Position { line, character };
    p::Diagnostic {
        file: d.file,
        range: p::Range { start: pos(d.start), end: pos(d.end) },
        severity: match d.severity {
            Severity::Error => p::DiagnosticSeverity::Error,
            Severity::Warning => p::DiagnosticSeverity::Warning,
            Severity::Information => p::DiagnosticSeverity::Information,
            Severity::Hint => p::DiagnosticSeverity::Hint,
        },
        message: d.message,
        code: d.code,
        source: d.source,
    }
}

fn status(s: Status) -> p::RunStatus {
    match s {
        Status::Exited => p::RunStatus::Exited,
        Status::BuildFailed => p::RunStatus::BuildFailed,
        Status::Timeout => p::RunStatus::Timeout,
        Status::CpuTime => p::RunStatus::CpuTime,
        Status::Memory => p::RunStatus::Memory,
        Status::OutputLimit => p::RunStatus::OutputLimit,
        Status::Signal => p::RunStatus::Signal,
        Status::Cancelled => p::RunStatus::Cancelled,
    }
}

/// A job's outcome as `run`'s result.
pub fn run_result(o: JobOutcome) -> p::RunResult {
    p::RunResult {
        status: status(o.status),
        exit_code: o.exit_code,
        signal: o.signal,
        stages: o
            .stages
            .into_iter()
            .map(|s| p::StageResult {
                name: match s.kind {
                    StageKind::Build => p::StageName::Build,
                    StageKind::Run => p::StageName::Run,
                },
                status: status(s.status),
                exit_code: s.exit_code,
                signal: s.signal,
                wall_time_ms: s.wall_time.as_millis() as u64,
                cpu_time_ms: s.cpu_time.as_millis() as u64,
                memory_bytes: s.memory_bytes,
            })
            .collect(),
        output_truncated: o.output_truncated,
        queued_ms: o.queued.as_millis() as u64,
        wall_time_ms: o.wall_time.as_millis() as u64,
        output: None,
        diagnostics: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requested_limits_override_defaults_within_maximums() {
        let c = Config::default();
        let req = p::PartialLimits { wall_time_ms: Some(2_000), ..Default::default() };
        let l = merge_limits(req, &c.limits.defaults, &c.limits.maximums).unwrap();
        assert_eq!(l.wall_time, Duration::from_secs(2));
        assert_eq!(l.memory_bytes, c.limits.defaults.memory_bytes);
    }

    #[test]
    fn a_limit_above_its_maximum_names_it() {
        let c = Config::default();
        let req = p::PartialLimits { memory_bytes: Some(u64::MAX), ..Default::default() };
        match merge_limits(req, &c.limits.defaults, &c.limits.maximums) {
            Err(RpcError::LimitExceeded { limit, .. }) => assert_eq!(limit, "memoryBytes"),
            other => panic!("{other:?}"),
        }
    }
}
