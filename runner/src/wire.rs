//! The framed protocol between the server (host) and the runner (sandbox).
//!
//! A serializable type is an IPC boundary: these types are shared by both
//! ends and change together. Each frame is a 4-byte big-endian length
//! followed by that many bytes of a postcard-encoded [`HostMsg`] (host to
//! runner) or [`RunnerMsg`] (runner to host). postcard keeps byte payloads
//! (files, output) as raw bytes, where JSON would inflate them.
//!
//! The conversation, in order:
//! 1. runner sends [`RunnerMsg::Ready`] once it is listening;
//! 2. host sends [`HostMsg::WriteFiles`]; runner answers `FilesWritten` or `Error`;
//! 3. for each stage, host sends [`HostMsg::Stage`]; runner answers
//!    `StageStarted`, any number of `Output`, then exactly one `StageExit`.
//!    While the stage runs the host may send `Stdin`, `StdinEof` and `Kill`;
//! 4. host closes the runner's stdin; runner exits.
//!
//! Invariant: after `StageExit` no process started by the stage is alive.

use serde::{Deserialize, Serialize};

/// Largest frame either side accepts. Files travel in one frame, so this
/// also bounds a job's total file size on the wire.
pub const MAX_FRAME: usize = 64 * 1024 * 1024;

/// Host to runner.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum HostMsg {
    /// Write these files under the working directory.
    WriteFiles(Vec<File>),
    /// Run one stage; the previous stage, if any, has ended.
    Stage(StageSpec),
    /// Bytes for the running stage's stdin.
    Stdin(#[serde(with = "serde_bytes")] Vec<u8>),
    /// Close the running stage's stdin.
    StdinEof,
    /// Kill every process of the running stage; it ends with `Killed`.
    Kill,
}

/// Runner to host.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum RunnerMsg {
    /// The runner is up and reading frames.
    Ready { version: String },
    /// Every file of `WriteFiles` is on disk.
    FilesWritten,
    /// The stage's process has been spawned.
    StageStarted,
    /// Bytes the stage wrote, in the order it wrote them on that stream.
    Output {
        stream: OutputStream,
        #[serde(with = "serde_bytes")]
        bytes: Vec<u8>,
    },
    /// The stage has ended and every process of it is gone.
    StageExit(StageReport),
    /// A request could not be carried out (bad file path, spawn failure, ...).
    Error { message: String },
}

/// A file to write.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct File {
    /// Relative path, `/`-separated, already validated by the server; the
    /// runner checks it again and refuses anything that escapes.
    pub path: String,
    #[serde(with = "serde_bytes")]
    pub content: Vec<u8>,
    pub executable: bool,
}

/// How to run one stage.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StageSpec {
    /// Program and arguments; the program is looked up in `PATH` of `env`.
    pub argv: Vec<String>,
    /// The complete environment of the stage.
    pub env: Vec<(String, String)>,
    /// Working directory, relative to the runner's working directory.
    pub cwd: String,
    pub stdin: StdinMode,
    pub limits: StageLimits,
    /// Switch to this uid/gid before exec, when the runner may (it runs as
    /// root of its own user namespace on the native backend).
    pub user: Option<(u32, u32)>,
}

/// Where the stage's stdin comes from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum StdinMode {
    /// These bytes, then end of file.
    Bytes(#[serde(with = "serde_bytes")] Vec<u8>),
    /// `Stdin` and `StdinEof` frames from the host.
    Interactive,
}

/// Limits the runner enforces itself. Memory and process counts are the
/// backend's business (cgroups, container limits); `processes` is also set
/// as `RLIMIT_NPROC` where the runner can.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct StageLimits {
    pub wall_time_ms: u64,
    pub cpu_time_ms: u64,
    pub output_bytes: u64,
    pub file_size_bytes: u64,
    pub open_files: u64,
    pub processes: Option<u64>,
}

/// Which stream output came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum OutputStream {
    Stdout,
    Stderr,
}

/// Why the runner ended a stage itself, if it did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum KillReason {
    WallTime,
    CpuTime,
    OutputLimit,
    /// The host sent `Kill`.
    Host,
}

/// How a stage ended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StageReport {
    /// Exit code of the stage's first process, if it exited.
    pub exit_code: Option<i32>,
    /// Signal number that ended it, if one did.
    pub signal: Option<i32>,
    /// Set when the runner killed the stage, with why.
    pub killed: Option<KillReason>,
    /// Whether output past `output_bytes` was dropped.
    pub output_truncated: bool,
    pub wall_time_ms: u64,
    /// CPU time of every process of the stage, reaped ones included.
    pub cpu_time_ms: u64,
    /// Largest resident set of any one process, in bytes.
    pub max_rss_bytes: u64,
    /// Processes of the stage the kernel's OOM killer killed, when the
    /// runner can read its own memory cgroup (in a container); `None`
    /// where only the host can tell.
    pub oom_kills: Option<u64>,
}

/// Errors reading or writing frames.
#[derive(Debug, thiserror::Error)]
pub enum WireError {
    #[error("frame of {0} bytes is over the limit")]
    TooLarge(usize),
    #[error("failed to decode frame")]
    Decode(#[source] postcard::Error),
    #[error("failed to encode frame")]
    Encode(#[source] postcard::Error),
    #[error("i/o error on the runner's stdio")]
    Io(#[from] std::io::Error),
}

/// Encodes one message as a complete frame, length prefix included.
pub fn encode<T: Serialize>(msg: &T) -> Result<Vec<u8>, WireError> {
    let mut buf = vec![0u8; 4];
    let body = postcard::to_extend(msg, Vec::new()).map_err(WireError::Encode)?;
    if body.len() > MAX_FRAME {
        return Err(WireError::TooLarge(body.len()));
    }
    buf[..4].copy_from_slice(&(body.len() as u32).to_be_bytes());
    buf.extend_from_slice(&body);
    Ok(buf)
}

/// Decodes a frame body (without its length prefix).
pub fn decode<'a, T: Deserialize<'a>>(body: &'a [u8]) -> Result<T, WireError> {
    postcard::from_bytes(body).map_err(WireError::Decode)
}

/// Reads one frame from an async reader. `Ok(None)` at a clean end of file.
pub async fn read_frame<R, T>(r: &mut R) -> Result<Option<T>, WireError>
where
    R: tokio::io::AsyncRead + Unpin,
    T: for<'a> Deserialize<'a>,
{
    use tokio::io::AsyncReadExt;
    let mut len = [0u8; 4];
    match r.read_exact(&mut len).await {
        Ok(_) => {}
        Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => return Ok(None),
        Err(e) => return Err(e.into()),
    }
    let len = u32::from_be_bytes(len) as usize;
    if len > MAX_FRAME {
        return Err(WireError::TooLarge(len));
    }
    let mut body = vec![0u8; len];
    r.read_exact(&mut body).await?;
    decode(&body).map(Some)
}

/// Writes one frame to an async writer and flushes it, so that output reaches
/// the other side as soon as it is produced.
pub async fn write_frame<W, T>(w: &mut W, msg: &T) -> Result<(), WireError>
where
    W: tokio::io::AsyncWrite + Unpin,
    T: Serialize,
{
    use tokio::io::AsyncWriteExt;
    let frame = encode(msg)?;
    w.write_all(&frame).await?;
    w.flush().await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn frames_round_trip() {
        let msgs = vec![
            HostMsg::WriteFiles(vec![File {
                path: "a/b.py".into(),
                content: vec![0, 159, 146, 150],
                executable: false,
            }]),
            HostMsg::Stdin(b"hello\n".to_vec()),
            HostMsg::StdinEof,
            HostMsg::Kill,
        ];
        let mut buf = Vec::new();
        for m in &msgs {
            buf.extend(encode(m).unwrap());
        }
        let mut r = &buf[..];
        for m in &msgs {
            let got: HostMsg = read_frame(&mut r).await.unwrap().unwrap();
            assert_eq!(&got, m);
        }
        assert!(read_frame::<_, HostMsg>(&mut r).await.unwrap().is_none());
    }

    #[tokio::test]
    async fn oversized_frame_is_refused() {
        let buf = ((MAX_FRAME + 1) as u32).to_be_bytes();
        let err = read_frame::<_, RunnerMsg>(&mut &buf[..]).await.unwrap_err();
        assert!(matches!(err, WireError::TooLarge(_)));
    }
}
