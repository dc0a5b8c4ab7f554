//! The session store, queued behind the shop's SQLite writers: a session saved at the end of a
//! request is a write like any other, and on SQLite it takes the same turn (see `db::WriteGate`)
//! instead of sleeping in SQLite's retry loop while an order commits.

use async_trait::async_trait;
use tower_sessions::{
    session::{Id, Record},
    session_store, SessionStore,
};

use crate::db::WriteGate;

#[derive(Clone, Debug)]
pub struct GatedStore<S> {
    pub store: S,
    pub gate: Option<WriteGate>,
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
        self.store.load(id).await
    }

    async fn delete(&self, id: &Id) -> session_store::Result<()> {
        let _turn = self.turn().await;
        self.store.delete(id).await
    }
}
