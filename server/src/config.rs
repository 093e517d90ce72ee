//! The server's configuration: every limit, capacity and timeout, named and
//! documented in one place.
//!
//! A TOML file (`coderun serve --config FILE`) sets any subset of these;
//! command-line flags override the file; everything else takes the defaults
//! below. Unknown keys in the file are an error, so that a typo never
//! silently leaves a limit at its default.

use std::{net::SocketAddr, path::PathBuf, time::Duration};

use coderun_protocol::Limits;
use serde::{Deserialize, Serialize};

/// The whole configuration.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields, rename_all = "snake_case")]
pub struct Config {
    /// Address to listen on. Port 0 picks a free port; the server prints
    /// `coderun listening on http://ADDR` on stdout once it accepts.
    pub listen: SocketAddr,
    /// Which sandbox backend runs jobs.
    pub sandbox: SandboxKind,
    /// When set, every session must present this bearer token.
    pub token: Option<String>,
    /// Origins, besides the server's own, whose pages may open `/rpc`.
    pub allowed_origins: Vec<String>,
    /// The language catalog; the built-in one when absent.
    pub catalog: Option<PathBuf>,
    pub limits: LimitsConfig,
    pub scheduler: SchedulerConfig,
    pub connection: ConnectionConfig,
    pub files: FilesConfig,
    pub native: NativeConfig,
    pub docker: DockerConfig,
    pub pool: PoolConfig,
    /// What the diagnostics parsers may hold and send.
    pub diagnostics: DiagnosticsConfig,
    /// How long running jobs may go on after a shutdown signal before they
    /// are cancelled, in milliseconds.
    pub shutdown_grace_ms: u64,
    /// How long a sandbox's runner may take to write a job's files, in ms.
    pub files_timeout_ms: u64,
    /// How long past a stage's wall-time limit the server waits for the
    /// runner's report before it kills the sandbox itself, in ms.
    pub runner_grace_ms: u64,
}

/// Which backend starts sandboxes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "snake_case")]
pub enum SandboxKind {
    /// Linux namespaces, cgroups and rlimits; needs no daemon.
    Native,
    /// A fresh hardened container per job, through the Docker Engine API.
    Docker,
}

/// Limits offered to clients. These tables use the protocol's own names
/// (`wallTimeMs`, `memoryBytes`, ...) so that a limit reads the same in the
/// configuration, in `initialize` and in a `-32004` error.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LimitsConfig {
    /// What a run stage gets for each limit the request does not name.
    pub defaults: Limits,
    /// The largest value a request may ask for.
    pub maximums: Limits,
    /// The build stage's limits (compilers need more than programs).
    pub build: Limits,
}

/// The server-wide scheduler.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SchedulerConfig {
    /// Jobs that may run at once; 0 means one per CPU.
    pub run_slots: usize,
    /// Jobs that may wait for a slot; past it `run` answers `-32005`.
    pub queue_length: usize,
    /// The `retryAfterMs` a busy answer suggests, per queued job ahead.
    pub retry_after_ms: u64,
}

/// One client connection.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ConnectionConfig {
    /// WebSocket and HTTP connections open at once; more are refused with 503.
    pub max_connections: usize,
    /// Jobs one connection may have in flight; past it `run` answers `-32007`.
    pub jobs_per_connection: usize,
    /// Largest message (WebSocket frame or `POST /rpc` body) accepted, in bytes.
    pub max_message_bytes: usize,
    /// A connection with no job and no message for this long is closed, in ms.
    pub idle_timeout_ms: u64,
    /// How long a send to a client may block before the client is dropped, in ms.
    pub send_timeout_ms: u64,
    /// Read and write buffer of each WebSocket, in bytes. Every idle
    /// connection holds this much (tungstenite's default is 128 KiB); a
    /// larger message still arrives whole, the buffer only grows for it.
    pub socket_buffer_bytes: usize,
    /// Messages queued from jobs to one connection before the jobs wait.
    pub outbound_capacity: usize,
    /// Bytes of `job/stdin` queued for one job and not yet taken by it;
    /// text past this is dropped (and logged), never waited for.
    pub stdin_buffer_bytes: usize,
}

/// What the diagnostics parsers may hold and send.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DiagnosticsConfig {
    /// `job/diagnostics` entries one stage sends at most; a program can
    /// print anything that looks like a traceback, so this bounds its cost.
    pub max_per_stage: usize,
    /// The longest output line the parsers read whole, in bytes (rustc's
    /// JSON lines are the longest they need); longer ones stream on unread.
    pub max_line_bytes: usize,
}

impl Default for DiagnosticsConfig {
    fn default() -> Self {
        DiagnosticsConfig { max_per_stage: 200, max_line_bytes: 256 * 1024 }
    }
}

/// The warm pool of started, idle sandboxes.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PoolConfig {
    /// Idle sandboxes kept per set of language mounts (most languages share
    /// one set); 0 turns the pool off and every job starts its own.
    pub per_key: usize,
    /// Idle sandboxes kept in all.
    pub max_total: usize,
    /// An idle sandbox older than this is replaced, in ms.
    pub idle_expiry_ms: u64,
    /// Fill the pool for every language at startup; when false, a shape's
    /// pool fills after its first job.
    pub prefill: bool,
}

impl Default for PoolConfig {
    fn default() -> Self {
        PoolConfig { per_key: 2, max_total: 24, idle_expiry_ms: 300_000, prefill: true }
    }
}

/// Limits on the files of one job.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct FilesConfig {
    /// Files in one job.
    pub max_files: usize,
    /// Bytes of all files together, after decoding.
    pub max_total_bytes: usize,
    /// Bytes in one path.
    pub max_path_bytes: usize,
    /// Directory levels in one path.
    pub max_depth: usize,
}

/// The native backend.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct NativeConfig {
    /// The runner binary; by default `coderun-runner` beside the server's own binary.
    pub runner_path: Option<PathBuf>,
    /// Host directories and files bound read-only at the same path in every
    /// sandbox, when they exist: the toolchains and the few files of `/etc`
    /// they need. Nothing else of the host is visible.
    pub ro_binds: Vec<PathBuf>,
    /// Size of the job's working directory (a tmpfs at `/work`), in bytes.
    pub workdir_bytes: u64,
    /// Size of the job's `/tmp` (a tmpfs), in bytes.
    pub tmp_bytes: u64,
    /// Size of the job's `/dev/shm` (a tmpfs), in bytes.
    pub shm_bytes: u64,
    /// Name of the cgroup under which each job gets its own.
    pub cgroup_parent: String,
    /// CPUs each job may use (cgroup CPU quota); 0 for no quota.
    pub cpus: f64,
    /// First host uid of the range mapped to sandbox users when the server
    /// runs as root; the student's processes run as one of these.
    pub host_uid_base: u32,
    /// How long a new sandbox may take to report ready, in ms. The startup
    /// probe of the host's namespaces gets as long.
    pub ready_timeout_ms: u64,
    /// Processes and threads the sandbox's own machinery (the runner and
    /// its threads) may have beyond a stage's `processes` limit; the job's
    /// pids cgroup allows the sum.
    pub runner_processes: u64,
    /// How long tearing down a sandbox (killing its processes, reaping the
    /// helper, removing its cgroups) may take before the server gives up
    /// and logs an error, in ms.
    pub cleanup_timeout_ms: u64,
    /// Run without namespaces when the host has none. For trusted local use
    /// only: student code then runs with the server's own rights.
    pub allow_unsandboxed: bool,
}

/// The Docker backend: how each job's container is made. Every hardening
/// setting is here, on by default.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DockerConfig {
    /// The engine's socket (`unix:///var/run/docker.sock`); `DOCKER_HOST`,
    /// then the usual socket, when absent.
    pub socket: Option<String>,
    /// This server's name on the engine: every container it makes carries
    /// the label `org.coderun.instance=NAME`, and at startup it removes the
    /// containers of that name a crashed run left behind. Servers sharing
    /// an engine need distinct names.
    pub instance: String,
    /// The container's network; `none` gives it only a loopback interface.
    pub network: String,
    /// The user (`uid:gid`) the runner and the student's code run as.
    pub user: String,
    /// Mount the image's root filesystem read-only.
    pub read_only_root: bool,
    /// Capabilities dropped (`ALL` for every one).
    pub cap_drop: Vec<String>,
    /// Set `no-new-privileges`: setuid binaries do not raise privileges.
    pub no_new_privileges: bool,
    /// Size of the job's working directory (a tmpfs at `/work`), in bytes.
    /// It is `noexec` unless the language runs a binary it built.
    pub workdir_bytes: u64,
    /// Size of the job's `/tmp` (a `noexec` tmpfs), in bytes.
    pub tmp_bytes: u64,
    /// CPUs each container may use (CPU quota); 0 for no quota.
    pub cpus: f64,
    /// `RLIMIT_NOFILE` of the container, a ceiling over each stage's own.
    pub ulimit_open_files: u64,
    /// `RLIMIT_FSIZE` of the container, in bytes.
    pub ulimit_file_size_bytes: u64,
    /// `RLIMIT_CORE` of the container, in bytes (0: no core dumps).
    pub ulimit_core_bytes: u64,
    /// The container's log driver. `none`: the runner's stdio is the job's
    /// protocol and goes only to the attached server; Docker's `json-file`
    /// would copy a flooding program's output to the host's disk.
    pub log_driver: String,
    /// Run Docker's init (`docker-init`) as PID 1. Off by default because
    /// the runner is itself the container's init: PID 1, it reaps every
    /// orphan, and being PID 1 is what makes it immune to a student's
    /// `kill -9 -1`; under docker-init it would be PID 2 and killable.
    pub init: bool,
    /// The container's OOM score adjustment: at 1000 the kernel picks the
    /// job's processes before the server's when the host runs out of memory.
    pub oom_score_adj: i64,
    /// The OCI runtime of every container (`runsc` for gVisor); the
    /// engine's default when absent.
    pub runtime: Option<String>,
    /// Per-language runtimes, overriding `runtime`: `{ python = "runsc" }`.
    pub runtimes: std::collections::BTreeMap<String, String>,
    /// Processes and threads the runner may have beyond a stage's
    /// `processes` limit; the container's pids limit allows the sum.
    pub runner_processes: u64,
    /// How long creating, starting and hearing Ready from a container may
    /// take, in ms.
    pub start_timeout_ms: u64,
    /// How long any other call to the engine may take, in ms.
    pub api_timeout_ms: u64,
}

impl Default for DockerConfig {
    fn default() -> Self {
        DockerConfig {
            socket: None,
            instance: "default".into(),
            network: "none".into(),
            user: "1000:1000".into(),
            read_only_root: true,
            cap_drop: vec!["ALL".into()],
            no_new_privileges: true,
            workdir_bytes: 64 * MIB,
            tmp_bytes: 64 * MIB,
            cpus: 1.0,
            ulimit_open_files: 1024,
            ulimit_file_size_bytes: 64 * MIB,
            ulimit_core_bytes: 0,
            log_driver: "none".into(),
            init: false,
            oom_score_adj: 1000,
            runtime: None,
            runtimes: Default::default(),
            runner_processes: 32,
            start_timeout_ms: 30_000,
            api_timeout_ms: 30_000,
        }
    }
}

const MIB: u64 = 1024 * 1024;

impl Default for Config {
    fn default() -> Self {
        Config {
            listen: "127.0.0.1:8080".parse().unwrap(),
            sandbox: SandboxKind::Native,
            token: None,
            allowed_origins: Vec::new(),
            catalog: None,
            limits: LimitsConfig::default(),
            scheduler: SchedulerConfig::default(),
            connection: ConnectionConfig::default(),
            files: FilesConfig::default(),
            native: NativeConfig::default(),
            docker: DockerConfig::default(),
            pool: PoolConfig::default(),
            diagnostics: DiagnosticsConfig::default(),
            shutdown_grace_ms: 10_000,
            files_timeout_ms: 10_000,
            runner_grace_ms: 5_000,
        }
    }
}

impl Default for LimitsConfig {
    fn default() -> Self {
        LimitsConfig {
            defaults: Limits {
                wall_time_ms: 10_000,
                cpu_time_ms: 10_000,
                memory_bytes: 256 * MIB,
                processes: 64,
                output_bytes: MIB,
                file_size_bytes: 16 * MIB,
                open_files: 256,
            },
            maximums: Limits {
                wall_time_ms: 60_000,
                cpu_time_ms: 60_000,
                memory_bytes: 1024 * MIB,
                processes: 256,
                output_bytes: 16 * MIB,
                file_size_bytes: 64 * MIB,
                open_files: 4096,
            },
            build: Limits {
                wall_time_ms: 60_000,
                cpu_time_ms: 60_000,
                memory_bytes: 1024 * MIB,
                processes: 256,
                output_bytes: MIB,
                file_size_bytes: 128 * MIB,
                open_files: 1024,
            },
        }
    }
}

impl Default for SchedulerConfig {
    fn default() -> Self {
        SchedulerConfig { run_slots: 0, queue_length: 64, retry_after_ms: 1_000 }
    }
}

impl Default for ConnectionConfig {
    fn default() -> Self {
        ConnectionConfig {
            max_connections: 1024,
            jobs_per_connection: 8,
            max_message_bytes: MIB as usize,
            idle_timeout_ms: 600_000,
            send_timeout_ms: 10_000,
            socket_buffer_bytes: 8 * 1024,
            outbound_capacity: 256,
            stdin_buffer_bytes: 1024 * 1024,
        }
    }
}

impl Default for FilesConfig {
    fn default() -> Self {
        FilesConfig { max_files: 64, max_total_bytes: 768 * 1024, max_path_bytes: 255, max_depth: 16 }
    }
}

impl Default for NativeConfig {
    fn default() -> Self {
        NativeConfig {
            runner_path: None,
            ro_binds: [
                "/usr",
                "/bin",
                "/sbin",
                "/lib",
                "/lib64",
                "/lib32",
                "/etc/alternatives",
                "/etc/ld.so.cache",
                "/etc/ld.so.conf",
                "/etc/ld.so.conf.d",
                "/etc/java-17-openjdk",
                "/etc/ssl/certs",
                "/etc/localtime",
            ]
            .into_iter()
            .map(PathBuf::from)
            .collect(),
            workdir_bytes: 64 * MIB,
            tmp_bytes: 64 * MIB,
            shm_bytes: 16 * MIB,
            cgroup_parent: "coderun".into(),
            cpus: 1.0,
            host_uid_base: 200_000,
            ready_timeout_ms: 10_000,
            runner_processes: 32,
            cleanup_timeout_ms: 5_000,
            allow_unsandboxed: false,
        }
    }
}

impl Config {
    /// Reads a TOML configuration file.
    pub fn from_toml(text: &str) -> Result<Config, toml::de::Error> {
        toml::from_str(text)
    }

    /// The number of run slots, with 0 resolved to the CPU count.
    pub fn run_slots(&self) -> usize {
        match self.scheduler.run_slots {
            0 => std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1),
            n => n,
        }
    }

    pub fn idle_timeout(&self) -> Duration {
        Duration::from_millis(self.connection.idle_timeout_ms)
    }

    pub fn send_timeout(&self) -> Duration {
        Duration::from_millis(self.connection.send_timeout_ms)
    }

    pub fn shutdown_grace(&self) -> Duration {
        Duration::from_millis(self.shutdown_grace_ms)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_file_gives_defaults() {
        let c = Config::from_toml("").unwrap();
        assert_eq!(c.limits.defaults.wall_time_ms, 10_000);
        assert_eq!(c.connection.max_message_bytes, 1024 * 1024);
    }

    #[test]
    fn unknown_keys_are_refused() {
        assert!(Config::from_toml("listne = \"127.0.0.1:1\"").is_err());
        assert!(Config::from_toml("[scheduler]\nslots = 3").is_err());
    }

    #[test]
    fn partial_sections_keep_other_defaults() {
        let c = Config::from_toml("[scheduler]\nrun_slots = 3\n[limits.defaults]\nwallTimeMs = 5\ncpuTimeMs = 5\nmemoryBytes = 5\nprocesses = 5\noutputBytes = 5\nfileSizeBytes = 5\nopenFiles = 5\n").unwrap();
        assert_eq!(c.run_slots(), 3);
        assert_eq!(c.scheduler.queue_length, 64);
        assert_eq!(c.limits.defaults.wall_time_ms, 5);
    }
}
