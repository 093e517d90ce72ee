//! How the helper's processes wait for each other.
//!
//! P, C and G (see `helper.rs`) talk over one-shot pipes: a child reports a
//! status line (`ok`, or `err` and the error), a parent answers with one
//! byte (go or give up), and the end of a pipe stands for the death of the
//! process that held it. Waiting and reaping live here too.

use std::io::{self, Read, Write};
use std::os::fd::{AsFd, OwnedFd};

use nix::errno::Errno;
use nix::fcntl::OFlag;
use nix::sys::prctl;
use nix::sys::signal::Signal;
use nix::sys::wait::{waitpid, WaitStatus};
use nix::unistd::{self, Pid};

use super::step::{Step, StepError};

/// Exit status of a helper process that failed before the runner started.
pub const SETUP_FAILED: i32 = 125;

/// Has the kernel SIGKILL this process when its parent dies.
pub fn die_with_parent() -> Result<(), StepError> {
    prctl::set_pdeathsig(Signal::SIGKILL).step("set the parent-death signal")
}

/// Whether the write end of `alive`, held only by the parent, has closed.
pub fn parent_died(alive: &OwnedFd) -> bool {
    use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
    let mut fds = [PollFd::new(alive.as_fd(), PollFlags::POLLIN)];
    matches!(poll(&mut fds, PollTimeout::ZERO), Ok(n) if n > 0)
}

/// Tells the parent how a step went: `ok`, or `err` and the error's line.
pub fn send_status(to_parent: OwnedFd, status: &Result<(), StepError>) {
    let line = match status {
        Ok(()) => "ok\n".to_string(),
        Err(e) => format!("err {}\n", e.line()),
    };
    let _ = std::fs::File::from(to_parent).write_all(line.as_bytes());
}

/// Reads the child's status line; end of file means the child died.
pub fn read_status(from_child: OwnedFd) -> Result<(), StepError> {
    let mut text = String::new();
    let read = std::fs::File::from(from_child).read_to_string(&mut text);
    read.step("read the sandbox's status")?;
    match text.trim_end().split_once(' ') {
        _ if text == "ok\n" => Ok(()),
        Some(("err", msg)) => Err(StepError::new("set up the sandbox", io::Error::other(msg.to_string()))),
        _ => Err(StepError::new("set up the sandbox", io::Error::other("the sandbox process died"))),
    }
}

/// Tells the child to go on (after its id maps are written) or to give up.
pub fn send_go(to_child: OwnedFd, go: bool) {
    let _ = std::fs::File::from(to_child).write_all(if go { b"1" } else { b"0" });
}

pub fn wait_for_go(from_parent: OwnedFd) -> bool {
    let mut byte = [0u8; 1];
    matches!(std::fs::File::from(from_parent).read(&mut byte), Ok(1) if byte[0] == b'1')
}

/// Waits for one child and turns its end into an exit status.
pub fn wait_for(child: Pid) -> i32 {
    loop {
        match waitpid(child, None) {
            Ok(WaitStatus::Exited(_, code)) => return code,
            Ok(WaitStatus::Signaled(_, sig, _)) => return 128 + sig as i32,
            Ok(_) | Err(Errno::EINTR) => continue,
            Err(_) => return SETUP_FAILED,
        }
    }
}

/// Reaps every child, adopted orphans included, until none is left;
/// returns the status of `main`.
pub fn reap_all(main: Pid) -> i32 {
    let mut code = SETUP_FAILED;
    loop {
        match waitpid(None::<Pid>, None) {
            Ok(WaitStatus::Exited(pid, c)) if pid == main => code = c,
            Ok(WaitStatus::Signaled(pid, sig, _)) if pid == main => code = 128 + sig as i32,
            Ok(_) | Err(Errno::EINTR) => continue,
            Err(_) => return code,
        }
    }
}

/// Points stdin and stdout at /dev/null, so that only the runner holds the
/// server's pipes and the server sees end of file as soon as it exits.
pub fn null_stdio() {
    if let Ok(null) = nix::fcntl::open("/dev/null", OFlag::O_RDWR | OFlag::O_CLOEXEC, nix::sys::stat::Mode::empty()) {
        let _ = unistd::dup2(null, 0);
        let _ = unistd::dup2(null, 1);
        let _ = unistd::close(null);
    }
}
