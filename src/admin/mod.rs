//! Staff: accounts and sign-in (`staff.rs`), shop-wide settings, and the audit log of every
//! change made in the admin (`audit.rs`). The admin pages themselves are in `http/admin/`.

pub mod audit;
pub mod staff;

use crate::{db::Db, error::Result};

/// Whether every staff member must use a second factor.
pub async fn two_factor_required(db: &Db) -> Result<bool> {
    let row: Option<(String,)> =
        sqlx::query_as("SELECT value FROM settings WHERE name = 'require_two_factor'").fetch_optional(&db.pool).await?;
    Ok(row.is_some_and(|(v,)| v == "1"))
}

pub async fn set_two_factor_required(db: &Db, required: bool) -> Result<()> {
    sqlx::query(
        "INSERT INTO settings (name, value) VALUES ('require_two_factor', $1) \
         ON CONFLICT (name) DO UPDATE SET value = excluded.value",
    )
    .bind(if required { "1" } else { "0" })
    .execute(&db.pool)
    .await?;
    Ok(())
}
