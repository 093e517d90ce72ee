//! One stage, from `Stage` to `StageExit`: spawn, supervise, end.
//!
//! Supervising is one `select!` loop over a closed [`Event`]: a frame from
//! the host, a read from the stage's stdout or stderr, room in its stdin
//! pipe, `SIGCHLD`, the CPU poll tick, and the wall-clock deadline. The loop
//! ends when the first process has exited, when a limit or the host's
//! `Kill` ends the stage, or when the host goes away.
//!
//! Ending is always the same: kill every process of the stage and reap them
//! all (`reap.rs`), read what is left in the pipes for at most
//! [`DRAIN_TIME`], then send `StageExit`. Processes the first one left
//! behind (`sleep 3600 &`, a daemon) are killed then; the stage's status is
//! the first process's.
//!
//! Invariant: `StageExit` is sent only after `wait4` has reported `ECHILD`,
//! so no process of the stage is alive when the host reads it.
//!
//! `killed` says the runner ended the stage: a limit, or the host's `Kill`,
//! struck while the first process was still running. A first process that
//! had already exited is reported as such, even if its leftovers then pass
//! the output limit while the pipes drain (`output_truncated` is still set).
//! A first process ended by `RLIMIT_CPU` (see `limits.rs`) counts as
//! `CpuTime` too.
//!
//! A spec the runner cannot accept (no argv, a bad cwd) is answered with
//! `Error` alone. A program that cannot be started (not found, not
//! executable, a failed setup step) is a normal stage for the host:
//! `StageStarted`, an `Output` on stderr saying
//! `coderun-runner: cannot run <prog>: <why>`, and `StageExit` with exit
//! code 127 (not found) or 126 (anything else), as a shell would.

use std::time::Duration;

use coderun_runner::wire::{
    HostMsg, KillReason, OutputStream, RunnerMsg, StageLimits, StageReport, StageSpec, StdinMode, WireError,
};
use tokio::time::{interval, sleep_until, Instant, MissedTickBehavior};

use crate::cpu::{self, CpuMeter};
use crate::host::{Departure, FromHost};
use crate::oom;
use crate::output::{OutputBudget, OutputPipes};
use crate::paths;
use crate::reap::Exit;
use crate::spawn::{self, Spawned};
use crate::stdin::StdinFeed;
use crate::supervisor::Supervisor;

/// How often CPU time is summed over the stage's processes.
const CPU_POLL: Duration = Duration::from_millis(50);
/// How long, after every process is gone, the runner keeps reading the
/// pipes for output still in them.
const DRAIN_TIME: Duration = Duration::from_secs(1);
/// Stand-in deadline for a wall-time limit too large to add to a clock.
const FAR_FUTURE: Duration = Duration::from_secs(100 * 365 * 24 * 3600);

/// What the supervisor does after a stage.
pub enum Flow {
    Continue,
    Exit(Departure),
}

/// Runs one stage to its end.
pub async fn run(sup: &mut Supervisor, spec: StageSpec) -> Flow {
    let checked = match (spec.argv.is_empty(), paths::stage_cwd(&spec.cwd)) {
        (true, _) => Err("stage has no argv".to_string()),
        (false, Err(e)) => Err(format!("refused stage cwd {:?}: {e}", spec.cwd)),
        (false, Ok(cwd)) => Ok(cwd),
    };
    let cwd = match checked {
        Ok(cwd) => cwd,
        Err(message) => return sent(sup.outbox.send(&RunnerMsg::Error { message }).await),
    };
    let oom_before = oom::oom_kills();
    let cpu = CpuMeter::start(sup.procfs);
    let started = Instant::now();
    let spawned = spawn::spawn(&spec, &cwd, sup.root);
    let mut stage = Stage {
        limits: spec.limits,
        started,
        cpu,
        budget: OutputBudget::new(spec.limits.output_bytes),
        exits: Exits { first: None, first_exit: None, max_rss_bytes: 0 },
        killed: None,
        oom_before,
    };
    if let Err(e) = sup.outbox.send(&RunnerMsg::StageStarted).await {
        let group = spawned.as_ref().ok().map(|s| s.pid);
        sup.reaper.kill_all(group, &mut |exit| stage.exits.record(exit)).await;
        return Flow::Exit(Departure::Broken(e));
    }
    match spawned {
        Ok(child) => stage.supervise(sup, child, spec.stdin).await,
        Err(e) => stage.report_spawn_failure(sup, &spec.argv[0], e).await,
    }
}

/// What ended the supervising loop.
enum End {
    FirstExited,
    Killed(KillReason),
    HostGone(Departure),
}

/// Everything the stage loop selects on, as one value.
enum Event {
    Host(FromHost),
    Output(OutputStream, std::io::Result<usize>),
    /// The stdin pipe has room (or an error, which the write then meets).
    StdinWritable,
    ChildExited,
    CpuTick,
    WallTime,
}

struct Stage {
    limits: StageLimits,
    started: Instant,
    cpu: CpuMeter,
    budget: OutputBudget,
    exits: Exits,
    killed: Option<KillReason>,
    /// The cgroup's OOM-kill counter when the stage began.
    oom_before: Option<u64>,
}

impl Stage {
    async fn supervise(mut self, sup: &mut Supervisor, child: Spawned, stdin: StdinMode) -> Flow {
        self.exits.first = Some(child.pid);
        let mut feed = StdinFeed::new(child.stdin, stdin);
        let mut out = OutputPipes::new(child.stdout, child.stderr);
        let deadline = self
            .started
            .checked_add(Duration::from_millis(self.limits.wall_time_ms))
            .unwrap_or(self.started + FAR_FUTURE);
        let mut tick = interval(CPU_POLL);
        tick.set_missed_tick_behavior(MissedTickBehavior::Delay);
        let end = loop {
            let event = tokio::select! {
                m = sup.inbox.recv() => Event::Host(m),
                (stream, r) = out.read(), if out.is_open() => Event::Output(stream, r),
                _ = feed.writable(), if feed.wants_write() => Event::StdinWritable,
                _ = sup.reaper.notified() => Event::ChildExited,
                _ = tick.tick() => Event::CpuTick,
                _ = sleep_until(deadline) => Event::WallTime,
            };
            match event {
                Event::Host(FromHost::Msg(HostMsg::Stdin(bytes))) => feed.push(bytes),
                Event::Host(FromHost::Msg(HostMsg::StdinEof)) => feed.end(),
                Event::Host(FromHost::Msg(HostMsg::Kill)) => break self.kill(sup, KillReason::Host),
                Event::Host(FromHost::Msg(HostMsg::WriteFiles(_) | HostMsg::Stage(_))) => {
                    let message = "a stage is running; wait for its StageExit".to_string();
                    if let Err(e) = sup.outbox.send(&RunnerMsg::Error { message }).await {
                        break End::HostGone(Departure::Broken(e));
                    }
                }
                Event::Host(FromHost::Gone(d)) => break End::HostGone(d),
                Event::Output(stream, Ok(n)) if n > 0 => {
                    if let Err(e) = self.forward(sup, stream, out.bytes(stream, n)).await {
                        break End::HostGone(Departure::Broken(e));
                    }
                    if self.budget.truncated() {
                        break self.kill(sup, KillReason::OutputLimit);
                    }
                }
                Event::Output(stream, _) => out.close(stream),
                Event::StdinWritable => feed.write_ready(),
                Event::ChildExited | Event::CpuTick => {
                    sup.reaper.reap(&mut |e| self.exits.record(e));
                    if self.exits.first_exit.is_some() {
                        break End::FirstExited;
                    }
                    if self.cpu.sample() > Duration::from_millis(self.limits.cpu_time_ms) {
                        break End::Killed(KillReason::CpuTime);
                    }
                }
                Event::WallTime => break self.kill(sup, KillReason::WallTime),
            }
        };
        drop(feed);
        self.finish(sup, end, out).await
    }

    /// Decides to end the stage for `reason`, unless its first process has
    /// in fact already exited (its `SIGCHLD` not yet handled): a program
    /// that finished on its own is not reported as killed.
    fn kill(&mut self, sup: &mut Supervisor, reason: KillReason) -> End {
        sup.reaper.reap(&mut |e| self.exits.record(e));
        if self.exits.first_exit.is_some() {
            End::FirstExited
        } else {
            End::Killed(reason)
        }
    }

    /// Kills and reaps everything, drains the pipes and reports.
    async fn finish(mut self, sup: &mut Supervisor, end: End, mut out: OutputPipes) -> Flow {
        let group = if self.exits.first_exit.is_none() { self.exits.first } else { None };
        sup.reaper.kill_all(group, &mut |e| self.exits.record(e)).await;
        match end {
            End::HostGone(d) => return Flow::Exit(d),
            End::Killed(reason) => self.killed = Some(reason),
            End::FirstExited => {}
        }
        let drain_until = Instant::now() + DRAIN_TIME;
        while out.is_open() {
            let (stream, r) = tokio::select! {
                read = out.read() => read,
                _ = sleep_until(drain_until) => break,
            };
            match r {
                Ok(n) if n > 0 => {
                    if let Err(e) = self.forward(sup, stream, out.bytes(stream, n)).await {
                        return Flow::Exit(Departure::Broken(e));
                    }
                }
                _ => out.close(stream),
            }
        }
        let report = self.report();
        sent(sup.outbox.send(&RunnerMsg::StageExit(report)).await)
    }

    /// Sends what the output budget lets through of one read.
    async fn forward(&mut self, sup: &mut Supervisor, stream: OutputStream, bytes: &[u8]) -> Result<(), WireError> {
        let allowed = self.budget.admit(bytes.len());
        if allowed == 0 {
            return Ok(());
        }
        sup.outbox.send(&RunnerMsg::Output { stream, bytes: bytes[..allowed].to_vec() }).await
    }

    fn report(&self) -> StageReport {
        let status = self.exits.first_exit.map(|e| e.status);
        let exit_code = status.filter(|s| libc::WIFEXITED(*s)).map(|s| libc::WEXITSTATUS(s));
        let signal = status.filter(|s| libc::WIFSIGNALED(*s)).map(|s| libc::WTERMSIG(s));
        let cpu = self.cpu.total();
        let ended = self.exits.first_exit.map(|e| e.at).unwrap_or_else(Instant::now);
        StageReport {
            exit_code,
            signal,
            killed: kill_reason(self.killed, signal, cpu, Duration::from_millis(self.limits.cpu_time_ms)),
            output_truncated: self.budget.truncated(),
            wall_time_ms: cpu::millis(ended.duration_since(self.started)),
            cpu_time_ms: cpu::millis(cpu),
            max_rss_bytes: self.exits.max_rss_bytes,
            oom_kills: self.oom_kills(),
        }
    }

    /// OOM kills in the runner's cgroup since the stage began, if readable.
    fn oom_kills(&self) -> Option<u64> {
        Some(oom::oom_kills()?.saturating_sub(self.oom_before?))
    }

    /// The stage whose program could not be started; see the module comment.
    async fn report_spawn_failure(mut self, sup: &mut Supervisor, program: &str, e: std::io::Error) -> Flow {
        // Nothing should be left (std reaps a child whose exec failed), but
        // the invariant is cheap to keep.
        sup.reaper.kill_all(None, &mut |exit| self.exits.record(exit)).await;
        let message = format!("coderun-runner: cannot run {program}: {e}\n");
        if let Err(e) = self.forward(sup, OutputStream::Stderr, message.as_bytes()).await {
            return Flow::Exit(Departure::Broken(e));
        }
        let report = StageReport {
            exit_code: Some(spawn::failure_exit_code(&e)),
            signal: None,
            killed: None,
            output_truncated: self.budget.truncated(),
            wall_time_ms: cpu::millis(self.started.elapsed()),
            cpu_time_ms: 0,
            max_rss_bytes: 0,
            oom_kills: self.oom_kills(),
        };
        sent(sup.outbox.send(&RunnerMsg::StageExit(report)).await)
    }
}

/// The processes of a stage the runner has reaped.
struct Exits {
    first: Option<i32>,
    first_exit: Option<Exit>,
    max_rss_bytes: u64,
}

impl Exits {
    fn record(&mut self, e: Exit) {
        if Some(e.pid) == self.first && self.first_exit.is_none() {
            self.first_exit = Some(e);
        }
        self.max_rss_bytes = self.max_rss_bytes.max(e.max_rss_bytes);
    }
}

/// Why the stage ended, as reported. Besides the runner's own kills, a
/// first process ended by `SIGXCPU` (the `RLIMIT_CPU` soft limit), or by
/// `SIGKILL` once the stage's CPU time had reached its limit (the hard
/// limit), ran out of CPU time.
fn kill_reason(killed: Option<KillReason>, signal: Option<i32>, cpu: Duration, limit: Duration) -> Option<KillReason> {
    killed.or(match signal {
        Some(libc::SIGXCPU) => Some(KillReason::CpuTime),
        Some(libc::SIGKILL) if cpu >= limit => Some(KillReason::CpuTime),
        _ => None,
    })
}

fn sent(r: Result<(), WireError>) -> Flow {
    match r {
        Ok(()) => Flow::Continue,
        Err(e) => Flow::Exit(Departure::Broken(e)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SEC: Duration = Duration::from_secs(1);

    #[test]
    fn the_runners_own_reason_wins() {
        let r = kill_reason(Some(KillReason::WallTime), Some(libc::SIGKILL), 2 * SEC, SEC);
        assert_eq!(r, Some(KillReason::WallTime));
    }

    #[test]
    fn rlimit_cpu_signals_count_as_cpu_time() {
        assert_eq!(kill_reason(None, Some(libc::SIGXCPU), SEC / 2, SEC), Some(KillReason::CpuTime));
        assert_eq!(kill_reason(None, Some(libc::SIGKILL), SEC, SEC), Some(KillReason::CpuTime));
    }

    #[test]
    fn other_deaths_are_the_programs_own() {
        assert_eq!(kill_reason(None, Some(libc::SIGKILL), SEC / 2, SEC), None);
        assert_eq!(kill_reason(None, Some(libc::SIGSEGV), 2 * SEC, SEC), None);
        assert_eq!(kill_reason(None, None, 2 * SEC, SEC), None);
    }
}
