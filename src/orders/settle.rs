//! Settling an order exactly once. Whoever first moves it out of `pending` with a conditional
//! update does the rest in the same transaction (subscriptions, items to ship, the coupon's final
//! redemption, the confirmation email in the outbox); everyone else (a repeated webhook, the
//! success page, the reconciliation job) finds it settled and changes nothing.

use sqlx::{AnyConnection, Row};

use super::{terms, LineKind, Order, OrderLine, OrderStatus};
use crate::{
    db::{Backend, Db},
    email::{self, EmailAddress},
    error::{Error, Result},
};

/// What the payment provider says happened.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// Paid this amount in this currency (checked against the order before anything is fulfilled).
    Paid { amount: i64, currency: String, reference: Option<String> },
    /// The checkout expired, was cancelled or its payment failed.
    Failed { reason: String },
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Settled {
    /// This call fulfilled the order.
    Fulfilled,
    /// This call failed the order and released its coupon.
    Failed,
    /// This call put the order aside for staff (amount mismatch, or paid after it had failed).
    Review(String),
    /// Someone else settled it first; it is in this state.
    AlreadySettled(String),
}

pub async fn settle(db: &Db, order_id: &str, outcome: Outcome, now: i64) -> Result<Settled> {
    match outcome {
        Outcome::Paid { amount, currency, reference } => fulfil(db, order_id, amount, &currency, reference, now).await,
        Outcome::Failed { reason } => fail_order(db, order_id, &reason, now).await,
    }
}

async fn status_of(conn: &mut AnyConnection, order_id: &str) -> Result<String> {
    let row: Option<(String,)> =
        sqlx::query_as("SELECT status FROM orders WHERE id = $1").bind(order_id).fetch_optional(&mut *conn).await?;
    row.map(|(s,)| s).ok_or_else(|| Error::not_found("order_not_found", "There is no such order."))
}

async fn fulfil(
    db: &Db,
    order_id: &str,
    amount: i64,
    currency: &str,
    reference: Option<String>,
    now: i64,
) -> Result<Settled> {
    let order = super::find_order(db, order_id)
        .await?
        .ok_or_else(|| Error::not_found("order_not_found", "There is no such order."))?;
    let lines = super::order_lines(db, order_id).await?;
    let gifts = super::gifts::gifts_of_order(db, order_id).await?;
    let mut facts = Vec::new();
    for line in lines.iter().filter(|l| l.kind == LineKind::Subscription) {
        facts.push(super::mailing_list::schedule(db, &line.publication).await?);
    }

    let mut tx = db.begin_write().await?;
    // The readers' locks (the buyer's, each gift recipient's): two of their payments settled at
    // once read each other's terms and discounts (PostgreSQL would otherwise let both extend the
    // same running term).
    let buyer = EmailAddress::normalize(&order.email);
    let readers: Vec<String> = lines.iter().filter_map(|l| l.beneficiary.clone()).collect();
    super::lock_readers(&mut tx, &buyer, &readers, now).await?;
    if amount != order.total || !currency.eq_ignore_ascii_case(order.currency.code()) {
        let reason = format!(
            "the payment provider reported {amount} {currency} for an order of {} {}",
            order.total,
            order.currency.code()
        );
        return put_aside(tx, order_id, reason, &reference, [OrderStatus::Pending, OrderStatus::Pending]).await;
    }
    if let Some(reason) = discount_not_due(&mut tx, &order, &lines).await? {
        return put_aside(tx, order_id, reason, &reference, [OrderStatus::Pending, OrderStatus::Failed]).await;
    }
    let claimed = sqlx::query(
        "UPDATE orders SET status = 'paid', paid_at = $2, payment_reference = $3, closed_at = $2 \
         WHERE id = $1 AND status = 'pending'",
    )
    .bind(order_id)
    .bind(now)
    .bind(&reference)
    .execute(&mut *tx)
    .await?
    .rows_affected();
    if claimed == 0 {
        // Money arrived for a checkout that had already failed (its coupon released): staff decide.
        let reason = "paid after its checkout had failed".to_string();
        return put_aside(tx, order_id, reason, &reference, [OrderStatus::Failed, OrderStatus::Failed]).await;
    }

    let payment_period = terms::period_at(now);
    let mut facts = facts.into_iter();
    let mut subscriptions = Vec::new();
    for line in &lines {
        if line.kind == LineKind::Subscription {
            let facts = facts.next().ok_or_else(|| Error::Internal(anyhow::anyhow!("term facts missing")))?;
            let gift = gifts.iter().find(|g| g.position == line.position);
            let term = Term { facts: &facts, payment_period, gift };
            let subscription = create_subscription(&mut tx, db.backend, &order, line, term, now).await?;
            if let Some(gift) = gift {
                super::gifts::schedule_notice(&mut tx, &order, gift, &subscription, now).await?;
            }
            subscriptions.push(subscription);
        } else {
            sqlx::query(
                "INSERT INTO order_items (order_id, order_position, issue_sku, quantity, action, created_at) \
                 VALUES ($1, $2, $3, $4, $5, $6)",
            )
            .bind(order_id)
            .bind(line.position)
            .bind(&line.sku)
            .bind(line.quantity)
            .bind(if line.edition == "print" { "ship" } else { "unlock" })
            .bind(now)
            .execute(&mut *tx)
            .await?;
        }
    }
    sqlx::query(
        "UPDATE coupon_redemptions SET status = 'final', updated_at = $2 WHERE order_id = $1 AND status = 'reserved'",
    )
    .bind(order_id)
    .bind(now)
    .execute(&mut *tx)
    .await?;
    if let Some(cart_id) = &order.cart_id {
        // Only what was bought leaves the cart: a line added in another tab meanwhile stays, and
        // a gift leaves by its own row (the buyer's own line of the same plan stays).
        for line in &lines {
            match gifts.iter().find(|g| g.position == line.position) {
                Some(gift) => {
                    sqlx::query("DELETE FROM cart_gifts WHERE cart_id = $1 AND id = $2")
                        .bind(cart_id)
                        .bind(&gift.cart_gift_id)
                        .execute(&mut *tx)
                        .await?
                }
                None => {
                    sqlx::query("DELETE FROM cart_items WHERE cart_id = $1 AND sku = $2")
                        .bind(cart_id)
                        .bind(&line.sku)
                        .execute(&mut *tx)
                        .await?
                }
            };
        }
        sqlx::query("UPDATE carts SET coupon_id = NULL WHERE id = $1 AND coupon_id = $2")
            .bind(cart_id)
            .bind(&order.coupon_id)
            .execute(&mut *tx)
            .await?;
    }
    let base_url = crate::settings::base_url(&mut tx).await?;
    let message = super::confirmation::order_confirmation(&order, &lines, &subscriptions, &gifts, base_url.as_deref());
    email::enqueue(&mut tx, Some(order_id), "order_confirmation", &order.email, &message, now).await?;
    tx.commit().await?;
    tracing::info!(order_id, total = order.total, "order paid and fulfilled");
    Ok(Settled::Fulfilled)
}

/// Puts a paid order aside for staff (`review`) when it is in one of the `from` states, and
/// commits; an order already settled otherwise is left as it is.
async fn put_aside(
    mut tx: crate::db::WriteTx,
    order_id: &str,
    reason: String,
    reference: &Option<String>,
    from: [OrderStatus; 2],
) -> Result<Settled> {
    let marked = sqlx::query(
        "UPDATE orders SET status = 'review', review_reason = $2, payment_reference = COALESCE($3, payment_reference) \
         WHERE id = $1 AND status IN ($4, $5)",
    )
    .bind(order_id)
    .bind(&reason)
    .bind(reference)
    .bind(from[0].as_str())
    .bind(from[1].as_str())
    .execute(&mut *tx)
    .await?
    .rows_affected();
    let current = status_of(&mut tx, order_id).await?;
    tx.commit().await?;
    if marked == 1 {
        tracing::warn!(order_id, reason, "paid order put aside for staff");
        return Ok(Settled::Review(reason));
    }
    Ok(Settled::AlreadySettled(current))
}

/// Why a paid order must not be fulfilled as it stands, if it must not: it carries a
/// new-subscribers-only discount that the reader has had since (another order paid first, or a
/// subscription that began meanwhile). Staff decide (refund the difference, or the order).
async fn discount_not_due(conn: &mut AnyConnection, order: &Order, lines: &[OrderLine]) -> Result<Option<String>> {
    let Some(coupon_id) = &order.coupon_id else { return Ok(None) };
    let (new_subscribers_only,): (i64,) = sqlx::query_as("SELECT new_subscribers_only FROM coupons WHERE id = $1")
        .bind(coupon_id)
        .fetch_one(&mut *conn)
        .await?;
    if new_subscribers_only == 0 {
        return Ok(None);
    }
    // Each discounted line is judged by its beneficiary (the buyer, or a gift's recipient).
    let mut judged: Vec<(&str, &str)> = lines
        .iter()
        .filter(|l| l.discount > 0)
        .filter_map(|l| l.beneficiary.as_deref().map(|b| (b, l.publication.as_str())))
        .collect();
    judged.sort_unstable();
    judged.dedup();
    for (beneficiary, publication) in judged {
        if super::new_subscriber_discount_used(
            conn,
            beneficiary,
            publication,
            Some(&order.id),
            super::DiscountsCounted::Paid,
        )
        .await?
        {
            return Ok(Some(format!(
                "paid with the new-subscriber coupon {}, which {beneficiary} had already had for {publication}",
                order.coupon_code.as_deref().unwrap_or(coupon_id)
            )));
        }
    }
    Ok(None)
}

/// What a new term starts from: the publication's schedule, the month paid, and for a gift its
/// recipient and chosen first issue.
struct Term<'a> {
    facts: &'a super::mailing_list::PublicationSchedule,
    payment_period: i64,
    gift: Option<&'a super::gifts::OrderGift>,
}

async fn create_subscription(
    conn: &mut AnyConnection,
    backend: Backend,
    order: &Order,
    line: &OrderLine,
    term: Term<'_>,
    now: i64,
) -> Result<super::Subscription> {
    let Term { facts, payment_period, gift } = term;
    // Whose subscription it is: the buyer's, or the gift's recipient's (who may have no email).
    let (email, name) = match gift {
        Some(g) => (g.gift.recipient_email.clone().unwrap_or_default(), g.gift.recipient_name.clone()),
        None => (order.email.clone(), order.name.clone()),
    };
    let email_normalized = if email.is_empty() { String::new() } else { EmailAddress::normalize(&email) };
    // The reader's running subscription to this edition, read in the transaction that extends it
    // (a recipient without an email has none we can find).
    let current_last: Option<i64> = if email_normalized.is_empty() {
        None
    } else {
        let running = sqlx::query(
            "SELECT MAX(last_period) AS last FROM subscriptions WHERE email_normalized = $1 AND publication = $2 \
             AND edition = $3 AND status = 'active' AND last_period >= $4",
        )
        .bind(&email_normalized)
        .bind(&line.publication)
        .bind(&line.edition)
        .bind(payment_period)
        .fetch_one(&mut *conn)
        .await?;
        running.try_get("last")?
    };
    let years = line.term_years.unwrap_or(1);
    let print = line.edition == "print";
    // A print term starts after the newest issue whose mailing list is closed: that list is fixed.
    let mut latest = facts.latest_published;
    if print {
        super::mailing_list::hold_lists_open(conn, backend, &line.publication).await?;
        latest = latest.max(super::mailing_list::latest_closed(conn, &line.publication).await?);
    }
    // A gift starts with the issue chosen, unless that issue is already out (paid late).
    let next = terms::first_issue(facts.frequency, latest, payment_period, current_last);
    let first = gift.and_then(|g| g.gift.first_period).map_or(next, |chosen| chosen.max(next));
    let last = terms::last_issue(facts.frequency, first, years);
    let id = uuid::Uuid::new_v4().simple().to_string();
    let address = match gift {
        Some(g) => g.gift.address.clone(),
        None => order.shipping_address(),
    };
    let address = address.filter(|_| print);
    use super::BindAddress;
    sqlx::query(
        "INSERT INTO subscriptions (id, order_id, order_position, email, email_normalized, name, publication, edition, \
         term_years, first_period, last_period, ship_line1, ship_line2, ship_city, ship_region, ship_postal_code, \
         ship_country, status, created_at, gift_from_email, gift_from_email_normalized, gift_from_name, \
         gift_remind_recipient) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, 'active', $18, $19, $20, \
         $21, $22)",
    )
    .bind(&id)
    .bind(&order.id)
    .bind(line.position)
    .bind(&email)
    .bind(&email_normalized)
    .bind(&name)
    .bind(&line.publication)
    .bind(&line.edition)
    .bind(years)
    .bind(first)
    .bind(last)
    .bind_address(address.as_ref())
    .bind(now)
    .bind(gift.map(|_| order.email.clone()))
    .bind(gift.map(|_| EmailAddress::normalize(&order.email)))
    .bind(gift.map(|_| order.name.clone()))
    .bind(gift.is_some_and(|g| g.gift.remind_recipient) as i64)
    .execute(&mut *conn)
    .await?;
    Ok(super::Subscription {
        id,
        title: line.name.clone(),
        order_id: order.id.clone(),
        order_position: line.position,
        email,
        name,
        publication: line.publication.clone(),
        edition: line.edition.clone(),
        term_years: years,
        first_period: first,
        last_period: last,
        status: "active".into(),
    })
}

/// Fails a pending order (expired, cancelled, payment failed) and releases its coupon reservation.
pub async fn fail_order(db: &Db, order_id: &str, reason: &str, now: i64) -> Result<Settled> {
    let mut tx = db.begin_write().await?;
    let failed = sqlx::query(
        "UPDATE orders SET status = 'failed', failure_reason = $2, closed_at = $3 WHERE id = $1 AND status = 'pending'",
    )
    .bind(order_id)
    .bind(reason)
    .bind(now)
    .execute(&mut *tx)
    .await?
    .rows_affected();
    if failed == 0 {
        let current = status_of(&mut tx, order_id).await?;
        tx.commit().await?;
        return Ok(Settled::AlreadySettled(current));
    }
    let released = sqlx::query(
        "UPDATE coupon_redemptions SET status = 'released', updated_at = $2 WHERE order_id = $1 AND status = 'reserved'",
    )
    .bind(order_id)
    .bind(now)
    .execute(&mut *tx)
    .await?
    .rows_affected();
    if released == 1 {
        // Only a coupon with a limit counts its uses; the row is written either way, so that staff
        // giving it a limit (and counting its uses) waits for this release, or this one for them.
        sqlx::query(
            "UPDATE coupons SET redemptions_used = CASE WHEN max_redemptions IS NULL THEN redemptions_used \
             ELSE redemptions_used - 1 END \
             WHERE id = (SELECT coupon_id FROM coupon_redemptions WHERE order_id = $1) \
             AND (max_redemptions IS NULL OR redemptions_used > 0)",
        )
        .bind(order_id)
        .execute(&mut *tx)
        .await?;
    }
    tx.commit().await?;
    tracing::info!(order_id, reason, "order failed");
    Ok(Settled::Failed)
}
