//! A job's container is removed on every path a job can end by (exit,
//! timeout, memory limit, cancel, disconnect), and a server that stops,
//! even while its pool refills, leaves none of its containers behind.
//!
//! Built only with the `docker` feature and run against the Docker backend
//! (`coderun_tests::docker::require_docker`). A job's container is found
//! among its server's containers (the instance label) by a marker in the
//! job's command line, which `docker top` shows.

use std::{collections::BTreeSet, time::Duration};

use anyhow::Result;
use coderun_tests::{
    docker::{
        self, containers, instance, require_docker, server_with_pool, start_marked, wait_for_idle, wait_until_removed,
        REMOVAL,
    },
    host::Marker,
    programs::{bash, python, sleeper, with},
    Client,
};
use serde_json::json;

const MIB: u64 = 1024 * 1024;

/// After a normal exit, the job's container is removed; the pool's idle
/// containers are not the job's.
#[tokio::test]
async fn container_is_removed_after_a_normal_exit() -> Result<()> {
    require_docker("container_is_removed_after_a_normal_exit");
    let server = server_with_pool(2, "").await?;
    let marker = Marker::new();
    let mut client = Client::ready(&server).await?;
    let (id, _, container) = start_marked(&server, &mut client, sleeper(&marker, 1), &marker).await?;
    let run = client.collect(&id).await?;
    run.assert_exited_ok();
    wait_until_removed(&BTreeSet::from([container]), instance(&server), REMOVAL).await
}

/// After the wall-time limit, the job's container is removed.
#[tokio::test]
async fn container_is_removed_after_a_timeout() -> Result<()> {
    require_docker("container_is_removed_after_a_timeout");
    let server = server_with_pool(2, "").await?;
    let marker = Marker::new();
    let mut client = Client::ready(&server).await?;
    let params = with(sleeper(&marker, 3600), "limits", json!({"wallTimeMs": 3000}));
    let (id, _, container) = start_marked(&server, &mut client, params, &marker).await?;
    let run = client.collect(&id).await?;
    assert_eq!(run.status(), "timeout", "{}", run.summary());
    wait_until_removed(&BTreeSet::from([container]), instance(&server), REMOVAL).await
}

/// A program that allocates past its memory limit ends with `memory` (the
/// runner counts the container's OOM kills), and its container is removed.
#[tokio::test]
async fn container_is_removed_after_the_memory_limit() -> Result<()> {
    require_docker("container_is_removed_after_the_memory_limit");
    let server = server_with_pool(2, "").await?;
    let marker = Marker::new();
    let mut client = Client::ready(&server).await?;
    let code = "import sys, time\nprint('started', flush=True)\ntime.sleep(2)\nchunks = []\nwhile True:\n    chunks.append(bytearray(16 << 20))\n";
    let params = json!({
        "language": "python",
        "files": [{"path": "main.py", "content": code}],
        "args": [marker.text()],
        "limits": {"memoryBytes": 128 * MIB, "wallTimeMs": 30000},
    });
    let (id, _, container) = start_marked(&server, &mut client, params, &marker).await?;
    let run = client.collect(&id).await?;
    assert_eq!(run.status(), "memory", "{}", run.summary());
    wait_until_removed(&BTreeSet::from([container]), instance(&server), REMOVAL).await?;
    client.run(python("print('next')")).await?.assert_exited_ok();
    Ok(())
}

/// `$/cancelRequest` ends the job as `cancelled` and removes its container.
#[tokio::test]
async fn container_is_removed_after_cancel() -> Result<()> {
    require_docker("container_is_removed_after_cancel");
    let server = server_with_pool(2, "").await?;
    let marker = Marker::new();
    let mut client = Client::ready(&server).await?;
    let params = with(sleeper(&marker, 3600), "limits", json!({"wallTimeMs": 60000}));
    let (id, _, container) = start_marked(&server, &mut client, params, &marker).await?;
    client.notify("$/cancelRequest", json!({"id": id})).await?;
    let run = client.collect(&id).await?;
    assert_eq!(run.status(), "cancelled", "{}", run.summary());
    wait_until_removed(&BTreeSet::from([container]), instance(&server), REMOVAL).await
}

/// A client that goes away mid-job takes its job's container with it.
#[tokio::test]
async fn container_is_removed_when_the_client_disconnects() -> Result<()> {
    require_docker("container_is_removed_when_the_client_disconnects");
    let server = server_with_pool(2, "").await?;
    let marker = Marker::new();
    let mut client = Client::ready(&server).await?;
    let params = with(sleeper(&marker, 3600), "limits", json!({"wallTimeMs": 60000}));
    let (_, _, container) = start_marked(&server, &mut client, params, &marker).await?;
    client.close().await;
    wait_until_removed(&BTreeSet::from([container]), instance(&server), REMOVAL).await?;
    Client::ready(&server).await?.run(python("print('next')")).await?.assert_exited_ok();
    Ok(())
}

/// SIGTERM mid-job: once the grace period is over the job is cancelled,
/// and by the time the server has exited every container of its instance,
/// the job's and the pool's, is gone.
#[tokio::test]
async fn every_container_is_removed_when_the_server_shuts_down() -> Result<()> {
    require_docker("every_container_is_removed_when_the_server_shuts_down");
    let mut server = server_with_pool(2, "shutdown_grace_ms = 500").await?;
    let marker = Marker::new();
    let mut client = Client::ready(&server).await?;
    // A first job of the language, so that its pool fills.
    client.run(bash("echo 1")).await?.assert_exited_ok();
    wait_for_idle(&server, 2).await?;
    let params = with(sleeper(&marker, 3600), "limits", json!({"wallTimeMs": 60000}));
    let (id, _, _) = start_marked(&server, &mut client, params, &marker).await?;
    let before = containers(instance(&server), true).await?;
    assert_eq!(before.len(), 3, "the job's container and two idle ones: {before:?}");
    server.terminate();
    let answer = client.collect(&id).await;
    let status = server.wait_exit(Duration::from_secs(30)).await?;
    assert!(status.success(), "the server exited with {status}");
    println!("the job's end: {:?}", answer.as_ref().map(|r| r.response.clone()));
    let left = docker::remove_all(instance(&server)).await?;
    assert!(left.is_empty(), "a server that exited cleanly left containers: {left}");
    Ok(())
}

/// A server stopped right after a job, while its pool is still starting
/// the containers that refill it, leaves none of them behind: a container
/// whose creation was under way when the server gave up on it is removed
/// as well. (Several rounds, since the moment of the stop is a race.)
#[tokio::test]
async fn a_server_stopped_while_its_pool_refills_leaves_no_container() -> Result<()> {
    require_docker("a_server_stopped_while_its_pool_refills_leaves_no_container");
    for round in 0..4 {
        let mut server = server_with_pool(2, "").await?;
        let inst = instance(&server).to_owned();
        let mut client = Client::ready(&server).await?;
        client.run(bash("echo one")).await?.assert_exited_ok();
        // The pool was asked to refill when the job took its container.
        server.terminate();
        let status = server.wait_exit(Duration::from_secs(30)).await?;
        assert!(status.success(), "round {round}: the server exited with {status}");
        let left = docker::remove_all(&inst).await?;
        assert!(left.is_empty(), "round {round}: a server that exited cleanly left containers: {left}");
    }
    Ok(())
}
