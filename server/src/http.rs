//! The HTTP surface: routes, the WebSocket upgrade with its Origin and token
//! checks, health, and the static files (`assets`: the demo course at `/`
//! and the JavaScript client under `/client/`).
//!
//! Browsers let any web page open a WebSocket to `localhost`, so an upgrade
//! whose `Origin` is neither the server's own nor an allowed one is refused
//! with 403. A client that sends no `Origin` (not a browser) is not affected.

use std::{net::SocketAddr, sync::Arc};

use axum::{
    extract::{ws::WebSocketUpgrade, ConnectInfo, State},
    http::{header, HeaderMap, StatusCode},
    response::{IntoResponse, Response},
    routing::get,
    Router,
};
use tracing::Instrument;

mod assets;

use crate::{
    rpc::{handlers::token_matches, oneshot, session},
    state::AppState,
};

/// The server's routes.
pub fn router(state: Arc<AppState>) -> Router {
    Router::new()
        .route("/rpc", get(upgrade).post(oneshot::handle))
        .route("/healthz", get(|| async { "ok\n" }))
        .route("/metrics", get(metrics))
        .merge(assets::router())
        .with_state(state)
}

/// The token of an `Authorization: Bearer` header.
pub fn bearer_token(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
}

/// The origins a browser page may connect from: the server's own on every
/// loopback name, plus the configured ones.
pub fn allowed_origins(port: u16, configured: &[String]) -> Vec<String> {
    let mut v: Vec<String> = ["127.0.0.1", "localhost", "[::1]"].iter().map(|h| format!("http://{h}:{port}")).collect();
    v.extend(configured.iter().map(|o| o.trim_end_matches('/').to_owned()));
    v
}

fn origin_allowed(state: &AppState, headers: &HeaderMap) -> bool {
    match headers.get(header::ORIGIN) {
        None => true,
        Some(origin) => {
            let origin = origin.to_str().unwrap_or("");
            state.allowed_origins.iter().any(|o| o.eq_ignore_ascii_case(origin))
        }
    }
}

async fn upgrade(
    State(state): State<Arc<AppState>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    ws: WebSocketUpgrade,
) -> Response {
    if !origin_allowed(&state, &headers) {
        tracing::warn!(origin = ?headers.get(header::ORIGIN), "refused a WebSocket from a foreign origin");
        return (StatusCode::FORBIDDEN, "this origin may not use this server\n").into_response();
    }
    if state.shutdown.stopping.is_cancelled() {
        return (StatusCode::SERVICE_UNAVAILABLE, "shutting down\n").into_response();
    }
    let Ok(permit) = state.connections.clone().try_acquire_owned() else {
        return (StatusCode::SERVICE_UNAVAILABLE, "too many connections\n").into_response();
    };
    let header_authorized = match (&state.config.token, bearer_token(&headers)) {
        (Some(expected), Some(given)) => token_matches(expected, given),
        _ => false,
    };
    let max = state.config.connection.max_message_bytes;
    let tracker = state.sessions.clone();
    let span = tracing::info_span!("conn", %peer);
    let buffer = state.config.connection.socket_buffer_bytes;
    ws.max_message_size(max).max_frame_size(max).read_buffer_size(buffer).write_buffer_size(buffer).on_upgrade(
        move |socket| {
            tracker.track_future(
                async move {
                    let _permit = permit;
                    tracing::debug!("session opened");
                    session::run(socket, state, header_authorized).await;
                    tracing::debug!("session closed");
                }
                .instrument(span),
            )
        },
    )
}

/// Load and pool figures as JSON, for operators and tests.
async fn metrics(State(state): State<Arc<AppState>>) -> axum::Json<serde_json::Value> {
    let (running, queued) = state.scheduler.load();
    let pool = state.jobs.pool.stats();
    let open = state.config.connection.max_connections - state.connections.available_permits();
    axum::Json(serde_json::json!({
        "connections": open,
        "jobs": { "running": running, "queued": queued },
        "pool": { "idle": pool.idle, "hits": pool.hits, "misses": pool.misses, "started": pool.started, "failed": pool.failed },
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bearer_tokens_are_read_case_insensitively() {
        let mut h = HeaderMap::new();
        h.insert(header::AUTHORIZATION, "bearer s3cret".parse().unwrap());
        assert_eq!(bearer_token(&h), Some("s3cret"));
        h.insert(header::AUTHORIZATION, "Basic s3cret".parse().unwrap());
        assert_eq!(bearer_token(&h), None);
    }

    #[test]
    fn own_origins_cover_loopback_names() {
        let o = allowed_origins(8080, &["https://course.example/".into()]);
        assert!(o.contains(&"http://localhost:8080".to_owned()));
        assert!(o.contains(&"https://course.example".to_owned()));
    }
}
