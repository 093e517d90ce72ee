//! Conformance, part two: a job's life on the wire. The order of a run's
//! notifications and its response, the result's shape, output streaming and
//! ordering, UTF-8 handling, stdin (given whole, or interactive through
//! `job/stdin`), cancellation, and a client that goes away mid-run. Checks
//! are on the order of events, never on tight timings.

use std::time::Duration;

use coderun_protocol::RunResult;
use coderun_tests::{
    host::{processes_with, wait_until_no_process_with, wait_until_process_with, Marker},
    programs::{bash, job, python, sleeper, with},
    Client, Server,
};
use serde_json::json;

/// spec/README.md#25-ordering: a run sends `job/status` notifications and then
/// output, every notification carrying the run's id as `job`, all before
/// the response; nothing follows the response.
#[tokio::test]
async fn run_notifications_come_in_order_before_the_response() -> anyhow::Result<()> {
    let server = Server::start_default().await?;
    let mut client = Client::ready(&server).await?;
    let run = client.run(python("print('hello')")).await?;
    run.assert_exited_ok();
    assert_eq!(run.stdout(), "hello\n", "{}", run.summary());
    for n in &run.notifications {
        assert_eq!(n["params"]["job"], run.id, "every notification names its job: {n}");
        assert!(n.get("id").is_none(), "a notification has no id: {n}");
    }
    let states = run.states();
    assert!(states.iter().any(|s| s == "running"), "no running status: {states:?}");
    let running = run.notifications.iter().position(|n| n["params"]["state"] == "running").unwrap();
    let first_output = run.notifications.iter().position(|n| n["method"] == "job/output");
    assert!(first_output.is_some_and(|o| o > running), "output before running: {}", run.summary());
    // States only move forward; only `queued` may repeat.
    let order = ["queued", "starting", "building", "running"];
    let ranks: Vec<usize> = states
        .iter()
        .map(|s| order.iter().position(|o| o == s).unwrap_or_else(|| panic!("unknown state {s}")))
        .collect();
    for pair in ranks.windows(2) {
        assert!(pair[0] < pair[1] || (pair[0] == 0 && pair[1] == 0), "states went backwards or repeated: {states:?}");
    }
    for (_, text) in run.outputs() {
        assert!(!text.is_empty(), "a job/output text is never empty: {}", run.summary());
    }
    client.assert_quiet(&run.id).await?;
    Ok(())
}

/// spec/methods/run.md: the result has the protocol's shape: status, exit
/// code, signal, one stage per stage run, truncation flag and timings.
#[tokio::test]
async fn run_result_has_the_protocol_shape() -> anyhow::Result<()> {
    let server = Server::start_default().await?;
    let mut client = Client::ready(&server).await?;
    let run = client.run(python("import sys\nsys.exit(3)")).await?;
    let result: RunResult = serde_json::from_value(run.result().clone())
        .unwrap_or_else(|e| panic!("the result does not have the protocol's shape ({e}): {}", run.response));
    assert_eq!(run.status(), "exited", "a nonzero exit is still `exited`: {}", run.summary());
    assert_eq!(result.exit_code, Some(3));
    assert_eq!(result.signal, None);
    assert!(!result.output_truncated);
    let names: Vec<_> = run.result()["stages"].as_array().unwrap().iter().map(|s| s["name"].clone()).collect();
    assert_eq!(names, vec![json!("run")], "an interpreted language has one stage: {}", run.response);
    assert_eq!(run.result()["stages"][0]["exitCode"], json!(3));
    assert_eq!(run.result()["output"], serde_json::Value::Null, "`output` is only for POST /rpc");
    Ok(())
}

/// spec/methods/run.md: a compiled language goes through `building` before
/// `running`, and its result lists the build stage then the run stage.
#[tokio::test]
async fn compiled_run_builds_then_runs() -> anyhow::Result<()> {
    let server = Server::start_default().await?;
    let mut client = Client::ready(&server).await?;
    let run = client
        .run(job("c", &[("main.c", "#include <stdio.h>\nint main(void) { puts(\"built\"); return 0; }\n")]))
        .await?;
    run.assert_exited_ok();
    assert_eq!(run.stdout(), "built\n");
    let states = run.states();
    let building = states.iter().position(|s| s == "building");
    let running = states.iter().position(|s| s == "running");
    assert!(building.is_some() && running.is_some() && building < running, "states: {states:?}");
    let names: Vec<_> = run.result()["stages"].as_array().unwrap().iter().map(|s| s["name"].clone()).collect();
    assert_eq!(names, vec![json!("build"), json!("run")], "{}", run.response);
    Ok(())
}

/// spec/README.md#23-request-ids: a string id stays a string in `job` and in
/// the response; `"5"` and `5` are different ids.
#[tokio::test]
async fn string_ids_are_kept_as_strings() -> anyhow::Result<()> {
    let server = Server::start_default().await?;
    let mut client = Client::ready(&server).await?;
    let id = json!("lesson-3/ex-2");
    client.send_request(&id, "run", python("print('s')")).await?;
    let run = client.collect(&id).await?;
    run.assert_exited_ok();
    assert!(run.notifications.iter().all(|n| n["params"]["job"] == id));
    // Two jobs with ids 5 and "5" at once are two different jobs.
    let slow = python("import time\ntime.sleep(0.5)\nprint('x')");
    client.send_request(&json!(5), "run", slow.clone()).await?;
    client.send_request(&json!("5"), "run", slow).await?;
    client.collect(&json!(5)).await?.assert_exited_ok();
    client.collect(&json!("5")).await?.assert_exited_ok();
    Ok(())
}

/// spec/README.md#25-ordering: the text of each stream arrives exactly as
/// written, in order, whatever the chunking.
#[tokio::test]
async fn output_of_each_stream_keeps_its_order() -> anyhow::Result<()> {
    let server = Server::start_default().await?;
    let mut client = Client::ready(&server).await?;
    let code = "import sys\nfor i in range(3000):\n    print(i)\n    print(-i, file=sys.stderr)\n";
    let run = client.run(python(code)).await?;
    run.assert_exited_ok();
    let stdout: String = (0..3000).map(|i| format!("{i}\n")).collect();
    let stderr: String = (0..3000).map(|i| format!("{}\n", -i)).collect();
    assert_eq!(run.stdout(), stdout);
    assert_eq!(run.stderr(), stderr);
    Ok(())
}

/// spec/README.md#25-ordering: the build stage's output comes before the
/// job's `running` status.
#[tokio::test]
async fn build_output_comes_before_running() -> anyhow::Result<()> {
    let server = Server::start_default().await?;
    let mut client = Client::ready(&server).await?;
    let code = "#include <stdio.h>\n#warning \"note-from-the-build\"\nint main(void) { puts(\"ran\"); return 0; }\n";
    let run = client.run(job("c", &[("main.c", code)])).await?;
    run.assert_exited_ok();
    let warning = run.notifications.iter().position(|n| {
        n["method"] == "job/output" && n["params"]["text"].as_str().unwrap_or("").contains("note-from-the-build")
    });
    let running = run.notifications.iter().position(|n| n["params"]["state"] == "running");
    assert!(warning.is_some(), "the compiler's warning was not sent: {}", run.summary());
    assert!(warning < running, "build output after running: {}", run.summary());
    assert_eq!(run.stdout().lines().last(), Some("ran"));
    Ok(())
}

/// spec/README.md#25-ordering: output is streamed as printed: the client sees
/// the first line while the program is still waiting for it to answer.
#[tokio::test]
async fn output_streams_while_the_program_runs() -> anyhow::Result<()> {
    let server = Server::start_default().await?;
    let mut client = Client::ready(&server).await?;
    // The program prints, then waits for input that the client sends only
    // after seeing the print: if output were held back, this would stall.
    let params = with(python("print('ready', flush=True)\nprint('got', input())"), "interactive", json!(true));
    let id = client.start_run(params).await?;
    let early = client.wait_for_output(&id, "ready").await?;
    client.notify("job/stdin", json!({"job": id, "text": "go\n", "eof": true})).await?;
    let mut run = client.collect(&id).await?;
    run.prepend(early);
    run.assert_exited_ok();
    assert_eq!(run.stdout(), "ready\ngot go\n");

    // And without input: the first line arrives well before the response.
    let run = client.run(python("import time\nprint('one', flush=True)\ntime.sleep(2)\nprint('two')")).await?;
    run.assert_exited_ok();
    let first = run.notifications.iter().position(|n| n["method"] == "job/output").unwrap();
    let gap = run.answered.duration_since(run.arrivals[first]);
    assert!(gap > Duration::from_millis(500), "the first line arrived only {gap:?} before the response");
    Ok(())
}

/// spec/README.md#45-output: a character written one byte at a time is
/// never split between notifications; the text arrives exactly.
#[tokio::test]
async fn multibyte_characters_are_never_split() -> anyhow::Result<()> {
    let server = Server::start_default().await?;
    let mut client = Client::ready(&server).await?;
    let code = "import sys, time\nfor b in 'é€😀ß'.encode():\n    sys.stdout.buffer.write(bytes([b]))\n    sys.stdout.buffer.flush()\n    time.sleep(0.02)\n";
    let run = client.run(python(code)).await?;
    run.assert_exited_ok();
    for (_, text) in run.outputs() {
        assert!(!text.contains('\u{FFFD}'), "a character was split: {:?}", run.outputs());
    }
    assert_eq!(run.stdout(), "é€😀ß");
    Ok(())
}

/// spec/README.md#45-output: bytes that are not UTF-8 arrive as U+FFFD.
#[tokio::test]
async fn invalid_utf8_becomes_replacement_characters() -> anyhow::Result<()> {
    let server = Server::start_default().await?;
    let mut client = Client::ready(&server).await?;
    let run = client.run(python("import sys\nsys.stdout.buffer.write(b'a\\xffb\\xc3(c')")).await?;
    run.assert_exited_ok();
    assert_eq!(run.stdout(), "a\u{FFFD}b\u{FFFD}(c");
    // An incomplete character at the very end of the output.
    let run = client.run(python("import sys\nsys.stdout.buffer.write(b'x\\xe2\\x82')")).await?;
    run.assert_exited_ok();
    let out = run.stdout();
    assert!(out.starts_with('x') && out.len() > 1, "{out:?}");
    assert!(out[1..].chars().all(|c| c == '\u{FFFD}'), "{out:?}");
    Ok(())
}

/// spec/README.md#43-stdin: without `interactive`, the program reads the
/// `stdin` string and then end of file; without `stdin`, end of file at once.
#[tokio::test]
async fn stdin_string_is_read_then_end_of_file() -> anyhow::Result<()> {
    let server = Server::start_default().await?;
    let mut client = Client::ready(&server).await?;
    let code = "import sys\ndata = sys.stdin.read()\nprint(repr(data))\nprint(sum(int(x) for x in data.split()))";
    let run = client.run(with(python(code), "stdin", json!("3\n4\n"))).await?;
    run.assert_exited_ok();
    assert_eq!(run.stdout(), "'3\\n4\\n'\n7\n");
    let run = client.run(python(code)).await?;
    run.assert_exited_ok();
    assert_eq!(run.stdout(), "''\n0\n");
    Ok(())
}

/// spec/README.md#43-stdin: `job/stdin` chunks reach an interactive
/// program in the order sent, however they split lines, and `eof` closes it.
#[tokio::test]
async fn interactive_stdin_chunks_arrive_in_order() -> anyhow::Result<()> {
    let server = Server::start_default().await?;
    let mut client = Client::ready(&server).await?;
    let code = "import sys\nfor line in sys.stdin:\n    print(line.strip().upper(), flush=True)\nprint('done')";
    let id = client.start_run(with(python(code), "interactive", json!(true))).await?;
    client.wait_for_state(&id, "running").await?;
    for chunk in ["ab", "c\n", "de\nf", "g\n"] {
        client.notify("job/stdin", json!({"job": id, "text": chunk})).await?;
    }
    for i in 0..200 {
        client.notify("job/stdin", json!({"job": id, "text": format!("{i}\n")})).await?;
    }
    client.notify("job/stdin", json!({"job": id, "text": "", "eof": true})).await?;
    let run = client.collect(&id).await?;
    run.assert_exited_ok();
    let numbers: String = (0..200).map(|i| format!("{i}\n")).collect();
    assert_eq!(run.stdout(), format!("ABC\nDE\nFG\n{numbers}done\n"), "{}", run.summary());
    Ok(())
}

/// spec/README.md#26-cancellation: `$/cancelRequest` kills the running program
/// and the run answers with status `cancelled`, long before it would end.
#[tokio::test]
async fn cancel_ends_a_running_job_as_cancelled() -> anyhow::Result<()> {
    let server = Server::start_default().await?;
    let mut client = Client::ready(&server).await?;
    let marker = Marker::new();
    let id = client.start_run(with(sleeper(&marker, 50), "limits", json!({"wallTimeMs": 60000}))).await?;
    client.wait_for_output(&id, "started").await?;
    wait_until_process_with(marker.text(), Duration::from_secs(10)).await?;
    client.notify("$/cancelRequest", json!({"id": id})).await?;
    client.timeout = Duration::from_secs(20);
    let run = client.collect(&id).await?;
    assert_eq!(run.status(), "cancelled", "{}", run.summary());
    assert!(!run.stdout().contains("woke"));
    // "When the result is sent, no process of the job is left."
    let left = processes_with(marker.text());
    assert!(left.is_empty(), "processes of the cancelled job outlived its result: {left:?}");
    client.assert_quiet(&id).await?;
    client.run(python("print('after')")).await?.assert_exited_ok();
    Ok(())
}

/// spec/README.md#26-cancellation: closing the socket cancels the connection's
/// jobs: their processes go away, and the server runs new jobs.
#[tokio::test]
async fn disconnect_mid_run_kills_the_job() -> anyhow::Result<()> {
    let server = Server::start_default().await?;
    let mut client = Client::ready(&server).await?;
    let marker = Marker::new();
    let id = client.start_run(with(sleeper(&marker, 50), "limits", json!({"wallTimeMs": 60000}))).await?;
    client.wait_for_output(&id, "started").await?;
    wait_until_process_with(marker.text(), Duration::from_secs(10)).await?;
    drop(client);
    wait_until_no_process_with(marker.text(), Duration::from_secs(15)).await?;
    let mut other = Client::ready(&server).await?;
    other.run(python("print('still serving')")).await?.assert_exited_ok();
    Ok(())
}

/// spec/README.md#41-files: `entry` picks the file to run, `args` reach it, and
/// base64 content is decoded byte for byte.
#[tokio::test]
async fn entry_args_and_base64_files_are_honoured() -> anyhow::Result<()> {
    use base64::Engine;
    let server = Server::start_default().await?;
    let mut client = Client::ready(&server).await?;
    let data = base64::engine::general_purpose::STANDARD.encode([0u8, 1, 2, 255, 254, b'\n']);
    let params = json!({
        "language": "python",
        "files": [
            {"path": "main.py", "content": "print('wrong file')"},
            {"path": "other.py", "content": "import sys\nprint(sys.argv[1:])\nprint(list(open('data.bin','rb').read()))"},
            {"path": "data.bin", "content": data, "encoding": "base64"},
        ],
        "entry": "other.py",
        "args": ["a b", "", "c"],
    });
    let run = client.run(params).await?;
    run.assert_exited_ok();
    assert_eq!(run.stdout(), "['a b', '', 'c']\n[0, 1, 2, 255, 254, 10]\n", "{}", run.summary());
    Ok(())
}

/// spec/methods/run.md: one connection may run several jobs at once; each
/// job's notifications carry its own id and each gets its own response.
#[tokio::test]
async fn concurrent_jobs_on_one_connection_are_kept_apart() -> anyhow::Result<()> {
    let server = Server::start_default().await?;
    let mut client = Client::ready(&server).await?;
    let a = client.start_run(bash("for i in 1 2 3; do echo a$i; sleep 0.2; done")).await?;
    let b = client.start_run(bash("for i in 1 2 3; do echo b$i; sleep 0.2; done")).await?;
    let run_b = client.collect(&b).await?;
    let run_a = client.collect(&a).await?;
    run_a.assert_exited_ok();
    run_b.assert_exited_ok();
    assert_eq!(run_a.stdout(), "a1\na2\na3\n");
    assert_eq!(run_b.stdout(), "b1\nb2\nb3\n");
    Ok(())
}

/// spec/README.md#43-stdin: stdin sent while the job is still building is
/// kept and given to the program when it starts.
#[tokio::test]
async fn stdin_sent_before_the_run_stage_is_kept() -> anyhow::Result<()> {
    let server = Server::start_default().await?;
    let mut client = Client::ready(&server).await?;
    let code = "#include <stdio.h>\nint main(void) {\n    char buf[64];\n    while (fgets(buf, sizeof buf, stdin)) printf(\"got %s\", buf);\n    return 0;\n}\n";
    let params = with(job("c", &[("main.c", code)]), "interactive", json!(true));
    let id = client.start_run(params).await?;
    client.notify("job/stdin", json!({"job": id, "text": "early\n"})).await?;
    client.notify("job/stdin", json!({"job": id, "text": "later\n", "eof": true})).await?;
    let run = client.collect(&id).await?;
    run.assert_exited_ok();
    assert_eq!(run.stdout(), "got early\ngot later\n", "{}", run.summary());
    Ok(())
}

/// spec/README.md#43-stdin: `job/stdin` for a job that is not interactive
/// is ignored, and an interactive program waiting for input ends at its wall
/// time.
#[tokio::test]
async fn stdin_rules_for_non_interactive_and_waiting_jobs() -> anyhow::Result<()> {
    let server = Server::start_default().await?;
    let mut client = Client::ready(&server).await?;
    let code = "import sys, time\nprint('started', flush=True)\ntime.sleep(1)\nprint(repr(sys.stdin.read()))";
    let id = client.start_run(with(python(code), "stdin", json!("given"))).await?;
    client.wait_for_output(&id, "started").await?;
    client.notify("job/stdin", json!({"job": id, "text": "extra", "eof": true})).await?;
    let run = client.collect(&id).await?;
    run.assert_exited_ok();
    assert!(run.stdout().ends_with("'given'\n"), "{}", run.summary());

    let params = with(with(python("input()"), "interactive", json!(true)), "limits", json!({"wallTimeMs": 1500}));
    let run = client.run(params).await?;
    assert_eq!(run.status(), "timeout", "{}", run.summary());
    Ok(())
}

/// spec/README.md#45-output: output of exactly `outputBytes` is not cut;
/// one byte more is cut at exactly `outputBytes`, with status `outputLimit`
/// and `outputTruncated`.
#[tokio::test]
async fn output_limit_cuts_at_exactly_output_bytes() -> anyhow::Result<()> {
    let server = Server::start_default().await?;
    let mut client = Client::ready(&server).await?;
    let code = "import sys\nn = int(sys.argv[1])\nsys.stdout.write('a' * (n - 10))\nsys.stdout.flush()\nsys.stderr.write('b' * 10)\n";
    let params =
        |n: u32| with(with(python(code), "args", json!([n.to_string()])), "limits", json!({"outputBytes": 5000}));
    let run = client.run(params(5000)).await?;
    run.assert_exited_ok();
    assert_eq!(run.result()["outputTruncated"], json!(false));
    assert_eq!(run.stdout().len() + run.stderr().len(), 5000);

    let run = client.run(params(5001)).await?;
    assert_eq!(run.status(), "outputLimit", "{}", run.summary());
    assert_eq!(run.result()["outputTruncated"], json!(true));
    assert_eq!(run.stdout().len() + run.stderr().len(), 5000, "{}", run.summary());
    Ok(())
}

/// spec/README.md#25-ordering: a queued job is told its position, and told
/// again when it changes.
#[tokio::test]
async fn queue_positions_are_updated_as_the_queue_moves() -> anyhow::Result<()> {
    let server = Server::start(coderun_tests::ServerOptions::default().run_slots(1).queue_length(4)).await?;
    let mut client = Client::ready(&server).await?;
    let (ma, mb) = (Marker::new(), Marker::new());
    let long = json!({"wallTimeMs": 60000});
    let a = client.start_run(with(sleeper(&ma, 50), "limits", long.clone())).await?;
    client.wait_for_output(&a, "started").await?;
    let b = client.start_run(with(sleeper(&mb, 50), "limits", long)).await?;
    let seen_b = client.wait_for_state(&b, "queued").await?;
    assert_eq!(seen_b.last().unwrap()["params"]["position"], json!(1));
    let c = client.start_run(python("print('c ran')")).await?;
    let seen_c = client.wait_for_state(&c, "queued").await?;
    assert_eq!(seen_c.last().unwrap()["params"]["position"], json!(2));
    // B leaves the queue: C moves up to 1, then runs once A is cancelled.
    client.notify("$/cancelRequest", json!({"id": b})).await?;
    let update = client.take(|m| m["method"] == "job/status" && m["params"]["job"] == c, "C's next status").await?;
    assert_eq!(update["params"], json!({"job": c, "state": "queued", "position": 1}), "{update}");
    assert_eq!(client.collect(&b).await?.status(), "cancelled");
    client.notify("$/cancelRequest", json!({"id": a})).await?;
    assert_eq!(client.collect(&a).await?.status(), "cancelled");
    let mut run_c = client.collect(&c).await?;
    let mut early = seen_c;
    early.push(update);
    run_c.prepend(early);
    run_c.assert_exited_ok();
    assert_eq!(run_c.stdout(), "c ran\n");
    let states = run_c.states();
    assert_eq!(states.first().map(String::as_str), Some("queued"), "{states:?}");
    assert_eq!(states.last().map(String::as_str), Some("running"), "{states:?}");
    Ok(())
}
