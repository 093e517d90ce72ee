//! Feeding a stage's stdin without ever blocking the runner.
//!
//! A stage may not read its stdin at all, or read it slowly while flooding
//! stdout; a blocking write would then stall the whole runner (and with it
//! output forwarding and the time limits). So bytes wait in a queue and go
//! out with non-blocking writes whenever the pipe has room, from the
//! stage's event loop. Chunks keep the order the host sent them in.
//!
//! In interactive mode the queue is capped at [`MAX_PENDING_BYTES`]: a chunk
//! that would pass the cap while the program is not reading is dropped (and
//! said so on the runner's stderr), rather than growing the runner or
//! stalling the host's frames (a `Kill` may be behind them). Bytes mode
//! queues its one buffer, which the host frame already holds in memory.
//! Once the program closes its end, pending and later bytes are dropped.

use std::collections::VecDeque;
use std::io;

use coderun_runner::wire::StdinMode;
use tokio::net::unix::pipe::Sender;

/// Bytes queued for a program that is not reading, in interactive mode.
pub const MAX_PENDING_BYTES: usize = 8 * 1024 * 1024;

/// The runner's end of a stage's stdin, with the bytes still to write.
pub struct StdinFeed {
    pipe: Option<Sender>,
    pending: VecDeque<Vec<u8>>,
    /// How much of the front chunk is written already.
    offset: usize,
    pending_bytes: usize,
    /// The host has said end of file: close once the queue is empty.
    eof: bool,
    interactive: bool,
}

impl StdinFeed {
    pub fn new(pipe: Sender, mode: StdinMode) -> StdinFeed {
        let mut feed = StdinFeed {
            pipe: Some(pipe),
            pending: VecDeque::new(),
            offset: 0,
            pending_bytes: 0,
            eof: false,
            interactive: matches!(mode, StdinMode::Interactive),
        };
        if let StdinMode::Bytes(bytes) = mode {
            feed.enqueue(bytes);
            feed.eof = true;
            feed.close_if_done();
        }
        feed
    }

    /// Whether there is something to write and somewhere to write it.
    pub fn wants_write(&self) -> bool {
        self.pipe.is_some() && !self.pending.is_empty()
    }

    /// Waits until the pipe can take bytes. Cancel-safe. Pends forever when
    /// there is no pipe; guard it with [`Self::wants_write`].
    pub async fn writable(&self) -> io::Result<()> {
        match &self.pipe {
            Some(p) => p.writable().await,
            None => std::future::pending().await,
        }
    }

    /// Writes as much as the pipe takes now.
    pub fn write_ready(&mut self) {
        while let (Some(pipe), Some(front)) = (&self.pipe, self.pending.front()) {
            match pipe.try_write(&front[self.offset..]) {
                Ok(n) => {
                    self.offset += n;
                    self.pending_bytes -= n;
                    if self.offset == front.len() {
                        self.pending.pop_front();
                        self.offset = 0;
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                // EPIPE: the program closed its stdin. Nothing more will go in.
                Err(_) => self.abandon(),
            }
        }
        self.close_if_done();
    }

    /// A `Stdin` frame. Ignored in bytes mode and after end of file.
    pub fn push(&mut self, bytes: Vec<u8>) {
        if !self.interactive || self.eof || self.pipe.is_none() {
            return;
        }
        if self.pending_bytes > 0 && self.pending_bytes + bytes.len() > MAX_PENDING_BYTES {
            eprintln!("coderun-runner: the stage is not reading its stdin; dropped {} bytes", bytes.len());
            return;
        }
        self.enqueue(bytes);
    }

    /// A `StdinEof` frame: close the pipe once everything queued is written.
    pub fn end(&mut self) {
        if self.interactive {
            self.eof = true;
            self.close_if_done();
        }
    }

    fn enqueue(&mut self, bytes: Vec<u8>) {
        if !bytes.is_empty() {
            self.pending_bytes += bytes.len();
            self.pending.push_back(bytes);
        }
    }

    fn close_if_done(&mut self) {
        if self.eof && self.pending.is_empty() {
            self.pipe = None;
        }
    }

    fn abandon(&mut self) {
        self.pipe = None;
        self.pending.clear();
        self.pending_bytes = 0;
        self.offset = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::AsyncReadExt;
    use tokio::net::unix::pipe;

    #[tokio::test]
    async fn bytes_mode_writes_everything_then_closes() {
        let (tx, mut rx) = pipe::pipe().unwrap();
        let data: Vec<u8> = (0..200_000u32).map(|i| i as u8).collect();
        let mut feed = StdinFeed::new(tx, StdinMode::Bytes(data.clone()));
        let reader = tokio::spawn(async move {
            let mut got = Vec::new();
            rx.read_to_end(&mut got).await.unwrap();
            got
        });
        while feed.wants_write() {
            feed.writable().await.unwrap();
            feed.write_ready();
        }
        assert!(feed.pipe.is_none());
        assert_eq!(reader.await.unwrap(), data);
    }

    #[tokio::test]
    async fn interactive_chunks_keep_their_order_and_eof_waits_for_them() {
        let (tx, mut rx) = pipe::pipe().unwrap();
        let mut feed = StdinFeed::new(tx, StdinMode::Interactive);
        feed.push(b"one ".to_vec());
        feed.push(b"two ".to_vec());
        feed.end();
        feed.push(b"late".to_vec());
        assert!(feed.pipe.is_some(), "closed before the queue was written");
        while feed.wants_write() {
            feed.writable().await.unwrap();
            feed.write_ready();
        }
        let mut got = Vec::new();
        rx.read_to_end(&mut got).await.unwrap();
        assert_eq!(got, b"one two ");
    }

    #[tokio::test]
    async fn a_closed_reader_drops_what_is_pending() {
        let (tx, rx) = pipe::pipe().unwrap();
        drop(rx);
        let mut feed = StdinFeed::new(tx, StdinMode::Interactive);
        feed.push(b"nobody reads this".to_vec());
        while feed.wants_write() {
            let _ = feed.writable().await;
            feed.write_ready();
        }
        assert!(feed.pipe.is_none());
        feed.push(b"nor this".to_vec());
        assert!(!feed.wants_write());
    }
}
