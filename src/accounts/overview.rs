//! What a signed-in reader sees: their subscriptions (with how many issues are left) and their
//! orders, found by their normalised email and nothing else, so no id typed into a URL can show
//! another reader's.

use serde::Serialize;
use sqlx::FromRow;

use crate::{
    db::Db,
    error::Result,
    money::{Currency, Money},
    orders::{self, mailing_list, terms, OrderStatus},
};

/// A subscription ends "soon" when this many periods (months) or fewer are left.
const ENDING_SOON_PERIODS: i64 = 3;

#[derive(Clone, Debug, Serialize)]
pub struct AccountSubscription {
    pub id: String,
    pub publication: String,
    pub edition: String,
    /// active, ending soon, or ended.
    pub status: &'static str,
    pub first_issue: String,
    pub last_issue: String,
    pub issues_left: i64,
    /// For print: where the next copy goes, one line each.
    pub address: Vec<String>,
    /// For print, when the address has changed: each address with the first issue it applies to.
    pub address_history: Vec<(String, Vec<String>)>,
    /// For a print term with issues still to mail: the issue an address change made now reaches.
    pub address_change_from: Option<String>,
    /// The plan that renews this term (same publication, edition and length).
    pub renew_sku: String,
}

#[derive(Clone, Debug, Serialize)]
pub struct AccountOrder {
    pub id: String,
    pub status: OrderStatus,
    pub placed: String,
    pub coupon_code: Option<String>,
    pub discount: Money,
    pub total: Money,
    pub lines: Vec<(String, i64, Money)>,
}

#[derive(Clone, Debug, Serialize)]
pub struct Overview {
    pub email: String,
    pub subscriptions: Vec<AccountSubscription>,
    pub orders: Vec<AccountOrder>,
}

#[derive(FromRow)]
struct SubscriptionRow {
    id: String,
    publication: String,
    term_years: i64,
    publication_name: String,
    edition: String,
    frequency: String,
    first_period: i64,
    last_period: i64,
    status: String,
}

#[derive(FromRow)]
struct OrderRow {
    id: String,
    status: OrderStatus,
    created_at: i64,
    coupon_code: Option<String>,
    currency: Currency,
    discount: i64,
    total: i64,
}

/// Issues of a term still to come from `current` on: the term's issues fall every `step` periods
/// from `first` to `last`.
fn issues_left(first: i64, last: i64, step: i64, current: i64) -> i64 {
    let start = if first >= current { first } else { first + (current - first + step - 1) / step * step };
    if start > last {
        0
    } else {
        (last - start) / step + 1
    }
}

/// The reader's subscriptions and orders (failed checkouts left out), newest first.
/// The plan "Renew" puts in the cart: the same term, or (for a term the shop does not sell, such
/// as an imported three years) the shortest plan of the publication and edition.
fn renewal_plan(plans: &[crate::catalog::Plan], publication: &str, edition: &str, years: i64) -> String {
    let same = |p: &&crate::catalog::Plan| p.publication == publication && p.edition.as_str() == edition;
    plans
        .iter()
        .filter(same)
        .find(|p| p.term_years == years)
        .or_else(|| plans.iter().filter(same).min_by_key(|p| p.term_years))
        .map_or_else(|| format!("{publication}-{edition}-{years}y"), |p| p.sku.clone())
}

pub async fn overview(db: &Db, email_normalized: &str, now: i64) -> Result<Overview> {
    let current = terms::period_at(now);
    let rows: Vec<SubscriptionRow> = sqlx::query_as(
        "SELECT s.id, s.publication, s.term_years, p.name AS publication_name, s.edition, p.frequency, s.first_period, \
         s.last_period, s.status FROM subscriptions s JOIN publications p ON p.slug = s.publication \
         WHERE s.email_normalized = $1 ORDER BY s.last_period DESC, p.name",
    )
    .bind(email_normalized)
    .fetch_all(&db.pool)
    .await?;
    let mut subscriptions = Vec::new();
    let mut next_open_by_publication = std::collections::HashMap::new();
    let plans = crate::catalog::plans(db).await?;
    for row in rows {
        let step = if row.frequency == "quarterly" { 3 } else { 1 };
        let left =
            if row.status == "active" { issues_left(row.first_period, row.last_period, step, current) } else { 0 };
        let status = match left {
            0 => "ended",
            _ if row.last_period - current < ENDING_SOON_PERIODS => "ending soon",
            _ => "active",
        };
        let mut subscription = AccountSubscription {
            renew_sku: renewal_plan(&plans, &row.publication, &row.edition, row.term_years),
            id: row.id,
            publication: row.publication_name,
            edition: row.edition,
            status,
            first_issue: terms::describe(row.first_period),
            last_issue: terms::describe(row.last_period),
            issues_left: left,
            address: Vec::new(),
            address_history: Vec::new(),
            address_change_from: None,
        };
        if subscription.edition == "print" {
            let history = orders::address_history(db, &subscription.id).await?;
            let next = if left > 0 {
                // Read once per publication, however many terms the reader has of it.
                let next_open = match next_open_by_publication.get(&row.publication) {
                    Some(next) => *next,
                    None => {
                        let schedule = mailing_list::schedule(db, &row.publication).await?;
                        let mut conn = db.pool.acquire().await?;
                        let next = mailing_list::next_open_issue(&mut conn, &schedule, &row.publication, now).await?;
                        next_open_by_publication.insert(row.publication.clone(), next);
                        next
                    }
                };
                Some(next_open.max(row.first_period)).filter(|next| *next <= row.last_period)
            } else {
                None
            };
            // The address of the next copy to mail (the newest one, once the term is over).
            let upcoming = history.iter().rfind(|a| next.is_none_or(|n| a.from_period <= n));
            subscription.address = upcoming.map(|a| a.address.lines()).unwrap_or_default();
            if history.len() > 1 {
                subscription.address_history =
                    history.iter().map(|a| (terms::describe(a.from_period), a.address.lines())).collect();
            }
            subscription.address_change_from = next.map(terms::describe);
        }
        subscriptions.push(subscription);
    }
    let rows: Vec<OrderRow> = sqlx::query_as(
        "SELECT id, status, created_at, coupon_code, currency, discount, total + postage AS total FROM orders \
         WHERE email_normalized = $1 AND status <> 'failed' AND source <> 'import' \
         ORDER BY created_at DESC, id LIMIT 200",
    )
    .bind(email_normalized)
    .fetch_all(&db.pool)
    .await?;
    let orders = account_orders(db, rows).await?;
    Ok(Overview { email: email_normalized.to_string(), subscriptions, orders })
}

/// True when the reader has (or had) a subscription to this plan's publication and edition:
/// only that can be renewed.
pub async fn can_renew(db: &Db, email_normalized: &str, publication: &str, edition: &str) -> Result<bool> {
    let (terms,): (i64,) = sqlx::query_as(
        "SELECT COUNT(*) FROM subscriptions WHERE email_normalized = $1 AND publication = $2 AND edition = $3 \
         AND status = 'active'",
    )
    .bind(email_normalized)
    .bind(publication)
    .bind(edition)
    .fetch_one(&db.pool)
    .await?;
    Ok(terms > 0)
}

/// The newest order placed from this cart, for a buyer who has not signed in: its id, email
/// (normalised) and status.
pub async fn latest_order_of_cart(db: &Db, cart_id: &str) -> Result<Option<(String, String, OrderStatus)>> {
    Ok(sqlx::query_as(
        "SELECT id, email_normalized, status FROM orders WHERE cart_id = $1 AND status <> 'failed' \
         ORDER BY created_at DESC, id LIMIT 1",
    )
    .bind(cart_id)
    .fetch_optional(&db.pool)
    .await?)
}

/// What a buyer sees before their order is paid: that order alone. Until the payment the
/// address is not proven, so nothing else of that email's is shown.
pub async fn overview_of_order(db: &Db, order_id: &str, email_normalized: &str) -> Result<Overview> {
    let rows: Vec<OrderRow> = sqlx::query_as(
        "SELECT id, status, created_at, coupon_code, currency, discount, total + postage AS total FROM orders WHERE id = $1",
    )
    .bind(order_id)
    .fetch_all(&db.pool)
    .await?;
    let orders = account_orders(db, rows).await?;
    Ok(Overview { email: email_normalized.to_string(), subscriptions: Vec::new(), orders })
}

async fn account_orders(db: &Db, rows: Vec<OrderRow>) -> Result<Vec<AccountOrder>> {
    let mut orders = Vec::new();
    for row in rows {
        let lines = crate::orders::order_lines(db, &row.id)
            .await?
            .into_iter()
            .map(|l| (l.title(), l.quantity, Money::new(l.line_total - l.discount, row.currency)))
            .collect();
        orders.push(AccountOrder {
            id: row.id,
            status: row.status,
            placed: crate::clock::long_date(row.created_at),
            coupon_code: row.coupon_code,
            discount: Money::new(row.discount, row.currency),
            total: Money::new(row.total, row.currency),
            lines,
        });
    }
    Ok(orders)
}

#[cfg(test)]
mod tests {
    use super::issues_left;

    #[test]
    fn issues_left_count_the_terms_issues_from_now_on() {
        // A monthly year from January 2027 (period 24324) to December.
        let (first, last) = (2027 * 12, 2027 * 12 + 11);
        assert_eq!(issues_left(first, last, 1, first - 5), 12, "not started yet");
        assert_eq!(issues_left(first, last, 1, first + 3), 9);
        assert_eq!(issues_left(first, last, 1, last), 1);
        assert_eq!(issues_left(first, last, 1, last + 1), 0);
        // A quarterly year: March, June, September, December.
        let (first, last) = (2027 * 12 + 2, 2027 * 12 + 11);
        assert_eq!(issues_left(first, last, 3, 2027 * 12 + 3), 3, "April: June, September, December");
        assert_eq!(issues_left(first, last, 3, 2027 * 12 + 5), 3, "June's is still to come");
    }
}
