//! The native backend with the real runner, on this host, for real.
//!
//! Each test starts sandboxes through `NativeBackend` and drives stages over
//! the `RunnerLink` with `coderun_runner::wire` messages. They need root
//! (or at least user namespaces) and the runner binary: build it first with
//! `cargo build -p coderun-runner` (scripts/test does). Missing isolation
//! fails these tests; it never skips them.
//!
//! The backend runs `current_exe() __sandbox` as its helper; here that is
//! this test binary, so it must dispatch to `helper_main` before libtest
//! starts: glibc calls `.init_array` entries with `argc` and `argv` before
//! `main`, while the process is still single-threaded.

use std::collections::HashSet;
use std::ffi::{c_char, c_int, CStr};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use coderun_runner::wire::{HostMsg, OutputStream, RunnerMsg, StageLimits, StageReport, StageSpec, StdinMode};
use coderun_server::config::NativeConfig;
use coderun_server::sandbox::native::{helper_main, NativeBackend, HELPER_ARG};
use coderun_server::sandbox::{HostLimits, Sandbox, SandboxSpec};

#[used]
#[link_section = ".init_array"]
static HELPER_DISPATCH: extern "C" fn(c_int, *const *const c_char, *const *const c_char) = dispatch;

extern "C" fn dispatch(argc: c_int, argv: *const *const c_char, _env: *const *const c_char) {
    if argc >= 2 {
        // SAFETY: glibc passes the process's argv, NUL-terminated strings.
        let arg = unsafe { CStr::from_ptr(*argv.add(1)) };
        if arg.to_bytes() == HELPER_ARG.as_bytes() {
            helper_main();
        }
    }
}

const MIB: u64 = 1024 * 1024;
const STAGE_TIMEOUT: Duration = Duration::from_secs(60);

fn runner_path() -> PathBuf {
    let p = Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/debug/coderun-runner");
    assert!(p.exists(), "{} is missing: run `cargo build -p coderun-runner` first", p.display());
    p
}

fn backend() -> &'static NativeBackend {
    static BACKEND: OnceLock<NativeBackend> = OnceLock::new();
    BACKEND.get_or_init(|| {
        let _ = tracing_subscriber::fmt().with_test_writer().with_env_filter("info").try_init();
        let config = NativeConfig { runner_path: Some(runner_path()), allow_unsandboxed: std::env::var("ALLOW").is_ok(), ..NativeConfig::default() };
        NativeBackend::new(config).expect("this host must offer the native sandbox")
    })
}

/// Job ids unique within this process; the cgroup names carry its pid.
fn next_job() -> u64 {
    static NEXT: AtomicU64 = AtomicU64::new(1);
    NEXT.fetch_add(1, Ordering::SeqCst)
}

async fn start(job: u64, limits: HostLimits) -> Sandbox {
    let spec = SandboxSpec { job, mounts: Vec::new(), limits };
    backend().start(spec).await.expect("sandbox starts")
}

fn limits() -> HostLimits {
    HostLimits { memory_bytes: 256 * MIB, processes: 64 }
}

fn stage(argv: &[&str], wall_ms: u64) -> StageSpec {
    StageSpec {
        argv: argv.iter().map(|s| s.to_string()).collect(),
        env: vec![("PATH".into(), "/usr/local/bin:/usr/bin:/bin".into()), ("HOME".into(), "/work".into())],
        cwd: ".".into(),
        stdin: StdinMode::Bytes(Vec::new()),
        limits: StageLimits {
            wall_time_ms: wall_ms,
            cpu_time_ms: wall_ms,
            output_bytes: MIB,
            file_size_bytes: MIB,
            open_files: 256,
            processes: None,
        },
        user: backend().stage_user(),
    }
}

struct Ran {
    report: StageReport,
    stdout: String,
    stderr: String,
}

/// Runs one stage to its end and collects its output.
async fn run(sb: &mut Sandbox, spec: StageSpec) -> Ran {
    sb.link.send(HostMsg::Stage(spec)).await.expect("send stage");
    let (mut stdout, mut stderr) = (Vec::new(), Vec::new());
    loop {
        let msg = tokio::time::timeout(STAGE_TIMEOUT, sb.link.recv()).await.expect("stage ends in time");
        match msg.expect("runner still there").expect("frame decodes") {
            RunnerMsg::StageStarted => {}
            RunnerMsg::Output { stream: OutputStream::Stdout, bytes } => stdout.extend(bytes),
            RunnerMsg::Output { stream: OutputStream::Stderr, bytes } => stderr.extend(bytes),
            RunnerMsg::StageExit(report) => {
                let ran = Ran {
                    report,
                    stdout: String::from_utf8_lossy(&stdout).into_owned(),
                    stderr: String::from_utf8_lossy(&stderr).into_owned(),
                };
                return ran;
            }
            other => panic!("unexpected {other:?}"),
        }
    }
}

async fn sh(sb: &mut Sandbox, script: &str) -> Ran {
    run(sb, stage(&["sh", "-c", script], 20_000)).await
}

/// The job's cgroup directories, in whichever controllers this host has.
fn job_cgroups(job: u64) -> Vec<PathBuf> {
    let name = format!("coderun/job-{}-{job}", std::process::id());
    let mut roots = vec![PathBuf::from("/sys/fs/cgroup")];
    roots.extend(std::fs::read_dir("/sys/fs/cgroup").unwrap().flatten().map(|e| e.path()));
    roots.into_iter().map(|r| r.join(&name)).filter(|p| p.exists()).collect()
}

/// Host uids of every process on the host.
fn host_uids() -> HashSet<u32> {
    let out = std::process::Command::new("ps").args(["-e", "-o", "uid="]).output().expect("ps runs");
    String::from_utf8_lossy(&out.stdout).lines().filter_map(|l| l.trim().parse().ok()).collect()
}

/// Waits (the teardown runs on a blocking thread) until `done` holds.
async fn eventually(what: &str, done: impl Fn() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while !done() {
        assert!(Instant::now() < deadline, "timed out waiting until {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}


#[tokio::test]
async fn scratch_explore() {
    println!("FEATURES {:?} USER {:?}", backend().features(), backend().stage_user());
    let mut sb = start(next_job(), limits()).await;
    let script = std::env::var("SCRATCH").unwrap();
    let r = sh(&mut sb, &script).await;
    println!("REPORT {:?}\nSTDOUT\n{}\nSTDERR\n{}", r.report, r.stdout, r.stderr);
    let mut spec = stage(&["sh", "-c", &script], 20_000);
    spec.user = None;
    let r = run(&mut sb, spec).await;
    println!("AS ROOT REPORT {:?}\nSTDOUT\n{}\nSTDERR\n{}", r.report, r.stdout, r.stderr);
}
