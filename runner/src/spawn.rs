//! Starting a stage's first process.
//!
//! `std::process::Command` does the fork and exec, with the `pre_exec` hook
//! of `limits.rs`; tokio only gets the pipes, wrapped as non-blocking
//! [`Sender`]/[`Receiver`]s. The `Child` itself is dropped without waiting:
//! the runner's one reaper (`reap.rs`) collects it like every other
//! process of the stage.
//!
//! The program is looked up in the `PATH` of the stage's environment (std
//! hands `execvp` the new environment), or libc's default path when that
//! environment has no `PATH`. The environment is exactly the spec's.

use std::io;
use std::os::fd::OwnedFd;
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Command, Stdio};

use coderun_runner::wire::StageSpec;
use tokio::net::unix::pipe::{Receiver, Sender};

use crate::limits::ChildSetup;

/// A running first process and the runner's ends of its stdio.
pub struct Spawned {
    pub pid: i32,
    pub stdin: Sender,
    pub stdout: Receiver,
    pub stderr: Receiver,
}

/// Spawns `spec.argv` in `cwd`. `root` says whether the runner may switch
/// to `spec.user`. `spec.argv` must not be empty.
pub fn spawn(spec: &StageSpec, cwd: &Path, root: bool) -> io::Result<Spawned> {
    let setup = ChildSetup::new(&spec.limits, spec.user, root);
    let mut cmd = Command::new(&spec.argv[0]);
    cmd.args(&spec.argv[1..])
        .env_clear()
        .envs(spec.env.iter().map(|(k, v)| (k, v)))
        .current_dir(cwd)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    // Safety: `apply` makes async-signal-safe system calls only and touches
    // nothing but its own copied data.
    unsafe {
        cmd.pre_exec(move || setup.apply());
    }
    let mut child = cmd.spawn()?;
    let pid = child.id() as i32;
    let (stdin, stdout, stderr) = match (child.stdin.take(), child.stdout.take(), child.stderr.take()) {
        (Some(i), Some(o), Some(e)) => (OwnedFd::from(i), OwnedFd::from(o), OwnedFd::from(e)),
        _ => unreachable!("all three streams were piped"),
    };
    // The pipes cannot fail to convert: they are pipes, opened the right
    // way round. Were it to happen the process is reaped by kill-all all
    // the same; the caller's error path runs it.
    Ok(Spawned {
        pid,
        stdin: Sender::from_owned_fd(stdin)?,
        stdout: Receiver::from_owned_fd(stdout)?,
        stderr: Receiver::from_owned_fd(stderr)?,
    })
}

/// The exit code a shell would give for a program that could not be run:
/// 127 when it was not found, 126 otherwise.
pub fn failure_exit_code(e: &io::Error) -> i32 {
    if e.kind() == io::ErrorKind::NotFound {
        127
    } else {
        126
    }
}
