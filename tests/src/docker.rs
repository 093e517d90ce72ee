//! The Docker engine seen from outside, for the suites that test the Docker
//! backend itself (`docker_*.rs`).
//!
//! Those suites are built only with the `docker` feature and run only
//! against the Docker backend (`CODERUN_SANDBOX=docker`); each test begins
//! with [`require_docker`], which fails it when either is missing. They
//! never skip.
//!
//! Everything here goes through the docker CLI, as an operator would look
//! at the engine: `docker ps` with the instance label the server puts on
//! its containers, `docker inspect`, `docker top`. Every call has a timeout.

use std::{
    collections::BTreeSet,
    process::Stdio,
    time::{Duration, Instant},
};

use anyhow::{bail, ensure, Context, Result};
use serde_json::Value;

use crate::{
    host::Marker,
    http::get,
    server::{sandbox, Server, ServerOptions},
    Client,
};

/// How long a job's container may take to show its marked process.
pub const APPEAR: Duration = Duration::from_secs(30);
/// How long a removed container may take to disappear from the engine.
pub const REMOVAL: Duration = Duration::from_secs(15);

/// The label naming the server instance a container belongs to.
pub const INSTANCE_LABEL: &str = "org.coderun.instance";
/// The label naming the sandbox id of a container.
pub const JOB_LABEL: &str = "org.coderun.job";

/// How long one docker CLI call may take.
const CALL_TIMEOUT: Duration = Duration::from_secs(60);

/// Panics unless the backend under test is Docker and its engine answers.
/// The suites that call this are built only with the crate's `docker`
/// feature (`required-features` in tests/Cargo.toml): a run that does not
/// ask for them does not list them, and a run that asks for them without an
/// engine fails; none of them ever passes without running.
pub fn require_docker(test: &str) {
    let backend = sandbox();
    assert_eq!(backend, "docker", "{test}: a Docker suite needs CODERUN_SANDBOX=docker");
    if let Err(e) = engine_answers() {
        panic!("{test}: CODERUN_SANDBOX=docker, but {e}");
    }
}

/// `Ok` when `docker info` answers.
pub fn engine_answers() -> Result<(), String> {
    let out = std::process::Command::new("docker")
        .args(["info", "--format", "{{.ServerVersion}}"])
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("the docker CLI cannot be run: {e}"))?;
    let version = String::from_utf8_lossy(&out.stdout).trim().to_owned();
    if out.status.success() && !version.is_empty() && !version.contains("Error") {
        Ok(())
    } else {
        Err(format!("no Docker engine answers `docker info`: {}", String::from_utf8_lossy(&out.stderr).trim()))
    }
}

/// Runs `docker ARGS...` and returns its stdout; fails with its stderr.
pub async fn docker(args: &[&str]) -> Result<String> {
    let mut cmd = tokio::process::Command::new("docker");
    cmd.args(args).stdin(Stdio::null()).kill_on_drop(true);
    let out = tokio::time::timeout(CALL_TIMEOUT, cmd.output())
        .await
        .with_context(|| format!("`docker {}` did not finish within {CALL_TIMEOUT:?}", args.join(" ")))?
        .with_context(|| format!("running `docker {}`", args.join(" ")))?;
    if !out.status.success() {
        bail!("`docker {}` failed ({}): {}", args.join(" "), out.status, String::from_utf8_lossy(&out.stderr).trim());
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// The full ids of the containers labelled with this instance; `all`
/// includes those that are not running.
pub async fn containers(instance: &str, all: bool) -> Result<BTreeSet<String>> {
    let filter = format!("label={INSTANCE_LABEL}={instance}");
    let mut args = vec!["ps", "-q", "--no-trunc", "--filter", &filter];
    if all {
        args.push("-a");
    }
    Ok(docker(&args).await?.split_whitespace().map(str::to_owned).collect())
}

/// `docker inspect` of one container, the object itself (not the array).
pub async fn inspect(id: &str) -> Result<Value> {
    let text = docker(&["inspect", "--type", "container", id]).await?;
    let mut all: Value = serde_json::from_str(&text).context("`docker inspect` printed something that is not JSON")?;
    all.get_mut(0).map(Value::take).context("`docker inspect` printed an empty array")
}

/// The processes of a running container as `docker top` lists them (its
/// whole output, one process a line, command lines included).
pub async fn top(id: &str) -> Result<String> {
    docker(&["top", id, "-eo", "pid,user,args"]).await
}

/// Waits (up to `limit`) until one running container of the instance has a
/// process whose command line contains `needle`, and returns its id: how a
/// test finds the container of its job among the pool's idle ones.
pub async fn container_running(instance: &str, needle: &str, limit: Duration) -> Result<String> {
    let deadline = Instant::now() + limit;
    loop {
        for id in containers(instance, false).await? {
            // A container can end between the listing and this call.
            if top(&id).await.is_ok_and(|t| t.contains(needle)) {
                return Ok(id);
            }
        }
        if Instant::now() > deadline {
            let seen = containers(instance, true).await.unwrap_or_default();
            bail!("no container of instance {instance} ran a process with {needle:?} within {limit:?}; its containers: {seen:?}");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Waits (up to `limit`) until none of `ids` exists any more, running or
/// not. Says how long it took when that was long.
pub async fn wait_until_removed(ids: &BTreeSet<String>, instance: &str, limit: Duration) -> Result<()> {
    let started = Instant::now();
    loop {
        let now = containers(instance, true).await?;
        let left: Vec<_> = ids.intersection(&now).collect();
        if left.is_empty() {
            if started.elapsed() > Duration::from_secs(2) {
                println!("note: the containers took {:?} to be removed", started.elapsed());
            }
            return Ok(());
        }
        if started.elapsed() > limit {
            let states = describe(&left.iter().map(|s| s.as_str()).collect::<Vec<_>>()).await;
            bail!("{} container(s) still exist {limit:?} later: {states}", left.len());
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Waits (up to `limit`) until the instance has no container at all. On
/// failure the leftovers are removed (see [`remove_all`]) and named.
pub async fn wait_until_none(instance: &str, limit: Duration) -> Result<()> {
    let all = containers(instance, true).await?;
    let waited = wait_until_removed(&all, instance, limit).await;
    let left = remove_all(instance).await?;
    waited?;
    if !left.is_empty() {
        bail!("the instance {instance} still has containers: {left}");
    }
    Ok(())
}

/// `id name state` of each container, for failure messages.
pub async fn describe(ids: &[&str]) -> String {
    let mut out = Vec::new();
    for id in ids {
        match inspect(id).await {
            Ok(c) => out.push(format!("{} {} {}", &id[..id.len().min(12)], c["Name"], c["State"]["Status"])),
            Err(e) => out.push(format!("{} ({e:#})", &id[..id.len().min(12)])),
        }
    }
    out.join(", ")
}

/// Whether an image of this name exists on the engine.
pub async fn image_exists(image: &str) -> bool {
    docker(&["image", "inspect", "--format", "{{.Id}}", image]).await.is_ok()
}

/// Force-removes every container of the instance, returning how they were
/// beforehand: a test that found leftovers cleans them up before failing,
/// since no later server of a test's unique instance would sweep them.
pub async fn remove_all(instance: &str) -> Result<String> {
    let ids = containers(instance, true).await?;
    if ids.is_empty() {
        return Ok(String::new());
    }
    let described = describe(&ids.iter().map(String::as_str).collect::<Vec<_>>()).await;
    let mut args = vec!["rm", "--force"];
    args.extend(ids.iter().map(String::as_str));
    docker(&args).await?;
    Ok(described)
}

/// A server whose pool keeps `per_key` containers per image (0: none).
pub async fn server_with_pool(per_key: usize, extra: &str) -> Result<Server> {
    let config = format!("{extra}\n[pool]\nper_key = {per_key}\n");
    Server::start(ServerOptions::default().config(&config)).await
}

pub fn instance(server: &Server) -> &str {
    server.instance().expect("a server on the Docker backend has an instance name")
}

pub async fn metrics(server: &Server) -> Result<Value> {
    get(server, "/metrics").await?.json()
}

/// Waits until the pool has `n` idle containers, by `/metrics`.
pub async fn wait_for_idle(server: &Server, n: u64) -> Result<Value> {
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    loop {
        let m = metrics(server).await?;
        if m["pool"]["idle"].as_u64() == Some(n) {
            return Ok(m);
        }
        ensure!(std::time::Instant::now() < deadline, "the pool never had {n} idle containers: {m}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Starts a marked job on `client` and returns its id, its notifications so
/// far and its container.
pub async fn start_marked(
    server: &Server,
    client: &mut Client,
    params: Value,
    marker: &Marker,
) -> Result<(Value, Vec<Value>, String)> {
    let id = client.start_run(params).await?;
    let early = client.wait_for_output(&id, "started").await?;
    let container = container_running(instance(server), marker.text(), APPEAR).await?;
    Ok((id, early, container))
}
