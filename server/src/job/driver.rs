//! The job driver: one task per job, from queue to result.
//!
//! It waits for a run slot (reporting queue positions), starts a sandbox,
//! writes the files, runs the build stage if the language has one and then
//! the run stage, and sends [`JobEvent`]s to its connection as they happen.
//! Each stage is one `select!` loop over a closed [`Event`] enum: a frame
//! from the runner, a chunk of stdin from the client, the cancel signal, or
//! the host's deadline. A stage's output goes through a [`StageOutput`],
//! which decodes it and reads it for diagnostics on the way.
//!
//! Cancellation is structural. An explicit cancel (`$/cancelRequest`) is an
//! event: the driver asks the runner to kill the stage and answers
//! `cancelled` with what it measured. A disconnect or shutdown aborts the
//! driver's task instead; the [`Sandbox`] and [`Slot`] it owns are dropped,
//! which kills every process of the job and frees the slot.

use std::time::{Duration, Instant};

use coderun_runner::wire::{self, HostMsg, OutputStream, RunnerMsg};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use super::{
    diagnostics::{self, StageParser},
    outcome::oom_between,
    stage_output::StageOutput,
    JobEvent, JobFile, JobLimits, JobOutcome, JobSpec, JobState, OutStream, StageKind, StageOutcome, StdinChunk,
    StdinSource,
};
use crate::{
    catalog::{expand, Placeholders},
    sandbox::{HostLimits, PoolKey, Sandbox, SandboxError, WarmPool},
    scheduler::{Ticket, TicketEvent},
};

/// What a driver needs from the server, shared by all jobs.
pub struct JobContext {
    /// Hands out sandboxes, started ahead of time where it can.
    pub pool: WarmPool,
    /// The uid/gid stages run as inside the sandbox, when the backend has one.
    pub stage_user: Option<(u32, u32)>,
    /// How long the runner may take to write the files.
    pub files_timeout: Duration,
    /// How long past a stage's wall-time limit the server waits for the
    /// runner's report before it gives up on the sandbox.
    pub runner_grace: Duration,
    /// The run stage's host limits when a job sets none: the pool keeps
    /// its sandboxes started with these (or the build's).
    pub run_defaults: HostLimits,
    /// What a stage's diagnostics parser may hold and send.
    pub diagnostics: diagnostics::Caps,
}

/// The limits a sandbox for a job starts with: its first stage's, or,
/// where limits are fixed once it runs (gVisor), the largest of its
/// stages' (the runner's rlimits still apply per stage).
pub fn start_limits(compiled: bool, fixed: bool, build: HostLimits, run: HostLimits) -> HostLimits {
    match (compiled, fixed) {
        (false, _) => run,
        (true, false) => build,
        (true, true) => build.max(run),
    }
}

/// The channels between a driver and its connection.
pub struct JobIo {
    pub events: mpsc::Sender<JobEvent>,
    pub stdin: super::stdin::StdinReceiver,
    pub cancel: CancellationToken,
}

/// Why a job could not be carried out. A program that fails is not an
/// error; these are the server's own failures.
#[derive(Debug, thiserror::Error)]
pub enum JobError {
    #[error("failed to start a sandbox")]
    Sandbox(#[from] SandboxError),
    #[error("the sandbox's runner failed: {0}")]
    Runner(String),
    #[error("the sandbox's runner did not answer in time")]
    RunnerTimeout,
}

impl JobError {
    /// What the client is told: enough to act on (a missing image, an
    /// engine that went away), never a host path or an internal detail.
    pub fn public_message(&self) -> String {
        match self {
            JobError::Sandbox(SandboxError::Docker(e)) => {
                format!("internal error: {}", e.public_message())
            }
            JobError::Sandbox(_) => "internal error: the server could not start a sandbox for the job".to_owned(),
            JobError::Runner(_) => "internal error: the job's sandbox ended unexpectedly".to_owned(),
            JobError::RunnerTimeout => "internal error: the job's sandbox stopped answering".to_owned(),
        }
    }
}

/// Runs one job to its end.
pub async fn run(
    mut spec: JobSpec,
    mut ticket: Ticket,
    ctx: &JobContext,
    mut io: JobIo,
) -> Result<JobOutcome, JobError> {
    let enqueued = Instant::now();
    let position = ticket.initial_position();
    if position > 0 {
        emit(&io, JobEvent::State(JobState::Queued { position })).await;
    }
    let _slot = loop {
        tokio::select! {
            ev = ticket.wait() => match ev {
                TicketEvent::Granted(slot) => break slot,
                TicketEvent::Position(position) => emit(&io, JobEvent::State(JobState::Queued { position })).await,
            },
            _ = io.cancel.cancelled() => return Ok(JobOutcome::cancelled_early(enqueued.elapsed(), Duration::ZERO)),
        }
    };
    let queued = enqueued.elapsed();
    let started = Instant::now();
    emit(&io, JobEvent::State(JobState::Starting)).await;

    let shape = ctx.pool.backend().shape(&spec.language);
    let limits_fixed = shape.limits_fixed();
    let (compiled, build) = (spec.language.compiled(), host_limits(&spec.build_limits));
    let key = PoolKey { limits: start_limits(compiled, limits_fixed, build, ctx.run_defaults), shape };
    let mut sandbox = tokio::select! {
        s = ctx.pool.acquire(&key, start_limits(compiled, limits_fixed, build, host_limits(&spec.limits))) => s?.0,
        _ = io.cancel.cancelled() => return Ok(JobOutcome::cancelled_early(queued, started.elapsed())),
    };
    // The files go to the runner; the driver keeps only what the commands
    // name of them, and what the diagnostics parsers read of them.
    let sources = spec.language.sources(spec.files.iter().map(|f| f.path.as_str()));
    let file_texts = diagnostics::sources_for(&spec.language, &spec.files);
    write_files(&mut sandbox, std::mem::take(&mut spec.files), ctx.files_timeout).await?;

    let mut stages = Vec::new();
    if let Some(build) = &spec.language.def.build {
        emit(&io, JobEvent::State(JobState::Building)).await;
        let argv = expand(
            build,
            &Placeholders {
                entry: spec.entry.clone(),
                sources: sources.clone(),
                args: Vec::new(),
                memory_bytes: spec.build_limits.memory_bytes,
            },
        );
        let parser = StageParser::for_command(&argv, None, file_texts.clone(), ctx.diagnostics);
        let stage = stage_spec(&spec, ctx, argv, wire::StdinMode::Bytes(Vec::new()), &spec.build_limits);
        let outcome =
            run_stage(&mut sandbox, StageKind::Build, stage, &spec.build_limits, ctx, &mut io, parser).await?;
        let ok = outcome.succeeded();
        stages.push(outcome);
        if !ok {
            return Ok(JobOutcome::from_stages(stages, queued, started.elapsed()));
        }
        if !limits_fixed && host_limits(&spec.build_limits) != host_limits(&spec.limits) {
            sandbox.control.set_limits(host_limits(&spec.limits)).await?;
        }
    }

    emit(&io, JobEvent::State(JobState::Running)).await;
    let argv = expand(
        &spec.language.def.run,
        &Placeholders {
            entry: spec.entry.clone(),
            sources,
            args: std::mem::take(&mut spec.args),
            memory_bytes: spec.limits.memory_bytes,
        },
    );
    let stdin_mode = match &mut spec.stdin {
        StdinSource::Fixed(bytes) => wire::StdinMode::Bytes(std::mem::take(bytes)),
        StdinSource::Interactive => wire::StdinMode::Interactive,
    };
    let parser = StageParser::for_command(&argv, spec.language.def.build.as_deref(), file_texts, ctx.diagnostics);
    let stage = stage_spec(&spec, ctx, argv, stdin_mode, &spec.limits);
    let outcome = run_stage(&mut sandbox, StageKind::Run, stage, &spec.limits, ctx, &mut io, parser).await?;
    stages.push(outcome);
    Ok(JobOutcome::from_stages(stages, queued, started.elapsed()))
}

fn host_limits(l: &JobLimits) -> HostLimits {
    HostLimits { memory_bytes: l.memory_bytes, processes: l.processes }
}

fn stage_spec(
    spec: &JobSpec,
    ctx: &JobContext,
    argv: Vec<String>,
    stdin: wire::StdinMode,
    l: &JobLimits,
) -> wire::StageSpec {
    wire::StageSpec {
        argv,
        env: spec.language.env.clone(),
        cwd: ".".into(),
        stdin,
        limits: wire::StageLimits {
            wall_time_ms: l.wall_time.as_millis() as u64,
            cpu_time_ms: l.cpu_time.as_millis() as u64,
            output_bytes: l.output_bytes,
            file_size_bytes: l.file_size_bytes,
            open_files: l.open_files,
            // RLIMIT_NPROC counts per host uid: only meaningful when the
            // stage has a uid of its own.
            processes: ctx.stage_user.map(|_| l.processes),
        },
        user: ctx.stage_user,
    }
}

async fn emit(io: &JobIo, event: JobEvent) {
    // A closed channel means the connection is gone; its drop of this
    // task's handle will end us shortly.
    let _ = io.events.send(event).await;
}

async fn write_files(sandbox: &mut Sandbox, files: Vec<JobFile>, timeout: Duration) -> Result<(), JobError> {
    let files = files.into_iter().map(|f| wire::File { path: f.path, content: f.content, executable: false }).collect();
    sandbox.link.send(HostMsg::WriteFiles(files)).await.map_err(|e| JobError::Runner(e.to_string()))?;
    match tokio::time::timeout(timeout, sandbox.link.recv()).await {
        Err(_) => Err(JobError::RunnerTimeout),
        Ok(Some(Ok(RunnerMsg::FilesWritten))) => Ok(()),
        Ok(Some(Ok(RunnerMsg::Error { message }))) => Err(JobError::Runner(message)),
        Ok(Some(Ok(other))) => Err(JobError::Runner(format!("unexpected {other:?}"))),
        Ok(Some(Err(e))) => Err(JobError::Runner(e.to_string())),
        Ok(None) => Err(JobError::Runner("the runner exited".into())),
    }
}

/// Everything a stage's loop reacts to.
enum Event {
    Runner(Option<Result<RunnerMsg, wire::WireError>>),
    Stdin(Option<StdinChunk>),
    Cancel,
    Deadline,
}

async fn run_stage(
    sandbox: &mut Sandbox,
    kind: StageKind,
    stage: wire::StageSpec,
    limits: &JobLimits,
    ctx: &JobContext,
    io: &mut JobIo,
    diagnostics: Option<StageParser>,
) -> Result<StageOutcome, JobError> {
    let before = sandbox.control.usage();
    let mut stdin_open = matches!(stage.stdin, wire::StdinMode::Interactive);
    sandbox.link.send(HostMsg::Stage(stage)).await.map_err(|e| JobError::Runner(e.to_string()))?;
    let deadline = tokio::time::sleep(limits.wall_time + ctx.runner_grace);
    tokio::pin!(deadline);
    let mut output = StageOutput::new(diagnostics);
    let mut cancel_sent = false;
    loop {
        let event = tokio::select! {
            msg = sandbox.link.recv() => Event::Runner(msg),
            chunk = io.stdin.recv(), if stdin_open => Event::Stdin(chunk),
            _ = io.cancel.cancelled(), if !cancel_sent => Event::Cancel,
            _ = &mut deadline => Event::Deadline,
        };
        match event {
            Event::Runner(Some(Ok(RunnerMsg::StageStarted))) => {}
            Event::Runner(Some(Ok(RunnerMsg::Output { stream, bytes }))) => {
                let stream = match stream {
                    OutputStream::Stdout => OutStream::Stdout,
                    OutputStream::Stderr => OutStream::Stderr,
                };
                for event in output.push(stream, &bytes) {
                    emit(io, event).await;
                }
            }
            Event::Runner(Some(Ok(RunnerMsg::StageExit(report)))) => {
                for event in output.finish() {
                    emit(io, event).await;
                }
                let after = sandbox.control.usage();
                // The host's cgroup count (native) or the runner's own (a container).
                let oom = oom_between(before, after) || report.oom_kills.is_some_and(|n| n > 0);
                return Ok(StageOutcome::classify(kind, &report, oom, limits.cpu_time));
            }
            Event::Runner(Some(Ok(RunnerMsg::Error { message }))) => return Err(JobError::Runner(message)),
            Event::Runner(Some(Ok(other))) => return Err(JobError::Runner(format!("unexpected {other:?}"))),
            Event::Runner(Some(Err(e))) => return Err(JobError::Runner(e.to_string())),
            Event::Runner(None) => return Err(JobError::Runner("the runner exited during a stage".into())),
            Event::Stdin(Some(StdinChunk::Data(bytes))) => {
                // A runner that is gone shows up as `Runner(None)` next.
                let _ = sandbox.link.send(HostMsg::Stdin(bytes)).await;
            }
            Event::Stdin(Some(StdinChunk::Eof)) | Event::Stdin(None) => {
                stdin_open = false;
                let _ = sandbox.link.send(HostMsg::StdinEof).await;
            }
            Event::Cancel => {
                cancel_sent = true;
                let _ = sandbox.link.send(HostMsg::Kill).await;
                // The runner answers with StageExit(killed: Host); give it
                // the grace period, not the whole wall time.
                deadline.as_mut().reset(tokio::time::Instant::now() + ctx.runner_grace);
            }
            Event::Deadline => return Err(JobError::RunnerTimeout),
        }
    }
}
