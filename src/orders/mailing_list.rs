//! The mailing list of a print run: everyone who gets a printed copy of an issue, counted by
//! country, and the CSV for the mail house. Closing an issue's list fixes it: what the mail house
//! was sent never changes afterwards.

use serde::Serialize;
use sqlx::FromRow;

use sqlx::AnyConnection;

use super::terms;
use crate::{
    audit::{self, Actor},
    catalog,
    db::{Backend, Db},
    error::{Error, Result},
};

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
    pub subscription_id: Option<String>,
    /// A subscription's last issue.
    pub last_period: Option<i64>,
}

impl MailingEntry {
    /// What the label of this copy of the issue of `period` says above the address: a
    /// subscription's last issue, or its last but one (`step`: months between issues).
    pub fn mark(&self, period: i64, step: i64) -> Option<&'static str> {
        match self.last_period? {
            last if last == period => Some("LAST ISSUE"),
            last if last == period + step => Some("RENEW NOW: 1 ISSUE LEFT"),
            _ => None,
        }
    }
}

/// When and by whom an issue's mailing list was closed.
#[derive(Clone, Debug, Serialize, FromRow)]
pub struct Closure {
    pub closed_at: i64,
    pub closed_by: String,
}

/// An issue's mailing list: fixed once closed, worked out afresh until then.
#[derive(Clone, Debug, Serialize)]
pub struct MailingList {
    pub entries: Vec<MailingEntry>,
    pub closure: Option<Closure>,
    /// Single copies sold after the list was closed: to send from stock.
    pub sold_since_closing: Vec<MailingEntry>,
}

/// Who gets this issue in print, as it would be mailed today: active print subscriptions whose
/// term covers it (at the address that applies to this issue), and single print copies of it sold
/// in paid orders.
async fn live_entries(conn: &mut AnyConnection, publication: &str, period: i64) -> Result<Vec<MailingEntry>> {
    let (year, month) = terms::year_month(period);
    let sku = crate::catalog::issue_sku(publication, year, month);
    let pick = |column: &str| {
        format!("CASE WHEN a.subscription_id IS NULL THEN s.ship_{column} ELSE a.{column} END AS {column}")
    };
    let sql = format!(
        "SELECT 'subscription' AS kind, CAST(1 AS BIGINT) AS copies, s.name, s.email, {}, {}, {}, {}, {}, {}, \
         s.order_id, s.id AS subscription_id, s.last_period \
         FROM subscriptions s LEFT JOIN subscription_addresses a ON a.subscription_id = s.id AND a.from_period = \
         (SELECT MAX(h.from_period) FROM subscription_addresses h WHERE h.subscription_id = s.id AND h.from_period <= $2) \
         WHERE s.publication = $1 AND s.edition = 'print' AND s.status = 'active' \
         AND s.first_period <= $2 AND s.last_period >= $2 \
         UNION ALL \
         SELECT 'single copy' AS kind, i.quantity AS copies, o.name, o.email, o.ship_line1, o.ship_line2, o.ship_city, \
         o.ship_region, o.ship_postal_code, o.ship_country, o.id, CAST(NULL AS TEXT), CAST(NULL AS BIGINT) \
         FROM order_items i JOIN orders o ON o.id = i.order_id \
         WHERE i.issue_sku = $3 AND i.action = 'ship' AND o.status = 'paid' \
         ORDER BY country, postal_code, name, order_id",
        pick("line1"),
        pick("line2"),
        pick("city"),
        pick("region"),
        pick("postal_code"),
        pick("country"),
    );
    Ok(sqlx::query_as(&sql).bind(publication).bind(period).bind(sku).fetch_all(&mut *conn).await?)
}

/// The mailing list of an issue: as it was closed, or as it stands.
pub async fn mailing_list(db: &Db, publication: &str, year: i64, month: i64) -> Result<MailingList> {
    let sku = crate::catalog::issue_sku(publication, year, month);
    let mut conn = db.pool.acquire().await?;
    let closure: Option<Closure> =
        sqlx::query_as("SELECT closed_at, closed_by FROM mailing_list_closures WHERE issue_sku = $1")
            .bind(&sku)
            .fetch_optional(&mut *conn)
            .await?;
    let live = live_entries(&mut conn, publication, terms::period(year, month)).await?;
    if closure.is_none() {
        return Ok(MailingList { entries: live, closure, sold_since_closing: Vec::new() });
    }
    let entries: Vec<MailingEntry> = sqlx::query_as(
        "SELECT c.kind, c.copies, c.name, c.email, c.line1, c.line2, c.city, c.region, c.postal_code, c.country, \
         c.order_id, c.subscription_id, s.last_period FROM mailing_list_copies c \
         LEFT JOIN subscriptions s ON s.id = c.subscription_id WHERE c.issue_sku = $1 ORDER BY c.position",
    )
    .bind(&sku)
    .fetch_all(&mut *conn)
    .await?;
    let sold_since_closing = live
        .into_iter()
        .filter(|e| e.subscription_id.is_none() && !entries.iter().any(|c| c.order_id == e.order_id))
        .collect();
    Ok(MailingList { entries, closure, sold_since_closing })
}

/// Closes an issue's mailing list: its copies as they stand are written down and never change
/// again. Address changes and new print subscriptions then start with a later issue. Closing a
/// closed list changes nothing; `Ok(false)` says so.
pub async fn close(db: &Db, issue: &crate::catalog::Issue, actor: &Actor, now: i64) -> Result<bool> {
    let period = terms::period(issue.year, issue.month);
    let mut tx = db.begin_write().await?;
    // Waits for address changes and settlements of this publication under way (they hold the
    // publication's row in share mode), and holds off new ones until this commits.
    if db.backend == Backend::Postgres {
        sqlx::query("SELECT slug FROM publications WHERE slug = $1 FOR UPDATE")
            .bind(&issue.publication)
            .execute(&mut *tx)
            .await?;
    }
    let inserted = sqlx::query(
        "INSERT INTO mailing_list_closures (issue_sku, publication, period, closed_at, closed_by) \
         VALUES ($1, $2, $3, $4, $5) ON CONFLICT (issue_sku) DO NOTHING",
    )
    .bind(&issue.sku)
    .bind(&issue.publication)
    .bind(period)
    .bind(now)
    .bind(&actor.email)
    .execute(&mut *tx)
    .await?
    .rows_affected();
    if inserted == 0 {
        return Ok(false);
    }
    let entries = live_entries(&mut tx, &issue.publication, period).await?;
    for (position, e) in entries.iter().enumerate() {
        sqlx::query(
            "INSERT INTO mailing_list_copies (issue_sku, position, kind, copies, name, email, line1, line2, city, \
             region, postal_code, country, order_id, subscription_id) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)",
        )
        .bind(&issue.sku)
        .bind(position as i64)
        .bind(&e.kind)
        .bind(e.copies)
        .bind(&e.name)
        .bind(&e.email)
        .bind(&e.line1)
        .bind(&e.line2)
        .bind(&e.city)
        .bind(&e.region)
        .bind(&e.postal_code)
        .bind(&e.country)
        .bind(&e.order_id)
        .bind(&e.subscription_id)
        .execute(&mut *tx)
        .await?;
    }
    let copies: i64 = entries.iter().map(|e| e.copies).sum();
    let change = audit::Change {
        action: "mailing_list.close",
        entity: "issue",
        entity_id: &issue.sku,
        before: None,
        after: Some(serde_json::json!({ "addresses": entries.len(), "copies": copies })),
    };
    audit::record(&mut tx, actor, change, now).await?;
    tx.commit().await?;
    Ok(true)
}

/// The newest issue of a publication whose mailing list is closed.
pub async fn latest_closed(conn: &mut AnyConnection, publication: &str) -> Result<Option<i64>> {
    let (latest,): (Option<i64>,) =
        sqlx::query_as("SELECT MAX(period) FROM mailing_list_closures WHERE publication = $1")
            .bind(publication)
            .fetch_one(&mut *conn)
            .await?;
    Ok(latest)
}

/// Holds off the closing of this publication's mailing lists until the caller's transaction ends,
/// so what it reads of them (the newest closed issue) stays true while it writes. Several
/// holders at once do not wait for each other. (SQLite runs one writer at a time anyway.)
pub async fn hold_lists_open(conn: &mut AnyConnection, backend: Backend, publication: &str) -> Result<()> {
    if backend == Backend::Postgres {
        sqlx::query("SELECT slug FROM publications WHERE slug = $1 FOR SHARE").bind(publication).execute(conn).await?;
    }
    Ok(())
}

/// When a publication's issues come: what the first issue of a term, or of an address change,
/// follows from. Read before a transaction.
pub struct PublicationSchedule {
    pub frequency: catalog::Frequency,
    pub latest_published: Option<i64>,
}

pub async fn schedule(db: &Db, publication: &str) -> Result<PublicationSchedule> {
    let found = catalog::find_publication(db, publication)
        .await?
        .ok_or_else(|| Error::Internal(anyhow::anyhow!("no publication {publication}")))?;
    let latest = catalog::latest_issue(db, publication).await?;
    Ok(PublicationSchedule {
        frequency: found.frequency,
        latest_published: latest.map(|i| terms::period(i.year, i.month)),
    })
}

/// The next issue of the publication that has not been published and whose mailing list is still
/// open: the first issue an address change made now reaches.
pub async fn next_open_issue(
    conn: &mut AnyConnection,
    schedule: &PublicationSchedule,
    publication: &str,
    now: i64,
) -> Result<i64> {
    let latest = schedule.latest_published.max(latest_closed(conn, publication).await?);
    Ok(terms::first_issue(schedule.frequency, latest, terms::period_at(now), None))
}

/// `hold_lists_open` for every publication.
pub async fn hold_all_lists_open(conn: &mut AnyConnection, backend: Backend) -> Result<()> {
    if backend == Backend::Postgres {
        sqlx::query("SELECT slug FROM publications ORDER BY slug FOR SHARE").execute(conn).await?;
    }
    Ok(())
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

/// The list as CSV, one row per address, for the mailing house, for the issue of `period` (`step`:
/// months between issues); `note` is what the label says above the address.
pub fn mailing_csv(entries: &[MailingEntry], period: i64, step: i64) -> anyhow::Result<Vec<u8>> {
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
        "note",
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
            e.mark(period, step).unwrap_or_default().to_string(),
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
            subscription_id: None,
            last_period: None,
        };
        let csv = String::from_utf8(mailing_csv(&[entry], 100, 1).expect("written")).expect("text");
        let row = csv.lines().nth(1).expect("a row");
        assert!(row.starts_with("\"'=HYPERLINK("), "{row}");
        assert!(row.contains(",'-1 Main St,,Chicago,IL,60601,US,1,subscription,'@reader@example.org,o1"), "{row}");
    }
}
