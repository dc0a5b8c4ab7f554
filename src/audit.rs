//! The audit log: who changed what in the admin (or from the command line), when, and the record
//! before and after. Every layer that changes something on staff's behalf writes here, always on
//! the transaction of the change itself, so a change and its entry commit together or not at all.

use serde::Serialize;
use sqlx::FromRow;

use crate::{
    db::{Db, Param, Statements},
    error::Result,
};

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
pub async fn record(conn: &mut impl Statements, actor: &Actor, change: Change<'_>, now: i64) -> Result<()> {
    let Change { action, entity, entity_id, before, after } = change;
    let id = uuid::Uuid::new_v4().simple().to_string();
    let (before, after) = (before.map(|v| v.to_string()), after.map(|v| v.to_string()));
    conn.execute(
        "INSERT INTO audit_log (id, at, staff_id, staff_email, action, entity, entity_id, before_json, after_json) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
        &[
            Param::Text(&id),
            Param::Int(now),
            Param::text_or_null(actor.staff_id.as_deref()),
            Param::Text(&actor.email),
            Param::Text(action),
            Param::Text(entity),
            Param::Text(entity_id),
            Param::text_or_null(before.as_deref()),
            Param::text_or_null(after.as_deref()),
        ],
    )
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
    search(db, &AuditFilter::default(), limit).await
}

/// Which entries staff look for: by whom, of what kind of record, between which days.
#[derive(Clone, Debug, Default, serde::Deserialize, Serialize)]
pub struct AuditFilter {
    /// A staff member's email (or "(command line)").
    #[serde(default)]
    pub staff: String,
    /// A kind of record: coupon, issue, order, settings...
    #[serde(default)]
    pub kind: String,
    /// yyyy-mm-dd, UTC, both days included.
    #[serde(default)]
    pub from: String,
    #[serde(default)]
    pub to: String,
}

impl AuditFilter {
    /// The days as moments, or which of them is not a date.
    fn bounds(&self) -> std::result::Result<(Option<i64>, Option<i64>), Vec<crate::error::FieldError>> {
        let mut problems = Vec::new();
        let mut day = |field: &'static str, text: &str| {
            let text = text.trim();
            if text.is_empty() {
                return None;
            }
            let parsed = crate::clock::day_start(text);
            if parsed.is_none() {
                problems.push(crate::error::FieldError::new(field, "A date is written like 2026-11-30."));
            }
            parsed
        };
        let (from, to) = (day("from", &self.from), day("to", &self.to).map(|t| t + 86_400));
        if problems.is_empty() {
            Ok((from, to))
        } else {
            Err(problems)
        }
    }
}

/// The newest entries that match, at most `limit`.
pub async fn search(db: &Db, filter: &AuditFilter, limit: i64) -> Result<Vec<AuditEntry>> {
    let (from, to) = filter.bounds().map_err(crate::error::Error::Fields)?;
    Ok(sqlx::query_as(
        "SELECT at, staff_email, action, entity, entity_id, before_json, after_json FROM audit_log \
         WHERE ($1 = '' OR staff_email = $1) AND ($2 = '' OR entity = $2) \
         AND at >= $3 AND at < $4 ORDER BY at DESC, id LIMIT $5",
    )
    .bind(filter.staff.trim())
    .bind(filter.kind.trim())
    .bind(from.unwrap_or(i64::MIN))
    .bind(to.unwrap_or(i64::MAX))
    .bind(limit)
    .fetch_all(&db.pool)
    .await?)
}

/// Who has changed anything, and the kinds of record changed: the filter's choices.
pub async fn filter_choices(db: &Db) -> Result<(Vec<String>, Vec<String>)> {
    let staff: Vec<(String,)> =
        sqlx::query_as("SELECT DISTINCT staff_email FROM audit_log ORDER BY staff_email").fetch_all(&db.pool).await?;
    let kinds: Vec<(String,)> =
        sqlx::query_as("SELECT DISTINCT entity FROM audit_log ORDER BY entity").fetch_all(&db.pool).await?;
    Ok((staff.into_iter().map(|(s,)| s).collect(), kinds.into_iter().map(|(k,)| k).collect()))
}

/// One field an entry changed, as a person reads it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct FieldChange {
    pub field: String,
    pub before: String,
    pub after: String,
}

impl AuditEntry {
    /// The fields whose values differ between before and after, named and written for people:
    /// dates instead of Unix seconds, yes/no, lists joined, long texts cut short.
    pub fn changes(&self) -> Vec<FieldChange> {
        let parse = |json: &Option<String>| {
            json.as_deref().and_then(|j| serde_json::from_str::<serde_json::Value>(j).ok()).unwrap_or_default()
        };
        let (before, after) = (parse(&self.before_json), parse(&self.after_json));
        let as_object = |v: &serde_json::Value| match v {
            serde_json::Value::Object(map) => map.clone(),
            serde_json::Value::Null => serde_json::Map::new(),
            other => serde_json::Map::from_iter([("value".to_string(), other.clone())]),
        };
        let (before, after) = (as_object(&before), as_object(&after));
        let mut fields: Vec<&String> = before.keys().chain(after.keys()).collect();
        fields.sort();
        fields.dedup();
        fields
            .into_iter()
            .filter(|f| before.get(*f) != after.get(*f))
            .map(|f| FieldChange {
                field: f.replace('_', " "),
                before: readable(f, before.get(f)),
                after: readable(f, after.get(f)),
            })
            .collect()
    }

    /// What was done, in words: "changed a coupon".
    pub fn what(&self) -> String {
        let known = match self.action.as_str() {
            "coupon.create" => "created a coupon",
            "coupon.update" => "changed a coupon",
            "coupon.delete" => "deleted a coupon",
            "issue.create" => "added an issue",
            "issue.update" => "changed an issue",
            "mailing_list.close" => "closed a mailing list",
            "offer.save" => "saved an offer page",
            "order.create" => "took an order",
            "order.invoice_paid" => "marked an invoice paid",
            "order.refund" => "refunded an order",
            "policy.save" => "saved a page",
            "reader.erase" => "erased a reader",
            "reader.export" => "downloaded a reader's data",
            "staff.add" => "added a staff member",
            "subscribers.import" => "imported subscribers",
            action if action.starts_with("settings.") => "changed a setting",
            _ => "",
        };
        if known.is_empty() {
            self.action.replace(['.', '_'], " ")
        } else {
            known.to_string()
        }
    }

    /// What was changed, by name where the record gives one: "coupon FTR 2016", "order 1a2b3c4d".
    pub fn record(&self) -> String {
        let parse = |json: &Option<String>| {
            json.as_deref().and_then(|j| serde_json::from_str::<serde_json::Value>(j).ok()).unwrap_or_default()
        };
        let (before, after) = (parse(&self.before_json), parse(&self.after_json));
        let name = ["code", "name", "title", "email", "slug"]
            .iter()
            .find_map(|key| after.get(key).or_else(|| before.get(key)).and_then(|v| v.as_str()).map(str::to_string));
        let kind = self.entity.replace('_', " ");
        match name {
            Some(name) => format!("{kind} {name}"),
            // Ids are long random strings: their first eight characters, as the admin shows them.
            None if self.entity_id.len() == 32 => format!("{kind} {}", &self.entity_id[..8]),
            None => format!("{kind} {}", self.entity_id.replace('_', " ")),
        }
    }
}

/// A value as a person reads it.
fn readable(field: &str, value: Option<&serde_json::Value>) -> String {
    use serde_json::Value;
    let is_moment = field == "at" || field.ends_with("_at") || field.ends_with("_due") || field == "due";
    match value {
        None | Some(Value::Null) => "(none)".into(),
        Some(Value::Bool(b)) => if *b { "yes" } else { "no" }.into(),
        Some(Value::Number(n)) if is_moment => n
            .as_i64()
            .and_then(|t| time::OffsetDateTime::from_unix_timestamp(t).ok())
            .map(|t| {
                format!("{:04}-{:02}-{:02} {:02}:{:02} UTC", t.year(), t.month() as u8, t.day(), t.hour(), t.minute())
            })
            .unwrap_or_else(|| n.to_string()),
        Some(Value::Number(n)) => n.to_string(),
        Some(Value::String(s)) if s.chars().count() > 160 => format!("{}…", s.chars().take(160).collect::<String>()),
        Some(Value::String(s)) => s.clone(),
        Some(Value::Array(items)) => items.iter().map(|i| readable(field, Some(i))).collect::<Vec<_>>().join(", "),
        Some(Value::Object(map)) => map
            .iter()
            .map(|(k, v)| format!("{}: {}", k.replace('_', " "), readable(k, Some(v))))
            .collect::<Vec<_>>()
            .join("; "),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(before: serde_json::Value, after: serde_json::Value) -> AuditEntry {
        AuditEntry {
            at: 0,
            staff_email: "boss@example.org".into(),
            action: "coupon.update".into(),
            entity: "coupon".into(),
            entity_id: "f4ba9061031d4811809f3597f53aaaae".into(),
            before_json: Some(before.to_string()),
            after_json: Some(after.to_string()),
        }
    }

    #[test]
    fn only_the_fields_that_changed_are_shown_with_dates_and_names() {
        let e = entry(
            serde_json::json!({"code": "FTR 2016", "active": true, "ends_at": null, "redemptions_used": 3}),
            serde_json::json!({"code": "FTR 2016", "active": false, "ends_at": 1_798_761_600, "redemptions_used": 3}),
        );
        assert_eq!(
            e.changes(),
            [
                FieldChange { field: "active".into(), before: "yes".into(), after: "no".into() },
                FieldChange { field: "ends at".into(), before: "(none)".into(), after: "2027-01-01 00:00 UTC".into() },
            ]
        );
        assert_eq!(e.record(), "coupon FTR 2016");
        let unnamed = entry(serde_json::json!(null), serde_json::json!(6));
        assert_eq!(unnamed.record(), "coupon f4ba9061");
        assert_eq!(
            unnamed.changes(),
            [FieldChange { field: "value".into(), before: "(none)".into(), after: "6".into() }]
        );
    }
}
