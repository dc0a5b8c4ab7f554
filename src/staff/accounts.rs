//! Staff accounts: adding and disabling them, one-time links to set a password, enrolling the
//! second factor (`two_factor.rs`), and sign-in, slowed down and then refused after repeated
//! failures. Passwords are hashed in `password.rs`.

use std::time::Duration;

use serde::Serialize;
use sha2::{Digest, Sha256};
use sqlx::{AnyConnection, FromRow};

use super::{
    password::{self, password_problem},
    two_factor::totp_code_matches,
};
use crate::{
    attempts::STAFF_SIGN_IN,
    audit::{self, Actor},
    db::{flag, Db},
    email::EmailAddress,
    error::{Error, Result},
};

/// A one-time link to set a password lasts a day.
const PASSWORD_LINK_SECS: i64 = 24 * 3600;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    Admin,
    Staff,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::Staff => "staff",
        }
    }
}

#[derive(Clone, Debug, Serialize)]
pub struct Staff {
    pub id: String,
    pub email: String,
    pub role: Role,
    pub has_password: bool,
    pub two_factor: bool,
    pub disabled: bool,
    pub created_at: i64,
    pub last_sign_in: Option<i64>,
}

#[derive(FromRow)]
struct StaffRow {
    id: String,
    email: String,
    role: String,
    password_hash: Option<String>,
    totp_secret: Option<String>,
    disabled: i64,
    created_at: i64,
    last_sign_in: Option<i64>,
}

impl StaffRow {
    fn staff(&self) -> Staff {
        Staff {
            id: self.id.clone(),
            email: self.email.clone(),
            role: if self.role == "admin" { Role::Admin } else { Role::Staff },
            has_password: self.password_hash.is_some(),
            two_factor: self.totp_secret.is_some(),
            disabled: flag(self.disabled),
            created_at: self.created_at,
            last_sign_in: self.last_sign_in,
        }
    }
}

fn normalize(email: &str) -> String {
    EmailAddress::normalize(email)
}

pub async fn find_by_email(db: &Db, email: &str) -> Result<Option<Staff>> {
    Ok(row_by_email(db, email).await?.map(|r| r.staff()))
}

async fn row_by_email(db: &Db, email: &str) -> Result<Option<StaffRow>> {
    let sql = "SELECT id, email, role, password_hash, totp_secret, disabled, created_at, last_sign_in FROM staff WHERE email = $1";
    Ok(sqlx::query_as(sql).bind(normalize(email)).fetch_optional(&db.pool).await?)
}

async fn row_by_id(db: &Db, id: &str) -> Result<Option<StaffRow>> {
    let sql = "SELECT id, email, role, password_hash, totp_secret, disabled, created_at, last_sign_in FROM staff WHERE id = $1";
    Ok(sqlx::query_as(sql).bind(id).fetch_optional(&db.pool).await?)
}

pub async fn find_by_id(db: &Db, id: &str) -> Result<Option<Staff>> {
    Ok(row_by_id(db, id).await?.map(|r| r.staff()))
}

pub async fn list(db: &Db) -> Result<Vec<Staff>> {
    let sql = "SELECT id, email, role, password_hash, totp_secret, disabled, created_at, last_sign_in FROM staff ORDER BY email";
    let rows: Vec<StaffRow> = sqlx::query_as(sql).fetch_all(&db.pool).await?;
    Ok(rows.iter().map(StaffRow::staff).collect())
}

/// Creates a staff account, with its audit entry in the same transaction. With a password it can
/// sign in at once; without one, the answer carries a one-time token for a link to set it.
pub async fn add(
    db: &Db,
    email: &str,
    role: Role,
    password: Option<&str>,
    actor: &Actor,
    now: i64,
) -> Result<(Staff, Option<String>)> {
    let email = EmailAddress::parse(email)?.normalized().to_string();
    let hash = match password {
        Some(p) => {
            if let Some(problem) = password_problem(p) {
                return Err(Error::invalid("weak_password", problem));
            }
            Some(password::hash(p).await?)
        }
        None => None,
    };
    let id = uuid::Uuid::new_v4().simple().to_string();
    let mut tx = db.begin_write().await?;
    let inserted = sqlx::query(
        "INSERT INTO staff (id, email, role, password_hash, created_at) VALUES ($1, $2, $3, $4, $5) \
         ON CONFLICT (email) DO NOTHING",
    )
    .bind(&id)
    .bind(&email)
    .bind(role.as_str())
    .bind(&hash)
    .bind(now)
    .execute(&mut *tx)
    .await?
    .rows_affected();
    if inserted == 0 {
        return Err(Error::Conflict { code: "staff_exists", message: format!("{email} already has a staff account.") });
    }
    let token = match hash {
        Some(_) => None,
        None => Some(password_link(&mut tx, &id, now).await?),
    };
    let after = serde_json::json!({"email": email, "role": role.as_str()});
    audit::record(
        &mut tx,
        actor,
        audit::Change { action: "staff.add", entity: "staff", entity_id: &id, before: None, after: Some(after) },
        now,
    )
    .await?;
    tx.commit().await?;
    let staff = find_by_id(db, &id).await?.ok_or_else(|| Error::Internal(anyhow::anyhow!("staff {id} vanished")))?;
    Ok((staff, token))
}

fn token_hash(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// A one-time token to set a password (only its hash is stored), written on the caller's transaction.
pub async fn password_link(conn: &mut AnyConnection, staff_id: &str, now: i64) -> Result<String> {
    let token = format!("{}{}", uuid::Uuid::new_v4().simple(), uuid::Uuid::new_v4().simple());
    sqlx::query("INSERT INTO staff_password_tokens (token_hash, staff_id, expires_at) VALUES ($1, $2, $3)")
        .bind(token_hash(&token))
        .bind(staff_id)
        .bind(now + PASSWORD_LINK_SECS)
        .execute(&mut *conn)
        .await?;
    Ok(token)
}

/// Sets a password through a one-time token; the token is spent by a conditional update.
pub async fn set_password_with_token(db: &Db, token: &str, password: &str, now: i64) -> Result<Staff> {
    if let Some(problem) = password_problem(password) {
        return Err(Error::invalid("weak_password", problem));
    }
    let hash = password::hash(password).await?;
    let mut tx = db.begin_write().await?;
    let spent: Option<(String,)> = sqlx::query_as(
        "UPDATE staff_password_tokens SET used_at = $2 WHERE token_hash = $1 AND used_at IS NULL AND expires_at > $2 \
         RETURNING staff_id",
    )
    .bind(token_hash(token))
    .bind(now)
    .fetch_optional(&mut *tx)
    .await?;
    let Some((staff_id,)) = spent else {
        return Err(Error::not_found(
            "invalid_link",
            "This link has expired or has been used. Ask an admin for a new one.",
        ));
    };
    sqlx::query("UPDATE staff SET password_hash = $2 WHERE id = $1")
        .bind(&staff_id)
        .bind(&hash)
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    find_by_id(db, &staff_id).await?.ok_or_else(|| Error::Internal(anyhow::anyhow!("staff vanished")))
}

/// Disables or enables an account, with its audit entry in the same transaction.
pub async fn set_disabled(db: &Db, email: &str, disabled: bool, actor: &Actor, now: i64) -> Result<Staff> {
    let mut tx = db.begin_write().await?;
    let before: Option<(String, i64)> = sqlx::query_as("SELECT id, disabled FROM staff WHERE email = $1")
        .bind(normalize(email))
        .fetch_optional(&mut *tx)
        .await?;
    let Some((id, was_disabled)) = before else {
        return Err(Error::not_found("staff_not_found", format!("There is no staff account for {email}.")));
    };
    sqlx::query("UPDATE staff SET disabled = $2 WHERE id = $1")
        .bind(&id)
        .bind(disabled as i64)
        .execute(&mut *tx)
        .await?;
    let action = if disabled { "staff.disable" } else { "staff.enable" };
    let (before, after) =
        (serde_json::json!({"disabled": flag(was_disabled)}), serde_json::json!({"disabled": disabled}));
    audit::record(
        &mut tx,
        actor,
        audit::Change { action, entity: "staff", entity_id: &id, before: Some(before), after: Some(after) },
        now,
    )
    .await?;
    tx.commit().await?;
    find_by_email(db, email).await?.ok_or_else(|| Error::Internal(anyhow::anyhow!("staff vanished")))
}

/// Enrols a second factor after the staff member proved their app shows the right code.
pub async fn enable_two_factor(db: &Db, staff_id: &str, email: &str, secret: &str, code: &str) -> Result<()> {
    if !totp_code_matches(secret, email, code) {
        return Err(Error::invalid(
            "wrong_code",
            "That code is not the one your app shows. Check the app's clock and try again.",
        ));
    }
    sqlx::query("UPDATE staff SET totp_secret = $2 WHERE id = $1")
        .bind(staff_id)
        .bind(secret)
        .execute(&db.pool)
        .await?;
    Ok(())
}

fn wrong_credentials() -> Error {
    Error::invalid("sign_in_failed", "That email and password do not match a staff account.")
}

/// Checks a sign-in. Failures are counted against the account and the address: from the third
/// within the window each answer is slowed down, and past the limit further attempts are refused.
pub async fn sign_in(db: &Db, email: &str, password: &str, code: &str, ip: &str, now: i64) -> Result<Staff> {
    let email = normalize(email);
    let keys = [format!("account:{email}"), format!("ip:{ip}")];
    let attempt = STAFF_SIGN_IN.begin(db, &keys, now, "Too many failed sign-ins.").await.inspect_err(|_| {
        tracing::warn!(email, ip, "staff sign-in refused: too many failures");
    })?;
    if attempt.count > 3 {
        tokio::time::sleep(Duration::from_millis((250 * (attempt.count - 3)).min(2000) as u64)).await;
    }
    let row = row_by_email(db, &email).await?;
    let password_ok = password::verify(row.as_ref().and_then(|r| r.password_hash.as_deref()), password).await?;
    let refusal = match &row {
        _ if !password_ok => Some(("wrong email or password", wrong_credentials())),
        Some(r) if flag(r.disabled) => {
            Some(("account disabled", Error::invalid("account_disabled", "This staff account is disabled.")))
        }
        Some(r) => match &r.totp_secret {
            Some(secret) if !totp_code_matches(secret, &email, code) => Some((
                "wrong second-factor code",
                Error::invalid("wrong_code", "The code from your authenticator app is missing or wrong."),
            )),
            _ => None,
        },
        None => Some(("unknown account", wrong_credentials())),
    };
    if let Some((reason, error)) = refusal {
        tracing::warn!(email, ip, reason, "staff sign-in failed");
        return Err(error);
    }
    let Some(row) = row else { return Err(wrong_credentials()) };
    let mut tx = db.begin_unflushed().await?;
    STAFF_SIGN_IN.succeeded(&mut tx, attempt).await?;
    tx.commit().await?;
    STAFF_SIGN_IN.forget(db, &format!("account:{email}")).await?;
    sqlx::query("UPDATE staff SET last_sign_in = $2 WHERE id = $1").bind(&row.id).bind(now).execute(&db.pool).await?;
    tracing::info!(email, ip, "staff signed in");
    Ok(row.staff())
}
