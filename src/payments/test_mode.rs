//! Local test mode, when no Stripe key is configured: the shop's own page stands in for the
//! payment page, and its "Pay" button settles the order through the very code a Stripe webhook
//! uses. No money moves.

use super::{PaymentProvider, PaymentSession};
use crate::{
    clock,
    db::Db,
    error::{Error, Result},
    orders::{self, Order, Outcome, PaymentMethod, Settled},
};

/// The shop's own payment page for an order.
pub(super) fn session(order: &Order, base_url: &str) -> PaymentSession {
    PaymentSession {
        id: format!("test_{}", order.id),
        url: format!("{base_url}/checkout/test-payment/{}", order.id),
        expires_at: order.expires_at,
    }
}

/// Local test mode's "Pay" button: the very same settlement as a Stripe webhook, for the order's total.
pub async fn pay_in_test_mode(db: &Db, provider: &PaymentProvider, order: &Order) -> Result<Settled> {
    if !provider.is_test_mode() || order.provider != PaymentMethod::Test {
        return Err(Error::not_found("order_not_found", "There is no test payment for this order."));
    }
    let paid = Outcome::Paid {
        amount: order.total,
        currency: order.currency.code().to_string(),
        reference: Some(format!("test_payment_{}", order.id)),
    };
    orders::settle(db, &order.id, paid, clock::now()).await
}
