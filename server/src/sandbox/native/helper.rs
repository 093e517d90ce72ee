//! The sandbox helper: `coderun __sandbox`, which the server runs once per
//! sandbox (and once at startup to probe the host). It is single-threaded,
//! so unlike the tokio server it may fork and unshare.
//!
//! The process tree it builds, as the host sees it:
//!
//! ```text
//! server
//! └─ P  helper: host namespaces, child subreaper, outside the job's cgroup;
//!    │  writes C's uid/gid maps, then reaps everything below and exits
//!    │  with C's status. SIGTERM makes it kill C.
//!    └─ C  joins the job's cgroups, unshares user, mount, pid, network,
//!       │  IPC and UTS namespaces, waits for its id maps, forks G, later
//!       │  writes G's nested id maps, then waits for G
//!       └─ G  PID 1 of the new pid namespace: hostname, loopback, the new
//!          │  root (mounts.rs), a nested user namespace that locks the
//!          │  mounts, no_new_privs, then execs the runner
//!          └─ stage processes, started by the runner
//! ```
//!
//! C and G die with their parent (`PR_SET_PDEATHSIG`), and G is the pid
//! namespace's init, so the kernel kills every process of the sandbox when
//! G dies. P stays outside the cgroup so that the server can kill
//! everything inside it and P still reaps it all: no zombie is left to a
//! host init that may never reap it.

use std::convert::Infallible;
use std::ffi::CString;
use std::io::{self, Read, Write};
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicI32, Ordering};

use nix::fcntl::OFlag;
use nix::sched::{unshare, CloneFlags};
use nix::sys::prctl;
use nix::sys::signal::{self, SigHandler, SigSet, Signal};
use nix::unistd::{self, ForkResult, Pid};

use super::handshake::{
    die_with_parent, null_stdio, parent_died, read_status, reap_all, send_go, send_status, wait_for, wait_for_go,
    SETUP_FAILED,
};
use super::idmap::{open_proc, write_id_maps, IdMaps};
use super::mounts;
use super::probe;
use super::setup::{HelperSetup, Mode, SandboxSetup, HOSTNAME, RUNNER_IN_SANDBOX, SETUP_ENV, STUDENT_ID};
use super::step::{Step, StepError};

/// The namespaces a sandbox lives in.
pub const SANDBOX_NAMESPACES: CloneFlags = CloneFlags::CLONE_NEWUSER
    .union(CloneFlags::CLONE_NEWNS)
    .union(CloneFlags::CLONE_NEWPID)
    .union(CloneFlags::CLONE_NEWNET)
    .union(CloneFlags::CLONE_NEWIPC)
    .union(CloneFlags::CLONE_NEWUTS);

/// The runner's whole environment; stages get theirs from `StageSpec.env`.
const RUNNER_ENV: [&str; 3] = ["PATH=/usr/local/bin:/usr/bin:/bin", "HOME=/work", "LANG=C.UTF-8"];

/// C's pid, for the SIGTERM handler of P.
static CHILD: AtomicI32 = AtomicI32::new(0);
/// Set when P got SIGTERM before C's pid was known.
static TERMINATED: AtomicBool = AtomicBool::new(false);

/// The entry point of `coderun __sandbox`. The server's `main` calls it
/// first thing, before any runtime or thread exists. Never returns.
pub fn helper_main() -> ! {
    let code = match read_setup().and_then(run) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("sandbox helper: {}", e.line());
            SETUP_FAILED
        }
    };
    std::process::exit(code)
}

fn read_setup() -> Result<HelperSetup, StepError> {
    let text = std::env::var(SETUP_ENV).map_err(io::Error::other).step("read the setup")?;
    serde_json::from_str(&text).map_err(io::Error::other).step("parse the setup")
}

/// Process P: fork C, write its id maps, reap everything, pass on its status.
fn run(setup: HelperSetup) -> Result<i32, StepError> {
    prctl::set_child_subreaper(true).step("become a child subreaper")?;
    // A child that gave up closes its pipes; writing to them must fail with
    // EPIPE, not kill the helper. (exec_runner restores the default.)
    // SAFETY: SIG_IGN installs no handler.
    unsafe { signal::signal(Signal::SIGPIPE, SigHandler::SigIgn) }.step("ignore SIGPIPE")?;
    let forward =
        signal::SigAction::new(SigHandler::Handler(kill_child_on_sigterm), signal::SaFlags::empty(), SigSet::empty());
    // SAFETY: the handler only loads atomics and calls kill(2), which is
    // async-signal-safe.
    unsafe { signal::sigaction(Signal::SIGTERM, &forward) }.step("handle SIGTERM")?;

    let (from_child, to_parent) = unistd::pipe2(OFlag::O_CLOEXEC).step("create a pipe")?;
    let (from_parent, to_child) = unistd::pipe2(OFlag::O_CLOEXEC).step("create a pipe")?;
    let report = match setup.mode {
        Mode::Probe { .. } => Some(unistd::pipe2(OFlag::O_CLOEXEC).step("create a pipe")?),
        _ => None,
    };
    let me = unistd::getpid();
    // SAFETY: the helper is single-threaded.
    match unsafe { unistd::fork() }.step("fork")? {
        ForkResult::Child => {
            drop((from_child, to_child));
            let report = report.map(|(r, w)| {
                drop(r);
                w
            });
            first_child(&setup, me, to_parent, from_parent, report)
        }
        ForkResult::Parent { child } => {
            CHILD.store(child.as_raw(), Ordering::SeqCst);
            if TERMINATED.load(Ordering::SeqCst) {
                let _ = signal::kill(child, Signal::SIGKILL);
            }
            drop((to_parent, from_parent));
            match setup.mode {
                Mode::Probe { student_host_id } => {
                    let (r, w) = report.expect("probe mode has a report pipe");
                    probe::probe_parent(child, student_host_id, from_child, to_child, r, w)
                }
                Mode::Sandbox(ref s) => {
                    null_stdio();
                    let maps = IdMaps::new(unistd::geteuid().as_raw(), unistd::getegid().as_raw(), s.student_host_ids);
                    let ready = read_status(from_child)
                        .and_then(|()| open_proc())
                        .and_then(|proc| write_id_maps(proc.as_fd(), child, &maps));
                    if let Err(e) = &ready {
                        eprintln!("sandbox helper: {}", e.line());
                    }
                    send_go(to_child, ready.is_ok());
                    Ok(reap_all(child))
                }
                Mode::Unsandboxed { .. } => {
                    null_stdio();
                    let ready = read_status(from_child);
                    if let Err(e) = &ready {
                        eprintln!("sandbox helper: {}", e.line());
                    }
                    send_go(to_child, ready.is_ok());
                    Ok(reap_all(child))
                }
            }
        }
    }
}

extern "C" fn kill_child_on_sigterm(_: libc::c_int) {
    TERMINATED.store(true, Ordering::SeqCst);
    let child = CHILD.load(Ordering::SeqCst);
    if child > 0 {
        // SAFETY: kill(2) is async-signal-safe.
        unsafe { libc::kill(child, libc::SIGKILL) };
    }
}

/// Process C. Never returns: it execs the runner (unsandboxed), or waits
/// for G and exits with its status.
fn first_child(
    setup: &HelperSetup,
    parent: Pid,
    to_parent: OwnedFd,
    from_parent: OwnedFd,
    report: Option<OwnedFd>,
) -> ! {
    let code = match first_child_steps(setup, parent, to_parent, from_parent, report) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("sandbox helper: {}", e.line());
            SETUP_FAILED
        }
    };
    // SAFETY: _exit skips the atexit handlers that belong to P.
    unsafe { libc::_exit(code) }
}

fn first_child_steps(
    setup: &HelperSetup,
    parent: Pid,
    to_parent: OwnedFd,
    from_parent: OwnedFd,
    report: Option<OwnedFd>,
) -> Result<i32, StepError> {
    die_with_parent()?;
    if unistd::getppid() != parent {
        return Ok(SETUP_FAILED);
    }
    // P's SIGTERM handler makes no sense in C.
    // SAFETY: SIG_DFL installs no handler.
    unsafe { signal::signal(Signal::SIGTERM, SigHandler::SigDfl) }.step("reset SIGTERM")?;
    // Invariant: the first thing C does is enter the job's cgroups, so that
    // every process of the sandbox is counted, limited and killable there.
    let joined = join_cgroups(setup);
    match &setup.mode {
        Mode::Probe { .. } => {
            let report = report.expect("probe mode has a report pipe");
            Ok(probe::probe_child(to_parent, from_parent, report))
        }
        Mode::Unsandboxed { runner, workdir } => {
            send_status(to_parent, &joined);
            joined?;
            if !wait_for_go(from_parent) {
                return Ok(SETUP_FAILED);
            }
            unistd::chdir(workdir.as_path()).step("enter the working directory")?;
            prctl::set_no_new_privs().step("set no_new_privs")?;
            match exec_runner(runner) {
                Ok(never) => match never {},
                Err(e) => Err(e),
            }
        }
        Mode::Sandbox(s) => {
            let unshared = joined.and_then(|()| unshare(SANDBOX_NAMESPACES).step("create namespaces"));
            send_status(to_parent, &unshared);
            unshared?;
            if !wait_for_go(from_parent) {
                return Ok(SETUP_FAILED);
            }
            // The credentials changed with the new user namespace; set the
            // parent-death signal again rather than rely on the kernel's
            // rules for when it survives.
            die_with_parent()?;
            if s.student_host_ids.is_some() {
                // Drop the host's supplementary groups; only a privileged
                // map allows it, and only then is there a second id.
                unistd::setgroups(&[]).step("drop supplementary groups")?;
            }
            // G asks on `ask` for its nested id maps (see lock_mounts) and
            // C answers on `answer`; G also learns of C's death there.
            let (ask_r, ask_w) = unistd::pipe2(OFlag::O_CLOEXEC).step("create a pipe")?;
            let (answer_r, answer_w) = unistd::pipe2(OFlag::O_CLOEXEC).step("create a pipe")?;
            let proc = open_proc()?;
            // SAFETY: C is single-threaded.
            match unsafe { unistd::fork() }.step("fork the sandbox init")? {
                ForkResult::Child => {
                    drop((ask_r, answer_w, proc));
                    sandbox_init(s, ask_w, answer_r)
                }
                ForkResult::Parent { child } => {
                    drop((ask_w, answer_r));
                    null_stdio();
                    let nested = IdMaps::new(0, 0, s.student_host_ids.map(|_| (STUDENT_ID, STUDENT_ID)));
                    let mut byte = [0u8; 1];
                    if matches!(std::fs::File::from(ask_r).read(&mut byte), Ok(1)) {
                        let mapped = write_id_maps(proc.as_fd(), child, &nested);
                        if let Err(e) = &mapped {
                            eprintln!("sandbox helper: {}", e.line());
                        }
                        send_go(answer_w, mapped.is_ok());
                    }
                    Ok(wait_for(child))
                }
            }
        }
    }
}

/// Process G, PID 1 of the sandbox. Never returns: it execs the runner.
fn sandbox_init(s: &SandboxSetup, ask: OwnedFd, answer: OwnedFd) -> ! {
    let e = match sandbox_init_steps(s, ask, answer) {
        Ok(never) => match never {},
        Err(e) => e,
    };
    eprintln!("sandbox helper: {}", e.line());
    // SAFETY: see first_child.
    unsafe { libc::_exit(SETUP_FAILED) }
}

fn sandbox_init_steps(s: &SandboxSetup, ask: OwnedFd, answer: OwnedFd) -> Result<Infallible, StepError> {
    die_with_parent()?;
    if parent_died(&answer) {
        // SAFETY: see first_child.
        unsafe { libc::_exit(SETUP_FAILED) }
    }
    nix::sys::stat::umask(nix::sys::stat::Mode::from_bits_truncate(0o022));
    unistd::sethostname(HOSTNAME).step("set the hostname")?;
    loopback_up()?;
    mounts::build_root(s)?;
    lock_mounts(ask, answer)?;
    // Again, for the same reason as in C: the credentials changed.
    die_with_parent()?;
    prctl::set_no_new_privs().step("set no_new_privs")?;
    unistd::chdir("/work").step("enter /work")?;
    exec_runner(Path::new(RUNNER_IN_SANDBOX))
}

/// Makes the read-only mounts permanent. The runner is root of the
/// sandbox's user namespace, and there root may remount a bind mount it
/// made read-write: with sandbox root mapped to the server's uid, that
/// would open the host's `/usr` to it. So G moves into a nested user and
/// mount namespace: the kernel locks every mount it copies into a less
/// privileged namespace, and a locked read-only mount stays read-only and
/// cannot be unmounted to uncover what lies below. C, privileged in the
/// sandbox's namespace, maps the same ids into the nested one.
///
/// Invariant: no process of the sandbox, root of it or not, can make a
/// host path writable.
fn lock_mounts(ask: OwnedFd, answer: OwnedFd) -> Result<(), StepError> {
    unshare(CloneFlags::CLONE_NEWUSER | CloneFlags::CLONE_NEWNS).step("create the locking namespaces")?;
    std::fs::File::from(ask).write_all(b"1").step("ask for the nested id maps")?;
    if !wait_for_go(answer) {
        return Err(StepError::new("lock the mounts", io::Error::other("the nested id maps were not written")));
    }
    Ok(())
}

/// Brings up `lo`, the only interface of the new network namespace, so
/// that programs may talk to themselves over 127.0.0.1 and nowhere else.
pub fn loopback_up() -> Result<(), StepError> {
    use nix::sys::socket::{socket, AddressFamily, SockFlag, SockType};
    let sock =
        socket(AddressFamily::Inet, SockType::Datagram, SockFlag::SOCK_CLOEXEC, None).step("open a socket for lo")?;
    // SAFETY: ifreq is plain data; zero is a valid value for every field.
    let mut req: libc::ifreq = unsafe { std::mem::zeroed() };
    for (dst, src) in req.ifr_name.iter_mut().zip(b"lo\0") {
        *dst = *src as libc::c_char;
    }
    // SAFETY: the ioctls read and write the ifreq we pass, nothing else.
    unsafe {
        if libc::ioctl(sock.as_raw_fd(), libc::SIOCGIFFLAGS, &mut req) < 0 {
            return Err(StepError::new("read the flags of lo", io::Error::last_os_error()));
        }
        req.ifr_ifru.ifru_flags |= (libc::IFF_UP | libc::IFF_RUNNING) as libc::c_short;
        if libc::ioctl(sock.as_raw_fd(), libc::SIOCSIFFLAGS, &req) < 0 {
            return Err(StepError::new("bring up lo", io::Error::last_os_error()));
        }
    }
    Ok(())
}

fn join_cgroups(setup: &HelperSetup) -> Result<(), StepError> {
    let pid = unistd::getpid().to_string();
    for procs in &setup.cgroup_procs {
        std::fs::write(procs, &pid).step(format_args!("join {}", procs.display()))?;
    }
    Ok(())
}

/// Execs the runner with a clean environment, default signal handling and
/// no file descriptor but stdio.
fn exec_runner(path: &Path) -> Result<Infallible, StepError> {
    let prog = CString::new(path.as_os_str().as_encoded_bytes()).map_err(io::Error::other).step("name the runner")?;
    let argv = [CString::new("coderun-runner").expect("no NUL")];
    let env: Vec<CString> = RUNNER_ENV.iter().map(|v| CString::new(*v).expect("no NUL")).collect();
    // The server ignores SIGPIPE (Rust does) and exec keeps ignored
    // signals ignored; the runner and the students' programs must not
    // inherit that.
    for sig in Signal::iterator() {
        if sig != Signal::SIGKILL && sig != Signal::SIGSTOP {
            // SAFETY: SIG_DFL installs no handler.
            let _ = unsafe { signal::signal(sig, SigHandler::SigDfl) };
        }
    }
    let _ = signal::sigprocmask(signal::SigmaskHow::SIG_SETMASK, Some(&SigSet::empty()), None);
    // SAFETY: close_range only sets flags on descriptors.
    unsafe { libc::syscall(libc::SYS_close_range, 3u32, u32::MAX, libc::CLOSE_RANGE_CLOEXEC) };
    let e = unistd::execve(&prog, &argv, &env).unwrap_err();
    Err(StepError::new(format_args!("exec the runner {}", path.display()), e))
}
