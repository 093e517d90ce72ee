//! The Docker backend's benchmarks (`coderun-bench --docker`).
//!
//! Hello world in Python and in C, over the WebSocket with `--sandbox
//! docker` and a warm pool, against the two ways other services run code in
//! a container, taken in the same run and alternating with it: a cold
//! `docker run --rm` of the same image and command, and `docker exec` into
//! a container that is already running. Then the same hello worlds with the
//! pool off (every job starts its own container: the cost of a miss),
//! throughput at several levels of concurrency, and the time the pool takes
//! to refill after a burst takes every waiting container.
//!
//! The baselines use the docker CLI on purpose: that is what they measure.
//! Each writes the program's file inside the container from its stdin, so
//! it does the same work as a job. Containers get no network.

use std::{
    process::Stdio,
    time::{Duration, Instant},
};

use anyhow::{bail, Context, Result};
use futures_util::future::try_join_all;
use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    process::Command,
};

use crate::{
    client::Session,
    programs::{self, Program},
    report::{Table, Target},
    server::ServerProcess,
    stats::{ms, rank_note, ratio, Summary},
};

/// Warm-up runs of each side, not counted.
const WARM_UP: usize = 2;
/// How long the pool may take to fill before the bench gives up.
const FILL_TIMEOUT: Duration = Duration::from_secs(120);

/// One program as the Docker benchmarks run it.
struct Case {
    name: &'static str,
    program: Program,
    image: &'static str,
    /// Runs in the container with the program's file on stdin.
    script: &'static str,
}

fn cases() -> Vec<Case> {
    vec![
        Case {
            name: "Python `print(\"hello\")`",
            program: programs::hello_python(),
            image: "coderun/python",
            script: "d=$(mktemp -d) && cd $d && cat > main.py && PYTHONUNBUFFERED=1 PYTHONDONTWRITEBYTECODE=1 python3 -u main.py",
        },
        Case {
            name: "C hello.c, compiled every run",
            program: programs::hello_c(),
            image: "coderun/gcc",
            script: "d=$(mktemp -d) && cd $d && cat > main.c && gcc -std=gnu17 -O2 -Wall -Wextra -fdiagnostics-color=never -o main main.c -lm && ./main",
        },
    ]
}

/// Figures for one program.
pub struct HelloRow {
    name: &'static str,
    warm: Summary,
    cold: Option<Summary>,
    docker_run: Summary,
    docker_exec: Summary,
}

/// Waits until the pool has filled (its idle count steady for a second)
/// and returns that count.
pub async fn full_pool(server: &ServerProcess) -> Result<u64> {
    let deadline = Instant::now() + FILL_TIMEOUT;
    let (mut last, mut since) = (u64::MAX, Instant::now());
    loop {
        let idle = pool_idle(server).await?;
        if idle != last {
            (last, since) = (idle, Instant::now());
        } else if idle > 0 && since.elapsed() > Duration::from_secs(1) {
            return Ok(idle);
        }
        if Instant::now() > deadline {
            bail!("the warm pool did not settle within {FILL_TIMEOUT:?}");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Measures the warm hello worlds and both baselines; `server` has a warm
/// pool whose full size is `full`.
pub async fn hello(server: &ServerProcess, runs: usize, full: u64) -> Result<Vec<HelloRow>> {
    let (mut session, _) = Session::open(&server.ws_url()).await?;
    let mut rows = Vec::new();
    for case in cases() {
        eprintln!("docker hello world: {}, {runs} runs each of coderun, docker run --rm, docker exec", case.name);
        let exec_container = ExecContainer::start(case.image).await?;
        let params = case.program.run_params();
        let (mut warm, mut run, mut exec) = (Vec::new(), Vec::new(), Vec::new());
        for i in 0..WARM_UP + runs {
            let job = session.run(&params).await?;
            let printed: String = job.stdout.iter().map(|(_, t)| t.as_str()).collect();
            if printed != "hello\n" {
                bail!("coderun's hello world printed {printed:?}: {:?}", job.result);
            }
            // Let the pool put a container back, as it would between students.
            wait_for_pool(server, |idle| idle >= full).await?;
            let r = timed(
                &["run", "--rm", "-i", "--network", "none", "--entrypoint", "sh", case.image, "-c", case.script],
                &case.program,
            )
            .await?;
            let e = timed(&["exec", "-i", &exec_container.id, "sh", "-c", case.script], &case.program).await?;
            if i >= WARM_UP {
                warm.push(job.elapsed);
                run.push(r);
                exec.push(e);
            }
        }
        rows.push(HelloRow {
            name: case.name,
            warm: Summary::new(warm),
            cold: None,
            docker_run: Summary::new(run),
            docker_exec: Summary::new(exec),
        });
    }
    session.close().await;
    Ok(rows)
}

/// Adds the pool-off figures; `server` has `per_key = 0`.
pub async fn cold(server: &ServerProcess, runs: usize, rows: &mut [HelloRow]) -> Result<()> {
    let (mut session, _) = Session::open(&server.ws_url()).await?;
    for (case, row) in cases().into_iter().zip(rows.iter_mut()) {
        eprintln!("docker hello world, pool off: {}, {runs} runs", case.name);
        let params = case.program.run_params();
        let mut times = Vec::new();
        for i in 0..WARM_UP + runs {
            let job = session.run(&params).await?;
            if i >= WARM_UP {
                times.push(job.elapsed);
            }
        }
        row.cold = Some(Summary::new(times));
    }
    session.close().await;
    Ok(())
}

/// Time from a burst taking every waiting container to the pool being full again.
pub async fn refill(server: &ServerProcess, rounds: usize, full: u64) -> Result<Summary> {
    let per_key = 2;
    let params = programs::trivial().run_params();
    let mut times = Vec::new();
    for _ in 0..rounds {
        wait_for_pool(server, |idle| idle >= full).await?;
        let url = server.ws_url();
        let sessions = try_join_all((0..per_key).map(|_| Session::open(&url))).await?;
        try_join_all(sessions.into_iter().map(|(mut s, _)| {
            let params = &params;
            async move { s.run(params).await.map(|_| s) }
        }))
        .await?;
        let emptied = Instant::now();
        wait_for_pool(server, |idle| idle >= full).await?;
        times.push(emptied.elapsed());
    }
    Ok(Summary::new(times))
}

/// The report's section and its targets.
pub fn section(rows: &[HelloRow], refill: &Summary, runs: usize) -> (String, Vec<Target>) {
    let mut out = format!(
        "## Docker backend: hello world against `docker run --rm` and `docker exec`\n\n\
         {runs} sequential runs of each side, alternating, on one machine: coderun over its WebSocket \
         with `--sandbox docker` and a warm pool (2 containers per image), then with the pool off \
         (every job starts its own container); `docker run --rm -i --network none` of the same image \
         with the same command, the program's file written from stdin; `docker exec -i` of the same \
         command into a container of that image that is already running. {} Times in ms.\n\n",
        rank_note(runs)
    );
    let mut table = Table::new(&[
        "program",
        "coderun warm p50",
        "warm p99",
        "coderun pool off p50",
        "pool off p99",
        "`docker run --rm` p50",
        "p99",
        "`docker exec` p50",
        "p99",
        "run ÷ warm",
        "exec ÷ warm",
    ]);
    let mut targets = Vec::new();
    for r in rows {
        let cold = r.cold.as_ref();
        table.row(vec![
            r.name.to_owned(),
            ms(r.warm.p50()),
            ms(r.warm.p99()),
            cold.map_or("–".into(), |c| ms(c.p50())),
            cold.map_or("–".into(), |c| ms(c.p99())),
            ms(r.docker_run.p50()),
            ms(r.docker_run.p99()),
            ms(r.docker_exec.p50()),
            ms(r.docker_exec.p99()),
            ratio(r.docker_run.p50(), r.warm.p50()),
            ratio(r.docker_exec.p50(), r.warm.p50()),
        ]);
        let speedup = r.docker_run.p50().as_secs_f64() / r.warm.p50().as_secs_f64();
        targets.push(Target {
            what: format!("Docker, {}: warm p50 against `docker run --rm` p50", r.name),
            target: "≥ 5× faster".into(),
            measured: format!("{speedup:.1}× faster"),
            met: speedup >= 5.0,
        });
        targets.push(Target {
            what: format!("Docker, {}: warm p50 against `docker exec` p50", r.name),
            target: "no slower".into(),
            measured: format!("{} vs {} ms", ms(r.warm.p50()), ms(r.docker_exec.p50())),
            met: r.warm.p50() <= r.docker_exec.p50(),
        });
    }
    out += &table.render();
    out += &format!(
        "\nPool refill: after two simultaneous jobs take both waiting Python containers, the pool \
         is full again in p50 {} ms, max {} ms ({} rounds).\n",
        ms(refill.p50()),
        ms(refill.max()),
        refill.len()
    );
    (out, targets)
}

/// Runs `docker ARGS` with the program's one file on stdin; the time to its exit.
async fn timed(args: &[&str], program: &Program) -> Result<Duration> {
    let content = program.files.first().map(|(_, c)| c.clone()).unwrap_or_default();
    let started = Instant::now();
    let mut child = Command::new("docker")
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .context("running the docker CLI")?;
    let mut stdin = child.stdin.take().context("stdin is piped")?;
    stdin.write_all(content.as_bytes()).await?;
    drop(stdin);
    let mut out = String::new();
    child.stdout.take().context("stdout is piped")?.read_to_string(&mut out).await?;
    let status = tokio::time::timeout(Duration::from_secs(120), child.wait()).await.context("docker timed out")??;
    let elapsed = started.elapsed();
    if !status.success() || out != "hello\n" {
        let mut err = String::new();
        if let Some(mut e) = child.stderr.take() {
            let _ = e.read_to_string(&mut err).await;
        }
        bail!("`docker {}` failed ({status}): {out:?} {err}", args.join(" "));
    }
    Ok(elapsed)
}

/// A running container to `docker exec` into, removed on drop.
struct ExecContainer {
    id: String,
}

impl ExecContainer {
    async fn start(image: &str) -> Result<ExecContainer> {
        let out = Command::new("docker")
            .args(["run", "-d", "--rm", "--network", "none", "--entrypoint", "sleep", image, "infinity"])
            .output()
            .await?;
        if !out.status.success() {
            bail!("starting an exec container of {image}: {}", String::from_utf8_lossy(&out.stderr));
        }
        Ok(ExecContainer { id: String::from_utf8_lossy(&out.stdout).trim().to_owned() })
    }
}

impl Drop for ExecContainer {
    fn drop(&mut self) {
        let _ = std::process::Command::new("docker")
            .args(["rm", "-f", &self.id])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
    }
}

/// Polls `/metrics` until the pool's idle count satisfies `ok`.
async fn wait_for_pool(server: &ServerProcess, ok: impl Fn(u64) -> bool) -> Result<()> {
    let deadline = Instant::now() + FILL_TIMEOUT;
    loop {
        if ok(pool_idle(server).await?) {
            return Ok(());
        }
        if Instant::now() > deadline {
            bail!("the warm pool did not fill within {FILL_TIMEOUT:?}");
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

/// The pool's idle count, from `GET /metrics`.
async fn pool_idle(server: &ServerProcess) -> Result<u64> {
    let mut stream = tokio::net::TcpStream::connect(server.addr).await?;
    let request = format!("GET /metrics HTTP/1.1\r\nHost: {}\r\nConnection: close\r\n\r\n", server.addr);
    stream.write_all(request.as_bytes()).await?;
    let mut response = String::new();
    tokio::time::timeout(Duration::from_secs(10), stream.read_to_string(&mut response)).await??;
    let body = response.split("\r\n\r\n").nth(1).context("no body in /metrics")?;
    let json: serde_json::Value = serde_json::from_str(body).context("/metrics is not JSON")?;
    json["pool"]["idle"].as_u64().context("no pool.idle in /metrics")
}
