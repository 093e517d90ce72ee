//! Sandboxes: where a job's runner lives, and how the server controls it.
//!
//! A backend starts a [`Sandbox`] for one job. The sandbox holds a
//! [`RunnerLink`] to the `coderun-runner` process inside it and a
//! [`SandboxControl`] for what only the host can do: set the memory and
//! process limits of the next stage, read how much memory was used and
//! whether the kernel's OOM killer struck.
//!
//! Invariant: dropping a `Sandbox` kills every process in it and removes
//! every trace of it (cgroups, mounts, files). Cancellation, disconnects,
//! panics and shutdown all end in that drop; nothing polls a flag.
//!
//! Backends are an enum rather than a trait object because `start` is
//! async and there are few of them; a new backend is a new variant.

pub mod native;
pub mod pool;
pub mod runner_link;

use std::path::PathBuf;

pub use pool::{PoolSettings, PoolStats, WarmPool};
pub use runner_link::RunnerLink;

/// A unique, never reused number for each job, used in cgroup names,
/// labels and logs.
pub type JobId = u64;

/// What a backend needs to know to start a sandbox for one job.
#[derive(Debug, Clone)]
pub struct SandboxSpec {
    pub job: JobId,
    /// Extra read-only bind mounts the job's language needs, host path to
    /// sandbox path (e.g. a Rust sysroot under `/opt/rust`).
    pub mounts: Vec<BindMount>,
    /// Memory and process limits of the first stage; [`SandboxControl::set_limits`]
    /// changes them between stages.
    pub limits: HostLimits,
}

/// A read-only bind mount from the host into the sandbox.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct BindMount {
    pub host: PathBuf,
    pub sandbox: PathBuf,
}

/// The limits a backend enforces from outside the sandbox.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HostLimits {
    /// Memory of all processes together, tmpfs pages included.
    pub memory_bytes: u64,
    /// Processes and threads alive at once.
    pub processes: u64,
}

/// What the host saw of a stage's resource use.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct HostUsage {
    /// How many times the OOM killer has killed a process of this sandbox.
    pub oom_kills: u64,
    /// Peak memory since the last [`SandboxControl::reset_peak`], when known.
    pub memory_peak_bytes: Option<u64>,
}

/// A started sandbox: the runner link plus the host's handle on it.
pub struct Sandbox {
    pub link: RunnerLink,
    pub control: Box<dyn SandboxControl>,
}

/// The host side of a sandbox. Dropping it kills and removes the sandbox.
pub trait SandboxControl: Send {
    /// Sets the memory and process limits for the next stage.
    fn set_limits(&mut self, limits: HostLimits) -> Result<(), SandboxError>;
    /// Resets the peak-memory counter, where the mechanism allows it.
    fn reset_peak(&mut self);
    /// What the host has seen so far.
    fn usage(&self) -> HostUsage;
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
}

/// The sandbox backends.
pub enum Backend {
    Native(native::NativeBackend),
}

impl Backend {
    /// Starts a sandbox and waits until its runner says it is ready.
    pub async fn start(&self, spec: SandboxSpec) -> Result<Sandbox, SandboxError> {
        match self {
            Backend::Native(b) => b.start(spec).await,
        }
    }

    /// The backend's name, as in `--sandbox`.
    pub fn name(&self) -> &'static str {
        match self {
            Backend::Native(_) => "native",
        }
    }

    /// Feature names for `initialize`, describing the isolation in force.
    pub fn features(&self) -> Vec<String> {
        match self {
            Backend::Native(b) => b.features(),
        }
    }
}
