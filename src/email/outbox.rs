//! Delivering the outbox. A worker claims one due message at a time with a conditional update
//! (so several instances never send the same message at once), sends it, and marks it sent;
//! a failure is retried later with a growing delay, and given up after `MAX_ATTEMPTS`.

use sqlx::FromRow;

use super::Mailer;
use crate::{db::Db, error::Result};

const MAX_ATTEMPTS: i64 = 10;
/// How long a claim lasts before another worker may take the message over.
const CLAIM_SECS: i64 = 120;

#[derive(Clone, Debug, FromRow)]
pub struct OutboxEmail {
    pub id: String,
    pub recipient: String,
    pub subject: String,
    pub body: String,
    pub attempts: i64,
}

async fn claim_next(db: &Db, now: i64) -> Result<Option<OutboxEmail>> {
    Ok(sqlx::query_as(
        "UPDATE email_outbox SET claimed_until = $2, attempts = attempts + 1 \
         WHERE id = (SELECT id FROM email_outbox WHERE status = 'pending' AND next_attempt_at <= $1 \
                     AND (claimed_until IS NULL OR claimed_until < $1) ORDER BY created_at LIMIT 1) \
         AND status = 'pending' AND (claimed_until IS NULL OR claimed_until < $1) \
         RETURNING id, recipient, subject, body, attempts",
    )
    .bind(now)
    .bind(now + CLAIM_SECS)
    .fetch_optional(db.write_turn().await?.pool())
    .await?)
}

/// Sends every message that is due; returns how many were sent.
pub async fn deliver_due(db: &Db, mailer: &Mailer, from: &str, now: i64) -> Result<usize> {
    let mut sent = 0;
    while let Some(email) = claim_next(db, now).await? {
        match mailer.send(from, &email).await {
            Ok(()) => {
                // A sign-in link is a secret until it expires: once delivered, the shop keeps no copy.
                sqlx::query(
                    "UPDATE email_outbox SET status = 'sent', sent_at = $2, claimed_until = NULL, \
                     body = CASE WHEN kind = 'sign_in_link' THEN $3 ELSE body END WHERE id = $1",
                )
                .bind(&email.id)
                .bind(now)
                .bind("(delivered; a sign-in link is not kept once sent)")
                .execute(db.write_turn().await?.pool())
                .await?;
                sent += 1;
            }
            Err(error) => {
                let give_up = email.attempts >= MAX_ATTEMPTS;
                let delay = 30i64.saturating_mul(1 << email.attempts.clamp(0, 7));
                tracing::warn!(id = %email.id, attempts = email.attempts, give_up, error = format!("{error:#}"), "email not delivered");
                sqlx::query(
                    "UPDATE email_outbox SET status = $2, next_attempt_at = $3, last_error = $4, claimed_until = NULL \
                     WHERE id = $1",
                )
                .bind(&email.id)
                .bind(if give_up { "failed" } else { "pending" })
                .bind(now + delay)
                .bind(format!("{error:#}"))
                .execute(db.write_turn().await?.pool())
                .await?;
                // One failure (a down SMTP server) usually means the next would fail too: try later.
                break;
            }
        }
    }
    Ok(sent)
}
