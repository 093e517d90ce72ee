//! What every connection shares: configuration, catalog, scheduler, the
//! sandbox backend, the connection cap and the shutdown signals.

use std::sync::Arc;

use tokio::sync::Semaphore;
use tokio_util::{sync::CancellationToken, task::TaskTracker};

use crate::{catalog::Catalog, config::Config, job::driver::JobContext, scheduler::Scheduler};

/// The server's shared state.
pub struct AppState {
    pub config: Config,
    pub catalog: Catalog,
    pub scheduler: Scheduler,
    pub jobs: JobContext,
    /// One permit per open connection (WebSocket or HTTP one-shot).
    pub connections: Arc<Semaphore>,
    pub shutdown: Shutdown,
    /// Every session task, so that shutdown can wait for them.
    pub sessions: TaskTracker,
    /// Feature names for `initialize`.
    pub features: Vec<String>,
    /// Origins allowed to open `/rpc` from a browser.
    pub allowed_origins: Vec<String>,
}

/// The two phases of a graceful shutdown.
#[derive(Clone, Default)]
pub struct Shutdown {
    /// Fired first: stop taking new jobs, let running ones finish.
    pub stopping: CancellationToken,
    /// Fired after the grace period: cancel every job still running.
    pub cancel_jobs: CancellationToken,
}

impl AppState {
    pub fn new(
        config: Config,
        catalog: Catalog,
        jobs: JobContext,
        features: Vec<String>,
        allowed_origins: Vec<String>,
    ) -> Arc<AppState> {
        let scheduler =
            Scheduler::new(config.run_slots(), config.scheduler.queue_length, config.scheduler.retry_after_ms);
        Arc::new(AppState {
            connections: Arc::new(Semaphore::new(config.connection.max_connections)),
            config,
            catalog,
            scheduler,
            jobs,
            shutdown: Shutdown::default(),
            sessions: TaskTracker::new(),
            features,
            allowed_origins,
        })
    }

    /// A new job id, never reused while this server runs.
    /// Shared with the sandboxes, so that a job and the sandbox started for
    /// it may have the same number in the logs.
    pub fn next_job_id(&self) -> u64 {
        self.jobs.pool.next_id()
    }
}
