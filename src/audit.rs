//! The audit log: who changed what in the admin (or from the command line), when, and the record
//! before and after. Every layer that changes something on staff's behalf writes here, always on
//! the transaction of the change itself, so a change and its entry commit together or not at all.

use serde::Serialize;
use sqlx::{AnyConnection, FromRow};

use crate::{db::Db, error::Result};

/// Who is acting.
#[derive(Clone, Debug)]
pub struct Actor {
    /// None for the operator at the command line.
    pub staff_id: Option<String>,
    pub email: String,
}

impl Actor {
    pub fn staff(staff_id: &str, email: &str) -> Actor {
        Actor { staff_id: Some(staff_id.to_string()), email: email.to_string() }
    }

    /// A reader acting on their own account (asking to be erased).
    pub fn reader() -> Actor {
        Actor { staff_id: None, email: "(the reader)".into() }
    }

    /// Whoever runs `masthead staff ...` on the server.
    pub fn command_line() -> Actor {
        Actor { staff_id: None, email: "(command line)".into() }
    }
}

/// What changed: `coupon.update` of coupon `id`, with the record before and after.
#[derive(Clone, Debug)]
pub struct Change<'a> {
    pub action: &'a str,
    pub entity: &'a str,
    pub entity_id: &'a str,
    pub before: Option<serde_json::Value>,
    pub after: Option<serde_json::Value>,
}

/// Writes an entry on the caller's connection or transaction, so it commits with the change.
pub async fn record(conn: &mut AnyConnection, actor: &Actor, change: Change<'_>, now: i64) -> Result<()> {
    let Change { action, entity, entity_id, before, after } = change;
    sqlx::query(
        "INSERT INTO audit_log (id, at, staff_id, staff_email, action, entity, entity_id, before_json, after_json) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
    )
    .bind(uuid::Uuid::new_v4().simple().to_string())
    .bind(now)
    .bind(&actor.staff_id)
    .bind(&actor.email)
    .bind(action)
    .bind(entity)
    .bind(entity_id)
    .bind(before.map(|v| v.to_string()))
    .bind(after.map(|v| v.to_string()))
    .execute(&mut *conn)
    .await?;
    Ok(())
}

#[derive(Clone, Debug, Serialize, FromRow)]
pub struct AuditEntry {
    pub at: i64,
    pub staff_email: String,
    pub action: String,
    pub entity: String,
    pub entity_id: String,
    pub before_json: Option<String>,
    pub after_json: Option<String>,
}

pub async fn recent(db: &Db, limit: i64) -> Result<Vec<AuditEntry>> {
    Ok(sqlx::query_as(
        "SELECT at, staff_email, action, entity, entity_id, before_json, after_json FROM audit_log \
         ORDER BY at DESC, id LIMIT $1",
    )
    .bind(limit)
    .fetch_all(&db.pool)
    .await?)
}
