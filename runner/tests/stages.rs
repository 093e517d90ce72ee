//! Running stages: output, stdin, environment, exit status, setup.

mod common;

use coderun_runner::wire::{HostMsg, RunnerMsg, StdinMode};
use common::{file, sh, spec, Runner};

#[tokio::test]
async fn hello_output_arrives_as_output_frames() {
    let mut r = Runner::start().await;
    let run = r.stage(sh("echo hello; echo oops >&2")).await;
    assert_eq!(run.stdout(), "hello\n");
    assert_eq!(run.stderr(), "oops\n");
    let report = run.report();
    assert_eq!((report.exit_code, report.signal, report.killed), (Some(0), None, None));
    assert!(!report.output_truncated);
    assert!(report.max_rss_bytes > 0);
}

#[tokio::test]
async fn output_is_forwarded_while_the_program_still_runs() {
    let mut r = Runner::start().await;
    r.send(HostMsg::Stage(sh("echo first; sleep 3600"))).await;
    r.expect_started().await;
    let mut run = common::StageRun::default();
    // Without line buffering or batching in the runner, "first" arrives
    // while the program is still sleeping.
    r.wait_for_stdout(&mut run, "first").await;
    r.send(HostMsg::Kill).await;
    let rest = r.finish_stage().await;
    assert!(rest.report().killed.is_some());
}

#[tokio::test]
async fn stdin_bytes_are_written_then_closed() {
    let mut r = Runner::start().await;
    let mut s = spec(&["cat"]);
    s.stdin = StdinMode::Bytes(b"line one\nline two\n".to_vec());
    let run = r.stage(s).await;
    assert_eq!(run.stdout(), "line one\nline two\n");
    assert_eq!(run.report().exit_code, Some(0));
}

#[tokio::test]
async fn large_stdin_and_output_flow_at_the_same_time() {
    // `cat` blocks on stdout while the runner still has stdin to write; a
    // runner that blocked on either pipe would deadlock here.
    let mut r = Runner::start().await;
    let data: Vec<u8> = (0..3_000_000u32).map(|i| b'a' + (i % 26) as u8).collect();
    let mut s = spec(&["cat"]);
    s.stdin = StdinMode::Bytes(data.clone());
    s.limits.output_bytes = 4_000_000;
    let run = r.stage(s).await;
    assert_eq!(run.stdout.len(), data.len());
    assert!(run.stdout == data);
}

#[tokio::test]
async fn interactive_stdin_arrives_in_order_and_eof_ends_it() {
    let mut r = Runner::start().await;
    let mut s = sh("while read line; do echo \"got $line\"; done; echo done");
    s.stdin = StdinMode::Interactive;
    r.send(HostMsg::Stage(s)).await;
    r.expect_started().await;
    let mut run = common::StageRun::default();
    r.send(HostMsg::Stdin(b"one\n".to_vec())).await;
    r.wait_for_stdout(&mut run, "got one\n").await;
    for chunk in [&b"tw"[..], b"o\nthr", b"ee\n"] {
        r.send(HostMsg::Stdin(chunk.to_vec())).await;
    }
    r.wait_for_stdout(&mut run, "got three\n").await;
    r.send(HostMsg::StdinEof).await;
    let rest = r.finish_stage().await;
    let all = format!("{}{}", run.stdout(), rest.stdout());
    assert_eq!(all, "got one\ngot two\ngot three\ndone\n");
    assert_eq!(rest.report().exit_code, Some(0));
}

#[tokio::test]
async fn exit_code_is_reported() {
    let mut r = Runner::start().await;
    let run = r.stage(sh("exit 3")).await;
    assert_eq!((run.report().exit_code, run.report().signal), (Some(3), None));
}

#[tokio::test]
async fn death_by_signal_is_reported() {
    let mut r = Runner::start().await;
    let run = r.stage(sh("kill -SEGV $$")).await;
    let report = run.report();
    assert_eq!((report.exit_code, report.signal, report.killed), (None, Some(libc::SIGSEGV), None));
}

#[tokio::test]
async fn stage_sees_exactly_its_environment() {
    let mut r = Runner::start().await;
    let mut s = spec(&["env"]);
    s.env.push(("GREETING".into(), "hi there".into()));
    let run = r.stage(s).await;
    let mut vars: Vec<String> = run.stdout().lines().map(str::to_string).collect();
    vars.sort();
    assert_eq!(vars, ["GREETING=hi there", "PATH=/usr/local/bin:/usr/bin:/bin"]);
}

#[tokio::test]
async fn program_is_found_in_the_stages_path() {
    let mut r = Runner::start().await;
    let mut tool = file("tools/greet", "#!/bin/sh\necho greetings\n");
    tool.executable = true;
    assert_eq!(r.write_files(vec![tool]).await, RunnerMsg::FilesWritten);
    let mut s = spec(&["greet"]);
    s.env = vec![("PATH".into(), format!("{}/tools:/usr/bin:/bin", r.dir.display()))];
    let run = r.stage(s).await;
    assert_eq!(run.stdout(), "greetings\n");
}

#[tokio::test]
async fn stage_runs_in_its_cwd() {
    let mut r = Runner::start().await;
    assert_eq!(r.write_files(vec![file("sub/dir/a.txt", "content")]).await, RunnerMsg::FilesWritten);
    let mut s = sh("pwd; cat dir/a.txt");
    s.cwd = "sub".into();
    let run = r.stage(s).await;
    let expected = format!("{}/sub\ncontent", r.dir.canonicalize().unwrap().display());
    assert_eq!(run.stdout(), expected);
}

#[tokio::test]
async fn a_missing_program_ends_the_stage_with_127() {
    let mut r = Runner::start().await;
    let run = r.stage(spec(&["no-such-program-for-coderun"])).await;
    assert_eq!(run.report().exit_code, Some(127));
    assert!(run.stderr().starts_with("coderun-runner: cannot run no-such-program-for-coderun: "), "{}", run.stderr());
    // The runner carries on with the next stage.
    assert_eq!(r.stage(sh("echo next")).await.stdout(), "next\n");
}

#[tokio::test]
async fn a_non_executable_program_ends_the_stage_with_126() {
    let mut r = Runner::start().await;
    assert_eq!(r.write_files(vec![file("script.sh", "echo hi")]).await, RunnerMsg::FilesWritten);
    let run = r.stage(spec(&["./script.sh"])).await;
    assert_eq!(run.report().exit_code, Some(126));
}

#[tokio::test]
async fn a_stage_spec_with_a_bad_cwd_is_refused() {
    let mut r = Runner::start().await;
    let mut s = sh("true");
    s.cwd = "../elsewhere".into();
    r.send(HostMsg::Stage(s)).await;
    assert!(matches!(r.recv().await, RunnerMsg::Error { .. }));
    r.send(HostMsg::Stage(spec(&[]))).await;
    assert!(matches!(r.recv().await, RunnerMsg::Error { .. }));
}

#[tokio::test]
async fn resource_limits_are_set_in_the_stage() {
    let mut r = Runner::start().await;
    let mut s = spec(&[
        "python3",
        "-c",
        "import resource as r\n\
         for n in ('CPU', 'FSIZE', 'NOFILE', 'CORE'):\n    print(n, *r.getrlimit(getattr(r, 'RLIMIT_' + n)))",
    ]);
    s.limits.cpu_time_ms = 2500;
    s.limits.file_size_bytes = 1_000_000;
    s.limits.open_files = 64;
    let run = r.stage(s).await;
    assert_eq!(run.stdout(), "CPU 3 4\nFSIZE 1000000 1000000\nNOFILE 64 64\nCORE 0 0\n", "{}", run.stderr());
}

#[tokio::test]
async fn writing_past_the_file_size_limit_fails() {
    let mut r = Runner::start().await;
    let mut s = sh("head -c 100000 /dev/zero > big; echo $?; wc -c < big");
    s.limits.file_size_bytes = 4096;
    let run = r.stage(s).await;
    let out = run.stdout();
    let lines: Vec<&str> = out.lines().collect();
    assert_ne!(lines[0], "0", "the write should fail");
    assert_eq!(lines[1].trim(), "4096");
}

#[tokio::test]
async fn the_stage_is_in_its_own_session_with_default_signals() {
    let mut r = Runner::start().await;
    let run = r.stage(spec(&["python3", "-c", "import os; print(os.getsid(0) == os.getpid())"])).await;
    assert_eq!(run.stdout(), "True\n", "{}", run.stderr());
    // The runner ignores SIGPIPE; its stages must not inherit that.
    let run = r.stage(spec(&["grep", "-E", "^Sig(Blk|Ign)", "/proc/self/status"])).await;
    assert_eq!(run.stdout(), "SigBlk:\t0000000000000000\nSigIgn:\t0000000000000000\n");
}

#[tokio::test]
async fn stage_runs_as_its_user_and_can_write_beside_its_files() {
    let mut r = Runner::start().await;
    assert_eq!(r.write_files(vec![file("src/main.c", "int main(){}")]).await, RunnerMsg::FilesWritten);
    let mut s = sh("id -u; id -g; echo built > src/a.out && cat src/a.out; echo more >> src/main.c && echo edited");
    s.user = Some((65534, 65534));
    let run = r.stage(s).await;
    // Only root may switch users; elsewhere the stage runs as the runner.
    let (uid, gid) = if nix::unistd::geteuid().is_root() {
        (65534, 65534)
    } else {
        (nix::unistd::getuid().as_raw(), nix::unistd::getgid().as_raw())
    };
    assert_eq!(run.stdout(), format!("{uid}\n{gid}\nbuilt\nedited\n"), "{}", run.stderr());
}
