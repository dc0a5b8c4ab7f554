//! The confirmation a reader gets by email when an order is paid.

use super::{gifts::OrderGift, Order, OrderLine, Subscription};
use crate::email::EmailMessage;
use crate::gifts::Notify;

/// The confirmation a reader gets when an order is paid: lines, totals, and each subscription's
/// first and last issue.
pub fn order_confirmation(
    order: &Order,
    lines: &[OrderLine],
    subscriptions: &[Subscription],
    gifts: &[OrderGift],
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
    for (label, amount) in order.extra_charges(gifts) {
        body.push_str(&format!("{label}: {amount}\n"));
    }
    body.push_str(&format!("Total paid: {}\n", order.money(order.total)));
    let gift_of = |s: &Subscription| gifts.iter().find(|g| g.position == s.order_position);
    let own: Vec<&Subscription> = subscriptions.iter().filter(|s| gift_of(s).is_none()).collect();
    if !own.is_empty() {
        body.push_str("\nYour subscriptions:\n");
        for s in &own {
            body.push_str(&format!(
                "  {}: from the {} issue to the {} issue\n",
                s.title,
                s.first_issue(),
                s.last_issue()
            ));
        }
    }
    let given: Vec<(&Subscription, &OrderGift)> =
        subscriptions.iter().filter_map(|s| gift_of(s).map(|g| (s, g))).collect();
    if !given.is_empty() {
        body.push_str("\nYour gifts:\n");
        for (s, g) in &given {
            let told = match (g.gift.notify, &g.gift.recipient_email) {
                (Notify::Now, Some(email)) => format!("we have emailed {email}"),
                (Notify::Date(day), Some(email)) => {
                    format!("we email {email} on {}", crate::clock::long_date(day))
                }
                _ => "print the gift card from your account and hand it over".to_string(),
            };
            body.push_str(&format!(
                "  {} for {}: from the {} issue to the {} issue; {told}\n",
                s.title,
                g.gift.recipient_name,
                s.first_issue(),
                s.last_issue()
            ));
        }
    }
    if own.iter().any(|s| s.edition == "digital") {
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
