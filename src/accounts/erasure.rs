//! Erasing a reader at their request (or staff's on their behalf): every name, email and address
//! the shop holds for them is replaced by a pseudonym or removed, in one transaction with its audit
//! entry. Orders keep their lines, amounts and payment references, as the accounts must; the
//! reader's subscriptions end, since nobody is left to mail or sign in.

use serde::Serialize;

use crate::{
    audit::{self, Actor},
    db::Db,
    error::{Error, Result},
    orders::{self, mailing_list},
};

/// What an erasure would stop, for the warning shown before it.
#[derive(Clone, Debug, Serialize)]
pub struct ErasureWarning {
    /// "Socialist Worker, print edition: 11 issues left".
    pub stopping: Vec<String>,
    /// True when a print subscription still has issues to mail.
    pub stops_print: bool,
    pub orders: usize,
}

/// What an erasure did.
#[derive(Clone, Debug, Serialize)]
pub struct Erased {
    /// What the reader's records now carry instead of their email.
    pub pseudonym: String,
    pub orders: u64,
    pub subscriptions_ended: u64,
}

pub async fn warning(db: &Db, email_normalized: &str, now: i64) -> Result<ErasureWarning> {
    let overview = super::overview(db, email_normalized, now).await?;
    let running: Vec<_> = overview.subscriptions.iter().filter(|s| s.issues_left > 0).collect();
    Ok(ErasureWarning {
        stopping: running
            .iter()
            .map(|s| {
                let left =
                    if s.issues_left == 1 { "1 issue left".into() } else { format!("{} issues left", s.issues_left) };
                format!("{}, {} edition: {left}", s.publication, s.edition)
            })
            .collect(),
        stops_print: running.iter().any(|s| s.edition == "print"),
        orders: overview.orders.len(),
    })
}

/// The name that replaces an erased reader's on their records.
pub const ERASED_NAME: &str = "Erased reader";

/// Erases the reader with this normalised email. Refused while one of their orders awaits its
/// payment (settling it would need the address); nothing changes then.
pub async fn erase(db: &Db, email_normalized: &str, actor: &Actor, now: i64) -> Result<Erased> {
    let pseudonym = format!("erased-{}@erased.invalid", &uuid::Uuid::new_v4().simple().to_string()[..16]);
    let mut tx = db.begin_write().await?;
    // The reader's checkouts and settlements wait for this, and no mailing list is closed halfway
    // through it (a closed list is fixed, so it must not copy the reader after this commits).
    orders::lock_reader(&mut tx, email_normalized, now).await?;
    mailing_list::hold_all_lists_open(&mut tx, db.backend).await?;
    let (pending,): (i64,) =
        sqlx::query_as("SELECT COUNT(*) FROM orders WHERE email_normalized = $1 AND status = 'pending'")
            .bind(email_normalized)
            .fetch_one(&mut *tx)
            .await?;
    if pending > 0 {
        return Err(Error::Conflict {
            code: "order_awaiting_payment",
            message: "An order of yours is waiting for its payment. Pay for it or let it expire (within an hour), \
                      then ask again."
                .into(),
        });
    }
    let (held,): (i64,) = sqlx::query_as(
        "SELECT (SELECT COUNT(*) FROM orders WHERE email_normalized = $1) + \
         (SELECT COUNT(*) FROM subscriptions WHERE email_normalized = $1)",
    )
    .bind(email_normalized)
    .fetch_one(&mut *tx)
    .await?;
    if held == 0 {
        return Err(Error::not_found("reader_not_found", "The shop holds no orders or subscriptions for that email."));
    }
    // Copies on closed mailing lists not yet mailed go too: the address is about to be erased.
    sqlx::query(
        "DELETE FROM mailing_list_copies WHERE order_id IN (SELECT id FROM orders WHERE email_normalized = $1)",
    )
    .bind(email_normalized)
    .execute(&mut *tx)
    .await?;
    sqlx::query(
        "DELETE FROM subscription_addresses WHERE subscription_id IN \
         (SELECT id FROM subscriptions WHERE email_normalized = $1)",
    )
    .bind(email_normalized)
    .execute(&mut *tx)
    .await?;
    let subscriptions_ended = sqlx::query(
        "UPDATE subscriptions SET email = $2, email_normalized = $2, name = $3, ship_line1 = NULL, ship_line2 = NULL, \
         ship_city = NULL, ship_region = NULL, ship_postal_code = NULL, ship_country = NULL, status = 'ended' \
         WHERE email_normalized = $1",
    )
    .bind(email_normalized)
    .bind(&pseudonym)
    .bind(ERASED_NAME)
    .execute(&mut *tx)
    .await?
    .rows_affected();
    // Gifts: those the reader gave no longer name them; those given to them no longer hold their
    // name, address or message in the giver's order (or in anyone's cart).
    sqlx::query(
        "UPDATE subscriptions SET gift_from_email = $2, gift_from_email_normalized = $2, gift_from_name = $3 \
         WHERE gift_from_email_normalized = $1",
    )
    .bind(email_normalized)
    .bind(&pseudonym)
    .bind(ERASED_NAME)
    .execute(&mut *tx)
    .await?;
    sqlx::query(
        "UPDATE order_gifts SET recipient_name = $2, recipient_email = NULL, ship_line1 = NULL, ship_line2 = NULL, \
         ship_city = NULL, ship_region = NULL, ship_postal_code = NULL, ship_country = NULL, message = NULL \
         WHERE lower(recipient_email) = $1",
    )
    .bind(email_normalized)
    .bind(ERASED_NAME)
    .execute(&mut *tx)
    .await?;
    sqlx::query("DELETE FROM cart_gifts WHERE lower(recipient_email) = $1")
        .bind(email_normalized)
        .execute(&mut *tx)
        .await?;
    sqlx::query("UPDATE order_lines SET beneficiary = $2 WHERE beneficiary = $1")
        .bind(email_normalized)
        .bind(&pseudonym)
        .execute(&mut *tx)
        .await?;
    // Delivered mail keeps its subject and date (that it was sent); waiting mail is not sent.
    const READERS_MAIL: &str =
        "(lower(recipient) = $1 OR order_id IN (SELECT id FROM orders WHERE email_normalized = $1))";
    sqlx::query(&format!("DELETE FROM email_outbox WHERE status <> 'sent' AND {READERS_MAIL}"))
        .bind(email_normalized)
        .execute(&mut *tx)
        .await?;
    sqlx::query(&format!("UPDATE email_outbox SET recipient = $2, body = '' WHERE {READERS_MAIL}"))
        .bind(email_normalized)
        .bind(&pseudonym)
        .execute(&mut *tx)
        .await?;
    // The cart link goes too: it would show the orders to the browser they were placed from.
    let orders = sqlx::query(
        "UPDATE orders SET email = $2, email_normalized = $2, name = $3, ship_line1 = NULL, ship_line2 = NULL, \
         ship_city = NULL, ship_region = NULL, ship_postal_code = NULL, ship_country = NULL, cart_id = NULL, \
         payment_url = NULL WHERE email_normalized = $1",
    )
    .bind(email_normalized)
    .bind(&pseudonym)
    .bind(ERASED_NAME)
    .execute(&mut *tx)
    .await?
    .rows_affected();
    sqlx::query("UPDATE coupon_redemptions SET email_normalized = $2 WHERE email_normalized = $1")
        .bind(email_normalized)
        .bind(&pseudonym)
        .execute(&mut *tx)
        .await?;
    sqlx::query("DELETE FROM sign_in_links WHERE email_normalized = $1")
        .bind(email_normalized)
        .execute(&mut *tx)
        .await?;
    sqlx::query("DELETE FROM attempt_counts WHERE limiter_key = $1")
        .bind(format!("email:{email_normalized}"))
        .execute(&mut *tx)
        .await?;
    // Earlier audit entries about this reader (a staff export) name them by email.
    sqlx::query("UPDATE audit_log SET entity_id = $2 WHERE entity = 'reader' AND entity_id = $1")
        .bind(email_normalized)
        .bind(&pseudonym)
        .execute(&mut *tx)
        .await?;
    sqlx::query("DELETE FROM readers WHERE email_normalized = $1").bind(email_normalized).execute(&mut *tx).await?;
    let erased = Erased { pseudonym, orders, subscriptions_ended };
    let change = audit::Change {
        action: "reader.erase",
        entity: "reader",
        entity_id: &erased.pseudonym,
        before: None,
        after: Some(serde_json::json!({ "orders": orders, "subscriptions_ended": subscriptions_ended })),
    };
    audit::record(&mut tx, actor, change, now).await?;
    tx.commit().await?;
    Ok(erased)
}
