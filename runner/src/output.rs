//! Reading a stage's stdout and stderr, and the output limit.
//!
//! Latency matters more than throughput here (a student watches a program
//! print), so there is no batching and no line buffering: each read, of up
//! to [`CHUNK`] bytes, becomes one `Output` frame as soon as it returns.
//! Memory stays bounded whatever the program writes: one buffer per stream,
//! and nothing is read ahead of the frame being sent.
//!
//! [`OutputBudget`] counts stdout and stderr together. It lets through up
//! to exactly `output_bytes`; the first byte past that marks the stage
//! truncated, and the stage loop then kills it.

use std::io;

use coderun_runner::wire::OutputStream;
use tokio::io::AsyncReadExt;
use tokio::net::unix::pipe::Receiver;

/// Largest single read, and so the largest `Output` frame.
pub const CHUNK: usize = 32 * 1024;

/// The runner's ends of a stage's stdout and stderr.
pub struct OutputPipes {
    stdout: Option<Receiver>,
    stderr: Option<Receiver>,
    stdout_buf: Box<[u8]>,
    stderr_buf: Box<[u8]>,
}

impl OutputPipes {
    pub fn new(stdout: Receiver, stderr: Receiver) -> OutputPipes {
        OutputPipes {
            stdout: Some(stdout),
            stderr: Some(stderr),
            stdout_buf: vec![0; CHUNK].into_boxed_slice(),
            stderr_buf: vec![0; CHUNK].into_boxed_slice(),
        }
    }

    /// Whether either stream can still deliver bytes.
    pub fn is_open(&self) -> bool {
        self.stdout.is_some() || self.stderr.is_some()
    }

    /// Waits for the next read on either stream. `Ok(0)` is end of file.
    /// Cancel-safe. Pends forever once both are closed; guard it with
    /// [`Self::is_open`].
    pub async fn read(&mut self) -> (OutputStream, io::Result<usize>) {
        let OutputPipes { stdout, stderr, stdout_buf, stderr_buf } = self;
        tokio::select! {
            r = read_open(stdout, stdout_buf) => (OutputStream::Stdout, r),
            r = read_open(stderr, stderr_buf) => (OutputStream::Stderr, r),
        }
    }

    /// The bytes the last read of `stream` returned.
    pub fn bytes(&self, stream: OutputStream, n: usize) -> &[u8] {
        match stream {
            OutputStream::Stdout => &self.stdout_buf[..n],
            OutputStream::Stderr => &self.stderr_buf[..n],
        }
    }

    /// Stops reading a stream (end of file, or a read error).
    pub fn close(&mut self, stream: OutputStream) {
        match stream {
            OutputStream::Stdout => self.stdout = None,
            OutputStream::Stderr => self.stderr = None,
        }
    }
}

async fn read_open(pipe: &mut Option<Receiver>, buf: &mut [u8]) -> io::Result<usize> {
    match pipe {
        Some(p) => p.read(buf).await,
        None => std::future::pending().await,
    }
}

/// The output limit of one stage, over stdout and stderr together.
#[derive(Debug, Clone, Copy)]
pub struct OutputBudget {
    left: u64,
    truncated: bool,
}

impl OutputBudget {
    pub fn new(limit: u64) -> OutputBudget {
        OutputBudget { left: limit, truncated: false }
    }

    /// How many of `n` newly read bytes may be sent. Any excess marks the
    /// budget truncated.
    pub fn admit(&mut self, n: usize) -> usize {
        let allowed = (n as u64).min(self.left);
        self.left -= allowed;
        if allowed < n as u64 {
            self.truncated = true;
        }
        allowed as usize
    }

    /// Whether any byte has been dropped.
    pub fn truncated(&self) -> bool {
        self.truncated
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::AsyncWriteExt;
    use tokio::net::unix::pipe;

    #[test]
    fn budget_lets_through_exactly_the_limit() {
        let mut b = OutputBudget::new(10);
        assert_eq!(b.admit(4), 4);
        assert_eq!(b.admit(6), 6);
        assert!(!b.truncated(), "reaching the limit is not passing it");
        assert_eq!(b.admit(1), 0);
        assert!(b.truncated());
    }

    #[test]
    fn budget_splits_the_chunk_that_crosses_the_limit() {
        let mut b = OutputBudget::new(5);
        assert_eq!(b.admit(3), 3);
        assert_eq!(b.admit(3), 2);
        assert!(b.truncated());
        assert_eq!(b.admit(0), 0);
    }

    #[tokio::test]
    async fn both_streams_are_read_until_end_of_file() {
        let (mut out_tx, out_rx) = pipe::pipe().unwrap();
        let (mut err_tx, err_rx) = pipe::pipe().unwrap();
        let mut pipes = OutputPipes::new(out_rx, err_rx);
        out_tx.write_all(b"out").await.unwrap();
        err_tx.write_all(b"err").await.unwrap();
        drop((out_tx, err_tx));
        let (mut out, mut err) = (Vec::new(), Vec::new());
        while pipes.is_open() {
            let (stream, r) = pipes.read().await;
            match r.unwrap() {
                0 => pipes.close(stream),
                n if stream == OutputStream::Stdout => out.extend_from_slice(pipes.bytes(stream, n)),
                n => err.extend_from_slice(pipes.bytes(stream, n)),
            }
        }
        assert_eq!((&out[..], &err[..]), (&b"out"[..], &b"err"[..]));
    }
}
