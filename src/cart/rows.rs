//! A cart's rows as read: the cart, its lines and each line's plan in one statement (see
//! `catalog::JoinedPlan`), on either database.

use crate::{
    catalog::{self, rates::Rate},
    db::{Db, Param},
    error::Result,
};

/// A cart line as stored, with its plan read in the same statement (`CART_SQL`).
#[derive(sqlx::FromRow)]
pub(super) struct LineRow {
    pub sku: String,
    pub quantity: i64,
    pub renewal: i64,
    pub rate: Rate,
    pub rate_amount: Option<i64>,
    /// The plan on sale its SKU names, if any (none for an issue: `catalog::line_product` reads those).
    #[sqlx(flatten)]
    pub plan: catalog::JoinedPlan,
}

impl crate::db::ReadRow for LineRow {
    fn from_sqlite(row: &rusqlite::Row<'_>) -> rusqlite::Result<LineRow> {
        Ok(LineRow {
            sku: row.get("sku")?,
            quantity: row.get("quantity")?,
            renewal: row.get("renewal")?,
            rate: row.get("rate")?,
            rate_amount: row.get("rate_amount")?,
            plan: catalog::JoinedPlan::from_sqlite(row)?,
        })
    }
}

/// A cart as read (`CART_SQL`), with one of its lines (none for an empty cart).
struct CartRead {
    coupon_id: Option<String>,
    updated_at: i64,
    donation: i64,
    gift_count: i64,
    line: Option<LineRow>,
}

impl<'r> sqlx::FromRow<'r, sqlx::any::AnyRow> for CartRead {
    fn from_row(row: &'r sqlx::any::AnyRow) -> sqlx::Result<CartRead> {
        use sqlx::Row;
        let has_line = row.try_get::<Option<String>, _>("sku")?.is_some();
        Ok(CartRead {
            coupon_id: row.try_get("coupon_id")?,
            updated_at: row.try_get("updated_at")?,
            donation: row.try_get("donation")?,
            gift_count: row.try_get("gift_count")?,
            line: if has_line { Some(LineRow::from_row(row)?) } else { None },
        })
    }
}

impl crate::db::ReadRow for CartRead {
    fn from_sqlite(row: &rusqlite::Row<'_>) -> rusqlite::Result<CartRead> {
        let has_line = row.get::<_, Option<String>>("sku")?.is_some();
        Ok(CartRead {
            coupon_id: row.get("coupon_id")?,
            updated_at: row.get("updated_at")?,
            donation: row.get("donation")?,
            gift_count: row.get("gift_count")?,
            line: if has_line { Some(LineRow::from_sqlite(row)?) } else { None },
        })
    }
}

static CART_SQL: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
    format!(
        "SELECT c.coupon_id, c.updated_at, c.donation, \
         CAST((SELECT COUNT(*) FROM cart_gifts g WHERE g.cart_id = c.id) AS BIGINT) AS gift_count, \
         i.sku, i.quantity, i.renewal, i.rate, i.rate_amount, {} \
         FROM carts c LEFT JOIN cart_items i ON i.cart_id = c.id {} WHERE c.id = $1 ORDER BY i.added_at, i.sku",
        catalog::JOINED_PLAN_COLUMNS,
        catalog::JOINED_PLAN_JOINS
    )
});

/// A cart as stored, with its lines.
pub(super) struct CartRows {
    pub coupon_id: Option<String>,
    pub updated_at: i64,
    pub donation: i64,
    pub gift_count: i64,
    pub lines: Vec<LineRow>,
}

/// The cart, its lines and their plans in one query (a row per line; one with no line for an
/// empty cart); `None` when there is no such cart.
pub(super) async fn cart_rows(db: &Db, cart_id: &str) -> Result<Option<CartRows>> {
    let rows: Vec<CartRead> = db.read_rows(&CART_SQL, &[Param::Text(cart_id)]).await?;
    let Some(first) = rows.first() else { return Ok(None) };
    let (coupon_id, updated_at, donation, gift_count) =
        (first.coupon_id.clone(), first.updated_at, first.donation, first.gift_count);
    let lines = rows.into_iter().filter_map(|row| row.line).collect();
    Ok(Some(CartRows { coupon_id, updated_at, donation, gift_count, lines }))
}
