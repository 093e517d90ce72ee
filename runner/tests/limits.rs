//! The limits the runner enforces itself: output, wall time, CPU time.

mod common;

use std::time::{Duration, Instant};

use coderun_runner::wire::KillReason;
use common::{sh, spec, Runner};

#[tokio::test]
async fn output_past_limit_is_truncated_and_reported() {
    let mut r = Runner::start().await;
    let mut s = spec(&["yes"]);
    s.limits.output_bytes = 1_000_003;
    let run = r.stage(s).await;
    assert_eq!(run.stdout.len(), 1_000_003);
    assert!(run.stdout.chunks(2).take(500_001).all(|c| c == b"y\n" || c == b"y"));
    let report = run.report();
    assert_eq!(report.killed, Some(KillReason::OutputLimit));
    assert!(report.output_truncated);
    assert_eq!(report.signal, Some(libc::SIGKILL));
}

#[tokio::test]
async fn output_limit_counts_stdout_and_stderr_together() {
    let mut r = Runner::start().await;
    let mut s = sh("yes out & yes err >&2");
    s.limits.output_bytes = 100_000;
    let run = r.stage(s).await;
    assert_eq!(run.stdout.len() + run.stderr.len(), 100_000);
    assert_eq!(run.report().killed, Some(KillReason::OutputLimit));
}

#[tokio::test]
async fn output_exactly_at_the_limit_is_not_truncated() {
    let mut r = Runner::start().await;
    let mut s = sh("printf 0123456789");
    s.limits.output_bytes = 10;
    let run = r.stage(s).await;
    assert_eq!(run.stdout(), "0123456789");
    let report = run.report();
    assert_eq!((report.killed, report.output_truncated, report.exit_code), (None, false, Some(0)));
}

#[tokio::test]
async fn a_gigabyte_of_output_does_not_grow_the_runner() {
    let mut r = Runner::start().await;
    let mut s = sh("head -c 1073741824 /dev/zero");
    s.limits.output_bytes = 48 << 20;
    let run = r.stage(s).await;
    assert_eq!(run.stdout.len(), 48 << 20);
    assert_eq!(run.report().killed, Some(KillReason::OutputLimit));
    // Every chunk is one read: nothing is batched or buffered beyond it.
    assert!(run.chunks >= (48 << 20) / (32 << 10));
    let status = std::fs::read_to_string(format!("/proc/{}/status", r.pid())).unwrap();
    let hwm_kib: u64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmHWM in /proc/<pid>/status");
    assert!(hwm_kib < 16 * 1024, "runner peaked at {hwm_kib} KiB of resident memory");
}

#[tokio::test]
async fn wall_time_limit_kills_a_sleeper() {
    let mut r = Runner::start().await;
    let mut s = spec(&["sleep", "3600"]);
    s.limits.wall_time_ms = 300;
    let started = Instant::now();
    let run = r.stage(s).await;
    assert!(started.elapsed() < Duration::from_secs(5));
    let report = run.report();
    assert_eq!(report.killed, Some(KillReason::WallTime));
    assert_eq!(report.signal, Some(libc::SIGKILL));
    assert!(report.wall_time_ms >= 300 && report.wall_time_ms < 3000, "{report:?}");
    assert!(report.cpu_time_ms < 200, "{report:?}");
}

#[tokio::test]
async fn cpu_time_limit_kills_a_spinner() {
    let mut r = Runner::start().await;
    let mut s = sh("while :; do :; done");
    s.limits.cpu_time_ms = 500;
    let run = r.stage(s).await;
    let report = run.report();
    assert_eq!(report.killed, Some(KillReason::CpuTime));
    assert!(report.cpu_time_ms >= 500 && report.cpu_time_ms < 1500, "{report:?}");
}

#[tokio::test]
async fn cpu_time_is_summed_over_every_process_of_the_stage() {
    // Three spinners share a budget of 1.5 s: each stays well under its own
    // RLIMIT_CPU of 2 s, so only the runner's whole-stage sum can stop them.
    let mut r = Runner::start().await;
    let mut s = sh("spin() { while :; do :; done; }; spin & spin & spin");
    s.limits.cpu_time_ms = 1500;
    let run = r.stage(s).await;
    let report = run.report();
    assert_eq!(report.killed, Some(KillReason::CpuTime));
    assert_eq!(report.signal, Some(libc::SIGKILL), "killed by the runner, not by RLIMIT_CPU");
    assert!(report.cpu_time_ms >= 1500 && report.cpu_time_ms < 2500, "{report:?}");
}

#[tokio::test]
async fn cpu_time_of_reaped_children_is_counted() {
    let mut r = Runner::start().await;
    let run =
        r.stage(sh("i=0; while [ $i -lt 3 ]; do timeout 0.3 sh -c 'while :; do :; done'; i=$((i+1)); done")).await;
    let report = run.report();
    assert_eq!(report.exit_code, Some(0));
    // 0.9 s of spinning in grandchildren; some of it may go to other tests'
    // processes on a busy machine.
    assert!(report.cpu_time_ms >= 300, "{report:?}");
}
