//! Conformance, part four: plain HTTP. `GET /healthz`, `GET /`, the one-shot
//! `POST /rpc` a course platform's back end uses instead of a WebSocket,
//! and the origin check on the WebSocket upgrade that keeps other web pages
//! from driving a local server.

use coderun_tests::{
    client::refusal_status,
    http::{get, post_rpc, request},
    Client, Server, ServerOptions,
};
use serde_json::{json, Value};

fn run_request(id: Value, code: &str) -> String {
    json!({"jsonrpc": "2.0", "id": id, "method": "run",
           "params": {"language": "python", "files": [{"path": "main.py", "content": code}]}})
    .to_string()
}

/// spec/README.md#52-get-healthz: `GET /healthz` answers 200 `ok` as text/plain.
#[tokio::test]
async fn healthz_answers_ok() -> anyhow::Result<()> {
    let server = Server::start_default().await?;
    let response = get(&server, "/healthz").await?;
    assert_eq!(response.status, 200);
    assert_eq!(response.text().trim(), "ok");
    let content_type = response.header("content-type").unwrap_or_default();
    assert!(content_type.starts_with("text/plain"), "content-type {content_type:?}");
    Ok(())
}

/// spec/README.md#52-get-healthz: `GET /` serves an HTML page.
#[tokio::test]
async fn root_serves_an_html_page() -> anyhow::Result<()> {
    let server = Server::start_default().await?;
    let response = get(&server, "/").await?;
    assert_eq!(response.status, 200);
    let content_type = response.header("content-type").unwrap_or_default();
    assert!(content_type.starts_with("text/html"), "content-type {content_type:?}");
    assert!(response.text().to_ascii_lowercase().contains("<html"), "{}", response.text());
    Ok(())
}

/// spec/README.md#51-post-rpc: `POST /rpc` with a `run` request answers
/// with the run's result plus `output` (in order) and `diagnostics`, with
/// no `initialize`.
#[tokio::test]
async fn http_one_shot_run_returns_output_and_diagnostics() -> anyhow::Result<()> {
    let server = Server::start_default().await?;
    let code = "import sys, time\nprint('out1', flush=True)\ntime.sleep(0.2)\nprint('err', file=sys.stderr, flush=True)\ntime.sleep(0.2)\nprint('out2')";
    let response = post_rpc(&server, &run_request(json!("grade-1"), code), &[]).await?;
    assert_eq!(response.status, 200, "{}", response.text());
    let body = response.json()?;
    assert_eq!(body["jsonrpc"], "2.0");
    assert_eq!(body["id"], json!("grade-1"));
    let result = &body["result"];
    assert_eq!(result["status"], "exited", "{body}");
    assert_eq!(result["exitCode"], json!(0), "{body}");
    assert!(result["diagnostics"].is_array(), "no diagnostics array: {body}");
    let chunks = result["output"].as_array().unwrap_or_else(|| panic!("no output array: {body}"));
    // Adjacent chunks of one stream may be joined; each stream's text is exact
    // (there is no ordering guarantee between the streams).
    let text = |stream: &str| -> String {
        chunks.iter().filter(|c| c["stream"] == stream).map(|c| c["text"].as_str().unwrap().to_owned()).collect()
    };
    assert_eq!(text("stdout"), "out1\nout2\n", "{body}");
    assert_eq!(text("stderr"), "err\n", "{body}");
    assert!(chunks.iter().all(|c| !c["text"].as_str().unwrap().is_empty()), "empty chunk: {body}");
    assert!(response.header("access-control-allow-origin").is_none(), "CORS header on /rpc");
    Ok(())
}

/// spec/README.md#51-post-rpc: errors come back as JSON-RPC errors: an
/// unknown language, a body that is not JSON, and invalid files.
#[tokio::test]
async fn http_one_shot_errors_are_json_rpc_errors() -> anyhow::Result<()> {
    let server = Server::start_default().await?;
    let body = json!({"jsonrpc": "2.0", "id": 1, "method": "run",
                      "params": {"language": "cobol", "files": [{"path": "a", "content": ""}]}});
    let response = post_rpc(&server, &body.to_string(), &[]).await?;
    let answer = response.json()?;
    assert_eq!(answer["error"]["code"], json!(-32003), "{answer}");
    assert_eq!(answer["id"], json!(1));

    let response = post_rpc(&server, "{not json", &[]).await?;
    let answer = response.json()?;
    assert_eq!(answer["error"]["code"], json!(-32700), "{answer}");
    assert_eq!(answer["id"], Value::Null);

    let body = json!({"jsonrpc": "2.0", "id": 2, "method": "run",
                      "params": {"language": "python", "files": [{"path": "/etc/x", "content": ""}]}});
    let answer = post_rpc(&server, &body.to_string(), &[]).await?.json()?;
    assert_eq!(answer["error"]["code"], json!(-32006), "{answer}");
    assert_eq!(answer["id"], json!(2));

    let cases = [
        (json!({"jsonrpc": "2.0", "id": 3, "method": "initialize", "params": {"protocolVersion": "1"}}), -32600),
        (json!({"jsonrpc": "2.0", "method": "run", "params": {}}), -32600),
        (json!([{"jsonrpc": "2.0", "id": 4, "method": "run", "params": {}}]), -32600),
        (
            json!({"jsonrpc": "2.0", "id": 5, "method": "run",
                "params": {"language": "python", "interactive": true, "files": [{"path": "main.py", "content": ""}]}}),
            -32602,
        ),
        // spec/README.md#7-errors: the language and the files are checked
        // before `interactive` on POST /rpc.
        (
            json!({"jsonrpc": "2.0", "id": 6, "method": "run",
                "params": {"language": "cobol", "interactive": true, "files": [{"path": "main.py", "content": ""}]}}),
            -32003,
        ),
        (
            json!({"jsonrpc": "2.0", "id": 7, "method": "run",
                "params": {"language": "python", "interactive": true, "files": [{"path": "../x", "content": ""}]}}),
            -32006,
        ),
    ];
    let mut problems = Vec::new();
    for (body, code) in cases {
        let response = post_rpc(&server, &body.to_string(), &[]).await?;
        match response.json() {
            Ok(answer) if response.status == 200 && answer["error"]["code"] == json!(code) => {}
            Ok(answer) => {
                problems.push(format!("{body}: expected HTTP 200 with {code}, got HTTP {} {answer}", response.status))
            }
            Err(e) => problems.push(format!("{body}: {e:#}")),
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
    Ok(())
}

/// spec/README.md#51-post-rpc: only malformed HTTP gets an HTTP error: 415
/// without a JSON content type, 413 for a body over the message size cap.
#[tokio::test]
async fn http_one_shot_refuses_malformed_http() -> anyhow::Result<()> {
    let server = Server::start_default().await?;
    let body = run_request(json!(1), "print(1)");
    let response = request(&server, "POST", "/rpc", &[], body.as_bytes()).await?;
    assert_eq!(response.status, 415, "no content type: {}", response.text());
    let response = request(&server, "POST", "/rpc", &[("Content-Type", "text/plain")], body.as_bytes()).await?;
    assert_eq!(response.status, 415, "text/plain: {}", response.text());
    let response =
        request(&server, "POST", "/rpc", &[("Content-Type", "application/json; charset=utf-8")], body.as_bytes())
            .await?;
    assert_eq!(response.status, 200, "{}", response.text());
    assert_eq!(response.json()?["result"]["status"], "exited");
    let big = run_request(json!(2), &"#".repeat(2 * 1024 * 1024));
    let response = post_rpc(&server, &big, &[]).await?;
    assert_eq!(response.status, 413, "a 2 MiB body: {}", response.text());
    assert_eq!(get(&server, "/healthz").await?.status, 200);
    Ok(())
}

/// spec/README.md#32-token: with `--token`, `POST /rpc` needs
/// `Authorization: Bearer TOKEN`; without it or with a wrong one the answer
/// is a -32001 error.
#[tokio::test]
async fn http_one_shot_needs_the_bearer_token() -> anyhow::Result<()> {
    let server = Server::start(ServerOptions::default().token("s3cret")).await?;
    let request = run_request(json!(1), "print('hi')");
    for headers in [vec![], vec![("Authorization", "Bearer nope")]] {
        let answer = post_rpc(&server, &request, &headers).await?.json()?;
        assert_eq!(answer["error"]["code"], json!(-32001), "{answer}");
        assert!(answer.get("result").is_none());
    }
    let answer = post_rpc(&server, &request, &[("Authorization", "Bearer s3cret")]).await?.json()?;
    assert_eq!(answer["result"]["status"], "exited", "{answer}");
    let out: String =
        answer["result"]["output"].as_array().unwrap().iter().map(|c| c["text"].as_str().unwrap()).collect();
    assert_eq!(out, "hi\n");
    Ok(())
}

/// spec/README.md#31-origin: a WebSocket upgrade from a foreign `Origin` is
/// refused with HTTP 403; the server's own origin (by address or as
/// localhost, compared case-insensitively) and no `Origin` at all are
/// accepted.
#[tokio::test]
async fn foreign_origin_is_refused_and_own_origin_accepted() -> anyhow::Result<()> {
    let server = Server::start_default().await?;
    for origin in ["http://evil.example", "https://course.example", "null", "http://127.0.0.1:1"] {
        match Client::try_connect(&server.ws_url(), &[("Origin", origin)]).await {
            Ok(_) => panic!("the upgrade from origin {origin} was accepted"),
            Err(e) => assert_eq!(refusal_status(&e), Some(403), "origin {origin}: {e}"),
        }
    }
    let own = server.origin();
    let localhost = format!("http://localhost:{}", server.addr.port());
    let shouting = format!("HTTP://LOCALHOST:{}", server.addr.port());
    for origin in [own.as_str(), localhost.as_str(), shouting.as_str()] {
        let mut client = Client::connect_with(&server, &[("Origin", origin)]).await?;
        client.initialize().await?;
    }
    Client::ready(&server).await?;
    Ok(())
}

/// spec/README.md#31-origin: `--allowed-origin` adds an origin; others stay
/// refused.
#[tokio::test]
async fn allowed_origin_is_accepted() -> anyhow::Result<()> {
    let server = Server::start(ServerOptions::default().allowed_origin("https://course.example")).await?;
    let mut client = Client::connect_with(&server, &[("Origin", "https://course.example")]).await?;
    client.initialize().await?;
    client.run(coderun_tests::programs::python("print(1)")).await?.assert_exited_ok();
    match Client::try_connect(&server.ws_url(), &[("Origin", "https://other.example")]).await {
        Ok(_) => panic!("an origin that was not allowed was accepted"),
        Err(e) => assert_eq!(refusal_status(&e), Some(403), "{e}"),
    }
    Ok(())
}

/// spec/README.md#51-post-rpc: a caller that hangs up before the answer
/// cancels its job: the program's processes go away.
#[tokio::test]
async fn http_one_shot_caller_hanging_up_cancels_the_job() -> anyhow::Result<()> {
    use tokio::io::AsyncWriteExt;
    let server = Server::start_default().await?;
    let marker = coderun_tests::host::Marker::new();
    let params = coderun_tests::programs::with(
        coderun_tests::programs::sleeper(&marker, 50),
        "limits",
        json!({"wallTimeMs": 60000}),
    );
    let body = json!({"jsonrpc": "2.0", "id": 1, "method": "run", "params": params}).to_string();
    let mut stream = tokio::net::TcpStream::connect(server.addr).await?;
    let head = format!(
        "POST /rpc HTTP/1.1\r\nHost: {}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n",
        server.addr,
        body.len()
    );
    stream.write_all(head.as_bytes()).await?;
    stream.write_all(body.as_bytes()).await?;
    let marker_text = marker.text().to_owned();
    coderun_tests::host::wait_until_process_with(&marker_text, std::time::Duration::from_secs(20)).await?;
    drop(stream);
    coderun_tests::host::wait_until_no_process_with(&marker_text, std::time::Duration::from_secs(15)).await?;
    assert_eq!(get(&server, "/healthz").await?.status, 200);
    Ok(())
}
