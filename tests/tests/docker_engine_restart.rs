//! The Docker engine restarting under a running server: the job that was
//! running ends with a clear error instead of hanging, a job sent while the
//! engine is down is refused clearly too, the server stays up, and once the
//! engine is back the next job runs and the warm pool fills again.
//!
//! This stops the engine every container on the machine depends on, so it
//! is the only test of its binary (cargo runs test binaries one after
//! another), and it leaves a working engine behind however it ends: the
//! engine's own command line, read from `/proc` before it is stopped, is
//! started again by a guard's `Drop` if the engine does not answer.
//!
//! Runs only with `CODERUN_SANDBOX=docker`, against a `dockerd` on this
//! machine (its process must be visible in `/proc`).

use std::{
    ffi::OsString,
    fs,
    os::unix::{ffi::OsStringExt, process::CommandExt},
    path::PathBuf,
    process::Stdio,
    time::{Duration, Instant},
};

use anyhow::{bail, ensure, Context, Result};
use coderun_tests::{
    docker::{container_running, containers, engine_answers, require_docker, wait_until_none},
    host::{process_alive, Marker},
    http::get,
    programs::{bash, sleeper, with},
    Client, Server, ServerOptions,
};
use serde_json::json;

/// Where the engine's output goes once this test has started it again.
const ENGINE_LOG: &str = "/var/log/dockerd.log";
/// How long the engine may take to stop, and to answer after a start.
const ENGINE_WAIT: Duration = Duration::from_secs(90);

/// How to start the engine again exactly as it was started.
#[derive(Debug, Clone)]
struct EngineCommand {
    argv: Vec<OsString>,
    env: Vec<(OsString, OsString)>,
    cwd: PathBuf,
}

/// The running `dockerd`: its pid, its children (its own containerd), and
/// its command line.
fn find_engine() -> Result<(u32, Vec<u32>, EngineCommand)> {
    let mut found = Vec::new();
    for entry in fs::read_dir("/proc")?.flatten() {
        let Some(pid) = entry.file_name().to_str().and_then(|s| s.parse::<u32>().ok()) else {
            continue;
        };
        if fs::read_to_string(entry.path().join("comm")).is_ok_and(|c| c.trim() == "dockerd") && process_alive(pid) {
            found.push(pid);
        }
    }
    let pid = match found.as_slice() {
        [pid] => *pid,
        [] => bail!("no dockerd process is visible in /proc: this test restarts a local engine"),
        many => bail!("several dockerd processes run ({many:?}); this test restarts one engine"),
    };
    let raw = fs::read(format!("/proc/{pid}/cmdline")).context("reading dockerd's command line")?;
    let argv: Vec<OsString> =
        raw.split(|b| *b == 0).filter(|a| !a.is_empty()).map(|a| OsString::from_vec(a.to_vec())).collect();
    ensure!(!argv.is_empty(), "dockerd's command line is empty");
    let env = fs::read(format!("/proc/{pid}/environ"))
        .unwrap_or_default()
        .split(|b| *b == 0)
        .filter_map(|kv| {
            let i = kv.iter().position(|b| *b == b'=')?;
            Some((OsString::from_vec(kv[..i].to_vec()), OsString::from_vec(kv[i + 1..].to_vec())))
        })
        .collect();
    let cwd = fs::read_link(format!("/proc/{pid}/cwd")).unwrap_or_else(|_| PathBuf::from("/"));
    Ok((pid, children_of(pid), EngineCommand { argv, env, cwd }))
}

fn children_of(parent: u32) -> Vec<u32> {
    let mut out = Vec::new();
    for entry in fs::read_dir("/proc").into_iter().flatten().flatten() {
        let Some(pid) = entry.file_name().to_str().and_then(|s| s.parse::<u32>().ok()) else {
            continue;
        };
        let Ok(stat) = fs::read_to_string(entry.path().join("stat")) else {
            continue;
        };
        let ppid =
            stat.rsplit(')').next().and_then(|rest| rest.split_whitespace().nth(1)).and_then(|p| p.parse::<u32>().ok());
        if ppid == Some(parent) {
            out.push(pid);
        }
    }
    out
}

fn any_dockerd_alive() -> bool {
    fs::read_dir("/proc").into_iter().flatten().flatten().any(|entry| {
        let pid = entry.file_name().to_str().and_then(|s| s.parse::<u32>().ok());
        pid.is_some_and(|pid| {
            fs::read_to_string(entry.path().join("comm")).is_ok_and(|c| c.trim() == "dockerd") && process_alive(pid)
        })
    })
}

impl EngineCommand {
    /// Starts the engine detached, in a session of its own, so that it
    /// outlives this test; its output is appended to [`ENGINE_LOG`].
    fn start(&self) -> Result<()> {
        let log = fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(ENGINE_LOG)
            .with_context(|| format!("opening {ENGINE_LOG}"))?;
        let mut cmd = std::process::Command::new(&self.argv[0]);
        cmd.args(&self.argv[1..]).current_dir(&self.cwd).stdin(Stdio::null()).stdout(log.try_clone()?).stderr(log);
        if !self.env.is_empty() {
            cmd.env_clear().envs(self.env.iter().map(|(k, v)| (k, v)));
        }
        // SAFETY: setsid(2) is async-signal-safe; nothing else runs
        // between fork and exec.
        unsafe {
            cmd.pre_exec(|| {
                libc::setsid();
                Ok(())
            });
        }
        let child = cmd.spawn().with_context(|| format!("starting {:?}", self.argv))?;
        println!("started the engine again: pid {}, {:?}", child.id(), self.argv);
        // Not waited for: it is the machine's engine now, not our child's
        // business; it is reparented when this process exits.
        std::mem::forget(child);
        Ok(())
    }

    /// Waits until `docker info` answers.
    fn wait_ready(&self) -> Result<()> {
        let deadline = Instant::now() + ENGINE_WAIT;
        loop {
            match engine_answers() {
                Ok(()) => return Ok(()),
                Err(e) if Instant::now() > deadline => {
                    bail!("the engine did not answer {ENGINE_WAIT:?} after it was started: {e}")
                }
                Err(_) => std::thread::sleep(Duration::from_millis(200)),
            }
        }
    }
}

/// Makes sure the engine runs again when the test ends, however it ends.
struct EngineGuard(EngineCommand);

impl Drop for EngineGuard {
    fn drop(&mut self) {
        if engine_answers().is_ok() {
            return;
        }
        // It may still be on its way down, or already on its way up.
        let deadline = Instant::now() + ENGINE_WAIT;
        while any_dockerd_alive() && engine_answers().is_err() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(200));
        }
        if engine_answers().is_ok() {
            return;
        }
        eprintln!("restoring the Docker engine the test stopped");
        if let Err(e) = self.0.start().and_then(|()| self.0.wait_ready()) {
            eprintln!("could not restore the Docker engine: {e:#}; start it with {:?}", self.0.argv);
        }
    }
}

/// Waits (up to `limit`) until none of `pids` is alive.
async fn wait_until_dead(pids: &[u32], limit: Duration) -> Result<()> {
    let deadline = Instant::now() + limit;
    while pids.iter().any(|p| process_alive(*p)) {
        ensure!(Instant::now() < deadline, "processes {pids:?} still run {limit:?} after SIGTERM");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    Ok(())
}

#[tokio::test]
async fn the_engine_restarting_mid_job_ends_the_job_clearly_and_the_server_recovers() -> Result<()> {
    require_docker("the_engine_restarting_mid_job_ends_the_job_clearly_and_the_server_recovers");
    let (engine_pid, engine_children, command) = find_engine()?;
    println!("the engine: pid {engine_pid}, children {engine_children:?}, {:?}", command.argv);
    let guard = EngineGuard(command);

    let mut server = Server::start(ServerOptions::default().config("[pool]\nper_key = 2\n")).await?;
    let inst = server.instance().context("no instance")?.to_owned();
    let mut client = Client::ready(&server).await?;
    client.run(bash("echo warm")).await?.assert_exited_ok();
    let marker = Marker::new();
    let id = client.start_run(with(sleeper(&marker, 3600), "limits", json!({"wallTimeMs": 60000}))).await?;
    client.wait_for_output(&id, "started").await?;
    container_running(&inst, marker.text(), Duration::from_secs(30)).await?;

    // Stop the engine, and wait until it and its containerd are gone.
    let stopping = Instant::now();
    // SAFETY: kill(2) on the pid just read from /proc; checked alive.
    unsafe { libc::kill(engine_pid as libc::pid_t, libc::SIGTERM) };
    let mut everything = engine_children.clone();
    everything.push(engine_pid);
    wait_until_dead(&everything, ENGINE_WAIT).await?;
    println!("the engine stopped in {:?}", stopping.elapsed());

    // The running job has ended, with an error that says what happened.
    let run = client.collect(&id).await?;
    println!("the running job ended {:?} after the engine was told to stop: {}", stopping.elapsed(), run.response);
    let error = run.error();
    assert_eq!(error["code"], -32603, "{}", run.response);
    let message = error["message"].as_str().unwrap_or("");
    assert!(
        message.contains("sandbox") || message.contains("container"),
        "the error does not say what failed: {message}"
    );

    // While the engine is down the server stays up and refuses jobs clearly.
    assert!(server.is_alive(), "the server died with the engine");
    assert_eq!(get(&server, "/healthz").await?.status, 200);
    let down = client.run(bash("echo while down")).await?;
    println!("a job while the engine was down: {}", down.response);
    assert_eq!(down.error()["code"], -32603, "{}", down.response);

    // Start the engine again, as it was.
    guard.0.start()?;
    guard.0.wait_ready()?;
    println!("the engine answers again, {:?} after it was told to stop", stopping.elapsed());

    let run = client.run(bash("echo after")).await?;
    run.assert_exited_ok();
    assert_eq!(run.stdout(), "after\n");
    // The pool refills: two idle containers, and the engine shows them.
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let m = get(&server, "/metrics").await?.json()?;
        let on_engine = containers(&inst, false).await?.len();
        if m["pool"]["idle"] == 2 && on_engine == 2 {
            println!("the pool recovered: {m}");
            break;
        }
        ensure!(Instant::now() < deadline, "the pool did not recover: {m}, {on_engine} containers running");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let second = Client::ready(&server).await?.run(bash("echo again")).await?;
    second.assert_exited_ok();

    // Nothing of the jobs before the restart is left once the server has
    // stopped. (It stops with its pool full: stopping mid-refill is
    // docker_backend's a_server_stopped_while_its_pool_refills_...)
    let deadline = Instant::now() + Duration::from_secs(60);
    while get(&server, "/metrics").await?.json()?["pool"]["idle"] != 2 {
        ensure!(Instant::now() < deadline, "the pool did not refill after the last job");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    server.stop();
    wait_until_none(&inst, Duration::from_secs(30)).await?;
    drop(guard);
    Ok(())
}
