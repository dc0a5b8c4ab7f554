//! Stripe's webhook: verify the signature (HMAC-SHA256 over `{t}.{body}`, any `v1` signature may
//! match, 300 seconds' tolerance either way), then settle the order the event is about. A bad
//! signature changes nothing; a signed event the shop cannot read or process is an error, so that
//! Stripe delivers it again.

use stripe_webhook::{EventObject, Webhook, WebhookError};

use super::stripe::session_state;
use crate::{
    db::Db,
    error::Result,
    orders::{self, Outcome, Settled},
};

#[derive(Debug)]
pub enum WebhookFailure {
    /// Missing, malformed, stale or wrong signature: 400, nothing changed.
    BadSignature(String),
    /// Correctly signed but unreadable, or processing failed: 5xx, so Stripe retries.
    Unprocessable(String),
}

#[derive(Debug, PartialEq, Eq)]
pub enum WebhookAnswer {
    /// The event was applied to its order.
    Applied(Settled),
    /// Nothing to do: an event type the shop ignores, a session still open, or not one of ours.
    Ignored(&'static str),
    /// This event id was processed before.
    Duplicate,
}

impl WebhookAnswer {
    /// One word for the answer's body: Stripe's dashboard shows it beside each delivery.
    pub fn result(&self) -> &'static str {
        match self {
            WebhookAnswer::Applied(Settled::Fulfilled) => "fulfilled",
            WebhookAnswer::Applied(Settled::Failed) => "failed",
            WebhookAnswer::Applied(Settled::Review(_)) => "review",
            WebhookAnswer::Applied(Settled::AlreadySettled(_)) => "already_settled",
            WebhookAnswer::Ignored(_) => "ignored",
            WebhookAnswer::Duplicate => "duplicate",
        }
    }
}

pub async fn handle(
    db: &Db,
    secret: &str,
    payload: &str,
    signature: Option<&str>,
    now: i64,
) -> Result<WebhookAnswer, WebhookFailure> {
    let signature = signature.ok_or_else(|| WebhookFailure::BadSignature("no Stripe-Signature header".into()))?;
    let event = Webhook::construct_event_with_timestamp(payload, signature, secret, now).map_err(|e| match e {
        WebhookError::BadParse(why) => WebhookFailure::Unprocessable(format!("signed event could not be read: {why}")),
        other => WebhookFailure::BadSignature(other.to_string()),
    })?;
    let event_id = event.id.to_string();
    let seen: Option<(String,)> = sqlx::query_as("SELECT event_id FROM payment_events WHERE event_id = $1")
        .bind(&event_id)
        .fetch_optional(&db.pool)
        .await
        .map_err(|e| WebhookFailure::Unprocessable(e.to_string()))?;
    if seen.is_some() {
        return Ok(WebhookAnswer::Duplicate);
    }
    let (session, outcome) = match &event.data.object {
        EventObject::CheckoutSessionCompleted(s) => {
            let state = session_state(s);
            // Delayed payment methods complete the session unpaid; `async_payment_succeeded` follows.
            let outcome = state.paid.then(|| state.outcome()).flatten();
            (state, outcome)
        }
        EventObject::CheckoutSessionAsyncPaymentSucceeded(s) => {
            let state = session_state(s);
            let paid = Outcome::Paid {
                amount: state.amount_total.unwrap_or(-1),
                currency: state.currency.clone().unwrap_or_default(),
                reference: state.payment_reference.clone(),
            };
            (state, Some(paid))
        }
        EventObject::CheckoutSessionAsyncPaymentFailed(s) => {
            (session_state(s), Some(Outcome::Failed { reason: "the payment failed".into() }))
        }
        EventObject::CheckoutSessionExpired(s) => {
            (session_state(s), Some(Outcome::Failed { reason: "the checkout expired unpaid".into() }))
        }
        _ => return Ok(WebhookAnswer::Ignored("event type not used by the shop")),
    };
    let Some(order_id) = session.order_id.clone() else {
        return Ok(WebhookAnswer::Ignored("checkout session without an order id"));
    };
    let known = orders::find_order(db, &order_id).await.map_err(|e| WebhookFailure::Unprocessable(e.to_string()))?;
    if known.is_none() {
        tracing::warn!(order_id, event_id, "webhook for an order this shop does not have");
        return Ok(WebhookAnswer::Ignored("no such order"));
    }
    let answer = match outcome {
        Some(outcome) => WebhookAnswer::Applied(
            orders::settle(db, &order_id, outcome, now)
                .await
                .map_err(|e| WebhookFailure::Unprocessable(e.to_string()))?,
        ),
        None => WebhookAnswer::Ignored("the session is not paid yet"),
    };
    // Recorded only once applied: an event whose processing failed is processed again when redelivered.
    sqlx::query(
        "INSERT INTO payment_events (event_id, event_type, order_id, processed_at) VALUES ($1, $2, $3, $4) \
         ON CONFLICT (event_id) DO NOTHING",
    )
    .bind(&event_id)
    .bind(event.type_.as_str())
    .bind(&order_id)
    .bind(now)
    .execute(db.write_turn().await.map_err(|e| WebhookFailure::Unprocessable(e.to_string()))?.pool())
    .await
    .map_err(|e| WebhookFailure::Unprocessable(e.to_string()))?;
    Ok(answer)
}
