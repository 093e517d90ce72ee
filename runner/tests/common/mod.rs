//! A host for the runner binary: starts it in a fresh directory and speaks
//! frames to it over its stdin and stdout, as the server does.
//!
//! The runner runs on the host directly, not in a sandbox, so these tests
//! exercise its non-PID-1 paths: the `/proc` walk for kill-all, and the
//! subreaper.

#![allow(dead_code)]

use std::path::PathBuf;
use std::process::Stdio;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use coderun_runner::wire::{
    self, File, HostMsg, OutputStream, RunnerMsg, StageLimits, StageReport, StageSpec, StdinMode,
};
use tokio::process::{Child, ChildStdin, ChildStdout, Command};

/// How long any one frame may take to arrive before the test fails.
pub const FRAME_TIMEOUT: Duration = Duration::from_secs(30);

/// A running runner and the directory it works in.
pub struct Runner {
    child: Child,
    stdin: Option<ChildStdin>,
    stdout: ChildStdout,
    pub dir: PathBuf,
}

impl Runner {
    /// Starts the runner in a new empty directory and waits for `Ready`.
    pub async fn start() -> Runner {
        Runner::start_under(&[]).await
    }

    /// Starts the runner through `wrapper` (e.g. `unshare ...`), which must
    /// exec it with the same stdio.
    pub async fn start_under(wrapper: &[&str]) -> Runner {
        static COUNTER: AtomicU32 = AtomicU32::new(0);
        let dir = std::env::temp_dir().join(format!(
            "coderun-runner-test-{}-{}",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let runner = env!("CARGO_BIN_EXE_coderun-runner");
        let argv: Vec<&str> = wrapper.iter().copied().chain([runner]).collect();
        let mut child = Command::new(argv[0])
            .args(&argv[1..])
            .current_dir(&dir)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .kill_on_drop(true)
            .spawn()
            .expect("runner starts");
        let stdin = child.stdin.take();
        let stdout = child.stdout.take().unwrap();
        let mut runner = Runner { child, stdin, stdout, dir };
        match runner.recv().await {
            RunnerMsg::Ready { version } => assert!(!version.is_empty()),
            other => panic!("expected Ready, got {other:?}"),
        }
        runner
    }

    pub fn pid(&self) -> i32 {
        self.child.id().expect("runner still running") as i32
    }

    pub async fn send(&mut self, msg: HostMsg) {
        let stdin = self.stdin.as_mut().expect("stdin still open");
        wire::write_frame(stdin, &msg).await.expect("runner reads its stdin");
    }

    /// The next frame; `None` once the runner's stdout is closed.
    pub async fn try_recv(&mut self) -> Option<RunnerMsg> {
        tokio::time::timeout(FRAME_TIMEOUT, wire::read_frame(&mut self.stdout))
            .await
            .expect("runner answered in time")
            .expect("runner sent a well-formed frame")
    }

    pub async fn recv(&mut self) -> RunnerMsg {
        self.try_recv().await.expect("runner's stdout is open")
    }

    /// Closes the runner's stdin, as a host that goes away does.
    pub fn close_stdin(&mut self) {
        self.stdin = None;
    }

    /// Waits for the runner to exit; returns its exit code.
    pub async fn wait(&mut self) -> Option<i32> {
        let status = tokio::time::timeout(FRAME_TIMEOUT, self.child.wait()).await.expect("runner exits").unwrap();
        status.code()
    }

    pub async fn write_files(&mut self, files: Vec<File>) -> RunnerMsg {
        self.send(HostMsg::WriteFiles(files)).await;
        self.recv().await
    }

    /// Sends a stage and collects everything up to its `StageExit`.
    pub async fn stage(&mut self, spec: StageSpec) -> StageRun {
        self.send(HostMsg::Stage(spec)).await;
        self.expect_started().await;
        self.finish_stage().await
    }

    pub async fn expect_started(&mut self) {
        match self.recv().await {
            RunnerMsg::StageStarted => {}
            other => panic!("expected StageStarted, got {other:?}"),
        }
    }

    /// Collects output until `StageExit`.
    pub async fn finish_stage(&mut self) -> StageRun {
        let mut run = StageRun::default();
        loop {
            match self.recv().await {
                RunnerMsg::Output { stream, bytes } => run.push(stream, &bytes),
                RunnerMsg::StageExit(report) => {
                    run.report = Some(report);
                    return run;
                }
                other => panic!("unexpected frame during a stage: {other:?}"),
            }
        }
    }

    /// Reads output until `stdout` contains `needle`.
    pub async fn wait_for_stdout(&mut self, run: &mut StageRun, needle: &str) {
        while !String::from_utf8_lossy(&run.stdout).contains(needle) {
            match self.recv().await {
                RunnerMsg::Output { stream, bytes } => run.push(stream, &bytes),
                other => panic!("waiting for {needle:?}, got {other:?}"),
            }
        }
    }

    /// A file the stage wrote in the runner's directory.
    pub fn read(&self, path: &str) -> String {
        std::fs::read_to_string(self.dir.join(path)).unwrap_or_else(|e| panic!("reading {path}: {e}"))
    }
}

impl Drop for Runner {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// What one stage sent.
#[derive(Debug, Default)]
pub struct StageRun {
    pub stdout: Vec<u8>,
    pub stderr: Vec<u8>,
    pub chunks: usize,
    pub report: Option<StageReport>,
}

impl StageRun {
    fn push(&mut self, stream: OutputStream, bytes: &[u8]) {
        assert!(!bytes.is_empty(), "Output frames are never empty");
        self.chunks += 1;
        match stream {
            OutputStream::Stdout => self.stdout.extend_from_slice(bytes),
            OutputStream::Stderr => self.stderr.extend_from_slice(bytes),
        }
    }

    pub fn report(&self) -> &StageReport {
        self.report.as_ref().expect("stage has ended")
    }

    pub fn stdout(&self) -> String {
        String::from_utf8_lossy(&self.stdout).into_owned()
    }

    pub fn stderr(&self) -> String {
        String::from_utf8_lossy(&self.stderr).into_owned()
    }
}

/// Generous limits that no well-behaved test program reaches.
pub fn limits() -> StageLimits {
    StageLimits {
        wall_time_ms: 20_000,
        cpu_time_ms: 20_000,
        output_bytes: 1 << 20,
        file_size_bytes: 16 << 20,
        open_files: 256,
        processes: None,
    }
}

/// A stage running `argv` in the working directory, with no stdin.
pub fn spec(argv: &[&str]) -> StageSpec {
    StageSpec {
        argv: argv.iter().map(|s| s.to_string()).collect(),
        env: vec![("PATH".into(), "/usr/local/bin:/usr/bin:/bin".into())],
        cwd: String::new(),
        stdin: StdinMode::Bytes(Vec::new()),
        limits: limits(),
        user: None,
    }
}

/// A stage running a shell script.
pub fn sh(script: &str) -> StageSpec {
    spec(&["sh", "-c", script])
}

pub fn file(path: &str, content: &str) -> File {
    File { path: path.into(), content: content.as_bytes().to_vec(), executable: false }
}

/// Whether a process with this pid exists (zombies included).
pub fn alive(pid: i32) -> bool {
    // Safety: signal 0 only checks for existence.
    unsafe { libc::kill(pid, 0) == 0 || std::io::Error::last_os_error().raw_os_error() != Some(libc::ESRCH) }
}

/// Pids written one per line (or space-separated) by a stage.
pub fn pids(text: &str) -> Vec<i32> {
    text.split_whitespace().map(|s| s.parse().expect("a pid")).collect()
}

/// Pids whose parent is `parent`, from `/proc`.
pub fn children_of(parent: i32) -> Vec<i32> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<i32>() else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
            continue;
        };
        let after_name = &stat[stat.rfind(')').unwrap() + 1..];
        let ppid: i32 = after_name.split_whitespace().nth(1).unwrap().parse().unwrap();
        if ppid == parent {
            found.push(pid);
        }
    }
    found
}
