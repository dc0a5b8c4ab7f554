//! The shop's tables as the database itself describes them (SQLite's pragmas, PostgreSQL's
//! catalog), in an order where every table comes after the tables its foreign keys point at.
//! Every column of the schema is a 64-bit integer or text on both databases (see the README's
//! "One schema"), so a row moves between them as integers, strings and nulls.

use std::collections::{BTreeMap, BTreeSet};

use anyhow::{bail, Context};
use serde::{Deserialize, Serialize};
use sqlx::Row;

use crate::db::{Backend, Db};

/// Not moved: the migrations' own ledger (the target is migrated by the binary itself) and the
/// SQLite session table (readers sign in again; on PostgreSQL sessions live in another schema).
const LEFT_OUT: [&str; 2] = ["_sqlx_migrations", "tower_sessions"];

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    Integer,
    Text,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Column {
    pub name: String,
    pub kind: Kind,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Table {
    pub name: String,
    pub columns: Vec<Column>,
}

impl Table {
    fn quoted_columns(&self) -> String {
        self.columns.iter().map(|c| format!("\"{}\"", c.name)).collect::<Vec<_>>().join(", ")
    }

    pub fn select_all(&self) -> String {
        format!("SELECT {} FROM \"{}\"", self.quoted_columns(), self.name)
    }

    /// An INSERT of `rows` rows at once.
    pub fn insert(&self, rows: usize) -> String {
        let width = self.columns.len();
        let values = (0..rows)
            .map(|r| format!("({})", (1..=width).map(|c| format!("${}", r * width + c)).collect::<Vec<_>>().join(", ")))
            .collect::<Vec<_>>()
            .join(", ");
        format!("INSERT INTO \"{}\" ({}) VALUES {values}", self.name, self.quoted_columns())
    }

    /// One row's values, read by the column kinds.
    pub fn values(&self, row: &sqlx::any::AnyRow) -> anyhow::Result<Vec<serde_json::Value>> {
        self.columns
            .iter()
            .enumerate()
            .map(|(i, column)| {
                let value = match column.kind {
                    Kind::Integer => row.try_get::<Option<i64>, _>(i).map(|v| v.map(serde_json::Value::from)),
                    Kind::Text => row.try_get::<Option<String>, _>(i).map(|v| v.map(serde_json::Value::from)),
                };
                value
                    .map(|v| v.unwrap_or(serde_json::Value::Null))
                    .with_context(|| format!("reading {}.{}", self.name, column.name))
            })
            .collect()
    }
}

/// The shop's tables, parents before children.
pub async fn shop_tables(db: &Db) -> anyhow::Result<Vec<Table>> {
    let (names_sql, columns_sql, parents_sql) = match db.backend {
        Backend::Sqlite => (
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'",
            "SELECT name, type FROM pragma_table_info($1) ORDER BY cid",
            "SELECT \"table\" FROM pragma_foreign_key_list($1)",
        ),
        Backend::Postgres => (
            "SELECT CAST(table_name AS TEXT) FROM information_schema.tables \
             WHERE table_schema = current_schema() AND table_type = 'BASE TABLE'",
            "SELECT CAST(column_name AS TEXT), CAST(data_type AS TEXT) FROM information_schema.columns \
             WHERE table_schema = current_schema() AND table_name = $1 ORDER BY ordinal_position",
            "SELECT CAST(parent.relname AS TEXT) FROM pg_constraint k \
             JOIN pg_class child ON child.oid = k.conrelid JOIN pg_class parent ON parent.oid = k.confrelid \
             JOIN pg_namespace n ON n.oid = child.relnamespace \
             WHERE k.contype = 'f' AND n.nspname = current_schema() AND child.relname = $1",
        ),
    };
    let names: Vec<(String,)> = sqlx::query_as(names_sql).fetch_all(&db.pool).await?;
    let mut tables = BTreeMap::new();
    let mut parents = BTreeMap::new();
    for (name,) in names.into_iter().filter(|(n,)| !LEFT_OUT.contains(&n.as_str())) {
        let columns: Vec<(String, String)> = sqlx::query_as(columns_sql).bind(&name).fetch_all(&db.pool).await?;
        let columns = columns
            .into_iter()
            .map(|(column, declared)| {
                let kind = match declared.to_ascii_lowercase() {
                    t if t.contains("int") => Kind::Integer,
                    t if t == "text" => Kind::Text,
                    other => bail!("{name}.{column} is of type {other}, which an export cannot carry"),
                };
                Ok(Column { name: column, kind })
            })
            .collect::<anyhow::Result<Vec<_>>>()?;
        let refs: Vec<(String,)> = sqlx::query_as(parents_sql).bind(&name).fetch_all(&db.pool).await?;
        parents.insert(name.clone(), refs.into_iter().map(|(p,)| p).filter(|p| *p != name).collect::<BTreeSet<_>>());
        tables.insert(name.clone(), Table { name, columns });
    }
    let mut ordered = Vec::new();
    while !tables.is_empty() {
        let ready: Vec<String> =
            tables.keys().filter(|name| parents[*name].iter().all(|p| !tables.contains_key(p))).cloned().collect();
        if ready.is_empty() {
            bail!("the tables' foreign keys go round in a circle: {:?}", tables.keys().collect::<Vec<_>>());
        }
        for name in ready {
            ordered.extend(tables.remove(&name));
        }
    }
    Ok(ordered)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inserts_number_every_value() {
        let table = Table {
            name: "t".into(),
            columns: vec![
                Column { name: "a".into(), kind: Kind::Integer },
                Column { name: "b".into(), kind: Kind::Text },
            ],
        };
        assert_eq!(table.insert(2), "INSERT INTO \"t\" (\"a\", \"b\") VALUES ($1, $2), ($3, $4)");
        assert_eq!(table.select_all(), "SELECT \"a\", \"b\" FROM \"t\"");
    }
}
