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

/// The contents of `/proc/PID/{uid_map,gid_map,setgroups}` for a sandbox.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdMaps {
    pub uid_map: String,
    pub gid_map: String,
    /// Whether `setgroups` must be set to `deny` before `gid_map` is
    /// written: the kernel demands it when the writer is not privileged.
    pub deny_setgroups: bool,
}

impl IdMaps {
    /// Sandbox root is the server's own uid and gid; the student id maps to
    /// `student` when given, which only a root server may write.
    pub fn new(own_uid: u32, own_gid: u32, student: Option<(u32, u32)>) -> IdMaps {
        let line = |inner: u32, outer: u32| format!("{inner} {outer} 1\n");
        let mut uid_map = line(0, own_uid);
        let mut gid_map = line(0, own_gid);
        if let Some((uid, gid)) = student {
            uid_map += &line(STUDENT_ID, uid);
            gid_map += &line(STUDENT_ID, gid);
        }
        IdMaps { uid_map, gid_map, deny_setgroups: own_uid != 0 }
    }
}

/// The host uid (and gid) of a job's student user: one of 10,000 ids from
/// `base`, so that sandboxes running at once have distinct host ids.
pub fn student_host_id(base: u32, job: u64) -> u32 {
    base.saturating_add((job % 10_000) as u32)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn root_server_maps_root_and_student() {
        let m = IdMaps::new(0, 0, Some((200_007, 200_007)));
        assert_eq!(m.uid_map, "0 0 1\n1000 200007 1\n");
        assert_eq!(m.gid_map, "0 0 1\n1000 200007 1\n");
        assert!(!m.deny_setgroups);
    }

    #[test]
    fn unprivileged_server_maps_only_itself_and_denies_setgroups() {
        let m = IdMaps::new(1001, 1002, None);
        assert_eq!(m.uid_map, "0 1001 1\n");
        assert_eq!(m.gid_map, "0 1002 1\n");
        assert!(m.deny_setgroups);
    }

    #[test]
    fn student_host_ids_wrap_every_ten_thousand_jobs() {
        assert_eq!(student_host_id(200_000, 7), 200_007);
        assert_eq!(student_host_id(200_000, 10_007), 200_007);
        assert_eq!(student_host_id(u32::MAX, 1), u32::MAX);
    }

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
