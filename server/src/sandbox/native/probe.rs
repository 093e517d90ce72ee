//! What isolation this host offers, found out once at startup.
//!
//! Namespaces are tried for real rather than guessed from sysctls: the
//! server runs its helper in probe mode, whose throwaway child creates a
//! user namespace (with a second uid mapped when the server is root), then
//! each other namespace, then in a grandchild mounts a tmpfs and a `/proc`
//! and brings up `lo`, reporting every step on a pipe; the helper prints
//! the [`ProbeReport`] as JSON. cgroups are tried by the server itself
//! (see `cgroup.rs`). [`Isolation`] turns both into feature names and the
//! startup log line.

use std::io::Read;
use std::os::fd::{AsFd, OwnedFd};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use nix::sched::{unshare, CloneFlags};
use nix::unistd::{self, ForkResult, Pid};
use serde::{Deserialize, Serialize};

use super::cgroup_host::CgroupFeatures;
use super::handshake;
use super::helper;
use super::idmap::{self, IdMaps};
use super::setup::{HelperSetup, Mode, HELPER_ARG, SETUP_ENV};
use super::step::{Step, StepError};

const USER_NS: &str = "userNamespace";
const MOUNT_NS: &str = "mountNamespace";
const PID_NS: &str = "pidNamespace";
const NET_NS: &str = "networkNamespace";
const IPC_NS: &str = "ipcNamespace";
const UTS_NS: &str = "utsNamespace";
const SEPARATE_UID: &str = "separateUid";
const ID_MAP: &str = "idMap";
const TMPFS: &str = "tmpfsMount";
const PROC: &str = "procMount";
const LOOPBACK: &str = "loopback";
const NO_NEW_PRIVS: &str = "noNewPrivs";
const NESTED_USER_NS: &str = "nestedUserNamespace";

/// What worked and what did not, with the error of each failure.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProbeReport {
    pub worked: Vec<String>,
    pub failed: Vec<(String, String)>,
}

impl ProbeReport {
    fn record(&mut self, name: &str, result: Result<(), String>) {
        match result {
            Ok(()) => self.worked.push(name.to_string()),
            Err(e) => self.failed.push((name.to_string(), e)),
        }
    }

    fn has(&self, name: &str) -> bool {
        self.worked.iter().any(|w| w == name)
    }

    /// Reads the `NAME ok` / `NAME err MESSAGE` lines of the probe pipe.
    fn add_lines(&mut self, text: &str) {
        for line in text.lines() {
            match line.split_once(' ') {
                Some((name, "ok")) => self.record(name, Ok(())),
                Some((name, rest)) => self.record(name, Err(rest.strip_prefix("err ").unwrap_or(rest).to_string())),
                None => {}
            }
        }
    }
}

/// The isolation in force, from the probe and the cgroup check.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Isolation {
    pub user_ns: bool,
    pub mount_ns: bool,
    pub pid_ns: bool,
    pub net_ns: bool,
    pub ipc_ns: bool,
    pub uts_ns: bool,
    /// tmpfs and proc mounts, `lo`, and a nested user namespace (to lock
    /// the mounts) work inside the namespaces.
    pub mounts_and_lo: bool,
    pub separate_uid: bool,
    pub no_new_privs: bool,
    pub cgroups: CgroupFeatures,
    /// Namespaces are missing and `allow_unsandboxed` is set.
    pub unsandboxed: bool,
}

impl Isolation {
    pub fn new(report: &ProbeReport, cgroups: CgroupFeatures) -> Isolation {
        Isolation {
            user_ns: report.has(USER_NS),
            mount_ns: report.has(MOUNT_NS),
            pid_ns: report.has(PID_NS),
            net_ns: report.has(NET_NS),
            ipc_ns: report.has(IPC_NS),
            uts_ns: report.has(UTS_NS),
            mounts_and_lo: [TMPFS, PROC, LOOPBACK, NESTED_USER_NS].iter().all(|m| report.has(m)),
            separate_uid: report.has(SEPARATE_UID),
            no_new_privs: report.has(NO_NEW_PRIVS),
            cgroups,
            unsandboxed: false,
        }
    }

    /// Whether a full sandbox can be built: the helper needs all of these.
    pub fn namespaces(&self) -> bool {
        self.user_ns && self.mount_ns && self.pid_ns && self.net_ns && self.ipc_ns && self.uts_ns && self.mounts_and_lo
    }

    /// Each mechanism by its feature name (without `isolation:`), and
    /// whether it is in force.
    pub fn mechanisms(&self) -> Vec<(&'static str, bool)> {
        let ns = !self.unsandboxed;
        vec![
            (USER_NS, ns && self.user_ns),
            (PID_NS, ns && self.pid_ns),
            (MOUNT_NS, ns && self.mount_ns),
            (NET_NS, ns && self.net_ns),
            (IPC_NS, ns && self.ipc_ns),
            (UTS_NS, ns && self.uts_ns),
            ("cgroupMemory", self.cgroups.memory),
            ("cgroupPids", self.cgroups.pids),
            ("cgroupCpu", self.cgroups.cpu),
            (SEPARATE_UID, ns && self.separate_uid),
            // The runner sets each stage's rlimits itself.
            ("rlimits", true),
            (NO_NEW_PRIVS, self.no_new_privs),
        ]
    }

    /// Feature names for `initialize`.
    pub fn features(&self) -> Vec<String> {
        let mut out = vec!["sandbox:native".to_string()];
        if self.unsandboxed {
            out.push("isolation:none".to_string());
        }
        out.extend(self.mechanisms().into_iter().filter(|(_, on)| *on).map(|(name, _)| format!("isolation:{name}")));
        out
    }
}

/// Runs the helper in probe mode and reads its report.
pub fn run_probe(helper_exe: &Path, student_host_id: Option<u32>, timeout: Duration) -> Result<ProbeReport, String> {
    let setup = HelperSetup { cgroup_procs: Vec::new(), mode: Mode::Probe { student_host_id } };
    let json = serde_json::to_string(&setup).map_err(|e| e.to_string())?;
    let child = Command::new(helper_exe)
        .arg(HELPER_ARG)
        .env_clear()
        .env(SETUP_ENV, json)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("failed to run {}: {e}", helper_exe.display()))?;
    let pid = Pid::from_raw(child.id() as i32);
    let (tx, rx) = std::sync::mpsc::channel();
    let waiter = std::thread::spawn(move || {
        let _ = tx.send(child.wait_with_output());
    });
    let output = match rx.recv_timeout(timeout) {
        Ok(out) => out.map_err(|e| e.to_string())?,
        Err(_) => {
            let _ = nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGKILL);
            let _ = waiter.join();
            return Err(format!("the probe took longer than {} ms", timeout.as_millis()));
        }
    };
    let _ = waiter.join();
    let stderr = String::from_utf8_lossy(&output.stderr);
    serde_json::from_slice(&output.stdout).map_err(|e| format!("the probe failed ({e}): {}", stderr.trim()))
}

/// Process P in probe mode: maps ids and collects the report.
pub fn probe_parent(
    child: Pid,
    student_host_id: Option<u32>,
    from_child: OwnedFd,
    to_child: OwnedFd,
    report_r: OwnedFd,
    report_w: OwnedFd,
) -> Result<i32, StepError> {
    let mut report = ProbeReport::default();
    let user = handshake::read_status(from_child).map_err(|e| e.line());
    let mut go = user.is_ok();
    report.record(USER_NS, user);
    if go {
        let (uid, gid) = (unistd::geteuid().as_raw(), unistd::getegid().as_raw());
        let proc = idmap::open_proc()?;
        let separate = match student_host_id {
            Some(id) => {
                idmap::write_id_maps(proc.as_fd(), child, &IdMaps::new(uid, gid, Some((id, id)))).map_err(|e| e.line())
            }
            None => Err("the server is not root".to_string()),
        };
        if separate.is_err() {
            let single = idmap::write_id_maps(proc.as_fd(), child, &IdMaps::new(uid, gid, None)).map_err(|e| e.line());
            go = single.is_ok();
            report.record(ID_MAP, single);
        }
        report.record(SEPARATE_UID, separate);
    }
    handshake::send_go(to_child, go);
    handshake::wait_for(child);
    drop(report_w);
    let mut text = String::new();
    std::fs::File::from(report_r).read_to_string(&mut text).step("read the probe report")?;
    report.add_lines(&text);
    let json = serde_json::to_string(&report).map_err(std::io::Error::other).step("encode the probe report")?;
    println!("{json}");
    Ok(0)
}

/// Process C in probe mode: tries each namespace, then forks G to try
/// mounts, `lo` and no_new_privs inside them. Returns C's exit status.
pub fn probe_child(to_parent: OwnedFd, from_parent: OwnedFd, report: OwnedFd) -> i32 {
    let user = unshare(CloneFlags::CLONE_NEWUSER).step("create a user namespace");
    let ok = user.is_ok();
    handshake::send_status(to_parent, &user);
    if !ok || !handshake::wait_for_go(from_parent) {
        return 1;
    }
    let namespaces = [
        (MOUNT_NS, CloneFlags::CLONE_NEWNS),
        (PID_NS, CloneFlags::CLONE_NEWPID),
        (NET_NS, CloneFlags::CLONE_NEWNET),
        (IPC_NS, CloneFlags::CLONE_NEWIPC),
        (UTS_NS, CloneFlags::CLONE_NEWUTS),
    ];
    for (name, flag) in namespaces {
        write_line(&report, name, unshare(flag).step(format_args!("create a {name}")));
    }
    // SAFETY: C is single-threaded.
    match unsafe { unistd::fork() } {
        Ok(ForkResult::Child) => {
            probe_inside(&report);
            // SAFETY: no atexit handler of P may run here.
            unsafe { libc::_exit(0) }
        }
        Ok(ForkResult::Parent { child }) => handshake::wait_for(child),
        Err(e) => {
            write_line(&report, PROC, Err(StepError::new("fork", e)));
            1
        }
    }
}

/// Process G in probe mode, in every namespace C could create.
fn probe_inside(report: &OwnedFd) {
    use nix::mount::{mount, MsFlags};
    let none = None::<&str>;
    let _ = handshake::die_with_parent();
    let private = mount(none, "/", none, MsFlags::MS_REC | MsFlags::MS_PRIVATE, none).step("make / private");
    let tmpfs = private.and_then(|()| {
        mount(Some("tmpfs"), "/tmp", Some("tmpfs"), MsFlags::MS_NOSUID, Some("size=64k")).step("mount a tmpfs")
    });
    let tmpfs_ok = tmpfs.is_ok();
    write_line(report, TMPFS, tmpfs);
    let proc = if tmpfs_ok {
        std::fs::create_dir("/tmp/proc")
            .step("create a mount point")
            .and_then(|()| mount(Some("proc"), "/tmp/proc", Some("proc"), MsFlags::MS_NOSUID, none).step("mount proc"))
    } else {
        Err(StepError::new("mount proc", std::io::Error::other("no tmpfs to mount it in")))
    };
    write_line(report, PROC, proc);
    write_line(report, LOOPBACK, helper::loopback_up());
    // The sandbox locks its mounts in a nested user namespace.
    let nested = unshare(CloneFlags::CLONE_NEWUSER | CloneFlags::CLONE_NEWNS).step("create a nested user namespace");
    write_line(report, NESTED_USER_NS, nested);
    write_line(report, NO_NEW_PRIVS, nix::sys::prctl::set_no_new_privs().step("set no_new_privs"));
}

fn write_line(report: &OwnedFd, name: &str, result: Result<(), StepError>) {
    let line = match result {
        Ok(()) => format!("{name} ok\n"),
        Err(e) => format!("{name} err {}\n", e.line().replace('\n', " ")),
    };
    let _ = unistd::write(report, line.as_bytes());
}

#[cfg(test)]
mod tests {
    use super::*;

    fn full_report() -> ProbeReport {
        let mut r = ProbeReport::default();
        r.add_lines(
            "mountNamespace ok\npidNamespace ok\nnetworkNamespace ok\nipcNamespace ok\nutsNamespace ok\n\
             tmpfsMount ok\nprocMount ok\nloopback ok\nnestedUserNamespace ok\nnoNewPrivs ok\n",
        );
        r.record(USER_NS, Ok(()));
        r
    }

    #[test]
    fn report_lines_parse_into_worked_and_failed() {
        let mut r = ProbeReport::default();
        r.add_lines("pidNamespace ok\nprocMount err failed to mount proc: EPERM: Operation not permitted\n");
        assert_eq!(r.worked, vec!["pidNamespace"]);
        assert_eq!(r.failed, vec![("procMount".into(), "failed to mount proc: EPERM: Operation not permitted".into())]);
    }

    #[test]
    fn features_name_only_what_is_in_force() {
        let iso = Isolation::new(&full_report(), CgroupFeatures { memory: true, pids: true, cpu: false });
        assert!(iso.namespaces());
        let f = iso.features();
        assert_eq!(f[0], "sandbox:native");
        assert!(f.contains(&"isolation:pidNamespace".to_string()));
        assert!(f.contains(&"isolation:cgroupMemory".to_string()));
        assert!(!f.contains(&"isolation:cgroupCpu".to_string()));
        assert!(!f.contains(&"isolation:separateUid".to_string()));
    }

    #[test]
    fn unsandboxed_features_say_none_and_claim_no_namespace() {
        let mut iso = Isolation::new(&ProbeReport::default(), CgroupFeatures::default());
        assert!(!iso.namespaces());
        iso.unsandboxed = true;
        assert_eq!(iso.features(), vec!["sandbox:native", "isolation:none", "isolation:rlimits"]);
    }

    #[test]
    fn a_missing_proc_mount_means_no_sandbox() {
        let mut r = full_report();
        r.worked.retain(|w| w != PROC);
        assert!(!Isolation::new(&r, CgroupFeatures::default()).namespaces());
    }
}
