//! `masthead export FILE` and `masthead import FILE`: the whole shop (every table's rows and every
//! upload) as one archive, read from a shop on either database and loaded into an empty one of
//! either kind. This is the way from SQLite to PostgreSQL when one machine is no longer enough.

mod tables;

use std::{
    collections::HashMap,
    io::{BufRead, Write},
    path::Path,
};

use anyhow::{bail, Context};
use futures_util::TryStreamExt;
use serde::{Deserialize, Serialize};

use crate::{
    archive::{self, files_under, slash_path, Format},
    db::{Backend, Db},
    money::Currency,
    storage::{migrate, MediaStore},
};
pub use tables::{shop_tables, Table};

const ROWS: &str = "rows.jsonl";
const ABOUT: &str = "export.json";

const FORMAT: Format = Format {
    name: "masthead-export",
    version: 1,
    allows: |path| path == ROWS || path == ABOUT || path.starts_with("media/"),
    required: ROWS,
    noun: "masthead export",
};

/// What the export holds, checked before anything is imported.
#[derive(Debug, Serialize, Deserialize)]
struct About {
    /// The last migration the exported database had: the importing binary must have the same.
    schema: i64,
    currency: String,
    tables: Vec<CountedTable>,
}

#[derive(Debug, Serialize, Deserialize)]
struct CountedTable {
    #[serde(flatten)]
    table: Table,
    rows: u64,
}

/// One row: its table and its values in the table's column order.
#[derive(Serialize, Deserialize)]
struct Line {
    t: String,
    v: Vec<serde_json::Value>,
}

#[derive(Debug, Default, PartialEq, Eq)]
pub struct Summary {
    pub tables: usize,
    pub rows: u64,
    pub files: usize,
}

async fn schema_version(db: &Db) -> anyhow::Result<i64> {
    let (version,): (Option<i64>,) = sqlx::query_as("SELECT CAST(MAX(version) AS BIGINT) FROM _sqlx_migrations")
        .fetch_one(&db.pool)
        .await
        .context("reading the schema version")?;
    version.context("the database has no migrations applied")
}

/// Writes the shop into a new archive at `dest`: the rows as of one moment (one read-only
/// transaction, repeatable on PostgreSQL), then every upload in the media store.
pub async fn export(db: &Db, media: &MediaStore, dest: &Path, now: i64) -> anyhow::Result<Summary> {
    if dest.exists() {
        bail!("{} exists already: choose a new file name (an export never overwrites one)", dest.display());
    }
    let work = dest.with_extension("partial");
    let _ = std::fs::remove_dir_all(&work);
    std::fs::create_dir_all(&work).with_context(|| format!("creating {}", work.display()))?;
    let result = write_export(db, media, dest, &work, now).await;
    let _ = std::fs::remove_dir_all(&work);
    result
}

async fn write_export(db: &Db, media: &MediaStore, dest: &Path, work: &Path, now: i64) -> anyhow::Result<Summary> {
    let tables = shop_tables(db).await?;
    let schema = schema_version(db).await?;
    let mut tx = db.pool.begin().await?;
    if db.backend == Backend::Postgres {
        sqlx::query("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY").execute(&mut *tx).await?;
    }
    let (currency,): (String,) =
        sqlx::query_as("SELECT value FROM settings WHERE name = 'currency'").fetch_one(&mut *tx).await?;
    let mut out = std::io::BufWriter::new(std::fs::File::create(work.join(ROWS))?);
    let mut counted = Vec::new();
    for table in tables {
        let mut rows = 0u64;
        let sql = table.select_all();
        let mut stream = sqlx::query(&sql).fetch(&mut *tx);
        while let Some(row) = stream.try_next().await.with_context(|| format!("reading {}", table.name))? {
            serde_json::to_writer(&mut out, &Line { t: table.name.clone(), v: table.values(&row)? })?;
            out.write_all(b"\n")?;
            rows += 1;
        }
        drop(stream);
        counted.push(CountedTable { table, rows });
    }
    tx.rollback().await?;
    out.into_inner().map_err(|e| e.into_error())?.sync_all()?;
    let about = About { schema, currency, tables: counted };
    std::fs::write(work.join(ABOUT), serde_json::to_vec_pretty(&about)?)?;

    let media_dir = work.join("media");
    let copied = migrate::migrate(media, MediaStore::folder(&media_dir)?.inner()).await?;
    let mut entries = vec![(ABOUT.to_string(), work.join(ABOUT)), (ROWS.to_string(), work.join(ROWS))];
    for relative in files_under(&media_dir)? {
        entries.push((format!("media/{}", slash_path(&relative)), media_dir.join(&relative)));
    }
    archive::write(&FORMAT, &entries, dest, now)?;
    Ok(Summary {
        tables: about.tables.len(),
        rows: about.tables.iter().map(|t| t.rows).sum(),
        files: copied.copied + copied.already_there,
    })
}

/// Loads an export into `db`, which must hold no shop yet (migrated, with no catalog and no
/// orders): the archive is checked whole first, then the uploads go into `media`, then every
/// row goes in within one transaction (all of it or nothing).
pub async fn import(
    db: &Db,
    currency: Currency,
    media: &MediaStore,
    archive: &Path,
    staging_root: &Path,
) -> anyhow::Result<Summary> {
    let staging = staging_root.join(format!(".import-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&staging).with_context(|| format!("creating {}", staging.display()))?;
    let result = import_from(db, currency, media, archive, &staging).await;
    let _ = std::fs::remove_dir_all(&staging);
    result
}

async fn import_from(
    db: &Db,
    currency: Currency,
    media: &MediaStore,
    archive_path: &Path,
    staging: &Path,
) -> anyhow::Result<Summary> {
    archive::unpack_and_check(&FORMAT, archive_path, staging)?;
    let about: About = serde_json::from_slice(
        &std::fs::read(staging.join(ABOUT)).with_context(|| format!("{} has no {ABOUT}", archive_path.display()))?,
    )
    .with_context(|| format!("{ABOUT} in {} is not ours", archive_path.display()))?;
    let schema = schema_version(db).await?;
    if about.schema != schema {
        bail!(
            "the export was made by another version of masthead (schema {}, this one {schema}): import it with \
             the version that made it, or export again with this one",
            about.schema
        );
    }
    if about.currency != currency.code() {
        bail!("the export's shop sells in {}: import it with MASTHEAD_CURRENCY={}", about.currency, about.currency);
    }
    let tables = shop_tables(db).await?;
    let by_name: HashMap<&str, &Table> = tables.iter().map(|t| (t.name.as_str(), t)).collect();
    if about.tables.len() != tables.len()
        || about.tables.iter().any(|t| by_name.get(t.table.name.as_str()) != Some(&&t.table))
    {
        bail!("the export's tables are not this version's: import it with the version that made it");
    }
    let (catalog,): (i64,) = sqlx::query_as("SELECT CAST(COUNT(*) AS BIGINT) FROM issues").fetch_one(&db.pool).await?;
    let (orders,): (i64,) = sqlx::query_as("SELECT CAST(COUNT(*) AS BIGINT) FROM orders").fetch_one(&db.pool).await?;
    if catalog + orders > 0 {
        bail!(
            "this database already holds a shop ({catalog} issues, {orders} orders): import into a new, empty \
             database, before any instance has started on it"
        );
    }

    // The uploads first: should the rows then fail, importing again finds them there.
    let media_dir = staging.join("media");
    let files = match media_dir.exists() {
        true => migrate::migrate(&MediaStore::folder(&media_dir)?, media.inner()).await?,
        false => Default::default(),
    };

    let mut tx = db.pool.begin().await?;
    for table in tables.iter().rev() {
        sqlx::query(&format!("DELETE FROM \"{}\"", table.name)).execute(&mut *tx).await?;
    }
    let mut counts: HashMap<String, u64> = HashMap::new();
    let mut batch: Vec<Vec<serde_json::Value>> = Vec::new();
    let mut current: Option<&Table> = None;
    let reader = std::io::BufReader::new(std::fs::File::open(staging.join(ROWS))?);
    for (number, line) in reader.lines().enumerate() {
        let line: Line = serde_json::from_str(&line?).with_context(|| format!("{ROWS} line {}", number + 1))?;
        let table = *by_name.get(line.t.as_str()).with_context(|| format!("{ROWS}: unknown table {}", line.t))?;
        if current.is_some_and(|c| c.name != table.name) || batch.len() >= rows_per_insert(table) {
            if let Some(previous) = current {
                insert(&mut tx, previous, std::mem::take(&mut batch)).await?;
            }
        }
        if line.v.len() != table.columns.len() {
            bail!(
                "{ROWS} line {}: {} values for the {} columns of {}",
                number + 1,
                line.v.len(),
                table.columns.len(),
                table.name
            );
        }
        *counts.entry(table.name.clone()).or_default() += 1;
        batch.push(line.v);
        current = Some(table);
    }
    if let Some(table) = current {
        insert(&mut tx, table, batch).await?;
    }
    for expected in &about.tables {
        let found = counts.get(&expected.table.name).copied().unwrap_or(0);
        if found != expected.rows {
            bail!("{}: {found} rows in the export where its manifest says {}", expected.table.name, expected.rows);
        }
    }
    tx.commit().await.context("committing the import")?;
    Ok(Summary {
        tables: about.tables.len(),
        rows: about.tables.iter().map(|t| t.rows).sum(),
        files: files.copied + files.already_there,
    })
}

/// Rows in one INSERT: well under both databases' limit on bound values.
fn rows_per_insert(table: &Table) -> usize {
    (900 / table.columns.len().max(1)).max(1)
}

async fn insert(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    table: &Table,
    rows: Vec<Vec<serde_json::Value>>,
) -> anyhow::Result<()> {
    if rows.is_empty() {
        return Ok(());
    }
    let sql = table.insert(rows.len());
    let mut query = sqlx::query(&sql);
    for row in rows {
        for (value, column) in row.into_iter().zip(&table.columns) {
            query = match (column.kind, value) {
                (tables::Kind::Integer, serde_json::Value::Null) => query.bind(None::<i64>),
                (tables::Kind::Text, serde_json::Value::Null) => query.bind(None::<String>),
                (tables::Kind::Integer, serde_json::Value::Number(n)) if n.as_i64().is_some() => query.bind(n.as_i64()),
                (tables::Kind::Text, serde_json::Value::String(s)) => query.bind(Some(s)),
                (_, other) => bail!("{}.{}: {other} is not a value of its type", table.name, column.name),
            };
        }
    }
    query.execute(&mut **tx).await.with_context(|| format!("inserting into {}", table.name))?;
    Ok(())
}
