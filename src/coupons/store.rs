//! Coupon rows: creating one (with every rule a staff member can break checked first) and finding one.

use anyhow::anyhow;
use serde::Deserialize;
use sqlx::FromRow;

use super::{normalize_code, AppliesTo, Coupon, CouponValue};
use crate::{
    db::{flag, Db},
    error::{Error, Result},
    money::{Currency, Money},
};

#[derive(Clone, Debug)]
pub struct NewCoupon {
    /// The currency of a fixed amount and of the minimum subtotal: the shop's.
    pub currency: Currency,
    pub code: String,
    pub description: String,
    pub value: CouponValue,
    pub applies_to: AppliesTo,
    pub new_subscribers_only: bool,
    pub starts_at: Option<i64>,
    pub ends_at: Option<i64>,
    pub max_redemptions: Option<i64>,
    pub per_customer_limit: Option<i64>,
    pub min_subtotal: Option<Money>,
    pub active: bool,
}

/// One field of a coupon that cannot be saved as it is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FieldError {
    pub field: &'static str,
    pub message: String,
}

impl NewCoupon {
    /// Every rule a coupon must keep, each broken one named by its field.
    pub fn problems(&self) -> Vec<FieldError> {
        let mut problems = Vec::new();
        let mut problem = |field, message: &str| problems.push(FieldError { field, message: message.into() });
        let normalized = normalize_code(&self.code);
        if normalized.is_empty() {
            problem("code", "A coupon needs a code.");
        } else if normalized.len() > 40 || !normalized.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
            problem("code", "A code is up to 40 letters and digits (spaces and hyphens are ignored).");
        }
        if self.description.trim().is_empty() {
            problem("description", "Say what the coupon gives, for the readers who use it.");
        }
        match &self.value {
            CouponValue::Percent(bp) if !(1..=10_000).contains(bp) => {
                problem("percent", "A percentage must be more than 0 and at most 100.")
            }
            CouponValue::Fixed(amount) if amount.amount <= 0 => {
                problem("amount_off", "A fixed discount must be more than zero.")
            }
            CouponValue::Fixed(amount) if amount.currency != self.currency => {
                problem("amount_off", "A fixed discount must be in the shop's currency.")
            }
            _ => {}
        }
        if matches!(self.applies_to, AppliesTo::Publications(_) | AppliesTo::Skus(_))
            && self.applies_to.targets().is_empty()
        {
            problem("targets", "Choose at least one publication or product the coupon applies to.");
        }
        if let (Some(start), Some(end)) = (self.starts_at, self.ends_at) {
            if end <= start {
                problem("ends_at", "The end must come after the start.");
            }
        }
        if self.max_redemptions.is_some_and(|n| n <= 0) {
            problem("max_redemptions", "A redemption limit must be at least 1.");
        }
        if self.per_customer_limit.is_some_and(|n| n <= 0) {
            problem("per_customer_limit", "A per-reader limit must be at least 1.");
        }
        if self.min_subtotal.is_some_and(|m| m.currency != self.currency) {
            problem("min_subtotal", "A minimum subtotal must be in the shop's currency.");
        }
        if self.min_subtotal.is_some_and(|m| m.amount <= 0) {
            problem("min_subtotal", "A minimum subtotal must be more than zero.");
        }
        problems
    }
}

/// Saves a new coupon. Refused with field errors when a rule is broken, including a code that
/// normalizes like an existing one (the unique index decides, so two staff at once cannot both win).
pub async fn create_coupon(db: &Db, coupon: &NewCoupon, now: i64) -> Result<Result<Coupon, Vec<FieldError>>> {
    let problems = coupon.problems();
    if !problems.is_empty() {
        return Ok(Err(problems));
    }
    let id = uuid::Uuid::new_v4().simple().to_string();
    let normalized = normalize_code(&coupon.code);
    let (kind, percent_bp, amount_off) = match &coupon.value {
        CouponValue::Percent(bp) => ("percent", Some(*bp), None),
        CouponValue::Fixed(m) => ("fixed", None, Some(m.amount)),
    };
    let currency = coupon.currency.code();
    let mut tx = db.pool.begin().await?;
    let inserted = sqlx::query(
        "INSERT INTO coupons (id, code, normalized_code, description, kind, percent_bp, amount_off, currency, \
         applies_to, new_subscribers_only, starts_at, ends_at, max_redemptions, per_customer_limit, min_subtotal, \
         active, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17) \
         ON CONFLICT (normalized_code) DO NOTHING",
    )
    .bind(&id)
    .bind(coupon.code.trim())
    .bind(&normalized)
    .bind(coupon.description.trim())
    .bind(kind)
    .bind(percent_bp)
    .bind(amount_off)
    .bind(currency)
    .bind(coupon.applies_to.kind())
    .bind(coupon.new_subscribers_only as i64)
    .bind(coupon.starts_at)
    .bind(coupon.ends_at)
    .bind(coupon.max_redemptions)
    .bind(coupon.per_customer_limit)
    .bind(coupon.min_subtotal.map(|m| m.amount))
    .bind(coupon.active as i64)
    .bind(now)
    .execute(&mut *tx)
    .await?
    .rows_affected();
    if inserted == 0 {
        return Ok(Err(vec![FieldError {
            field: "code",
            message: format!("Another coupon already uses the code {} (codes ignore case, spaces and hyphens).", normalized),
        }]));
    }
    for target in coupon.applies_to.targets() {
        sqlx::query("INSERT INTO coupon_targets (coupon_id, target) VALUES ($1, $2) ON CONFLICT DO NOTHING")
            .bind(&id)
            .bind(target)
            .execute(&mut *tx)
            .await?;
    }
    tx.commit().await?;
    let created = find_coupon(db, &id).await?.ok_or_else(|| anyhow!("the coupon just saved is missing"))?;
    Ok(Ok(created))
}

#[derive(FromRow)]
struct CouponRow {
    id: String,
    code: String,
    normalized_code: String,
    description: String,
    kind: String,
    percent_bp: Option<i64>,
    amount_off: Option<i64>,
    currency: String,
    applies_to: String,
    new_subscribers_only: i64,
    starts_at: Option<i64>,
    ends_at: Option<i64>,
    max_redemptions: Option<i64>,
    redemptions_used: i64,
    per_customer_limit: Option<i64>,
    min_subtotal: Option<i64>,
    active: i64,
}

const COUPON_COLUMNS: &str = "id, code, normalized_code, description, kind, percent_bp, amount_off, currency, \
     applies_to, new_subscribers_only, starts_at, ends_at, max_redemptions, redemptions_used, per_customer_limit, \
     min_subtotal, active FROM coupons";

async fn coupon_from_row(db: &Db, row: CouponRow) -> Result<Coupon> {
    let corrupt = |what: &str| Error::Internal(anyhow!("coupon {} has an unreadable {what}", row.id));
    let currency = Currency::parse(&row.currency).ok_or_else(|| corrupt("currency"))?;
    let value = match (row.kind.as_str(), row.percent_bp, row.amount_off) {
        ("percent", Some(bp), _) => CouponValue::Percent(bp),
        ("fixed", _, Some(amount)) => CouponValue::Fixed(Money::new(amount, currency)),
        _ => return Err(corrupt("value")),
    };
    let targets: Vec<(String,)> =
        sqlx::query_as("SELECT target FROM coupon_targets WHERE coupon_id = $1 ORDER BY target")
            .bind(&row.id)
            .fetch_all(&db.pool)
            .await?;
    let targets = targets.into_iter().map(|(t,)| t).collect();
    let applies_to = match row.applies_to.as_str() {
        "everything" => AppliesTo::Everything,
        "subscriptions" => AppliesTo::Subscriptions,
        "single_issues" => AppliesTo::SingleIssues,
        "publications" => AppliesTo::Publications(targets),
        "skus" => AppliesTo::Skus(targets),
        _ => return Err(corrupt("scope")),
    };
    Ok(Coupon {
        value,
        applies_to,
        new_subscribers_only: flag(row.new_subscribers_only),
        starts_at: row.starts_at,
        ends_at: row.ends_at,
        max_redemptions: row.max_redemptions,
        redemptions_used: row.redemptions_used,
        per_customer_limit: row.per_customer_limit,
        min_subtotal: row.min_subtotal.map(|amount| Money::new(amount, currency)),
        active: flag(row.active),
        id: row.id,
        code: row.code,
        normalized_code: row.normalized_code,
        description: row.description,
    })
}

pub async fn find_coupon(db: &Db, id: &str) -> Result<Option<Coupon>> {
    let sql = format!("SELECT {COUPON_COLUMNS} WHERE id = $1");
    let row: Option<CouponRow> = sqlx::query_as(&sql).bind(id).fetch_optional(&db.pool).await?;
    match row {
        Some(row) => Ok(Some(coupon_from_row(db, row).await?)),
        None => Ok(None),
    }
}

/// Looks a coupon up by what the reader typed, however they spaced or cased it.
pub async fn find_coupon_by_code(db: &Db, typed: &str) -> Result<Option<Coupon>> {
    let sql = format!("SELECT {COUPON_COLUMNS} WHERE normalized_code = $1");
    let row: Option<CouponRow> = sqlx::query_as(&sql).bind(normalize_code(typed)).fetch_optional(&db.pool).await?;
    match row {
        Some(row) => Ok(Some(coupon_from_row(db, row).await?)),
        None => Ok(None),
    }
}

#[derive(Deserialize)]
struct CouponFixture {
    code: String,
    description: String,
    percent: String,
    applies_to: String,
    new_subscribers_only: bool,
}

const COUPONS_JSON: &str = include_str!("../../fixtures/coupons.json");

/// Loads the demo coupons (the publisher's `FTR 2016`); a code that exists already is left alone.
pub async fn seed_demo_coupons(db: &Db, currency: Currency, now: i64) -> anyhow::Result<()> {
    let fixtures: Vec<CouponFixture> = serde_json::from_str(COUPONS_JSON)?;
    for f in fixtures {
        if find_coupon_by_code(db, &f.code).await?.is_some() {
            continue;
        }
        let percent: rust_decimal::Decimal = f.percent.parse()?;
        let bp = rust_decimal::prelude::ToPrimitive::to_i64(&(percent * rust_decimal::Decimal::from(100)))
            .ok_or_else(|| anyhow!("percent {}", f.percent))?;
        let applies_to = match f.applies_to.as_str() {
            "subscriptions" => AppliesTo::Subscriptions,
            "single_issues" => AppliesTo::SingleIssues,
            _ => AppliesTo::Everything,
        };
        let coupon = NewCoupon {
            currency,
            code: f.code,
            description: f.description,
            value: CouponValue::Percent(bp),
            applies_to,
            new_subscribers_only: f.new_subscribers_only,
            starts_at: None,
            ends_at: None,
            max_redemptions: None,
            per_customer_limit: None,
            min_subtotal: None,
            active: true,
        };
        if let Err(problems) = create_coupon(db, &coupon, now).await? {
            anyhow::bail!("fixtures/coupons.json: {problems:?}");
        }
    }
    Ok(())
}
