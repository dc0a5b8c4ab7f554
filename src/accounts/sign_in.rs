//! Sign-in links. A reader asks for a link with their email; if the shop knows the address (a
//! `readers` row), a link with a random token goes out through the outbox. The token (128 bits and
//! more) is stored only as its SHA-256, lasts 15 minutes, is spent by one conditional update, and a
//! newer link spends the older ones. Asking is limited per email and per address through the shop's
//! shared attempt counts, and the answer never says whether the address is known.

use sha2::{Digest, Sha256};

use crate::{
    attempts::FailureLimit,
    db::Db,
    email::{self, EmailAddress, EmailMessage},
    error::{Error, Result},
};

/// A link lasts this long.
pub const LINK_LIFETIME_SECS: i64 = 15 * 60;

/// Links asked for: 5 in 15 minutes per email and per client address.
pub const SIGN_IN_LINKS: FailureLimit =
    FailureLimit { kind: "sign_in_link", refusal_code: "too_many_sign_in_links", limit: 5, window_secs: 900 };

fn token_hash(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// Sends a sign-in link to `email` when the shop knows the address, and does nothing visible
/// otherwise. `sign_in_url` turns a token into the link's address.
pub async fn request_link(
    db: &Db,
    email: &EmailAddress,
    client: &str,
    shop_name: &str,
    sign_in_url: impl Fn(&str) -> String,
    now: i64,
) -> Result<()> {
    // Every request counts (none is "right"): the limit is on links asked for, not on guesses.
    let keys = [format!("email:{}", email.normalized()), format!("ip:{client}")];
    let _counted = SIGN_IN_LINKS.begin(db, &keys, now, "Too many sign-in links were asked for.").await?;
    let mut tx = db.begin_write().await?;
    // Touching the reader's row tells whether the shop knows the address and, on PostgreSQL, holds
    // its lock: two requests at once take turns, so the later one spends the earlier one's link.
    let known = sqlx::query("UPDATE readers SET updated_at = $2 WHERE email_normalized = $1")
        .bind(email.normalized())
        .bind(now)
        .execute(&mut *tx)
        .await?
        .rows_affected();
    if known == 0 {
        tx.rollback().await?;
        return Ok(());
    }
    // Two UUIDs: 244 random bits.
    let token = format!("{}{}", uuid::Uuid::new_v4().simple(), uuid::Uuid::new_v4().simple());
    sqlx::query("UPDATE sign_in_links SET used_at = $2 WHERE email_normalized = $1 AND used_at IS NULL")
        .bind(email.normalized())
        .bind(now)
        .execute(&mut *tx)
        .await?;
    sqlx::query(
        "INSERT INTO sign_in_links (token_hash, email_normalized, created_at, expires_at) VALUES ($1, $2, $3, $4)",
    )
    .bind(token_hash(&token))
    .bind(email.normalized())
    .bind(now)
    .bind(now + LINK_LIFETIME_SECS)
    .execute(&mut *tx)
    .await?;
    let message = EmailMessage {
        subject: format!("Your sign-in link for {shop_name}"),
        body: format!(
            "Hello,\n\nTo sign in to your account at {shop_name}, open this link within 15 minutes and press \
             \"Sign in\":\n\n  {}\n\nThe link works once. If you did not ask for it, you can ignore this email: \
             nobody can sign in without it.\n",
            sign_in_url(&token)
        ),
    };
    email::enqueue(&mut tx, None, "sign_in_link", email.as_str(), &message, now).await?;
    tx.commit().await?;
    Ok(())
}

fn unusable() -> Error {
    Error::not_found(
        "sign_in_link_unusable",
        "This sign-in link has expired, has been used, or was replaced by a newer one. Ask for a new link.",
    )
}

/// True when the token is a link that can still sign someone in (for the page a GET shows;
/// it spends nothing).
pub async fn link_is_usable(db: &Db, token: &str, now: i64) -> Result<bool> {
    let row: Option<(String,)> = sqlx::query_as(
        "SELECT email_normalized FROM sign_in_links WHERE token_hash = $1 AND used_at IS NULL AND expires_at > $2",
    )
    .bind(token_hash(token))
    .bind(now)
    .fetch_optional(db.write_turn().await?.pool())
    .await?;
    Ok(row.is_some())
}

/// Spends the token and answers whose it was (the normalised email). One conditional update:
/// two presses of the button at once sign in once.
pub async fn sign_in(db: &Db, token: &str, now: i64) -> Result<String> {
    if token.len() > 128 || !token.bytes().all(|b| b.is_ascii_alphanumeric()) {
        return Err(unusable());
    }
    let spent: Option<(String,)> = sqlx::query_as(
        "UPDATE sign_in_links SET used_at = $2 WHERE token_hash = $1 AND used_at IS NULL AND expires_at > $2 \
         RETURNING email_normalized",
    )
    .bind(token_hash(token))
    .bind(now)
    .fetch_optional(&db.pool)
    .await?;
    spent.map(|(email,)| email).ok_or_else(unusable)
}
