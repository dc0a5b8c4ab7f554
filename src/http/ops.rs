//! Probes for the process manager and the load balancer.

use axum::{extract::State, http::StatusCode, routing::get, Router};

use super::AppState;

pub fn router() -> Router<AppState> {
    Router::new().route("/healthz", get(healthz)).route("/readyz", get(readyz))
}

/// The process is up.
async fn healthz() -> &'static str {
    "ok\n"
}

/// How long `/readyz` waits for the database before saying it is not ready.
const READINESS_TIMEOUT: std::time::Duration = std::time::Duration::from_millis(800);

/// The process can write to its database, so it can take orders. A database that is gone, or
/// one whose write lock is held by a stuck connection, answers 503 within a second.
async fn readyz(State(state): State<AppState>) -> (StatusCode, &'static str) {
    if state.db.is_writable(READINESS_TIMEOUT).await {
        (StatusCode::OK, "ready\n")
    } else {
        (StatusCode::SERVICE_UNAVAILABLE, "database unreachable or not writable\n")
    }
}
