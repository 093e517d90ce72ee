//! Reaping every child, and killing every process of a stage.
//!
//! The runner is a child subreaper (PID 1 of its namespace on the native
//! backend, `PR_SET_CHILD_SUBREAPER` anywhere), so every orphan of a stage
//! ends up as the runner's child. [`Reaper`] collects them with
//! `wait4(-1, WNOHANG)` whenever `SIGCHLD` arrives; `wait4` also hands back
//! each process's resource usage. Nothing else in the runner waits for
//! children (which is why stages are not spawned with `tokio::process`,
//! whose own `waitpid(pid)` would race with this one); the one exception is
//! std's `Command::spawn`, which reaps a child whose `exec` failed before
//! returning the error.
//!
//! [`Reaper::kill_all`] ends a stage. As PID 1 of a PID namespace it sends
//! `kill(-1, SIGKILL)`, which reaches every process in the namespace but the
//! runner; otherwise it walks `/proc` for the runner's descendants and kills
//! each, plus the stage's process group. It repeats (a process may fork
//! between the walk and the kill) until `wait4` reports `ECHILD`: with no
//! children left there can be no descendants, since every orphan comes back
//! to the runner. The walk has the usual window of `/proc`: a descendant
//! that exits and is reaped by its own parent between the walk and the
//! kill frees its pid, which an unrelated process could take in that
//! instant. PID 1 has no such window, and neither has a sandbox whose PID
//! namespace holds only the job.
//!
//! A student's `kill -9 -1` cannot hit the runner when it is PID 1 of the
//! namespace (the kernel exempts init) or when the stage runs under another
//! uid. A backend that runs the runner as neither (e.g. a Docker container
//! whose PID 1 is something else and whose stages run as the runner's own
//! uid) would let a stage kill its supervisor.

use std::time::Duration;

use tokio::signal::unix::{signal, Signal, SignalKind};
use tokio::time::Instant;

use crate::procs::ProcFs;

/// Pause between kill-all passes while processes are still dying.
const KILL_RETRY: Duration = Duration::from_millis(2);
/// How often kill-all reports on stderr that processes are still alive.
const KILL_COMPLAINT_EVERY: u32 = 500;

/// One reaped process.
#[derive(Debug, Clone, Copy)]
pub struct Exit {
    pub pid: i32,
    /// The raw wait status.
    pub status: i32,
    /// Peak resident set of the process and the children it waited for.
    pub max_rss_bytes: u64,
    pub at: Instant,
}

/// Whether any child is left after reaping what was ready.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Children {
    Remaining,
    None,
}

/// Reaps children and kills stages; see the module comment.
pub struct Reaper {
    sigchld: Signal,
    pid1: bool,
    procfs: Option<ProcFs>,
}

impl Reaper {
    /// Starts listening for `SIGCHLD`; call before the first spawn, inside
    /// the runtime.
    pub fn new(procfs: Option<ProcFs>) -> std::io::Result<Reaper> {
        let pid1 = std::process::id() == 1;
        if !pid1 && procfs.is_none() {
            eprintln!(
                "coderun-runner: /proc is not this PID namespace's and the runner is not PID 1: \
                 only a stage's process group can be killed"
            );
        }
        Ok(Reaper { sigchld: signal(SignalKind::child())?, pid1, procfs })
    }

    /// Waits for the next `SIGCHLD`. Several may be folded into one.
    pub async fn notified(&mut self) {
        self.sigchld.recv().await;
    }

    /// Reaps every child that has exited, without waiting.
    pub fn reap(&mut self, on_exit: &mut impl FnMut(Exit)) -> Children {
        loop {
            let mut status = 0;
            // Safety: an all-zero rusage is a valid value to be overwritten.
            let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
            // __WALL: also children whose exit signal is not SIGCHLD (a raw
            // `clone`), which plain wait4 neither reaps nor counts.
            // Safety: both pointers are to live locals of the right types.
            let pid = unsafe { libc::wait4(-1, &mut status, libc::WNOHANG | libc::__WALL, &mut usage) };
            match pid {
                0 => return Children::Remaining,
                p if p > 0 => on_exit(Exit {
                    pid: p,
                    status,
                    max_rss_bytes: (usage.ru_maxrss.max(0) as u64).saturating_mul(1024),
                    at: Instant::now(),
                }),
                _ => match std::io::Error::last_os_error().raw_os_error() {
                    Some(libc::EINTR) => continue,
                    Some(libc::ECHILD) => return Children::None,
                    other => {
                        // Not expected from wait4(-1); treat it as "nothing to reap".
                        eprintln!("coderun-runner: wait4 failed: errno {other:?}");
                        return Children::Remaining;
                    }
                },
            }
        }
    }

    /// Kills every process of the stage and reaps them all; returns once the
    /// runner has no child left. `group` is the stage's process group while
    /// its leader is still unreaped (afterwards the id could be reused).
    pub async fn kill_all(&mut self, mut group: Option<i32>, on_exit: &mut impl FnMut(Exit)) {
        let mut passes = 0u32;
        let mut complain_at = KILL_COMPLAINT_EVERY;
        loop {
            self.signal_all(group);
            let left = self.reap(&mut |e: Exit| {
                if group == Some(e.pid) {
                    group = None;
                }
                on_exit(e)
            });
            if left == Children::None {
                return;
            }
            passes += 1;
            if passes == complain_at {
                complain_at += KILL_COMPLAINT_EVERY;
                eprintln!("coderun-runner: processes of the stage are still alive after {passes} kill passes");
            }
            tokio::time::sleep(KILL_RETRY).await;
        }
    }

    fn signal_all(&self, group: Option<i32>) {
        // Safety (all three): kill has no memory-safety preconditions.
        if self.pid1 {
            unsafe { libc::kill(-1, libc::SIGKILL) };
        }
        if let Some(g) = group {
            unsafe { libc::kill(-g, libc::SIGKILL) };
        }
        if let Some(procfs) = &self.procfs {
            for p in procfs.descendants() {
                if p.state != b'Z' {
                    unsafe { libc::kill(p.pid, libc::SIGKILL) };
                }
            }
        }
    }
}
