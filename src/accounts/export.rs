//! "Your data": everything the shop holds about a reader, as one JSON document they can download:
//! their orders (with the names and addresses they typed) and their subscriptions.

use serde::Serialize;

use crate::{
    audit::{self, Actor},
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
    /// Each print subscription's addresses, with the first issue (period) each applies to.
    pub addresses: Vec<(String, Vec<orders::AddressFrom>)>,
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
    let mut addresses = Vec::new();
    for subscription in subscriptions.iter().filter(|s| s.edition == "print") {
        addresses.push((subscription.id.clone(), orders::address_history(db, &subscription.id).await?));
    }
    Ok(ReaderData { email: email_normalized.to_string(), exported_at: now, orders, subscriptions, addresses })
}

/// The same document for staff answering a reader's request, with an audit entry saying who took it.
pub async fn export_for_staff(db: &Db, email_normalized: &str, actor: &Actor, now: i64) -> Result<ReaderData> {
    let data = export(db, email_normalized, now).await?;
    let mut conn = db.pool.acquire().await?;
    let change = audit::Change {
        action: "reader.export",
        entity: "reader",
        entity_id: email_normalized,
        before: None,
        after: Some(serde_json::json!({ "orders": data.orders.len(), "subscriptions": data.subscriptions.len() })),
    };
    audit::record(&mut *conn, actor, change, now).await?;
    Ok(data)
}
