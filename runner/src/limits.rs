//! What a stage's first process does to itself between `fork` and `exec`.
//!
//! [`ChildSetup`] is computed in the runner (it may allocate there) and
//! applied in the child by [`ChildSetup::apply`], which runs after `fork` in
//! a copy of a multi-threaded process and so may only make
//! async-signal-safe system calls: no allocation, no locks. In order:
//!
//! 1. `setsid()`: the stage gets its own session and process group;
//! 2. every signal back to its default disposition, none blocked;
//! 3. resource limits: `RLIMIT_CPU` (soft = the CPU budget rounded up to a
//!    second, hard = one second more: a per-process backstop for the
//!    runner's own whole-stage accounting), `RLIMIT_FSIZE`,
//!    `RLIMIT_NOFILE`, `RLIMIT_CORE` = 0 and, when given, `RLIMIT_NPROC`
//!    (which counts every process of the uid in the user namespace and does
//!    not bind root, so it suits a stage running as the job's own `user`).
//!    A value above the runner's own hard limit is lowered to it, since
//!    only a privileged process may raise a hard limit;
//! 4. when the stage has a `user` and the runner is root: no supplementary
//!    groups, then that gid and uid. `setgroups` fails with `EPERM` in a
//!    user namespace whose `setgroups` is denied, where no process can
//!    change its groups at all; that one failure is ignored;
//! 5. `PR_SET_NO_NEW_PRIVS`, so no set-uid program regains privileges;
//! 6. `PR_SET_PDEATHSIG(SIGKILL)` (after the uid change, which clears it),
//!    then a check that the runner did not die before it took effect. The
//!    signal follows the death of the forking *thread*; the runner forks
//!    from its main thread, which lives as long as the runner;
//! 7. every descriptor above stderr marked close-on-exec, in case the
//!    runner inherited some from whoever started it.

use std::io;

use coderun_runner::wire::StageLimits;
use nix::sys::resource::{getrlimit, setrlimit, Resource};

/// Most resource limits a stage gets: four always, plus the process count.
const RLIMITS: usize = 5;

/// Everything the child needs, precomputed; see the module comment.
#[derive(Debug, Clone, Copy)]
pub struct ChildSetup {
    rlimits: [(Resource, u64, u64); RLIMITS],
    rlimit_count: usize,
    user: Option<(libc::uid_t, libc::gid_t)>,
    runner_pid: libc::pid_t,
    /// Upper bound for the descriptor scan when `close_range` is missing.
    fd_scan_end: libc::c_int,
}

impl ChildSetup {
    /// Computes the setup of a stage. `user` is applied only when `root`.
    pub fn new(limits: &StageLimits, user: Option<(u32, u32)>, root: bool) -> ChildSetup {
        let cpu_secs = limits.cpu_time_ms.div_ceil(1000).max(1);
        let mut wanted = vec![
            (Resource::RLIMIT_CPU, cpu_secs, cpu_secs.saturating_add(1)),
            (Resource::RLIMIT_FSIZE, limits.file_size_bytes, limits.file_size_bytes),
            (Resource::RLIMIT_NOFILE, limits.open_files, limits.open_files),
            (Resource::RLIMIT_CORE, 0, 0),
        ];
        if let Some(n) = limits.processes {
            wanted.push((Resource::RLIMIT_NPROC, n, n));
        }
        let mut rlimits = [(Resource::RLIMIT_CORE, 0, 0); RLIMITS];
        for (slot, (resource, soft, hard)) in rlimits.iter_mut().zip(&wanted) {
            let hard = (*hard).min(current_hard_limit(*resource));
            *slot = (*resource, (*soft).min(hard), hard);
        }
        let nofile = current_hard_limit(Resource::RLIMIT_NOFILE).min(1 << 16) as libc::c_int;
        ChildSetup {
            rlimits,
            rlimit_count: wanted.len(),
            user: if root { user } else { None },
            runner_pid: std::process::id() as libc::pid_t,
            fd_scan_end: nofile,
        }
    }

    /// Applies the setup in the child.
    ///
    /// # Safety
    /// Call only in the child between `fork` and `exec` (as a `pre_exec`
    /// hook). It makes async-signal-safe system calls only.
    pub unsafe fn apply(&self) -> io::Result<()> {
        check(libc::setsid())?;
        reset_signals();
        for (resource, soft, hard) in &self.rlimits[..self.rlimit_count] {
            // nix's setrlimit is the bare system call.
            setrlimit(*resource, *soft, *hard)?;
        }
        if let Some((uid, gid)) = self.user {
            if libc::setgroups(0, std::ptr::null()) != 0 && errno() != libc::EPERM {
                return Err(io::Error::last_os_error());
            }
            check(libc::setresgid(gid, gid, gid))?;
            check(libc::setresuid(uid, uid, uid))?;
        }
        check(libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0))?;
        check(libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL, 0, 0, 0))?;
        // As PID 1 of a namespace the runner is our parent and getppid()
        // is 1; on a host it is the runner's own pid. Either way, a
        // different parent means the runner is already gone.
        if libc::getppid() != self.runner_pid {
            libc::_exit(127);
        }
        close_inherited_descriptors(self.fd_scan_end);
        Ok(())
    }
}

/// Every catchable signal to `SIG_DFL` and an empty signal mask: the runner
/// ignores `SIGPIPE`, and whoever started it may have ignored or blocked
/// others, both of which `exec` would pass on.
unsafe fn reset_signals() {
    for sig in 1..=64 {
        if sig != libc::SIGKILL && sig != libc::SIGSTOP {
            // Numbers with no signal behind them fail with EINVAL: harmless.
            default_disposition(sig);
        }
    }
    let mut empty: libc::sigset_t = std::mem::zeroed();
    libc::sigemptyset(&mut empty);
    libc::pthread_sigmask(libc::SIG_SETMASK, &empty, std::ptr::null_mut());
}

/// `SIG_DFL` for one signal. glibc's `sigaction` refuses the two signals
/// it reserves for itself (32 and 33), which a parent may still have left
/// ignored, so this goes to the kernel directly where the layout of its
/// `struct sigaction` is known: handler, flags, restorer, mask.
#[cfg(all(target_os = "linux", any(target_arch = "x86_64", target_arch = "aarch64")))]
unsafe fn default_disposition(sig: libc::c_int) {
    #[repr(C)]
    struct KernelSigaction {
        handler: libc::sighandler_t,
        flags: libc::c_ulong,
        restorer: usize,
        mask: u64,
    }
    let action = KernelSigaction { handler: libc::SIG_DFL, flags: 0, restorer: 0, mask: 0 };
    let no_old: *mut KernelSigaction = std::ptr::null_mut();
    libc::syscall(libc::SYS_rt_sigaction, sig, &action as *const KernelSigaction, no_old, 8usize);
}

#[cfg(not(all(target_os = "linux", any(target_arch = "x86_64", target_arch = "aarch64"))))]
unsafe fn default_disposition(sig: libc::c_int) {
    let mut action: libc::sigaction = std::mem::zeroed();
    action.sa_sigaction = libc::SIG_DFL;
    libc::sigemptyset(&mut action.sa_mask);
    libc::sigaction(sig, &action, std::ptr::null_mut());
}

/// Marks every descriptor above stderr close-on-exec. Marking rather than
/// closing keeps std's own exec-error pipe working.
unsafe fn close_inherited_descriptors(scan_end: libc::c_int) {
    const CLOSE_RANGE_CLOEXEC: libc::c_uint = 1 << 2;
    let done = libc::syscall(libc::SYS_close_range, 3 as libc::c_uint, libc::c_uint::MAX, CLOSE_RANGE_CLOEXEC) == 0;
    if !done {
        for fd in 3..scan_end {
            libc::fcntl(fd, libc::F_SETFD, libc::FD_CLOEXEC);
        }
    }
}

fn current_hard_limit(resource: Resource) -> u64 {
    getrlimit(resource).map(|(_, hard)| hard).unwrap_or(libc::RLIM_INFINITY)
}

fn check(ret: libc::c_int) -> io::Result<()> {
    if ret == -1 {
        Err(io::Error::last_os_error())
    } else {
        Ok(())
    }
}

fn errno() -> libc::c_int {
    io::Error::last_os_error().raw_os_error().unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits(cpu_time_ms: u64, processes: Option<u64>) -> StageLimits {
        StageLimits {
            wall_time_ms: 1000,
            cpu_time_ms,
            output_bytes: 1000,
            file_size_bytes: 4096,
            open_files: 32,
            processes,
        }
    }

    fn find(setup: &ChildSetup, resource: Resource) -> Option<(u64, u64)> {
        setup.rlimits[..setup.rlimit_count].iter().find(|(r, _, _)| *r == resource).map(|(_, s, h)| (*s, *h))
    }

    #[test]
    fn cpu_limit_rounds_up_to_seconds_with_a_second_of_grace() {
        let setup = ChildSetup::new(&limits(1500, None), None, false);
        assert_eq!(find(&setup, Resource::RLIMIT_CPU), Some((2, 3)));
        let setup = ChildSetup::new(&limits(0, None), None, false);
        assert_eq!(find(&setup, Resource::RLIMIT_CPU), Some((1, 2)));
    }

    #[test]
    fn files_core_and_processes_are_limited() {
        let setup = ChildSetup::new(&limits(1000, Some(7)), None, false);
        assert_eq!(find(&setup, Resource::RLIMIT_FSIZE), Some((4096, 4096)));
        assert_eq!(find(&setup, Resource::RLIMIT_NOFILE), Some((32, 32)));
        assert_eq!(find(&setup, Resource::RLIMIT_CORE), Some((0, 0)));
        assert_eq!(find(&setup, Resource::RLIMIT_NPROC), Some((7, 7)));
        let setup = ChildSetup::new(&limits(1000, None), None, false);
        assert_eq!(find(&setup, Resource::RLIMIT_NPROC), None);
    }

    #[test]
    fn limits_never_exceed_the_runners_own_hard_limit() {
        let mut l = limits(1000, None);
        l.open_files = u64::MAX - 1;
        let setup = ChildSetup::new(&l, None, false);
        let (soft, hard) = find(&setup, Resource::RLIMIT_NOFILE).unwrap();
        assert_eq!(hard, current_hard_limit(Resource::RLIMIT_NOFILE));
        assert!(soft <= hard);
    }

    #[test]
    fn user_is_applied_only_by_root() {
        assert_eq!(ChildSetup::new(&limits(1000, None), Some((1000, 1000)), false).user, None);
        assert_eq!(ChildSetup::new(&limits(1000, None), Some((1000, 1000)), true).user, Some((1000, 1000)));
    }
}
