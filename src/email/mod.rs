//! Email: messages are written to the outbox in the same transaction as the change they report
//! (so a crash or an SMTP failure never loses one), and a worker delivers them with retries
//! (`outbox.rs`) through SMTP or, with no SMTP server configured, as `.eml` files.

mod address;
mod outbox;

use std::path::Path;

use lettre::{
    message::{header::ContentType, Mailbox},
    AsyncFileTransport, AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor,
};
use sqlx::AnyConnection;

use crate::error::Result;

pub use address::EmailAddress;
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
    enqueue_at(conn, order_id, kind, recipient, message, now, now).await
}

/// The same, not sent before `send_at` (a gift's notice on the day the buyer chose).
pub async fn enqueue_at(
    conn: &mut AnyConnection,
    order_id: Option<&str>,
    kind: &str,
    recipient: &str,
    message: &EmailMessage,
    now: i64,
    send_at: i64,
) -> Result<()> {
    let body = format!("{}{}", message.body, footer(conn).await?);
    sqlx::query(
        "INSERT INTO email_outbox (id, order_id, kind, recipient, subject, body, status, next_attempt_at, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6, 'pending', $8, $7) ON CONFLICT (order_id, kind) DO NOTHING",
    )
    .bind(uuid::Uuid::new_v4().simple().to_string())
    .bind(order_id)
    .bind(kind)
    .bind(recipient)
    .bind(&message.subject)
    .bind(&body)
    .bind(now)
    .bind(send_at)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// What ends every email: the shop's policy pages, where it has any.
async fn footer(conn: &mut AnyConnection) -> Result<String> {
    let links = crate::policies::links(conn).await?;
    let Some(base) = crate::settings::base_url(conn).await? else { return Ok(String::new()) };
    if links.is_empty() {
        return Ok(String::new());
    }
    let mut footer = String::from("\n-- \n");
    for link in links {
        footer.push_str(&format!("{}: {base}{}\n", link.title, link.path));
    }
    Ok(footer)
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
