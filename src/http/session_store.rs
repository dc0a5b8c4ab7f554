//! The session store, queued behind the shop's SQLite writers: a session saved at the end of a
//! request is a write like any other, and on SQLite it takes the same turn (see `db::WriteGate`)
//! instead of sleeping in SQLite's retry loop while an order commits. On a SQLite file, loading a
//! session (every request with a cookie does it first), creating and saving one run on the
//! request's own thread (`db::in_place`), with the sqlx store's own statements and encoding; only
//! deleting one (a sign-out) and the expiry sweep go through the sqlx store. On PostgreSQL loading,
//! creating and saving one run on kept connections (`db::KeptConnections`) with the sqlx store's
//! table and encoding, deleting and the sweep through the sqlx store.

use async_trait::async_trait;
use tower_sessions::{
    session::{Id, Record},
    session_store, SessionStore,
};

use crate::db::{
    in_place::{sqlite_execute, sqlite_rows},
    InPlace, KeptConnections, Param, WriteGate,
};

/// A record that cannot be encoded, as the in-place write's error.
fn to_rusqlite(error: session_store::Error) -> rusqlite::Error {
    rusqlite::Error::ToSqlConversionFailure(error.to_string().into())
}

/// The sqlx store's table (`SqliteStore`'s default name).
const LOAD_SQL: &str = "SELECT data FROM tower_sessions WHERE id = $1 AND expiry_date > $2";
/// `PostgresStore`'s default schema and table; its times are `timestamptz`.
const PG_LOAD_SQL: &str =
    "SELECT data FROM \"tower_sessions\".\"session\" WHERE id = $1 AND expiry_date > CAST($2 AS timestamptz)";
const CREATE_SQL: &str = "INSERT OR ABORT INTO tower_sessions (id, data, expiry_date) VALUES ($1, $2, $3)";
const SAVE_SQL: &str = "INSERT INTO tower_sessions (id, data, expiry_date) VALUES ($1, $2, $3) \
     ON CONFLICT (id) DO UPDATE SET data = excluded.data, expiry_date = excluded.expiry_date";
const PG_CREATE_SQL: &str = "INSERT INTO \"tower_sessions\".\"session\" (id, data, expiry_date) \
     VALUES ($1, $2, CAST($3 AS timestamptz)) ON CONFLICT (id) DO NOTHING";
const PG_SAVE_SQL: &str = "INSERT INTO \"tower_sessions\".\"session\" (id, data, expiry_date) \
     VALUES ($1, $2, CAST($3 AS timestamptz)) \
     ON CONFLICT (id) DO UPDATE SET data = excluded.data, expiry_date = excluded.expiry_date";

/// The sqlx store writes times as RFC 3339 text (and compares them as text).
fn as_text(time: time::OffsetDateTime) -> session_store::Result<String> {
    time.format(&time::format_description::well_known::Rfc3339).map_err(|e| session_store::Error::Encode(e.to_string()))
}

fn encoded(record: &Record) -> session_store::Result<Vec<u8>> {
    rmp_serde::to_vec(record).map_err(|e| session_store::Error::Encode(e.to_string()))
}

fn backend(error: sqlx::Error) -> session_store::Error {
    session_store::Error::Backend(error.to_string())
}

#[derive(Clone, Debug)]
pub struct GatedStore<S> {
    pub store: S,
    pub gate: Option<WriteGate>,
    pub in_place: Option<InPlace>,
    /// The database whose kept connections load and write sessions on PostgreSQL.
    pub kept: Option<crate::db::Db>,
}

impl<S> GatedStore<S> {
    fn kept_reads(&self) -> Option<&KeptConnections> {
        self.kept.as_ref().and_then(|db| db.kept_reads.as_ref())
    }

    fn kept_writes(&self) -> Option<&KeptConnections> {
        self.kept.as_ref().and_then(|db| db.kept_writes.as_ref())
    }

    async fn turn(&self) -> Option<tokio::sync::OwnedMutexGuard<()>> {
        match &self.gate {
            Some(gate) => Some(gate.enter().await),
            None => None,
        }
    }
}

#[async_trait]
impl<S: SessionStore + Clone> SessionStore for GatedStore<S> {
    async fn create(&self, record: &mut Record) -> session_store::Result<()> {
        let _turn = self.turn().await;
        let expiry = as_text(record.expiry_date)?;
        let Some(in_place) = &self.in_place else {
            let Some(kept) = self.kept_writes() else { return self.store.create(record).await };
            loop {
                // A new id until one is free, as the sqlx store does.
                let (id, data) = (record.id.to_string(), encoded(record)?);
                let params = [Param::Text(&id), Param::Blob(&data), Param::Text(&expiry)];
                match kept.execute(PG_CREATE_SQL, &params).await.map_err(backend)? {
                    0 => record.id = Id::default(),
                    _ => return Ok(()),
                }
            }
        };
        in_place
            .write_unflushed(|conn| loop {
                // A new id until one is free, as the sqlx store does.
                let (id, data) = (record.id.to_string(), encoded(record).map_err(to_rusqlite)?);
                let params = [Param::Text(&id), Param::Blob(&data), Param::Text(&expiry)];
                match sqlite_execute(conn, CREATE_SQL, &params) {
                    Err(e) if e.sqlite_error_code() == Some(rusqlite::ErrorCode::ConstraintViolation) => {
                        record.id = Id::default()
                    }
                    done => return done.map(|_| ()),
                }
            })
            .await
            .map_err(backend)
    }

    async fn save(&self, record: &Record) -> session_store::Result<()> {
        let _turn = self.turn().await;
        let (id, data, expiry) = (record.id.to_string(), encoded(record)?, as_text(record.expiry_date)?);
        let params = [Param::Text(&id), Param::Blob(&data), Param::Text(&expiry)];
        match (&self.in_place, self.kept_writes()) {
            (Some(in_place), _) => in_place
                .write_unflushed(|conn| sqlite_execute(conn, SAVE_SQL, &params).map(|_| ()))
                .await
                .map_err(backend),
            (None, Some(kept)) => kept.execute(PG_SAVE_SQL, &params).await.map(|_| ()).map_err(backend),
            (None, None) => self.store.save(record).await,
        }
    }

    async fn load(&self, id: &Id) -> session_store::Result<Option<Record>> {
        let now = as_text(time::OffsetDateTime::now_utc())?;
        let id_text = id.to_string();
        let params = [Param::Text(&id_text), Param::Text(&now)];
        let rows: Vec<(Vec<u8>,)> = if let Some(reads) = &self.in_place {
            reads.with_connection(|conn| sqlite_rows(conn, LOAD_SQL, &params))
        } else if let Some(kept) = self.kept_reads() {
            kept.rows(PG_LOAD_SQL, &params).await
        } else {
            return self.store.load(id).await;
        }
        .map_err(backend)?;
        match rows.into_iter().next() {
            Some((data,)) => {
                rmp_serde::from_slice(&data).map(Some).map_err(|e| session_store::Error::Decode(e.to_string()))
            }
            None => Ok(None),
        }
    }

    async fn delete(&self, id: &Id) -> session_store::Result<()> {
        let _turn = self.turn().await;
        self.store.delete(id).await
    }
}

#[cfg(test)]
mod tests {
    use std::str::FromStr;

    use tower_sessions::{cookie::time::Duration, session::Id};
    use tower_sessions_sqlx_store::SqliteStore;

    use super::*;

    /// Sessions saved by the sqlx store load here whole, expired ones not at all; sessions created
    /// and saved here load in the sqlx store.
    #[tokio::test(flavor = "current_thread")]
    async fn sessions_written_and_read_in_place_agree_with_the_sqlx_store() {
        let dir = std::env::temp_dir().join(format!("masthead-session-load-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("temp dir");
        // Removed when the test ends, passed or failed.
        struct Folder(std::path::PathBuf);
        impl Drop for Folder {
            fn drop(&mut self) {
                let _ = std::fs::remove_dir_all(&self.0);
            }
        }
        let _folder = Folder(dir.clone());
        let path = dir.join("sessions.db");
        let _ = std::fs::remove_file(&path);
        let options = sqlx::sqlite::SqliteConnectOptions::from_str(&format!("sqlite://{}?mode=rwc", path.display()))
            .expect("url")
            .journal_mode(sqlx::sqlite::SqliteJournalMode::Wal);
        let pool = sqlx::SqlitePool::connect_with(options).await.expect("pool");
        let sqlx_store = SqliteStore::new(pool);
        sqlx_store.migrate().await.expect("table");
        let store =
            GatedStore { store: sqlx_store.clone(), gate: None, in_place: Some(InPlace::new(path)), kept: None };

        let now = tower_sessions::cookie::time::OffsetDateTime::now_utc();
        let mut alive = Record { id: Id::default(), data: Default::default(), expiry_date: now + Duration::days(30) };
        alive.data.insert("cart".into(), serde_json::json!("c0ffee"));
        let mut expired =
            Record { id: Id::default(), data: Default::default(), expiry_date: now - Duration::seconds(2) };
        expired.data.insert("cart".into(), serde_json::json!("stale"));
        sqlx_store.save(&alive).await.expect("save");
        sqlx_store.save(&expired).await.expect("save");

        assert_eq!(store.load(&alive.id).await.expect("load"), Some(alive.clone()));
        assert_eq!(store.load(&expired.id).await.expect("load"), None);
        assert_eq!(store.load(&Id::default()).await.expect("load"), None);
        // The sqlx store agrees on both.
        assert_eq!(sqlx_store.load(&alive.id).await.expect("load"), Some(alive.clone()));
        assert_eq!(sqlx_store.load(&expired.id).await.expect("load"), None);

        // Written here, read by the sqlx store: a new session, an id already taken, a change.
        let mut fresh = Record { id: Id::default(), data: Default::default(), expiry_date: now + Duration::days(1) };
        fresh.data.insert("flash".into(), serde_json::json!(["Added"]));
        store.create(&mut fresh).await.expect("create");
        assert_eq!(sqlx_store.load(&fresh.id).await.expect("load"), Some(fresh.clone()));
        let mut clash = Record { id: alive.id, data: Default::default(), expiry_date: now + Duration::days(1) };
        store.create(&mut clash).await.expect("create");
        assert_ne!(clash.id, alive.id, "a taken id is never written over");
        assert_eq!(sqlx_store.load(&alive.id).await.expect("load"), Some(alive.clone()));
        assert_eq!(sqlx_store.load(&clash.id).await.expect("load"), Some(clash));
        fresh.data.insert("cart".into(), serde_json::json!("beef"));
        fresh.expiry_date = now + Duration::days(30);
        store.save(&fresh).await.expect("save");
        assert_eq!(sqlx_store.load(&fresh.id).await.expect("load"), Some(fresh.clone()));
        fresh.expiry_date = now - Duration::seconds(1);
        store.save(&fresh).await.expect("save");
        assert_eq!(store.load(&fresh.id).await.expect("load"), None, "saved as expired");
    }
}
