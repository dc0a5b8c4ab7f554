//! Probes for the process manager and the load balancer, and the metrics a monitoring system
//! scrapes.

use axum::{
    extract::{MatchedPath, Request, State},
    http::{header, HeaderMap, StatusCode},
    middleware::Next,
    response::{IntoResponse, Response},
    routing::get,
    Router,
};

use super::AppState;
use crate::{clock, health};

pub fn router() -> Router<AppState> {
    Router::new().route("/healthz", get(healthz)).route("/readyz", get(readyz)).route("/metrics", get(metrics))
}

/// The process is up.
async fn healthz() -> &'static str {
    "ok\n"
}

/// How long `/readyz` waits for the database before saying it is not ready.
const READINESS_TIMEOUT: std::time::Duration = std::time::Duration::from_millis(800);

/// The process can write to its database and its media storage, so it can take orders: 200, or
/// 503 within a second; the body says what is wrong, check by check (a stuck outbox is said
/// but does not take the instance out of service).
async fn readyz(State(state): State<AppState>) -> (StatusCode, String) {
    let readiness = health::readiness(&state.db, &state.media, READINESS_TIMEOUT, clock::now()).await;
    let status = if readiness.ready() { StatusCode::OK } else { StatusCode::SERVICE_UNAVAILABLE };
    (status, readiness.report())
}

/// Prometheus' text format, behind `MASTHEAD_METRICS_TOKEN` (off when it is not set).
async fn metrics(State(state): State<AppState>, headers: HeaderMap) -> Response {
    let Some(token) = &state.config.metrics_token else {
        return (StatusCode::NOT_FOUND, "metrics are off: set MASTHEAD_METRICS_TOKEN\n").into_response();
    };
    let given = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .unwrap_or("");
    let matches: bool = subtle::ConstantTimeEq::ct_eq(given.as_bytes(), token.expose().as_bytes()).into();
    if !matches {
        return (StatusCode::UNAUTHORIZED, [(header::WWW_AUTHENTICATE, "Bearer")], "a metrics token is required\n")
            .into_response();
    }
    if let Err(e) = health::record_gauges(&state.db, clock::now()).await {
        tracing::warn!(error = %e, "metrics: the database gauges could not be read");
    }
    (
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4"), (header::CACHE_CONTROL, "no-store")],
        health::metrics_handle().render(),
    )
        .into_response()
}

/// Counts each request by its route's pattern (never the raw path, which may hold a token) and
/// status, and times it.
pub(super) async fn record_request(request: Request, next: Next) -> Response {
    let route = request.extensions().get::<MatchedPath>().map_or("(no route)".to_string(), |p| p.as_str().to_string());
    let method = request.method().to_string();
    let started = std::time::Instant::now();
    let response = next.run(request).await;
    let status = response.status().as_u16().to_string();
    metrics::counter!("masthead_http_requests_total", "method" => method, "route" => route.clone(), "status" => status)
        .increment(1);
    metrics::histogram!("masthead_http_request_duration_seconds", "route" => route)
        .record(started.elapsed().as_secs_f64());
    response
}
