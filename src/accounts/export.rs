//! "Your data": everything the shop holds about a reader, as one JSON document they can download:
//! their orders (with the names and addresses they typed) and their subscriptions.

use serde::Serialize;

use crate::{
    db::Db,
    error::Result,
    orders::{self, Order, OrderLine},
};

#[derive(Serialize)]
pub struct ReaderData {
    pub email: String,
    pub exported_at: i64,
    pub orders: Vec<OrderData>,
    pub subscriptions: Vec<SubscriptionData>,
}

#[derive(Serialize)]
pub struct OrderData {
    pub order: Order,
    pub lines: Vec<OrderLine>,
}

#[derive(Serialize, sqlx::FromRow)]
pub struct SubscriptionData {
    pub id: String,
    pub order_id: String,
    pub name: String,
    pub publication: String,
    pub edition: String,
    /// Issue periods (`year × 12 + month − 1`) of the first and last issue.
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

/// Everything held about the reader with this normalised email.
pub async fn export(db: &Db, email_normalized: &str, now: i64) -> Result<ReaderData> {
    let ids: Vec<(String,)> =
        sqlx::query_as("SELECT id FROM orders WHERE email_normalized = $1 ORDER BY created_at, id")
            .bind(email_normalized)
            .fetch_all(&db.pool)
            .await?;
    let mut orders = Vec::new();
    for (id,) in ids {
        if let Some(order) = orders::find_order(db, &id).await? {
            orders.push(OrderData { lines: orders::order_lines(db, &id).await?, order });
        }
    }
    let subscriptions: Vec<SubscriptionData> = sqlx::query_as(
        "SELECT id, order_id, name, publication, edition, first_period, last_period, status, ship_line1, ship_line2, \
         ship_city, ship_region, ship_postal_code, ship_country FROM subscriptions \
         WHERE email_normalized = $1 ORDER BY first_period, id",
    )
    .bind(email_normalized)
    .fetch_all(&db.pool)
    .await?;
    Ok(ReaderData { email: email_normalized.to_string(), exported_at: now, orders, subscriptions })
}
