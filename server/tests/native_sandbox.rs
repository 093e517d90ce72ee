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
use coderun_server::sandbox::{HostLimits, Sandbox, SandboxError, SandboxShape, SandboxSpec};

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
        let config = NativeConfig { runner_path: Some(runner_path()), ..NativeConfig::default() };
        NativeBackend::new(config).expect("this host must offer the native sandbox")
    })
}

/// Job ids unique within this process; the cgroup names carry its pid.
fn next_job() -> u64 {
    static NEXT: AtomicU64 = AtomicU64::new(1);
    NEXT.fetch_add(1, Ordering::SeqCst)
}

async fn start(job: u64, limits: HostLimits) -> Sandbox {
    let spec = SandboxSpec { job, shape: SandboxShape::Native { mounts: Vec::new() }, limits };
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

#[test]
fn this_host_offers_full_isolation() {
    let features = backend().features();
    for f in [
        "sandbox:native",
        "isolation:userNamespace",
        "isolation:pidNamespace",
        "isolation:mountNamespace",
        "isolation:networkNamespace",
        "isolation:ipcNamespace",
        "isolation:utsNamespace",
        "isolation:cgroupMemory",
        "isolation:cgroupPids",
        "isolation:noNewPrivs",
    ] {
        assert!(features.iter().any(|x| x == f), "{f} missing from {features:?}");
    }
    assert!(!features.iter().any(|x| x == "isolation:none"));
}

#[tokio::test]
async fn the_student_is_uid_1000_in_a_fresh_root() {
    assert_eq!(backend().stage_user(), Some((1000, 1000)), "the tests run as root, so a second uid is mapped");
    let mut sb = start(next_job(), limits()).await;
    let r = sh(&mut sb, "id; hostname; pwd; ls -a /; echo --; ls /etc").await;
    assert_eq!(r.report.exit_code, Some(0), "{}", r.stderr);
    let lines: Vec<&str> = r.stdout.lines().collect();
    assert_eq!(lines[0], "uid=1000(student) gid=1000(student) groups=1000(student)");
    assert_eq!(lines[1], "coderun");
    assert_eq!(lines[2], "/work");
    let root: HashSet<&str> = r.stdout.lines().skip(3).take_while(|l| *l != "--").collect();
    for absent in ["root", "home", "boot", "var", "srv", "mnt", "sys", "old_root", "oldroot", "newroot"] {
        assert!(!root.contains(absent), "/{absent} is visible: {root:?}");
    }
    for present in ["usr", "bin", "proc", "dev", "work", "tmp", "etc", ".coderun"] {
        assert!(root.contains(present), "/{present} is missing: {root:?}");
    }

    let r = sh(&mut sb, "cat /etc/shadow; ls /root; ls /home; cat /etc/passwd; ps -e -o pid=,user=,comm=").await;
    assert!(r.stderr.contains("/etc/shadow: No such file"), "{}", r.stderr);
    assert!(r.stderr.contains("/root") && r.stderr.contains("/home"), "{}", r.stderr);
    assert!(r.stdout.contains("student:x:1000:1000"), "{}", r.stdout);
    // Only the sandbox's own processes are visible, the runner as PID 1.
    let procs: Vec<&str> =
        r.stdout.lines().filter(|l| l.trim_start().chars().next().is_some_and(|c| c.is_ascii_digit())).collect();
    assert!(procs.iter().any(|l| l.trim_start().starts_with("1 ")), "{procs:?}");
    assert!(procs.len() <= 4, "host processes are visible: {procs:?}");
}

#[tokio::test]
async fn writes_outside_work_and_tmp_fail() {
    let mut sb = start(next_job(), limits()).await;
    let script = "for p in /x /usr/x /etc/x /bin/x /.coderun/x /dev/x /proc/sys/kernel/hostname; do \
                  (echo x > $p) 2>/dev/null && echo WROTE $p; done; \
                  mount -o remount,rw /usr 2>/dev/null && echo REMOUNTED; \
                  echo a > /work/a && echo b > /tmp/b && echo c > /dev/shm/c && echo d > /dev/null && cat /work/a /tmp/b /dev/shm/c; \
                  df -P /work /tmp | tail -n 2";
    let r = sh(&mut sb, script).await;
    assert!(!r.stdout.contains("WROTE") && !r.stdout.contains("REMOUNTED"), "{}", r.stdout);
    assert!(r.stdout.starts_with("a\nb\nc\n"), "{}\n{}", r.stdout, r.stderr);
    assert!(r.stdout.contains("tmpfs"), "work and tmp are tmpfs: {}", r.stdout);
}

#[tokio::test]
async fn even_the_sandboxs_root_cannot_make_host_paths_writable() {
    let mut sb = start(next_job(), limits()).await;
    // MS_REMOUNT | MS_BIND with the flags the bind mounts carry, minus
    // MS_RDONLY: what would make /usr writable again, if it were allowed.
    let script = "import ctypes, os\n\
                  libc = ctypes.CDLL(None, use_errno=True)\n\
                  flags = 32 | 4096 | 2 | 4 | (1 << 21)\n\
                  for target in [b'/usr', b'/', b'/.coderun/runner']:\n    \
                      r = libc.mount(None, target, None, flags, None)\n    \
                      print(target.decode(), r, os.strerror(ctypes.get_errno()))\n    \
                      r = libc.umount2(target, 2)\n    \
                      print(target.decode(), r)\n\
                  print(os.getuid())\n";
    let mut spec = stage(&["python3", "-c", script], 20_000);
    spec.user = None;
    let r = run(&mut sb, spec).await;
    assert_eq!(r.report.exit_code, Some(0), "{}", r.stderr);
    assert!(r.stdout.ends_with("\n0\n"), "the stage ran as the sandbox's root: {}", r.stdout);
    assert!(!r.stdout.lines().any(|l| l.ends_with(" 0")), "a mount changed: {}", r.stdout);
    let r = sh(&mut sb, "touch /usr/x /x 2>&1; echo done").await;
    assert!(r.stdout.contains("Read-only file system") && r.stdout.ends_with("done\n"), "{}", r.stdout);
}

#[tokio::test]
async fn a_runner_that_never_says_ready_times_out_and_leaves_nothing() {
    // `cat` as the runner waits on stdin for ever and never says Ready.
    let config =
        NativeConfig { runner_path: Some("/usr/bin/cat".into()), ready_timeout_ms: 500, ..NativeConfig::default() };
    let silent = NativeBackend::new(config).expect("backend");
    let job = next_job();
    let started = Instant::now();
    let err = silent
        .start(SandboxSpec { job, shape: SandboxShape::Native { mounts: Vec::new() }, limits: limits() })
        .await
        .err()
        .expect("no Ready");
    assert!(matches!(err, SandboxError::RunnerTimeout), "{err:?}");
    assert!(started.elapsed() < Duration::from_secs(5));
    eventually("the job's cgroups are gone", || job_cgroups(job).is_empty()).await;
}

#[tokio::test]
async fn the_hosts_loopback_is_unreachable_but_the_sandboxes_works() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let mut sb = start(next_job(), limits()).await;
    let script = format!(
        "import socket\n\
         s = socket.socket(); s.settimeout(3)\n\
         try:\n    s.connect(('127.0.0.1', {port})); print('host reachable')\n\
         except OSError as e:\n    print('host unreachable', e.errno)\n\
         l = socket.socket(); l.bind(('127.0.0.1', 0)); l.listen(1)\n\
         c = socket.create_connection(l.getsockname(), timeout=3); print('own loopback ok')\n\
         print(sorted(n for _, n in socket.if_nameindex()))\n"
    );
    let r = run(&mut sb, stage(&["python3", "-c", &script], 20_000)).await;
    assert!(r.stdout.starts_with("host unreachable"), "{}\n{}", r.stdout, r.stderr);
    assert!(r.stdout.contains("own loopback ok"), "{}\n{}", r.stdout, r.stderr);
    assert!(r.stdout.contains("['lo']"), "only lo exists: {}", r.stdout);
    drop(listener);
}

#[tokio::test]
async fn a_memory_hog_is_oom_killed_and_counted() {
    let mut sb = start(next_job(), HostLimits { memory_bytes: 128 * MIB, processes: 64 }).await;
    sb.control.reset_peak();
    let r = run(&mut sb, stage(&["python3", "-c", "b = b'x' * (1 << 30); print(len(b))"], 30_000)).await;
    assert_eq!(r.report.signal, Some(9), "{:?} {}", r.report, r.stderr);
    assert!(r.stdout.is_empty());
    let usage = sb.control.usage();
    assert!(usage.oom_kills > 0, "{usage:?}");
    let peak = usage.memory_peak_bytes.expect("v1 and v2 report a peak");
    assert!(peak > 64 * MIB && peak <= 128 * MIB, "peak {peak}");

    // The runner survived the OOM kill, and a raised limit takes effect.
    sb.control.set_limits(HostLimits { memory_bytes: 512 * MIB, processes: 64 }).await.unwrap();
    let r = run(&mut sb, stage(&["python3", "-c", "b = b'x' * (300 << 20); print(len(b))"], 30_000)).await;
    assert_eq!(r.stdout.trim(), (300u64 << 20).to_string(), "{:?} {}", r.report, r.stderr);
}

#[tokio::test]
async fn forks_stop_at_the_pids_limit() {
    let job = next_job();
    let mut sb = start(job, HostLimits { memory_bytes: 256 * MIB, processes: 16 }).await;
    let script = "import os, time\n\
                  n = 0\n\
                  for i in range(500):\n    \
                      try:\n        pid = os.fork()\n    except OSError:\n        break\n    \
                      if pid == 0:\n        time.sleep(30); os._exit(0)\n    \
                      n += 1\n\
                  print(n)\n";
    let r = run(&mut sb, stage(&["python3", "-c", script], 20_000)).await;
    let forked: u64 = r.stdout.trim().parse().unwrap_or_else(|_| panic!("{} {}", r.stdout, r.stderr));
    let cap = 16 + NativeConfig::default().runner_processes;
    assert!(forked < cap, "forked {forked} processes, over the cap of {cap}");

    // A real fork bomb runs into the same wall and the sandbox lives on.
    let bomb = run(&mut sb, stage(&["bash", "-c", "b() { b | b & }; b; sleep 3"], 3_000)).await;
    assert!(bomb.report.killed.is_some() || bomb.report.exit_code.is_some(), "{:?}", bomb.report);
    let after = sh(&mut sb, "echo alive").await;
    assert_eq!(after.stdout, "alive\n", "{:?} {}", after.report, after.stderr);
}

#[tokio::test]
async fn dropping_the_sandbox_leaves_nothing_behind() {
    let job = next_job();
    let uid = backend().student_host_uid(job).expect("a second uid is mapped");
    let mounts_before = std::fs::read_to_string("/proc/self/mountinfo").unwrap().lines().count();
    let mut sb = start(job, limits()).await;
    assert!(!job_cgroups(job).is_empty(), "the job has cgroups while it runs");

    // A stage that leaves a daemon in its own session and keeps running.
    let mut spec = stage(&["sh", "-c", "setsid sh -c 'sleep 1000' & sleep 1000"], 60_000);
    spec.stdin = StdinMode::Interactive;
    sb.link.send(HostMsg::Stage(spec)).await.unwrap();
    let started = tokio::time::timeout(STAGE_TIMEOUT, sb.link.recv()).await.unwrap();
    assert!(matches!(started, Some(Ok(RunnerMsg::StageStarted))), "{started:?}");
    eventually("the student's processes run on the host", || {
        host_uids().contains(&uid)
            && job_cgroups(job)
                .iter()
                .any(|d| std::fs::read_to_string(d.join("cgroup.procs")).unwrap_or_default().lines().count() >= 3)
    })
    .await;

    drop(sb);
    eventually("the job's cgroups are gone", || job_cgroups(job).is_empty()).await;
    eventually("no process of the student's uid is left", || !host_uids().contains(&uid)).await;
    let mounts_after = std::fs::read_to_string("/proc/self/mountinfo").unwrap().lines().count();
    assert_eq!(mounts_before, mounts_after, "the host's mount table changed");
}

#[tokio::test]
async fn files_live_only_in_the_sandbox() {
    let mut sb = start(next_job(), limits()).await;
    let marker = format!("coderun-marker-{}", std::process::id());
    sb.link
        .send(HostMsg::WriteFiles(vec![coderun_runner::wire::File {
            path: format!("{marker}.txt"),
            content: b"hello".to_vec(),
            executable: false,
        }]))
        .await
        .unwrap();
    let written = tokio::time::timeout(STAGE_TIMEOUT, sb.link.recv()).await.unwrap();
    assert!(matches!(written, Some(Ok(RunnerMsg::FilesWritten))), "{written:?}");
    let r = sh(&mut sb, &format!("cat {marker}.txt; echo more >> {marker}.txt && echo appended")).await;
    assert_eq!(r.stdout, "helloappended\n", "{}", r.stderr);
    // The host's /tmp (where the staging root was mounted, privately) and
    // the runner's directory hold nothing of it.
    for dir in [Path::new("/tmp"), runner_path().parent().unwrap()] {
        let leaked =
            std::fs::read_dir(dir).unwrap().flatten().any(|e| e.file_name().to_string_lossy().contains(&marker));
        assert!(!leaked, "{} holds a job file", dir.display());
    }
}
