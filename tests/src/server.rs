//! A real `coderun serve` process on a free port, owned by one test.
//!
//! [`Server::start`] writes the test's configuration to a file, starts the
//! binary with `--listen 127.0.0.1:0`, and waits (with a timeout) for the one
//! line it prints once it accepts: `coderun listening on http://ADDR`. The
//! server's stderr goes to a log file whose path the test prints, so a
//! failing test shows where to look; on a panic the log's tail is printed
//! too. Dropping the [`Server`] sends SIGTERM, waits for a graceful exit, and
//! kills the process if it does not come.
//!
//! The binary is `$CODERUN_BIN`, or `target/debug/coderun` of this
//! workspace; the backend is `$CODERUN_SANDBOX` (default `native`), so that
//! every suite runs unchanged against each sandbox backend.

use std::{
    fs,
    net::SocketAddr,
    path::PathBuf,
    process::Stdio,
    sync::atomic::{AtomicU32, Ordering},
    time::{Duration, Instant},
};

use anyhow::{bail, Context, Result};
use tokio::{
    io::{AsyncBufReadExt, BufReader},
    process::{Child, Command},
};

/// How long a server may take to print its listening line.
const START_TIMEOUT: Duration = Duration::from_secs(30);
/// How long a server may take to exit after SIGTERM before it is killed.
const STOP_TIMEOUT: Duration = Duration::from_secs(15);

/// What a test wants of its server. Every field left at its default is left
/// to the server's own default.
#[derive(Debug, Clone, Default)]
pub struct ServerOptions {
    /// `--token`
    pub token: Option<String>,
    /// `--allowed-origin`, once per entry.
    pub allowed_origins: Vec<String>,
    /// `--run-slots`
    pub run_slots: Option<usize>,
    /// `--queue-length`
    pub queue_length: Option<usize>,
    /// `--jobs-per-connection`
    pub jobs_per_connection: Option<usize>,
    /// `--max-connections`
    pub max_connections: Option<usize>,
    /// Extra TOML for settings that have no flag, written to the `--config` file.
    pub config_toml: Option<String>,
    /// Environment variables set for the server process, beside the test's own.
    pub env: Vec<(String, String)>,
}

impl ServerOptions {
    pub fn token(mut self, token: &str) -> Self {
        self.token = Some(token.to_owned());
        self
    }
    pub fn allowed_origin(mut self, origin: &str) -> Self {
        self.allowed_origins.push(origin.to_owned());
        self
    }
    pub fn run_slots(mut self, n: usize) -> Self {
        self.run_slots = Some(n);
        self
    }
    pub fn queue_length(mut self, n: usize) -> Self {
        self.queue_length = Some(n);
        self
    }
    pub fn jobs_per_connection(mut self, n: usize) -> Self {
        self.jobs_per_connection = Some(n);
        self
    }
    pub fn max_connections(mut self, n: usize) -> Self {
        self.max_connections = Some(n);
        self
    }
    pub fn config(mut self, toml: &str) -> Self {
        self.config_toml = Some(toml.to_owned());
        self
    }
    pub fn env(mut self, name: &str, value: &str) -> Self {
        self.env.push((name.to_owned(), value.to_owned()));
        self
    }
}

/// A running server. Dropping it stops the process.
pub struct Server {
    child: Child,
    /// The address it listens on.
    pub addr: SocketAddr,
    /// The server's process id on the host.
    pub pid: u32,
    log: PathBuf,
    config: Option<PathBuf>,
    instance: Option<String>,
}

/// The server binary this run tests.
pub fn binary() -> PathBuf {
    match std::env::var_os("CODERUN_BIN") {
        Some(path) => PathBuf::from(path),
        None => PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target/debug/coderun"),
    }
}

/// The sandbox backend this run tests.
pub fn sandbox() -> String {
    std::env::var("CODERUN_SANDBOX").unwrap_or_else(|_| "native".to_owned())
}

/// The test's configuration with what the backend under test needs added:
/// on Docker, an instance name of its own (so that servers running side by
/// side never sweep each other's containers) and a pool that fills on
/// first use rather than for every language at startup. A test's own
/// values win. Returns the TOML and the instance name.
pub fn backend_config(toml_text: &str, stem: &str) -> Result<(String, Option<String>)> {
    if sandbox() != "docker" {
        return Ok((toml_text.to_owned(), None));
    }
    let mut table: toml::Table = toml_text.parse().context("the test's configuration is not valid TOML")?;
    let docker = table.entry("docker").or_insert_with(|| toml::Value::Table(Default::default()));
    let docker = docker.as_table_mut().context("[docker] is not a table")?;
    let instance = docker
        .entry("instance")
        .or_insert_with(|| toml::Value::String(format!("test-{stem}")))
        .as_str()
        .context("docker.instance is not a string")?
        .to_owned();
    let pool = table.entry("pool").or_insert_with(|| toml::Value::Table(Default::default()));
    pool.as_table_mut().context("[pool] is not a table")?.entry("prefill").or_insert(toml::Value::Boolean(false));
    Ok((toml::to_string(&table)?, Some(instance)))
}

/// Where servers' logs and configuration files go: beside the build, not in
/// `/tmp`, whose contents the hostile suite inspects.
fn scratch_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target/coderun-tests")
}

static NEXT: AtomicU32 = AtomicU32::new(0);

impl Server {
    /// A server with every setting at its default.
    pub async fn start_default() -> Result<Server> {
        Server::start(ServerOptions::default()).await
    }

    /// Starts a server and waits until it listens.
    pub async fn start(options: ServerOptions) -> Result<Server> {
        let bin = binary();
        if !bin.is_file() {
            bail!(
                "the coderun binary is missing at {} (build it with `cargo build --bins`, or set CODERUN_BIN)",
                bin.display()
            );
        }
        let dir = scratch_dir();
        fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
        let stem = format!("server-{}-{}", std::process::id(), NEXT.fetch_add(1, Ordering::Relaxed));
        let log = dir.join(format!("{stem}.log"));

        let mut cmd = Command::new(&bin);
        cmd.args(["serve", "--listen", "127.0.0.1:0", "--sandbox", &sandbox()]);
        let mut config = None;
        let (toml, instance) = backend_config(options.config_toml.as_deref().unwrap_or(""), &stem)?;
        if !toml.is_empty() {
            let path = dir.join(format!("{stem}.toml"));
            fs::write(&path, toml).with_context(|| format!("writing {}", path.display()))?;
            cmd.arg("--config").arg(&path);
            config = Some(path);
        }
        if let Some(token) = &options.token {
            cmd.args(["--token", token]);
        }
        for origin in &options.allowed_origins {
            cmd.args(["--allowed-origin", origin]);
        }
        for (flag, value) in [
            ("--run-slots", options.run_slots),
            ("--queue-length", options.queue_length),
            ("--jobs-per-connection", options.jobs_per_connection),
            ("--max-connections", options.max_connections),
        ] {
            if let Some(v) = value {
                cmd.args([flag, &v.to_string()]);
            }
        }
        let log_file = fs::File::create(&log).with_context(|| format!("creating {}", log.display()))?;
        // Plain logs: they are read by people in a failing test's output.
        cmd.env("NO_COLOR", "1");
        cmd.envs(options.env.iter().map(|(k, v)| (k, v)));
        cmd.stdin(Stdio::null()).stdout(Stdio::piped()).stderr(log_file).kill_on_drop(true);
        let mut child = cmd.spawn().with_context(|| format!("starting {}", bin.display()))?;
        let pid = child.id().context("the server exited at once")?;
        println!("server pid {pid}, log {}", log.display());

        let stdout = child.stdout.take().expect("stdout is piped");
        let mut lines = BufReader::new(stdout).lines();
        let first = tokio::time::timeout(START_TIMEOUT, lines.next_line()).await;
        let line = match first {
            Ok(Ok(Some(line))) => line,
            Ok(Ok(None)) | Ok(Err(_)) => {
                let status = child.wait().await.ok();
                bail!("the server exited ({status:?}) before printing its listening line; its log:\n{}", tail(&log, 40))
            }
            Err(_) => {
                bail!("the server printed no listening line within {START_TIMEOUT:?}; its log:\n{}", tail(&log, 40))
            }
        };
        // The contract: exactly this line, then nothing else on stdout.
        let addr = line
            .strip_prefix("coderun listening on http://")
            .with_context(|| format!("unexpected first line on the server's stdout: {line:?}"))?;
        let addr: SocketAddr =
            addr.trim().parse().with_context(|| format!("unreadable address in the listening line {line:?}"))?;
        // Keep draining stdout so that a chatty server never blocks on a full pipe.
        tokio::spawn(async move {
            while let Ok(Some(line)) = lines.next_line().await {
                println!("unexpected line on the server's stdout: {line}");
            }
        });
        Ok(Server { child, addr, pid, log, config, instance })
    }

    /// The Docker backend's instance name of this server, which labels its
    /// containers; `None` on the native backend.
    pub fn instance(&self) -> Option<&str> {
        self.instance.as_deref()
    }

    /// `ws://ADDR/rpc`
    pub fn ws_url(&self) -> String {
        format!("ws://{}/rpc", self.addr)
    }

    /// `http://ADDR`, the server's own origin.
    pub fn origin(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Whether the process is still running.
    pub fn is_alive(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    /// The server's resident memory, in bytes, from `/proc/PID/status`.
    pub fn rss_bytes(&self) -> Result<u64> {
        crate::host::rss_bytes(self.pid)
    }

    /// Sends SIGTERM, as an operator stopping the service would.
    pub fn terminate(&self) {
        // SAFETY: kill(2) on our own child's pid, which cannot have been
        // reaped (and so reused) while we hold the Child.
        unsafe { libc::kill(self.pid as libc::pid_t, libc::SIGTERM) };
    }

    /// Waits up to `limit` for the process to exit, returning its status.
    pub async fn wait_exit(&mut self, limit: Duration) -> Result<std::process::ExitStatus> {
        match tokio::time::timeout(limit, self.child.wait()).await {
            Ok(status) => Ok(status?),
            Err(_) => bail!("the server did not exit within {limit:?}"),
        }
    }

    /// The last lines of the server's log.
    pub fn log_tail(&self, lines: usize) -> String {
        tail(&self.log, lines)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if std::thread::panicking() {
            eprintln!("--- last lines of the server's log {} ---\n{}", self.log.display(), tail(&self.log, 30));
        }
        self.stop();
        if let Some(config) = &self.config {
            let _ = fs::remove_file(config);
        }
    }
}

impl Server {
    /// Stops the server: SIGTERM, a wait for a graceful exit, then SIGKILL.
    /// Blocks the thread; used on the way out of a test.
    pub fn stop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            self.terminate();
            let deadline = Instant::now() + STOP_TIMEOUT;
            while Instant::now() < deadline {
                if !matches!(self.child.try_wait(), Ok(None)) {
                    break;
                }
                std::thread::sleep(Duration::from_millis(20));
            }
            if let Ok(None) = self.child.try_wait() {
                eprintln!("the server ignored SIGTERM for {STOP_TIMEOUT:?}; killing it");
                let _ = self.child.start_kill();
                let deadline = Instant::now() + Duration::from_secs(5);
                while matches!(self.child.try_wait(), Ok(None)) && Instant::now() < deadline {
                    std::thread::sleep(Duration::from_millis(20));
                }
            }
        }
    }
}

/// The last `n` lines of a file, or a note saying why there are none.
fn tail(path: &PathBuf, n: usize) -> String {
    match fs::read(path) {
        Ok(bytes) => {
            let text = String::from_utf8_lossy(&bytes);
            let lines: Vec<&str> = text.lines().collect();
            lines[lines.len().saturating_sub(n)..].join("\n")
        }
        Err(e) => format!("(cannot read {}: {e})", path.display()),
    }
}
