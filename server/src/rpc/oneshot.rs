//! `POST /rpc`: one `run` request over plain HTTP, for course platforms'
//! back ends.
//!
//! The body is one JSON-RPC request; no `initialize` is needed and the
//! token, when the server requires one, comes in `Authorization: Bearer`.
//! The answer is the JSON-RPC response, whose result also carries the
//! output and diagnostics the job produced, in order. Protocol errors are
//! JSON-RPC errors with HTTP 200; only HTTP-level faults (wrong content
//! type, body too large, no connection slot) use HTTP status codes. A
//! client that disconnects drops this handler, and with it the job.

use std::sync::Arc;

use axum::{
    body::{to_bytes, Body},
    extract::State,
    http::{header, HeaderMap, StatusCode},
    response::{IntoResponse, Response as HttpResponse},
};
use coderun_protocol::{
    self as p,
    methods::{Initialize, Request as _, Run},
    Message, Response,
};
use tokio::sync::mpsc;

use super::{
    convert,
    errors::{to_response_error, RpcError},
    handlers,
    jobs::{self, JobMsgKind},
};
use crate::{http::bearer_token, job::JobEvent, state::AppState};

/// Handles `POST /rpc`.
pub async fn handle(State(state): State<Arc<AppState>>, headers: HeaderMap, body: Body) -> HttpResponse {
    let json = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(';').next().is_some_and(|t| t.trim().eq_ignore_ascii_case("application/json")));
    if !json {
        return (StatusCode::UNSUPPORTED_MEDIA_TYPE, "POST /rpc takes application/json\n").into_response();
    }
    let Ok(_permit) = state.connections.clone().try_acquire_owned() else {
        return (StatusCode::SERVICE_UNAVAILABLE, "too many connections\n").into_response();
    };
    let limit = state.config.connection.max_message_bytes;
    let Ok(bytes) = to_bytes(body, limit).await else {
        return (StatusCode::PAYLOAD_TOO_LARGE, format!("the body is larger than {limit} bytes\n")).into_response();
    };
    let text = String::from_utf8_lossy(&bytes);
    let response = match Message::parse(&text) {
        Err(failure) => failure.into_response(),
        Ok(Message::Request(req)) => {
            let id = req.id.clone();
            match run(&state, &headers, req).await {
                Ok(result) => Response::ok(id, result),
                Err(e) => Response::err(Some(id), to_response_error(&e)),
            }
        }
        Ok(_) => Response::err(
            None,
            to_response_error(&RpcError::InvalidRequest("POST /rpc takes one request with an id".into())),
        ),
    };
    let body = Message::Response(response).to_text();
    ([(header::CONTENT_TYPE, "application/json")], body).into_response()
}

async fn run(state: &Arc<AppState>, headers: &HeaderMap, req: p::Request) -> Result<p::RunResult, RpcError> {
    match req.method.as_str() {
        Run::METHOD => {}
        Initialize::METHOD => {
            return Err(RpcError::InvalidRequest(
                "POST /rpc takes a single run request; initialize is for WebSocket sessions".into(),
            ))
        }
        other => return Err(RpcError::MethodNotFound(other.to_owned())),
    }
    if let Some(expected) = &state.config.token {
        if !bearer_token(headers).is_some_and(|t| handlers::token_matches(expected, t)) {
            return Err(RpcError::Unauthorized);
        }
    }
    let (spec, ticket) = handlers::admit_run(state, req.params, handlers::Binding::Http)?;
    let (out_tx, mut out_rx) = mpsc::channel(state.config.connection.outbound_capacity);
    let _job = jobs::spawn(state.clone(), req.id, spec, ticket, out_tx);
    let mut output: Vec<p::OutputChunk> = Vec::new();
    let mut diagnostics = Vec::new();
    while let Some(msg) = out_rx.recv().await {
        match msg.kind {
            JobMsgKind::Event(JobEvent::Output(stream, text)) => {
                let stream = convert::stream_wire(stream);
                // Consecutive chunks of one stream read as one.
                match output.last_mut() {
                    Some(last) if last.stream == stream => last.text.push_str(&text),
                    _ => output.push(p::OutputChunk { stream, text }),
                }
            }
            JobMsgKind::Event(JobEvent::Diagnostics(ds)) => diagnostics.extend(ds.into_iter().map(convert::diagnostic)),
            JobMsgKind::Event(JobEvent::State(_)) => {}
            JobMsgKind::Done(result) => {
                let mut result = convert::run_result(result?);
                result.output = Some(output);
                result.diagnostics = Some(diagnostics);
                return Ok(result);
            }
        }
    }
    Err(RpcError::InvalidRequest("the job ended without a result".into()))
}
