//! Starting a job for a request: the task that runs the driver and forwards
//! its events, tagged with the request's id, to the connection.
//!
//! The task is owned through a [`RunningJob`]: dropping it aborts the task,
//! which drops the driver, its sandbox and its slot. A connection that goes
//! away drops all of its `RunningJob`s, and so every job of it ends.

use std::sync::Arc;

use coderun_protocol::RequestId;
use tokio::sync::mpsc;
use tokio_util::{sync::CancellationToken, task::AbortOnDropHandle};
use tracing::Instrument;

use super::errors::RpcError;
use crate::{
    job::{
        driver::{self, JobIo},
        stdin::{self, StdinSender},
        JobEvent, JobOutcome, JobSpec, StdinSource,
    },
    scheduler::Ticket,
    state::AppState,
};

/// A message from a job task to its connection.
pub struct JobMsg {
    pub id: RequestId,
    pub kind: JobMsgKind,
}

pub enum JobMsgKind {
    Event(JobEvent),
    /// The last message of a job.
    Done(Result<JobOutcome, RpcError>),
}

/// A job in flight, as its connection holds it.
pub struct RunningJob {
    /// Present for interactive jobs.
    pub stdin: Option<StdinSender>,
    pub cancel: CancellationToken,
    _task: AbortOnDropHandle<()>,
}

/// Events a job may queue between its driver and its forwarder.
const JOB_EVENT_CAPACITY: usize = 64;

/// Starts the job's task.
pub fn spawn(
    state: Arc<AppState>,
    id: RequestId,
    spec: JobSpec,
    ticket: Ticket,
    out: mpsc::Sender<JobMsg>,
) -> RunningJob {
    let job = state.next_job_id();
    let interactive = spec.stdin == StdinSource::Interactive;
    let (stdin_tx, stdin_rx) = stdin::channel(state.config.connection.stdin_buffer_bytes);
    let cancel = state.shutdown.cancel_jobs.child_token();
    let io_cancel = cancel.clone();
    let span = tracing::info_span!("job", job, request = %id, language = %spec.language.id());
    let task = tokio::spawn(
        async move {
            tracing::info!("job accepted");
            let (events_tx, mut events_rx) = mpsc::channel(JOB_EVENT_CAPACITY);
            let io = JobIo { events: events_tx, stdin: stdin_rx, cancel: io_cancel };
            let run = driver::run(spec, ticket, &state.jobs, io);
            tokio::pin!(run);
            let result = loop {
                tokio::select! {
                    biased;
                    Some(event) = events_rx.recv() => {
                        let _ = out.send(JobMsg { id: id.clone(), kind: JobMsgKind::Event(event) }).await;
                    }
                    result = &mut run => break result,
                }
            };
            // The driver has finished: whatever it queued goes out before
            // the result.
            while let Ok(event) = events_rx.try_recv() {
                let _ = out.send(JobMsg { id: id.clone(), kind: JobMsgKind::Event(event) }).await;
            }
            match &result {
                Ok(o) => tracing::info!(status = ?o.status, exit = ?o.exit_code, wall_ms = o.wall_time.as_millis() as u64, "job finished"),
                Err(e) => tracing::error!(error = %e, "job failed"),
            }
            let _ = out.send(JobMsg { id, kind: JobMsgKind::Done(result.map_err(RpcError::from)) }).await;
        }
        .instrument(span),
    );
    RunningJob { stdin: interactive.then_some(stdin_tx), cancel, _task: AbortOnDropHandle::new(task) }
}
