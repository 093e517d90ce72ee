//! Running a hostile job beside innocent ones, and checking the host after.
//!
//! "Contained" means three things, and [`contain`] checks the first two:
//! the hostile job ends with a result (its status is the test's to check);
//! a bystander job that was already running on another connection when the
//! hostile one started finishes normally with exactly its output; and a job
//! started on a third connection while the hostile one runs succeeds too.
//! The third, nothing left on the host, is [`crate::host::Snapshot`]'s.
//!
//! Some hostile programs would do real harm outside a sandbox (a fork bomb,
//! `kill -9 -1` as root, filling the host's disk). Those start with a guard
//! ([`bash_guard`], [`PYTHON_DISK_GUARD`]) that refuses, with exit code 99
//! and a message, unless the program can see that it is sandboxed: the
//! test's own process is invisible and the program is not root. A server
//! without a working sandbox then fails those tests instead of harming the
//! machine they run on.

use anyhow::{ensure, Result};
use serde_json::{json, Value};

use crate::{programs::bash, programs::python, Client, JobRun, Server};

/// A job that prints `begin`, sleeps three seconds and prints `end`, started
/// before the hostile job so that it runs through it.
pub struct Bystander {
    client: Client,
    id: Value,
    early: Vec<Value>,
}

impl Bystander {
    pub async fn start(server: &Server) -> Result<Bystander> {
        let mut client = Client::ready(server).await?;
        let id = client.start_run(bash("echo begin\nsleep 3\necho end\n")).await?;
        let early = client.wait_for_output(&id, "begin").await?;
        Ok(Bystander { client, id, early })
    }

    /// Waits for the bystander's end and checks it was untouched.
    pub async fn finish(mut self) -> Result<()> {
        let mut run = self.client.collect(&self.id).await?;
        run.prepend(self.early);
        ensure!(
            run.response["result"]["status"] == "exited" && run.response["result"]["exitCode"] == 0,
            "the bystander job did not end normally:\n{}",
            run.summary()
        );
        ensure!(run.stdout() == "begin\nend\n", "the bystander's output was disturbed:\n{}", run.summary());
        Ok(())
    }
}

/// Runs `hostile` on its own connection while a [`Bystander`] runs, and a
/// fresh job on a third connection once the hostile program has printed
/// `started`. Returns the hostile job's run (its early notifications
/// included). Fails if either innocent job is disturbed.
pub async fn contain(server: &Server, hostile: Value) -> Result<JobRun> {
    contain_with(server, hostile, async { Ok(()) }).await
}

/// [`contain`], with a check of the test's own (`during`) run once the
/// hostile program has printed `started`, while it runs.
pub async fn contain_with(
    server: &Server,
    hostile: Value,
    during: impl std::future::Future<Output = Result<()>>,
) -> Result<JobRun> {
    let bystander = Bystander::start(server).await?;
    let mut attacker = Client::ready(server).await?;
    let mut neighbour = Client::ready(server).await?;
    let id = attacker.start_run(hostile).await?;
    let early = match attacker.wait_for_output(&id, "started").await {
        Ok(early) => early,
        Err(e) => anyhow::bail!("the hostile program never printed `started`: {e:#}"),
    };
    let neighbour_job = async {
        let run = neighbour.run(python("print('neighbour ok')")).await?;
        ensure!(
            run.response["result"]["status"] == "exited" && run.stdout() == "neighbour ok\n",
            "a job started while the hostile one ran did not succeed:\n{}",
            run.summary()
        );
        Ok(())
    };
    let (hostile_run, neighbour_result, during_result) = tokio::join!(attacker.collect(&id), neighbour_job, during);
    let mut run = hostile_run?;
    neighbour_result?;
    during_result?;
    bystander.finish().await?;
    run.prepend(early);
    println!("the hostile job:\n{}", run.summary());
    Ok(run)
}

/// Asserts the job did not refuse to run for lack of a sandbox.
pub fn assert_not_refused(run: &JobRun) {
    assert!(
        !run.stderr().contains("refusing:"),
        "the program found itself outside a sandbox and refused to run:\n{}",
        run.summary()
    );
}

/// A Bash prologue that exits 99 unless the program is sandboxed: not root,
/// and unable to see the test process or the server (a fresh PID namespace).
pub fn bash_guard(server: &Server) -> String {
    format!(
        r#"echo started
if [ "$(id -u)" = 0 ]; then echo "refusing: running as root" >&2; exit 99; fi
for pid in {test} {server}; do
  out=$(kill -0 $pid 2>&1)
  case "$out" in
    *"No such process"*) ;;
    *) echo "refusing: host process $pid is visible ($out)" >&2; exit 99 ;;
  esac
done
"#,
        test = std::process::id(),
        server = server.pid
    )
}

/// A Python prologue that exits 99 unless the working directory and `/tmp`
/// are small file systems (the sandbox's capped tmpfs, not the host's disk).
pub const PYTHON_DISK_GUARD: &str = r#"import os, sys
print('started', flush=True)
for d in ['.', '/tmp']:
    st = os.statvfs(d)
    if st.f_blocks * st.f_frsize > (4 << 30):
        print(f'refusing: {d} is a large file system', file=sys.stderr)
        sys.exit(99)
"#;

/// `run` params with `args` and `limits` set.
pub fn with_args_and_limits(mut params: Value, args: &[&str], limits: Value) -> Value {
    params["args"] = json!(args);
    params["limits"] = limits;
    params
}
