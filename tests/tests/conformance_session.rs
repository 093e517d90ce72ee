//! Conformance, part one: the session. `initialize` and its result, the
//! lifecycle rules around it, access tokens, and the JSON-RPC errors that do
//! not depend on running a program (-32700, -32600, -32601, -32602, -32002,
//! -32001). Each test sends raw JSON text over a real WebSocket to a real
//! server and names the spec section it checks.

use coderun_protocol::InitializeResult;
use coderun_tests::{
    client::initialize_params,
    programs::{python, LANGUAGES},
    Client, Server, ServerOptions,
};
use serde_json::{json, Value};

/// Asserts `response` is an error with `code` and returns its message.
fn expect_error(response: &Value, code: i64) -> String {
    assert_eq!(response["error"]["code"], json!(code), "expected error {code}, got {response}");
    assert!(response.get("result").is_none(), "an error response must not carry a result: {response}");
    response["error"]["message"].as_str().unwrap_or_else(|| panic!("error without a message: {response}")).to_owned()
}

/// spec/methods/initialize.md: the result names protocol version "1", the
/// server, every language with its entry and whether it is compiled, the
/// default and maximum limits, and a list of feature names.
#[tokio::test]
async fn initialize_result_describes_server_languages_and_limits() -> anyhow::Result<()> {
    let server = Server::start_default().await?;
    let mut client = Client::connect(&server).await?;
    let response = client.call("initialize", initialize_params()).await?;
    assert_eq!(response["id"], json!(1));
    let result = &response["result"];
    let typed: InitializeResult = serde_json::from_value(result.clone())
        .unwrap_or_else(|e| panic!("the initialize result does not have the protocol's shape ({e}): {result}"));
    assert_eq!(typed.protocol_version, "1");
    assert!(!typed.server.name.is_empty() && !typed.server.version.is_empty(), "{result}");
    for (id, entry, compiled) in LANGUAGES {
        let lang = typed
            .languages
            .iter()
            .find(|l| l.id == *id)
            .unwrap_or_else(|| panic!("language {id} missing from initialize: {result}"));
        assert_eq!(lang.entry, *entry, "entry of {id}");
        assert_eq!(lang.compiled, *compiled, "compiled flag of {id}");
        assert!(!lang.name.is_empty() && !lang.version.is_empty(), "name and version of {id}");
        assert!(!lang.extensions.is_empty(), "extensions of {id}");
        assert!(lang.extensions.iter().all(|e| e.starts_with('.')), "extensions of {id} start with a dot");
    }
    for ((name, default), (_, maximum)) in typed.limits.defaults.fields().iter().zip(typed.limits.maximums.fields()) {
        assert!(default <= &maximum, "default {name} {default} is above its maximum {maximum}");
        assert!(*default > 0, "default {name} is 0");
    }
    assert!(
        typed.features.iter().any(|f| f == &format!("sandbox:{}", coderun_tests::server::sandbox())),
        "features should name the sandbox in force: {:?}",
        typed.features
    );
    Ok(())
}

/// spec/README.md#24-lifecycle: any request before `initialize` is answered
/// with -32002, and the connection stays usable for `initialize` after it.
#[tokio::test]
async fn request_before_initialize_is_not_initialized() -> anyhow::Result<()> {
    let server = Server::start_default().await?;
    let mut client = Client::connect(&server).await?;
    let response = client.call("run", python("print(1)")).await?;
    expect_error(&response, -32002);
    let response = client.call("coderun/whatever", json!({})).await?;
    expect_error(&response, -32002);
    client.initialize().await?;
    let run = client.run(python("print(1)")).await?;
    run.assert_exited_ok();
    Ok(())
}

/// spec/README.md#24-lifecycle: a second `initialize` is an invalid request
/// (-32600) and leaves the session as it was.
#[tokio::test]
async fn second_initialize_is_an_invalid_request() -> anyhow::Result<()> {
    let server = Server::start_default().await?;
    let mut client = Client::ready(&server).await?;
    let response = client.call("initialize", initialize_params()).await?;
    expect_error(&response, -32600);
    client.run(python("print(2)")).await?.assert_exited_ok();
    Ok(())
}

/// spec/README.md#21-transport: text that is not JSON is answered with -32700
/// and id null, and the connection stays open.
#[tokio::test]
async fn malformed_json_is_a_parse_error_with_null_id() -> anyhow::Result<()> {
    let server = Server::start_default().await?;
    let mut client = Client::ready(&server).await?;
    for text in ["{", "not json", r#"{"jsonrpc":"2.0","id":1,"method":"run""#, ""] {
        client.send_text(text).await?;
        let response = client.recv().await?;
        expect_error(&response, -32700);
        assert_eq!(response["id"], Value::Null, "a parse error's id is null: {response}");
    }
    client.run(python("print(3)")).await?.assert_exited_ok();
    Ok(())
}

/// spec/README.md#7-errors: JSON that is not a valid request object is -32600,
/// keeping the id when one could be read.
#[tokio::test]
async fn invalid_request_objects_are_refused_with_their_id() -> anyhow::Result<()> {
    let server = Server::start_default().await?;
    let mut client = Client::ready(&server).await?;
    let cases = [
        (r#"{"jsonrpc":"1.0","id":5,"method":"run","params":{}}"#, json!(5)),
        (r#"{"id":6,"method":"run","params":{}}"#, json!(6)),
        (r#"{"jsonrpc":"2.0","id":7,"method":42}"#, json!(7)),
        (r#"{"jsonrpc":"2.0","id":8}"#, json!(8)),
        (r#"{"jsonrpc":"2.0","id":"s","method":"run","params":3}"#, json!("s")),
        (r#"[{"jsonrpc":"2.0","id":9,"method":"run","params":{}}]"#, Value::Null),
        (r#"42"#, Value::Null),
        (r#"{"jsonrpc":"2.0","id":null,"method":"run","params":{}}"#, Value::Null),
        (r#"{"jsonrpc":"2.0","id":1.5,"method":"run","params":{}}"#, Value::Null),
        (r#"{"jsonrpc":"2.0","id":true,"method":"run","params":{}}"#, Value::Null),
    ];
    for (text, id) in cases {
        client.send_text(text).await?;
        let response = client.recv().await?;
        expect_error(&response, -32600);
        assert_eq!(response["id"], id, "id of the answer to {text}: {response}");
    }
    client.run(python("print(4)")).await?.assert_exited_ok();
    Ok(())
}

/// spec/README.md#7-errors: an unknown method is -32601, with the request's id.
#[tokio::test]
async fn unknown_method_is_method_not_found() -> anyhow::Result<()> {
    let server = Server::start_default().await?;
    let mut client = Client::ready(&server).await?;
    client.send_text(r#"{"jsonrpc":"2.0","id":"c1","method":"compile","params":{}}"#).await?;
    let response = client.recv().await?;
    assert_eq!(response["id"], json!("c1"));
    let message = expect_error(&response, -32601);
    assert!(message.contains("compile"), "the message should name the method: {message}");
    Ok(())
}

/// spec/methods/initialize.md: params of the wrong type, or a protocol
/// version other than "1", are -32602 naming the field; the connection stays
/// uninitialized and a later good `initialize` works.
#[tokio::test]
async fn initialize_with_wrong_param_types_names_the_field() -> anyhow::Result<()> {
    let server = Server::start_default().await?;
    let mut client = Client::connect(&server).await?;
    let response = client.call("initialize", json!({"protocolVersion": 1})).await?;
    let message = expect_error(&response, -32602);
    assert!(message.contains("protocolVersion"), "the message should name protocolVersion: {message}");
    let response = client.call("initialize", json!({})).await?;
    let message = expect_error(&response, -32602);
    assert!(message.contains("protocolVersion"), "the message should name protocolVersion: {message}");
    let response = client.call("initialize", json!({"protocolVersion": "2"})).await?;
    let message = expect_error(&response, -32602);
    assert!(message.contains("protocolVersion"), "the message should name protocolVersion: {message}");
    // A failed initialize leaves the connection uninitialized.
    let response = client.call("run", python("print(1)")).await?;
    expect_error(&response, -32002);
    client.initialize().await?;
    Ok(())
}

/// spec/README.md#22-messages: unknown notifications (those starting with
/// `$/` in particular), notifications before `initialize`, and responses sent
/// by the client are ignored: no answer, and the session goes on.
#[tokio::test]
async fn unknown_notifications_and_client_responses_are_ignored() -> anyhow::Result<()> {
    let server = Server::start_default().await?;
    let mut client = Client::connect(&server).await?;
    client.notify("$/setTrace", json!({"value": "verbose"})).await?;
    client.notify("job/stdin", json!({"job": 1, "text": "x"})).await?;
    client.initialize().await?;
    client.notify("$/setTrace", json!({"value": "verbose"})).await?;
    client.notify("coderun/somethingNew", json!({})).await?;
    client.send_text(r#"{"jsonrpc":"2.0","id":99,"result":{}}"#).await?;
    client.send_text(r#"{"jsonrpc":"2.0","id":98,"error":{"code":1,"message":"x"}}"#).await?;
    client.notify("$/progress", json!({"token": 1, "value": {}})).await?;
    client.notify("$/cancelRequest", json!({"id": 424242})).await?;
    // The next message must be the answer to this request, not a complaint
    // about the notifications before it.
    client.send_text(r#"{"jsonrpc":"2.0","id":"after","method":"compile","params":{}}"#).await?;
    let response = client.recv().await?;
    assert_eq!(response["id"], json!("after"), "a notification was answered: {response}");
    client.run(python("print(5)")).await?.assert_exited_ok();
    Ok(())
}

/// spec/README.md#23-request-ids: a request whose id is already in flight is -32600
/// for that id, and the job already running under it is unaffected.
#[tokio::test]
async fn duplicate_in_flight_id_is_an_invalid_request() -> anyhow::Result<()> {
    let server = Server::start_default().await?;
    let mut client = Client::ready(&server).await?;
    let id = json!(77);
    client
        .send_request(&id, "run", python("import time\nprint('first', flush=True)\ntime.sleep(2)\nprint('end')"))
        .await?;
    client.wait_for_output(&id, "first").await?;
    client.send_request(&id, "run", python("print('second')")).await?;
    // The first answer for id 77 is the refusal; the job's own answer follows.
    let refusal = client.response_to(&id).await?;
    expect_error(&refusal, -32600);
    let run = client.collect(&id).await?;
    run.assert_exited_ok();
    assert!(run.stdout().contains("end"), "{}", run.summary());
    assert!(!run.stdout().contains("second"), "the duplicate ran: {}", run.summary());
    Ok(())
}

/// spec/README.md#32-token: with `--token`, `initialize` without the token or
/// with a wrong one (in params or header) is -32001, the connection stays
/// uninitialized, and `initialize` may be retried.
#[tokio::test]
async fn token_server_refuses_missing_or_wrong_token() -> anyhow::Result<()> {
    let server = Server::start(ServerOptions::default().token("s3cret")).await?;
    let mut client = Client::connect(&server).await?;
    let response = client.call("initialize", initialize_params()).await?;
    expect_error(&response, -32001);

    let mut client = Client::connect(&server).await?;
    let mut params = initialize_params();
    params["token"] = json!("wrong");
    let response = client.call("initialize", params).await?;
    expect_error(&response, -32001);
    // Still uninitialized; a retry with the right token on the same
    // connection is allowed.
    let response = client.call("run", python("print(1)")).await?;
    expect_error(&response, -32002);
    let mut params = initialize_params();
    params["token"] = json!("s3cret");
    let response = client.call("initialize", params).await?;
    assert!(response.get("result").is_some(), "a retry with the right token failed: {response}");

    let mut client = Client::connect_with(&server, &[("Authorization", "Bearer wrong")]).await?;
    let response = client.call("initialize", initialize_params()).await?;
    expect_error(&response, -32001);
    Ok(())
}

/// spec/README.md#32-token: the right token works in `initialize.token`.
#[tokio::test]
async fn token_in_initialize_params_is_accepted() -> anyhow::Result<()> {
    let server = Server::start(ServerOptions::default().token("s3cret")).await?;
    let mut client = Client::connect(&server).await?;
    let mut params = initialize_params();
    params["token"] = json!("s3cret");
    let response = client.call("initialize", params).await?;
    assert!(response.get("result").is_some(), "{response}");
    client.run(python("print('in')")).await?.assert_exited_ok();
    Ok(())
}

/// spec/README.md#32-token: the right token works as `Authorization: Bearer`
/// on the WebSocket upgrade, with no token in `initialize`.
#[tokio::test]
async fn token_in_authorization_header_is_accepted() -> anyhow::Result<()> {
    let server = Server::start(ServerOptions::default().token("s3cret")).await?;
    let mut client = Client::connect_with(&server, &[("Authorization", "Bearer s3cret")]).await?;
    client.initialize().await?;
    client.run(python("print('in')")).await?.assert_exited_ok();
    Ok(())
}

/// spec/README.md#21-transport: a connection with no job and no message for
/// the idle timeout is closed with code 1000; one with a job in flight is not.
#[tokio::test]
async fn idle_connection_is_closed_with_1000() -> anyhow::Result<()> {
    let server = Server::start(ServerOptions::default().config("[connection]\nidle_timeout_ms = 1500\n")).await?;
    let mut busy = Client::ready(&server).await?;
    let id = busy.start_run(python("import time\nprint('a', flush=True)\ntime.sleep(4)\nprint('b')")).await?;
    let mut idle = Client::ready(&server).await?;
    let frame = idle.expect_close().await?;
    let code = frame.map(|f| u16::from(f.code));
    assert_eq!(code, Some(1000), "the idle connection was closed with {code:?}");
    let run = busy.collect(&id).await?;
    run.assert_exited_ok();
    assert_eq!(run.stdout(), "a\nb\n");
    Ok(())
}

/// spec/README.md#24-lifecycle: on SIGTERM the server stops accepting
/// connections, lets a job that ends within the grace period finish, cancels
/// one that does not, closes connections with 1001, and exits.
#[tokio::test]
async fn shutdown_finishes_short_jobs_and_cancels_long_ones() -> anyhow::Result<()> {
    let mut server = Server::start(ServerOptions::default().config("shutdown_grace_ms = 4000\n")).await?;
    let mut client = Client::ready(&server).await?;
    let marker = coderun_tests::host::Marker::new();
    let short =
        client.start_run(python("import time\nprint('started', flush=True)\ntime.sleep(1)\nprint('done')")).await?;
    let long = client
        .start_run(coderun_tests::programs::with(
            coderun_tests::programs::sleeper(&marker, 50),
            "limits",
            json!({"wallTimeMs": 60000}),
        ))
        .await?;
    client.wait_for_output(&short, "started").await?;
    client.wait_for_output(&long, "started").await?;
    server.terminate();
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    let attempt = tokio::time::timeout(std::time::Duration::from_secs(5), Client::ready(&server)).await;
    assert!(!matches!(attempt, Ok(Ok(_))), "a new session was served after SIGTERM");
    let run = client.collect(&short).await?;
    run.assert_exited_ok();
    assert!(run.stdout().contains("done"), "{}", run.summary());
    let run = client.collect(&long).await?;
    assert_eq!(run.status(), "cancelled", "{}", run.summary());
    let frame = client.expect_close().await?;
    assert_eq!(frame.map(|f| u16::from(f.code)), Some(1001));
    server.wait_exit(std::time::Duration::from_secs(20)).await?;
    coderun_tests::host::wait_until_no_process_with(marker.text(), std::time::Duration::from_secs(5)).await?;
    Ok(())
}
