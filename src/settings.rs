//! Shop-wide settings kept in the database, so every instance reads the same ones.

use anyhow::bail;

use crate::{db::Db, money::Currency};

/// Fixes the shop's currency the first time a database is prepared, and refuses to start a shop
/// whose `MASTHEAD_CURRENCY` differs from it later: every amount stored (prices, coupons, orders)
/// is in that one currency, and a second one would be summed with it as if it were the same.
pub async fn fix_currency(db: &Db, configured: Currency) -> anyhow::Result<()> {
    sqlx::query("INSERT INTO settings (name, value) VALUES ('currency', $1) ON CONFLICT (name) DO NOTHING")
        .bind(configured.code())
        .execute(&db.pool)
        .await?;
    let (stored,): (String,) =
        sqlx::query_as("SELECT value FROM settings WHERE name = 'currency'").fetch_one(&db.pool).await?;
    if stored != configured.code() {
        bail!(
            "this shop's prices and orders are in {stored}, but MASTHEAD_CURRENCY is {}: \
             start it with MASTHEAD_CURRENCY={stored} (a shop cannot change its currency)",
            configured.code()
        );
    }
    Ok(())
}
