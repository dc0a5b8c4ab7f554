//! `POST /webhooks/stripe`: answered fast; anything slow (email) happens after the commit, in the outbox worker.

use axum::{
    extract::{DefaultBodyLimit, State},
    http::{HeaderMap, StatusCode},
    routing::post,
    Json, Router,
};
use serde_json::{json, Value};

use super::AppState;
use crate::{
    clock,
    payments::webhook::{self, WebhookFailure},
};

pub fn router() -> Router<AppState> {
    // Stripe's events are larger than anything a reader sends.
    Router::new().route("/webhooks/stripe", post(stripe_webhook).layer(DefaultBodyLimit::max(512 * 1024)))
}

async fn stripe_webhook(State(state): State<AppState>, headers: HeaderMap, body: String) -> (StatusCode, Json<Value>) {
    let Some(secret) = state.config.stripe_webhook_secret.as_ref() else {
        return (
            StatusCode::NOT_FOUND,
            Json(json!({"error": {"code": "not_found", "message": "Stripe is not configured."}})),
        );
    };
    let signature = headers.get("stripe-signature").and_then(|v| v.to_str().ok());
    match webhook::handle(&state.db, secret.expose(), &body, signature, clock::now()).await {
        Ok(answer) => {
            tracing::info!(?answer, "stripe webhook");
            (StatusCode::OK, Json(json!({"received": true, "result": answer.result()})))
        }
        Err(WebhookFailure::BadSignature(why)) => {
            metrics::counter!("masthead_webhook_failures_total", "reason" => "bad_signature").increment(1);
            tracing::warn!(why, "stripe webhook refused");
            (StatusCode::BAD_REQUEST, Json(json!({"error": {"code": "bad_signature", "message": why}})))
        }
        Err(WebhookFailure::Unprocessable(why)) => {
            metrics::counter!("masthead_webhook_failures_total", "reason" => "not_processed").increment(1);
            tracing::error!(why, "stripe webhook could not be processed; Stripe will deliver it again");
            (
                StatusCode::INTERNAL_SERVER_ERROR,
                Json(
                    json!({"error": {"code": "not_processed", "message": "The event was not processed; please retry."}}),
                ),
            )
        }
    }
}
