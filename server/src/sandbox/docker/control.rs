//! The host's handle on one job's container: its limits between stages,
//! and its removal when the job is over.
//!
//! Dropping a [`DockerControl`] hands the container to [`Removals`], which
//! force-removes it (killing every process in it) in the background; the
//! server's shutdown waits for those removals. The container also removes
//! itself once its runner exits (`AutoRemove`), which covers a server that
//! dies before it can ask.

use std::{sync::Arc, time::Duration};

use bollard::{models::ContainerUpdateBody, Docker};

use super::{container, removals::Removals, DockerError};
use crate::{
    config::DockerConfig,
    sandbox::{HostLimits, JobId, SandboxError},
};

/// The host's handle on one container; dropping it removes the container.
pub struct DockerControl {
    id: String,
    job: JobId,
    limits: HostLimits,
    docker: Docker,
    config: Arc<DockerConfig>,
    removals: Removals,
}

impl DockerControl {
    pub(super) fn new(
        id: String,
        job: JobId,
        limits: HostLimits,
        docker: Docker,
        config: Arc<DockerConfig>,
        removals: Removals,
    ) -> DockerControl {
        DockerControl { id, job, limits, docker, config, removals }
    }

    /// The container's id.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// Sets the container's memory (swap included) and pids limits for the
    /// next stage. A no-op when they are already in force.
    pub async fn set_limits(&mut self, limits: HostLimits) -> Result<(), SandboxError> {
        if limits == self.limits {
            return Ok(());
        }
        let memory = i64::try_from(limits.memory_bytes).unwrap_or(i64::MAX);
        let body = ContainerUpdateBody {
            memory: Some(memory),
            memory_swap: Some(memory),
            pids_limit: Some(container::pids_limit(&self.config, limits)),
            ..Default::default()
        };
        let api = Duration::from_millis(self.config.api_timeout_ms);
        tokio::time::timeout(api, self.docker.update_container(&self.id, body))
            .await
            .map_err(|_| DockerError::Timeout("update a container's limits"))?
            .map_err(|source| DockerError::Engine { what: "update a container's limits", source })?;
        self.limits = limits;
        Ok(())
    }
}

impl Drop for DockerControl {
    fn drop(&mut self) {
        self.removals.remove(std::mem::take(&mut self.id), self.job);
    }
}
