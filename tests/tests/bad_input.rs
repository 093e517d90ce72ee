//! Bad input from clients: text that is not JSON, binary frames, a message
//! ten times the size cap, file names that try to escape the working
//! directory, params of the wrong type, requests before `initialize`, and
//! 200 connections at once. Each must get its documented answer, and the
//! server must go on serving everyone else.

use std::time::Duration;

use coderun_tests::{
    client::{initialize_params, refusal_status},
    host::{wait_until_no_process_with, Marker},
    http::get,
    programs::{python, sleeper, with},
    Client, Server, ServerOptions,
};
use futures_util::future::join_all;
use serde_json::{json, Value};
use tokio_tungstenite::tungstenite::Message;

fn error_code(response: &Value) -> Value {
    response["error"]["code"].clone()
}

/// Malformed text of many kinds is answered with -32700 and id null, one
/// answer per message, and the connection keeps working.
#[tokio::test]
async fn malformed_json_is_answered_and_the_connection_survives() -> anyhow::Result<()> {
    let server = Server::start_default().await?;
    let mut client = Client::ready(&server).await?;
    let deep = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
    let cases = [
        "{".to_owned(),
        "}".to_owned(),
        "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"run\",}".to_owned(),
        "nul\u{0}l".to_owned(),
        "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"run\",\"params\":{\"language\":\"\\ud800\"}}".to_owned(),
        "\u{feff}{}".to_owned(),
        "x".repeat(100_000),
        deep,
    ];
    for text in &cases {
        client.send_text(text).await?;
        let response = client.recv().await?;
        let code = error_code(&response);
        let shown: String = text.chars().take(60).collect();
        assert!(code == json!(-32700) || code == json!(-32600), "for {shown:?}: {response}");
        assert_eq!(response["id"], Value::Null, "for {shown:?}: {response}");
    }
    client.run(python("print('fine')")).await?.assert_exited_ok();
    Ok(())
}

/// A binary frame is answered with -32700, id null; the connection stays
/// open, before and after `initialize`.
#[tokio::test]
async fn binary_frame_is_a_parse_error_and_the_connection_stays_open() -> anyhow::Result<()> {
    let server = Server::start_default().await?;
    let mut client = Client::connect(&server).await?;
    let request = json!({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": initialize_params()});
    client.send_message(Message::binary(request.to_string().into_bytes())).await?;
    let response = client.recv().await?;
    assert_eq!(error_code(&response), json!(-32700), "{response}");
    assert_eq!(response["id"], Value::Null);
    client.initialize().await?;
    client.send_message(Message::binary(vec![0u8, 159, 146, 150])).await?;
    let response = client.recv().await?;
    assert_eq!(error_code(&response), json!(-32700), "{response}");
    client.run(python("print('fine')")).await?.assert_exited_ok();
    Ok(())
}

/// A 10 MiB message closes its connection with 1009, cancelling that
/// connection's job; other connections and new ones are served.
#[tokio::test]
async fn ten_mib_message_closes_the_connection_with_1009() -> anyhow::Result<()> {
    let server = Server::start_default().await?;
    let mut other = Client::ready(&server).await?;
    let mut client = Client::ready(&server).await?;
    let marker = Marker::new();
    let id = client.start_run(with(sleeper(&marker, 50), "limits", json!({"wallTimeMs": 60000}))).await?;
    client.wait_for_output(&id, "started").await?;
    let content = "#".repeat(10 << 20);
    let huge = json!({"jsonrpc": "2.0", "id": 2, "method": "run",
                      "params": {"language": "python", "files": [{"path": "main.py", "content": content}]}});
    // The server may close before it has read the whole message, so a failed
    // send is not the test's concern; the close frame is.
    let _ = client.send_text(&huge.to_string()).await;
    let frame = client.expect_close().await?;
    let code = frame.as_ref().map(|f| u16::from(f.code));
    assert_eq!(code, Some(1009), "expected close code 1009, got {frame:?}");
    wait_until_no_process_with(marker.text(), Duration::from_secs(15)).await?;
    other.run(python("print('other')")).await?.assert_exited_ok();
    Client::ready(&server).await?.run(python("print('new')")).await?.assert_exited_ok();
    Ok(())
}

/// Every kind of bad file path, and too many files or bytes, is -32006
/// with a message naming the offending file; nothing runs.
#[tokio::test]
async fn bad_file_paths_are_refused_naming_the_file() -> anyhow::Result<()> {
    let server = Server::start_default().await?;
    let mut client = Client::ready(&server).await?;
    let deep = vec!["d"; 17].join("/") + "/f.py";
    let long = "p".repeat(256);
    let bad_paths = [
        "../x",
        "/abs",
        "a//b",
        "./a",
        "a/./b",
        "a\\b",
        "a\u{0}b",
        "",
        "a/",
        "a/..",
        "..",
        ".",
        "main.py",
        deep.as_str(),
        long.as_str(),
    ];
    let mut problems = Vec::new();
    for path in bad_paths {
        let params = json!({"language": "python", "files": [
            {"path": "main.py", "content": "print('ran')"},
            {"path": path, "content": "x"},
        ]});
        let response = client.call("run", params).await?;
        if error_code(&response) != json!(-32006) {
            problems.push(format!("path {path:?}: expected -32006, got {response}"));
            continue;
        }
        // The message names the file: by its index, or by its path (quoted
        // and escaped where it has to be).
        let message = response["error"]["message"].as_str().unwrap_or_default();
        let quoted = format!("{path:?}");
        let named = message.contains("files[1]") || message.contains(&quoted);
        if !named {
            problems.push(format!("path {path:?}: the message does not name the file: {message:?}"));
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
    // A file and a directory of the same name.
    let params = json!({"language": "python", "files": [
        {"path": "main.py", "content": ""}, {"path": "a", "content": ""}, {"path": "a/b", "content": ""},
    ]});
    let response = client.call("run", params).await?;
    assert_eq!(error_code(&response), json!(-32006), "a and a/b: {response}");

    let many: Vec<Value> = (0..65).map(|i| json!({"path": format!("f{i}.py"), "content": ""})).collect();
    let mut files = vec![json!({"path": "main.py", "content": ""})];
    files.extend(many);
    let response = client.call("run", json!({"language": "python", "files": files})).await?;
    assert_eq!(error_code(&response), json!(-32006), "66 files: {response}");

    let big = "#".repeat(768 * 1024 + 1);
    let response =
        client.call("run", json!({"language": "python", "files": [{"path": "main.py", "content": big}]})).await?;
    assert_eq!(error_code(&response), json!(-32006), "768 KiB + 1 byte: {response}");

    let run = client.run(python("print('still fine')")).await?;
    run.assert_exited_ok();
    Ok(())
}

/// Params and envelopes of the wrong types are -32602 naming the field (or
/// -32600 for the envelope), never a crash.
#[tokio::test]
async fn wrong_types_are_refused_naming_the_field() -> anyhow::Result<()> {
    let server = Server::start_default().await?;
    let mut client = Client::ready(&server).await?;
    let response = client.call("run", json!({"language": 5, "files": []})).await?;
    assert_eq!(error_code(&response), json!(-32602), "{response}");
    let message = response["error"]["message"].as_str().unwrap_or_default();
    assert!(message.contains("language"), "the message should name `language`: {message:?}");

    let file = json!([{"path": "main.py", "content": ""}]);
    for (params, field) in [
        (json!({"language": "python", "files": file, "limits": {"wallTimeMs": 1e300}}), "wallTimeMs"),
        (json!({"language": "python", "files": file, "limits": "fast"}), "limits"),
        (json!({"language": "python", "files": [null]}), "files"),
        (json!({"language": ["python"], "files": file}), "language"),
    ] {
        let response = client.call("run", params.clone()).await?;
        assert_eq!(error_code(&response), json!(-32602), "{params}: {response}");
        let message = response["error"]["message"].as_str().unwrap_or_default();
        assert!(message.contains(field), "the message for {params} should name `{field}`: {message:?}");
    }
    for text in [
        r#"{"jsonrpc":"2.0","id":18446744073709551616,"method":"run","params":{}}"#,
        r#"{"jsonrpc":"2.0","id":{"a":1},"method":"run","params":{}}"#,
        r#"{"jsonrpc":"2.0","id":1,"method":"run","params":null}"#,
        r#"{"jsonrpc":2,"id":1,"method":"run","params":{}}"#,
    ] {
        client.send_text(text).await?;
        let response = client.recv().await?;
        assert_eq!(error_code(&response), json!(-32600), "{text}: {response}");
    }
    client.run(python("print('fine')")).await?.assert_exited_ok();
    Ok(())
}

/// A flood of requests before `initialize` is answered with -32002 each,
/// notifications before it are ignored, and `initialize` still works.
#[tokio::test]
async fn requests_before_initialize_are_refused_one_by_one() -> anyhow::Result<()> {
    let server = Server::start_default().await?;
    let mut client = Client::connect(&server).await?;
    client.notify("$/cancelRequest", json!({"id": 1})).await?;
    client.notify("job/stdin", json!({"job": 1, "text": "x"})).await?;
    for i in 0..100 {
        client.send_request(&json!(i), "run", python("print(1)")).await?;
    }
    for i in 0..100 {
        let response = client.response_to(&json!(i)).await?;
        assert_eq!(error_code(&response), json!(-32002), "{response}");
    }
    client.initialize().await?;
    client.run(python("print('fine')")).await?.assert_exited_ok();
    Ok(())
}

/// 200 connections at once all get `initialize` answered, and the server
/// then runs a job.
#[tokio::test]
async fn two_hundred_connections_at_once_are_all_served() -> anyhow::Result<()> {
    let server = Server::start_default().await?;
    let attempts = (0..200).map(|_| Client::ready(&server));
    let results = join_all(attempts).await;
    let failures: Vec<String> = results.iter().filter_map(|r| r.as_ref().err()).map(|e| format!("{e:#}")).collect();
    assert!(failures.is_empty(), "{} of 200 connections failed, e.g. {:?}", failures.len(), failures.first());
    let mut clients: Vec<Client> = results.into_iter().flatten().collect();
    clients[199].run(python("print('one of many')")).await?.assert_exited_ok();
    drop(clients);
    assert_eq!(get(&server, "/healthz").await?.status, 200);
    Client::ready(&server).await?.run(python("print('after')")).await?.assert_exited_ok();
    Ok(())
}

/// Past `--max-connections`, upgrades are refused cleanly with HTTP 503;
/// once the crowd leaves, the server serves again.
#[tokio::test]
async fn connections_past_the_cap_are_refused_with_503() -> anyhow::Result<()> {
    let server = Server::start(ServerOptions::default().max_connections(50)).await?;
    let url = server.ws_url();
    let attempts = (0..200).map(|_| async {
        match Client::try_connect(&url, &[]).await {
            Ok(mut client) => client.initialize().await.map(|_| Some(client)).map_err(|e| format!("{e:#}")),
            Err(e) if refusal_status(&e) == Some(503) => Ok(None),
            Err(e) => Err(e.to_string()),
        }
    });
    let results = join_all(attempts).await;
    let failures: Vec<&String> = results.iter().filter_map(|r| r.as_ref().err()).collect();
    assert!(failures.is_empty(), "{} attempts failed other than by a 503: {:?}", failures.len(), failures.first());
    let served = results.iter().filter(|r| matches!(r, Ok(Some(_)))).count();
    assert!((1..=50).contains(&served), "{served} connections were served under a cap of 50");
    drop(results);
    // The server notices the closed connections; give it a moment to.
    let mut last = None;
    for _ in 0..50 {
        match Client::ready(&server).await {
            Ok(mut client) => {
                client.run(python("print('after')")).await?.assert_exited_ok();
                return Ok(());
            }
            Err(e) => last = Some(e),
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("the server did not serve again after the crowd left: {last:?}");
}

/// spec/README.md#43-stdin: a client that floods an interactive job with far
/// more stdin than the program reads never blocks the connection. The
/// server keeps what fits in its buffer, discards whole chunks past it,
/// never reorders, and still applies `eof`; the job ends normally.
#[tokio::test]
async fn stdin_flood_keeps_order_and_drops_whole_chunks_past_the_buffer() -> anyhow::Result<()> {
    const CHUNK: usize = 900_000;
    const CHUNKS: usize = 16;
    let server = Server::start_default().await?;
    let mut client = Client::ready(&server).await?;
    let code = format!(
        "import sys, time\n\
         time.sleep(4)\n\
         data = sys.stdin.buffer.read()\n\
         n = {CHUNK}\n\
         idx = [int(data[i:i + 6]) for i in range(0, len(data), n)]\n\
         whole = len(data) % n == 0 and all(data[i + 6:i + n] == b'x' * (n - 6) for i in range(0, len(data), n))\n\
         print('chunks', len(idx))\n\
         print('ordered', idx == sorted(set(idx)))\n\
         print('whole', whole)\n"
    );
    let params = with(with(python(&code), "interactive", json!(true)), "limits", json!({"wallTimeMs": 30000}));
    let id = client.start_run(params).await?;
    for i in 0..CHUNKS {
        let text = format!("{i:06}{}", "x".repeat(CHUNK - 6));
        client.notify("job/stdin", json!({"job": id, "text": text})).await?;
    }
    client.notify("job/stdin", json!({"job": id, "text": "", "eof": true})).await?;
    // The connection was never blocked: a request is answered at once.
    let response = client.call("nope", json!({})).await?;
    assert_eq!(error_code(&response), json!(-32601));
    let run = client.collect(&id).await?;
    run.assert_exited_ok();
    let out = run.stdout();
    let chunks: usize = out.lines().find_map(|l| l.strip_prefix("chunks ")).expect("chunks line").parse()?;
    assert!(chunks >= 1 && chunks < CHUNKS, "kept {chunks} of {CHUNKS} chunks:\n{}", run.summary());
    assert!(out.contains("ordered True"), "{}", run.summary());
    assert!(out.contains("whole True"), "{}", run.summary());
    Ok(())
}
