//! The stdin channel of an interactive job.
//!
//! A connection must never wait on one job's stdin: while it waits it
//! cannot forward that job's output, and a program that writes without
//! reading would deadlock with a client that writes without reading. So
//! sending never blocks; instead the bytes queued and not yet taken by the
//! job are counted, and a chunk that would take them past the cap is
//! refused (the connection logs it). Order is kept: one FIFO per job.

use std::sync::{
    atomic::{AtomicUsize, Ordering},
    Arc,
};

use tokio::sync::mpsc;

use super::StdinChunk;

/// The connection's end.
#[derive(Clone)]
pub struct StdinSender {
    tx: mpsc::UnboundedSender<StdinChunk>,
    queued: Arc<AtomicUsize>,
    cap: usize,
}

/// The job's end.
pub struct StdinReceiver {
    rx: mpsc::UnboundedReceiver<StdinChunk>,
    queued: Arc<AtomicUsize>,
}

/// The chunk would take the queued bytes past the cap, or the job is gone.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum StdinRefused {
    #[error("stdin buffer full")]
    Full,
    #[error("the job no longer reads stdin")]
    Closed,
}

/// A stdin channel that holds at most `cap` bytes not yet taken.
pub fn channel(cap: usize) -> (StdinSender, StdinReceiver) {
    let (tx, rx) = mpsc::unbounded_channel();
    let queued = Arc::new(AtomicUsize::new(0));
    (StdinSender { tx, queued: queued.clone(), cap }, StdinReceiver { rx, queued })
}

impl StdinSender {
    pub fn send(&self, chunk: StdinChunk) -> Result<(), StdinRefused> {
        let n = match &chunk {
            StdinChunk::Data(d) => d.len(),
            StdinChunk::Eof => 0,
        };
        let before = self.queued.fetch_add(n, Ordering::AcqRel);
        if before + n > self.cap {
            self.queued.fetch_sub(n, Ordering::AcqRel);
            return Err(StdinRefused::Full);
        }
        self.tx.send(chunk).map_err(|_| {
            self.queued.fetch_sub(n, Ordering::AcqRel);
            StdinRefused::Closed
        })
    }
}

impl StdinReceiver {
    pub async fn recv(&mut self) -> Option<StdinChunk> {
        let chunk = self.rx.recv().await?;
        if let StdinChunk::Data(d) = &chunk {
            self.queued.fetch_sub(d.len(), Ordering::AcqRel);
        }
        Some(chunk)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn chunks_arrive_in_order_and_free_their_bytes() {
        let (tx, mut rx) = channel(4);
        tx.send(StdinChunk::Data(b"ab".to_vec())).unwrap();
        tx.send(StdinChunk::Data(b"cd".to_vec())).unwrap();
        assert_eq!(tx.send(StdinChunk::Data(b"e".to_vec())), Err(StdinRefused::Full));
        assert_eq!(rx.recv().await, Some(StdinChunk::Data(b"ab".to_vec())));
        tx.send(StdinChunk::Data(b"e".to_vec())).unwrap();
        tx.send(StdinChunk::Eof).unwrap();
        assert_eq!(rx.recv().await, Some(StdinChunk::Data(b"cd".to_vec())));
        assert_eq!(rx.recv().await, Some(StdinChunk::Data(b"e".to_vec())));
        assert_eq!(rx.recv().await, Some(StdinChunk::Eof));
    }
}
