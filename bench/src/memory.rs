//! The server's memory: idle, and holding many idle connections.
//!
//! Taken first, on the freshly started server: its resident set (`VmRSS`)
//! after a short settle, then with `n` WebSockets open, each initialized and
//! then left silent, then again after they are closed. The bench's own
//! RLIMIT_NOFILE must allow `n` sockets; `main` raises it.

use std::time::Duration;

use anyhow::Result;
use futures_util::{stream, StreamExt, TryStreamExt};

use crate::{
    client::Session,
    report::{mb, Table, Target},
    server::ServerProcess,
};

/// The target of issue 2: what 1000 idle connections may add.
const ADDED_TARGET_BYTES: u64 = 50_000_000;
/// Connections opened at once while filling up.
const OPENING_AT_ONCE: usize = 32;
/// Time given to the server to settle before each reading.
const SETTLE: Duration = Duration::from_secs(2);

pub struct MemoryResult {
    pub connections: usize,
    pub idle: u64,
    pub loaded: u64,
    pub after_close: u64,
    /// After every other measurement, with no connection open; filled in by `main`.
    pub after_run: Option<u64>,
}

/// Measures the server's RSS idle, with `n` idle connections, and after.
pub async fn measure(server: &ServerProcess, n: usize) -> Result<MemoryResult> {
    tokio::time::sleep(SETTLE).await;
    let idle = server.rss_bytes()?;
    eprintln!("memory: idle RSS {} MB; opening {n} connections", mb(idle));
    let url = server.ws_url();
    let sessions: Vec<Session> = stream::iter(0..n)
        .map(|_| async { Session::open(&url).await.map(|(s, _)| s) })
        .buffer_unordered(OPENING_AT_ONCE)
        .try_collect()
        .await?;
    tokio::time::sleep(SETTLE).await;
    let loaded = server.rss_bytes()?;
    eprintln!("memory: RSS with {n} idle connections {} MB; closing them", mb(loaded));
    stream::iter(sessions).for_each_concurrent(OPENING_AT_ONCE, Session::close).await;
    tokio::time::sleep(SETTLE).await;
    let after_close = server.rss_bytes()?;
    Ok(MemoryResult { connections: n, idle, loaded, after_close, after_run: None })
}

/// The section of the report, and its target.
pub fn section(r: &MemoryResult) -> (String, Vec<Target>) {
    let mut out = format!(
        "## Memory\n\nThe server's resident set (`VmRSS` of `/proc/PID/status`), in MB (10⁶ bytes): \
         idle {} s after startup, with {} WebSocket connections open, initialized and idle, and {} s \
         after closing them.\n\n",
        SETTLE.as_secs(),
        r.connections,
        SETTLE.as_secs()
    );
    let added = r.loaded.saturating_sub(r.idle);
    let mut table = Table::new(&["state", "RSS (MB)", "vs idle (MB)"]);
    let vs_idle = |v: u64| format!("{:+.1}", (v as f64 - r.idle as f64) / 1e6);
    table.row(vec!["idle after startup".to_owned(), mb(r.idle), "–".to_owned()]);
    table.row(vec![format!("{} idle connections", r.connections), mb(r.loaded), vs_idle(r.loaded)]);
    table.row(vec!["after closing them".to_owned(), mb(r.after_close), vs_idle(r.after_close)]);
    if let Some(after_run) = r.after_run {
        table.row(vec!["idle after every other benchmark".to_owned(), mb(after_run), vs_idle(after_run)]);
    }
    out += &table.render();
    out += &format!("\nPer connection: {:.1} KB.\n", added as f64 / r.connections.max(1) as f64 / 1e3);
    let targets = vec![Target {
        what: format!("RSS added by {} idle connections", r.connections),
        target: format!("< {} MB", ADDED_TARGET_BYTES / 1_000_000),
        measured: format!("{} MB", mb(added)),
        met: added < ADDED_TARGET_BYTES,
    }];
    (out, targets)
}
