//! The coderun server: JSON-RPC 2.0 over WebSocket (and one-shot HTTP), a
//! scheduler, and sandboxes that run students' code.
//!
//! Entry points: [`start`] builds the shared state (probing the sandbox
//! backend and the toolchains), [`serve`] runs the HTTP server on a bound
//! listener until the shutdown future resolves, then drains. The binary in
//! `main.rs` is a thin layer of flags over these.
//!
//! Module map: `http` (routes, upgrade checks) → `rpc` (session loop,
//! handlers, wire conversion, error mapping) → `job` (domain types, the
//! driver) → `scheduler` (slots and queue) and `sandbox` (backends, runner
//! link). `catalog` says how each language is built and run.

pub mod catalog;
pub mod config;
pub mod http;
pub mod job;
pub mod rpc;
pub mod sandbox;
pub mod scheduler;
pub mod state;

use std::{future::Future, sync::Arc, time::Duration};

use tokio::net::TcpListener;

use crate::{
    catalog::Catalog,
    config::{Config, SandboxKind},
    job::driver::JobContext,
    sandbox::{
        docker::DockerBackend, native::NativeBackend, Backend, HostLimits, PoolSettings, SandboxError, WarmPool,
    },
    state::AppState,
};

/// Errors starting the server.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("failed to load the language catalog")]
    Catalog(#[from] catalog::CatalogError),
    #[error("failed to set up the sandbox backend")]
    Sandbox(#[from] SandboxError),
}

/// Builds the server's state: the sandbox backend, the languages this host
/// offers, the scheduler. `port` is the port the listener is bound to, for
/// the server's own origin.
pub async fn start(config: Config, port: u16) -> Result<Arc<AppState>, StartError> {
    let defs = Catalog::load(config.catalog.as_deref())?;
    let backend = match config.sandbox {
        SandboxKind::Native => Backend::Native(NativeBackend::new(config.native.clone())?),
        SandboxKind::Docker => {
            let longest =
                Duration::from_millis(config.limits.maximums.wall_time_ms.max(config.limits.build.wall_time_ms));
            let docker = DockerBackend::connect(config.docker.clone(), longest).await.map_err(SandboxError::from)?;
            docker.sweep().await;
            Backend::Docker(docker)
        }
    };
    let stage_user = match &backend {
        Backend::Native(b) => b.stage_user(),
        // The runner and the stages share the container's non-root user.
        Backend::Docker(_) => None,
    };
    let mut features: Vec<String> = ["interactive", "cancel", "httpOneShot"].iter().map(|s| s.to_string()).collect();
    features.extend(backend.features());
    tracing::info!(sandbox = backend.name(), features = ?features, "sandbox backend ready");
    // Sandbox ids, for detection containers, the pool's and the jobs'.
    let ids = Arc::new(std::sync::atomic::AtomicU64::new(1));
    let catalog = match &backend {
        Backend::Native(_) => Catalog::detect(defs).await,
        Backend::Docker(docker) => sandbox::docker::detect_languages(docker, defs, &ids).await,
    };
    let host = |l: &coderun_protocol::Limits| HostLimits { memory_bytes: l.memory_bytes, processes: l.processes };
    let (run_defaults, build) = (host(&config.limits.defaults), host(&config.limits.build));
    let mut warm_keys = Vec::new();
    if config.pool.prefill {
        for language in catalog.iter() {
            let shape = backend.shape(language);
            let limits = job::driver::start_limits(language.compiled(), shape.limits_fixed(), build, run_defaults);
            let key = sandbox::PoolKey { shape, limits };
            if !warm_keys.contains(&key) {
                warm_keys.push(key);
            }
        }
    }
    let settings = PoolSettings {
        per_key: config.pool.per_key,
        max_total: config.pool.max_total,
        idle_expiry: Duration::from_millis(config.pool.idle_expiry_ms),
    };
    let pool = WarmPool::new(backend, settings, ids, warm_keys);
    let jobs = JobContext {
        pool,
        stage_user,
        files_timeout: Duration::from_millis(config.files_timeout_ms),
        runner_grace: Duration::from_millis(config.runner_grace_ms),
        run_defaults,
        diagnostics: job::diagnostics::Caps {
            per_stage: config.diagnostics.max_per_stage,
            line_bytes: config.diagnostics.max_line_bytes,
        },
    };
    let origins = http::allowed_origins(port, &config.allowed_origins);
    Ok(AppState::new(config, catalog, jobs, features, origins))
}

/// Serves until `shutdown` resolves, then shuts down gracefully: no new
/// connections or jobs, running jobs get the grace period, then the rest
/// are cancelled and every sandbox is removed before this returns.
pub async fn serve(
    listener: TcpListener,
    state: Arc<AppState>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let app = http::router(state.clone());
    let signals = state.shutdown.clone();
    let grace = state.config.shutdown_grace();
    let stopped = async move {
        shutdown.await;
        tracing::info!(grace_ms = grace.as_millis() as u64, "shutting down: no new jobs; running jobs may finish");
        signals.stopping.cancel();
        let cancel = signals.cancel_jobs.clone();
        tokio::spawn(async move {
            tokio::time::sleep(grace).await;
            if !cancel.is_cancelled() {
                tracing::info!("grace period over: cancelling the remaining jobs");
                cancel.cancel();
            }
        });
    };
    use axum::serve::ListenerExt;
    // Output notifications are small frames that must leave at once; Nagle's
    // algorithm would hold each behind the client's delayed ACK (~40 ms).
    let listener = listener.tap_io(|tcp| {
        if let Err(e) = tcp.set_nodelay(true) {
            tracing::debug!(error = %e, "could not set TCP_NODELAY");
        }
    });
    axum::serve(listener, app.into_make_service_with_connect_info::<std::net::SocketAddr>())
        .with_graceful_shutdown(stopped)
        .await?;
    state.sessions.close();
    let limit =
        state.config.shutdown_grace() + Duration::from_millis(state.config.runner_grace_ms) + Duration::from_secs(5);
    if tokio::time::timeout(limit, state.sessions.wait()).await.is_err() {
        tracing::warn!("sessions did not end in time; exiting anyway");
    }
    state.shutdown.cancel_jobs.cancel();
    state.jobs.pool.shutdown();
    // Containers are removed in the background; wait for them.
    state.jobs.pool.backend().drain(Duration::from_secs(30)).await;
    Ok(())
}
