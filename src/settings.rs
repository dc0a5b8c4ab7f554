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

/// After how many months back issues' PDFs become free for everyone; `None` (the default): never.
pub async fn pdf_embargo_months(db: &Db) -> crate::error::Result<Option<i64>> {
    let row: Option<(String,)> =
        sqlx::query_as("SELECT value FROM settings WHERE name = 'pdf_embargo_months'").fetch_optional(&db.pool).await?;
    Ok(row.and_then(|(v,)| v.parse().ok()).filter(|m: &i64| *m > 0))
}

/// Sets (or, with `None`, removes) the embargo on back issues' PDFs, with its audit entry.
pub async fn set_pdf_embargo_months(
    db: &Db,
    months: Option<i64>,
    actor: &crate::audit::Actor,
    now: i64,
) -> crate::error::Result<()> {
    let before = pdf_embargo_months(db).await?;
    let mut tx = db.begin_write().await?;
    match months {
        Some(months) => {
            sqlx::query(
                "INSERT INTO settings (name, value) VALUES ('pdf_embargo_months', $1) \
                 ON CONFLICT (name) DO UPDATE SET value = excluded.value",
            )
            .bind(months.to_string())
            .execute(&mut *tx)
            .await?;
        }
        None => {
            sqlx::query("DELETE FROM settings WHERE name = 'pdf_embargo_months'").execute(&mut *tx).await?;
        }
    }
    let change = crate::audit::Change {
        action: "settings.pdf_embargo",
        entity: "settings",
        entity_id: "pdf_embargo_months",
        before: Some(serde_json::json!(before)),
        after: Some(serde_json::json!(months)),
    };
    crate::audit::record(&mut tx, actor, change, now).await?;
    tx.commit().await?;
    Ok(())
}

/// Records the shop's public address, for what is written where no request is at hand (the
/// confirmation email written at settlement, by a webhook or the reconciliation job).
pub async fn record_base_url(db: &Db, base_url: &str) -> anyhow::Result<()> {
    sqlx::query(
        "INSERT INTO settings (name, value) VALUES ('base_url', $1) ON CONFLICT (name) DO UPDATE SET value = excluded.value",
    )
    .bind(base_url.trim_end_matches('/'))
    .execute(&db.pool)
    .await?;
    Ok(())
}

/// The shop's public address, as the last instance to start recorded it.
pub async fn base_url(conn: &mut sqlx::AnyConnection) -> crate::error::Result<Option<String>> {
    let row: Option<(String,)> =
        sqlx::query_as("SELECT value FROM settings WHERE name = 'base_url'").fetch_optional(&mut *conn).await?;
    Ok(row.map(|(url,)| url))
}
