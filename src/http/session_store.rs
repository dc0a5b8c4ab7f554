//! The session store, queued behind the shop's SQLite writers: a session saved at the end of a
//! request is a write like any other, and on SQLite it takes the same turn (see `db::WriteGate`)
//! instead of sleeping in SQLite's retry loop while an order commits. Loading a session, which
//! every request with a cookie does first, is a read by key on the request's own thread
//! (`db::point_read`): the same query and encoding as the sqlx store's own `load`.

use async_trait::async_trait;
use tower_sessions::{
    session::{Id, Record},
    session_store, SessionStore,
};

use crate::db::{Param, PointReads, WriteGate};

/// The sqlx store's table (`SqliteStore`'s default name).
const LOAD_SQL: &str = "SELECT data FROM tower_sessions WHERE id = $1 AND expiry_date > $2";

#[derive(Clone, Debug)]
pub struct GatedStore<S> {
    pub store: S,
    pub gate: Option<WriteGate>,
    pub point_reads: Option<PointReads>,
}

impl<S> GatedStore<S> {
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
        self.store.create(record).await
    }

    async fn save(&self, record: &Record) -> session_store::Result<()> {
        let _turn = self.turn().await;
        self.store.save(record).await
    }

    async fn load(&self, id: &Id) -> session_store::Result<Option<Record>> {
        let Some(reads) = &self.point_reads else { return self.store.load(id).await };
        // The sqlx store writes the expiry as RFC 3339 text and compares it as text: so does this.
        let now = time::OffsetDateTime::now_utc()
            .format(&time::format_description::well_known::Rfc3339)
            .map_err(|e| session_store::Error::Encode(e.to_string()))?;
        let id = id.to_string();
        let params = [Param::Text(&id), Param::Text(&now)];
        let rows: Vec<(Vec<u8>,)> = reads
            .with_connection(|conn| crate::db::point_read::sqlite_rows(conn, LOAD_SQL, &params))
            .map_err(|e| session_store::Error::Backend(e.to_string()))?;
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

    /// Sessions saved by the sqlx store and loaded here: alive ones whole, expired ones not at all.
    #[tokio::test(flavor = "current_thread")]
    async fn sessions_the_sqlx_store_saves_load_in_place_and_expired_ones_do_not() {
        let dir = std::env::temp_dir().join(format!("masthead-session-load-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("temp dir");
        let path = dir.join("sessions.db");
        let _ = std::fs::remove_file(&path);
        let options = sqlx::sqlite::SqliteConnectOptions::from_str(&format!("sqlite://{}?mode=rwc", path.display()))
            .expect("url")
            .journal_mode(sqlx::sqlite::SqliteJournalMode::Wal);
        let pool = sqlx::SqlitePool::connect_with(options).await.expect("pool");
        let sqlx_store = SqliteStore::new(pool);
        sqlx_store.migrate().await.expect("table");
        let store = GatedStore { store: sqlx_store.clone(), gate: None, point_reads: Some(PointReads::new(path)) };

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
        assert_eq!(sqlx_store.load(&alive.id).await.expect("load"), Some(alive));
        assert_eq!(sqlx_store.load(&expired.id).await.expect("load"), None);
    }
}
