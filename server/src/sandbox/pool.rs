//! A warm pool of started, idle sandboxes, so that a job does not wait for
//! one to be set up.
//!
//! Setting up a sandbox (namespaces, mounts, joining cgroups, starting the
//! runner) costs 10 to 20 ms on a quiet machine, most of it the kernel
//! moving the first process into its cgroups; a Docker container costs
//! hundreds. The pool keeps up to `per_key` sandboxes started and waiting,
//! per [`SandboxShape`] (a set of language mounts, most languages sharing
//! the empty one; or a container image). A job takes one (a hit) or, when
//! none is waiting, starts its own (a miss); either way the pool refills in
//! the background. A sandbox is used by one job only and removed after it,
//! never reused. Sandboxes idle for longer than `idle_expiry` are replaced.
//!
//! Task tree: one maintenance task, a `select!` over a closed [`PoolEvent`]
//! enum (a refill request, the expiry tick, shutdown). Dropping the pool's
//! sandboxes (on shutdown) kills and removes them like any other.

use std::{
    collections::{HashMap, VecDeque},
    sync::{
        atomic::{AtomicU64, Ordering},
        Arc, Mutex,
    },
    time::{Duration, Instant},
};

use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use super::{Backend, HostLimits, Sandbox, SandboxError, SandboxShape, SandboxSpec};

/// Which waiting sandboxes can serve a job without a change: those of its
/// shape, started with the limits its first stage has by default (a C
/// job's container starts with the build's limits, a Python one's with the
/// run's), so that a hit costs no limit update.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct PoolKey {
    pub shape: SandboxShape,
    pub limits: HostLimits,
}

/// How the pool is sized.
#[derive(Debug, Clone, Copy)]
pub struct PoolSettings {
    /// Idle sandboxes kept per shape; 0 turns the pool off.
    pub per_key: usize,
    /// Idle sandboxes kept in all.
    pub max_total: usize,
    /// An idle sandbox older than this is replaced.
    pub idle_expiry: Duration,
}

/// Where an acquired sandbox came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Acquired {
    /// It was waiting in the pool.
    Warm,
    /// The pool had none; it was started for this job.
    Cold,
}

/// What the pool has done, for logs and `/metrics`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PoolStats {
    pub idle: usize,
    pub hits: u64,
    pub misses: u64,
    pub started: u64,
    pub failed: u64,
}

struct Idle {
    sandbox: Sandbox,
    since: Instant,
}

struct Shared {
    backend: Backend,
    settings: PoolSettings,
    idle: Mutex<HashMap<PoolKey, VecDeque<Idle>>>,
    ids: Arc<AtomicU64>,
    hits: AtomicU64,
    misses: AtomicU64,
    started: AtomicU64,
    failed: AtomicU64,
}

/// The pool in front of a backend.
pub struct WarmPool {
    shared: Arc<Shared>,
    refill: mpsc::Sender<PoolKey>,
    stop: CancellationToken,
}

/// Everything the maintenance task reacts to.
enum PoolEvent {
    Refill(PoolKey),
    Tick,
    Stop,
}

/// Refill requests queued before callers stop asking (they are hints: a
/// dropped one is made good by the next job or tick).
const REFILL_QUEUE: usize = 64;

impl WarmPool {
    /// Starts the pool's task; it fills the pool for `warm_keys` at once,
    /// and for any other shape after its first job.
    /// `ids` hands out sandbox ids, shared with the jobs that start their own.
    pub fn new(backend: Backend, settings: PoolSettings, ids: Arc<AtomicU64>, warm_keys: Vec<PoolKey>) -> WarmPool {
        let shared = Arc::new(Shared {
            backend,
            settings,
            idle: Mutex::new(HashMap::new()),
            ids,
            hits: AtomicU64::new(0),
            misses: AtomicU64::new(0),
            started: AtomicU64::new(0),
            failed: AtomicU64::new(0),
        });
        let (refill, rx) = mpsc::channel(REFILL_QUEUE);
        let stop = CancellationToken::new();
        if settings.per_key > 0 {
            tokio::spawn(maintain(shared.clone(), rx, stop.clone(), warm_keys));
        }
        WarmPool { shared, refill, stop }
    }

    pub fn backend(&self) -> &Backend {
        &self.shared.backend
    }

    /// A new sandbox id.
    pub fn next_id(&self) -> u64 {
        self.shared.ids.fetch_add(1, Ordering::Relaxed)
    }

    /// A sandbox of the key's shape with these first-stage limits: a
    /// waiting one of the key when there is one (its limits changed to
    /// these where they differ and can), else a new one. The second value
    /// says which.
    pub async fn acquire(&self, key: &PoolKey, limits: HostLimits) -> Result<(Sandbox, Acquired), SandboxError> {
        let lendable = limits == key.limits || !key.shape.limits_fixed();
        let waiting = if lendable { self.take(key) } else { None };
        if self.shared.settings.per_key > 0 {
            // A hint only: when the queue is full a refill is already due.
            let _ = self.refill.try_send(key.clone());
        }
        if let Some(mut sandbox) = waiting {
            self.shared.hits.fetch_add(1, Ordering::Relaxed);
            if limits != key.limits {
                sandbox.control.set_limits(limits).await?;
            }
            return Ok((sandbox, Acquired::Warm));
        }
        self.shared.misses.fetch_add(1, Ordering::Relaxed);
        tracing::debug!(key = ?key, "warm pool empty: starting a sandbox for this job");
        let spec = SandboxSpec { job: self.next_id(), shape: key.shape.clone(), limits };
        Ok((self.shared.backend.start(spec).await?, Acquired::Cold))
    }

    /// Takes a live waiting sandbox, dropping dead ones on the way.
    fn take(&self, key: &PoolKey) -> Option<Sandbox> {
        let mut idle = self.shared.idle.lock().unwrap();
        let queue = idle.get_mut(key)?;
        while let Some(mut entry) = queue.pop_front() {
            if entry.sandbox.link.is_idle_and_alive() {
                return Some(entry.sandbox);
            }
            tracing::warn!("a waiting sandbox died; discarding it");
        }
        None
    }

    pub fn stats(&self) -> PoolStats {
        let idle = self.shared.idle.lock().unwrap().values().map(VecDeque::len).sum();
        PoolStats {
            idle,
            hits: self.shared.hits.load(Ordering::Relaxed),
            misses: self.shared.misses.load(Ordering::Relaxed),
            started: self.shared.started.load(Ordering::Relaxed),
            failed: self.shared.failed.load(Ordering::Relaxed),
        }
    }

    /// Stops refilling and removes every waiting sandbox.
    pub fn shutdown(&self) {
        self.stop.cancel();
        let drained: Vec<_> = self.shared.idle.lock().unwrap().drain().collect();
        drop(drained);
    }
}

impl Drop for WarmPool {
    fn drop(&mut self) {
        self.shutdown();
    }
}

async fn maintain(
    shared: Arc<Shared>,
    mut rx: mpsc::Receiver<PoolKey>,
    stop: CancellationToken,
    warm_keys: Vec<PoolKey>,
) {
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    for key in warm_keys {
        fill(&shared, &key, &stop).await;
    }
    loop {
        let event = tokio::select! {
            key = rx.recv() => key.map_or(PoolEvent::Stop, PoolEvent::Refill),
            _ = tick.tick() => PoolEvent::Tick,
            _ = stop.cancelled() => PoolEvent::Stop,
        };
        match event {
            PoolEvent::Refill(key) => fill(&shared, &key, &stop).await,
            PoolEvent::Tick => {
                let expired = take_expired(&shared);
                let keys: Vec<PoolKey> = expired.iter().map(|(k, _)| k.clone()).collect();
                drop(expired);
                for key in keys {
                    fill(&shared, &key, &stop).await;
                }
            }
            PoolEvent::Stop => return,
        }
    }
}

fn take_expired(shared: &Shared) -> Vec<(PoolKey, Sandbox)> {
    let mut out = Vec::new();
    let mut idle = shared.idle.lock().unwrap();
    for (key, queue) in idle.iter_mut() {
        while queue.front().is_some_and(|e| e.since.elapsed() > shared.settings.idle_expiry) {
            let entry = queue.pop_front().expect("front exists");
            out.push((key.clone(), entry.sandbox));
        }
    }
    out
}

/// Starts sandboxes for `key` until it has its share, or the total cap is hit.
async fn fill(shared: &Shared, key: &PoolKey, stop: &CancellationToken) {
    loop {
        let (have, total) = {
            let idle = shared.idle.lock().unwrap();
            (idle.get(key).map_or(0, VecDeque::len), idle.values().map(VecDeque::len).sum::<usize>())
        };
        if have >= shared.settings.per_key || total >= shared.settings.max_total || stop.is_cancelled() {
            return;
        }
        let spec = SandboxSpec {
            job: shared.ids.fetch_add(1, Ordering::Relaxed),
            shape: key.shape.clone(),
            limits: key.limits,
        };
        let started = tokio::select! {
            s = shared.backend.start(spec) => s,
            _ = stop.cancelled() => return,
        };
        match started {
            Ok(sandbox) => {
                shared.started.fetch_add(1, Ordering::Relaxed);
                let mut idle = shared.idle.lock().unwrap();
                idle.entry(key.clone()).or_default().push_back(Idle { sandbox, since: Instant::now() });
            }
            Err(e) => {
                // Jobs still start their own; try again on the next request.
                shared.failed.fetch_add(1, Ordering::Relaxed);
                tracing::warn!(error = %e, "failed to start a sandbox for the warm pool");
                return;
            }
        }
    }
}
