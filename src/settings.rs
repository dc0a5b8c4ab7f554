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
    let value = months.map(|m| m.to_string());
    let change = crate::audit::Change {
        action: "settings.pdf_embargo",
        entity: "settings",
        entity_id: "pdf_embargo_months",
        before: Some(serde_json::json!(before)),
        after: Some(serde_json::json!(months)),
    };
    write_settings(db, &[("pdf_embargo_months", value.as_deref())], change, actor, now).await
}

/// Writes settings (`None` removes one) with the audit entry of the change, in one transaction.
async fn write_settings(
    db: &Db,
    values: &[(&str, Option<&str>)],
    change: crate::audit::Change<'_>,
    actor: &crate::audit::Actor,
    now: i64,
) -> crate::error::Result<()> {
    let mut tx = db.begin_write().await?;
    for (name, value) in values {
        match value {
            Some(value) => {
                sqlx::query(
                    "INSERT INTO settings (name, value) VALUES ($1, $2) \
                     ON CONFLICT (name) DO UPDATE SET value = excluded.value",
                )
                .bind(name)
                .bind(value)
                .execute(&mut *tx)
                .await?;
            }
            None => {
                sqlx::query("DELETE FROM settings WHERE name = $1").bind(name).execute(&mut *tx).await?;
            }
        }
    }
    crate::audit::record(&mut tx, actor, change, now).await?;
    tx.commit().await?;
    Ok(())
}

/// Records the shop's public address and name, for what is written where no request is at hand
/// (the confirmation email written at settlement, by a webhook or the reconciliation job).
pub async fn record_base_url(db: &Db, base_url: &str, shop_name: &str) -> anyhow::Result<()> {
    for (name, value) in [("base_url", base_url.trim_end_matches('/')), ("shop_name", shop_name)] {
        sqlx::query(
            "INSERT INTO settings (name, value) VALUES ($1, $2) ON CONFLICT (name) DO UPDATE SET value = excluded.value",
        )
        .bind(name)
        .bind(value)
        .execute(&db.pool)
        .await?;
    }
    Ok(())
}

/// The shop's name, as the last instance to start recorded it.
pub async fn shop_name(conn: &mut sqlx::AnyConnection) -> crate::error::Result<String> {
    let row: Option<(String,)> =
        sqlx::query_as("SELECT value FROM settings WHERE name = 'shop_name'").fetch_optional(&mut *conn).await?;
    Ok(row.map_or_else(|| "The subscriptions team".to_string(), |(name,)| name))
}

/// The shop's public address, as the last instance to start recorded it.
pub async fn base_url(conn: &mut sqlx::AnyConnection) -> crate::error::Result<Option<String>> {
    let row: Option<(String,)> =
        sqlx::query_as("SELECT value FROM settings WHERE name = 'base_url'").fetch_optional(&mut *conn).await?;
    Ok(row.map(|(url,)| url))
}

/// Where readers reach the shop, as staff set it in the admin: printed on receipts (an expense
/// claim needs the seller's address). Empty until set.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct ShopContact {
    /// Line by line, as on an envelope.
    pub postal_address: String,
    pub email: String,
}

impl ShopContact {
    /// The typed address and email, tidied, or what is wrong with them field by field.
    pub fn parse(postal_address: &str, email: &str) -> Result<ShopContact, Vec<crate::error::FieldError>> {
        let mut problems = Vec::new();
        let lines: Vec<&str> = postal_address.lines().map(str::trim).filter(|l| !l.is_empty()).collect();
        if lines.len() > 6 || lines.iter().any(|l| l.chars().count() > 100) {
            problems.push(crate::error::FieldError::new(
                "postal_address",
                "At most six lines of up to 100 characters each.",
            ));
        }
        let email = email.trim();
        if !email.is_empty() {
            if let Err(error) = crate::email::EmailAddress::parse(email) {
                problems.push(crate::error::FieldError::new("email", error.public_message()));
            }
        }
        if !problems.is_empty() {
            return Err(problems);
        }
        Ok(ShopContact { postal_address: lines.join("\n"), email: email.to_string() })
    }

    pub fn address_lines(&self) -> Vec<&str> {
        self.postal_address.lines().collect()
    }
}

pub async fn shop_contact(db: &Db) -> crate::error::Result<ShopContact> {
    let rows: Vec<(String, String)> =
        sqlx::query_as("SELECT name, value FROM settings WHERE name IN ('shop_postal_address', 'shop_contact_email')")
            .fetch_all(&db.pool)
            .await?;
    let value = |name: &str| rows.iter().find(|(n, _)| n == name).map(|(_, v)| v.clone()).unwrap_or_default();
    Ok(ShopContact { postal_address: value("shop_postal_address"), email: value("shop_contact_email") })
}

/// Saves the shop's contact details with their audit entry.
pub async fn set_shop_contact(
    db: &Db,
    contact: &ShopContact,
    actor: &crate::audit::Actor,
    now: i64,
) -> crate::error::Result<()> {
    let before = shop_contact(db).await?;
    let change = crate::audit::Change {
        action: "settings.shop_contact",
        entity: "settings",
        entity_id: "shop_contact",
        before: Some(serde_json::json!(before)),
        after: Some(serde_json::json!(contact)),
    };
    let values = [
        ("shop_postal_address", Some(contact.postal_address.as_str())),
        ("shop_contact_email", Some(contact.email.as_str())),
    ];
    write_settings(db, &values, change, actor, now).await
}

/// The label sheets mailing labels are printed on (Avery 5160 unless staff chose another).
pub async fn label_sheet(db: &Db) -> crate::error::Result<crate::orders::labels::LabelSheet> {
    let row: Option<(String,)> =
        sqlx::query_as("SELECT value FROM settings WHERE name = 'label_sheet'").fetch_optional(&db.pool).await?;
    Ok(row
        .and_then(|(v,)| crate::orders::labels::LabelSheet::parse(&v))
        .unwrap_or(crate::orders::labels::LabelSheet::Avery5160))
}

/// Chooses the label sheets, with its audit entry.
pub async fn set_label_sheet(
    db: &Db,
    sheet: crate::orders::labels::LabelSheet,
    actor: &crate::audit::Actor,
    now: i64,
) -> crate::error::Result<()> {
    let before = label_sheet(db).await?;
    let change = crate::audit::Change {
        action: "settings.label_sheet",
        entity: "settings",
        entity_id: "label_sheet",
        before: Some(serde_json::json!(before.as_str())),
        after: Some(serde_json::json!(sheet.as_str())),
    };
    write_settings(db, &[("label_sheet", Some(sheet.as_str()))], change, actor, now).await
}
