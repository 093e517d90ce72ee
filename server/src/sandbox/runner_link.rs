//! The host's end of the framed stdio protocol with a sandbox's runner.
//!
//! A link owns two tasks: a reader that decodes [`RunnerMsg`] frames from
//! the runner's stdout into a bounded channel, and a writer that encodes
//! [`HostMsg`] frames from a bounded channel onto the runner's stdin. The
//! job driver thus never blocks on a pipe while it should be reading the
//! other one. Both tasks end when the link is dropped or the pipes close.

use coderun_runner::wire::{self, HostMsg, RunnerMsg, WireError};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

/// Frames in flight in each direction before the sender waits.
pub const LINK_CHANNEL_CAPACITY: usize = 64;

/// The host's end of a runner's stdio.
pub struct RunnerLink {
    to_runner: mpsc::Sender<HostMsg>,
    from_runner: mpsc::Receiver<Result<RunnerMsg, WireError>>,
    tasks: [JoinHandle<()>; 2],
}

impl RunnerLink {
    /// Starts the reader and writer tasks over the runner's stdout and stdin.
    pub fn new<R, W>(mut stdout: R, mut stdin: W) -> RunnerLink
    where
        R: AsyncRead + Unpin + Send + 'static,
        W: AsyncWrite + Unpin + Send + 'static,
    {
        let (to_runner, mut outbox) = mpsc::channel::<HostMsg>(LINK_CHANNEL_CAPACITY);
        let (inbox, from_runner) = mpsc::channel(LINK_CHANNEL_CAPACITY);
        let reader = tokio::spawn(async move {
            loop {
                match wire::read_frame::<_, RunnerMsg>(&mut stdout).await {
                    Ok(Some(msg)) => {
                        if inbox.send(Ok(msg)).await.is_err() {
                            return;
                        }
                    }
                    Ok(None) => return,
                    Err(e) => {
                        let _ = inbox.send(Err(e)).await;
                        return;
                    }
                }
            }
        });
        let writer = tokio::spawn(async move {
            while let Some(msg) = outbox.recv().await {
                if wire::write_frame(&mut stdin, &msg).await.is_err() {
                    return;
                }
            }
            // Dropping stdin here closes the runner's stdin: it exits.
        });
        RunnerLink { to_runner, from_runner, tasks: [reader, writer] }
    }

    /// Queues a frame for the runner. Fails only when the runner is gone.
    pub async fn send(&self, msg: HostMsg) -> Result<(), WireError> {
        self.to_runner.send(msg).await.map_err(|_| WireError::Io(std::io::Error::from(std::io::ErrorKind::BrokenPipe)))
    }

    /// Whether the runner is still there and has said nothing since it was
    /// last read: true for a healthy sandbox waiting in a pool.
    pub fn is_idle_and_alive(&mut self) -> bool {
        matches!(self.from_runner.try_recv(), Err(mpsc::error::TryRecvError::Empty)) && !self.to_runner.is_closed()
    }

    /// The next frame from the runner; `None` once its stdout has closed.
    pub async fn recv(&mut self) -> Option<Result<RunnerMsg, WireError>> {
        self.from_runner.recv().await
    }
}

impl Drop for RunnerLink {
    fn drop(&mut self) {
        for t in &self.tasks {
            t.abort();
        }
    }
}
