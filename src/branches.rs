//! Local branches that sell the paper: the branch, its standing orders (copies of every issue at
//! a price per copy, from one issue to another or open-ended), one issue's changed draw, returns
//! and shortages, payments received, and the statement of a period. Every change is audited.
//!
//! Copies sent of an issue: the draw recorded for it, else the sum of the standing orders covering
//! it. Net: sent less returned less short (copies that never arrived). Owed: net × price per copy.

use serde::{Deserialize, Serialize};

use crate::{
    audit::{self, Actor},
    catalog,
    db::Db,
    error::{Error, FieldError, Result},
    money::{Currency, Money},
    orders::terms,
};

#[derive(Clone, Debug, Serialize, sqlx::FromRow)]
pub struct Branch {
    pub id: String,
    pub name: String,
    pub city: String,
    pub meeting_place: Option<String>,
    pub contact: String,
    pub address: Option<String>,
    pub listed: i64,
}

/// A branch as staff typed it.
#[derive(Clone, Debug, Default, Deserialize, Serialize)]
pub struct BranchInput {
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub city: String,
    #[serde(default)]
    pub meeting_place: String,
    #[serde(default)]
    pub contact: String,
    #[serde(default)]
    pub address: String,
    /// "on" when the branch agreed to be listed on the public page.
    #[serde(default)]
    pub listed: Option<String>,
}

const BRANCH_COLUMNS: &str = "id, name, city, meeting_place, contact, address, listed";

pub async fn branches(db: &Db) -> Result<Vec<Branch>> {
    Ok(sqlx::query_as(&format!("SELECT {BRANCH_COLUMNS} FROM branches ORDER BY city, name"))
        .fetch_all(&db.pool)
        .await?)
}

/// The branches listed on the public page.
pub async fn listed_branches(db: &Db) -> Result<Vec<Branch>> {
    Ok(sqlx::query_as(&format!("SELECT {BRANCH_COLUMNS} FROM branches WHERE listed = 1 ORDER BY city, name"))
        .fetch_all(&db.pool)
        .await?)
}

pub async fn find_branch(db: &Db, id: &str) -> Result<Branch> {
    sqlx::query_as(&format!("SELECT {BRANCH_COLUMNS} FROM branches WHERE id = $1"))
        .bind(id)
        .fetch_optional(&db.pool)
        .await?
        .ok_or_else(|| Error::not_found("branch_not_found", "There is no such branch."))
}

fn text(
    value: &str,
    field: &'static str,
    label: &str,
    required: bool,
    problems: &mut Vec<FieldError>,
) -> Option<String> {
    let value = value.trim();
    if value.chars().count() > 300 {
        problems.push(FieldError::new(field, format!("{label} is at most 300 characters.")));
    } else if required && value.is_empty() {
        problems.push(FieldError::new(field, format!("Give the {}.", label.to_lowercase())));
    }
    Some(value.to_string()).filter(|v| !v.is_empty())
}

/// Creates a branch (`id` none) or saves one, with its audit entry. Answers its id.
pub async fn save_branch(db: &Db, id: Option<&str>, input: &BranchInput, actor: &Actor, now: i64) -> Result<String> {
    let mut problems = Vec::new();
    let name = text(&input.name, "name", "Name", true, &mut problems);
    let city = text(&input.city, "city", "City", true, &mut problems);
    let meeting_place = text(&input.meeting_place, "meeting_place", "Meeting place", false, &mut problems);
    let contact = text(&input.contact, "contact", "Contact", true, &mut problems);
    let address = text(&input.address, "address", "Address", false, &mut problems);
    let (Some(name), Some(city), Some(contact), true) = (name, city, contact, problems.is_empty()) else {
        return Err(Error::Fields(problems));
    };
    let before = match id {
        Some(id) => Some(find_branch(db, id).await?),
        None => None,
    };
    let branch_id = id.map_or_else(|| uuid::Uuid::new_v4().simple().to_string(), str::to_string);
    let listed = i64::from(input.listed.is_some());
    let mut tx = db.begin_write().await?;
    let sql = match id {
        Some(_) => {
            "UPDATE branches SET name = $2, city = $3, meeting_place = $4, contact = $5, address = $6, listed = $7, \
             updated_at = $8 WHERE id = $1"
        }
        None => {
            "INSERT INTO branches (id, name, city, meeting_place, contact, address, listed, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $8)"
        }
    };
    let written = sqlx::query(sql)
        .bind(&branch_id)
        .bind(&name)
        .bind(&city)
        .bind(&meeting_place)
        .bind(&contact)
        .bind(&address)
        .bind(listed)
        .bind(now)
        .execute(&mut *tx)
        .await;
    match written {
        Err(sqlx::Error::Database(e)) if e.is_unique_violation() => {
            return Err(Error::Fields(vec![FieldError::new("name", "Another branch has this name.")]));
        }
        other => {
            other?;
        }
    }
    let after = serde_json::json!({"name": name, "city": city, "meeting_place": meeting_place, "contact": contact,
        "address": address, "listed": listed});
    let change = audit::Change {
        action: if before.is_some() { "branch.update" } else { "branch.create" },
        entity: "branch",
        entity_id: &branch_id,
        before: before.map(|b| serde_json::json!(b)),
        after: Some(after),
    };
    audit::record(&mut tx, actor, change, now).await?;
    tx.commit().await?;
    Ok(branch_id)
}

#[derive(Clone, Debug, Serialize, sqlx::FromRow)]
pub struct StandingOrder {
    pub id: String,
    pub publication: String,
    pub copies: i64,
    pub price_per_copy: i64,
    pub from_period: i64,
    pub to_period: Option<i64>,
}

impl StandingOrder {
    pub fn describe_from(&self) -> String {
        terms::describe(self.from_period)
    }

    pub fn describe_to(&self) -> Option<String> {
        self.to_period.map(terms::describe)
    }
}

pub async fn standing_orders(db: &Db, branch_id: &str) -> Result<Vec<StandingOrder>> {
    Ok(sqlx::query_as(
        "SELECT id, publication, copies, price_per_copy, from_period, to_period FROM standing_orders \
         WHERE branch_id = $1 ORDER BY publication, from_period",
    )
    .bind(branch_id)
    .fetch_all(&db.pool)
    .await?)
}

/// A standing order as staff typed it.
#[derive(Clone, Debug, Default, Deserialize, Serialize)]
pub struct StandingOrderInput {
    #[serde(default)]
    pub publication: String,
    #[serde(default)]
    pub copies: String,
    #[serde(default)]
    pub price_per_copy: String,
    /// yyyy-mm
    #[serde(default)]
    pub from: String,
    /// yyyy-mm, or empty for open-ended.
    #[serde(default)]
    pub to: String,
}

fn count(text: &str, field: &'static str, label: &str, problems: &mut Vec<FieldError>) -> i64 {
    match text.trim().parse::<i64>() {
        Ok(n @ 0..=100_000) => n,
        _ => {
            problems.push(FieldError::new(field, format!("{label} is a whole number from 0 to 100000.")));
            0
        }
    }
}

pub async fn add_standing_order(
    db: &Db,
    branch_id: &str,
    input: &StandingOrderInput,
    currency: Currency,
    actor: &Actor,
    now: i64,
) -> Result<()> {
    find_branch(db, branch_id).await?;
    let mut problems = Vec::new();
    if catalog::find_publication(db, &input.publication).await?.is_none() {
        problems.push(FieldError::new("publication", "Choose a publication."));
    }
    let copies = count(&input.copies, "copies", "Copies", &mut problems);
    if copies == 0 && !problems.iter().any(|p| p.field == "copies") {
        problems.push(FieldError::new("copies", "A standing order is at least one copy."));
    }
    let price = match Money::parse(&input.price_per_copy, currency) {
        Ok(m) if (0..=100_000).contains(&m.amount) => m.amount,
        _ => {
            problems.push(FieldError::new("price_per_copy", "Give the price per copy, such as 1.25 (not negative)."));
            0
        }
    };
    let from = terms::parse_month(&input.from);
    if from.is_none() {
        problems.push(FieldError::new("from", "Give the first issue as yyyy-mm."));
    }
    let to = match input.to.trim() {
        "" => None,
        typed => match (terms::parse_month(typed), from) {
            (Some(to), Some(from)) if to >= from => Some(to),
            (Some(_), Some(_)) => {
                problems.push(FieldError::new("to", "The last issue comes before the first."));
                None
            }
            _ => {
                problems.push(FieldError::new("to", "Give the last issue as yyyy-mm, or leave it empty."));
                None
            }
        },
    };
    let (Some(from), true) = (from, problems.is_empty()) else { return Err(Error::Fields(problems)) };
    let id = uuid::Uuid::new_v4().simple().to_string();
    let mut tx = db.begin_write().await?;
    sqlx::query(
        "INSERT INTO standing_orders (id, branch_id, publication, copies, price_per_copy, from_period, to_period, \
         created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
    )
    .bind(&id)
    .bind(branch_id)
    .bind(&input.publication)
    .bind(copies)
    .bind(price)
    .bind(from)
    .bind(to)
    .bind(now)
    .execute(&mut *tx)
    .await?;
    record_change(
        &mut tx,
        actor,
        branch_id,
        "branch.standing_order",
        serde_json::json!({"publication": input.publication, "copies": copies, "price_per_copy": price,
            "from_period": from, "to_period": to}),
        now,
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

/// Copies the standing orders send of an issue, read on `conn`.
async fn standing_copies(
    conn: &mut sqlx::AnyConnection,
    branch_id: &str,
    publication: &str,
    period: i64,
) -> Result<i64> {
    let (copies,): (i64,) = sqlx::query_as(
        "SELECT CAST(COALESCE(SUM(copies), 0) AS BIGINT) FROM standing_orders WHERE branch_id = $1 \
         AND publication = $2 AND from_period <= $3 AND (to_period IS NULL OR to_period >= $3)",
    )
    .bind(branch_id)
    .bind(publication)
    .bind(period)
    .fetch_one(&mut *conn)
    .await?;
    Ok(copies)
}

/// One issue at a branch as staff record it: the draw when it differs, returns and shortages.
#[derive(Clone, Debug, Default, Deserialize, Serialize)]
pub struct IssueRecordInput {
    /// An issue's SKU (sw-2017-01).
    #[serde(default)]
    pub issue: String,
    /// The draw, when it differs from the standing orders'; empty keeps theirs.
    #[serde(default)]
    pub copies: String,
    #[serde(default)]
    pub returned: String,
    #[serde(default)]
    pub short: String,
}

/// Records an issue's draw, returns and shortages; returns and shortages together may not exceed
/// the copies sent. One transaction with its audit entry.
pub async fn record_issue(db: &Db, branch_id: &str, input: &IssueRecordInput, actor: &Actor, now: i64) -> Result<()> {
    find_branch(db, branch_id).await?;
    let mut problems = Vec::new();
    let issue = catalog::IssueRef::from_sku(input.issue.trim());
    if issue.is_none() {
        problems.push(FieldError::new("issue", "Choose an issue."));
    }
    let draw = match input.copies.trim() {
        "" => None,
        typed => Some(count(typed, "copies", "The draw", &mut problems)),
    };
    let returned = count(
        if input.returned.trim().is_empty() { "0" } else { &input.returned },
        "returned",
        "Returns",
        &mut problems,
    );
    let short =
        count(if input.short.trim().is_empty() { "0" } else { &input.short }, "short", "Shortages", &mut problems);
    let (Some(issue), true) = (issue, problems.is_empty()) else { return Err(Error::Fields(problems)) };
    let period = terms::period(issue.year, issue.month);
    let mut tx = db.begin_write().await?;
    let sent = match draw {
        Some(copies) => copies,
        None => standing_copies(&mut tx, branch_id, &issue.publication, period).await?,
    };
    if returned + short > sent {
        return Err(Error::Fields(vec![FieldError::new(
            "returned",
            format!("Returns ({returned}) and shortages ({short}) are more than the {sent} copies sent."),
        )]));
    }
    sqlx::query(
        "INSERT INTO branch_issues (branch_id, publication, period, copies, returned, short, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (branch_id, publication, period) DO UPDATE SET \
         copies = excluded.copies, returned = excluded.returned, short = excluded.short, updated_at = excluded.updated_at",
    )
    .bind(branch_id)
    .bind(&issue.publication)
    .bind(period)
    .bind(draw)
    .bind(returned)
    .bind(short)
    .bind(now)
    .execute(&mut *tx)
    .await?;
    record_change(
        &mut tx,
        actor,
        branch_id,
        "branch.issue",
        serde_json::json!({"issue": issue.sku(), "draw": draw, "returned": returned, "short": short}),
        now,
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

/// A change to a branch's orders, returns or payments, audited on the change's transaction.
async fn record_change(
    conn: &mut sqlx::AnyConnection,
    actor: &Actor,
    branch_id: &str,
    action: &str,
    after: serde_json::Value,
    now: i64,
) -> Result<()> {
    let change = audit::Change { action, entity: "branch", entity_id: branch_id, before: None, after: Some(after) };
    audit::record(conn, actor, change, now).await
}

/// A payment received from a branch.
#[derive(Clone, Debug, Default, Deserialize, Serialize)]
pub struct PaymentInput {
    #[serde(default)]
    pub amount: String,
    /// yyyy-mm-dd
    #[serde(default)]
    pub received_on: String,
    #[serde(default)]
    pub reference: String,
}

pub async fn record_payment(
    db: &Db,
    branch_id: &str,
    input: &PaymentInput,
    currency: Currency,
    actor: &Actor,
    now: i64,
) -> Result<()> {
    find_branch(db, branch_id).await?;
    let mut problems = Vec::new();
    let amount = match Money::parse(&input.amount, currency) {
        Ok(m) if m.amount > 0 => m.amount,
        _ => {
            problems.push(FieldError::new("amount", "Give the amount received, such as 45.00."));
            0
        }
    };
    let received = crate::clock::day_start(&input.received_on);
    if received.is_none() {
        problems.push(FieldError::new("received_on", "Give the day it was received as yyyy-mm-dd."));
    }
    let (Some(received), true) = (received, problems.is_empty()) else { return Err(Error::Fields(problems)) };
    let reference = Some(input.reference.trim().chars().take(100).collect::<String>()).filter(|r| !r.is_empty());
    let id = uuid::Uuid::new_v4().simple().to_string();
    let mut tx = db.begin_write().await?;
    sqlx::query(
        "INSERT INTO branch_payments (id, branch_id, amount, received_on, reference, created_at) VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(&id)
    .bind(branch_id)
    .bind(amount)
    .bind(received)
    .bind(&reference)
    .bind(now)
    .execute(&mut *tx)
    .await?;
    record_change(
        &mut tx,
        actor,
        branch_id,
        "branch.payment",
        serde_json::json!({"amount": amount, "received_on": received, "reference": reference}),
        now,
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

/// One issue on a branch statement.
#[derive(Clone, Debug, Serialize, sqlx::FromRow, PartialEq, Eq)]
pub struct StatementLine {
    pub publication: String,
    pub period: i64,
    pub sent: i64,
    pub returned: i64,
    pub short: i64,
    pub net: i64,
    pub owed: i64,
}

#[derive(Clone, Debug, Serialize)]
pub struct Statement {
    pub lines: Vec<StatementLine>,
    /// Day received (yyyy-mm-dd), amount, reference.
    pub payments: Vec<(String, i64, Option<String>)>,
    pub sent: i64,
    pub returned: i64,
    pub net: i64,
    pub owed: i64,
    pub paid: i64,
    /// Owed less paid: what the branch still owes for the period.
    pub balance: i64,
}

/// The statement of the issues from `from` to `to` (periods) that came out (published) and the
/// payments received in those months.
pub async fn statement(db: &Db, branch_id: &str, from: i64, to: i64) -> Result<Statement> {
    let lines: Vec<StatementLine> = sqlx::query_as(
        "SELECT publication, period, sent, returned, short, sent - returned - short AS net, \
         (sent - returned - short) * price AS owed FROM ( \
           SELECT i.publication, i.year * 12 + i.month - 1 AS period, \
                  CAST(COALESCE(b.copies, SUM(s.copies)) AS BIGINT) AS sent, COALESCE(b.returned, 0) AS returned, \
                  COALESCE(b.short, 0) AS short, MAX(s.price_per_copy) AS price \
           FROM issues i \
           JOIN standing_orders s ON s.publication = i.publication AND s.branch_id = $1 \
                AND s.from_period <= i.year * 12 + i.month - 1 \
                AND (s.to_period IS NULL OR s.to_period >= i.year * 12 + i.month - 1) \
           LEFT JOIN branch_issues b ON b.branch_id = $1 AND b.publication = i.publication \
                AND b.period = i.year * 12 + i.month - 1 \
           WHERE i.published = 1 AND i.year * 12 + i.month - 1 BETWEEN $2 AND $3 \
           GROUP BY i.publication, i.year, i.month, b.copies, b.returned, b.short) issue_lines \
         ORDER BY period, publication",
    )
    .bind(branch_id)
    .bind(from)
    .bind(to)
    .fetch_all(&db.pool)
    .await?;
    let payments: Vec<(i64, i64, Option<String>)> = sqlx::query_as(
        "SELECT received_on, amount, reference FROM branch_payments WHERE branch_id = $1 \
         AND received_on >= $2 AND received_on < $3 ORDER BY received_on, created_at",
    )
    .bind(branch_id)
    .bind(terms::first_day(from))
    .bind(terms::first_day(to + 1))
    .fetch_all(&db.pool)
    .await?;
    let sum = |f: fn(&StatementLine) -> i64| lines.iter().map(f).sum::<i64>();
    let (sent, returned, net, owed) = (sum(|l| l.sent), sum(|l| l.returned + l.short), sum(|l| l.net), sum(|l| l.owed));
    let paid = payments.iter().map(|p| p.1).sum();
    let payments =
        payments.into_iter().map(|(day, amount, reference)| (crate::clock::day(day), amount, reference)).collect();
    Ok(Statement { lines, payments, sent, returned, net, owed, paid, balance: owed - paid })
}

/// Copies sent to all branches of one issue: its bundles in the print run. Each branch's recorded
/// draw, else its standing orders covering the issue; one query.
pub async fn bundle_copies(db: &Db, publication: &str, period: i64) -> Result<i64> {
    let (copies,): (i64,) = sqlx::query_as(
        "SELECT CAST(COALESCE(SUM(COALESCE(b.copies, s.copies)), 0) AS BIGINT) FROM branches br \
         LEFT JOIN branch_issues b ON b.branch_id = br.id AND b.publication = $1 AND b.period = $2 \
         LEFT JOIN (SELECT branch_id, SUM(copies) AS copies FROM standing_orders WHERE publication = $1 \
                    AND from_period <= $2 AND (to_period IS NULL OR to_period >= $2) GROUP BY branch_id) s \
              ON s.branch_id = br.id",
    )
    .bind(publication)
    .bind(period)
    .fetch_one(&db.pool)
    .await?;
    Ok(copies)
}
