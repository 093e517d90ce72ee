//! What the server tells its sandbox helper, and the id maps derived from it.
//!
//! The server is a multi-threaded tokio process, so it never forks to build
//! a sandbox itself: it runs its own binary as `coderun __sandbox` with a
//! [`HelperSetup`] in the `CODERUN_SANDBOX_SETUP` environment variable, and
//! that single-threaded helper forks, unshares and mounts. A serializable
//! type is an IPC boundary: this file is the whole of it, and both sides are
//! the same binary, so the two ends cannot drift apart.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

/// The hidden first argument that turns the server binary into the helper.
pub const HELPER_ARG: &str = "__sandbox";

/// The environment variable that carries the JSON [`HelperSetup`].
pub const SETUP_ENV: &str = "CODERUN_SANDBOX_SETUP";

/// Where the runner binary appears inside the sandbox.
pub const RUNNER_IN_SANDBOX: &str = "/.coderun/runner";

/// The student's uid and gid inside the sandbox when a second id is mapped.
pub const STUDENT_ID: u32 = 1000;

/// The sandbox's hostname.
pub const HOSTNAME: &str = "coderun";

/// Everything the helper needs; nothing else of the server reaches it.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct HelperSetup {
    /// `cgroup.procs` files the sandbox's first process writes its pid into
    /// before it does anything else, so that all it starts is inside.
    pub cgroup_procs: Vec<PathBuf>,
    pub mode: Mode,
}

/// What the helper builds.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", rename_all_fields = "camelCase")]
pub enum Mode {
    /// A full sandbox: namespaces, a fresh root, then the runner.
    Sandbox(SandboxSetup),
    /// No isolation (`allow_unsandboxed`): the runner in a fresh directory.
    Unsandboxed { runner: PathBuf, workdir: PathBuf },
    /// Try each mechanism in a throwaway child and print a [`ProbeReport`]
    /// as JSON on stdout. `student_host_id` is the host id to try mapping as
    /// a second id (only when the server is root).
    ///
    /// [`ProbeReport`]: super::probe::ProbeReport
    Probe { student_host_id: Option<u32> },
}

/// The parts of a full sandbox.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SandboxSetup {
    /// The runner binary on the host, absolute.
    pub runner: PathBuf,
    /// Host paths bound read-only at the same path, when they exist.
    pub ro_binds: Vec<PathBuf>,
    /// Host path to sandbox path, read-only; each host path must exist.
    pub mounts: Vec<(PathBuf, PathBuf)>,
    pub workdir_bytes: u64,
    pub tmp_bytes: u64,
    pub shm_bytes: u64,
    /// The host uid and gid that the student id ([`STUDENT_ID`]) maps to;
    /// `None` when only the server's own id can be mapped.
    pub student_host_ids: Option<(u32, u32)>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn setup_round_trips_through_json() {
        let s = HelperSetup {
            cgroup_procs: vec!["/sys/fs/cgroup/pids/coderun/job-1-2/cgroup.procs".into()],
            mode: Mode::Probe { student_host_id: Some(200_000) },
        };
        let text = serde_json::to_string(&s).unwrap();
        assert_eq!(
            text,
            r#"{"cgroupProcs":["/sys/fs/cgroup/pids/coderun/job-1-2/cgroup.procs"],"mode":{"probe":{"studentHostId":200000}}}"#
        );
        let back: HelperSetup = serde_json::from_str(&text).unwrap();
        assert!(matches!(back.mode, Mode::Probe { student_host_id: Some(200_000) }));
    }
}
