//! CPU time of a whole stage: every process, live or reaped.
//!
//! `RLIMIT_CPU` only limits each process on its own, so a stage that forks
//! ten spinners would get ten times its budget. The runner therefore adds
//! up the stage itself:
//!
//! * reaped processes: `getrusage(RUSAGE_CHILDREN)` of the runner, less its
//!   value when the stage began. It covers every child the runner reaped
//!   and, through them, every process those children waited for;
//! * live processes: user + system time of each descendant in `/proc`, plus
//!   the `cutime`/`cstime` of the children it has waited for and the runner
//!   has not yet reaped.
//!
//! No process is counted twice: a process's time moves into exactly one
//! parent's children-total when that parent reaps it. The sample reads
//! `getrusage` before walking `/proc`, so a process reaped in between is
//! missed for one sample rather than counted twice; the limit thus never
//! fires early. Without a trustworthy `/proc` only reaped time is seen and
//! `RLIMIT_CPU` is the remaining guard.

use std::time::Duration;

use crate::procs::ProcFs;

/// Measures one stage's CPU time from its start.
pub struct CpuMeter {
    base: Duration,
    procfs: Option<ProcFs>,
}

impl CpuMeter {
    /// Starts measuring; call just before the stage is spawned.
    pub fn start(procfs: Option<ProcFs>) -> CpuMeter {
        CpuMeter { base: reaped_children_cpu(), procfs }
    }

    /// CPU time so far, of reaped and live processes.
    pub fn sample(&self) -> Duration {
        let reaped = reaped_children_cpu().saturating_sub(self.base);
        let live = self.procfs.map(|p| p.descendants_cpu()).unwrap_or_default();
        reaped + live
    }

    /// CPU time of the finished stage. Exact once every process of the
    /// stage has been reaped.
    pub fn total(&self) -> Duration {
        reaped_children_cpu().saturating_sub(self.base)
    }
}

/// User plus system time of every child the runner has reaped, ever.
fn reaped_children_cpu() -> Duration {
    // Safety: an all-zero rusage is a valid value to be overwritten.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // Safety: the pointer is to a live local of the right type.
    if unsafe { libc::getrusage(libc::RUSAGE_CHILDREN, &mut usage) } != 0 {
        return Duration::ZERO;
    }
    timeval(usage.ru_utime) + timeval(usage.ru_stime)
}

fn timeval(t: libc::timeval) -> Duration {
    Duration::from_secs(t.tv_sec.max(0) as u64) + Duration::from_micros(t.tv_usec.max(0) as u64)
}

/// Whole milliseconds, for the report.
pub fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_new_meter_starts_near_zero() {
        let meter = CpuMeter::start(ProcFs::open());
        // Other tests of this binary may have children of their own, but
        // none of them spins for a second.
        assert!(meter.total() < Duration::from_secs(1));
    }

    #[test]
    fn timevals_add_up() {
        let t = libc::timeval { tv_sec: 2, tv_usec: 500_000 };
        assert_eq!(millis(timeval(t)), 2500);
    }
}
