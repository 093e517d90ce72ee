//! The host's handle on one native sandbox: limits, usage, and teardown.
//!
//! Dropping a [`NativeControl`] ends the sandbox in two halves. At once, in
//! the drop itself: SIGTERM to the helper P (which SIGKILLs C; C's death
//! takes G, the pid namespace's init, and with it every process of the
//! namespace) and SIGKILL to every process in the job's cgroups. Then, on
//! a blocking thread: wait for P to reap everything and exit, SIGKILL it if
//! it does not, and remove the cgroups once they are empty.
//!
//! The blocking half runs on tokio's blocking pool, whose shutdown waits for
//! it, so a server that exits right after the drop still leaves nothing. If
//! the runtime is already shutting down it refuses new blocking work and
//! drops the closure unrun; the [`Teardown`] inside then finishes in its own
//! `Drop`, on the spot.
//!
//! Invariant: dropping the Sandbox leaves no process, mount, cgroup or file
//! of the job on the host. Mounts need no work: they live only in the
//! sandbox's mount namespace, which dies with its last process.

use std::path::PathBuf;
use std::process::Child;
use std::time::{Duration, Instant};

use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;

use super::cgroup::JobCgroup;
use crate::sandbox::{HostLimits, HostUsage, JobId, SandboxError};

/// The host's handle on one sandbox; dropping it kills and removes it.
pub struct NativeControl {
    job: JobId,
    helper: Option<Child>,
    cgroup: Option<JobCgroup>,
    /// The host directory of an unsandboxed job, removed at the end.
    workdir: Option<PathBuf>,
    cleanup_timeout: Duration,
}

impl NativeControl {
    pub fn new(job: JobId, cgroup: Option<JobCgroup>, cleanup_timeout: Duration) -> NativeControl {
        NativeControl { job, helper: None, cgroup, workdir: None, cleanup_timeout }
    }

    pub fn cgroup_procs(&self) -> Vec<PathBuf> {
        self.cgroup.as_ref().map(JobCgroup::procs_files).unwrap_or_default()
    }

    /// Hands over the helper process; from now on the drop kills it.
    pub fn set_helper(&mut self, helper: Child) {
        self.helper = Some(helper);
    }

    /// Hands over a host directory to remove at the end (unsandboxed jobs).
    pub fn set_workdir(&mut self, dir: PathBuf) {
        self.workdir = Some(dir);
    }
}

impl NativeControl {
    pub fn set_limits(&mut self, limits: HostLimits) -> Result<(), SandboxError> {
        match &mut self.cgroup {
            Some(cg) => cg.set_limits(limits),
            None => Ok(()),
        }
    }

    pub fn reset_peak(&mut self) {
        if let Some(cg) = &mut self.cgroup {
            cg.reset_peak();
        }
    }

    pub fn usage(&self) -> HostUsage {
        self.cgroup.as_ref().map(JobCgroup::usage).unwrap_or_default()
    }
}

impl Drop for NativeControl {
    fn drop(&mut self) {
        if let Some(helper) = &self.helper {
            let _ = kill(Pid::from_raw(helper.id() as i32), Signal::SIGTERM);
        }
        if let Some(cg) = &self.cgroup {
            cg.kill_all();
        }
        let teardown = Teardown {
            job: self.job,
            helper: self.helper.take(),
            cgroup: self.cgroup.take(),
            workdir: self.workdir.take(),
            timeout: self.cleanup_timeout,
        };
        match tokio::runtime::Handle::try_current() {
            Ok(rt) => {
                rt.spawn_blocking(move || drop(teardown));
            }
            Err(_) => drop(teardown),
        }
    }
}

/// The blocking half of the teardown; it runs when dropped.
struct Teardown {
    job: JobId,
    helper: Option<Child>,
    cgroup: Option<JobCgroup>,
    workdir: Option<PathBuf>,
    timeout: Duration,
}

impl Drop for Teardown {
    fn drop(&mut self) {
        let deadline = Instant::now() + self.timeout;
        if let Some(mut helper) = self.helper.take() {
            reap(&mut helper, deadline, self.job);
        }
        if let Some(cg) = self.cgroup.take() {
            let left = deadline.saturating_duration_since(Instant::now()).max(Duration::from_millis(100));
            if let Err(e) = cg.remove(left) {
                tracing::error!(job = self.job, error = %e, "failed to remove the sandbox's cgroup");
            }
        }
        if let Some(dir) = self.workdir.take() {
            if let Err(e) = std::fs::remove_dir_all(&dir) {
                tracing::error!(job = self.job, dir = %dir.display(), error = %e, "failed to remove the job's directory");
            }
        }
        tracing::debug!(job = self.job, "sandbox removed");
    }
}

/// Waits for the helper until `deadline`, then SIGKILLs it and reaps it.
fn reap(helper: &mut Child, deadline: Instant, job: JobId) {
    loop {
        match helper.try_wait() {
            Ok(Some(_)) | Err(_) => return,
            Ok(None) if Instant::now() >= deadline => {
                tracing::warn!(job, "the sandbox helper ignored SIGTERM; killing it");
                let _ = helper.kill();
                let _ = helper.wait();
                return;
            }
            Ok(None) => std::thread::sleep(Duration::from_millis(5)),
        }
    }
}
