//! What staff see of orders and subscriptions: order lists, refunds, subscribers and the
//! dashboard's figures. The print run's mailing list is `mailing_list.rs`.

use serde::Serialize;
use sqlx::FromRow;

use super::{terms, Order};
use crate::{
    audit::{self, Actor},
    db::contains_pattern,
    db::Db,
    email::EmailAddress,
    error::{Error, Result},
};

#[derive(Clone, Debug, Default)]
pub struct OrderFilter {
    pub status: Option<String>,
    /// Unix seconds, inclusive.
    pub from: Option<i64>,
    /// Unix seconds, exclusive.
    pub to: Option<i64>,
    pub email: Option<String>,
}

/// Orders matching the filter, newest first (at most 500).
pub async fn list_orders(db: &Db, filter: &OrderFilter) -> Result<Vec<Order>> {
    let sql = format!(
        "SELECT {} FROM orders WHERE ($1 IS NULL OR status = $1) AND ($2 IS NULL OR created_at >= $2) \
         AND ($3 IS NULL OR created_at < $3) AND ($4 IS NULL OR email_normalized LIKE $4 ESCAPE '\\') \
         ORDER BY created_at DESC LIMIT 500",
        super::ORDER_COLUMNS
    );
    let email = filter.email.as_deref().map(|typed| contains_pattern(&EmailAddress::normalize(typed)));
    Ok(sqlx::query_as(&sql)
        .bind(&filter.status)
        .bind(filter.from)
        .bind(filter.to)
        .bind(email)
        .fetch_all(&db.pool)
        .await?)
}

/// Marks a paid (or reviewed) order refunded and ends the subscriptions it created, in one
/// transaction with its audit entry. The money itself is returned by the payment provider first.
pub async fn mark_refunded(
    db: &Db,
    order_id: &str,
    refund_reference: Option<&str>,
    actor: &Actor,
    now: i64,
) -> Result<()> {
    let mut tx = db.begin_write().await?;
    let refunded = sqlx::query(
        "UPDATE orders SET status = 'refunded', review_reason = COALESCE($2, review_reason) \
         WHERE id = $1 AND status IN ('paid', 'review')",
    )
    .bind(order_id)
    .bind(refund_reference.map(|r| format!("refunded: {r}")))
    .execute(&mut *tx)
    .await?
    .rows_affected();
    if refunded == 0 {
        return Err(Error::Conflict {
            code: "not_refundable",
            message: "Only a paid order can be refunded, once.".into(),
        });
    }
    let ended = sqlx::query("UPDATE subscriptions SET status = 'ended' WHERE order_id = $1 AND status = 'active'")
        .bind(order_id)
        .execute(&mut *tx)
        .await?
        .rows_affected();
    audit::record(
        &mut tx,
        actor,
        audit::Change {
            action: "order.refund",
            entity: "order",
            entity_id: order_id,
            before: Some(serde_json::json!({"status": "paid"})),
            after: Some(
                serde_json::json!({"status": "refunded", "subscriptions_ended": ended, "reference": refund_reference}),
            ),
        },
        now,
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

/// A subscription as staff see it, with where it goes.
#[derive(Clone, Debug, Serialize, FromRow)]
pub struct Subscriber {
    pub id: String,
    pub order_id: String,
    pub email: String,
    pub name: String,
    pub publication: String,
    pub edition: String,
    pub first_period: i64,
    pub last_period: i64,
    pub status: String,
    pub ship_line1: Option<String>,
    pub ship_line2: Option<String>,
    pub ship_city: Option<String>,
    pub ship_region: Option<String>,
    pub ship_postal_code: Option<String>,
    pub ship_country: Option<String>,
}

impl Subscriber {
    pub fn first_issue(&self) -> String {
        terms::describe(self.first_period)
    }

    pub fn last_issue(&self) -> String {
        terms::describe(self.last_period)
    }
}

/// The figures on the admin's front page.
#[derive(Clone, Debug, Serialize)]
pub struct Dashboard {
    pub pending_orders: i64,
    pub review_orders: i64,
    pub paid_orders: i64,
    /// Active subscriptions that have not ended by the current issue period.
    pub active_subscriptions: i64,
    pub active_coupons: i64,
}

pub async fn dashboard(db: &Db, current_period: i64) -> Result<Dashboard> {
    let by_status: Vec<(String, i64)> =
        sqlx::query_as("SELECT status, COUNT(*) FROM orders GROUP BY status").fetch_all(&db.pool).await?;
    let orders_in = |status: &str| by_status.iter().find(|(s, _)| s == status).map_or(0, |(_, n)| *n);
    let (active_subscriptions,): (i64,) =
        sqlx::query_as("SELECT COUNT(*) FROM subscriptions WHERE status = 'active' AND last_period >= $1")
            .bind(current_period)
            .fetch_one(&db.pool)
            .await?;
    let (active_coupons,): (i64,) =
        sqlx::query_as("SELECT COUNT(*) FROM coupons WHERE active = 1").fetch_one(&db.pool).await?;
    Ok(Dashboard {
        pending_orders: orders_in("pending"),
        review_orders: orders_in("review"),
        paid_orders: orders_in("paid"),
        active_subscriptions,
        active_coupons,
    })
}

/// Every subscription of one reader (any status), oldest first: for their data export.
pub async fn subscriptions_of_reader(db: &Db, email_normalized: &str) -> Result<Vec<Subscriber>> {
    Ok(sqlx::query_as(
        "SELECT id, order_id, email, name, publication, edition, first_period, last_period, status, ship_line1, \
         ship_line2, ship_city, ship_region, ship_postal_code, ship_country FROM subscriptions \
         WHERE email_normalized = $1 ORDER BY first_period, id",
    )
    .bind(email_normalized)
    .fetch_all(&db.pool)
    .await?)
}

/// Active subscriptions that have not ended by `current_period`; those ending within `ending_within`
/// periods when given; those whose email contains `email` when given.
pub async fn subscribers(
    db: &Db,
    current_period: i64,
    ending_within: Option<i64>,
    email: Option<&str>,
) -> Result<Vec<Subscriber>> {
    let sql = "SELECT id, order_id, email, name, publication, edition, first_period, last_period, status, \
     ship_line1, ship_line2, ship_city, ship_region, ship_postal_code, ship_country FROM subscriptions WHERE status = 'active' AND last_period >= $1 AND ($2 IS NULL OR last_period <= $2) \
         AND ($3 IS NULL OR email_normalized LIKE $3 ESCAPE '\\') ORDER BY last_period, email_normalized LIMIT 1000";
    let email = email.map(|typed| contains_pattern(&EmailAddress::normalize(typed)));
    Ok(sqlx::query_as(sql)
        .bind(current_period)
        .bind(ending_within.map(|n| current_period + n))
        .bind(email)
        .fetch_all(&db.pool)
        .await?)
}
