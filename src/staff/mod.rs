//! Staff: accounts and sign-in (`accounts.rs`), their passwords (`password.rs`), the TOTP second factor
//! (`two_factor.rs`) and the shop-wide rule requiring it. The admin pages themselves are in `http/admin/`;
//! the audit log every layer writes to is `crate::audit`.

pub mod accounts;
pub mod password;
pub mod two_factor;

use crate::{
    audit::{self, Actor},
    db::Db,
    error::Result,
};

/// Whether every staff member must use a second factor.
pub async fn two_factor_required(db: &Db) -> Result<bool> {
    let row: Option<(String,)> =
        sqlx::query_as("SELECT value FROM settings WHERE name = 'require_two_factor'").fetch_optional(&db.pool).await?;
    Ok(row.is_some_and(|(v,)| v == "1"))
}

/// Sets the rule, with its audit entry in the same transaction.
pub async fn set_two_factor_required(db: &Db, required: bool, actor: &Actor, now: i64) -> Result<()> {
    let mut tx = db.begin_write().await?;
    let before: Option<(String,)> =
        sqlx::query_as("SELECT value FROM settings WHERE name = 'require_two_factor'").fetch_optional(&mut *tx).await?;
    sqlx::query(
        "INSERT INTO settings (name, value) VALUES ('require_two_factor', $1) \
         ON CONFLICT (name) DO UPDATE SET value = excluded.value",
    )
    .bind(if required { "1" } else { "0" })
    .execute(&mut *tx)
    .await?;
    let before = before.is_some_and(|(v,)| v == "1");
    let (before, after) = (Some(serde_json::json!(before)), Some(serde_json::json!(required)));
    audit::record(
        &mut tx,
        actor,
        audit::Change {
            action: "settings.two_factor",
            entity: "settings",
            entity_id: "require_two_factor",
            before,
            after,
        },
        now,
    )
    .await?;
    tx.commit().await?;
    Ok(())
}
