//! A minimal JSON-RPC client of `/rpc`, as a course page speaks it.
//!
//! One [`Session`] is one WebSocket, used for one job at a time: it sends a
//! `run` and reads frames until that request's response, timing each
//! `job/status` and `job/output` on arrival. The clock is read the moment a
//! frame comes off the socket, before it is parsed, so parsing is not
//! counted as latency. Every read has a timeout, so a silent server fails
//! the bench instead of hanging it. Like a browser, the client disables
//! Nagle's algorithm on its socket; it does nothing about the server's.

use std::time::{Duration, Instant, SystemTime};

use anyhow::{anyhow, bail, Context, Result};
use coderun_protocol::{
    ClientInfo, InitializeParams, InitializeResult, JobOutputParams, JobState, JobStatusParams, Message, Request,
    RequestId, RunParams, RunResult, Stream, PROTOCOL_VERSION,
};
use futures_util::{SinkExt, StreamExt};
use tokio::net::TcpStream;
use tokio_tungstenite::{tungstenite, MaybeTlsStream, WebSocketStream};

/// How long any one read or write may take before the bench gives up.
const IO_TIMEOUT: Duration = Duration::from_secs(60);

type Ws = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// One open, initialized WebSocket connection.
pub struct Session {
    ws: Ws,
    next_id: i64,
}

/// What one `run` looked like from the client.
#[derive(Debug, Clone)]
pub struct JobTrace {
    /// From sending `run` to receiving its response.
    pub elapsed: Duration,
    /// Each `job/status` state, with its arrival after the `run` was sent.
    pub states: Vec<(JobState, Duration)>,
    /// Each stdout chunk with the wall clock at its arrival.
    pub stdout: Vec<(SystemTime, String)>,
    pub result: RunResult,
}

impl JobTrace {
    /// When the job first reached `state`, after the `run` was sent.
    pub fn reached(&self, state: JobState) -> Option<Duration> {
        self.states.iter().find(|(s, _)| *s == state).map(|(_, at)| *at)
    }

    /// The run as one line: status arrivals, the server's stage times, the
    /// total, for `--trace`.
    pub fn timeline(&self) -> String {
        let ms = |d: Duration| format!("{:.2}", d.as_secs_f64() * 1000.0);
        let mut line: Vec<String> = self.states.iter().map(|(s, at)| format!("{s:?} at {} ms", ms(*at))).collect();
        line.extend(self.result.stages.iter().map(|s| format!("{:?} stage {} ms", s.name, s.wall_time_ms)));
        line.push(format!(
            "queuedMs {}, wallTimeMs {}, response at {} ms",
            self.result.queued_ms,
            self.result.wall_time_ms,
            ms(self.elapsed)
        ));
        line.join(", ")
    }
}

/// A `run` the server refused with a JSON-RPC error (for example `-32005`
/// busy), as opposed to a failure of the bench or the connection.
#[derive(Debug)]
pub struct Refused {
    pub code: i32,
    pub message: String,
}

impl std::fmt::Display for Refused {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "run answered with error {}: {}", self.code, self.message)
    }
}

impl std::error::Error for Refused {}

impl Session {
    /// Opens `url` (no `Origin` header, as a non-browser client) and
    /// completes `initialize`.
    pub async fn open(url: &str) -> Result<(Session, InitializeResult)> {
        // TCP_NODELAY on the client's side, as browsers set it.
        let connect = tokio_tungstenite::connect_async_with_config(url, None, true);
        let (ws, _) = tokio::time::timeout(IO_TIMEOUT, connect)
            .await
            .context("timed out opening the WebSocket")?
            .with_context(|| format!("opening {url}"))?;
        let mut session = Session { ws, next_id: 1 };
        let params = InitializeParams {
            protocol_version: PROTOCOL_VERSION.to_owned(),
            client: Some(ClientInfo {
                name: "coderun-bench".to_owned(),
                version: Some(env!("CARGO_PKG_VERSION").to_owned()),
            }),
            token: None,
        };
        let id = session.send("initialize", params).await?;
        loop {
            let (text, _, _) = session.recv().await?;
            if let Ok(Message::Response(r)) = Message::parse(&text) {
                if r.id.as_ref() == Some(&id) {
                    let result = r.result.ok_or_else(|| anyhow!("initialize failed: {text}"))?;
                    let result = serde_json::from_value(result).context("reading initialize's result")?;
                    return Ok((session, result));
                }
            }
        }
    }

    /// Runs one job to its response. A `run` answered with an error is a
    /// [`Refused`] error.
    pub async fn run(&mut self, params: &RunParams) -> Result<JobTrace> {
        let sent = Instant::now();
        let id = self.send("run", params).await?;
        let mut states = Vec::new();
        let mut stdout = Vec::new();
        loop {
            let (text, at, wall) = self.recv().await?;
            let message =
                Message::parse(&text).map_err(|e| anyhow!("unreadable frame {text:?}: {}", e.error.message))?;
            match message {
                Message::Response(r) if r.id.as_ref() == Some(&id) => {
                    let elapsed = at - sent;
                    if let Some(e) = r.error {
                        return Err(Refused { code: e.code, message: e.message }.into());
                    }
                    let result = r.result.ok_or_else(|| anyhow!("a response with neither result nor error"))?;
                    let result = serde_json::from_value(result).context("reading run's result")?;
                    return Ok(JobTrace { elapsed, states, stdout, result });
                }
                Message::Notification(n) if n.method == "job/status" => {
                    let p: JobStatusParams = serde_json::from_value(n.params.unwrap_or_default())?;
                    if p.job == id {
                        states.push((p.state, at - sent));
                    }
                }
                Message::Notification(n) if n.method == "job/output" => {
                    let p: JobOutputParams = serde_json::from_value(n.params.unwrap_or_default())?;
                    if p.job == id && p.stream == Stream::Stdout {
                        stdout.push((wall, p.text));
                    }
                }
                _ => {}
            }
        }
    }

    /// Closes the connection politely.
    pub async fn close(mut self) {
        let _ = tokio::time::timeout(Duration::from_secs(5), self.ws.close(None)).await;
    }

    async fn send(&mut self, method: &str, params: impl serde::Serialize) -> Result<RequestId> {
        let id = RequestId::Number(self.next_id);
        self.next_id += 1;
        let text = Message::Request(Request::new(id.clone(), method, params)).to_text();
        tokio::time::timeout(IO_TIMEOUT, self.ws.send(tungstenite::Message::text(text)))
            .await
            .context("timed out sending a frame")?
            .context("sending a frame")?;
        Ok(id)
    }

    /// The next text frame, with the monotonic and wall clocks at its arrival.
    async fn recv(&mut self) -> Result<(String, Instant, SystemTime)> {
        loop {
            let frame =
                tokio::time::timeout(IO_TIMEOUT, self.ws.next()).await.context("the server sent nothing for 60 s")?;
            let (at, wall) = (Instant::now(), SystemTime::now());
            match frame {
                Some(Ok(tungstenite::Message::Text(text))) => return Ok((text.to_string(), at, wall)),
                Some(Ok(tungstenite::Message::Close(frame))) => {
                    bail!("the server closed the connection: {frame:?}")
                }
                Some(Ok(_)) => continue,
                Some(Err(e)) => return Err(e).context("reading a frame"),
                None => bail!("the server closed the connection"),
            }
        }
    }
}
