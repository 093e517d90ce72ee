//! Sandboxes: where a job's runner lives, and how the server controls it.
//!
//! A backend starts a [`Sandbox`] for one job. The sandbox holds a
//! [`RunnerLink`] to the `coderun-runner` process inside it and a
//! [`Control`] for what only the host can do: set the memory and process
//! limits of the next stage, read whether the kernel's OOM killer struck.
//! What a sandbox looks like before a job enters it (its mounts, its image)
//! is its [`SandboxShape`]; the warm pool keeps idle sandboxes per shape.
//!
//! Invariant: dropping a `Sandbox` kills every process in it and removes
//! every trace of it (cgroups, mounts, files). Cancellation, disconnects,
//! panics and shutdown all end in that drop; nothing polls a flag.
//!
//! Backends and controls are enums rather than trait objects because
//! `start` and `set_limits` are async and there are few of them; a new
//! backend is a new variant of each.

pub mod docker;
pub mod native;
pub mod pool;
pub mod runner_link;

use std::path::PathBuf;

pub use pool::{PoolKey, PoolSettings, PoolStats, WarmPool};
pub use runner_link::RunnerLink;

/// A unique, never reused number for each job, used in cgroup names,
/// labels and logs.
pub type JobId = u64;

/// What a backend needs to know to start a sandbox for one job.
#[derive(Debug, Clone)]
pub struct SandboxSpec {
    pub job: JobId,
    pub shape: SandboxShape,
    /// Memory and process limits of the first stage; [`Control::set_limits`]
    /// changes them between stages.
    pub limits: HostLimits,
}

/// Everything that is fixed when a sandbox starts, before a job is in it.
/// Sandboxes of one shape are interchangeable, so the pool keys on it.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum SandboxShape {
    /// Extra read-only bind mounts the job's language needs, host path to
    /// sandbox path (e.g. a Rust sysroot under `/opt/rust`).
    Native { mounts: Vec<BindMount> },
    /// A container of the language's image.
    Docker(docker::ContainerShape),
}

impl SandboxShape {
    /// Whether a started sandbox's [`HostLimits`] can no longer change:
    /// the job then starts with the largest limits of its stages, and the
    /// pool lends a waiting sandbox only to a job with the pool's limits.
    pub fn limits_fixed(&self) -> bool {
        match self {
            SandboxShape::Native { .. } => false,
            SandboxShape::Docker(shape) => shape.limits_fixed(),
        }
    }
}

/// A read-only bind mount from the host into the sandbox.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct BindMount {
    pub host: PathBuf,
    pub sandbox: PathBuf,
}

/// The limits a backend enforces from outside the sandbox.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct HostLimits {
    /// Memory of all processes together, tmpfs pages included.
    pub memory_bytes: u64,
    /// Processes and threads alive at once.
    pub processes: u64,
}

impl HostLimits {
    /// The looser of two limits, field by field.
    pub fn max(self, other: HostLimits) -> HostLimits {
        HostLimits {
            memory_bytes: self.memory_bytes.max(other.memory_bytes),
            processes: self.processes.max(other.processes),
        }
    }
}

/// What the host saw of a stage's resource use.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct HostUsage {
    /// How many times the OOM killer has killed a process of this sandbox.
    pub oom_kills: u64,
    /// Peak memory since the last [`Control::reset_peak`], when known.
    pub memory_peak_bytes: Option<u64>,
}

/// A started sandbox: the runner link plus the host's handle on it.
pub struct Sandbox {
    pub link: RunnerLink,
    pub control: Control,
}

/// The host side of a sandbox. Dropping it kills and removes the sandbox.
pub enum Control {
    Native(native::NativeControl),
    Docker(docker::DockerControl),
}

impl Control {
    /// Sets the memory and process limits for the next stage.
    pub async fn set_limits(&mut self, limits: HostLimits) -> Result<(), SandboxError> {
        match self {
            Control::Native(c) => c.set_limits(limits),
            Control::Docker(c) => c.set_limits(limits).await,
        }
    }

    /// Resets the peak-memory counter, where the mechanism allows it.
    pub fn reset_peak(&mut self) {
        match self {
            Control::Native(c) => c.reset_peak(),
            Control::Docker(_) => {}
        }
    }

    /// What the host has seen so far. A container's OOM kills are counted
    /// by its runner instead (`StageReport::oom_kills`).
    pub fn usage(&self) -> HostUsage {
        match self {
            Control::Native(c) => c.usage(),
            Control::Docker(_) => HostUsage::default(),
        }
    }
}

/// Errors starting or controlling a sandbox.
#[derive(Debug, thiserror::Error)]
pub enum SandboxError {
    #[error("failed to start the sandbox")]
    Start(#[source] std::io::Error),
    #[error("failed to set up cgroup {path}")]
    Cgroup {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("the runner did not become ready in time")]
    RunnerTimeout,
    #[error("the runner broke the protocol: {0}")]
    Protocol(String),
    #[error("the runner's stdio failed")]
    Wire(#[from] coderun_runner::wire::WireError),
    #[error("this host cannot sandbox jobs: {0}")]
    Unsupported(String),
    #[error(transparent)]
    Docker(#[from] docker::DockerError),
}

/// The sandbox backends.
pub enum Backend {
    Native(native::NativeBackend),
    Docker(docker::DockerBackend),
}

impl Backend {
    /// Starts a sandbox and waits until its runner says it is ready.
    pub async fn start(&self, spec: SandboxSpec) -> Result<Sandbox, SandboxError> {
        match self {
            Backend::Native(b) => b.start(spec).await,
            Backend::Docker(b) => b.start(spec).await,
        }
    }

    /// The backend's name, as in `--sandbox`.
    pub fn name(&self) -> &'static str {
        match self {
            Backend::Native(_) => "native",
            Backend::Docker(_) => "docker",
        }
    }

    /// Feature names for `initialize`, describing the isolation in force.
    pub fn features(&self) -> Vec<String> {
        match self {
            Backend::Native(b) => b.features(),
            Backend::Docker(b) => b.features(),
        }
    }

    /// The shape of a sandbox for this language on this backend.
    pub fn shape(&self, language: &crate::catalog::Language) -> SandboxShape {
        match self {
            Backend::Native(_) => SandboxShape::Native { mounts: language.mounts.clone() },
            Backend::Docker(b) => SandboxShape::Docker(b.shape(language)),
        }
    }

    /// Waits until every sandbox dropped so far is gone (containers are
    /// removed in the background), for at most `limit`.
    pub async fn drain(&self, limit: std::time::Duration) {
        match self {
            Backend::Native(_) => {}
            Backend::Docker(b) => b.drain(limit).await,
        }
    }
}
