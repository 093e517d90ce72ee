//! The warm pool: jobs take sandboxes that were started ahead of time, each
//! is used by one job only and removed after it, and the pool refills.
//! Seen from outside through `GET /metrics` and the sandboxes themselves:
//! the host's cgroups on the native backend, the containers of the server's
//! instance on Docker (`tests/docker_backend.rs` checks more of those).

use std::{collections::BTreeSet, time::Duration};

use anyhow::{bail, Result};
use coderun_tests::{
    host::{cgroups_under, containers_of, remove_cgroup_parent, Marker},
    http::get,
    programs::python,
    server::ServerOptions,
    Client, Server,
};
use serde_json::Value;

async fn metrics(server: &Server) -> Result<Value> {
    Ok(serde_json::from_str(&get(server, "/metrics").await?.text())?)
}

/// The sandboxes that exist now: on the native backend, the names
/// (`job-<server pid>-<id>`) with a cgroup under `parent`; on Docker, the
/// ids of the containers of the server's instance.
fn sandboxes(parent: &str, instance: Option<&str>) -> BTreeSet<String> {
    if let Some(instance) = instance {
        return containers_of(instance).into_iter().collect();
    }
    cgroups_under(parent)
        .iter()
        .filter_map(|p| p.file_name().map(|n| n.to_string_lossy().into_owned()))
        .filter(|n| n.starts_with("job-"))
        .collect()
}

async fn wait_for(what: &str, mut ok: impl FnMut() -> bool) -> Result<()> {
    for _ in 0..200 {
        if ok() {
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    bail!("timed out waiting for {what}")
}

struct Parent(String);
impl Drop for Parent {
    fn drop(&mut self) {
        remove_cgroup_parent(&self.0);
    }
}

#[tokio::test]
async fn jobs_take_waiting_sandboxes_and_each_is_removed_after_its_job() -> Result<()> {
    let parent = Parent(format!("coderun-test-{}", Marker::new().text()));
    // Prefilled (on Docker the suites' default is to fill on first use).
    let config =
        format!("[native]\ncgroup_parent = \"{}\"\n[pool]\nper_key = 1\nmax_total = 4\nprefill = true\n", parent.0);
    let mut server = Server::start(ServerOptions::default().config(&config)).await?;
    let instance = server.instance().map(str::to_owned);
    let instance = instance.as_deref();
    // Python's sandbox has no extra mounts; wait until one is waiting for it.
    for _ in 0..200 {
        if metrics(&server).await?["pool"]["idle"].as_u64() >= Some(1) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let waiting = sandboxes(&parent.0, instance);
    assert!(!waiting.is_empty(), "the pool started no sandbox: {}", metrics(&server).await?);

    let run = Client::ready(&server).await?.run(python("print('warm')")).await?;
    run.assert_exited_ok();
    assert_eq!(run.stdout(), "warm\n");
    let m = metrics(&server).await?;
    assert_eq!(m["pool"]["hits"], 1, "{m}");
    assert_eq!(m["pool"]["misses"], 0, "{m}");

    // The sandbox the job used is gone, and the pool has started another.
    wait_for("the used sandbox to be removed", || {
        sandboxes(&parent.0, instance).difference(&waiting).count() >= 1
            && waiting.difference(&sandboxes(&parent.0, instance)).count() == 1
    })
    .await?;
    server.stop();
    wait_for("every sandbox to be removed at shutdown", || sandboxes(&parent.0, instance).is_empty()).await
}

#[tokio::test]
async fn without_a_pool_every_job_starts_its_own_sandbox() -> Result<()> {
    let parent = Parent(format!("coderun-test-{}", Marker::new().text()));
    let config = format!("[native]\ncgroup_parent = \"{}\"\n[pool]\nper_key = 0\n", parent.0);
    let server = Server::start(ServerOptions::default().config(&config)).await?;
    let instance = server.instance();
    let mut client = Client::ready(&server).await?;
    for _ in 0..2 {
        client.run(python("print(1)")).await?.assert_exited_ok();
    }
    let m = metrics(&server).await?;
    assert_eq!((m["pool"]["hits"].as_u64(), m["pool"]["misses"].as_u64()), (Some(0), Some(2)), "{m}");
    wait_for("no sandbox to be left", || sandboxes(&parent.0, instance).is_empty()).await
}
