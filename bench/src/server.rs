//! The real `coderun serve` process the bench measures.
//!
//! [`ServerProcess::start`] runs the binary on `127.0.0.1:0`, waits for its
//! one stdout line `coderun listening on http://ADDR`, and keeps draining
//! stdout afterwards so the server never blocks on a full pipe. Its log
//! (stderr) goes to a file. Dropping the value sends SIGTERM and, if the
//! server has not gone within a few seconds, kills it.

use std::{
    fs,
    net::SocketAddr,
    path::{Path, PathBuf},
    process::Stdio,
    time::{Duration, Instant},
};

use anyhow::{bail, Context, Result};
use tokio::{
    io::{AsyncBufReadExt, BufReader},
    process::{Child, Command},
};

/// How long the server may take to print its listening line.
const START_TIMEOUT: Duration = Duration::from_secs(30);
/// How long the server may take to exit after SIGTERM.
const STOP_TIMEOUT: Duration = Duration::from_secs(10);

/// A running server, owned by the bench.
pub struct ServerProcess {
    child: Child,
    pub pid: u32,
    pub addr: SocketAddr,
    /// The exact command line, for the report.
    pub command: String,
}

impl ServerProcess {
    /// Starts `bin serve --listen 127.0.0.1:0 ARGS...` with its log in `log`.
    pub async fn start(bin: &Path, args: &[String], log: &Path) -> Result<ServerProcess> {
        if !bin.is_file() {
            bail!("no server binary at {} (build it with `cargo build --release --workspace --bins`)", bin.display());
        }
        let log_file = fs::File::create(log).with_context(|| format!("creating {}", log.display()))?;
        let mut cmd = Command::new(bin);
        cmd.args(["serve", "--listen", "127.0.0.1:0"]).args(args);
        cmd.stdin(Stdio::null()).stdout(Stdio::piped()).stderr(log_file).kill_on_drop(true);
        let command = format!("{} serve --listen 127.0.0.1:0 {}", bin.display(), args.join(" "));
        let mut child = cmd.spawn().with_context(|| format!("starting {}", bin.display()))?;
        let pid = child.id().context("the server exited at once")?;

        let mut lines = BufReader::new(child.stdout.take().expect("stdout is piped")).lines();
        let line = match tokio::time::timeout(START_TIMEOUT, lines.next_line()).await {
            Ok(Ok(Some(line))) => line,
            Ok(_) => bail!("the server exited before it listened; see its log {}", log.display()),
            Err(_) => bail!("the server did not listen within {START_TIMEOUT:?}; see its log {}", log.display()),
        };
        let addr = line
            .strip_prefix("coderun listening on http://")
            .with_context(|| format!("unexpected first line on the server's stdout: {line:?}"))?
            .trim()
            .parse()
            .with_context(|| format!("unreadable address in {line:?}"))?;
        tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
        Ok(ServerProcess { child, pid, addr, command })
    }

    /// `ws://ADDR/rpc`
    pub fn ws_url(&self) -> String {
        format!("ws://{}/rpc", self.addr)
    }

    /// The server's resident memory (`VmRSS` of `/proc/PID/status`), in bytes.
    pub fn rss_bytes(&self) -> Result<u64> {
        let status = fs::read_to_string(format!("/proc/{}/status", self.pid)).context("reading the server's status")?;
        let line = status.lines().find(|l| l.starts_with("VmRSS:")).context("no VmRSS line")?;
        let kib: u64 = line.split_whitespace().nth(1).and_then(|v| v.parse().ok()).context("bad VmRSS line")?;
        Ok(kib * 1024)
    }

    /// Whether the process is still running.
    pub fn is_alive(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        if !self.is_alive() {
            return;
        }
        // SAFETY: kill(2) on our own child, not yet reaped while we hold it,
        // so its pid cannot have been reused.
        unsafe { libc::kill(self.pid as libc::pid_t, libc::SIGTERM) };
        let deadline = Instant::now() + STOP_TIMEOUT;
        while Instant::now() < deadline && self.is_alive() {
            std::thread::sleep(Duration::from_millis(20));
        }
        if self.is_alive() {
            eprintln!("the server ignored SIGTERM for {STOP_TIMEOUT:?}; killing it");
            let _ = self.child.start_kill();
        }
    }
}

/// Where the server's log goes by default.
pub fn default_log() -> PathBuf {
    std::env::temp_dir().join("coderun-bench-server.log")
}
