//! The mailing list of a print run: everyone who gets a printed copy of an issue, counted by
//! country, and the CSV for the mail house.

use serde::Serialize;
use sqlx::FromRow;

use super::terms;
use crate::{db::Db, error::Result};

/// One copy to mail for a print run.
#[derive(Clone, Debug, Serialize, FromRow)]
pub struct MailingEntry {
    /// `subscription` or `single copy`.
    pub kind: String,
    pub copies: i64,
    pub name: String,
    pub email: String,
    pub line1: Option<String>,
    pub line2: Option<String>,
    pub city: Option<String>,
    pub region: Option<String>,
    pub postal_code: Option<String>,
    pub country: Option<String>,
    pub order_id: String,
}

/// Everyone who gets a printed copy of this issue: active print subscriptions whose term covers
/// it, and single print copies of it sold in paid orders.
pub async fn mailing_list(db: &Db, publication: &str, year: i64, month: i64) -> Result<Vec<MailingEntry>> {
    let period = terms::period(year, month);
    let sku = crate::catalog::issue_sku(publication, year, month);
    Ok(sqlx::query_as(
        "SELECT 'subscription' AS kind, CAST(1 AS BIGINT) AS copies, name, email, ship_line1 AS line1, ship_line2 AS line2, \
         ship_city AS city, ship_region AS region, ship_postal_code AS postal_code, ship_country AS country, order_id \
         FROM subscriptions WHERE publication = $1 AND edition = 'print' AND status = 'active' \
         AND first_period <= $2 AND last_period >= $2 \
         UNION ALL \
         SELECT 'single copy' AS kind, i.quantity AS copies, o.name, o.email, o.ship_line1, o.ship_line2, o.ship_city, \
         o.ship_region, o.ship_postal_code, o.ship_country, o.id \
         FROM order_items i JOIN orders o ON o.id = i.order_id \
         WHERE i.issue_sku = $3 AND i.action = 'ship' AND o.status = 'paid' \
         ORDER BY country, postal_code, name",
    )
    .bind(publication)
    .bind(period)
    .bind(sku)
    .fetch_all(&db.pool)
    .await?)
}

/// Copies per country, largest first.
pub fn copies_by_country(entries: &[MailingEntry]) -> Vec<(String, i64)> {
    let mut counts: Vec<(String, i64)> = Vec::new();
    for entry in entries {
        let country = entry.country.clone().unwrap_or_else(|| "??".into());
        match counts.iter_mut().find(|(c, _)| *c == country) {
            Some((_, n)) => *n += entry.copies,
            None => counts.push((country, entry.copies)),
        }
    }
    counts.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    counts
}

/// The list as CSV, one row per address, for the mailing house.
pub fn mailing_csv(entries: &[MailingEntry]) -> anyhow::Result<Vec<u8>> {
    let mut writer = csv::Writer::from_writer(Vec::new());
    writer.write_record([
        "name",
        "line1",
        "line2",
        "city",
        "region",
        "postal_code",
        "country",
        "copies",
        "kind",
        "email",
        "order",
    ])?;
    for e in entries {
        let opt = |v: &Option<String>| spreadsheet_safe(v.as_deref().unwrap_or_default());
        writer.write_record([
            spreadsheet_safe(&e.name),
            opt(&e.line1),
            opt(&e.line2),
            opt(&e.city),
            opt(&e.region),
            opt(&e.postal_code),
            opt(&e.country),
            e.copies.to_string(),
            e.kind.clone(),
            spreadsheet_safe(&e.email),
            e.order_id.clone(),
        ])?;
    }
    Ok(writer.into_inner()?)
}

/// Readers type these fields; staff open the file in a spreadsheet, which would run a cell that
/// starts like a formula. A leading apostrophe makes it plain text there (OWASP's CSV injection advice).
fn spreadsheet_safe(text: &str) -> String {
    match text.chars().next() {
        Some('=' | '+' | '-' | '@' | '\t' | '\r') => format!("'{text}"),
        _ => text.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mailing_list_cells_cannot_run_as_formulas() {
        let entry = MailingEntry {
            kind: "subscription".into(),
            copies: 1,
            name: "=HYPERLINK(\"http://evil.example\",\"click\")".into(),
            email: "@reader@example.org".into(),
            line1: Some("-1 Main St".into()),
            line2: None,
            city: Some("Chicago".into()),
            region: Some("IL".into()),
            postal_code: Some("60601".into()),
            country: Some("US".into()),
            order_id: "o1".into(),
        };
        let csv = String::from_utf8(mailing_csv(&[entry]).expect("written")).expect("text");
        let row = csv.lines().nth(1).expect("a row");
        assert!(row.starts_with("\"'=HYPERLINK("), "{row}");
        assert!(row.contains(",'-1 Main St,,Chicago,IL,60601,US,1,subscription,'@reader@example.org,o1"), "{row}");
    }
}
