//! The Docker backend with gVisor (`runsc`) as the runtime of some
//! languages (`[docker] runtimes`): their containers run under it, which a
//! live container's `docker inspect` shows, and their programs run,
//! compiled ones included, while the other languages keep the engine's
//! default runtime.
//!
//! runsc cannot change a running container's limits, so such a container
//! starts with the largest limits of the job's stages and the pool lends
//! its waiting containers only to jobs with the pool's limits; a job with
//! other limits gets a container of its own made with them.
//!
//! Built only with the `docker` feature and run against the Docker backend.
//! scripts/docker-engine installs runsc and registers it with the engine;
//! where that runtime is missing these tests fail, never skip.

use std::{
    collections::BTreeSet,
    time::{Duration, Instant},
};

use anyhow::{ensure, Context, Result};
use coderun_tests::{
    docker::{
        containers, docker, inspect, instance, metrics, require_docker, server_with_pool, wait_for_idle,
        wait_until_removed, APPEAR, REMOVAL,
    },
    programs::{bash, python, with},
    Client,
};
use serde_json::json;

const MIB: u64 = 1024 * 1024;
const RUNTIMES: &str = "[docker.runtimes]\nbash = \"runsc\"\npython = \"runsc\"\nc = \"runsc\"\n";

async fn require_runsc(test: &str) -> Result<()> {
    require_docker(test);
    let runtimes = docker(&["info", "--format", "{{range $name, $_ := .Runtimes}}{{println $name}}{{end}}"]).await?;
    ensure!(
        runtimes.lines().any(|r| r == "runsc"),
        "{test}: the engine has no runsc runtime (scripts/docker-engine registers it): {runtimes}"
    );
    Ok(())
}

/// The one container an instance has, once it has exactly one running.
async fn the_container(instance: &str) -> Result<String> {
    let deadline = Instant::now() + APPEAR;
    loop {
        let running = containers(instance, false).await?;
        if running.len() == 1 {
            return Ok(running.into_iter().next().unwrap());
        }
        ensure!(Instant::now() < deadline, "instance {instance} does not have one container but {running:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Python, C (built, then run, in one container) and Bash run under runsc;
/// a live container says so, and Ruby, not configured, does not use it.
/// No pool, so a job's container is its instance's only one (`docker top`
/// cannot show what runs inside a gVisor sandbox).
#[tokio::test]
async fn languages_configured_for_runsc_run_under_it() -> Result<()> {
    require_runsc("languages_configured_for_runsc_run_under_it").await?;
    let server = server_with_pool(0, RUNTIMES).await?;
    let mut client = Client::ready(&server).await?;

    let run = client.run(python("import sys\nprint('py', sys.version_info[0])\n")).await?;
    run.assert_exited_ok();
    assert_eq!(run.stdout(), "py 3\n", "{}", run.summary());
    let c = json!({"language": "c", "files": [{"path": "main.c",
        "content": "#include <stdio.h>\nint main(void) { printf(\"c %d\\n\", 6 * 7); return 0; }\n"}]});
    let run = client.run(c).await?;
    run.assert_exited_ok();
    assert_eq!(run.stdout(), "c 42\n", "{}", run.summary());

    let slow = "print('started', flush=True)\nimport time\ntime.sleep(3600)\n";
    let rb_slow = "puts 'started'\n$stdout.flush\nsleep 3600\n";
    for (language, path, code, runtime) in [
        ("python", "main.py", slow, "runsc"),
        ("bash", "main.sh", "echo started\nsleep 3600\n", "runsc"),
        ("ruby", "main.rb", rb_slow, "runc"),
    ] {
        let params =
            json!({"language": language, "files": [{"path": path, "content": code}], "limits": {"wallTimeMs": 60000}});
        let id = client.start_run(params).await?;
        client.wait_for_output(&id, "started").await?;
        let container = the_container(instance(&server)).await?;
        let h = inspect(&container).await?["HostConfig"].clone();
        // The engine's default runtime is named "runc", or left empty.
        let seen = h["Runtime"].as_str().filter(|r| !r.is_empty()).unwrap_or("runc");
        assert_eq!(seen, runtime, "{language}'s container: {h}");
        client.notify("$/cancelRequest", json!({"id": id})).await?;
        assert_eq!(client.collect(&id).await?.status(), "cancelled", "{language}");
        wait_until_removed(&BTreeSet::from([container]), instance(&server), REMOVAL).await?;
    }
    Ok(())
}

/// The pool lends its waiting runsc container to a job with the pool's
/// limits (a hit); a job with limits of its own gets a container made with
/// them (a miss), since runsc cannot update a waiting one, and the waiting
/// container stays in the pool.
#[tokio::test]
async fn a_job_with_its_own_limits_gets_a_container_made_with_them() -> Result<()> {
    require_runsc("a_job_with_its_own_limits_gets_a_container_made_with_them").await?;
    let server = server_with_pool(1, RUNTIMES).await?;
    let inst = instance(&server).to_owned();
    let mut client = Client::ready(&server).await?;
    client.run(bash("echo one")).await?.assert_exited_ok();
    wait_for_idle(&server, 1).await?;
    client.run(bash("echo two")).await?.assert_exited_ok();
    let m = wait_for_idle(&server, 1).await?;
    assert_eq!((m["pool"]["hits"].as_u64(), m["pool"]["misses"].as_u64()), (Some(1), Some(1)), "{m}");

    let waiting = containers(&inst, false).await?;
    assert_eq!(waiting.len(), 1, "{waiting:?}");
    let params = with(bash("echo started\nsleep 3600\n"), "limits", json!({"memoryBytes": 200 * MIB, "processes": 40}));
    let id = client.start_run(params).await?;
    client.wait_for_output(&id, "started").await?;
    let now = containers(&inst, false).await?;
    assert!(now.is_superset(&waiting), "the waiting container was taken: {waiting:?} → {now:?}");
    let mine: Vec<_> = now.difference(&waiting).cloned().collect();
    assert_eq!(mine.len(), 1, "not one new container: {waiting:?} → {now:?}");
    let h = inspect(&mine[0]).await?["HostConfig"].clone();
    assert_eq!(h["Runtime"], "runsc");
    assert_eq!(h["Memory"], json!(200 * MIB), "{h}");
    assert_eq!(h["MemorySwap"], h["Memory"]);
    let pids = h["PidsLimit"].as_u64().context("no PidsLimit")?;
    assert!(pids >= 40, "pids limit {pids} below the job's 40");
    client.notify("$/cancelRequest", json!({"id": id})).await?;
    assert_eq!(client.collect(&id).await?.status(), "cancelled");
    wait_until_removed(&BTreeSet::from([mine[0].clone()]), &inst, REMOVAL).await?;
    let m = metrics(&server).await?;
    assert_eq!(m["pool"]["misses"].as_u64(), Some(2), "{m}");
    Ok(())
}
