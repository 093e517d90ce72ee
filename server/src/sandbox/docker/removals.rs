//! Removing containers: each one a job is done with, in the background,
//! and at startup every one a crashed run of this instance left behind.
//!
//! A drop cannot wait, so [`Removals::remove`] spawns the engine call and
//! counts it; [`Removals::drain`] lets the server's shutdown wait until the
//! count is back to zero, so that a server that exits cleanly leaves no
//! container. Each removal is a force-remove (SIGKILL to every process,
//! then delete) with the API timeout; "no such container" and "removal
//! already in progress" (the container's own `AutoRemove`) are success.

use std::{
    collections::HashMap,
    sync::{
        atomic::{AtomicUsize, Ordering},
        Arc,
    },
    time::Duration,
};

use bollard::{
    query_parameters::{ListContainersOptionsBuilder, RemoveContainerOptionsBuilder},
    Docker,
};
use tokio::sync::Notify;

use super::container::INSTANCE_LABEL;
use crate::{config::DockerConfig, sandbox::JobId};

/// Removals in flight, shared by every control of one backend.
#[derive(Clone)]
pub struct Removals {
    docker: Docker,
    config: Arc<DockerConfig>,
    pending: Arc<(AtomicUsize, Notify)>,
}

impl Removals {
    pub fn new(docker: Docker, config: Arc<DockerConfig>) -> Removals {
        Removals { docker, config, pending: Arc::new((AtomicUsize::new(0), Notify::new())) }
    }

    /// Removes a container in the background.
    pub fn remove(&self, id: String, job: JobId) {
        if id.is_empty() {
            return;
        }
        let Ok(rt) = tokio::runtime::Handle::try_current() else {
            // No runtime left (the process is exiting): the container's
            // runner sees its stdin close and the engine removes it.
            return;
        };
        self.pending.0.fetch_add(1, Ordering::SeqCst);
        let this = self.clone();
        rt.spawn(async move {
            this.remove_now(&id, job).await;
            if this.pending.0.fetch_sub(1, Ordering::SeqCst) == 1 {
                this.pending.1.notify_waiters();
            }
        });
    }

    /// Runs `work` in a task of its own that [`Removals::drain`] waits for:
    /// work that may leave a container to remove (creating one).
    pub fn spawn_tracked(&self, work: impl std::future::Future<Output = ()> + Send + 'static) {
        self.pending.0.fetch_add(1, Ordering::SeqCst);
        let this = self.clone();
        tokio::spawn(async move {
            work.await;
            if this.pending.0.fetch_sub(1, Ordering::SeqCst) == 1 {
                this.pending.1.notify_waiters();
            }
        });
    }

    async fn remove_now(&self, id: &str, job: JobId) {
        let options = RemoveContainerOptionsBuilder::default().force(true).v(true).build();
        let api = Duration::from_millis(self.config.api_timeout_ms);
        match tokio::time::timeout(api, self.docker.remove_container(id, Some(options))).await {
            Ok(Ok(())) => tracing::debug!(job, container = id, "container removed"),
            Ok(Err(bollard::errors::Error::DockerResponseServerError { status_code: 404 | 409, .. })) => {
                tracing::debug!(job, container = id, "container already gone")
            }
            Ok(Err(e)) => {
                tracing::error!(job, container = id, error = %e, "failed to remove a container")
            }
            Err(_) => tracing::error!(job, container = id, "the engine did not remove a container in time"),
        }
    }

    /// Waits until no removal is in flight, for at most `limit`.
    pub async fn drain(&self, limit: Duration) {
        let wait = async {
            loop {
                let notified = self.pending.1.notified();
                if self.pending.0.load(Ordering::SeqCst) == 0 {
                    return;
                }
                notified.await;
            }
        };
        if tokio::time::timeout(limit, wait).await.is_err() {
            tracing::warn!(left = self.pending.0.load(Ordering::SeqCst), "container removals did not finish in time");
        }
    }

    /// Removes every container labelled with this instance: what a run
    /// that crashed left behind. Called once, before the pool fills.
    pub async fn sweep(&self) {
        let label = format!("{INSTANCE_LABEL}={}", self.config.instance);
        let filters = HashMap::from([("label", vec![label.as_str()])]);
        let options = ListContainersOptionsBuilder::default().all(true).filters(&filters).build();
        let api = Duration::from_millis(self.config.api_timeout_ms);
        let found = match tokio::time::timeout(api, self.docker.list_containers(Some(options))).await {
            Ok(Ok(found)) => found,
            Ok(Err(e)) => return tracing::error!(error = %e, "failed to list leftover containers"),
            Err(_) => return tracing::error!("the engine did not list leftover containers in time"),
        };
        if found.is_empty() {
            return;
        }
        tracing::info!(count = found.len(), instance = %self.config.instance, "removing containers a previous run left behind");
        let removals = found.into_iter().filter_map(|c| c.id).map(|id| async move { self.remove_now(&id, 0).await });
        futures_util::future::join_all(removals).await;
    }
}
