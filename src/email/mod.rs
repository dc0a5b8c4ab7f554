//! Email: messages are written to the outbox in the same transaction as the change they report
//! (so a crash or an SMTP failure never loses one), and a worker delivers them with retries
//! (`outbox.rs`) through SMTP or, with no SMTP server configured, as `.eml` files.

mod outbox;

use std::path::Path;

use lettre::{
    message::{header::ContentType, Mailbox},
    AsyncFileTransport, AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor,
};
use sqlx::AnyConnection;

use crate::{
    error::Result,
    orders::{Order, OrderLine, Subscription},
};

pub use outbox::{deliver_due, OutboxEmail};

/// A message ready for the outbox.
#[derive(Clone, Debug)]
pub struct EmailMessage {
    pub subject: String,
    pub body: String,
}

/// Puts a message in the outbox on the caller's transaction; one of each kind per order.
pub async fn enqueue(
    conn: &mut AnyConnection,
    order_id: Option<&str>,
    kind: &str,
    recipient: &str,
    message: &EmailMessage,
    now: i64,
) -> Result<()> {
    sqlx::query(
        "INSERT INTO email_outbox (id, order_id, kind, recipient, subject, body, status, next_attempt_at, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6, 'pending', $7, $7) ON CONFLICT (order_id, kind) DO NOTHING",
    )
    .bind(uuid::Uuid::new_v4().simple().to_string())
    .bind(order_id)
    .bind(kind)
    .bind(recipient)
    .bind(&message.subject)
    .bind(&message.body)
    .bind(now)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// The confirmation a reader gets when an order is paid: lines, totals, and each subscription's
/// first and last issue.
pub fn order_confirmation(order: &Order, lines: &[OrderLine], subscriptions: &[Subscription]) -> EmailMessage {
    let mut body = format!("Dear {},\n\nThank you for your order {}.\n\n", order.name, order.id);
    for line in lines {
        body.push_str(&format!("  {} x {}  {}", line.quantity, line.name, order.money(line.line_total)));
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
    body.push_str(&format!("Total paid: {}\n", order.money(order.total)));
    if !subscriptions.is_empty() {
        body.push_str("\nYour subscriptions:\n");
        for s in subscriptions {
            body.push_str(&format!("  {}: from the {} issue to the {} issue\n", s.title, s.first_issue(), s.last_issue()));
        }
    }
    if let (Some(line1), Some(city)) = (&order.ship_line1, &order.ship_city) {
        body.push_str(&format!(
            "\nWe will mail print copies to:\n  {}\n  {}{}\n  {} {} {}\n",
            order.name,
            line1,
            order.ship_line2.as_deref().map(|l| format!("\n  {l}")).unwrap_or_default(),
            city,
            order.ship_postal_code.as_deref().unwrap_or(""),
            order.ship_country.as_deref().unwrap_or("")
        ));
    }
    body.push_str("\nSubscriptions are prepaid: nothing renews without you.\n");
    EmailMessage { subject: format!("Your order {} is confirmed", &order.id[..8.min(order.id.len())]), body }
}

/// Where email goes: an SMTP server, or `.eml` files in a folder when none is configured.
#[derive(Clone)]
pub enum Mailer {
    Smtp(AsyncSmtpTransport<Tokio1Executor>),
    Files(AsyncFileTransport<Tokio1Executor>),
}

impl Mailer {
    /// SMTP from a URL such as `smtps://user:pass@smtp.example.org`, or files under `dir`.
    pub fn new(smtp_url: Option<&str>, dir: &Path) -> anyhow::Result<Mailer> {
        match smtp_url {
            Some(url) => Ok(Mailer::Smtp(AsyncSmtpTransport::<Tokio1Executor>::from_url(url)?.build())),
            None => {
                std::fs::create_dir_all(dir)?;
                Ok(Mailer::Files(AsyncFileTransport::new(dir)))
            }
        }
    }

    pub async fn send(&self, from: &str, email: &OutboxEmail) -> anyhow::Result<()> {
        let message = Message::builder()
            .from(from.parse::<Mailbox>()?)
            .to(email.recipient.parse::<Mailbox>()?)
            .subject(&email.subject)
            // One id per outbox row, so a copy delivered twice after a crash is recognisably the same.
            .message_id(Some(format!("<{}@masthead>", email.id)))
            .header(ContentType::TEXT_PLAIN)
            .body(email.body.clone())?;
        match self {
            Mailer::Smtp(smtp) => {
                smtp.send(message).await?;
            }
            Mailer::Files(files) => {
                let file = files.send(message).await?;
                tracing::info!(to = %email.recipient, file = %file, "email written as .eml");
            }
        }
        Ok(())
    }
}
