//! The runner's invariant: after `StageExit` no process of the stage is
//! alive. Also `Kill`, and the host going away.

mod common;

use std::time::{Duration, Instant};

use coderun_runner::wire::{File, HostMsg, KillReason, RunnerMsg};
use common::{alive, pids, sh, spec, Runner};

/// Double-forks, `setsid`s, writes its pid, then sleeps: a classic daemon.
const DAEMON: &str = "\
import os, sys, time
if os.fork() == 0:
    os.setsid()
    if os.fork() == 0:
        with open('daemon.pid.tmp', 'w') as f:
            f.write(str(os.getpid()))
        os.rename('daemon.pid.tmp', 'daemon.pid')
        time.sleep(3600)
    os._exit(0)
while not os.path.exists('daemon.pid'):
    time.sleep(0.01)
print('parent done')
";

#[tokio::test]
async fn a_daemon_that_outlives_its_parent_is_dead_after_stage_exit() {
    let mut r = Runner::start().await;
    let daemon = File { path: "daemon.py".into(), content: DAEMON.as_bytes().to_vec(), executable: false };
    assert_eq!(r.write_files(vec![daemon]).await, RunnerMsg::FilesWritten);
    let started = Instant::now();
    let run = r.stage(spec(&["python3", "daemon.py"])).await;
    assert_eq!(run.stdout(), "parent done\n", "{}", run.stderr());
    assert_eq!(run.report().exit_code, Some(0));
    assert!(started.elapsed() < Duration::from_secs(10));
    let pid = pids(&r.read("daemon.pid"))[0];
    assert!(!alive(pid), "daemon {pid} survived its stage");
}

#[tokio::test]
async fn background_sleepers_are_all_gone_after_stage_exit() {
    let mut r = Runner::start().await;
    let started = Instant::now();
    let run = r.stage(sh("for i in 1 2 3 4 5; do sleep 3600 & echo $! >> pids; done; exit 0")).await;
    assert_eq!(run.report().exit_code, Some(0));
    assert!(started.elapsed() < Duration::from_secs(10));
    let sleepers = pids(&r.read("pids"));
    assert_eq!(sleepers.len(), 5);
    for pid in sleepers {
        assert!(!alive(pid), "sleeper {pid} survived its stage");
    }
}

#[tokio::test]
async fn kill_frame_ends_the_stage_with_host_reason() {
    let mut r = Runner::start().await;
    r.send(HostMsg::Stage(sh("sleep 3600 & echo $! > pids; echo started; sleep 3600"))).await;
    r.expect_started().await;
    let mut run = common::StageRun::default();
    r.wait_for_stdout(&mut run, "started").await;
    let killed_at = Instant::now();
    r.send(HostMsg::Kill).await;
    let rest = r.finish_stage().await;
    assert!(killed_at.elapsed() < Duration::from_secs(5));
    let report = rest.report();
    assert_eq!((report.killed, report.signal), (Some(KillReason::Host), Some(libc::SIGKILL)));
    assert!(!alive(pids(&r.read("pids"))[0]));
    // A late Kill, after StageExit, is ignored.
    r.send(HostMsg::Kill).await;
    assert_eq!(r.stage(sh("echo still here")).await.stdout(), "still here\n");
}

#[tokio::test]
async fn a_stage_killing_its_own_group_still_gets_reported() {
    let mut r = Runner::start().await;
    let run = r.stage(sh("sleep 3600 & kill -KILL 0")).await;
    assert_eq!(run.report().signal, Some(libc::SIGKILL));
    assert_eq!(run.report().killed, None);
}

#[tokio::test]
async fn host_eof_between_stages_exits_cleanly() {
    let mut r = Runner::start().await;
    assert_eq!(r.stage(sh("true")).await.report().exit_code, Some(0));
    r.close_stdin();
    assert_eq!(r.try_recv().await, None);
    assert_eq!(r.wait().await, Some(0));
}

#[tokio::test]
async fn host_eof_during_a_stage_kills_it_and_exits_promptly() {
    let mut r = Runner::start().await;
    r.send(HostMsg::Stage(sh("sleep 3600 & echo $! > pids; echo $$ >> pids; echo started; sleep 3600"))).await;
    r.expect_started().await;
    let mut run = common::StageRun::default();
    r.wait_for_stdout(&mut run, "started").await;
    let closed_at = Instant::now();
    r.close_stdin();
    assert_eq!(r.try_recv().await, None);
    r.wait().await;
    assert!(closed_at.elapsed() < Duration::from_secs(5));
    for pid in pids(&r.read("pids")) {
        assert!(!alive(pid), "{pid} survived the runner");
    }
}

#[tokio::test]
async fn a_fork_storm_is_fully_killed() {
    // Processes keep forking while the runner kills them: kill-all must
    // repeat until nothing is left.
    let mut r = Runner::start().await;
    let mut s = sh("f() { while :; do sleep 0.05 & done; }; f & f & sleep 0.3; exit 0");
    s.limits.wall_time_ms = 5000;
    let run = r.stage(s).await;
    assert_eq!(run.report().exit_code, Some(0));
    assert_eq!(common::children_of(r.pid()), Vec::<i32>::new(), "the runner still has children after StageExit");
}
