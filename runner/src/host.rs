//! The runner's end of the framed protocol: frames in on stdin, frames out
//! on stdout.
//!
//! Task tree: [`Inbox::start`] spawns one reader task, which decodes
//! [`HostMsg`] frames from stdin into a bounded channel, and one signal
//! task, which turns `SIGTERM`/`SIGINT`/`SIGHUP` into the host's departure.
//! Reading through a channel makes receiving cancel-safe, so the stage loop
//! can `select!` on it beside the stage's pipes; decoding a frame straight
//! from stdin inside a `select!` could lose half a frame.
//!
//! Invariant: stdout carries frames only. Everything else the runner has to
//! say goes to stderr.

use coderun_runner::wire::{self, HostMsg, RunnerMsg, WireError};
use tokio::signal::unix::{signal, SignalKind};
use tokio::sync::mpsc;

/// Frames decoded ahead of the runner. Frames may be large (a whole
/// `WriteFiles`), so few.
const INBOX_CAPACITY: usize = 8;

/// Something from the host.
#[derive(Debug)]
pub enum FromHost {
    Msg(HostMsg),
    /// The host is gone: kill everything and exit.
    Gone(Departure),
}

/// How the host went away.
#[derive(Debug)]
pub enum Departure {
    /// Clean end of file on stdin: the host closed it.
    Eof,
    /// Stdin failed or carried something that is not a frame.
    Broken(WireError),
    /// The runner was told to stop by a signal.
    Signal,
}

impl Departure {
    /// The runner's exit status after this departure.
    pub fn exit_code(&self) -> i32 {
        match self {
            Departure::Eof => 0,
            Departure::Broken(_) | Departure::Signal => 1,
        }
    }
}

/// Frames from the host, in the order it sent them.
pub struct Inbox {
    rx: mpsc::Receiver<FromHost>,
}

impl Inbox {
    /// Starts reading stdin and listening for termination signals; call
    /// inside the runtime.
    pub fn start() -> std::io::Result<Inbox> {
        let (tx, rx) = mpsc::channel(INBOX_CAPACITY);
        let mut signals =
            [signal(SignalKind::terminate())?, signal(SignalKind::interrupt())?, signal(SignalKind::hangup())?];
        let frames = tx.clone();
        tokio::spawn(async move {
            let mut stdin = tokio::io::stdin();
            loop {
                let event = match wire::read_frame::<_, HostMsg>(&mut stdin).await {
                    Ok(Some(msg)) => FromHost::Msg(msg),
                    Ok(None) => FromHost::Gone(Departure::Eof),
                    Err(e) => FromHost::Gone(Departure::Broken(e)),
                };
                let last = matches!(event, FromHost::Gone(_));
                if frames.send(event).await.is_err() || last {
                    return;
                }
            }
        });
        tokio::spawn(async move {
            let [term, int, hup] = &mut signals;
            tokio::select! {
                _ = term.recv() => {}
                _ = int.recv() => {}
                _ = hup.recv() => {}
            }
            let _ = tx.send(FromHost::Gone(Departure::Signal)).await;
        });
        Ok(Inbox { rx })
    }

    /// The next thing from the host. Cancel-safe.
    pub async fn recv(&mut self) -> FromHost {
        // Both senders live as long as their tasks, and the reader task
        // sends `Gone` before it ends, so `None` is only a fallback.
        self.rx.recv().await.unwrap_or(FromHost::Gone(Departure::Eof))
    }
}

/// Frames to the host.
pub struct Outbox {
    stdout: tokio::io::Stdout,
}

impl Outbox {
    pub fn new() -> Outbox {
        Outbox { stdout: tokio::io::stdout() }
    }

    /// Sends one frame and flushes it. An error means the host is gone.
    pub async fn send(&mut self, msg: &RunnerMsg) -> Result<(), WireError> {
        wire::write_frame(&mut self.stdout, msg).await
    }
}
