//! A raw JSON-RPC client over a WebSocket, as a course page would speak it.
//!
//! The client sends text frames exactly as given and parses what comes back
//! into `serde_json::Value`, so the suites compare the wire itself rather
//! than what a typed client would make of it. Messages arrive into one inbox
//! in order; [`Client::recv`] takes the next one, while [`Client::take`]
//! takes the first that matches, leaving the rest in order for later. That
//! is how one connection follows several jobs at once.
//!
//! Every read has a timeout ([`crate::WAIT`] unless told otherwise): a
//! server that goes quiet fails the test with a message, never hangs it.

use std::{
    collections::VecDeque,
    time::{Duration, Instant},
};

use anyhow::{anyhow, bail, Context, Result};
use futures_util::{SinkExt, StreamExt};
use serde_json::{json, Value};
use tokio::net::TcpStream;
use tokio_tungstenite::{
    tungstenite::{self, client::IntoClientRequest, http::HeaderValue, protocol::CloseFrame, Message},
    MaybeTlsStream, WebSocketStream,
};

use crate::{Server, WAIT};

type Ws = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// One WebSocket connection to `/rpc`.
pub struct Client {
    ws: Ws,
    inbox: VecDeque<(Value, Instant)>,
    next_id: i64,
    /// How long a read waits for the next message.
    pub timeout: Duration,
}

/// Everything one `run` produced on the wire: its notifications in arrival
/// order, then its response.
#[derive(Debug, Clone)]
pub struct JobRun {
    pub id: Value,
    pub notifications: Vec<Value>,
    pub response: Value,
    /// When each notification arrived, parallel to `notifications`.
    pub arrivals: Vec<Instant>,
    /// When the response arrived.
    pub answered: Instant,
}

impl Client {
    /// Opens `/rpc` without an `Origin` header, as a non-browser client does.
    pub async fn connect(server: &Server) -> Result<Client> {
        Client::connect_with(server, &[]).await
    }

    /// Opens `/rpc` with extra headers on the upgrade request.
    pub async fn connect_with(server: &Server, headers: &[(&str, &str)]) -> Result<Client> {
        Client::try_connect(&server.ws_url(), headers)
            .await
            .map_err(|e| anyhow!("WebSocket upgrade to {} failed: {}", server.ws_url(), describe(&e)))
    }

    /// Opens a WebSocket, handing back the handshake error as it is so a
    /// test can look at a refusal's HTTP status.
    pub async fn try_connect(url: &str, headers: &[(&str, &str)]) -> Result<Client, tungstenite::Error> {
        let mut request = url.into_client_request()?;
        for (name, value) in headers {
            let name: tungstenite::http::HeaderName = name.parse().expect("valid header name");
            request.headers_mut().insert(name, HeaderValue::from_str(value).expect("valid header value"));
        }
        let connect = tokio_tungstenite::connect_async(request);
        let (ws, _) = match tokio::time::timeout(WAIT, connect).await {
            Ok(result) => result?,
            Err(_) => return Err(tungstenite::Error::Io(std::io::ErrorKind::TimedOut.into())),
        };
        Ok(Client { ws, inbox: VecDeque::new(), next_id: 1, timeout: WAIT })
    }

    /// A connection that has completed `initialize`.
    pub async fn ready(server: &Server) -> Result<Client> {
        let mut client = Client::connect(server).await?;
        client.initialize().await?;
        Ok(client)
    }

    /// Sends one text frame exactly as given.
    pub async fn send_text(&mut self, text: &str) -> Result<()> {
        self.send_message(Message::text(text)).await
    }

    /// Sends one JSON value as a text frame.
    pub async fn send_json(&mut self, value: &Value) -> Result<()> {
        self.send_text(&value.to_string()).await
    }

    /// Sends any frame.
    pub async fn send_message(&mut self, message: Message) -> Result<()> {
        tokio::time::timeout(self.timeout, self.ws.send(message))
            .await
            .context("timed out sending a frame")?
            .context("sending a frame")
    }

    /// A fresh numeric request id.
    pub fn fresh_id(&mut self) -> Value {
        let id = self.next_id;
        self.next_id += 1;
        json!(id)
    }

    /// Sends a request with the given id.
    pub async fn send_request(&mut self, id: &Value, method: &str, params: Value) -> Result<()> {
        self.send_json(&json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params})).await
    }

    /// Sends a notification.
    pub async fn notify(&mut self, method: &str, params: Value) -> Result<()> {
        self.send_json(&json!({"jsonrpc": "2.0", "method": method, "params": params})).await
    }

    /// Sends a request and waits for its response (the whole response
    /// object, `result` or `error`), keeping other messages for later.
    pub async fn call(&mut self, method: &str, params: Value) -> Result<Value> {
        let id = self.fresh_id();
        self.send_request(&id, method, params).await?;
        self.response_to(&id).await
    }

    /// Waits for the response with this id.
    pub async fn response_to(&mut self, id: &Value) -> Result<Value> {
        let id = id.clone();
        self.take(|m| is_response(m) && m["id"] == id, &format!("the response to request {id}")).await
    }

    /// `initialize` with protocol version 1; fails unless it succeeds.
    pub async fn initialize(&mut self) -> Result<Value> {
        let response = self.call("initialize", initialize_params()).await?;
        match response.get("result") {
            Some(result) => Ok(result.clone()),
            None => bail!("initialize failed: {response}"),
        }
    }

    /// Starts a `run` under a fresh id and returns the id.
    pub async fn start_run(&mut self, params: Value) -> Result<Value> {
        let id = self.fresh_id();
        self.send_request(&id, "run", params).await?;
        Ok(id)
    }

    /// Runs a job to its end.
    pub async fn run(&mut self, params: Value) -> Result<JobRun> {
        let id = self.start_run(params).await?;
        self.collect(&id).await
    }

    /// Collects every notification of job `id` until its response.
    pub async fn collect(&mut self, id: &Value) -> Result<JobRun> {
        let mut notifications = Vec::new();
        let mut arrivals = Vec::new();
        loop {
            let (message, at) = self.take_timed(|m| belongs_to(m, id), &format!("the end of job {id}")).await?;
            if is_response(&message) {
                return Ok(JobRun { id: id.clone(), notifications, response: message, arrivals, answered: at });
            }
            notifications.push(message);
            arrivals.push(at);
        }
    }

    /// Waits for a `job/status` of job `id` in `state`, returning the job's
    /// notifications up to and including it. Fails if the job answers first.
    pub async fn wait_for_state(&mut self, id: &Value, state: &str) -> Result<Vec<Value>> {
        let mut seen = Vec::new();
        loop {
            let message = self.take(|m| belongs_to(m, id), &format!("job {id} to reach {state:?}")).await?;
            if is_response(&message) {
                bail!("job {id} answered before reaching state {state:?}: {message}\nnotifications: {seen:?}");
            }
            let reached = message["method"] == "job/status" && message["params"]["state"] == state;
            seen.push(message);
            if reached {
                return Ok(seen);
            }
        }
    }

    /// Waits for the first `job/output` of job `id` whose text contains
    /// `needle`, returning the job's notifications up to it.
    pub async fn wait_for_output(&mut self, id: &Value, needle: &str) -> Result<Vec<Value>> {
        let mut seen = Vec::new();
        let mut text = String::new();
        loop {
            let message = self.take(|m| belongs_to(m, id), &format!("job {id} to print {needle:?}")).await?;
            if is_response(&message) {
                bail!("job {id} answered before printing {needle:?}: {message}\nnotifications: {seen:?}");
            }
            if message["method"] == "job/output" {
                text.push_str(message["params"]["text"].as_str().unwrap_or_default());
            }
            seen.push(message);
            if text.contains(needle) {
                return Ok(seen);
            }
        }
    }

    /// The next message, in arrival order.
    pub async fn recv(&mut self) -> Result<Value> {
        self.take(|_| true, "the next message").await
    }

    /// The first message (in arrival order) that matches, leaving the others
    /// in the inbox in their order.
    pub async fn take(&mut self, matches: impl Fn(&Value) -> bool, what: &str) -> Result<Value> {
        Ok(self.take_timed(matches, what).await?.0)
    }

    async fn take_timed(&mut self, matches: impl Fn(&Value) -> bool, what: &str) -> Result<(Value, Instant)> {
        if let Some(i) = self.inbox.iter().position(|(m, _)| matches(m)) {
            return Ok(self.inbox.remove(i).expect("index is in range"));
        }
        let deadline = tokio::time::Instant::now() + self.timeout;
        loop {
            let message = match tokio::time::timeout_at(deadline, self.read_json()).await {
                Ok(message) => message.with_context(|| format!("while waiting for {what}"))?,
                Err(_) => bail!(
                    "no {what} within {:?}; unmatched messages so far: {:?}",
                    self.timeout,
                    self.inbox.iter().map(|(m, _)| m).collect::<Vec<_>>()
                ),
            };
            let at = Instant::now();
            if matches(&message) {
                return Ok((message, at));
            }
            self.inbox.push_back((message, at));
        }
    }

    /// Whether a message arrives within `wait`; `None` when none does.
    /// Used to check that something is *not* answered.
    pub async fn recv_within(&mut self, wait: Duration) -> Result<Option<Value>> {
        if let Some((m, _)) = self.inbox.pop_front() {
            return Ok(Some(m));
        }
        match tokio::time::timeout(wait, self.read_json()).await {
            Ok(message) => message.map(Some),
            Err(_) => Ok(None),
        }
    }

    /// Reads frames until the next text frame and parses it, checking the
    /// envelope every server message must have.
    async fn read_json(&mut self) -> Result<Value> {
        loop {
            let frame = self.ws.next().await.context("the server closed the connection")?;
            match frame.map_err(|e| anyhow!("reading from the server: {}", describe(&e)))? {
                Message::Text(text) => {
                    let value: Value = serde_json::from_str(text.as_str())
                        .with_context(|| format!("the server sent text that is not JSON: {:?}", text.as_str()))?;
                    if value["jsonrpc"] != "2.0" {
                        bail!("the server sent a message without \"jsonrpc\": \"2.0\": {value}");
                    }
                    return Ok(value);
                }
                Message::Binary(b) => bail!("the server sent a binary frame of {} bytes", b.len()),
                Message::Close(frame) => bail!("the server closed the connection: {frame:?}"),
                Message::Ping(_) | Message::Pong(_) | Message::Frame(_) => {}
            }
        }
    }

    /// Reads until the server closes the connection, returning its close
    /// frame (`None` if the TCP connection ended without one). Text frames
    /// on the way are ignored. Errors other than a plain end are returned.
    pub async fn expect_close(&mut self) -> Result<Option<CloseFrame>> {
        let deadline = tokio::time::Instant::now() + self.timeout;
        loop {
            let frame = match tokio::time::timeout_at(deadline, self.ws.next()).await {
                Ok(frame) => frame,
                Err(_) => bail!("the server did not close the connection within {:?}", self.timeout),
            };
            match frame {
                None => return Ok(None),
                Some(Ok(Message::Close(frame))) => return Ok(frame),
                Some(Ok(_)) => {}
                Some(Err(tungstenite::Error::ConnectionClosed)) => return Ok(None),
                Some(Err(e)) => bail!("the connection failed instead of closing: {}", describe(&e)),
            }
        }
    }

    /// Closes the connection from our side and drops it.
    pub async fn close(mut self) {
        let _ = tokio::time::timeout(Duration::from_secs(5), self.ws.close(None)).await;
    }

    /// Checks that nothing more arrives for job `id`: sends a request the
    /// server must answer at once (an unknown method) and fails if any
    /// message for the job comes before that answer.
    pub async fn assert_quiet(&mut self, id: &Value) -> Result<()> {
        let probe = json!(format!("probe-after-{id}"));
        self.send_request(&probe, "coderun/noSuchMethod", json!({})).await?;
        loop {
            let message = self.recv().await?;
            if message["id"] == probe {
                return Ok(());
            }
            if belongs_to(&message, id) {
                bail!("a message for job {id} arrived after its response: {message}");
            }
        }
    }
}

/// The params of a plain `initialize`.
pub fn initialize_params() -> Value {
    json!({"protocolVersion": "1", "client": {"name": "coderun-tests", "version": "0"}})
}

/// Whether a message is a response (it has `result` or `error`).
pub fn is_response(message: &Value) -> bool {
    message.get("result").is_some() || message.get("error").is_some()
}

/// Whether a message is job `id`'s notification or its response.
pub fn belongs_to(message: &Value, id: &Value) -> bool {
    if is_response(message) {
        message["id"] == *id
    } else {
        message.get("method").is_some() && message["params"]["job"] == *id
    }
}

/// A tungstenite error with the HTTP status of a refused upgrade spelled out.
pub fn describe(e: &tungstenite::Error) -> String {
    match e {
        tungstenite::Error::Http(response) => format!("HTTP {}", response.status()),
        other => other.to_string(),
    }
}

/// The HTTP status of a refused upgrade, if that is what the error was.
pub fn refusal_status(e: &tungstenite::Error) -> Option<u16> {
    match e {
        tungstenite::Error::Http(response) => Some(response.status().as_u16()),
        _ => None,
    }
}

impl JobRun {
    /// The `result` member; panics with the whole response if it is an error.
    pub fn result(&self) -> &Value {
        match self.response.get("result") {
            Some(r) => r,
            None => panic!("job {} answered with an error, not a result: {}", self.id, self.response),
        }
    }

    /// The `error` member; panics with the whole response if it is a result.
    pub fn error(&self) -> &Value {
        match self.response.get("error") {
            Some(e) => e,
            None => panic!("job {} answered with a result, not an error: {}", self.id, self.response),
        }
    }

    /// The result's `status`.
    pub fn status(&self) -> &str {
        self.result()["status"].as_str().unwrap_or_else(|| panic!("no status in {}", self.response))
    }

    /// All `job/output` params in order, as `(stream, text)`.
    pub fn outputs(&self) -> Vec<(String, String)> {
        self.notifications
            .iter()
            .filter(|n| n["method"] == "job/output")
            .map(|n| {
                let p = &n["params"];
                (
                    p["stream"].as_str().unwrap_or_else(|| panic!("job/output without a stream: {n}")).to_owned(),
                    p["text"].as_str().unwrap_or_else(|| panic!("job/output without text: {n}")).to_owned(),
                )
            })
            .collect()
    }

    /// Everything the program wrote to one stream, concatenated.
    pub fn stream(&self, stream: &str) -> String {
        self.outputs().into_iter().filter(|(s, _)| s == stream).map(|(_, t)| t).collect()
    }

    pub fn stdout(&self) -> String {
        self.stream("stdout")
    }

    pub fn stderr(&self) -> String {
        self.stream("stderr")
    }

    /// The states of the job's `job/status` notifications, in order.
    pub fn states(&self) -> Vec<String> {
        self.notifications
            .iter()
            .filter(|n| n["method"] == "job/status")
            .map(|n| n["params"]["state"].as_str().unwrap_or_default().to_owned())
            .collect()
    }

    /// Puts notifications taken earlier (by [`Client::wait_for_state`] or
    /// [`Client::wait_for_output`]) back in front, so that the run is whole.
    pub fn prepend(&mut self, early: Vec<Value>) {
        let arrivals = vec![self.arrivals.first().copied().unwrap_or(self.answered); early.len()];
        self.notifications.splice(0..0, early);
        self.arrivals.splice(0..0, arrivals);
    }

    /// A one-paragraph summary for assertion messages.
    pub fn summary(&self) -> String {
        let stdout = self.stdout();
        let stderr = self.stderr();
        format!(
            "response: {}\nstates: {:?}\nstdout ({} bytes): {:?}\nstderr ({} bytes): {:?}",
            self.response,
            self.states(),
            stdout.len(),
            clip(&stdout),
            stderr.len(),
            clip(&stderr)
        )
    }

    /// Asserts the job ran to a normal end with exit code 0.
    pub fn assert_exited_ok(&self) {
        assert_eq!(self.status(), "exited", "expected a clean exit\n{}", self.summary());
        assert_eq!(self.result()["exitCode"], json!(0), "expected exit code 0\n{}", self.summary());
    }
}

/// The first and last 1000 characters of a long text.
fn clip(text: &str) -> String {
    let chars: Vec<char> = text.chars().collect();
    if chars.len() <= 2000 {
        return text.to_owned();
    }
    let head: String = chars[..1000].iter().collect();
    let tail: String = chars[chars.len() - 1000..].iter().collect();
    format!("{head}[... {} characters ...]{tail}", chars.len() - 2000)
}
