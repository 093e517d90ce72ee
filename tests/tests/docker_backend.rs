//! The Docker backend seen from outside: every language whose image exists
//! offered from a first start; every hardening setting read back from a
//! live container with `docker inspect`, and felt from inside a job; the
//! warm pool handing each job a fresh container and never the same one
//! twice; and nothing of one job visible to the next. (Removal on every
//! path: `docker_cleanup.rs`.)
//!
//! Built only with the `docker` feature and run against the Docker backend
//! (`coderun_tests::docker::require_docker`). A job's container is found among its
//! server's containers (the instance label) by a marker in the job's
//! command line, which `docker top` shows.

use std::{collections::BTreeSet, time::Duration};

use anyhow::{ensure, Context, Result};
use coderun_tests::{
    docker::{
        self, container_running, containers, inspect, instance, metrics, require_docker, server_with_pool,
        start_marked, wait_for_idle, wait_until_none, wait_until_removed, APPEAR, REMOVAL,
    },
    host::Marker,
    programs::{bash, job, python, sleeper, with},
    Client, JobRun, Server, ServerOptions,
};
use serde_json::{json, Value};

const MIB: u64 = 1024 * 1024;

/// Parses the `key value` lines a program prints about itself.
fn reported(run: &JobRun, key: &str) -> String {
    let stdout = run.stdout();
    let prefix = format!("{key} ");
    stdout
        .lines()
        .find_map(|l| l.strip_prefix(&prefix).or((l == key).then_some("")))
        .unwrap_or_else(|| panic!("the program did not report {key:?}:\n{}", run.summary()))
        .trim()
        .to_owned()
}

/// A tmpfs option string (`rw,noexec,size=...`) as a set of options.
fn options(text: &str) -> BTreeSet<String> {
    text.split(',').map(str::to_owned).collect()
}

/// Every hardening setting of DockerConfig's defaults is in force on the
/// container of a running job, and its memory and pids limits are the
/// job's: read back with `docker inspect` while the job sleeps.
#[tokio::test]
async fn a_live_container_has_every_hardening_setting() -> Result<()> {
    require_docker("a_live_container_has_every_hardening_setting");
    let server = server_with_pool(0, "").await?;
    let marker = Marker::new();
    let mut client = Client::ready(&server).await?;
    let limits = json!({"memoryBytes": 200 * MIB, "processes": 40, "wallTimeMs": 30000});
    let id = client.start_run(with(sleeper(&marker, 20), "limits", limits)).await?;
    client.wait_for_output(&id, "started").await?;
    let container = container_running(instance(&server), marker.text(), APPEAR).await?;
    let c = inspect(&container).await?;
    let h = &c["HostConfig"];
    println!("HostConfig: {h:#}");

    assert_eq!(h["NetworkMode"], "none", "network");
    assert_eq!(c["Config"]["NetworkDisabled"], true, "network disabled");
    assert_eq!(h["CapDrop"], json!(["ALL"]), "capabilities dropped");
    assert!(h["CapAdd"].is_null() || h["CapAdd"] == json!([]), "no capability added: {}", h["CapAdd"]);
    assert_eq!(h["Privileged"], false);
    let security: Vec<&str> =
        h["SecurityOpt"].as_array().context("SecurityOpt")?.iter().filter_map(Value::as_str).collect();
    assert!(
        security.iter().any(|o| *o == "no-new-privileges" || *o == "no-new-privileges:true"),
        "no-new-privileges is not set: {security:?}"
    );
    assert_eq!(h["ReadonlyRootfs"], true, "read-only root");

    let tmpfs = h["Tmpfs"].as_object().context("no Tmpfs")?;
    for (path, size) in [("/work", 64 * MIB), ("/tmp", 64 * MIB)] {
        let opts =
            options(tmpfs.get(path).and_then(Value::as_str).with_context(|| format!("no tmpfs at {path}: {tmpfs:?}"))?);
        assert!(opts.contains(&format!("size={size}")), "{path} is not capped at {size} bytes: {opts:?}");
        assert!(opts.contains("noexec"), "{path} of an interpreted language must be noexec: {opts:?}");
        assert!(opts.contains("nosuid") && opts.contains("nodev"), "{path}: {opts:?}");
    }

    assert_eq!(h["Memory"], json!(200 * MIB), "memory is the job's limit");
    assert_eq!(h["MemorySwap"], h["Memory"], "memory + swap equals memory: no swap");
    // The stage's processes plus `docker.runner_processes` (32 by default)
    // for the runner's own threads.
    assert_eq!(h["PidsLimit"], json!(40 + 32), "pids limit");
    assert_eq!(h["NanoCpus"], json!(1_000_000_000u64), "one CPU");
    let ulimits: Vec<(String, i64, i64)> = h["Ulimits"]
        .as_array()
        .context("no Ulimits")?
        .iter()
        .map(|u| {
            (
                u["Name"].as_str().unwrap_or("").to_owned(),
                u["Soft"].as_i64().unwrap_or(-1),
                u["Hard"].as_i64().unwrap_or(-1),
            )
        })
        .collect();
    for (name, value) in [("nofile", 1024), ("fsize", 64 * MIB as i64), ("core", 0)] {
        assert!(ulimits.contains(&(name.to_owned(), value, value)), "ulimit {name} is not {value}: {ulimits:?}");
    }
    assert_eq!(h["LogConfig"]["Type"], "none", "log driver");
    assert_eq!(h["OomScoreAdj"], 1000, "OOM score adjustment");
    assert_eq!(h["AutoRemove"], true, "the container removes itself once it exits");
    assert!(h["Init"].is_null() || h["Init"] == false, "the runner is PID 1, not docker-init: {}", h["Init"]);
    assert_eq!(c["Config"]["User"], "1000:1000", "user");
    let labels = &c["Config"]["Labels"];
    assert_eq!(labels[docker::INSTANCE_LABEL], instance(&server), "instance label: {labels}");
    assert!(labels[docker::JOB_LABEL].as_str().is_some_and(|j| j.parse::<u64>().is_ok()), "job label: {labels}");
    let name = c["Name"].as_str().unwrap_or("");
    // `coderun-INSTANCE-RUN-JOB`, RUN random per server process.
    let prefix = format!("/coderun-{}-", instance(&server));
    let run = name.strip_prefix(&prefix).and_then(|rest| rest.split('-').next()).unwrap_or("");
    assert!(run.len() == 8 && run.chars().all(|c| c.is_ascii_hexdigit()), "the name {name} is not {prefix}RUN-JOB");
    let state = &c["State"];
    assert_eq!(state["OOMKilled"], false);

    // The features `initialize` reports say the same.
    let init = Client::connect(&server).await?.initialize().await?;
    let features: Vec<&str> =
        init["features"].as_array().context("features")?.iter().filter_map(Value::as_str).collect();
    // spec/README.md, "isolation:" names: each mechanism above, named.
    for f in [
        "sandbox:docker",
        "isolation:container",
        "isolation:pidNamespace",
        "isolation:mountNamespace",
        "isolation:networkNamespace",
        "isolation:cgroupMemory",
        "isolation:cgroupPids",
        "isolation:cgroupCpu",
        "isolation:separateUid",
        "isolation:rlimits",
        "isolation:noNewPrivs",
        "isolation:noCapabilities",
        "isolation:readOnlyRoot",
    ] {
        assert!(features.contains(&f), "initialize does not report {f}: {features:?}");
    }

    client.notify("$/cancelRequest", json!({"id": id})).await?;
    assert_eq!(client.collect(&id).await?.status(), "cancelled");
    wait_until_removed(&BTreeSet::from([container]), instance(&server), REMOVAL).await
}

/// On a first start (no cache of toolchain versions yet) every language of
/// the built-in catalog whose image exists on the engine is offered: each is
/// detected in a container of its own, all at once.
#[tokio::test]
async fn every_language_with_an_image_is_offered_on_a_first_start() -> Result<()> {
    require_docker("every_language_with_an_image_is_offered_on_a_first_start");
    let catalog: toml::Table = include_str!("../../server/src/catalog/languages.toml").parse()?;
    let mut expected = BTreeSet::new();
    let mut missing = Vec::new();
    for language in catalog["language"].as_array().context("no [[language]]")? {
        let (id, image) = (language["id"].as_str().unwrap_or(""), language["image"].as_str().unwrap_or(""));
        if docker::image_exists(image).await {
            expected.insert(id.to_owned());
        } else {
            missing.push(format!("{id} ({image})"));
        }
    }
    if !missing.is_empty() {
        println!("not built on this engine, so not expected: {missing:?}");
    }
    ensure!(!expected.is_empty(), "no image of the catalog exists (build them with scripts/images)");
    let cache = std::env::temp_dir().join(format!("coderun-test-cache-{}", Marker::new().text()));
    let options = ServerOptions::default().env("XDG_CACHE_HOME", &cache.display().to_string());
    let server = Server::start(options).await;
    let _ = std::fs::remove_dir_all(&cache);
    let server = server?;
    let init = Client::connect(&server).await?.initialize().await?;
    let offered: BTreeSet<String> = init["languages"]
        .as_array()
        .context("languages")?
        .iter()
        .filter_map(|l| l["id"].as_str().map(str::to_owned))
        .collect();
    assert_eq!(offered, expected, "the languages offered on a first start are not those whose image exists");
    wait_until_none(instance(&server), REMOVAL).await
}

/// A compiled language's working directory may hold the binary it built
/// (`exec`); its `/tmp` stays `noexec`. The build stage runs under the build
/// limits and the run stage under the job's: the container's memory and
/// pids limits are the job's while the program runs.
#[tokio::test]
async fn a_compiled_language_may_exec_in_work_only() -> Result<()> {
    require_docker("a_compiled_language_may_exec_in_work_only");
    let server = server_with_pool(0, "").await?;
    let marker = Marker::new();
    let mut client = Client::ready(&server).await?;
    let code = "#include <stdio.h>\n#include <unistd.h>\nint main(void) { puts(\"started\"); fflush(stdout); sleep(20); return 0; }\n";
    let params = json!({
        "language": "c",
        "files": [{"path": "main.c", "content": code}],
        "args": [marker.text()],
        "limits": {"memoryBytes": 100 * MIB, "processes": 10, "wallTimeMs": 30000},
    });
    let id = client.start_run(params).await?;
    client.wait_for_output(&id, "started").await?;
    let container = container_running(instance(&server), marker.text(), APPEAR).await?;
    let h = inspect(&container).await?["HostConfig"].clone();
    let tmpfs = h["Tmpfs"].as_object().context("no Tmpfs")?;
    let work = options(tmpfs["/work"].as_str().unwrap_or(""));
    let tmp = options(tmpfs["/tmp"].as_str().unwrap_or(""));
    assert!(work.contains("exec") && !work.contains("noexec"), "/work of C must allow exec: {work:?}");
    assert!(tmp.contains("noexec"), "/tmp stays noexec: {tmp:?}");
    assert_eq!(h["Memory"], json!(100 * MIB), "the run stage's memory limit");
    assert_eq!(h["MemorySwap"], h["Memory"]);
    assert_eq!(h["PidsLimit"], json!(10 + 32));
    client.notify("$/cancelRequest", json!({"id": id})).await?;
    assert_eq!(client.collect(&id).await?.status(), "cancelled");
    wait_until_removed(&BTreeSet::from([container]), instance(&server), REMOVAL).await
}

/// From inside, a job sees what the settings promise: uid 1000, no
/// effective capabilities, no_new_privs, only `lo`, a read-only root,
/// `noexec` tmpfs working directory and `/tmp`, and the runner as PID 1.
#[tokio::test]
async fn a_job_feels_the_hardening_from_inside() -> Result<()> {
    require_docker("a_job_feels_the_hardening_from_inside");
    let server = server_with_pool(0, "").await?;
    let code = r#"echo "uid $(id -u) $(id -g)"
grep -E '^(CapEff|CapPrm|CapBnd|NoNewPrivs):' /proc/self/status | tr -d ':' | tr -s ' \t' ' '
echo "net $(ls /sys/class/net | tr '\n' ' ')"
if touch /coderun-root-probe 2>/dev/null; then echo "root writable"; else echo "root read-only"; fi
if touch /usr/coderun-usr-probe 2>/dev/null; then echo "usr writable"; else echo "usr read-only"; fi
echo "pid1 $(tr '\0' ' ' < /proc/1/cmdline)"
while read -r dev mnt fs opts rest; do
  case "$mnt" in /work|/tmp) echo "mount $mnt $fs $opts" ;; esac
done < /proc/self/mounts
cp /bin/true ./t 2>/dev/null && chmod +x ./t && { ./t 2>/dev/null && echo "work exec yes" || echo "work exec no"; }
"#;
    let run = Client::ready(&server).await?.run(bash(code)).await?;
    run.assert_exited_ok();
    println!("{}", run.stdout());
    assert_eq!(reported(&run, "uid"), "1000 1000", "{}", run.summary());
    assert_eq!(reported(&run, "CapEff"), "0000000000000000", "effective capabilities");
    assert_eq!(reported(&run, "CapPrm"), "0000000000000000", "permitted capabilities");
    assert_eq!(reported(&run, "CapBnd"), "0000000000000000", "bounding set");
    assert_eq!(reported(&run, "NoNewPrivs"), "1", "no_new_privs");
    assert_eq!(reported(&run, "net"), "lo", "network interfaces");
    assert_eq!(reported(&run, "root"), "read-only");
    assert_eq!(reported(&run, "usr"), "read-only");
    assert!(reported(&run, "pid1").contains("coderun-runner"), "PID 1 is not the runner: {}", run.summary());
    let stdout = run.stdout();
    let mounts: Vec<&str> = stdout.lines().filter_map(|l| l.strip_prefix("mount ")).collect();
    for path in ["/work", "/tmp"] {
        let line = mounts
            .iter()
            .find(|l| l.starts_with(&format!("{path} ")))
            .unwrap_or_else(|| panic!("no mount at {path}: {mounts:?}"));
        assert!(line.contains(" tmpfs "), "{path} is not a tmpfs: {line}");
        assert!(
            line.split(' ').nth(2).is_some_and(|o| o.split(',').any(|o| o == "noexec")),
            "{path} is not noexec: {line}"
        );
    }
    assert_eq!(reported(&run, "work exec"), "no", "a binary copied into /work ran");
    Ok(())
}

/// `kill -9 -1` kills every process of the job it may signal, but not the
/// runner (PID 1 of the container): the job still reports its exit, and the
/// container is removed after.
#[tokio::test]
async fn kill_all_inside_a_job_spares_the_runner() -> Result<()> {
    require_docker("kill_all_inside_a_job_spares_the_runner");
    let server = server_with_pool(0, "").await?;
    let marker = Marker::new();
    let code = format!(
        "echo started\nsleep {} &\nsleep 0.5\nkill -9 -1\necho survived\nkill -0 1 && echo runner alive\nexit 3\n",
        marker.sleep_args(3600)
    );
    let mut client = Client::ready(&server).await?;
    let id = client.start_run(bash(&code)).await?;
    let early = client.wait_for_output(&id, "started").await?;
    let container = container_running(instance(&server), marker.text(), APPEAR).await?;
    let mut run = client.collect(&id).await?;
    run.prepend(early);
    assert_eq!(run.status(), "exited", "{}", run.summary());
    assert_eq!(run.result()["exitCode"], json!(3), "{}", run.summary());
    assert!(run.stdout().contains("survived\nrunner alive\n"), "{}", run.summary());
    wait_until_removed(&BTreeSet::from([container]), instance(&server), REMOVAL).await?;
    // The server and the next job carry on.
    client.run(python("print('next')")).await?.assert_exited_ok();
    Ok(())
}

/// The pool: after a job, the configured number of containers wait; the
/// next job takes one of them (a hit), with its own limits applied; the
/// container a job used is removed and never handed out again.
#[tokio::test]
async fn each_job_gets_a_fresh_container_from_the_pool() -> Result<()> {
    require_docker("each_job_gets_a_fresh_container_from_the_pool");
    let server = server_with_pool(2, "").await?;
    let inst = instance(&server).to_owned();
    let mut client = Client::ready(&server).await?;
    let mut used = Vec::new();

    // The pool fills after the first job of a language (prefill is off).
    let m = Marker::new();
    let (id, _, first) = start_marked(&server, &mut client, sleeper(&m, 1), &m).await?;
    client.collect(&id).await?.assert_exited_ok();
    used.push(first.clone());
    let stats = wait_for_idle(&server, 2).await?;
    assert_eq!((stats["pool"]["hits"].as_u64(), stats["pool"]["misses"].as_u64()), (Some(0), Some(1)), "{stats}");
    wait_until_removed(&BTreeSet::from([first.clone()]), &inst, REMOVAL).await?;

    for round in 1..=3u64 {
        let idle = containers(&inst, true).await?;
        assert_eq!(idle.len(), 2, "round {round}: the idle pool is not two containers: {idle:?}");
        for u in &used {
            assert!(!idle.contains(u), "round {round}: a used container {u} is waiting in the pool");
        }
        let m = Marker::new();
        let memory = (200 + 50 * round) * MIB;
        let params = with(sleeper(&m, 1), "limits", json!({"memoryBytes": memory, "processes": 20 + round}));
        let (id, _, container) = start_marked(&server, &mut client, params, &m).await?;
        assert!(idle.contains(&container), "round {round}: the job did not take a waiting container");
        assert!(!used.contains(&container), "round {round}: a container was used twice");
        let h = inspect(&container).await?["HostConfig"].clone();
        assert_eq!(h["Memory"], json!(memory), "round {round}: a pooled container gets the job's memory limit");
        assert_eq!(h["MemorySwap"], json!(memory));
        assert_eq!(h["PidsLimit"], json!(20 + round + 32));
        client.collect(&id).await?.assert_exited_ok();
        used.push(container.clone());
        wait_until_removed(&BTreeSet::from([container]), &inst, REMOVAL).await?;
        let stats = wait_for_idle(&server, 2).await?;
        assert_eq!(stats["pool"]["hits"].as_u64(), Some(round), "{stats}");
        assert_eq!(stats["pool"]["misses"].as_u64(), Some(1), "{stats}");
        // The refill is visible on the engine too.
        let deadline = std::time::Instant::now() + Duration::from_secs(30);
        while containers(&inst, true).await?.len() != 2 {
            ensure!(std::time::Instant::now() < deadline, "the engine never showed two idle containers");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
    let distinct: BTreeSet<_> = used.iter().collect();
    assert_eq!(distinct.len(), used.len(), "a container served two jobs: {used:?}");
    Ok(())
}

/// A second job, on a container taken from the same pool, sees nothing of
/// the first: not its files in the working directory, `/tmp` or
/// `/dev/shm`, not its processes.
#[tokio::test]
async fn a_second_job_sees_nothing_of_the_first() -> Result<()> {
    require_docker("a_second_job_sees_nothing_of_the_first");
    let server = server_with_pool(2, "").await?;
    let marker = Marker::new();
    let m = marker.text();
    let mut client = Client::ready(&server).await?;
    let first = format!(
        "echo secret > secret-{m}.txt\nmkdir -p sub-{m}\necho secret > /tmp/secret-{m}\necho secret > /dev/shm/secret-{m} 2>/dev/null\nsetsid sleep 3600 0.{m} </dev/null >/dev/null 2>&1 &\nls -a . /tmp\n"
    );
    let run = client.run(job("bash", &[("main.sh", &first), (&format!("data-{m}.txt"), "mine")])).await?;
    run.assert_exited_ok();
    assert!(run.stdout().contains(&format!("secret-{m}.txt")), "the first job could not write: {}", run.summary());

    let second = format!(
        "ls -a . /tmp /dev/shm\ngrep -rl secret . /tmp /dev/shm 2>/dev/null\nfor p in /proc/[0-9]*; do tr '\\0' ' ' < $p/cmdline 2>/dev/null; echo; done | grep -e '0[.]{m}' && echo 'found a process'\necho done\n"
    );
    let run = client.run(bash(&second)).await?;
    run.assert_exited_ok();
    let out = run.stdout();
    // The second job's own script names the marker (in a pattern its own
    // command line does not match), so look for the first job's names.
    for name in [format!("secret-{m}"), format!("data-{m}"), format!("sub-{m}"), "found a process".to_owned()] {
        assert!(!out.contains(&name), "the second job saw {name:?} of the first:\n{}", run.summary());
    }
    let work: BTreeSet<&str> = out.split("\n\n").next().unwrap_or("").lines().skip(1).collect();
    assert_eq!(
        work,
        BTreeSet::from([".", "..", "main.sh"]),
        "the working directory holds more than the job's file:\n{out}"
    );
    Ok(())
}

/// Without a pool, each job starts its own container (a miss, `starting`),
/// and no container of the instance outlives its job.
#[tokio::test]
async fn without_a_pool_no_container_outlives_its_job() -> Result<()> {
    require_docker("without_a_pool_no_container_outlives_its_job");
    let server = server_with_pool(0, "").await?;
    let mut client = Client::ready(&server).await?;
    for i in 0..3 {
        let run = client.run(python(&format!("print({i})"))).await?;
        run.assert_exited_ok();
        assert!(run.states().iter().any(|s| s == "starting"), "{}", run.summary());
        wait_until_none(instance(&server), REMOVAL).await?;
    }
    let m = metrics(&server).await?;
    assert_eq!(
        (m["pool"]["hits"].as_u64(), m["pool"]["misses"].as_u64(), m["pool"]["idle"].as_u64()),
        (Some(0), Some(3), Some(0)),
        "{m}"
    );
    Ok(())
}

/// The pool keeps a compiled language's containers started with the build
/// stage's limits and an interpreted one's with the run stage's, so that a
/// job taking one changes no limit before its first stage.
#[tokio::test]
async fn waiting_containers_start_with_their_first_stages_limits() -> Result<()> {
    require_docker("waiting_containers_start_with_their_first_stages_limits");
    let server = server_with_pool(1, "").await?;
    let inst = instance(&server).to_owned();
    let mut client = Client::ready(&server).await?;
    client.run(bash("echo one")).await?.assert_exited_ok();
    wait_for_idle(&server, 1).await?;
    let c = json!({"language": "c", "files": [{"path": "main.c", "content": "int main(void) { return 0; }\n"}]});
    client.run(c).await?.assert_exited_ok();
    wait_for_idle(&server, 2).await?;
    // The C job's own container may still be on its way out.
    let deadline = std::time::Instant::now() + REMOVAL;
    let mut waiting = containers(&inst, true).await?;
    while waiting.len() > 2 && std::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(100)).await;
        waiting = containers(&inst, true).await?;
    }
    let mut seen = BTreeSet::new();
    for id in waiting {
        let c = inspect(&id).await?;
        let image = c["Config"]["Image"].as_str().unwrap_or("").to_owned();
        let memory = c["HostConfig"]["Memory"].as_u64().context("no Memory")?;
        seen.insert((image, memory / MIB));
    }
    // Defaults (server/src/config.rs): run 256 MiB, build 1024 MiB.
    let expected = BTreeSet::from([("coderun/bash".to_owned(), 256), ("coderun/gcc".to_owned(), 1024)]);
    assert_eq!(seen, expected);
    Ok(())
}
