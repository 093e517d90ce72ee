//! Hostile programs: each must end with the right status while a job that
//! was already running and a job started beside it succeed on the same
//! server, and must leave nothing on the host: no process (found by the
//! test's marker in command lines), no job cgroup, no mount, no file.
//!
//! The tests in this file run one at a time (a process-wide lock), because
//! "nothing left on the host" compares the host before and after, and
//! another hostile test's job in between would blur that picture.

use std::{
    sync::{
        atomic::{AtomicUsize, Ordering},
        Arc,
    },
    time::Duration,
};

use coderun_tests::{
    contain::{assert_not_refused, bash_guard, contain, contain_with, with_args_and_limits, PYTHON_DISK_GUARD},
    host::{cgroups_under, containers_of, wait_until_process_with, Marker, Snapshot},
    http::get,
    programs::{bash, python, sleeper},
    Client, JobRun, Server, ServerOptions,
};
use serde_json::json;
use tokio::sync::{Mutex, MutexGuard};

static SERIAL: Mutex<()> = Mutex::const_new(());

/// One hostile test's world: the lock, a server with room for the hostile
/// job and both innocent ones, the host before the job, and the marker.
///
/// The server gets a cgroup parent of its own, so that its jobs' cgroups can
/// be told apart from those of any other coderun server on the machine.
struct Scene {
    server: Server,
    cgroup_parent: String,
    before: Snapshot,
    marker: Marker,
    // Declared last: released after the server has stopped.
    _serial: MutexGuard<'static, ()>,
}

impl Scene {
    async fn new() -> anyhow::Result<Scene> {
        let serial = SERIAL.lock().await;
        let marker = Marker::new();
        let cgroup_parent = format!("coderun-test-{}", marker.text());
        // The warm pool is off here, so that every cgroup that appears
        // belongs to the job under test (tests/warm_pool.rs covers pooled
        // sandboxes and their removal).
        let config = format!("[native]\ncgroup_parent = \"{cgroup_parent}\"\n[pool]\nper_key = 0\n");
        let server = Server::start(ServerOptions::default().run_slots(3).config(&config)).await?;
        let before = Snapshot::take(&cgroup_parent).with_containers_of(server.instance());
        Ok(Scene { server, cgroup_parent, before, marker, _serial: serial })
    }

    /// Checks the host is clean and the server still healthy and serving.
    async fn assert_clean_after(mut self) -> anyhow::Result<()> {
        self.before.assert_nothing_left(&self.marker).await?;
        assert!(self.server.is_alive(), "the server died");
        assert_eq!(get(&self.server, "/healthz").await?.status, 200);
        let run = Client::ready(&self.server).await?.run(python("print('after')")).await?;
        run.assert_exited_ok();
        Ok(())
    }
}

impl Drop for Scene {
    fn drop(&mut self) {
        // Stop the server now (the field's own drop would come too late for
        // the cleanup below), then remove its empty cgroup parent.
        self.server.stop();
        coderun_tests::host::remove_cgroup_parent(&self.cgroup_parent);
    }
}

/// Parses lines `key value` the hostile programs print about themselves.
fn reported(run: &JobRun, key: &str) -> String {
    let stdout = run.stdout();
    let line = stdout.lines().find_map(|l| l.strip_prefix(&format!("{key} ")));
    line.unwrap_or_else(|| panic!("the program did not report {key:?}:\n{}", run.summary())).to_owned()
}

/// The checks below can see a job: while one runs, its processes carry the
/// marker and its cgroups are under the server's parent (on Docker: its
/// container carries the server's instance label); once it is cancelled,
/// all are gone. (Without this, "nothing left" could pass by
/// looking in the wrong place.)
#[tokio::test]
async fn leftover_checks_see_a_running_job() -> anyhow::Result<()> {
    let scene = Scene::new().await?;
    let mut client = Client::ready(&scene.server).await?;
    let params = with_args_and_limits(sleeper(&scene.marker, 50), &[], json!({"wallTimeMs": 60000}));
    let id = client.start_run(params).await?;
    client.wait_for_output(&id, "started").await?;
    let processes = wait_until_process_with(scene.marker.text(), Duration::from_secs(10)).await?;
    match scene.server.instance() {
        // The Docker backend's jobs are containers, not cgroups of ours.
        Some(instance) => {
            let containers = containers_of(instance);
            assert!(!containers.is_empty(), "no container of instance {instance} while a job runs");
            println!("while running: processes {processes:?}, containers {containers:?}");
        }
        None => {
            let cgroups = cgroups_under(&scene.cgroup_parent);
            assert!(!cgroups.is_empty(), "no cgroup under {} while a job runs", scene.cgroup_parent);
            println!("while running: processes {processes:?}, cgroups {cgroups:?}");
        }
    }
    client.notify("$/cancelRequest", json!({"id": id})).await?;
    assert_eq!(client.collect(&id).await?.status(), "cancelled");
    scene.assert_clean_after().await
}

/// A fork bomb rages until the wall time ends it, and neither the bystander
/// nor a new job notices it. (The first process keeps the stage alive with
/// a loop of builtins, which needs no fork; otherwise the stage would end,
/// bomb and all, the moment the script did.)
#[tokio::test]
async fn fork_bomb_is_contained() -> anyhow::Result<()> {
    let scene = Scene::new().await?;
    let code = format!("{}:(){{ :|:& }};:\nwhile :; do :; done\n", bash_guard(&scene.server));
    let params = with_args_and_limits(bash(&code), &[scene.marker.text()], json!({"wallTimeMs": 5000}));
    let run = contain(&scene.server, params).await?;
    assert_not_refused(&run);
    let status = run.status();
    assert!(["timeout", "cpuTime", "memory"].contains(&status), "the bomb ended with {status}:\n{}", run.summary());
    scene.assert_clean_after().await
}

/// Allocating 1 GiB under the default memory limit ends with `memory`.
#[tokio::test]
async fn huge_allocation_ends_with_memory_status() -> anyhow::Result<()> {
    let scene = Scene::new().await?;
    let code = "import sys\nprint('started', flush=True)\nb = bytearray(1 << 30)\nprint('allocated', len(b))\n";
    let params = with_args_and_limits(python(code), &[scene.marker.text()], json!({"memoryBytes": 256 << 20}));
    let run = contain(&scene.server, params).await?;
    assert_eq!(run.status(), "memory", "{}", run.summary());
    assert!(!run.stdout().contains("allocated"), "{}", run.summary());
    scene.assert_clean_after().await
}

/// Spinning on the CPU past `cpuTimeMs` ends with `cpuTime`.
#[tokio::test]
async fn cpu_spin_ends_with_cpu_time_status() -> anyhow::Result<()> {
    let scene = Scene::new().await?;
    let code = "print('started', flush=True)\nwhile True:\n    pass\n";
    let limits = json!({"cpuTimeMs": 1000, "wallTimeMs": 30000});
    let run = contain(&scene.server, with_args_and_limits(python(code), &[scene.marker.text()], limits)).await?;
    assert_eq!(run.status(), "cpuTime", "{}", run.summary());
    scene.assert_clean_after().await
}

/// `sleep 3600` under a one-second wall limit ends with `timeout`.
#[tokio::test]
async fn sleep_past_wall_time_ends_with_timeout() -> anyhow::Result<()> {
    let scene = Scene::new().await?;
    let code = format!("echo started\nsleep {}\necho woke\n", scene.marker.sleep_args(3600));
    let run = contain(&scene.server, with_args_and_limits(bash(&code), &[], json!({"wallTimeMs": 1000}))).await?;
    assert_eq!(run.status(), "timeout", "{}", run.summary());
    assert_eq!(run.result()["exitCode"], json!(null));
    assert!(run.result()["signal"].is_string(), "a timeout names how it was killed: {}", run.summary());
    scene.assert_clean_after().await
}

/// Daemons that leave their session (one by `setsid`, one by the classic
/// double fork) and outlive their parent are killed when the job ends; the
/// job itself ends when its first process does.
#[tokio::test]
async fn daemon_that_leaves_its_session_is_killed() -> anyhow::Result<()> {
    let scene = Scene::new().await?;
    let sleep = scene.marker.sleep_args(3600);
    let code = format!(
        "echo started\nsetsid sleep {sleep} </dev/null >/dev/null 2>&1 &\n{}\nsleep 3\necho parent done\n",
        double_fork(&sleep)
    );
    // Both daemons really run while the parent does.
    let marker = scene.marker.text().to_owned();
    let both_up = async move {
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        loop {
            let found = coderun_tests::host::processes_with(&marker);
            if found.len() >= 2 {
                return Ok(());
            }
            anyhow::ensure!(std::time::Instant::now() < deadline, "the daemons never ran: {found:?}");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    };
    let params = with_args_and_limits(bash(&code), &[], json!({"wallTimeMs": 30000}));
    let run = contain_with(&scene.server, params, both_up).await?;
    run.assert_exited_ok();
    assert!(run.stdout().contains("parent done"), "{}", run.summary());
    scene.assert_clean_after().await
}

/// A daemon that keeps the job's stdout open does not keep the job alive:
/// the stage ends when its first process ends.
#[tokio::test]
async fn daemon_holding_stdout_does_not_keep_the_job_alive() -> anyhow::Result<()> {
    let scene = Scene::new().await?;
    let code = format!("echo started\nsetsid sleep {} &\necho parent done\n", scene.marker.sleep_args(3600));
    let run = contain(&scene.server, with_args_and_limits(bash(&code), &[], json!({"wallTimeMs": 30000}))).await?;
    run.assert_exited_ok();
    scene.assert_clean_after().await
}

/// 1 GiB written to stdout is cut at exactly `outputBytes`, reported as
/// `outputLimit` with `outputTruncated`, and the server's memory stays flat.
#[tokio::test]
async fn output_flood_is_cut_at_the_limit_and_server_memory_stays_flat() -> anyhow::Result<()> {
    let scene = Scene::new().await?;
    let limit: usize = 8 << 20;
    let baseline = scene.server.rss_bytes()?;
    let peak = Arc::new(AtomicUsize::new(baseline as usize));
    let sampler = {
        let (peak, pid) = (peak.clone(), scene.server.pid);
        tokio::spawn(async move {
            while let Ok(rss) = coderun_tests::host::rss_bytes(pid) {
                peak.fetch_max(rss as usize, Ordering::Relaxed);
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        })
    };
    let code = "import sys\nprint('started', flush=True)\nb = b'x' * 65536\nfor _ in range(16384):\n    sys.stdout.buffer.write(b)\n";
    let limits = json!({"outputBytes": limit, "wallTimeMs": 30000});
    let run = contain(&scene.server, with_args_and_limits(python(code), &[scene.marker.text()], limits)).await?;
    sampler.abort();
    assert_eq!(run.status(), "outputLimit", "{}", run.summary());
    assert_eq!(run.result()["outputTruncated"], json!(true));
    let received: usize = run.outputs().iter().map(|(_, t)| t.len()).sum();
    assert_eq!(received, limit, "bytes received versus outputBytes");
    let grew = peak.load(Ordering::Relaxed).saturating_sub(baseline as usize);
    assert!(grew < 100 << 20, "the server's RSS grew by {} MiB", grew >> 20);
    scene.assert_clean_after().await
}

/// Filling the working directory and `/tmp` ends in an error the program
/// sees; the job ends normally and nothing of it is on the host's disk.
#[tokio::test]
async fn filling_the_disk_fails_inside_the_sandbox_only() -> anyhow::Result<()> {
    let scene = Scene::new().await?;
    let code = format!("{PYTHON_DISK_GUARD}{DISK_FILL}");
    let limits = json!({"wallTimeMs": 30000, "memoryBytes": 1 << 30});
    let run = contain(&scene.server, with_args_and_limits(python(&code), &[scene.marker.text()], limits)).await?;
    assert_not_refused(&run);
    run.assert_exited_ok();
    for dir in [".", "/tmp"] {
        let err = reported(&run, dir);
        assert!(["ENOSPC", "EFBIG", "EDQUOT"].contains(&err.as_str()), "writing to {dir} ended with {err}");
    }
    scene.assert_clean_after().await
}

/// Opening 100000 files stops at `openFiles` with EMFILE.
#[tokio::test]
async fn opening_many_files_stops_at_the_limit() -> anyhow::Result<()> {
    let scene = Scene::new().await?;
    let code = OPEN_MANY;
    let limits = json!({"openFiles": 100});
    let run = contain(&scene.server, with_args_and_limits(python(code), &[scene.marker.text()], limits)).await?;
    run.assert_exited_ok();
    assert_eq!(reported(&run, "error"), "EMFILE", "{}", run.summary());
    let opened: usize = reported(&run, "opened").parse()?;
    assert!(opened < 100, "opened {opened} files under openFiles 100");
    scene.assert_clean_after().await
}

/// The host's 127.0.0.1 is not the sandbox's: a listener the test opens on
/// the host is unreachable, the sandbox's own loopback refuses, and `lo` is
/// the only interface.
#[tokio::test]
async fn host_loopback_is_unreachable() -> anyhow::Result<()> {
    let scene = Scene::new().await?;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let port = listener.local_addr()?.port();
    let accepted = Arc::new(AtomicUsize::new(0));
    let acceptor = {
        let accepted = accepted.clone();
        tokio::spawn(async move {
            while listener.accept().await.is_ok() {
                accepted.fetch_add(1, Ordering::Relaxed);
            }
        })
    };
    let code = CONNECT_LOOPBACK;
    let params = with_args_and_limits(python(code), &[&port.to_string(), scene.marker.text()], json!({}));
    let run = contain(&scene.server, params).await?;
    acceptor.abort();
    run.assert_exited_ok();
    assert_eq!(accepted.load(Ordering::Relaxed), 0, "the job reached the host's listener");
    assert_eq!(reported(&run, "connect"), "ECONNREFUSED", "{}", run.summary());
    assert_eq!(reported(&run, "interfaces"), "lo", "{}", run.summary());
    scene.assert_clean_after().await
}

/// An address outside the machine (198.51.100.1, TEST-NET-2) is unreachable
/// at once: the sandbox's network has no route, so nothing leaves the host.
#[tokio::test]
async fn outside_address_is_unreachable_at_once() -> anyhow::Result<()> {
    let scene = Scene::new().await?;
    let code = CONNECT_OUTSIDE;
    let run = contain(&scene.server, with_args_and_limits(python(code), &[scene.marker.text()], json!({}))).await?;
    run.assert_exited_ok();
    assert_eq!(reported(&run, "connect"), "ENETUNREACH", "{}", run.summary());
    scene.assert_clean_after().await
}

/// `/etc/shadow` and `/root` of the host cannot be read.
#[tokio::test]
async fn host_secrets_are_not_readable() -> anyhow::Result<()> {
    let scene = Scene::new().await?;
    let code = READ_SECRETS;
    let run = contain(&scene.server, with_args_and_limits(python(code), &[scene.marker.text()], json!({}))).await?;
    run.assert_exited_ok();
    for name in ["shadow", "root"] {
        let outcome = reported(&run, name);
        assert!(!outcome.starts_with("ok"), "the job could read {name}: {outcome}");
    }
    let home = reported(&run, "home");
    assert!(!home.starts_with("ok") || home == "ok []", "the job sees home directories: {home}");
    scene.assert_clean_after().await
}

/// `kill -9 -1` inside a job kills at most the job: the server, the
/// bystander and a new job carry on.
#[tokio::test]
async fn kill_all_harms_only_the_job() -> anyhow::Result<()> {
    let scene = Scene::new().await?;
    let code = format!(
        "{}sleep {} &\nsleep 0.2\nkill -9 -1\necho survived\n",
        bash_guard(&scene.server),
        scene.marker.sleep_args(3600)
    );
    let run = contain(&scene.server, with_args_and_limits(bash(&code), &[], json!({"wallTimeMs": 10000}))).await?;
    assert_not_refused(&run);
    assert_ne!(run.status(), "cancelled", "{}", run.summary());
    scene.assert_clean_after().await
}

/// Bash that forks twice with a `setsid` between, then runs `sleep ARGS`:
/// the classic daemon, reparented away from the job's process tree. (In
/// the shell itself, because a Bash job's image need not have Python.)
fn double_fork(sleep_args: &str) -> String {
    format!("( setsid sh -c 'sleep \"$@\" </dev/null >/dev/null 2>&1 &' sh {sleep_args} </dev/null >/dev/null 2>&1 & )")
}

/// Writes 8 MiB files named after the marker into `.` and `/tmp` until a
/// write fails, then prints `DIR ERRNO` for each.
const DISK_FILL: &str = r#"import errno
marker = sys.argv[1]
chunk = b'\0' * (1 << 20)
for d in ['.', '/tmp']:
    err = None
    for i in range(4096):
        try:
            with open(os.path.join(d, f'fill-{marker}-{i}'), 'wb') as f:
                for _ in range(8):
                    f.write(chunk)
        except OSError as e:
            err = errno.errorcode.get(e.errno, str(e.errno))
            break
    print(d, err, flush=True)
"#;

/// Opens one file up to 100000 times, then prints how many and the error.
const OPEN_MANY: &str = r#"import errno, os
print('started', flush=True)
open('f', 'w').close()
fds, err = [], None
for i in range(100000):
    try:
        fds.append(os.open('f', os.O_RDONLY))
    except OSError as e:
        err = errno.errorcode.get(e.errno)
        break
print('opened', len(fds))
print('error', err)
"#;

/// Lists the network interfaces and connects to 127.0.0.1:ARGV[1].
const CONNECT_LOOPBACK: &str = r#"import errno, socket, sys
print('started', flush=True)
print('interfaces', ','.join(n for _, n in socket.if_nameindex()))
s = socket.socket()
s.settimeout(5)
try:
    s.connect(('127.0.0.1', int(sys.argv[1])))
    print('connect connected')
except socket.timeout:
    print('connect timeout')
except OSError as e:
    print('connect', errno.errorcode.get(e.errno, e.errno))
"#;

/// Connects to 198.51.100.1:80 (TEST-NET-2, a documentation address).
const CONNECT_OUTSIDE: &str = r#"import errno, socket
print('started', flush=True)
s = socket.socket()
s.settimeout(10)
try:
    s.connect(('198.51.100.1', 80))
    print('connect connected')
except socket.timeout:
    print('connect timeout')
except OSError as e:
    print('connect', errno.errorcode.get(e.errno, e.errno))
"#;

/// Tries to read the host's secrets, printing `NAME ok ...` or `NAME ERRNO`.
const READ_SECRETS: &str = r#"import errno, os
print('started', flush=True)
def attempt(name, f):
    try:
        print(name, 'ok', repr(f())[:100])
    except OSError as e:
        print(name, errno.errorcode.get(e.errno, e.errno))
attempt('shadow', lambda: open('/etc/shadow').read())
attempt('root', lambda: os.listdir('/root'))
attempt('home', lambda: os.listdir('/home'))
"#;
