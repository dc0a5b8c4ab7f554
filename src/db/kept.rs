//! PostgreSQL connections kept for the statements every reader's request makes (reading its
//! session, its cart, a plan; writing its cart, its session, its order), without sqlx's pool around
//! them.
//!
//! sqlx's pool asks the server whether a connection is alive when lending it and again when it
//! comes back (a `Sync` each way): a read by key through it is three round trips, and a request
//! with a session makes two or three such reads (BENCHMARKS.md, stop 27). Here work takes a kept
//! connection and runs its statements. A kept connection the server closed since it was last used
//! (a restart) fails the first statement without having done anything; that statement is then run
//! once more on a new connection, which is what the pool's check bought; like the check, that first
//! statement is bounded by the pools' acquire timeout (503 past it). A connection whose
//! statement failed is closed, never kept; a transaction dropped without its commit is rolled back
//! by a task of its own before its connection is kept.

use std::{
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use futures_util::future::BoxFuture;
use sqlx::{any::AnyConnectOptions, AnyConnection, Connection, Executor};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use super::{
    in_place::{bind_all, bind_all_as},
    is_unavailable, Durability, Param, ReadRow,
};

type Idle = Arc<Mutex<Vec<AnyConnection>>>;

#[derive(Debug)]
pub struct KeptConnections {
    options: AnyConnectOptions,
    /// Connections not in use: never more than the permits, since each is put back by work that
    /// still holds one.
    idle: Idle,
    permits: Arc<Semaphore>,
    /// How long work waits for a permit or a new connection before the database is taken to be
    /// unavailable (answered 503), as the pools' acquire timeout.
    patience: Duration,
}

/// Runs `$first` (an expression using `$conn`) on a kept connection, or on a new one when none is
/// kept or the kept one was closed by the server; answers the connection, the value and the permit.
macro_rules! first_statement {
    ($kept:expr, $conn:ident => $first:expr) => {{
        let deadline = Instant::now() + $kept.patience;
        let permit = tokio::time::timeout_at(deadline.into(), $kept.permits.clone().acquire_owned())
            .await
            .map_err(|_| sqlx::Error::PoolTimedOut)?
            .map_err(|_| sqlx::Error::PoolClosed)?;
        let kept = $kept.idle.lock().ok().and_then(|mut idle| idle.pop());
        let mut answered = None;
        if let Some(mut $conn) = kept {
            // Bounded like the pool's check was: a server that stopped answering is a 503 in
            // `patience`, not a request held until its time limit.
            match tokio::time::timeout_at(deadline.into(), async { $first }).await {
                Ok(Ok(value)) => answered = Some(($conn, value)),
                Ok(Err(e)) if closed(&e) => drop($conn),
                Ok(Err(e)) => return Err(e),
                Err(_) => return Err(sqlx::Error::PoolTimedOut),
            }
        }
        match answered {
            Some((conn, value)) => (conn, value, permit),
            None => {
                let mut $conn = tokio::time::timeout_at(deadline.into(), AnyConnection::connect_with(&$kept.options))
                    .await
                    .map_err(|_| sqlx::Error::PoolTimedOut)??;
                let value = tokio::time::timeout_at(deadline.into(), async { $first })
                    .await
                    .map_err(|_| sqlx::Error::PoolTimedOut)??;
                ($conn, value, permit)
            }
        }
    }};
}

impl KeptConnections {
    /// At most `size` connections, each used by one statement or transaction at a time.
    pub fn new(options: AnyConnectOptions, size: usize, patience: Duration) -> KeptConnections {
        KeptConnections { options, idle: Idle::default(), permits: Arc::new(Semaphore::new(size)), patience }
    }

    /// The rows of `sql` with its `$N` placeholders bound to `params[N - 1]`.
    /// (The futures here are boxed: sqlx's executor traits, left generic over their lifetimes,
    /// make the compiler unable to prove a caller's future `Send`.)
    pub fn rows<'a, T: ReadRow + 'a>(
        &'a self,
        sql: &'a str,
        params: &'a [Param<'a>],
    ) -> BoxFuture<'a, sqlx::Result<Vec<T>>> {
        Box::pin(async move {
            let (conn, rows, permit) =
                first_statement!(self, conn => bind_all_as(sqlx::query_as(sql), params).fetch_all(&mut conn).await);
            keep(&self.idle, conn, permit);
            Ok(rows)
        })
    }

    /// Runs one statement in a transaction of its own; answers how many rows it changed.
    pub fn execute<'a>(&'a self, sql: &'a str, params: &'a [Param<'a>]) -> BoxFuture<'a, sqlx::Result<u64>> {
        Box::pin(async move {
            let (conn, done, permit) =
                first_statement!(self, conn => bind_all(sqlx::query(sql), params).execute(&mut conn).await);
            keep(&self.idle, conn, permit);
            Ok(done.rows_affected())
        })
    }

    /// Begins a transaction. What is not money (`Durability::Unflushed`) commits without waiting
    /// for the server's disk (`synchronous_commit = off`: a crash of the server can lose the last
    /// moments of such commits, never leaves the database inconsistent), as on SQLite.
    pub fn begin(&self, durability: Durability) -> BoxFuture<'_, sqlx::Result<KeptTx>> {
        let begin = match durability {
            Durability::Unflushed => "BEGIN; SET LOCAL synchronous_commit = off",
            Durability::Full => "BEGIN",
        };
        Box::pin(async move {
            let (conn, _, permit) = first_statement!(self, conn => conn.execute(begin).await);
            Ok(KeptTx { conn: Some(conn), idle: self.idle.clone(), permit: Some(permit) })
        })
    }

    /// Closes the kept connections (the shop is stopping).
    pub async fn close(&self) {
        self.permits.close();
        let idle = self.idle.lock().map(|mut idle| std::mem::take(&mut *idle)).unwrap_or_default();
        for conn in idle {
            let _ = conn.close().await;
        }
    }
}

/// True when an error says the connection is gone rather than the statement refused (a kept
/// connection's first statement is then run again on a new one: it did nothing).
fn closed(error: &sqlx::Error) -> bool {
    is_unavailable(error) || !matches!(error, sqlx::Error::Database(_))
}

/// Puts a connection back, then gives up its permit.
fn keep(idle: &Idle, conn: AnyConnection, permit: OwnedSemaphorePermit) {
    if let Ok(mut idle) = idle.lock() {
        idle.push(conn);
    }
    drop(permit);
}

/// A transaction on a kept connection (see `KeptConnections::begin`).
pub struct KeptTx {
    conn: Option<AnyConnection>,
    idle: Idle,
    permit: Option<OwnedSemaphorePermit>,
}

impl KeptTx {
    fn conn(&mut self) -> sqlx::Result<&mut AnyConnection> {
        self.conn.as_mut().ok_or(sqlx::Error::PoolClosed)
    }

    pub fn execute<'a>(&'a mut self, sql: &'a str, params: &'a [Param<'a>]) -> BoxFuture<'a, sqlx::Result<u64>> {
        Box::pin(async move { Ok(bind_all(sqlx::query(sql), params).execute(self.conn()?).await?.rows_affected()) })
    }

    pub fn rows<'a, T: ReadRow + 'a>(
        &'a mut self,
        sql: &'a str,
        params: &'a [Param<'a>],
    ) -> BoxFuture<'a, sqlx::Result<Vec<T>>> {
        Box::pin(async move { bind_all_as(sqlx::query_as(sql), params).fetch_all(self.conn()?).await })
    }

    pub fn commit(mut self) -> BoxFuture<'static, sqlx::Result<()>> {
        Box::pin(async move {
            // Taken out first: if the commit fails, or is dropped midway, the connection is closed
            // (which ends the transaction on the server) instead of being kept.
            let mut conn = self.conn.take().ok_or(sqlx::Error::PoolClosed)?;
            conn.execute("COMMIT").await?;
            if let Some(permit) = self.permit.take() {
                keep(&self.idle, conn, permit);
            }
            Ok(())
        })
    }
}

impl Drop for KeptTx {
    fn drop(&mut self) {
        let (Some(mut conn), Some(permit)) = (self.conn.take(), self.permit.take()) else { return };
        // Rolled back by a task of its own (a `Drop` cannot wait); without a runtime the connection
        // is closed, which rolls back too.
        let idle = self.idle.clone();
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            runtime.spawn(async move {
                if conn.execute("ROLLBACK").await.is_ok() && !conn.is_in_transaction() {
                    keep(&idle, conn, permit);
                }
            });
        }
    }
}
