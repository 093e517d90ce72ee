//! Throughput at several levels of concurrency.
//!
//! At each level, that many clients, each on its own WebSocket, run the
//! trivial job ([`programs::trivial`]) one after the other until the
//! duration is up; a job started before the end is waited for and counted.
//! Jobs per second is jobs completed over the time until the last client
//! finished. The baseline is as many loops spawning the same program
//! directly on the host. All clients of a level are futures of one task,
//! so the bench itself needs little CPU beside the server.

use std::time::{Duration, Instant};

use anyhow::Result;
use coderun_protocol::RunStatus;
use futures_util::future::{join_all, try_join_all};

use crate::{
    client::{Refused, Session},
    host::Scratch,
    programs,
    report::Table,
    stats::{ms, Summary},
};

/// The figures of one side at one level.
pub struct Side {
    pub latency: Summary,
    pub elapsed: Duration,
    /// `run`s answered with a JSON-RPC error (busy, too many jobs).
    pub refused: usize,
    /// Jobs that did not exit with 0.
    pub failed: usize,
}

impl Side {
    pub fn jobs_per_second(&self) -> f64 {
        self.latency.len() as f64 / self.elapsed.as_secs_f64()
    }
}

pub struct Level {
    pub clients: usize,
    pub coderun: Side,
    pub bare: Side,
}

/// Measures each level for `duration`, coderun first, then the baseline.
/// With `trace`, every coderun job's timeline goes to stderr.
pub async fn measure(
    url: &str,
    scratch: &Scratch,
    levels: &[usize],
    duration: Duration,
    trace: bool,
) -> Result<Vec<Level>> {
    let mut out = Vec::new();
    for &clients in levels {
        eprintln!("throughput: {clients} clients, {duration:?} over coderun, then as long on the host");
        let coderun = over_coderun(url, clients, duration, trace).await?;
        let bare = on_host(scratch, clients, duration).await?;
        out.push(Level { clients, coderun, bare });
    }
    Ok(out)
}

async fn over_coderun(url: &str, clients: usize, duration: Duration, trace: bool) -> Result<Side> {
    let sessions = try_join_all((0..clients).map(|_| Session::open(url))).await?;
    let params = programs::trivial().run_params();
    let started = Instant::now();
    let deadline = started + duration;
    let loops = sessions.into_iter().enumerate().map(|(client, (mut session, _))| {
        let params = &params;
        async move {
            let (mut latencies, mut refused, mut failed) = (Vec::new(), 0, 0);
            while Instant::now() < deadline {
                match session.run(params).await {
                    Ok(job) => {
                        if trace {
                            eprintln!("  client {client}: {}", job.timeline());
                        }
                        if job.result.status != RunStatus::Exited || job.result.exit_code != Some(0) {
                            failed += 1;
                        }
                        latencies.push(job.elapsed);
                    }
                    Err(e) if e.is::<Refused>() => {
                        refused += 1;
                        tokio::time::sleep(Duration::from_millis(10)).await;
                    }
                    Err(e) => return Err(e),
                }
            }
            session.close().await;
            Ok((latencies, refused, failed))
        }
    });
    let results = try_join_all(loops).await?;
    Ok(combine(results, started.elapsed()))
}

async fn on_host(scratch: &Scratch, clients: usize, duration: Duration) -> Result<Side> {
    let program = programs::trivial();
    let started = Instant::now();
    let deadline = started + duration;
    let loops = (0..clients).map(|_| async {
        let (mut latencies, mut failed) = (Vec::new(), 0);
        while Instant::now() < deadline {
            match scratch.run(&program).await {
                Ok(trace) => latencies.push(trace.elapsed),
                Err(e) => {
                    eprintln!("a baseline job failed: {e:#}");
                    failed += 1;
                }
            }
        }
        (latencies, 0, failed)
    });
    let results = join_all(loops).await;
    Ok(combine(results, started.elapsed()))
}

fn combine(results: Vec<(Vec<Duration>, usize, usize)>, elapsed: Duration) -> Side {
    let mut all = Vec::new();
    let (mut refused, mut failed) = (0, 0);
    for (latencies, r, f) in results {
        all.extend(latencies);
        refused += r;
        failed += f;
    }
    Side { latency: Summary::new(all), elapsed, refused, failed }
}

/// The section of the report.
pub fn section(levels: &[Level], duration: Duration, slots: usize) -> String {
    let mut out = format!(
        "## Throughput\n\nEach client on its own WebSocket runs `print(\"hi\")` in Python, one job \
         after the other, for {} s; baseline: as many loops spawning `python3 -u main.py` directly. \
         The server runs {slots} jobs at once (`--run-slots`); more clients queue. Latency is per \
         job, from sending `run` to its response (queueing included). Times in ms.\n\n",
        duration.as_secs_f64()
    );
    let mut table = Table::new(&[
        "clients",
        "coderun jobs/s",
        "coderun p50",
        "coderun p99",
        "bare jobs/s",
        "bare p50",
        "bare p99",
        "jobs/s vs bare",
        "coderun refused / failed",
    ]);
    for l in levels {
        let (c, b) = (&l.coderun, &l.bare);
        table.row(vec![
            l.clients.to_string(),
            format!("{:.1}", c.jobs_per_second()),
            ms(c.latency.p50()),
            ms(c.latency.p99()),
            format!("{:.1}", b.jobs_per_second()),
            ms(b.latency.p50()),
            ms(b.latency.p99()),
            format!("{:.0} %", 100.0 * c.jobs_per_second() / b.jobs_per_second().max(f64::MIN_POSITIVE)),
            format!("{} / {}", c.refused, c.failed),
        ]);
    }
    out += &table.render();
    out
}
