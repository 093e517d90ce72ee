//! The native backend: Linux namespaces, cgroups and rlimits, no daemon.
//!
//! [`NativeBackend::new`] probes the host once (`probe.rs`, `cgroup_host.rs`),
//! logs which isolation is in force and which is missing, and refuses to
//! run without namespaces unless `allow_unsandboxed` is set. Each
//! [`NativeBackend::start`] creates the job's cgroups, runs the server's own
//! binary as the sandbox helper (`helper.rs`, which builds the namespaces
//! and the root filesystem of `mounts.rs` and execs the runner), links the
//! helper's stdin and stdout to the runner, and waits for `Ready`.
//!
//! Tasks per sandbox: the [`RunnerLink`]'s reader and writer, and one task
//! that copies the helper's stderr (the runner's and the helper's own
//! messages) into the log under the job's id; it ends when the sandbox is
//! gone. The returned `NativeControl` (`control.rs`) tears everything down
//! when dropped.
//!
//! Invariant: dropping the Sandbox leaves no process, mount, cgroup or file
//! of the job on the host; nothing of the student's files is ever written
//! to the host disk (the workdir is a tmpfs inside the sandbox's mount
//! namespace).

mod cgroup;
mod cgroup_host;
mod control;
mod handshake;
mod helper;
mod idmap;
mod mounts;
mod probe;
mod setup;
mod step;

use std::io;
use std::os::fd::OwnedFd;
use std::path::{Component, Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use coderun_runner::wire::RunnerMsg;
use tokio::io::AsyncReadExt;
use tokio::net::unix::pipe;

pub use helper::helper_main;
pub use setup::HELPER_ARG;

use self::cgroup::JobCgroup;
use self::cgroup_host::{CgroupFeatures, CgroupHost};
pub use self::control::NativeControl;
use self::probe::Isolation;
use self::setup::{HelperSetup, Mode, SandboxSetup, SETUP_ENV, STUDENT_ID};
use super::{Control, RunnerLink, Sandbox, SandboxError, SandboxShape, SandboxSpec};
use crate::config::NativeConfig;

/// Bytes of one sandbox's stderr copied into the log; the rest is dropped,
/// so that a chatty runner cannot flood the log.
const STDERR_LOG_BYTES: usize = 64 * 1024;

/// Starts sandboxes made of namespaces and cgroups.
pub struct NativeBackend {
    config: NativeConfig,
    /// The binary run as `BIN __sandbox`: the server's own.
    helper_exe: PathBuf,
    runner: PathBuf,
    isolation: Isolation,
    cgroups: Option<CgroupHost>,
}

impl NativeBackend {
    /// Probes the host and logs the isolation in force.
    pub fn new(config: NativeConfig) -> Result<NativeBackend, SandboxError> {
        let helper_exe = std::env::current_exe().map_err(SandboxError::Start)?;
        let runner = match &config.runner_path {
            Some(p) => p.clone(),
            None => helper_exe.with_file_name("coderun-runner"),
        };
        let runner = runner
            .canonicalize()
            .map_err(|e| SandboxError::Unsupported(format!("no runner binary at {}: {e}", runner.display())))?;

        for p in config.ro_binds.iter().filter(|p| !plain_absolute(p)) {
            tracing::warn!(path = %p.display(), "ignoring a read-only bind that is not an absolute path without `..`");
        }
        let cleanup_timeout = Duration::from_millis(config.cleanup_timeout_ms);
        let (cgroups, cgroup_note) = match CgroupHost::probe(&config.cgroup_parent) {
            Ok(host) => {
                host.sweep_stale(cleanup_timeout);
                (Some(host), None)
            }
            Err(why) => (None, Some(why)),
        };
        let features = cgroups.as_ref().map(CgroupHost::features).unwrap_or(CgroupFeatures::default());
        let root = nix::unistd::geteuid().is_root();
        let student = root.then(|| idmap::student_host_id(config.host_uid_base, 0));
        let timeout = Duration::from_millis(config.ready_timeout_ms);
        let report = probe::run_probe(&helper_exe, student, timeout).unwrap_or_else(|e| {
            tracing::warn!(error = %e, "the namespace probe failed");
            probe::ProbeReport::default()
        });
        let mut isolation = Isolation::new(&report, features);

        if !isolation.namespaces() {
            let why: Vec<String> = report.failed.iter().map(|(name, e)| format!("{name}: {e}")).collect();
            if !config.allow_unsandboxed {
                return Err(SandboxError::Unsupported(format!(
                    "the native sandbox needs user, mount, pid, network, IPC and UTS namespaces ({})",
                    why.join("; ")
                )));
            }
            tracing::warn!(
                missing = %why.join("; "),
                "no namespaces: jobs run UNSANDBOXED with the server's own rights (allow_unsandboxed)"
            );
            isolation.unsandboxed = true;
        }
        let (on, off): (Vec<_>, Vec<_>) = isolation.mechanisms().into_iter().partition(|(_, on)| *on);
        let names = |v: Vec<(&str, bool)>| v.into_iter().map(|(n, _)| n).collect::<Vec<_>>().join(", ");
        tracing::info!(in_force = %names(on), missing = %names(off), runner = %runner.display(), "native sandbox");
        if let Some(why) = cgroup_note {
            tracing::warn!(reason = %why, "no cgroups: memory, process and CPU limits are not enforced by the host");
        }
        for (name, e) in &report.failed {
            tracing::info!(mechanism = %name, error = %e, "isolation mechanism unavailable");
        }
        Ok(NativeBackend { config, helper_exe, runner, isolation, cgroups })
    }

    /// Feature names for `initialize`, describing the isolation in force.
    pub fn features(&self) -> Vec<String> {
        self.isolation.features()
    }

    /// The uid and gid the runner should switch to for each stage
    /// (`StageSpec.user`): the sandbox's `student`, when the host let a
    /// second id be mapped. `None` means stages run as the sandbox's root.
    pub fn stage_user(&self) -> Option<(u32, u32)> {
        self.separate_uid().then_some((STUDENT_ID, STUDENT_ID))
    }

    /// The host uid that a job's student user is, for logs and checks.
    pub fn student_host_uid(&self, job: u64) -> Option<u32> {
        self.separate_uid().then(|| idmap::student_host_id(self.config.host_uid_base, job))
    }

    fn separate_uid(&self) -> bool {
        !self.isolation.unsandboxed && self.isolation.separate_uid
    }

    /// Starts a sandbox and waits until its runner says it is ready.
    pub async fn start(&self, spec: SandboxSpec) -> Result<Sandbox, SandboxError> {
        let job = spec.job;
        let cgroup = match &self.cgroups {
            Some(host) => {
                Some(JobCgroup::create(host, job, spec.limits, self.config.cpus, self.config.runner_processes)?)
            }
            None => None,
        };
        // From here on, dropping `control` undoes everything done so far.
        let mut control = NativeControl::new(job, cgroup, Duration::from_millis(self.config.cleanup_timeout_ms));
        let mode = if self.isolation.unsandboxed {
            let dir = std::env::temp_dir().join(format!("coderun-job-{}-{job}", std::process::id()));
            std::fs::create_dir(&dir).map_err(SandboxError::Start)?;
            control.set_workdir(dir.clone());
            Mode::Unsandboxed { runner: self.runner.clone(), workdir: dir }
        } else {
            Mode::Sandbox(self.sandbox_setup(&spec)?)
        };
        let setup = HelperSetup { cgroup_procs: control.cgroup_procs(), mode };
        let json = serde_json::to_string(&setup).map_err(|e| SandboxError::Start(io::Error::other(e)))?;
        let mut child = Command::new(&self.helper_exe)
            .arg(HELPER_ARG)
            .env_clear()
            .env(SETUP_ENV, json)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(SandboxError::Start)?;
        let pipes = (child.stdin.take(), child.stdout.take(), child.stderr.take());
        control.set_helper(child);
        let (Some(stdin), Some(stdout), Some(stderr)) = pipes else {
            return Err(SandboxError::Start(io::Error::other("the helper's stdio is missing")));
        };
        let stdin = pipe::Sender::from_owned_fd(OwnedFd::from(stdin)).map_err(SandboxError::Start)?;
        let stdout = pipe::Receiver::from_owned_fd(OwnedFd::from(stdout)).map_err(SandboxError::Start)?;
        let stderr = pipe::Receiver::from_owned_fd(OwnedFd::from(stderr)).map_err(SandboxError::Start)?;
        tokio::spawn(log_stderr(job, stderr));

        let mut link = RunnerLink::new(stdout, stdin);
        let ready = Duration::from_millis(self.config.ready_timeout_ms);
        match tokio::time::timeout(ready, link.recv()).await {
            Err(_) => Err(SandboxError::RunnerTimeout),
            Ok(None) => Err(SandboxError::Start(io::Error::other("the sandbox ended before its runner was ready"))),
            Ok(Some(Err(e))) => Err(SandboxError::Wire(e)),
            Ok(Some(Ok(RunnerMsg::Ready { version }))) => {
                tracing::debug!(job, runner_version = %version, "sandbox ready");
                Ok(Sandbox { link, control: Control::Native(control) })
            }
            Ok(Some(Ok(other))) => {
                Err(SandboxError::Protocol(format!("expected Ready first, got {}", msg_name(&other))))
            }
        }
    }

    fn sandbox_setup(&self, spec: &SandboxSpec) -> Result<SandboxSetup, SandboxError> {
        let wanted: &[super::BindMount] = match &spec.shape {
            SandboxShape::Native { mounts } => mounts,
            SandboxShape::Docker(_) => &[],
        };
        let mut mounts = Vec::with_capacity(wanted.len());
        for m in wanted {
            if !plain_absolute(&m.host) || !plain_absolute(&m.sandbox) {
                let msg =
                    format!("bind mount {} -> {} is not between absolute paths", m.host.display(), m.sandbox.display());
                return Err(SandboxError::Start(io::Error::new(io::ErrorKind::InvalidInput, msg)));
            }
            mounts.push((m.host.clone(), m.sandbox.clone()));
        }
        let ids = self.student_host_uid(spec.job).map(|id| (id, id));
        Ok(SandboxSetup {
            runner: self.runner.clone(),
            ro_binds: self.config.ro_binds.iter().filter(|p| plain_absolute(p)).cloned().collect(),
            mounts,
            workdir_bytes: self.config.workdir_bytes,
            tmp_bytes: self.config.tmp_bytes,
            shm_bytes: self.config.shm_bytes,
            student_host_ids: ids,
        })
    }
}

/// An absolute path without `..`, so that it names the same place inside
/// the sandbox as outside.
fn plain_absolute(p: &Path) -> bool {
    p.is_absolute() && p.components().all(|c| matches!(c, Component::RootDir | Component::Normal(_)))
}

fn msg_name(msg: &RunnerMsg) -> &'static str {
    match msg {
        RunnerMsg::Ready { .. } => "Ready",
        RunnerMsg::FilesWritten => "FilesWritten",
        RunnerMsg::StageStarted => "StageStarted",
        RunnerMsg::Output { .. } => "Output",
        RunnerMsg::StageExit(_) => "StageExit",
        RunnerMsg::Error { .. } => "Error",
    }
}

/// Copies the helper's stderr into the log, line by line (lines cut at
/// 4 KiB), up to [`STDERR_LOG_BYTES`]; reads on to the end so that the
/// writer never blocks.
async fn log_stderr(job: u64, mut stderr: pipe::Receiver) {
    const LINE: usize = 4096;
    let mut buf = vec![0u8; LINE];
    let mut line: Vec<u8> = Vec::with_capacity(LINE);
    let mut logged = 0usize;
    let mut emit = |line: &mut Vec<u8>| {
        if logged < STDERR_LOG_BYTES && !line.is_empty() {
            logged += line.len();
            tracing::warn!(job, "sandbox: {}", String::from_utf8_lossy(line).trim_end());
            if logged >= STDERR_LOG_BYTES {
                tracing::warn!(job, "sandbox: further stderr is not logged");
            }
        }
        line.clear();
    };
    loop {
        let n = match stderr.read(&mut buf).await {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        for &b in &buf[..n] {
            if b == b'\n' {
                emit(&mut line);
            } else if line.len() < LINE {
                line.push(b);
            }
        }
    }
    emit(&mut line);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_plain_absolute_paths_may_be_bound() {
        assert!(plain_absolute(Path::new("/opt/rust")));
        assert!(!plain_absolute(Path::new("opt/rust")));
        assert!(!plain_absolute(Path::new("/opt/../etc/shadow")));
    }
}
