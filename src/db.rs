//! The database: one `Any` pool that speaks SQLite (the embedded default) or
//! PostgreSQL (production), the SQLite pragmas, and the migrations.
//!
//! Every query of the shop is portable SQL with `$1` placeholders, run through
//! sqlx's `Any` driver, and every query runs in the test suite against both
//! databases; see the README for the few rules that keeps.

use std::{str::FromStr, time::Duration};

use anyhow::Context;
use sqlx::{
    any::{AnyConnectOptions, AnyPoolOptions},
    AnyPool, Executor,
};
use tower_sessions::ExpiredDeletion;
use tower_sessions_sqlx_store::{PostgresStore, SqliteStore};

pub static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations");

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

#[derive(Clone, Debug)]
pub struct Db {
    pub pool: AnyPool,
    pub backend: Backend,
    /// A typed pool on the same database for the session store, which cannot use `Any`.
    pub sessions: SessionPool,
}

#[derive(Clone, Debug)]
pub enum SessionPool {
    Sqlite(sqlx::SqlitePool),
    Postgres(sqlx::PgPool),
}

impl Db {
    pub async fn connect(url: &str) -> anyhow::Result<Db> {
        sqlx::any::install_default_drivers();
        let backend = if url.starts_with("sqlite:") { Backend::Sqlite } else { Backend::Postgres };
        if backend == Backend::Sqlite {
            create_sqlite_parent_dir(url)?;
        }
        let options = AnyConnectOptions::from_str(url).context("DATABASE_URL is not a database URL")?;
        let pool = AnyPoolOptions::new()
            .max_connections(if backend == Backend::Sqlite { 8 } else { 16 })
            .acquire_timeout(Duration::from_secs(10))
            .after_connect(move |conn, _meta| {
                Box::pin(async move {
                    if backend == Backend::Sqlite {
                        // WAL lets readers run beside the one writer; FULL makes a committed order survive a power cut.
                        conn.execute(
                            "PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL; \
                             PRAGMA busy_timeout = 5000; PRAGMA foreign_keys = ON;",
                        )
                        .await?;
                    }
                    Ok(())
                })
            })
            .connect_with(options)
            .await
            .with_context(|| format!("cannot open the database ({})", backend_name(backend)))?;
        let sessions = match backend {
            Backend::Sqlite => {
                let options = sqlx::sqlite::SqliteConnectOptions::from_str(url)?
                    .journal_mode(sqlx::sqlite::SqliteJournalMode::Wal)
                    .busy_timeout(Duration::from_secs(5))
                    .foreign_keys(true);
                SessionPool::Sqlite(
                    sqlx::sqlite::SqlitePoolOptions::new().max_connections(4).connect_with(options).await?,
                )
            }
            Backend::Postgres => {
                SessionPool::Postgres(sqlx::postgres::PgPoolOptions::new().max_connections(4).connect(url).await?)
            }
        };
        Ok(Db { pool, backend, sessions })
    }

    /// The shop's migrations, then the session store's own table.
    pub async fn migrate(&self) -> anyhow::Result<()> {
        MIGRATOR.run(&self.pool).await.context("running the migrations")?;
        match &self.sessions {
            SessionPool::Sqlite(pool) => SqliteStore::new(pool.clone()).migrate().await,
            SessionPool::Postgres(pool) => PostgresStore::new(pool.clone()).migrate().await,
        }
        .context("creating the session table")?;
        Ok(())
    }

    /// Deletes sessions past their expiry.
    pub async fn delete_expired_sessions(&self) -> anyhow::Result<()> {
        match &self.sessions {
            SessionPool::Sqlite(pool) => SqliteStore::new(pool.clone()).delete_expired().await,
            SessionPool::Postgres(pool) => PostgresStore::new(pool.clone()).delete_expired().await,
        }
        .map_err(|e| anyhow::anyhow!("deleting expired sessions: {e}"))
    }

    pub async fn close(&self) {
        self.pool.close().await;
        match &self.sessions {
            SessionPool::Sqlite(pool) => pool.close().await,
            SessionPool::Postgres(pool) => pool.close().await,
        }
    }

    /// A transaction that will write after reading. On SQLite it takes the write lock at once
    /// (`BEGIN IMMEDIATE`), so two such transactions queue instead of failing with "database is
    /// locked"; on PostgreSQL the conditional updates inside take row locks.
    pub async fn begin_write(&self) -> sqlx::Result<sqlx::Transaction<'static, sqlx::Any>> {
        match self.backend {
            Backend::Sqlite => self.pool.begin_with("BEGIN IMMEDIATE").await,
            Backend::Postgres => self.pool.begin().await,
        }
    }

    /// True when the database answers a trivial query.
    pub async fn is_ready(&self) -> bool {
        sqlx::query("SELECT 1").execute(&self.pool).await.is_ok()
    }
}

fn backend_name(backend: Backend) -> &'static str {
    match backend {
        Backend::Sqlite => "SQLite",
        Backend::Postgres => "PostgreSQL",
    }
}

/// SQLite creates the file but not the folder it lives in.
fn create_sqlite_parent_dir(url: &str) -> anyhow::Result<()> {
    let path = url.trim_start_matches("sqlite:").trim_start_matches("//");
    let path = path.split('?').next().unwrap_or_default();
    if path.is_empty() || path == ":memory:" {
        return Ok(());
    }
    if let Some(parent) = std::path::Path::new(path).parent() {
        if !parent.as_os_str().is_empty() {
            std::fs::create_dir_all(parent).with_context(|| format!("creating {}", parent.display()))?;
        }
    }
    Ok(())
}

/// Reads a 0/1 flag column (flags are integers so that both databases decode them alike).
pub fn flag(value: i64) -> bool {
    value != 0
}
