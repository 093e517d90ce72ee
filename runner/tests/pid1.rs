//! The runner as the native backend starts it: PID 1 of a fresh PID
//! namespace, root of its own user namespace. `unshare` stands in for the
//! backend; these tests need unprivileged user namespaces, as the native
//! backend itself does, and fail when they are missing.

mod common;

use std::time::{Duration, Instant};

use coderun_runner::wire::{File, HostMsg, KillReason, RunnerMsg};
use common::{sh, spec, Runner};

/// PID 1 with a `/proc` of its own namespace.
const WITH_OWN_PROC: &[&str] = &["unshare", "--user", "--map-root-user", "--pid", "--fork", "--mount-proc"];
/// PID 1 that sees the host's `/proc`: the runner must not trust it.
const WITH_HOST_PROC: &[&str] = &["unshare", "--user", "--map-root-user", "--pid", "--fork"];

/// A daemon (double fork, `setsid`) that bumps a counter in `beat` every
/// 20 ms. Whether it still runs is read from the file, since its pid means
/// nothing outside the namespace.
const HEARTBEAT: &str = "\
import os, time
if os.fork() == 0:
    os.setsid()
    if os.fork() == 0:
        n = 0
        while True:
            n += 1
            with open('beat.tmp', 'w') as f:
                f.write(str(n))
            os.rename('beat.tmp', 'beat')
            time.sleep(0.02)
    os._exit(0)
while not os.path.exists('beat'):
    time.sleep(0.01)
print(os.getpid())
";

async fn daemon_is_dead_after_stage_exit(wrapper: &[&str]) {
    let mut r = Runner::start_under(wrapper).await;
    let script = File { path: "beat.py".into(), content: HEARTBEAT.as_bytes().to_vec(), executable: false };
    assert_eq!(r.write_files(vec![script]).await, RunnerMsg::FilesWritten);
    let run = r.stage(spec(&["python3", "beat.py"])).await;
    assert_eq!(run.report().exit_code, Some(0), "{}", run.stderr());
    // The runner is PID 1, so the stage's first process is one of the
    // first pids of the namespace.
    let first: i32 = run.stdout().trim().parse().unwrap();
    assert!(first < 10, "not in a fresh PID namespace: pid {first}");
    let before = r.read("beat");
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(r.read("beat"), before, "the daemon still beats after StageExit");
}

#[tokio::test]
async fn as_pid1_a_daemon_is_dead_after_stage_exit() {
    daemon_is_dead_after_stage_exit(WITH_OWN_PROC).await;
}

#[tokio::test]
async fn as_pid1_without_its_own_proc_a_daemon_is_still_dead_after_stage_exit() {
    daemon_is_dead_after_stage_exit(WITH_HOST_PROC).await;
}

#[tokio::test]
async fn as_pid1_limits_and_kill_work() {
    let mut r = Runner::start_under(WITH_OWN_PROC).await;
    let mut s = sh("spin() { while :; do :; done; }; spin & spin");
    s.limits.cpu_time_ms = 1500;
    let run = r.stage(s).await;
    assert_eq!(run.report().killed, Some(KillReason::CpuTime));
    let mut s = spec(&["sleep", "3600"]);
    s.limits.wall_time_ms = 200;
    assert_eq!(r.stage(s).await.report().killed, Some(KillReason::WallTime));
    r.send(HostMsg::Stage(sh("echo go; sleep 3600"))).await;
    r.expect_started().await;
    let mut run = common::StageRun::default();
    r.wait_for_stdout(&mut run, "go").await;
    r.send(HostMsg::Kill).await;
    assert_eq!(r.finish_stage().await.report().killed, Some(KillReason::Host));
}

#[tokio::test]
async fn as_pid1_files_are_written_and_host_eof_ends_everything() {
    let mut r = Runner::start_under(WITH_OWN_PROC).await;
    assert_eq!(r.write_files(vec![common::file("a/b.txt", "hi")]).await, RunnerMsg::FilesWritten);
    r.send(HostMsg::Stage(sh("cat a/b.txt; echo; sleep 3600"))).await;
    r.expect_started().await;
    let mut run = common::StageRun::default();
    r.wait_for_stdout(&mut run, "hi\n").await;
    let closed_at = Instant::now();
    r.close_stdin();
    assert_eq!(r.try_recv().await, None);
    assert_eq!(r.wait().await, Some(0));
    assert!(closed_at.elapsed() < Duration::from_secs(5));
}
