//! Circulation and accounting reports, each computed in SQL: active subscriptions by publication,
//! edition and postage zone; terms ending within the next 1, 3 and 6 issues; renewals per month;
//! deferred revenue; and donations received.
//!
//! Deferred revenue: a prepaid term is earned issue by issue as its issues come out (an issue of
//! March is earned in March). After k of its n issues a term of R cents has earned R·k / n,
//! rounded down to the cent, so every issue's share is whole cents and the last issue completes R
//! exactly. What is received and not yet earned is owed to subscribers (deferred). Revenue is what
//! the subscription's order line charged after its discount (postage is not subscription revenue);
//! refunded orders and imported terms (paid before the shop) count for nothing.

use serde::Serialize;

use super::terms;
use crate::{db::Db, error::Result};

/// Months between issues, by a `publications p` row.
const STEP: &str = "(CASE WHEN p.frequency = 'quarterly' THEN 3 ELSE 1 END)";

#[derive(Clone, Debug, Serialize, sqlx::FromRow, PartialEq, Eq)]
pub struct ZoneRow {
    pub publication: String,
    pub edition: String,
    pub zone: String,
    pub subscriptions: i64,
}

/// Active subscriptions covering the issue of `period` or later, by publication, edition and the
/// postage zone of their country (digital: "Digital").
pub async fn subscriptions_by_zone(db: &Db, period: i64) -> Result<Vec<ZoneRow>> {
    Ok(sqlx::query_as(
        "SELECT publication, edition, zone, COUNT(*) AS subscriptions FROM ( \
           SELECT s.publication, s.edition, \
           CASE WHEN s.edition = 'digital' THEN 'Digital' \
                ELSE COALESCE(z.name, (SELECT name FROM postage_zones WHERE every_other_country = 1), 'No zone') \
           END AS zone \
           FROM subscriptions s \
           LEFT JOIN postage_zone_countries c ON c.country = s.ship_country \
           LEFT JOIN postage_zones z ON z.id = c.zone_id \
           WHERE s.status = 'active' AND s.last_period >= $1) active \
         GROUP BY publication, edition, zone ORDER BY publication, edition, subscriptions DESC, zone",
    )
    .bind(period)
    .fetch_all(&db.pool)
    .await?)
}

#[derive(Clone, Debug, Serialize, sqlx::FromRow, PartialEq, Eq)]
pub struct ExpiringRow {
    pub publication: String,
    pub edition: String,
    /// Terms whose last issue is the next one, within the next 3, within the next 6.
    pub next_1: i64,
    pub next_3: i64,
    pub next_6: i64,
}

/// Active terms ending within the next 1, 3 and 6 issues from the issue of `period` on (monthly:
/// months; quarterly: quarters).
pub async fn expiring(db: &Db, period: i64) -> Result<Vec<ExpiringRow>> {
    let sql = format!(
        "SELECT s.publication, s.edition, \
         SUM(CASE WHEN s.last_period < $1 + 1 * {STEP} THEN 1 ELSE 0 END) AS next_1, \
         SUM(CASE WHEN s.last_period < $1 + 3 * {STEP} THEN 1 ELSE 0 END) AS next_3, \
         SUM(CASE WHEN s.last_period < $1 + 6 * {STEP} THEN 1 ELSE 0 END) AS next_6 \
         FROM subscriptions s JOIN publications p ON p.slug = s.publication \
         WHERE s.status = 'active' AND s.last_period >= $1 \
         GROUP BY s.publication, s.edition ORDER BY s.publication, s.edition"
    );
    Ok(sqlx::query_as(&sql).bind(period).fetch_all(&db.pool).await?)
}

#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
pub struct RenewalRow {
    /// "March 2027": the month of the ended terms' last issue.
    pub month: String,
    pub ended: i64,
    pub renewed: i64,
    /// Renewed per hundred ended, rounded down; none when nothing ended.
    pub rate_percent: Option<i64>,
}

/// For each month from `from` to `to`: terms whose last issue came out that month, and how many of
/// their readers took another term of the same publication and edition starting after the ended
/// one began and no more than a year after it ended.
pub async fn renewal_rate(db: &Db, from: i64, to: i64) -> Result<Vec<RenewalRow>> {
    let rows: Vec<(i64, i64, i64)> = sqlx::query_as(
        "SELECT s.last_period, COUNT(*), \
         SUM(CASE WHEN EXISTS (SELECT 1 FROM subscriptions n WHERE n.email_normalized = s.email_normalized \
             AND n.publication = s.publication AND n.edition = s.edition AND n.id <> s.id \
             AND n.first_period > s.first_period AND n.first_period <= s.last_period + 12) THEN 1 ELSE 0 END) \
         FROM subscriptions s WHERE s.last_period BETWEEN $1 AND $2 GROUP BY s.last_period",
    )
    .bind(from)
    .bind(to)
    .fetch_all(&db.pool)
    .await?;
    Ok((from..=to)
        .map(|period| {
            let (ended, renewed) = rows.iter().find(|r| r.0 == period).map_or((0, 0), |r| (r.1, r.2));
            RenewalRow {
                month: terms::describe(period),
                ended,
                renewed,
                rate_percent: (ended > 0).then(|| renewed * 100 / ended),
            }
        })
        .collect())
}

#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
pub struct RevenueRow {
    pub month: String,
    /// Subscription revenue received (orders paid) in the month.
    pub received: i64,
    /// Earned in the month: the shares of the issues that came out in it.
    pub earned: i64,
    /// Received and not yet earned at the end of the month: owed to subscribers.
    pub deferred: i64,
    /// Donations received (orders paid) in the month: earned at once, never deferred.
    pub donations: i64,
}

/// Subscription revenue received and earned through the month, and donations received, in cents.
async fn totals_through(db: &Db, period: i64) -> Result<(i64, i64, i64)> {
    let end = terms::first_day(period + 1);
    let sql = format!(
        "SELECT CAST(COALESCE(SUM(r), 0) AS BIGINT), CAST(COALESCE(SUM(r * k / n), 0) AS BIGINT) FROM ( \
           SELECT l.line_total - l.discount AS r, \
                  (s.last_period - s.first_period) / {STEP} + 1 AS n, \
                  CASE WHEN $1 < s.first_period THEN 0 \
                       WHEN $1 >= s.last_period THEN (s.last_period - s.first_period) / {STEP} + 1 \
                       ELSE ($1 - s.first_period) / {STEP} + 1 END AS k \
           FROM subscriptions s \
           JOIN order_lines l ON l.order_id = s.order_id AND l.position = s.order_position \
           JOIN orders o ON o.id = s.order_id \
           JOIN publications p ON p.slug = s.publication \
           WHERE o.status = 'paid' AND o.paid_at < $2) terms"
    );
    let (received, earned): (i64, i64) = sqlx::query_as(&sql).bind(period).bind(end).fetch_one(&db.pool).await?;
    let (donations,): (i64,) = sqlx::query_as(
        "SELECT CAST(COALESCE(SUM(donation), 0) AS BIGINT) FROM orders WHERE status = 'paid' AND paid_at < $1",
    )
    .bind(end)
    .fetch_one(&db.pool)
    .await?;
    Ok((received, earned, donations))
}

/// Deferred revenue month by month from `from` to `to` (periods).
pub async fn deferred_revenue(db: &Db, from: i64, to: i64) -> Result<Vec<RevenueRow>> {
    let (mut received_before, mut earned_before, mut donated_before) = totals_through(db, from - 1).await?;
    let mut rows = Vec::new();
    for period in from..=to {
        let (received, earned, donated) = totals_through(db, period).await?;
        rows.push(RevenueRow {
            month: terms::describe(period),
            received: received - received_before,
            earned: earned - earned_before,
            deferred: received - earned,
            donations: donated - donated_before,
        });
        (received_before, earned_before, donated_before) = (received, earned, donated);
    }
    Ok(rows)
}
