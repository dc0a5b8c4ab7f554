//! Stripe Checkout through async-stripe: one hosted payment page per order, a prepaid
//! one-time payment (Stripe's longest recurring interval is shorter than four years).

use std::{collections::HashMap, time::Duration};

use anyhow::Context;
use stripe::{Client, ClientBuilder, IdempotencyKey, RequestStrategy, StripeRequest};
use stripe_checkout::checkout_session::{
    CreateCheckoutSession, CreateCheckoutSessionLineItems, CreateCheckoutSessionLineItemsPriceData,
    ExpireCheckoutSession, ProductData, RetrieveCheckoutSession,
};
use stripe_shared::{CheckoutSession, CheckoutSessionMode, CheckoutSessionPaymentStatus, CheckoutSessionStatus};

use super::{PaymentSession, SessionState};
use crate::orders::{Order, OrderLine};

#[derive(Clone)]
pub struct StripeGateway {
    client: Client,
}

impl StripeGateway {
    pub fn new(secret_key: &str, api_base: Option<&str>) -> anyhow::Result<StripeGateway> {
        let mut builder = ClientBuilder::new(secret_key).timeout(Duration::from_secs(20));
        if let Some(base) = api_base {
            // The client appends `v1/…` to the base.
            let base = if base.ends_with('/') { base.to_string() } else { format!("{base}/") };
            builder = builder.url(base);
        }
        Ok(StripeGateway { client: builder.build().context("building the Stripe client")? })
    }

    /// Creates the Checkout Session for an order: one line per order line at its discounted unit
    /// amount, postage as a line of its own, the order id as client reference, metadata and
    /// idempotency key.
    pub async fn create_session(
        &self,
        order: &Order,
        lines: &[OrderLine],
        gifts: &[crate::orders::gifts::OrderGift],
        base_url: &str,
        expires_at: i64,
    ) -> anyhow::Result<PaymentSession> {
        let currency: stripe_types::Currency = order
            .currency
            .code()
            .to_lowercase()
            .parse()
            .map_err(|_| anyhow::anyhow!("currency {}", order.currency.code()))?;
        let mut items = Vec::new();
        for line in lines {
            let (unit_amount, quantity) = charged_unit(line);
            let mut product = ProductData::new(line.title());
            if line.discount > 0 {
                product.description =
                    Some(format!("Coupon {} applied", order.coupon_code.as_deref().unwrap_or("discount")));
            }
            let mut price = CreateCheckoutSessionLineItemsPriceData::new(currency.clone());
            price.unit_amount = Some(unit_amount);
            price.product_data = Some(product);
            let mut item = CreateCheckoutSessionLineItems::new();
            item.price_data = Some(price);
            item.quantity = Some(quantity as u64);
            items.push(item);
        }
        // Postage (the buyer's, each gift's) and the donation are lines of their own, never discounted.
        for (label, amount) in order.extra_charges(gifts) {
            let mut price = CreateCheckoutSessionLineItemsPriceData::new(currency.clone());
            price.unit_amount = Some(amount.amount);
            price.product_data = Some(ProductData::new(label));
            let mut item = CreateCheckoutSessionLineItems::new();
            item.price_data = Some(price);
            item.quantity = Some(1);
            items.push(item);
        }
        let metadata = HashMap::from([("order_id".to_string(), order.id.clone())]);
        let session = CreateCheckoutSession::new()
            .mode(CheckoutSessionMode::Payment)
            .line_items(items)
            .customer_email(order.email.clone())
            .client_reference_id(order.id.clone())
            .metadata(metadata)
            .success_url(format!("{base_url}/checkout/success?order={}&session_id={{CHECKOUT_SESSION_ID}}", order.id))
            .cancel_url(format!("{base_url}/checkout/cancel?order={}", order.id))
            .expires_at(expires_at)
            .customize()
            .request_strategy(RequestStrategy::Idempotent(
                IdempotencyKey::new(order.id.clone()).context("the order id as idempotency key")?,
            ))
            .send(&self.client)
            .await
            .context("creating a Stripe Checkout Session")?;
        let url = session.url.clone().context("Stripe answered a Checkout Session without a url")?;
        Ok(PaymentSession { id: session.id.to_string(), url, expires_at: session.expires_at })
    }

    pub async fn retrieve_session(&self, session_id: &str) -> anyhow::Result<SessionState> {
        let session = RetrieveCheckoutSession::new(session_id)
            .send(&self.client)
            .await
            .with_context(|| format!("retrieving Checkout Session {session_id}"))?;
        Ok(session_state(&session))
    }

    /// Refunds a payment in full; the order id makes the request idempotent. Answers the refund's id.
    pub async fn refund(&self, payment_intent: &str, order_id: &str) -> anyhow::Result<String> {
        let refund = stripe_core::refund::CreateRefund::new()
            .payment_intent(payment_intent)
            .customize()
            .request_strategy(RequestStrategy::Idempotent(
                IdempotencyKey::new(format!("refund-{order_id}")).context("idempotency key")?,
            ))
            .send(&self.client)
            .await
            .context("refunding through Stripe")?;
        Ok(refund.id.to_string())
    }

    /// Ends a session the reader cancelled, so its coupon can be released at once.
    pub async fn expire_session(&self, session_id: &str) -> anyhow::Result<SessionState> {
        let session = ExpireCheckoutSession::new(session_id)
            .send(&self.client)
            .await
            .with_context(|| format!("expiring Checkout Session {session_id}"))?;
        Ok(session_state(&session))
    }
}

/// The amount Stripe charges a line: the discounted unit price when the discount divides evenly
/// over the copies, otherwise the whole discounted line as one unit (so the total is exact).
pub fn charged_unit(line: &OrderLine) -> (i64, i64) {
    let charged = line.line_total - line.discount;
    if line.quantity > 0 && charged % line.quantity == 0 {
        (charged / line.quantity, line.quantity)
    } else {
        (charged, 1)
    }
}

/// What a Checkout Session says about the order it belongs to.
pub fn session_state(session: &CheckoutSession) -> SessionState {
    let order_id = session
        .client_reference_id
        .clone()
        .or_else(|| session.metadata.as_ref().and_then(|m| m.get("order_id").cloned()));
    SessionState {
        order_id,
        paid: matches!(
            session.payment_status,
            CheckoutSessionPaymentStatus::Paid | CheckoutSessionPaymentStatus::NoPaymentRequired
        ),
        expired: matches!(session.status, Some(CheckoutSessionStatus::Expired)),
        amount_total: session.amount_total,
        currency: session.currency.as_ref().map(|c| c.to_string().to_uppercase()),
        payment_reference: session.payment_intent.as_ref().map(|p| p.id().to_string()),
    }
}
