//! Faults around the Docker backend: an image that disappears after the
//! server started, fifty jobs at once on a pool of two, and a server
//! killed with SIGKILL mid-job then started again under the same instance
//! name. (The engine itself restarting is `docker_engine_restart.rs`, alone
//! in its binary because it disturbs every container on the engine.)
//!
//! These tests run only with `CODERUN_SANDBOX=docker`, one at a time (a
//! process-wide lock): each counts the containers of its instance, and the
//! burst of fifty jobs should not compete with another test for the CPUs.

use std::{
    collections::BTreeSet,
    path::PathBuf,
    time::{Duration, Instant},
};

use anyhow::{ensure, Context, Result};
use coderun_tests::{
    docker::{self, container_running, containers, docker, require_docker, wait_until_none, wait_until_removed},
    host::{wait_until_no_process_with, Marker},
    http::get,
    programs::{bash, job, python, sleeper, with},
    Client, Server, ServerOptions,
};
use futures_util::future::join_all;
use serde_json::{json, Value};
use tokio::sync::{Mutex, MutexGuard};

static SERIAL: Mutex<()> = Mutex::const_new(());

async fn serial() -> MutexGuard<'static, ()> {
    SERIAL.lock().await
}

/// How long a removed container may take to disappear from the engine.
const REMOVAL: Duration = Duration::from_secs(15);

fn scratch() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target/coderun-tests")
}

fn instance(server: &Server) -> &str {
    server.instance().expect("a server on the Docker backend has an instance name")
}

/// An image tag this test made, removed again however the test ends.
struct Tag(String);

impl Drop for Tag {
    fn drop(&mut self) {
        let _ = std::process::Command::new("docker").args(["rmi", &self.0]).output();
    }
}

/// A catalog file this test wrote, removed however the test ends.
struct TempFile(PathBuf);

impl Drop for TempFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

/// An image removed after the server started: the language is still
/// offered, but running it answers -32603 with a message naming the image;
/// the other language runs as before and no container is left behind.
#[tokio::test]
async fn a_missing_image_is_a_clear_error_and_other_languages_still_run() -> Result<()> {
    require_docker("a_missing_image_is_a_clear_error_and_other_languages_still_run");
    let _serial = serial().await;
    let tag = Tag(format!("coderun-test/vanish-{}", std::process::id()));
    docker(&["tag", "coderun/bash", &tag.0]).await.context("tagging coderun/bash (build it with scripts/images)")?;
    let catalog = TempFile(scratch().join(format!("catalog-vanish-{}.toml", std::process::id())));
    std::fs::create_dir_all(scratch())?;
    std::fs::write(
        &catalog.0,
        format!(
            r#"[[language]]
id = "vanish"
name = "Bash from an image that goes away"
extensions = [".sh"]
entry = "main.sh"
detect = ["bash", "--version"]
run = ["bash", "{{entry}}", "{{args}}"]
image = "{image}"

[[language]]
id = "python"
name = "Python"
extensions = [".py"]
entry = "main.py"
detect = ["python3", "--version"]
run = ["python3", "-u", "{{entry}}", "{{args}}"]
image = "coderun/python"
"#,
            image = tag.0
        ),
    )?;
    let config = format!("catalog = {:?}\n", catalog.0.display().to_string());
    let server = Server::start(ServerOptions::default().config(&config)).await?;
    let mut client = Client::connect(&server).await?;
    let init = client.initialize().await?;
    let offered: BTreeSet<&str> =
        init["languages"].as_array().context("languages")?.iter().filter_map(|l| l["id"].as_str()).collect();
    assert_eq!(offered, BTreeSet::from(["python", "vanish"]), "both languages are offered while the image exists");
    // No job of it runs before the image goes: the pool (filled after a
    // language's first job) would hold containers already made from it.
    docker(&["rmi", &tag.0]).await?;
    for attempt in 0..2 {
        let run = client.run(job("vanish", &[("main.sh", "echo here")])).await?;
        let error = run.error();
        assert_eq!(error["code"], -32603, "attempt {attempt}: {}", run.response);
        let message = error["message"].as_str().unwrap_or("");
        assert!(
            message.contains(&tag.0),
            "attempt {attempt}: the message does not name the image {}: {message}",
            tag.0
        );
        assert!(!message.contains("/var/") && !message.contains("sock"), "the message leaks engine details: {message}");
    }
    wait_until_none(instance(&server), REMOVAL).await?;
    let run = client.run(python("print('still here')")).await?;
    run.assert_exited_ok();
    assert_eq!(run.stdout(), "still here\n");
    // Nothing of the vanished language is left, running or not. (The
    // Python job's own container may be going as this looks.)
    for id in containers(instance(&server), true).await? {
        let Ok(c) = docker::inspect(&id).await else {
            continue;
        };
        assert_eq!(c["Config"]["Image"], "coderun/python", "a container of another image is left: {c:#}");
    }
    Ok(())
}

/// The state history of one job: its `job/status` notifications.
fn statuses(notifications: &[Value]) -> Vec<Value> {
    notifications.iter().filter(|n| n["method"] == "job/status").map(|n| n["params"].clone()).collect()
}

/// Fifty jobs at once on ten connections, with a pool of two and the
/// default run slots (one per CPU): every job finishes with its own
/// output, none is lost, and the jobs that wait are told `queued` with a
/// position that only goes down.
#[tokio::test]
async fn fifty_jobs_at_once_on_a_pool_of_two_all_finish() -> Result<()> {
    require_docker("fifty_jobs_at_once_on_a_pool_of_two_all_finish");
    let _serial = serial().await;
    let server = Server::start(ServerOptions::default().config("[pool]\nper_key = 2\n")).await?;
    let inst = instance(&server).to_owned();
    const CONNECTIONS: usize = 10;
    const PER_CONNECTION: usize = 5;
    let started = Instant::now();
    let connections = (0..CONNECTIONS).map(|c| {
        let server = &server;
        async move {
            let mut client = Client::ready(server).await?;
            client.timeout = Duration::from_secs(120);
            let mut ids = Vec::new();
            for j in 0..PER_CONNECTION {
                let n = c * PER_CONNECTION + j;
                let code = format!("import time\ntime.sleep(0.2)\nprint('job', {n}, {n} * {n})\n");
                ids.push((n, client.start_run(python(&code)).await?));
            }
            let mut runs = Vec::new();
            for (n, id) in ids {
                runs.push((n, client.collect(&id).await?));
            }
            anyhow::Ok(runs)
        }
    });
    let mut runs = Vec::new();
    for result in join_all(connections).await {
        runs.extend(result?);
    }
    println!("50 jobs in {:?}", started.elapsed());
    assert_eq!(runs.len(), CONNECTIONS * PER_CONNECTION);
    let mut queued_jobs = 0;
    for (n, run) in &runs {
        assert_eq!(run.status(), "exited", "job {n}:\n{}", run.summary());
        assert_eq!(run.result()["exitCode"], 0, "job {n}:\n{}", run.summary());
        assert_eq!(run.stdout(), format!("job {n} {}\n", n * n), "job {n} has the wrong output:\n{}", run.summary());
        let positions: Vec<u64> = statuses(&run.notifications)
            .iter()
            .filter(|s| s["state"] == "queued")
            .map(|s| {
                s["position"].as_u64().unwrap_or_else(|| panic!("job {n}: a queued status without a position: {s}"))
            })
            .collect();
        if !positions.is_empty() {
            queued_jobs += 1;
            assert!(positions.iter().all(|p| *p >= 1), "job {n}: position below 1: {positions:?}");
            assert!(positions.windows(2).all(|w| w[1] < w[0]), "job {n}: the position did not go down: {positions:?}");
        }
    }
    println!("{queued_jobs} of 50 jobs were queued");
    // Each job sleeps 0.2 s, so with one slot per CPU most must have waited.
    let cpus = std::thread::available_parallelism().map_or(1, |n| n.get());
    assert!(queued_jobs >= 50 - 4 * cpus.min(10), "only {queued_jobs} jobs were told they were queued");

    let m = get(&server, "/metrics").await?.json()?;
    println!("metrics: {m}");
    assert_eq!((m["jobs"]["running"].as_u64(), m["jobs"]["queued"].as_u64()), (Some(0), Some(0)), "{m}");
    let pool = &m["pool"];
    assert_eq!(
        pool["hits"].as_u64().unwrap_or(0) + pool["misses"].as_u64().unwrap_or(0),
        50,
        "every job got one container: {m}"
    );
    // Only the pool's idle containers are left.
    let deadline = Instant::now() + REMOVAL;
    loop {
        let left = containers(&inst, true).await?;
        if left.len() <= 2 {
            break;
        }
        ensure!(Instant::now() < deadline, "{} containers are left after the burst (the pool keeps 2)", left.len());
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    Ok(())
}

/// A server killed with SIGKILL mid-job leaves nothing running: its job's
/// container and the pool's see their stdin close and remove themselves
/// (AutoRemove). A container of the instance that never ran (as a crash
/// between create and start would leave) is removed by the next server of
/// the same instance as it starts, and that server serves.
#[tokio::test]
async fn a_server_killed_mid_job_leaves_no_container_once_restarted() -> Result<()> {
    require_docker("a_server_killed_mid_job_leaves_no_container_once_restarted");
    let _serial = serial().await;
    let inst = format!("test-killed-{}", Marker::new().text());
    let config = format!("[docker]\ninstance = \"{inst}\"\n[pool]\nper_key = 2\n");
    let mut server = Server::start(ServerOptions::default().config(&config)).await?;
    assert_eq!(instance(&server), inst);
    let mut client = Client::ready(&server).await?;
    client.run(bash("echo warm")).await?.assert_exited_ok();
    let marker = Marker::new();
    let params = with(sleeper(&marker, 3600), "limits", json!({"wallTimeMs": 60000}));
    let id = client.start_run(params).await?;
    client.wait_for_output(&id, "started").await?;
    let job_container = container_running(&inst, marker.text(), Duration::from_secs(30)).await?;
    let leftover = docker(&[
        "create",
        "--label",
        &format!("{}={inst}", docker::INSTANCE_LABEL),
        "--network",
        "none",
        "--entrypoint",
        "true",
        "coderun/bash",
    ])
    .await?
    .trim()
    .to_owned();
    let before = containers(&inst, true).await?;
    println!("before the kill: {}", docker::describe(&before.iter().map(String::as_str).collect::<Vec<_>>()).await);
    assert!(before.contains(&job_container) && before.contains(&leftover));

    // SAFETY: kill(2) on our own child, which has not been reaped.
    unsafe { libc::kill(server.pid as libc::pid_t, libc::SIGKILL) };
    let status = server.wait_exit(Duration::from_secs(10)).await?;
    println!("the server ended: {status}");
    assert!(client.collect(&id).await.is_err(), "the killed server's job answered");

    // AutoRemove: everything the dead server started goes away by itself.
    let started_by_server: BTreeSet<String> = before.iter().filter(|c| **c != leftover).cloned().collect();
    wait_until_removed(&started_by_server, &inst, REMOVAL).await?;
    wait_until_no_process_with(marker.text(), REMOVAL).await?;
    assert!(containers(&inst, true).await?.contains(&leftover), "the planted leftover went away on its own");

    // The sweep: the next server of the same instance removes the rest
    // before it listens.
    let server = Server::start(ServerOptions::default().config(&config)).await?;
    let left = containers(&inst, true).await?;
    assert!(!left.contains(&leftover), "the new server did not remove the leftover container of its instance");
    let run = Client::ready(&server).await?.run(bash("echo serving")).await?;
    run.assert_exited_ok();
    assert_eq!(run.stdout(), "serving\n");
    // Stopped with its pool full (stopping mid-refill is docker_backend's
    // a_server_stopped_while_its_pool_refills_leaves_no_container).
    let deadline = Instant::now() + Duration::from_secs(60);
    while get(&server, "/metrics").await?.json()?["pool"]["idle"] != 2 {
        ensure!(Instant::now() < deadline, "the pool did not refill after the job");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    drop(server);
    wait_until_none(&inst, REMOVAL).await
}
