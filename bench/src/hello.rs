//! Hello world, end to end: Python, and C with its build on every run.
//!
//! One WebSocket, opened and initialized beforehand, sends `run` after
//! `run`; each is timed from sending the request to receiving its response.
//! The baseline runs the same files with the same commands directly on the
//! host ([`crate::host`]). Runs alternate, coderun then host, so that both
//! see the same machine; two warm-up runs of each are not counted. Besides
//! the totals, the `job/status` arrivals and the server's own stage times
//! show where coderun's time goes.

use std::time::Duration;

use anyhow::{bail, Result};
use coderun_protocol::{JobState, RunStatus, StageName};

use crate::{
    client::{JobTrace, Session},
    host::Scratch,
    programs::{self, Program},
    report::{Table, Target},
    stats::{diff_ms, ms, rank_note, ratio, Summary},
};

/// Warm-up runs of each side, not counted.
const WARM_UP: usize = 2;

/// The target of issue 2: coderun adds at most this to the bare p50.
const ADDED_P50_TARGET_MS: f64 = 10.0;

/// The figures for one program.
pub struct HelloResult {
    pub name: &'static str,
    pub host_command: String,
    pub coderun: Summary,
    pub bare: Summary,
    /// `run` sent to `job/status` `starting`.
    pub to_starting: Summary,
    /// `run` sent to the first `building` or `running`.
    pub to_first_stage: Summary,
    /// The job's `wallTimeMs` minus its stages' `wallTimeMs`: starting the
    /// sandbox, writing the files, and what the server does between stages.
    pub outside_stages: Summary,
    /// The client's total minus the job's `queuedMs` and `wallTimeMs`:
    /// the protocol, the transport, and admission.
    pub outside_job: Summary,
    /// The server's `wallTimeMs` of the build stage, of the run stage, and
    /// of the whole job.
    pub build_stage: Summary,
    pub run_stage: Summary,
    pub job_wall: Summary,
}

/// Measures both programs, `runs` times each.
/// With `trace`, each run's timeline goes to stderr.
pub async fn measure(session: &mut Session, scratch: &Scratch, runs: usize, trace: bool) -> Result<Vec<HelloResult>> {
    let mut results = Vec::new();
    for (name, program) in [
        ("Python `print(\"hello\")`", programs::hello_python()),
        ("C hello.c, compiled every run", programs::hello_c()),
    ] {
        eprintln!("hello world: {name}, {runs} runs");
        results.push(measure_one(session, scratch, name, &program, runs, trace).await?);
    }
    Ok(results)
}

async fn measure_one(
    session: &mut Session,
    scratch: &Scratch,
    name: &'static str,
    program: &Program,
    runs: usize,
    trace: bool,
) -> Result<HelloResult> {
    let params = program.run_params();
    let mut traces = Vec::new();
    let mut bare = Vec::new();
    for i in 0..WARM_UP + runs {
        let job = session.run(&params).await?;
        check(&job)?;
        if trace {
            eprintln!("  {}", job.timeline());
        }
        let host = scratch.run(program).await?;
        let printed: String = host.stdout.iter().map(|(_, t)| t.as_str()).collect();
        if printed != "hello\n" {
            bail!("the host baseline printed {printed:?}");
        }
        if i >= WARM_UP {
            traces.push(job);
            bare.push(host.elapsed);
        }
    }
    let stage = |name: StageName| {
        Summary::new(
            traces
                .iter()
                .filter_map(|t| t.result.stages.iter().find(|s| s.name == name))
                .map(|s| Duration::from_millis(s.wall_time_ms))
                .collect(),
        )
    };
    let first_stage = |t: &JobTrace| t.reached(JobState::Building).or_else(|| t.reached(JobState::Running));
    Ok(HelloResult {
        name,
        host_command: program.host_command(),
        coderun: Summary::new(traces.iter().map(|t| t.elapsed).collect()),
        bare: Summary::new(bare),
        to_starting: Summary::new(traces.iter().filter_map(|t| t.reached(JobState::Starting)).collect()),
        to_first_stage: Summary::new(traces.iter().filter_map(first_stage).collect()),
        build_stage: stage(StageName::Build),
        run_stage: stage(StageName::Run),
        job_wall: Summary::new(traces.iter().map(|t| Duration::from_millis(t.result.wall_time_ms)).collect()),
        outside_stages: Summary::new(
            traces
                .iter()
                .map(|t| {
                    let stages: u64 = t.result.stages.iter().map(|s| s.wall_time_ms).sum();
                    Duration::from_millis(t.result.wall_time_ms.saturating_sub(stages))
                })
                .collect(),
        ),
        outside_job: Summary::new(
            traces
                .iter()
                .map(|t| t.elapsed.saturating_sub(Duration::from_millis(t.result.queued_ms + t.result.wall_time_ms)))
                .collect(),
        ),
    })
}

/// A hello world must exit with 0 having printed `hello`.
fn check(trace: &JobTrace) -> Result<()> {
    let printed: String = trace.stdout.iter().map(|(_, t)| t.as_str()).collect();
    if trace.result.status != RunStatus::Exited || trace.result.exit_code != Some(0) || printed != "hello\n" {
        bail!("coderun's hello world went wrong: {:?}, stdout {printed:?}", trace.result);
    }
    Ok(())
}

/// The section of the report, and its targets.
pub fn section(results: &[HelloResult], runs: usize) -> (String, Vec<Target>) {
    let mut out = format!(
        "## Hello world, end to end\n\n{runs} sequential runs of each on one initialized WebSocket, \
         from sending `run` to receiving its response; baseline: the same files written to a fresh \
         directory and run directly on the host. {} Times in ms.\n\n",
        rank_note(runs)
    );
    let mut table = Table::new(&[
        "program",
        "coderun p50",
        "coderun p99",
        "bare p50",
        "bare p99",
        "p50 ratio",
        "coderun adds to p50",
    ]);
    let mut targets = Vec::new();
    for r in results {
        let added = diff_ms(r.coderun.p50(), r.bare.p50());
        table.row(vec![
            r.name.to_owned(),
            ms(r.coderun.p50()),
            ms(r.coderun.p99()),
            ms(r.bare.p50()),
            ms(r.bare.p99()),
            ratio(r.coderun.p50(), r.bare.p50()),
            format!("{added:.2}"),
        ]);
        targets.push(Target {
            what: format!("hello world, {}: coderun adds to the bare p50", r.name),
            target: format!("≤ {ADDED_P50_TARGET_MS} ms"),
            measured: format!("{added:.2} ms"),
            met: added <= ADDED_P50_TARGET_MS,
        });
    }
    out += &table.render();
    out += "\nBaseline commands (the catalog's): ";
    out += &results.iter().map(|r| format!("`{}`", r.host_command)).collect::<Vec<_>>().join("; ");
    out += ".\n\n### Where coderun's time goes (p50 of the same runs, ms)\n\n\
            Arrivals at the client of `job/status` after sending `run`; the server's own \
            `wallTimeMs` of each stage and of the job (from leaving the queue to its end, whole \
            milliseconds); the job minus its stages (sandbox start, files, between stages); and \
            the client's total minus the job's `queuedMs` and `wallTimeMs` (protocol and \
            transport). Each column is its own p50, so they need not add up.\n\n";
    let mut breakdown = Table::new(&[
        "program",
        "→ `starting`",
        "→ `building`/`running`",
        "build stage",
        "run stage",
        "job `wallTimeMs`",
        "job − stages",
        "total − job",
        "→ response",
    ]);
    for r in results {
        let stage = |s: &Summary| {
            if s.len() == 0 {
                "–".to_owned()
            } else {
                ms(s.p50())
            }
        };
        breakdown.row(vec![
            r.name.to_owned(),
            ms(r.to_starting.p50()),
            ms(r.to_first_stage.p50()),
            stage(&r.build_stage),
            stage(&r.run_stage),
            ms(r.job_wall.p50()),
            ms(r.outside_stages.p50()),
            ms(r.outside_job.p50()),
            ms(r.coderun.p50()),
        ]);
    }
    out += &breakdown.render();
    (out, targets)
}
