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
    pub subscriptions: Vec<orders::staff::Subscriber>,
}

#[derive(Serialize)]
pub struct OrderData {
    pub order: Order,
    pub lines: Vec<OrderLine>,
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
    let subscriptions = orders::staff::subscriptions_of_reader(db, email_normalized).await?;
    Ok(ReaderData { email: email_normalized.to_string(), exported_at: now, orders, subscriptions })
}
