//! The baselines: the same programs spawned directly on the host.
//!
//! Each baseline job gets a fresh directory under one scratch directory,
//! has its files written there, and runs its [`Program`]'s host steps one
//! after the other with stdout piped and read to the end, as coderun does.
//! The time counted is from creating the directory to the last step's exit:
//! the same work a `run` asks of coderun, minus the sandbox and the
//! protocol. The environment is the sandbox's: cleared, then `PATH`, `HOME`,
//! `LANG` and the language's own variables. Removing the directory afterwards is not counted.

use std::{
    fs,
    path::{Path, PathBuf},
    process::Stdio,
    sync::atomic::{AtomicU64, Ordering},
    time::{Duration, Instant, SystemTime},
};

use anyhow::{bail, Context, Result};
use tokio::{io::AsyncReadExt, process::Command};

use crate::programs::Program;

/// The `PATH` coderun gives sandboxes (`server/src/catalog/mod.rs`). The
/// baseline uses it too, so that both find the same interpreter and
/// compiler: a developer's `PATH` may put a slower wrapper first (a pyenv
/// shim adds tens of milliseconds to every start).
const SANDBOX_PATH: &str = "/usr/local/bin:/usr/bin:/bin";

/// A directory of baseline jobs, removed when dropped.
pub struct Scratch {
    root: PathBuf,
    next: AtomicU64,
}

/// One baseline job as its reader saw it.
#[derive(Debug, Clone)]
pub struct HostTrace {
    pub elapsed: Duration,
    /// Each stdout read of the last step, with the wall clock at its return.
    pub stdout: Vec<(SystemTime, String)>,
}

impl Scratch {
    pub fn new() -> Result<Scratch> {
        let root = std::env::temp_dir().join(format!("coderun-bench-{}", std::process::id()));
        fs::create_dir_all(&root).with_context(|| format!("creating {}", root.display()))?;
        Ok(Scratch { root, next: AtomicU64::new(0) })
    }

    /// Runs `program` directly on the host, in a fresh directory.
    pub async fn run(&self, program: &Program) -> Result<HostTrace> {
        let dir = self.root.join(self.next.fetch_add(1, Ordering::Relaxed).to_string());
        let started = Instant::now();
        fs::create_dir(&dir).with_context(|| format!("creating {}", dir.display()))?;
        for (path, content) in &program.files {
            fs::write(dir.join(path), content).with_context(|| format!("writing {path}"))?;
        }
        let mut stdout = Vec::new();
        for step in &program.host_steps {
            stdout = run_step(&dir, step, &program.env).await?;
        }
        let elapsed = started.elapsed();
        let _ = fs::remove_dir_all(&dir);
        Ok(HostTrace { elapsed, stdout })
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.root);
    }
}

/// Runs one command in `dir`, reading its stdout as it comes; fails unless
/// it exits with 0.
async fn run_step(dir: &Path, argv: &[&str], env: &[(&str, &str)]) -> Result<Vec<(SystemTime, String)>> {
    let mut cmd = Command::new(argv[0]);
    cmd.args(&argv[1..])
        .current_dir(dir)
        .env_clear()
        .env("PATH", SANDBOX_PATH)
        .env("HOME", dir)
        .env("LANG", "C.UTF-8")
        .envs(env.iter().copied())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .kill_on_drop(true);
    let mut child = cmd.spawn().with_context(|| format!("starting {}", argv[0]))?;
    let mut pipe = child.stdout.take().expect("stdout is piped");
    let mut chunks = Vec::new();
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let n = pipe.read(&mut buf).await.context("reading stdout")?;
        if n == 0 {
            break;
        }
        chunks.push((SystemTime::now(), String::from_utf8_lossy(&buf[..n]).into_owned()));
    }
    let status = child.wait().await.context("waiting for the process")?;
    if !status.success() {
        bail!("{} failed: {status}", argv.join(" "));
    }
    Ok(chunks)
}
