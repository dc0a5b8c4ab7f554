//! Gift lines of an order: who receives each (kept with the order, whatever the cart does after),
//! their postage, and the recipient's notice put in the outbox when the order is paid.

use serde::Serialize;
use sqlx::AnyConnection;

use super::{Order, Subscription};
use crate::{
    cart::CartGift,
    db::{Db, Param, Statements},
    email,
    error::Result,
    gifts::{self, Gift, GiftWords, Notify},
    postage::Postage,
};

/// A gift line of an order.
#[derive(Clone, Debug, Serialize)]
pub struct OrderGift {
    pub position: i64,
    pub cart_gift_id: Option<String>,
    pub gift: Gift,
    /// Postage to the recipient's country (print), 0 when none or a coupon covered it.
    pub postage: i64,
    pub postage_zone: Option<String>,
    pub postage_copies: i64,
    pub postage_per_copy: i64,
}

impl OrderGift {
    /// "Postage for Bo Reader's gift to Canada: 12 copies at $1.50", when postage is charged.
    pub fn postage_label(&self, order: &Order) -> Option<String> {
        let country = self.gift.address.as_ref().map(|a| a.country.as_str())?;
        (self.postage > 0).then(|| {
            let label = crate::postage::describe(country, self.postage_copies, order.money(self.postage_per_copy));
            gift_postage_label(&label, &self.gift.recipient_name)
        })
    }
}

/// "Postage to Canada: 12 copies at $1.50 (gift for Bo Reader)": a gift's postage line, in the cart
/// before paying and on the order after.
pub fn gift_postage_label(postage_label: &str, recipient: &str) -> String {
    format!("{postage_label} (gift for {recipient})")
}

#[derive(sqlx::FromRow)]
struct OrderGiftRow {
    position: i64,
    cart_gift_id: Option<String>,
    #[sqlx(flatten)]
    gift: gifts::GiftColumns,
    postage: i64,
    postage_zone: Option<String>,
    postage_copies: i64,
    postage_per_copy: i64,
}

pub async fn order_gifts(conn: &mut AnyConnection, order_id: &str) -> Result<Vec<OrderGift>> {
    let sql = format!(
        "SELECT position, cart_gift_id, {}, postage, postage_zone, postage_copies, postage_per_copy \
         FROM order_gifts WHERE order_id = $1 ORDER BY position",
        gifts::GIFT_COLUMNS
    );
    let rows: Vec<OrderGiftRow> = sqlx::query_as(&sql).bind(order_id).fetch_all(&mut *conn).await?;
    Ok(rows
        .into_iter()
        .map(|r| OrderGift {
            position: r.position,
            cart_gift_id: r.cart_gift_id,
            gift: r.gift.into_gift(),
            postage: r.postage,
            postage_zone: r.postage_zone,
            postage_copies: r.postage_copies,
            postage_per_copy: r.postage_per_copy,
        })
        .collect())
}

/// Reads an order's gifts outside a transaction.
pub async fn gifts_of_order(db: &Db, order_id: &str) -> Result<Vec<OrderGift>> {
    order_gifts(&mut *db.pool.acquire().await?, order_id).await
}

/// Saves a gift line with the order (in its transaction).
pub(super) async fn save_gift(
    conn: &mut impl Statements,
    order_id: &str,
    position: i64,
    cart_gift: &CartGift,
    postage: Option<&Postage>,
) -> Result<()> {
    let sql = format!(
        "INSERT INTO order_gifts (order_id, position, cart_gift_id, {}, postage, postage_zone, postage_copies, \
         postage_per_copy) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20)",
        gifts::GIFT_COLUMNS
    );
    let mut params = vec![Param::Text(order_id), Param::Int(position), Param::Text(&cart_gift.id)];
    params.extend(gifts::params(&cart_gift.gift));
    params.extend([
        Param::Int(postage.map_or(0, |p| p.amount.amount)),
        Param::text_or_null(postage.map(|p| p.zone.as_str())),
        Param::Int(postage.map_or(0, |p| p.copies)),
        Param::Int(postage.map_or(0, |p| p.per_copy.amount)),
    ]);
    conn.execute(&sql, &params).await?;
    Ok(())
}

/// The words of a gift's notice and card.
pub fn words<'a>(
    order: &'a Order,
    gift: &'a Gift,
    subscription: &'a Subscription,
    base_url: Option<&str>,
    shop_name: &'a str,
) -> GiftWords<'a> {
    GiftWords {
        recipient_name: &gift.recipient_name,
        from_name: &order.name,
        title: &subscription.title,
        first_issue: subscription.first_issue(),
        last_issue: subscription.last_issue(),
        message: gift.message.as_deref(),
        digital: subscription.edition == "digital",
        sign_in_url: base_url.map(|base| format!("{base}/account/login")),
        shop_name,
    }
}

/// Puts the recipient's notice in the outbox, due at once or on the chosen day: the outbox sends
/// it once (one per order line, its claim guarding several instances).
pub(super) async fn schedule_notice(
    conn: &mut AnyConnection,
    order: &Order,
    gift: &OrderGift,
    subscription: &Subscription,
    now: i64,
) -> Result<()> {
    let Some(recipient) = &gift.gift.recipient_email else { return Ok(()) };
    let send_at = match gift.gift.notify {
        Notify::Never => return Ok(()),
        Notify::Now => now,
        Notify::Date(day) => day.max(now),
    };
    let base_url = crate::settings::base_url(conn).await?;
    let shop_name = crate::settings::shop_name(conn).await?;
    let message = gifts::gift_notice(&words(order, &gift.gift, subscription, base_url.as_deref(), &shop_name));
    let kind = format!("{}{}", gifts::NOTICE_KIND_PREFIX, gift.position);
    email::enqueue_at(conn, Some(&order.id), &kind, recipient, &message, now, send_at).await
}

/// The printable card of a paid order's gift at `position`; `None` when there is no such gift.
pub async fn gift_card(db: &Db, order: &Order, position: i64) -> Result<Option<Vec<u8>>> {
    if order.status != super::OrderStatus::Paid {
        return Ok(None);
    }
    let gifts = gifts_of_order(db, &order.id).await?;
    let subscriptions = super::subscriptions_of_order(db, &order.id).await?;
    let (Some(gift), Some(subscription)) =
        (gifts.iter().find(|g| g.position == position), subscriptions.iter().find(|s| s.order_position == position))
    else {
        return Ok(None);
    };
    let mut conn = db.pool.acquire().await?;
    let base_url = crate::settings::base_url(&mut conn).await?;
    let shop_name = crate::settings::shop_name(&mut conn).await?;
    let pdf = gifts::gift_card_pdf(&words(order, &gift.gift, subscription, base_url.as_deref(), &shop_name))?;
    Ok(Some(pdf))
}

/// A gift a reader gave, as their account lists it.
#[derive(Clone, Debug, Serialize, sqlx::FromRow)]
pub struct GiftGiven {
    pub subscription_id: String,
    pub order_id: String,
    pub order_position: i64,
    pub title: String,
    pub recipient: String,
    pub first_period: i64,
    pub last_period: i64,
    pub status: String,
}

/// The gifts a reader gave, newest first.
pub async fn gifts_given(db: &Db, buyer_normalized: &str) -> Result<Vec<GiftGiven>> {
    Ok(sqlx::query_as(
        "SELECT s.id AS subscription_id, s.order_id, s.order_position, l.name AS title, s.name AS recipient, \
         s.first_period, s.last_period, s.status FROM subscriptions s \
         JOIN order_lines l ON l.order_id = s.order_id AND l.position = s.order_position \
         WHERE s.gift_from_email_normalized = $1 ORDER BY s.created_at DESC, s.id",
    )
    .bind(buyer_normalized)
    .fetch_all(&db.pool)
    .await?)
}

/// How an order line reads on receipts: a gift names its recipient.
pub fn line_title(line: &super::OrderLine, gifts: &[OrderGift]) -> String {
    match gifts.iter().find(|g| g.position == line.position) {
        Some(g) => format!("{} (gift for {})", line.title(), g.gift.recipient_name),
        None => line.title(),
    }
}
