//! Gifts in a cart: each a row of its own (`cart_gifts`), so one cart may hold several gifts of a
//! plan beside the buyer's own subscription. Each change is one statement or one transaction.

use serde::Serialize;

use super::Notice;
use crate::{
    catalog::rates::{Rate, RateChoice},
    db::{Db, Param, ReadRow, Statements},
    error::{Error, Result},
    gifts::{self, Gift, GiftColumns},
};

/// How many gifts one cart may hold (a guard against a script, not a limit for readers).
pub const MAX_GIFTS: i64 = 50;

/// A gift waiting in a cart.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct CartGift {
    pub id: String,
    pub sku: String,
    pub rate: Rate,
    pub rate_amount: Option<i64>,
    pub gift: Gift,
    /// How it reads in the cart.
    pub description: String,
}

#[derive(sqlx::FromRow)]
struct GiftRow {
    id: String,
    sku: String,
    rate: Rate,
    rate_amount: Option<i64>,
    #[sqlx(flatten)]
    gift: GiftColumns,
}

impl ReadRow for GiftRow {
    fn from_sqlite(row: &rusqlite::Row<'_>) -> rusqlite::Result<GiftRow> {
        Ok(GiftRow {
            id: row.get("id")?,
            sku: row.get("sku")?,
            rate: row.get("rate")?,
            rate_amount: row.get("rate_amount")?,
            gift: GiftColumns::from_sqlite(row)?,
        })
    }
}

impl GiftRow {
    fn into_gift(self) -> CartGift {
        let gift = self.gift.into_gift();
        CartGift {
            id: self.id,
            sku: self.sku,
            rate: self.rate,
            rate_amount: self.rate_amount,
            description: gift.describe(),
            gift,
        }
    }
}

fn select(filter: &str) -> String {
    format!("SELECT id, sku, rate, rate_amount, {} FROM cart_gifts WHERE {filter}", gifts::GIFT_COLUMNS)
}

/// The cart's gifts, oldest first.
pub async fn cart_gifts(conn: &mut impl Statements, cart_id: &str) -> Result<Vec<CartGift>> {
    let sql = select("cart_id = $1 ORDER BY added_at, id");
    let rows: Vec<GiftRow> = conn.rows(&sql, &[Param::Text(cart_id)]).await?;
    Ok(rows.into_iter().map(GiftRow::into_gift).collect())
}

/// One gift of the cart; a gift of another cart is "not in your cart".
pub async fn find_cart_gift(db: &Db, cart_id: &str, id: &str) -> Result<CartGift> {
    let sql = select("cart_id = $1 AND id = $2");
    let row: Option<GiftRow> = sqlx::query_as(&sql).bind(cart_id).bind(id).fetch_optional(&db.pool).await?;
    row.map(GiftRow::into_gift).ok_or_else(gift_not_in_cart)
}

pub fn gift_not_in_cart() -> Error {
    Error::not_found("gift_not_in_cart", "That gift is not in your cart.")
}

/// Puts a gift of `sku` in the cart (opening it). `instead_of_own_line`: the buyer marked their own
/// line a gift, which leaves the cart in the same transaction.
pub async fn add_gift(
    db: &Db,
    cart_id: &str,
    sku: &str,
    choice: RateChoice,
    gift: &Gift,
    instead_of_own_line: bool,
    now: i64,
) -> Result<Vec<Notice>> {
    let mut tx = db.unflushed_write().await?.begin().await?;
    super::store::open_cart(&mut tx, cart_id, now).await?;
    let (count,): (i64,) =
        sqlx::query_as("SELECT COUNT(*) FROM cart_gifts WHERE cart_id = $1").bind(cart_id).fetch_one(&mut *tx).await?;
    if count >= MAX_GIFTS {
        return Err(Error::invalid(
            "too_many_gifts",
            format!("A cart holds up to {MAX_GIFTS} gifts: pay for these first, or contact us."),
        ));
    }
    // The buyer's own line made a gift keeps its rate, and leaves the cart in this transaction.
    let (mut rate, mut amount) = (choice.rate, choice.amount.map(|m| m.amount));
    if instead_of_own_line {
        let own: Option<(Rate, Option<i64>)> =
            sqlx::query_as("DELETE FROM cart_items WHERE cart_id = $1 AND sku = $2 RETURNING rate, rate_amount")
                .bind(cart_id)
                .bind(sku)
                .fetch_optional(&mut *tx)
                .await?;
        if let Some(own) = own {
            (rate, amount) = own;
        }
    }
    let id = uuid::Uuid::new_v4().simple().to_string();
    let sql = format!(
        "INSERT INTO cart_gifts (id, cart_id, sku, rate, rate_amount, {}, added_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19)",
        gifts::GIFT_COLUMNS
    );
    let insert = sqlx::query(&sql).bind(&id).bind(cart_id).bind(sku).bind(rate.as_str()).bind(amount);
    gifts::bind(insert, gift).bind(now).execute(&mut *tx).await?;
    tx.commit().await?;
    Ok(vec![Notice::new("gift_added", format!("{} is in your cart.", gift.describe()))])
}

/// Changes a gift's details (its plan and rate stay).
pub async fn update_gift(db: &Db, cart_id: &str, id: &str, gift: &Gift, now: i64) -> Result<Vec<Notice>> {
    let update = sqlx::query(
        "UPDATE cart_gifts SET recipient_name = $3, recipient_email = $4, ship_line1 = $5, ship_line2 = $6, \
         ship_city = $7, ship_region = $8, ship_postal_code = $9, ship_country = $10, message = $11, \
         first_period = $12, notify = $13, notify_on = $14, remind_recipient = $15 WHERE cart_id = $1 AND id = $2",
    )
    .bind(cart_id)
    .bind(id);
    let updated = gifts::bind(update, gift).execute(db.unflushed_write().await?.pool()).await?.rows_affected();
    if updated == 0 {
        return Err(gift_not_in_cart());
    }
    sqlx::query("UPDATE carts SET updated_at = $2 WHERE id = $1")
        .bind(cart_id)
        .bind(now)
        .execute(db.unflushed_write().await?.pool())
        .await?;
    Ok(vec![Notice::new("gift_updated", format!("Saved: {}.", gift.describe()))])
}

pub async fn remove_gift(db: &Db, cart_id: &str, id: &str) -> Result<Vec<Notice>> {
    let removed = sqlx::query("DELETE FROM cart_gifts WHERE cart_id = $1 AND id = $2")
        .bind(cart_id)
        .bind(id)
        .execute(db.unflushed_write().await?.pool())
        .await?
        .rows_affected();
    if removed == 0 {
        return Err(gift_not_in_cart());
    }
    Ok(vec![Notice::new("gift_removed", "Gift removed from your cart.")])
}
