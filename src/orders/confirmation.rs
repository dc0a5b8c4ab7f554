//! The confirmation a reader gets by email when an order is paid.

use super::{Order, OrderLine, Subscription};
use crate::email::EmailMessage;

/// The confirmation a reader gets when an order is paid: lines, totals, and each subscription's
/// first and last issue.
pub fn order_confirmation(
    order: &Order,
    lines: &[OrderLine],
    subscriptions: &[Subscription],
    base_url: Option<&str>,
) -> EmailMessage {
    let mut body = format!("Dear {},\n\nThank you for your order {}.\n\n", order.name, order.id);
    for line in lines {
        body.push_str(&format!("  {} x {}  {}", line.quantity, line.title(), order.money(line.line_total)));
        if line.discount > 0 {
            body.push_str(&format!("  (less {})", order.money(line.discount)));
        }
        body.push('\n');
    }
    body.push_str(&format!("\nSubtotal: {}\n", order.money(order.subtotal)));
    if order.discount > 0 {
        let code = order.coupon_code.as_deref().unwrap_or("coupon");
        body.push_str(&format!("Discount ({code}): -{}\n", order.money(order.discount)));
    }
    if let Some(label) = order.postage_label() {
        body.push_str(&format!("{label}: {}\n", order.money(order.postage)));
    }
    if let Some(donation) = order.donation_given() {
        body.push_str(&format!("{}: {donation} (thank you!)\n", super::DONATION_LABEL));
    }
    body.push_str(&format!("Total paid: {}\n", order.money(order.total)));
    if !subscriptions.is_empty() {
        body.push_str("\nYour subscriptions:\n");
        for s in subscriptions {
            body.push_str(&format!(
                "  {}: from the {} issue to the {} issue\n",
                s.title,
                s.first_issue(),
                s.last_issue()
            ));
        }
    }
    if subscriptions.iter().any(|s| s.edition == "digital") {
        let sign_in = match base_url {
            Some(base) => format!("{base}/account/login"),
            None => "your account on our website".to_string(),
        };
        body.push_str(&format!(
            "\nHow to read your digital issues: each issue of your term is a PDF to download from its page in \
             the archive. Sign in at {sign_in} with this email address: we email you a link, no password \
             needed.\n"
        ));
    }
    if let Some(address) = order.shipping_address() {
        body.push_str(&format!("\nWe will mail print copies to:\n  {}\n", order.name));
        for line in address.lines() {
            body.push_str(&format!("  {line}\n"));
        }
    }
    body.push_str("\nSubscriptions are prepaid: nothing renews without you.\n");
    EmailMessage { subject: format!("Your order {} is confirmed", &order.id[..8.min(order.id.len())]), body }
}
