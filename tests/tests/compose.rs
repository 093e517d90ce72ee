//! Student-local mode: `docker/compose.yaml` starts the server in a
//! container of `coderun/server` with the engine's socket mounted, and the
//! course page and `POST /rpc` answer on port 8080 and run code in
//! containers of their own.
//!
//! CI's engine must not create bridge networks, so the test runs Debian's
//! `docker-compose` with `docker/compose.ci.yaml`, which puts the server on
//! the host's network; it checks that Compose created no network. Built only
//! with the `docker` feature; it needs the `coderun/server` image that
//! `scripts/images` builds, and port 8080 of the loopback free.

use std::{
    net::{Ipv4Addr, SocketAddr, TcpListener},
    path::PathBuf,
    process::Stdio,
    time::{Duration, Instant},
};

use anyhow::{bail, ensure, Context, Result};
use coderun_tests::{
    docker::{docker, require_docker},
    http::request_to,
};
use serde_json::{json, Value};

const ADDR: SocketAddr = SocketAddr::new(std::net::IpAddr::V4(Ipv4Addr::LOCALHOST), 8080);
/// The server's first start detects every image's toolchain version.
const READY: Duration = Duration::from_secs(180);
const COMPOSE: Duration = Duration::from_secs(180);

fn docker_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../docker")
}

/// `docker-compose -p PROJECT -f compose.yaml -f compose.ci.yaml ARGS...`.
async fn compose(project: &str, args: &[&str]) -> Result<String> {
    let dir = docker_dir();
    let mut cmd = tokio::process::Command::new("docker-compose");
    cmd.arg("-p").arg(project);
    cmd.arg("-f").arg(dir.join("compose.yaml")).arg("-f").arg(dir.join("compose.ci.yaml"));
    cmd.args(args).stdin(Stdio::null()).kill_on_drop(true);
    let out = tokio::time::timeout(COMPOSE, cmd.output())
        .await
        .with_context(|| format!("`docker-compose {}` did not finish within {COMPOSE:?}", args.join(" ")))?
        .context("running docker-compose (Debian's docker-compose package)")?;
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    ensure!(out.status.success(), "`docker-compose {}` failed: {text}", args.join(" "));
    Ok(text)
}

/// Takes the stack down whatever the test's end; `down` stops the server
/// (SIGTERM, so it removes its job containers) and removes its container.
struct Stack {
    project: String,
}

impl Drop for Stack {
    fn drop(&mut self) {
        let dir = docker_dir();
        let _ = std::process::Command::new("docker-compose")
            .arg("-p")
            .arg(&self.project)
            .arg("-f")
            .arg(dir.join("compose.yaml"))
            .arg("-f")
            .arg(dir.join("compose.ci.yaml"))
            .args(["down", "--timeout", "30"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
    }
}

async fn networks() -> Result<Vec<String>> {
    let text = docker(&["network", "ls", "--format", "{{.Name}}"]).await?;
    let mut names: Vec<String> = text.lines().map(str::to_owned).collect();
    names.sort();
    Ok(names)
}

async fn wait_ready(project: &str) -> Result<()> {
    let deadline = Instant::now() + READY;
    loop {
        if let Ok(r) = request_to(ADDR, "GET", "/healthz", &[], b"").await {
            if r.status == 200 {
                return Ok(());
            }
        }
        if Instant::now() >= deadline {
            let logs = compose(project, &["logs", "--tail", "40"]).await.unwrap_or_else(|e| e.to_string());
            bail!("the composed server did not answer /healthz on {ADDR} within {READY:?}; its logs:\n{logs}");
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

/// `docker-compose up` serves the course page and runs Python and C in
/// containers of their own; `down` leaves neither a container nor a
/// network behind.
#[tokio::test]
async fn compose_up_serves_the_course_page_and_runs_code() -> Result<()> {
    require_docker("compose_up_serves_the_course_page_and_runs_code");
    docker(&["image", "inspect", "--format", "{{.Id}}", "coderun/server"])
        .await
        .context("the coderun/server image is missing: scripts/images builds it")?;
    drop(TcpListener::bind(ADDR).with_context(|| format!("{ADDR} is taken; the composed server needs it"))?);
    let before = networks().await?;
    let project = format!("coderun-compose-test-{}", std::process::id());
    let stack = Stack { project: project.clone() };
    compose(&project, &["up", "-d"]).await?;
    wait_ready(&project).await?;

    let page = request_to(ADDR, "GET", "/", &[], b"").await?;
    assert_eq!(page.status, 200);
    assert!(page.text().contains("<html"), "GET / is not the course page: {}", page.text());

    for (language, path, code) in [
        ("python", "main.py", "import sys\nprint('hello from', sys.version_info[0])\n"),
        ("c", "main.c", "#include <stdio.h>\nint main(void) { puts(\"hello from 3\"); return 0; }\n"),
    ] {
        let body = json!({"jsonrpc": "2.0", "id": 1, "method": "run",
            "params": {"language": language, "files": [{"path": path, "content": code}]}});
        let r = request_to(ADDR, "POST", "/rpc", &[("Content-Type", "application/json")], body.to_string().as_bytes())
            .await?;
        let answer: Value = r.json()?;
        assert_eq!(answer["result"]["status"], "exited", "{language}: {answer}");
        let stdout: String = answer["result"]["output"]
            .as_array()
            .context("no output")?
            .iter()
            .filter(|c| c["stream"] == "stdout")
            .filter_map(|c| c["text"].as_str())
            .collect();
        assert_eq!(stdout, "hello from 3\n", "{language}: {answer}");
    }

    compose(&project, &["down", "--timeout", "30"]).await?;
    std::mem::forget(stack);
    let left = docker(&["ps", "-aq", "--filter", &format!("label=com.docker.compose.project={project}")]).await?;
    assert!(left.trim().is_empty(), "compose down left containers: {left}");
    // The composed server's instance is "default"; a clean stop removes
    // every container it started for jobs and for its pool.
    let jobs = docker(&["ps", "-aq", "--filter", "label=org.coderun.instance=default"]).await?;
    assert!(jobs.trim().is_empty(), "the composed server left job containers: {jobs}");
    assert_eq!(networks().await?, before, "compose created or removed a network");
    Ok(())
}
