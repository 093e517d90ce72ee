//! One WebSocket session: the JSON-RPC loop of a connection.
//!
//! One task per connection, one `select!` over a closed [`Event`] enum:
//! a frame from the client, a message from one of the connection's jobs,
//! the idle timer, or the server's shutdown phases. Notifications from the
//! client (`job/stdin`, `$/cancelRequest`) are handled inline, in order;
//! `run` requests are admitted inline and then run in their own tasks, so
//! that requests proceed concurrently. All writes to the socket happen here,
//! so the order in which jobs report is the order the client sees.
//!
//! Task tree: session → one task per job (see [`super::jobs`]). Dropping
//! the session drops its jobs, which kills their sandboxes.

use std::{collections::HashMap, sync::Arc, time::Duration};

use axum::extract::ws::{CloseFrame, Message as WsMessage, WebSocket};
use coderun_protocol::{
    self as p,
    methods::{Cancel, Initialize, JobStdin, Notification as _, Request as _, Run},
    Message, RequestId, Response,
};
use tokio::{sync::mpsc, time::Instant};
use tokio_util::sync::CancellationToken;

use super::{
    convert,
    errors::{to_response_error, RpcError},
    handlers,
    jobs::{self, JobMsg, JobMsgKind, RunningJob},
};
use crate::{job::StdinChunk, state::AppState};

/// WebSocket close codes the server uses.
mod close {
    pub const NORMAL: u16 = 1000;
    pub const GOING_AWAY: u16 = 1001;
    pub const TOO_BIG: u16 = 1009;
}

/// Everything the session reacts to.
enum Event {
    Frame(Option<Result<WsMessage, axum::Error>>),
    Job(JobMsg),
    Idle,
    Stopping,
}

struct Session {
    state: Arc<AppState>,
    socket: WebSocket,
    initialized: bool,
    /// The `Authorization` header of the upgrade carried the right token.
    header_authorized: bool,
    jobs: HashMap<RequestId, RunningJob>,
    out_tx: mpsc::Sender<JobMsg>,
    stopping: bool,
}

/// Runs a session until the client leaves, the idle timer fires, or the
/// server shuts down.
pub async fn run(socket: WebSocket, state: Arc<AppState>, header_authorized: bool) {
    let (out_tx, mut out_rx) = mpsc::channel(state.config.connection.outbound_capacity);
    let stopping_token: CancellationToken = state.shutdown.stopping.clone();
    let idle = state.config.idle_timeout();
    let mut s =
        Session { state, socket, initialized: false, header_authorized, jobs: HashMap::new(), out_tx, stopping: false };
    let mut idle_deadline = Instant::now() + idle;
    loop {
        let event = tokio::select! {
            frame = s.socket.recv() => Event::Frame(frame),
            Some(msg) = out_rx.recv() => Event::Job(msg),
            _ = tokio::time::sleep_until(idle_deadline), if s.jobs.is_empty() => Event::Idle,
            _ = stopping_token.cancelled(), if !s.stopping => Event::Stopping,
        };
        let keep_going = match event {
            Event::Frame(Some(Ok(frame))) => {
                idle_deadline = Instant::now() + idle;
                s.on_frame(frame).await
            }
            Event::Frame(Some(Err(e))) => {
                s.on_socket_error(e).await;
                false
            }
            Event::Frame(None) => false,
            Event::Job(msg) => {
                idle_deadline = Instant::now() + idle;
                s.on_job(msg).await
            }
            Event::Idle => {
                s.close(close::NORMAL, "idle timeout").await;
                false
            }
            // The check below closes the session once its last job is done.
            Event::Stopping => {
                s.stopping = true;
                true
            }
        };
        if !keep_going {
            break;
        }
        if s.stopping && s.jobs.is_empty() {
            s.close(close::GOING_AWAY, "server shutting down").await;
            break;
        }
    }
    if !s.jobs.is_empty() {
        tracing::info!(jobs = s.jobs.len(), "connection closed; cancelling its jobs");
    }
    // Dropping the session drops its jobs: their sandboxes are killed.
}

impl Session {
    /// Handles one frame; false ends the session.
    async fn on_frame(&mut self, frame: WsMessage) -> bool {
        match frame {
            WsMessage::Text(text) => match Message::parse(text.as_str()) {
                Ok(Message::Request(req)) => self.on_request(req).await,
                Ok(Message::Notification(n)) => {
                    self.on_notification(n);
                    true
                }
                // Clients have no requests of ours to answer.
                Ok(Message::Response(_)) => true,
                Err(failure) => self.send(failure.into_response().into()).await,
            },
            WsMessage::Binary(_) => {
                let error = p::ResponseError::new(
                    p::error_codes::PARSE_ERROR,
                    "parse error: binary frames are not supported; send JSON text frames",
                );
                self.send(Response::err(None, error).into()).await
            }
            WsMessage::Close(_) => false,
            WsMessage::Ping(_) | WsMessage::Pong(_) => true,
        }
    }

    async fn on_request(&mut self, req: p::Request) -> bool {
        let id = req.id.clone();
        let result = self.dispatch(req);
        match result {
            Ok(Some(response)) => self.send(response.into()).await,
            Ok(None) => true,
            Err(e) => self.send(Response::err(Some(id), to_response_error(&e)).into()).await,
        }
    }

    /// Answers at once (`Some`), or starts a job that answers later (`None`).
    fn dispatch(&mut self, req: p::Request) -> Result<Option<Response>, RpcError> {
        if self.jobs.contains_key(&req.id) {
            return Err(RpcError::InvalidRequest(format!("id {} is already in flight", req.id)));
        }
        match req.method.as_str() {
            Initialize::METHOD => {
                if self.initialized {
                    return Err(RpcError::InvalidRequest("the connection is already initialized".into()));
                }
                let params = handlers::params(req.params)?;
                let result = handlers::initialize(&self.state, params, self.header_authorized)?;
                self.initialized = true;
                Ok(Some(Response::ok(req.id, result)))
            }
            Run::METHOD => {
                if !self.initialized {
                    return Err(RpcError::NotInitialized);
                }
                let limit = self.state.config.connection.jobs_per_connection;
                if self.jobs.len() >= limit {
                    return Err(RpcError::TooManyJobs(limit));
                }
                let (spec, ticket) = handlers::admit_run(&self.state, req.params, handlers::Binding::WebSocket)?;
                let job = jobs::spawn(self.state.clone(), req.id.clone(), spec, ticket, self.out_tx.clone());
                self.jobs.insert(req.id, job);
                Ok(None)
            }
            _ if !self.initialized => Err(RpcError::NotInitialized),
            other => Err(RpcError::MethodNotFound(other.to_owned())),
        }
    }

    /// Notifications are handled in order and never answered.
    fn on_notification(&mut self, n: p::Notification) {
        match n.method.as_str() {
            JobStdin::METHOD => {
                let Ok(params) = handlers::params::<p::JobStdinParams>(n.params) else {
                    tracing::warn!("ignored job/stdin with invalid params");
                    return;
                };
                let Some(stdin) = self.jobs.get(&params.job).and_then(|j| j.stdin.as_ref()) else {
                    tracing::debug!(job = %params.job, "ignored job/stdin for a job that is not interactive or not running");
                    return;
                };
                let mut chunks = vec![];
                if !params.text.is_empty() {
                    chunks.push(StdinChunk::Data(params.text.into_bytes()));
                }
                if params.eof == Some(true) {
                    chunks.push(StdinChunk::Eof);
                }
                for chunk in chunks {
                    if let Err(e) = stdin.send(chunk) {
                        tracing::warn!(job = %params.job, error = %e, "dropped job/stdin text");
                    }
                }
            }
            Cancel::METHOD => match handlers::params::<p::CancelParams>(n.params) {
                Ok(params) => {
                    if let Some(job) = self.jobs.get(&params.id) {
                        tracing::info!(request = %params.id, "cancel requested");
                        job.cancel.cancel();
                    }
                }
                Err(_) => tracing::warn!("ignored $/cancelRequest with invalid params"),
            },
            other => tracing::debug!(method = other, "ignored notification"),
        }
    }

    async fn on_job(&mut self, msg: JobMsg) -> bool {
        match msg.kind {
            JobMsgKind::Event(event) => self.send(convert::notification(&msg.id, event).into()).await,
            JobMsgKind::Done(result) => {
                self.jobs.remove(&msg.id);
                let response = match result {
                    Ok(outcome) => Response::ok(msg.id, convert::run_result(outcome)),
                    Err(e) => Response::err(Some(msg.id), to_response_error(&e)),
                };
                self.send(response.into()).await
            }
        }
    }

    async fn on_socket_error(&mut self, e: axum::Error) {
        let inner = e.into_inner();
        let too_big = inner
            .downcast_ref::<tokio_tungstenite::tungstenite::Error>()
            .is_some_and(|e| matches!(e, tokio_tungstenite::tungstenite::Error::Capacity(_)));
        if too_big {
            tracing::warn!("message over the size limit; closing the connection");
            let limit = self.state.config.connection.max_message_bytes;
            self.close(close::TOO_BIG, &format!("message larger than {limit} bytes")).await;
        } else {
            tracing::debug!(error = %inner, "connection error");
        }
    }

    /// Sends one message; false (end the session) when the client does not
    /// take it within the send timeout.
    async fn send(&mut self, msg: Message) -> bool {
        let frame = WsMessage::Text(msg.to_text().into());
        match tokio::time::timeout(self.state.config.send_timeout(), self.socket.send(frame)).await {
            Ok(Ok(())) => true,
            Ok(Err(e)) => {
                tracing::debug!(error = %e, "send failed");
                false
            }
            Err(_) => {
                tracing::warn!("client did not read for the send timeout; dropping it");
                false
            }
        }
    }

    async fn close(&mut self, code: u16, reason: &str) {
        let frame = WsMessage::Close(Some(CloseFrame { code, reason: reason.to_owned().into() }));
        let _ = tokio::time::timeout(Duration::from_secs(1), self.socket.send(frame)).await;
    }
}
