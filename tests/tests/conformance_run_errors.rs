//! Conformance, part three: the errors a `run` request can get instead of
//! running: -32602 invalid params (naming the field), -32003 unknown
//! language, -32004 a limit above its maximum, -32005 queue full, -32006
//! invalid files, -32007 too many jobs on the connection. And the other
//! side: a program that fails is a result, never an error.

use std::time::Duration;

use coderun_tests::{
    host::Marker,
    programs::{python, sleeper, with},
    Client, Server, ServerOptions,
};
use serde_json::{json, Value};

fn expect_error(response: &Value, code: i64) -> String {
    assert_eq!(response["error"]["code"], json!(code), "expected error {code}, got {response}");
    response["error"]["message"].as_str().unwrap_or_else(|| panic!("error without a message: {response}")).to_owned()
}

/// spec/README.md#7-errors: invalid `run` params are -32602 and the message
/// names the offending field.
#[tokio::test]
async fn run_with_wrong_param_types_names_the_field() -> anyhow::Result<()> {
    let server = Server::start_default().await?;
    let mut client = Client::ready(&server).await?;
    let file = json!([{"path": "main.py", "content": "print(1)"}]);
    let cases = [
        (json!({"language": 5, "files": file}), "language"),
        (json!({"files": file}), "language"),
        (json!({"language": "python"}), "files"),
        (json!({"language": "python", "files": "main.py"}), "files"),
        (json!({"language": "python", "files": [{"path": 1, "content": ""}]}), "path"),
        (json!({"language": "python", "files": [{"path": "main.py"}]}), "content"),
        (json!({"language": "python", "files": [{"path": "main.py", "content": "", "encoding": "rot13"}]}), "encoding"),
        (json!({"language": "python", "files": file, "args": "a b"}), "args"),
        (json!({"language": "python", "files": file, "stdin": 5}), "stdin"),
        (json!({"language": "python", "files": file, "interactive": "yes"}), "interactive"),
        (json!({"language": "python", "files": file, "limits": {"wallTimeMs": "x"}}), "wallTimeMs"),
        (json!({"language": "python", "files": file, "limits": {"memoryBytes": -1}}), "memoryBytes"),
        (json!({"language": "python", "files": file, "entry": 3}), "entry"),
        (json!({"language": "python", "files": file, "entry": "missing.py"}), "entry"),
        (json!({"language": "python", "files": file, "limits": {"wallTimeMs": 0}}), "wallTimeMs"),
        (json!({"language": "python", "files": file, "limits": {"openFiles": 1.5}}), "openFiles"),
        (json!([]), "params"),
    ];
    let mut problems = Vec::new();
    for (params, field) in cases {
        let response = client.call("run", params.clone()).await?;
        let message = response["error"]["message"].as_str().unwrap_or_default();
        if response["error"]["code"] != json!(-32602) {
            problems.push(format!("{params}: expected -32602, got {response}"));
        } else if !message.contains(field) {
            problems.push(format!("{params}: the message should name `{field}`: {message:?}"));
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
    Ok(())
}

/// spec/README.md#7-errors: a language the server does not offer is -32003.
#[tokio::test]
async fn unknown_language_is_refused() -> anyhow::Result<()> {
    let server = Server::start_default().await?;
    let mut client = Client::ready(&server).await?;
    let response =
        client.call("run", json!({"language": "cobol", "files": [{"path": "main.cob", "content": ""}]})).await?;
    let message = expect_error(&response, -32003);
    assert!(message.contains("cobol"), "the message should name the language: {message}");
    Ok(())
}

/// spec/README.md#44-limits: each limit above its maximum is -32004 with
/// `data: {limit, maximum}` matching `initialize` (the first in table order
/// when several are over); at the maximum it runs.
#[tokio::test]
async fn limit_above_maximum_is_refused_with_the_maximum() -> anyhow::Result<()> {
    let server = Server::start_default().await?;
    let mut client = Client::connect(&server).await?;
    let init = client.initialize().await?;
    let maximums = init["limits"]["maximums"].as_object().expect("maximums").clone();
    for (name, maximum) in &maximums {
        let over = maximum.as_u64().expect("numeric maximum") + 1;
        let response = client.call("run", with(python("print(1)"), "limits", json!({ name: over }))).await?;
        expect_error(&response, -32004);
        assert_eq!(response["error"]["data"], json!({"limit": name, "maximum": maximum}), "{response}");
    }
    // With several above their maximum, `data` names the first in table order.
    let over = |name: &str| maximums[name].as_u64().unwrap() + 1;
    let limits =
        json!({"openFiles": over("openFiles"), "memoryBytes": over("memoryBytes"), "cpuTimeMs": over("cpuTimeMs")});
    let response = client.call("run", with(python("print(1)"), "limits", limits)).await?;
    expect_error(&response, -32004);
    assert_eq!(response["error"]["data"]["limit"], json!("cpuTimeMs"), "{response}");
    let run = client.run(with(python("print(1)"), "limits", Value::Object(maximums))).await?;
    run.assert_exited_ok();
    Ok(())
}

/// spec/README.md#7-errors: with one run slot and a queue of one, a second
/// job waits as `queued` at position 1 and a third is refused with -32005
/// and `data.retryAfterMs`; a cancelled queued job answers `cancelled`.
#[tokio::test]
async fn full_queue_is_busy_with_retry_after() -> anyhow::Result<()> {
    let server = Server::start(ServerOptions::default().run_slots(1).queue_length(1)).await?;
    let (mut a, mut b, mut c) =
        (Client::ready(&server).await?, Client::ready(&server).await?, Client::ready(&server).await?);
    let (ma, mb) = (Marker::new(), Marker::new());
    let long = json!({"wallTimeMs": 60000});
    let ja = a.start_run(with(sleeper(&ma, 50), "limits", long.clone())).await?;
    a.wait_for_output(&ja, "started").await?;
    let jb = b.start_run(with(sleeper(&mb, 50), "limits", long)).await?;
    let seen = b.wait_for_state(&jb, "queued").await?;
    let queued = seen.last().unwrap();
    assert_eq!(queued["params"]["position"], json!(1), "{queued}");

    let response = c.call("run", python("print('c')")).await?;
    expect_error(&response, -32005);
    let retry = &response["error"]["data"]["retryAfterMs"];
    assert!(retry.is_u64(), "busy without data.retryAfterMs: {response}");

    b.notify("$/cancelRequest", json!({"id": jb})).await?;
    b.timeout = Duration::from_secs(20);
    let run_b = b.collect(&jb).await?;
    assert_eq!(run_b.status(), "cancelled", "{}", run_b.summary());
    assert!(run_b.stdout().is_empty(), "the queued job ran: {}", run_b.summary());
    assert_eq!(run_b.result()["stages"], json!([]), "a job cancelled in the queue has no stages");
    assert_eq!(run_b.result()["exitCode"], json!(null));

    a.notify("$/cancelRequest", json!({"id": ja})).await?;
    a.timeout = Duration::from_secs(20);
    assert_eq!(a.collect(&ja).await?.status(), "cancelled");
    c.run(python("print('c')")).await?.assert_exited_ok();
    Ok(())
}

/// spec/README.md#7-errors: past `--jobs-per-connection` jobs in flight, a
/// run is -32007; another connection is not affected.
#[tokio::test]
async fn too_many_jobs_on_one_connection_is_refused() -> anyhow::Result<()> {
    let server = Server::start(ServerOptions::default().jobs_per_connection(1)).await?;
    let mut client = Client::ready(&server).await?;
    let marker = Marker::new();
    let first = client.start_run(with(sleeper(&marker, 50), "limits", json!({"wallTimeMs": 60000}))).await?;
    client.wait_for_output(&first, "started").await?;
    let response = client.call("run", python("print(2)")).await?;
    expect_error(&response, -32007);
    Client::ready(&server).await?.run(python("print(3)")).await?.assert_exited_ok();
    client.notify("$/cancelRequest", json!({"id": first})).await?;
    client.timeout = Duration::from_secs(20);
    assert_eq!(client.collect(&first).await?.status(), "cancelled");
    // The slot is free again.
    client.run(python("print(4)")).await?.assert_exited_ok();
    Ok(())
}

/// spec/README.md#41-files: invalid files are -32006 and the message names
/// the offending path (bad_input.rs covers every kind of violation).
#[tokio::test]
async fn invalid_files_are_refused_naming_the_path() -> anyhow::Result<()> {
    let server = Server::start_default().await?;
    let mut client = Client::ready(&server).await?;
    let params = json!({"language": "python", "files": [
        {"path": "main.py", "content": "print(1)"},
        {"path": "../secret.txt", "content": "x"},
    ]});
    let response = client.call("run", params).await?;
    let message = expect_error(&response, -32006);
    assert!(message.contains("../secret.txt"), "the message should name the path: {message}");
    Ok(())
}

/// spec/README.md#46-statuses: a program that fails is a result with its status,
/// never a JSON-RPC error.
#[tokio::test]
async fn failing_program_is_a_result_not_an_error() -> anyhow::Result<()> {
    let server = Server::start_default().await?;
    let mut client = Client::ready(&server).await?;
    let run = client.run(python("raise SystemExit(42)")).await?;
    assert_eq!(run.status(), "exited");
    assert_eq!(run.result()["exitCode"], json!(42));
    let run =
        client.run(with(python("while True: pass"), "limits", json!({"wallTimeMs": 1000, "cpuTimeMs": 30000}))).await?;
    assert_eq!(run.status(), "timeout", "{}", run.summary());
    Ok(())
}

/// spec/README.md#7-errors: a request that fails several checks gets the
/// error of the first check in the spec's order.
#[tokio::test]
async fn errors_follow_the_spec_order_of_checks() -> anyhow::Result<()> {
    let server = Server::start(ServerOptions::default().jobs_per_connection(1)).await?;
    let mut fresh = Client::connect(&server).await?;
    let response = fresh.call("run", json!({"language": 5})).await?;
    expect_error(&response, -32002);

    let mut client = Client::ready(&server).await?;
    let bad_file = json!([{"path": "/abs", "content": ""}]);
    let cases = [
        (json!({"language": "cobol", "files": "x"}), -32602),
        (json!({"language": "cobol", "files": bad_file}), -32003),
        (json!({"language": "python", "files": bad_file, "limits": {"wallTimeMs": 999999999}}), -32004),
        (json!({"language": "python", "files": bad_file, "entry": "nope.py"}), -32006),
        (
            json!({"language": "python", "files": [{"path": "main.py", "content": ""}], "entry": "nope.py", "limits": {"wallTimeMs": 999999999}}),
            -32004,
        ),
        (json!({"language": "python", "files": [{"path": "main.py", "content": "!!!", "encoding": "base64"}]}), -32006),
    ];
    let mut problems = Vec::new();
    for (params, code) in cases {
        let response = client.call("run", params.clone()).await?;
        if response["error"]["code"] != json!(code) {
            problems.push(format!("{params}: expected {code}, got {response}"));
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
    // With the connection's one job in flight, the job count is checked
    // before the params: a run over a maximum is -32007, not -32004.
    let marker = Marker::new();
    let first = client.start_run(with(sleeper(&marker, 50), "limits", json!({"wallTimeMs": 60000}))).await?;
    client.wait_for_output(&first, "started").await?;
    let response = client.call("run", with(python(""), "limits", json!({"wallTimeMs": 999999999}))).await?;
    expect_error(&response, -32007);
    let response = client.call("run", python("")).await?;
    expect_error(&response, -32007);
    client.notify("$/cancelRequest", json!({"id": first})).await?;
    client.collect(&first).await?;
    Ok(())
}
