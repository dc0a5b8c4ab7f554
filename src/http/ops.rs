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

/// The process can reach its database, so it can take traffic.
async fn readyz(State(state): State<AppState>) -> (StatusCode, &'static str) {
    if state.db.is_ready().await {
        (StatusCode::OK, "ready\n")
    } else {
        (StatusCode::SERVICE_UNAVAILABLE, "database unreachable\n")
    }
}
