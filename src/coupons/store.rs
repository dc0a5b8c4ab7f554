//! Coupon rows: creating one (with every rule a staff member can break checked first) and finding one.

use anyhow::anyhow;
use sqlx::FromRow;
use std::sync::LazyLock;

use super::{normalize_code, AppliesTo, Coupon, CouponCode, CouponValue, NewCoupon, Percent};
use crate::error::{Constraint, ConstraintExt, FieldError};
use sqlx::AnyConnection;

use crate::{
    audit::{self, Actor},
    db::{flag, in_place::read_row_struct, Db, Param},
    error::{Error, Result},
    money::{Currency, Money},
};

/// Targets that name no publication or product of the shop.
pub async fn unknown_targets(db: &Db, applies_to: &AppliesTo) -> Result<Vec<FieldError>> {
    let mut problems = Vec::new();
    for target in applies_to.targets() {
        let sql = match applies_to {
            AppliesTo::Publications(_) => "SELECT COUNT(*) FROM publications WHERE slug = $1",
            _ => "SELECT (SELECT COUNT(*) FROM plans WHERE sku = $1) + (SELECT COUNT(*) FROM issues WHERE sku = $1)",
        };
        let (found,): (i64,) = sqlx::query_as(sql).bind(target).fetch_one(&db.pool).await?;
        if found == 0 {
            let what = if matches!(applies_to, AppliesTo::Publications(_)) { "publication" } else { "product" };
            problems.push(FieldError::new("targets", format!("There is no {what} {target}.")));
        }
    }
    Ok(problems)
}

/// Saves a new coupon. Refused with field errors when a rule is broken, including a code that
/// normalizes like an existing one (the unique index decides, so two staff at once cannot both win).
pub async fn create_coupon(db: &Db, coupon: &NewCoupon, actor: Option<&Actor>, now: i64) -> Result<Coupon> {
    let mut problems = coupon.problems();
    problems.extend(unknown_targets(db, &coupon.applies_to).await?);
    problems.extend(code_taken(db, &coupon.code, None).await?);
    if !problems.is_empty() {
        return Err(Error::Fields(problems));
    }
    let id = uuid::Uuid::new_v4().simple().to_string();
    let normalized = normalize_code(&coupon.code);
    let mut tx = db.begin_write().await?;
    let insert = sqlx::query(
        "INSERT INTO coupons (id, code, normalized_code, description, kind, percent_bp, amount_off, currency, \
         applies_to, new_subscribers_only, starts_at, ends_at, max_redemptions, per_customer_limit, min_subtotal, \
         active, covers_postage, applies_to_reduced, applies_to_sustainer, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20) \
         ON CONFLICT (normalized_code) DO NOTHING",
    )
    .bind(&id);
    let inserted = bind_fields(insert, coupon).bind(now).execute(&mut *tx).await?.rows_affected();
    if inserted == 0 {
        return Err(Error::Fields(vec![code_in_use(&normalized)]));
    }
    save_targets(&mut tx, &id, &coupon.applies_to).await?;
    if let Some(actor) = actor {
        audit::record(
            &mut tx,
            actor,
            audit::Change {
                action: "coupon.create",
                entity: "coupon",
                entity_id: &id,
                before: None,
                after: Some(coupon.record()),
            },
            now,
        )
        .await?;
    }
    tx.commit().await?;
    let created = find_coupon(db, &id).await?.ok_or_else(|| anyhow!("the coupon just saved is missing"))?;
    Ok(created)
}

/// Binds a coupon's stored fields as `$2` to `$19`, in the order both the INSERT and the UPDATE name them.
fn bind_fields<'q>(
    query: sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments<'q>>,
    coupon: &'q NewCoupon,
) -> sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments<'q>> {
    let (kind, percent_bp, amount_off) = match &coupon.value {
        CouponValue::Percent(percent) => ("percent", Some(percent.basis_points()), None),
        CouponValue::Fixed(m) => ("fixed", None, Some(m.amount)),
    };
    query
        .bind(coupon.code.trim())
        .bind(normalize_code(&coupon.code))
        .bind(coupon.description.trim())
        .bind(kind)
        .bind(percent_bp)
        .bind(amount_off)
        .bind(coupon.currency.code())
        .bind(coupon.applies_to.kind())
        .bind(coupon.new_subscribers_only as i64)
        .bind(coupon.starts_at)
        .bind(coupon.ends_at)
        .bind(coupon.max_redemptions)
        .bind(coupon.per_customer_limit)
        .bind(coupon.min_subtotal.map(|m| m.amount))
        .bind(coupon.active as i64)
        .bind(coupon.covers_postage as i64)
        .bind(coupon.applies_to_reduced as i64)
        .bind(coupon.applies_to_sustainer as i64)
}

fn code_in_use(normalized: &str) -> FieldError {
    FieldError::new(
        "code",
        format!("Another coupon already uses the code {normalized} (codes ignore case, spaces and hyphens)."),
    )
}

/// Said beside the form's other mistakes; the unique index still decides when two staff save at once.
pub async fn code_taken(db: &Db, code: &str, except_id: Option<&str>) -> Result<Option<FieldError>> {
    let normalized = normalize_code(code);
    if normalized.is_empty() {
        return Ok(None);
    }
    let (taken,): (i64,) =
        sqlx::query_as("SELECT COUNT(*) FROM coupons WHERE normalized_code = $1 AND ($2 IS NULL OR id <> $2)")
            .bind(&normalized)
            .bind(except_id)
            .fetch_one(&db.pool)
            .await?;
    Ok((taken > 0).then(|| code_in_use(&normalized)))
}

async fn save_targets(conn: &mut AnyConnection, id: &str, applies_to: &AppliesTo) -> Result<()> {
    sqlx::query("DELETE FROM coupon_targets WHERE coupon_id = $1").bind(id).execute(&mut *conn).await?;
    for target in applies_to.targets() {
        sqlx::query("INSERT INTO coupon_targets (coupon_id, target) VALUES ($1, $2) ON CONFLICT DO NOTHING")
            .bind(id)
            .bind(target)
            .execute(&mut *conn)
            .await?;
    }
    Ok(())
}

/// Changes a coupon. Once redeemed (even by a pending order) its code can no longer change.
pub async fn update_coupon(db: &Db, id: &str, coupon: &NewCoupon, actor: &Actor, now: i64) -> Result<Coupon> {
    let before = find_coupon(db, id).await?.ok_or_else(no_such_coupon)?;
    let mut problems = coupon.problems();
    problems.extend(unknown_targets(db, &coupon.applies_to).await?);
    let normalized = normalize_code(&coupon.code);
    if normalized != before.normalized_code && redemption_count(db, id).await? > 0 {
        problems.push(FieldError::new("code", "This coupon has been redeemed, so its code can no longer change."));
    } else {
        problems.extend(code_taken(db, &coupon.code, Some(id)).await?);
    }
    if !problems.is_empty() {
        return Err(Error::Fields(problems));
    }
    let mut tx = db.begin_write().await?;
    let update = sqlx::query(
        "UPDATE coupons SET code = $2, normalized_code = $3, description = $4, kind = $5, percent_bp = $6, \
         amount_off = $7, currency = $8, applies_to = $9, new_subscribers_only = $10, starts_at = $11, ends_at = $12, \
         max_redemptions = $13, per_customer_limit = $14, min_subtotal = $15, active = $16, covers_postage = $17, \
         applies_to_reduced = $18, applies_to_sustainer = $19, redemptions_used = 0 WHERE id = $1",
    )
    .bind(id);
    bind_fields(update, coupon).execute(&mut *tx).await.on_constraint(|violated| match violated {
        Constraint::Unique => Some(Error::Fields(vec![code_in_use(&normalized)])),
        Constraint::Check => None,
    })?;
    // A coupon with a limit counts its uses (see `orders::checkout::reserve_coupon`); one without
    // keeps no count. Counted now, holding the row: checkouts and releases under way have finished.
    sqlx::query(
        "UPDATE coupons SET redemptions_used = (SELECT COUNT(*) FROM coupon_redemptions \
         WHERE coupon_id = $1 AND status IN ('reserved', 'final')) WHERE id = $1 AND max_redemptions IS NOT NULL",
    )
    .bind(id)
    .execute(&mut *tx)
    .await
    .on_constraint(|_| {
        let field = FieldError::new("max_redemptions", "The limit cannot be lower than the redemptions already made.");
        Some(Error::Fields(vec![field]))
    })?;
    save_targets(&mut tx, id, &coupon.applies_to).await?;
    audit::record(
        &mut tx,
        actor,
        audit::Change {
            action: "coupon.update",
            entity: "coupon",
            entity_id: id,
            before: Some(before.record()),
            after: Some(coupon.record()),
        },
        now,
    )
    .await?;
    tx.commit().await?;
    find_coupon(db, id).await?.ok_or_else(no_such_coupon)
}

fn no_such_coupon() -> Error {
    Error::not_found("coupon_not_found", "There is no such coupon.")
}

/// Reserved, final and released redemptions: anything that ties the coupon to an order.
pub async fn redemption_count(db: &Db, id: &str) -> Result<i64> {
    let (count,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM coupon_redemptions WHERE coupon_id = $1")
        .bind(id)
        .fetch_one(&db.pool)
        .await?;
    Ok(count)
}

/// Switches a coupon on or off; off takes effect at once for carts and checkouts, paid orders keep theirs.
pub async fn set_coupon_active(db: &Db, id: &str, active: bool, actor: &Actor, now: i64) -> Result<()> {
    let before = find_coupon(db, id).await?.ok_or_else(no_such_coupon)?;
    let mut tx = db.begin_write().await?;
    sqlx::query("UPDATE coupons SET active = $2 WHERE id = $1").bind(id).bind(active as i64).execute(&mut *tx).await?;
    let action = if active { "coupon.activate" } else { "coupon.deactivate" };
    let after = serde_json::json!({"code": before.code, "active": active});
    audit::record(
        &mut tx,
        actor,
        audit::Change {
            action,
            entity: "coupon",
            entity_id: id,
            before: Some(serde_json::json!({"code": before.code, "active": before.active})),
            after: Some(after),
        },
        now,
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

/// Deletes a coupon that was never redeemed; a redeemed one can only be deactivated.
pub async fn delete_coupon(db: &Db, id: &str, actor: &Actor, now: i64) -> Result<()> {
    let before = find_coupon(db, id).await?.ok_or_else(no_such_coupon)?;
    let mut tx = db.begin_write().await?;
    let (redeemed,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM coupon_redemptions WHERE coupon_id = $1")
        .bind(id)
        .fetch_one(&mut *tx)
        .await?;
    if redeemed > 0 {
        return Err(Error::Conflict {
            code: "coupon_redeemed",
            message: format!("{} has been redeemed, so it cannot be deleted. Deactivate it instead.", before.code),
        });
    }
    sqlx::query("UPDATE carts SET coupon_id = NULL WHERE coupon_id = $1").bind(id).execute(&mut *tx).await?;
    // Its offer page goes with it (a shared link then finds no page).
    sqlx::query("DELETE FROM offers WHERE coupon_id = $1").bind(id).execute(&mut *tx).await?;
    sqlx::query("DELETE FROM coupons WHERE id = $1").bind(id).execute(&mut *tx).await?;
    audit::record(
        &mut tx,
        actor,
        audit::Change {
            action: "coupon.delete",
            entity: "coupon",
            entity_id: id,
            before: Some(before.record()),
            after: None,
        },
        now,
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

pub async fn list_coupons(db: &Db) -> Result<Vec<Coupon>> {
    let sql = format!("{COUPON_SELECT} ORDER BY c.created_at DESC, c.code, t.target");
    let rows: Vec<CouponRow> = sqlx::query_as(&sql).fetch_all(&db.pool).await?;
    coupons_from_rows(rows)
}

/// Each coupon's uses: its reserved and final redemptions (a coupon without a limit keeps no count
/// of them, see `Coupon::redemptions_used`). For the admin's list.
pub async fn uses_by_coupon(db: &Db) -> Result<std::collections::HashMap<String, i64>> {
    let rows: Vec<(String, i64)> = sqlx::query_as(
        "SELECT coupon_id, COUNT(*) FROM coupon_redemptions WHERE status IN ('reserved', 'final') GROUP BY coupon_id",
    )
    .fetch_all(&db.pool)
    .await?;
    Ok(rows.into_iter().collect())
}

/// One coupon's reserved and final redemptions.
pub async fn uses_of(db: &Db, id: &str) -> Result<i64> {
    let (count,): (i64,) = sqlx::query_as(
        "SELECT COUNT(*) FROM coupon_redemptions WHERE coupon_id = $1 AND status IN ('reserved', 'final')",
    )
    .bind(id)
    .fetch_one(&db.pool)
    .await?;
    Ok(count)
}

/// One use of a coupon by an order.
#[derive(Clone, Debug, serde::Serialize, FromRow)]
pub struct Redemption {
    pub order_id: String,
    pub email: String,
    pub created_at: i64,
    pub amount_saved: i64,
    pub status: String,
}

pub async fn redemptions(db: &Db, coupon_id: &str) -> Result<Vec<Redemption>> {
    Ok(sqlx::query_as(
        "SELECT r.order_id, o.email, r.created_at, r.amount_saved, r.status FROM coupon_redemptions r          JOIN orders o ON o.id = r.order_id WHERE r.coupon_id = $1 ORDER BY r.created_at DESC",
    )
    .bind(coupon_id)
    .fetch_all(&db.pool)
    .await?)
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
    covers_postage: i64,
    applies_to_reduced: i64,
    applies_to_sustainer: i64,
    /// One of its targets (`COUPON_SELECT`).
    target: Option<String>,
}
read_row_struct!(CouponRow {
    id,
    code,
    normalized_code,
    description,
    kind,
    percent_bp,
    amount_off,
    currency,
    applies_to,
    new_subscribers_only,
    starts_at,
    ends_at,
    max_redemptions,
    redemptions_used,
    per_customer_limit,
    min_subtotal,
    active,
    covers_postage,
    applies_to_reduced,
    applies_to_sustainer,
    target
});

fn coupon_from_row(row: CouponRow, targets: Vec<String>) -> Result<Coupon> {
    let corrupt = |what: &str| Error::Internal(anyhow!("coupon {} has an unreadable {what}", row.id));
    let currency = Currency::parse(&row.currency).ok_or_else(|| corrupt("currency"))?;
    let value = match (row.kind.as_str(), row.percent_bp, row.amount_off) {
        ("percent", Some(bp), _) => {
            CouponValue::Percent(Percent::from_basis_points(bp).ok_or_else(|| corrupt("percentage"))?)
        }
        ("fixed", _, Some(amount)) => CouponValue::Fixed(Money::new(amount, currency)),
        _ => return Err(corrupt("value")),
    };
    let applies_to = AppliesTo::from_kind(&row.applies_to, targets).ok_or_else(|| corrupt("scope"))?;
    Ok(Coupon {
        value,
        applies_to,
        new_subscribers_only: flag(row.new_subscribers_only),
        covers_postage: flag(row.covers_postage),
        applies_to_reduced: flag(row.applies_to_reduced),
        applies_to_sustainer: flag(row.applies_to_sustainer),
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
    let rows: Vec<CouponRow> = db.read_rows(&FIND_BY_ID, &[Param::Text(id)]).await?;
    Ok(coupons_from_rows(rows)?.pop())
}

/// Looks a coupon up by its code, however it was spaced or cased.
pub async fn find_coupon_by_code(db: &Db, code: &CouponCode) -> Result<Option<Coupon>> {
    let rows: Vec<CouponRow> = db.read_rows(&FIND_BY_CODE, &[Param::Text(code.normalized())]).await?;
    Ok(coupons_from_rows(rows)?.pop())
}

/// A coupon's columns with its targets joined: one row per target, or one with none (see
/// `coupons_from_rows`). One read for a coupon instead of two.
const COUPON_SELECT: &str = "SELECT c.id, c.code, c.normalized_code, c.description, c.kind, c.percent_bp, \
     c.amount_off, c.currency, c.applies_to, c.new_subscribers_only, c.starts_at, c.ends_at, c.max_redemptions, \
     c.redemptions_used, c.per_customer_limit, c.min_subtotal, c.active, c.covers_postage, c.applies_to_reduced, \
     c.applies_to_sustainer, t.target FROM coupons c LEFT JOIN coupon_targets t ON t.coupon_id = c.id";
static FIND_BY_ID: LazyLock<String> = LazyLock::new(|| format!("{COUPON_SELECT} WHERE c.id = $1 ORDER BY t.target"));
static FIND_BY_CODE: LazyLock<String> =
    LazyLock::new(|| format!("{COUPON_SELECT} WHERE c.normalized_code = $1 ORDER BY t.target"));

/// Coupons from `COUPON_SELECT`'s rows, each coupon's rows together.
fn coupons_from_rows(rows: Vec<CouponRow>) -> Result<Vec<Coupon>> {
    crate::db::with_children(rows, |mut row| {
        let target = row.target.take();
        (row.id.clone(), row, target)
    })
    .into_iter()
    .map(|(row, targets)| coupon_from_row(row, targets))
    .collect()
}
