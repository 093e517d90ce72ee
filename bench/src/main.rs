//! `coderun-bench`: measures a real coderun server against bare processes.
//!
//! It starts `coderun serve` on a free port of 127.0.0.1, measures, in this
//! order, memory (on the fresh server), hello world in Python and C,
//! first-output latency and throughput, each with its baseline taken in the
//! same run on the same machine, and prints a Markdown report on stdout
//! (and into `--out`). Progress goes to stderr. Nothing here asserts on
//! time: the report says whether each target of issue 2, section 8, was met.
//! All traffic stays on 127.0.0.1. The server is stopped at the end, also
//! when a measurement fails.
//!
//! Task tree: one runtime; each measurement runs its clients as futures of
//! the main task; [`server::ServerProcess`] owns one task draining the
//! server's stdout.

mod client;
mod docker;
mod first_output;
mod hello;
mod host;
mod memory;
mod programs;
mod report;
mod server;
mod stats;
mod throughput;

use std::{path::PathBuf, time::Duration};

use anyhow::{bail, Context, Result};
use clap::Parser;

use crate::{client::Session, host::Scratch, report::Report, server::ServerProcess};

#[derive(Parser)]
#[command(name = "coderun-bench", about = "Benchmarks a coderun server over its WebSocket against bare processes")]
struct Args {
    /// The server binary.
    #[arg(long, default_value = "target/release/coderun")]
    server_bin: PathBuf,
    /// Runs of each hello world and of the first-output program.
    #[arg(long, default_value_t = 50)]
    runs: usize,
    /// Seconds each throughput level (and its baseline) runs.
    #[arg(long, default_value_t = 10)]
    duration: u64,
    /// Concurrent clients of each throughput level.
    #[arg(long, value_delimiter = ',', default_value = "1,8,64")]
    clients: Vec<usize>,
    /// Idle connections held open for the memory measurement.
    #[arg(long, default_value_t = 1000)]
    idle_connections: usize,
    /// The server's run slots (default: the number of CPUs, as the server's own default).
    #[arg(long)]
    run_slots: Option<usize>,
    /// Also write the report to this file.
    #[arg(long)]
    out: Option<PathBuf>,
    /// Where the server's log goes (default: coderun-bench-server.log in the temp directory).
    #[arg(long)]
    server_log: Option<PathBuf>,
    /// Print each job's timeline (status arrivals, stage times) to stderr.
    #[arg(long)]
    trace: bool,
    /// Benchmark the Docker backend instead (warm pool, pool off, `docker
    /// run --rm`, `docker exec`, throughput, refill); needs the images.
    #[arg(long)]
    docker: bool,
    /// An extra argument for `coderun serve`; repeatable.
    #[arg(long = "server-arg", allow_hyphen_values = true)]
    server_args: Vec<String>,
}

#[tokio::main]
async fn main() -> Result<()> {
    let args = Args::parse();
    if args.runs == 0 || args.clients.is_empty() {
        bail!("--runs and --clients must not be empty");
    }
    raise_open_files_limit(args.idle_connections as u64 + 1024)?;
    if args.docker {
        return docker_main(&args).await;
    }
    let mut report = Report::new();
    let slots = args.run_slots.unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()));
    let max_clients = args.clients.iter().copied().max().unwrap_or(1);
    let mut server_args: Vec<String> = vec![
        "--run-slots".into(),
        slots.to_string(),
        "--max-connections".into(),
        (args.idle_connections + 1000).max(2000).to_string(),
        // Every throughput client keeps one job in flight: let them all queue.
        "--queue-length".into(),
        (4 * max_clients).max(256).to_string(),
    ];
    server_args.extend(args.server_args.iter().cloned());
    let log = args.server_log.clone().unwrap_or_else(server::default_log);
    eprintln!("starting {} (log: {})", args.server_bin.display(), log.display());
    let server = ServerProcess::start(&args.server_bin, &server_args, &log).await?;
    eprintln!("server pid {} on {}", server.pid, server.addr);

    let mut memory = memory::measure(&server, args.idle_connections).await?;

    let (mut session, init) = Session::open(&server.ws_url()).await?;
    let version = |id: &str| {
        init.languages
            .iter()
            .find(|l| l.id == id)
            .map(|l| l.version.clone())
            .context(format!("the server offers no {id}"))
    };
    report.context.extend([
        ("server".to_owned(), format!("{} {}, native sandbox", init.server.name, init.server.version)),
        ("server command".to_owned(), format!("`{}`", server.command)),
        ("Python".to_owned(), version("python")?),
        ("C compiler".to_owned(), version("c")?),
        ("features".to_owned(), init.features.join(", ")),
        (
            "bench".to_owned(),
            format!(
                "`--runs {} --duration {} --clients {} --idle-connections {}`",
                args.runs,
                args.duration,
                args.clients.iter().map(|c| c.to_string()).collect::<Vec<_>>().join(","),
                args.idle_connections
            ),
        ),
    ]);
    let scratch = Scratch::new()?;

    let hello = hello::measure(&mut session, &scratch, args.runs, args.trace).await?;
    let first = first_output::measure(&mut session, &scratch, args.runs).await?;
    session.close().await;
    let duration = Duration::from_secs(args.duration);
    let levels = throughput::measure(&server.ws_url(), &scratch, &args.clients, duration, args.trace).await?;
    tokio::time::sleep(Duration::from_secs(2)).await;
    memory.after_run = Some(server.rss_bytes()?);
    drop(server);

    for (section, targets) in
        [hello::section(&hello, args.runs), first_output::section(&first), memory::section(&memory)]
    {
        report.sections.push(section);
        report.targets.extend(targets);
    }
    report.sections.push(throughput::section(&levels, duration, slots));
    publish(&report, &args)
}

/// The Docker backend's plan: a server with a warm pool, then one without.
async fn docker_main(args: &Args) -> Result<()> {
    let mut report = Report::new();
    let slots = args.run_slots.unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()));
    let max_clients = args.clients.iter().copied().max().unwrap_or(1);
    let base: Vec<String> = vec![
        "--sandbox".into(),
        "docker".into(),
        "--run-slots".into(),
        slots.to_string(),
        "--queue-length".into(),
        (4 * max_clients).max(256).to_string(),
    ];
    let scratch = Scratch::new()?;
    let dir = std::env::temp_dir();
    let config = |name: &str, toml: &str| -> Result<String> {
        let path = dir.join(format!("coderun-bench-{name}-{}.toml", std::process::id()));
        std::fs::write(&path, toml)?;
        Ok(path.display().to_string())
    };
    let warm_cfg = config("warm", "[docker]\ninstance = \"bench-warm\"\n[pool]\nper_key = 2\n")?;
    let cold_cfg = config("cold", "[docker]\ninstance = \"bench-cold\"\n[pool]\nper_key = 0\n")?;

    let log = args.server_log.clone().unwrap_or_else(server::default_log);
    let mut warm_args = base.clone();
    warm_args.extend(["--config".into(), warm_cfg]);
    warm_args.extend(args.server_args.iter().cloned());
    let started = std::time::Instant::now();
    let server = ServerProcess::start(&args.server_bin, &warm_args, &log).await?;
    let full = docker::full_pool(&server).await?;
    let filled_after = started.elapsed();
    eprintln!("docker server pid {} on {}; pool full at {full} after {filled_after:?}", server.pid, server.addr);
    let (session, init) = Session::open(&server.ws_url()).await?;
    session.close().await;
    report.context.extend([
        ("server".to_owned(), format!("{} {}, Docker sandbox", init.server.name, init.server.version)),
        ("server command".to_owned(), format!("`{}`", server.command)),
        (
            "engine".to_owned(),
            report::output(&["docker", "version", "--format", "{{.Server.Version}} (API {{.Server.APIVersion}})"]),
        ),
        ("features".to_owned(), init.features.join(", ")),
        (
            "pool at startup".to_owned(),
            format!("{full} containers idle {:.1} s after the server started", filled_after.as_secs_f64()),
        ),
        (
            "bench".to_owned(),
            format!(
                "`--docker --runs {} --duration {} --clients {}`",
                args.runs,
                args.duration,
                args.clients.iter().map(|c| c.to_string()).collect::<Vec<_>>().join(",")
            ),
        ),
    ]);
    let mut rows = docker::hello(&server, args.runs, full).await?;
    let refill = docker::refill(&server, 10, full).await?;
    let duration = Duration::from_secs(args.duration);
    let levels = throughput::measure(&server.ws_url(), &scratch, &args.clients, duration, args.trace).await?;
    drop(server);

    let mut cold_args = base;
    cold_args.extend(["--config".into(), cold_cfg]);
    let server = ServerProcess::start(&args.server_bin, &cold_args, &log).await?;
    docker::cold(&server, args.runs, &mut rows).await?;
    drop(server);

    let (section, targets) = docker::section(&rows, &refill, args.runs);
    report.sections.push(section);
    report.targets.extend(targets);
    report.sections.push(throughput::section(&levels, duration, slots));
    publish(&report, args)
}

/// Raises the soft limit on open files to at least `want` (up to the hard
/// limit): the memory measurement holds one socket per idle connection.
fn raise_open_files_limit(want: u64) -> Result<()> {
    let mut limit = libc::rlimit { rlim_cur: 0, rlim_max: 0 };
    // SAFETY: getrlimit and setrlimit with a valid, owned struct.
    unsafe {
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) != 0 {
            return Err(std::io::Error::last_os_error()).context("reading RLIMIT_NOFILE");
        }
        if limit.rlim_cur < want {
            limit.rlim_cur = limit.rlim_max.min(want.max(limit.rlim_cur));
            if libc::setrlimit(libc::RLIMIT_NOFILE, &limit) != 0 {
                return Err(std::io::Error::last_os_error()).context("raising RLIMIT_NOFILE");
            }
        }
    }
    if limit.rlim_cur < want {
        eprintln!("warning: RLIMIT_NOFILE is {} (hard limit), below the {want} this run needs", limit.rlim_cur);
    }
    Ok(())
}

/// Prints the report, and writes it to `--out` when given.
fn publish(report: &report::Report, args: &Args) -> Result<()> {
    let text = report.render();
    print!("{text}");
    if let Some(out) = &args.out {
        std::fs::write(out, &text).with_context(|| format!("writing {}", out.display()))?;
        eprintln!("report written to {}", out.display());
    }
    Ok(())
}
