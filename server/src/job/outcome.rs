//! How a job ended: the status of each stage, and of the job as a whole,
//! from what the runner reported and what the host saw.

use std::time::Duration;

use coderun_runner::wire::{KillReason, StageReport};
use nix::sys::signal::Signal;

use crate::sandbox::HostUsage;

/// How a stage or job ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    Exited,
    BuildFailed,
    Timeout,
    CpuTime,
    Memory,
    OutputLimit,
    Signal,
    Cancelled,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StageKind {
    Build,
    Run,
}

/// How one stage went.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StageOutcome {
    pub kind: StageKind,
    pub status: Status,
    pub exit_code: Option<i32>,
    pub signal: Option<String>,
    pub wall_time: Duration,
    pub cpu_time: Duration,
    pub memory_bytes: u64,
    pub output_truncated: bool,
}

/// How the job went.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JobOutcome {
    pub status: Status,
    pub exit_code: Option<i32>,
    pub signal: Option<String>,
    pub stages: Vec<StageOutcome>,
    pub output_truncated: bool,
    pub queued: Duration,
    pub wall_time: Duration,
}

impl StageOutcome {
    /// Classifies a stage from the runner's report and the host's view.
    ///
    /// The runner's own reason wins (it knows it killed for time or
    /// output); then the OOM killer; then a CPU-time signal; then any other
    /// signal; otherwise the program exited on its own.
    pub fn classify(kind: StageKind, report: &StageReport, oom_killed: bool, cpu_limit: Duration) -> StageOutcome {
        let cpu_time = Duration::from_millis(report.cpu_time_ms);
        let signal = report.signal.and_then(|n| Signal::try_from(n).ok());
        let status = match report.killed {
            Some(KillReason::WallTime) => Status::Timeout,
            Some(KillReason::CpuTime) => Status::CpuTime,
            Some(KillReason::OutputLimit) => Status::OutputLimit,
            Some(KillReason::Host) => Status::Cancelled,
            // The program may have exited before the runner read the bytes
            // past the limit: its output was still cut, and that is what
            // the student needs to know.
            None if report.output_truncated => Status::OutputLimit,
            None if oom_killed => Status::Memory,
            None if signal == Some(Signal::SIGXCPU) => Status::CpuTime,
            None if signal == Some(Signal::SIGKILL) && cpu_time >= cpu_limit => Status::CpuTime,
            None if report.signal.is_some() => Status::Signal,
            None => Status::Exited,
        };
        StageOutcome {
            kind,
            status,
            exit_code: report.exit_code,
            signal: report.signal.map(signal_name),
            wall_time: Duration::from_millis(report.wall_time_ms),
            cpu_time,
            // The cgroup's peak also counts page cache the stage touched
            // (a compiler reading the host's headers), which says little
            // about the program; the largest resident set does.
            memory_bytes: report.max_rss_bytes,
            output_truncated: report.output_truncated,
        }
    }

    /// Whether the next stage may run after this one.
    pub fn succeeded(&self) -> bool {
        self.status == Status::Exited && self.exit_code == Some(0)
    }
}

/// `SIGSEGV` for 11; `SIG42` for a number with no name.
pub fn signal_name(n: i32) -> String {
    match Signal::try_from(n) {
        Ok(s) => s.as_str().to_owned(),
        Err(_) => format!("SIG{n}"),
    }
}

impl JobOutcome {
    /// The job's outcome from its stages. A build that exits non-zero is
    /// `buildFailed`; a build stopped by a limit reports that limit.
    pub fn from_stages(stages: Vec<StageOutcome>, queued: Duration, wall_time: Duration) -> JobOutcome {
        let last = stages.last().cloned();
        let status = match &last {
            None => Status::Cancelled,
            // A build that succeeded is never the last stage of a job that
            // ran to its end: the job was cancelled before its run stage.
            Some(s) if s.kind == StageKind::Build && s.succeeded() => Status::Cancelled,
            Some(s) if s.kind == StageKind::Build && s.status == Status::Exited => Status::BuildFailed,
            Some(s) => s.status,
        };
        JobOutcome {
            status,
            exit_code: last.as_ref().and_then(|s| s.exit_code),
            signal: last.as_ref().and_then(|s| s.signal.clone()),
            output_truncated: stages.iter().any(|s| s.output_truncated),
            stages,
            queued,
            wall_time,
        }
    }

    /// A job cancelled before any stage ran.
    pub fn cancelled_early(queued: Duration, wall_time: Duration) -> JobOutcome {
        JobOutcome::from_stages(Vec::new(), queued, wall_time)
    }
}

/// Whether the OOM killer struck between two readings.
pub fn oom_between(before: HostUsage, after: HostUsage) -> bool {
    after.oom_kills > before.oom_kills
}

#[cfg(test)]
mod tests {
    use super::*;

    fn report(exit: Option<i32>, sig: Option<i32>, killed: Option<KillReason>) -> StageReport {
        StageReport {
            exit_code: exit,
            signal: sig,
            killed,
            output_truncated: false,
            wall_time_ms: 10,
            cpu_time_ms: 5,
            max_rss_bytes: 1000,
            oom_kills: None,
        }
    }

    fn classify(r: &StageReport, oom: bool) -> Status {
        StageOutcome::classify(StageKind::Run, r, oom, Duration::from_secs(1)).status
    }

    #[test]
    fn runner_reasons_win() {
        assert_eq!(classify(&report(None, Some(9), Some(KillReason::WallTime)), true), Status::Timeout);
        assert_eq!(classify(&report(None, Some(9), Some(KillReason::OutputLimit)), false), Status::OutputLimit);
        assert_eq!(classify(&report(None, Some(9), Some(KillReason::Host)), false), Status::Cancelled);
    }

    #[test]
    fn cut_output_is_an_output_limit_even_when_the_program_exited_first() {
        let mut r = report(Some(0), None, None);
        r.output_truncated = true;
        assert_eq!(classify(&r, false), Status::OutputLimit);
    }

    #[test]
    fn oom_and_signals_are_told_apart() {
        assert_eq!(classify(&report(None, Some(9), None), true), Status::Memory);
        assert_eq!(classify(&report(None, Some(24), None), false), Status::CpuTime);
        assert_eq!(classify(&report(None, Some(11), None), false), Status::Signal);
        assert_eq!(classify(&report(Some(3), None, None), false), Status::Exited);
    }

    #[test]
    fn signals_have_names() {
        assert_eq!(signal_name(11), "SIGSEGV");
        assert_eq!(signal_name(200), "SIG200");
    }

    #[test]
    fn failed_build_is_build_failed_but_a_build_timeout_is_a_timeout() {
        let build = |status, exit| StageOutcome {
            kind: StageKind::Build,
            status,
            exit_code: exit,
            signal: None,
            wall_time: Duration::ZERO,
            cpu_time: Duration::ZERO,
            memory_bytes: 0,
            output_truncated: false,
        };
        let d = Duration::ZERO;
        assert_eq!(JobOutcome::from_stages(vec![build(Status::Exited, Some(1))], d, d).status, Status::BuildFailed);
        assert_eq!(JobOutcome::from_stages(vec![build(Status::Timeout, None)], d, d).status, Status::Timeout);
    }
}
