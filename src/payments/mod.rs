//! The payment-provider seam: Stripe Checkout (`stripe.rs`), or the shop's own local test
//! mode when no Stripe key is configured. Both settle orders through the same
//! `orders::settle`, as do Stripe's webhooks (`webhook.rs`) and the reconciliation job.

pub mod stripe;
mod test_mode;
pub mod webhook;

use crate::{
    clock,
    db::Db,
    error::{Error, Result},
    money::Currency,
    orders::{self, CheckoutInput, Order, OrderStatus, Outcome, PaymentMethod, Settled},
};

pub use self::stripe::StripeGateway;
pub use test_mode::pay_in_test_mode;

#[derive(Clone)]
pub enum PaymentProvider {
    /// Shared: the client is large, and every request clones the state.
    Stripe(std::sync::Arc<StripeGateway>),
    /// Local test mode: a page of the shop's own stands in for the payment page; no money moves.
    TestMode,
}

/// A payment page opened for an order.
#[derive(Clone, Debug)]
pub struct PaymentSession {
    pub id: String,
    pub url: String,
    pub expires_at: i64,
}

/// What the provider says about a session.
#[derive(Clone, Debug, Default)]
pub struct SessionState {
    pub order_id: Option<String>,
    pub paid: bool,
    pub expired: bool,
    pub amount_total: Option<i64>,
    pub currency: Option<String>,
    pub payment_reference: Option<String>,
}

impl SessionState {
    /// Paid sessions settle as paid, expired ones as failed; open ones settle nothing yet.
    pub fn outcome(&self) -> Option<Outcome> {
        if self.paid {
            Some(Outcome::Paid {
                amount: self.amount_total.unwrap_or(-1),
                currency: self.currency.clone().unwrap_or_default(),
                reference: self.payment_reference.clone(),
            })
        } else if self.expired {
            Some(Outcome::Failed { reason: "the checkout expired unpaid".into() })
        } else {
            None
        }
    }
}

/// Where a placed order sends the reader.
#[derive(Clone, Debug)]
pub struct CheckoutStarted {
    pub order_id: String,
    pub payment_url: String,
}

impl PaymentProvider {
    /// How orders placed now are paid.
    pub fn method(&self) -> PaymentMethod {
        match self {
            PaymentProvider::Stripe(_) => PaymentMethod::Stripe,
            PaymentProvider::TestMode => PaymentMethod::Test,
        }
    }

    pub fn is_test_mode(&self) -> bool {
        matches!(self, PaymentProvider::TestMode)
    }
}

fn provider_unavailable() -> Error {
    Error::Upstream {
        code: "payment_provider_unavailable",
        message: "We could not reach the payment service. Nothing was charged; please try again in a minute.".into(),
    }
}

/// Places the order and opens its payment page. A zero total is fulfilled at once, with no
/// payment provider; if the provider cannot be reached the order fails and its coupon is released.
pub async fn start_checkout(
    db: &Db,
    provider: &PaymentProvider,
    cart_id: Option<&str>,
    input: &CheckoutInput,
    currency: Currency,
    base_url: &str,
) -> Result<CheckoutStarted> {
    let now = clock::now();
    let order = orders::place_order(db, cart_id, input, currency, provider.method(), now).await?;
    let success = format!("{base_url}/checkout/success?order={}", order.id);
    if order.total == 0 {
        sqlx::query("UPDATE orders SET provider = 'none' WHERE id = $1")
            .bind(&order.id)
            .execute(db.write_turn().await?.pool())
            .await
            .map_err(Error::from)?;
        let paid = Outcome::Paid { amount: 0, currency: order.currency.code().to_string(), reference: None };
        orders::settle(db, &order.id, paid, now).await?;
        return Ok(CheckoutStarted { order_id: order.id, payment_url: success });
    }
    let session = match provider {
        PaymentProvider::TestMode => Ok(test_mode::session(&order, base_url)),
        PaymentProvider::Stripe(gateway) => {
            let lines = orders::order_lines(db, &order.id).await?;
            let gifts = orders::gifts::gifts_of_order(db, &order.id).await?;
            gateway.create_session(&order, &lines, &gifts, base_url, order.expires_at).await
        }
    };
    match session {
        Ok(session) => {
            orders::attach_payment(db, &order.id, &session.id, &session.url, session.expires_at).await?;
            Ok(CheckoutStarted { order_id: order.id, payment_url: session.url })
        }
        Err(cause) => {
            tracing::error!(order_id = %order.id, error = format!("{cause:#}"), "could not open the payment page");
            orders::fail_order(db, &order.id, "the payment provider could not be reached", now).await?;
            Err(provider_unavailable())
        }
    }
}

/// Asks the provider about a pending order and settles it if the answer is final: for the success
/// page (when the webhook has not arrived yet) and the reconciliation job.
pub async fn refresh(db: &Db, provider: &PaymentProvider, order: &Order) -> Result<Option<Settled>> {
    if order.status != OrderStatus::Pending || order.is_open_invoice() {
        return Ok(None);
    }
    let now = clock::now();
    match provider {
        PaymentProvider::Stripe(gateway) => {
            let Some(session_id) = &order.provider_session_id else {
                // The session was never opened (the provider failed mid-checkout): nothing to wait for.
                if now > order.expires_at {
                    return Ok(Some(orders::fail_order(db, &order.id, "no payment page was opened", now).await?));
                }
                return Ok(None);
            };
            let state = gateway.retrieve_session(session_id).await.map_err(|e| {
                tracing::warn!(order_id = %order.id, error = format!("{e:#}"), "could not ask Stripe about an order");
                provider_unavailable()
            })?;
            match state.outcome() {
                Some(outcome) => Ok(Some(orders::settle(db, &order.id, outcome, now).await?)),
                None => Ok(None),
            }
        }
        PaymentProvider::TestMode if now > order.expires_at => {
            Ok(Some(orders::fail_order(db, &order.id, "the test checkout expired unpaid", now).await?))
        }
        PaymentProvider::TestMode => Ok(None),
    }
}

/// The reader came back from the payment page without paying: end the session so the coupon
/// is released now, not when the session would have expired.
pub async fn cancel(db: &Db, provider: &PaymentProvider, order: &Order) -> Result<Settled> {
    let now = clock::now();
    if let (PaymentProvider::Stripe(gateway), Some(session_id)) = (provider, &order.provider_session_id) {
        let state = gateway.expire_session(session_id).await.map_err(|e| {
            tracing::warn!(order_id = %order.id, error = format!("{e:#}"), "could not expire a cancelled session");
            provider_unavailable()
        })?;
        // A session that was paid at the last moment cannot be expired: it is settled as paid.
        if let Some(outcome) = state.outcome() {
            return orders::settle(db, &order.id, outcome, now).await;
        }
    }
    orders::fail_order(db, &order.id, orders::CANCELLED_BY_READER, now).await
}

/// Settles orders still pending after their checkout expired (a webhook can be missed when the
/// endpoint is down longer than Stripe retries). Returns how many were settled.
pub async fn reconcile(db: &Db, provider: &PaymentProvider) -> Result<usize> {
    let mut settled = 0;
    for order in orders::overdue_pending_orders(db, clock::now(), 100).await? {
        match refresh(db, provider, &order).await {
            Ok(Some(_)) => settled += 1,
            Ok(None) => {}
            Err(e) => tracing::warn!(order_id = %order.id, error = %e, "reconciliation: will try again"),
        }
    }
    Ok(settled)
}

/// Returns an order's money (through Stripe, or nothing to return in test mode or for a free
/// order), then marks it refunded and ends its subscriptions.
pub async fn refund(db: &Db, provider: &PaymentProvider, order: &Order, actor: &crate::audit::Actor) -> Result<()> {
    if !order.status.is_refundable() {
        return Err(Error::Conflict {
            code: "not_refundable",
            message: "Only a paid order can be refunded, once.".into(),
        });
    }
    let reference = match (provider, order.provider, &order.payment_reference) {
        (PaymentProvider::Stripe(gateway), PaymentMethod::Stripe, Some(payment_intent)) if order.total > 0 => {
            let refund_id = gateway.refund(payment_intent, &order.id).await.map_err(|e| {
                tracing::error!(order_id = %order.id, error = format!("{e:#}"), "Stripe refund failed");
                Error::Upstream { code: "refund_failed", message: "Stripe did not accept the refund; nothing was changed. Try again, or refund it in Stripe's dashboard.".into() }
            })?;
            Some(refund_id)
        }
        (PaymentProvider::Stripe(_), PaymentMethod::Stripe, None) if order.total > 0 => {
            return Err(Error::Conflict {
                code: "no_payment_reference",
                message: "This order has no Stripe payment to refund.".into(),
            });
        }
        _ => None,
    };
    orders::staff::mark_refunded(db, &order.id, reference.as_deref(), actor, clock::now()).await
}
