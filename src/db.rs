//! The database: one `Any` pool that speaks SQLite (the embedded default) or
//! PostgreSQL (production), the SQLite pragmas, and the migrations.
//!
//! Every query of the shop is portable SQL with `$1` placeholders, run through
//! sqlx's `Any` driver (on a SQLite file, the few every reader's request makes run
//! in place instead: `in_place`), and every query runs in the test suite against
//! both databases; see the README for the few rules that keeps.

use std::{future::Future, str::FromStr, time::Duration};

use anyhow::Context;
use sqlx::{
    any::{AnyConnectOptions, AnyPoolOptions},
    AnyPool, Executor,
};
use tower_sessions::ExpiredDeletion;
use tower_sessions_sqlx_store::{PostgresStore, SqliteStore};

pub mod in_place;
mod kept;
pub use in_place::{bind_all, Durability, InPlace, InPlaceTx, Param, ReadRow};
pub use kept::{KeptConnections, KeptTx};

/// PostgreSQL: how many reads by key, and how many reader's writes, run at once on kept connections
/// (each holds its connection for a statement or a short transaction; two cores keep few busy).
const KEPT_READS: usize = 8;
const KEPT_WRITES: usize = 8;

pub static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations");

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// The shop's database: one shared value, so handing it to a request is a reference count.
#[derive(Clone, Debug)]
pub struct Db(std::sync::Arc<Pools>);

impl std::ops::Deref for Db {
    type Target = Pools;
    fn deref(&self) -> &Pools {
        &self.0
    }
}

/// The pools and locks of one database.
#[derive(Debug)]
pub struct Pools {
    pub pool: AnyPool,
    pub backend: Backend,
    /// SQLite: connections that commit without waiting for the disk (`synchronous = NORMAL`), for
    /// what is not money (carts, guess counters; see `unflushed_write`). PostgreSQL: the main pool.
    unflushed: AnyPool,
    /// A typed pool on the same database for the session store, which cannot use `Any`.
    pub sessions: SessionPool,
    /// SQLite: the file whose lock processes opening one database file take turns on while
    /// preparing it.
    setup_lock_file: Option<std::path::PathBuf>,
    /// SQLite: this process's writers take turns here before asking SQLite for its write lock.
    /// SQLite makes a writer that finds the lock taken sleep and retry (1, 2, 5 ... 100 ms), so
    /// thirty writers at once mostly sleep; queued here, each starts the moment the previous ends.
    pub write_gate: Option<WriteGate>,
    /// SQLite on a file: the connections that run the statements every reader's request makes on
    /// the request's own thread (see `in_place`).
    pub in_place: Option<InPlace>,
    /// PostgreSQL: the connections the reads by key every reader's request makes run on, and those
    /// its writes (`begin_unflushed`, `begin_durable`) run on, without the pool's checks (see `kept`).
    pub kept_reads: Option<KeptConnections>,
    pub kept_writes: Option<KeptConnections>,
}

/// The queue of this process's SQLite writers (see `Db::write_gate`).
#[derive(Clone, Debug, Default)]
pub struct WriteGate(std::sync::Arc<tokio::sync::Mutex<()>>);

impl WriteGate {
    pub async fn enter(&self) -> tokio::sync::OwnedMutexGuard<()> {
        self.0.clone().lock_owned().await
    }
}

/// A write transaction, holding the write gate (SQLite) until it commits or is dropped. It reads
/// and writes as the connection it wraps: `&mut *tx` is the connection.
pub struct WriteTx {
    tx: sqlx::Transaction<'static, sqlx::Any>,
    _turn: Option<tokio::sync::OwnedMutexGuard<()>>,
}

impl WriteTx {
    pub async fn commit(self) -> sqlx::Result<()> {
        self.tx.commit().await
    }

    pub async fn rollback(self) -> sqlx::Result<()> {
        self.tx.rollback().await
    }
}

impl std::ops::Deref for WriteTx {
    type Target = sqlx::AnyConnection;
    fn deref(&self) -> &sqlx::AnyConnection {
        &self.tx
    }
}

impl std::ops::DerefMut for WriteTx {
    fn deref_mut(&mut self) -> &mut sqlx::AnyConnection {
        &mut self.tx
    }
}

/// A write transaction whose statements are written once for both databases (`Statements`): on a
/// SQLite file it runs in place (`in_place`), on PostgreSQL through sqlx. `Db::begin_unflushed`
/// for what is not money, `Db::begin_durable` for orders. Dropped without `commit`, it is rolled
/// back.
pub enum PortableTx {
    // Field order is drop order: the transaction ends before the turn is given up.
    InPlace {
        tx: InPlaceTx,
        _turn: Option<tokio::sync::OwnedMutexGuard<()>>,
    },
    /// PostgreSQL, on a kept connection (`kept`).
    Kept(KeptTx),
    Sqlx(WriteTx),
}

impl PortableTx {
    pub async fn commit(self) -> sqlx::Result<()> {
        match self {
            PortableTx::InPlace { tx, _turn } => tx.commit(),
            PortableTx::Kept(tx) => tx.commit().await,
            PortableTx::Sqlx(tx) => tx.commit().await,
        }
    }
}

/// Statements written once for both databases, `$N` placeholders bound to `Param`s: what a
/// portable transaction runs, and a sqlx connection too (`&mut *tx` of a `WriteTx`), so that a
/// step shared by code on either (taking a reader's lock, an audit entry) is written once.
pub trait Statements: Send {
    /// Runs a statement; answers how many rows it changed.
    fn execute(&mut self, sql: &str, params: &[Param<'_>]) -> impl Future<Output = sqlx::Result<u64>> + Send;

    /// Every row a statement answers.
    fn rows<T: ReadRow>(
        &mut self,
        sql: &str,
        params: &[Param<'_>],
    ) -> impl Future<Output = sqlx::Result<Vec<T>>> + Send;

    /// The first row a statement answers, if any.
    fn row<T: ReadRow>(
        &mut self,
        sql: &str,
        params: &[Param<'_>],
    ) -> impl Future<Output = sqlx::Result<Option<T>>> + Send {
        async move { Ok(self.rows(sql, params).await?.into_iter().next()) }
    }
}

impl Statements for sqlx::AnyConnection {
    async fn execute(&mut self, sql: &str, params: &[Param<'_>]) -> sqlx::Result<u64> {
        Ok(in_place::bind_all(sqlx::query(sql), params).execute(&mut *self).await?.rows_affected())
    }

    async fn rows<T: ReadRow>(&mut self, sql: &str, params: &[Param<'_>]) -> sqlx::Result<Vec<T>> {
        in_place::bind_all_as(sqlx::query_as(sql), params).fetch_all(&mut *self).await
    }
}

impl Statements for WriteTx {
    async fn execute(&mut self, sql: &str, params: &[Param<'_>]) -> sqlx::Result<u64> {
        Statements::execute(&mut **self, sql, params).await
    }

    async fn rows<T: ReadRow>(&mut self, sql: &str, params: &[Param<'_>]) -> sqlx::Result<Vec<T>> {
        Statements::rows(&mut **self, sql, params).await
    }
}

impl Statements for PortableTx {
    async fn execute(&mut self, sql: &str, params: &[Param<'_>]) -> sqlx::Result<u64> {
        match self {
            PortableTx::InPlace { tx, .. } => tx.execute(sql, params),
            PortableTx::Kept(tx) => tx.execute(sql, params).await,
            PortableTx::Sqlx(tx) => Statements::execute(&mut **tx, sql, params).await,
        }
    }

    async fn rows<T: ReadRow>(&mut self, sql: &str, params: &[Param<'_>]) -> sqlx::Result<Vec<T>> {
        match self {
            PortableTx::InPlace { tx, .. } => tx.rows(sql, params),
            PortableTx::Kept(tx) => tx.rows(sql, params).await,
            PortableTx::Sqlx(tx) => Statements::rows(&mut **tx, sql, params).await,
        }
    }
}

/// A turn at writing (see `Db::write_turn` and `Db::unflushed_write`), held until dropped.
pub struct WriteTurn<'a> {
    backend: Backend,
    pool: &'a AnyPool,
    turn: Option<tokio::sync::OwnedMutexGuard<()>>,
}

impl WriteTurn<'_> {
    /// For single statements (each its own commit).
    pub fn pool(&self) -> &AnyPool {
        self.pool
    }

    /// A transaction within this turn.
    pub async fn begin(self) -> sqlx::Result<WriteTx> {
        begin_on(self.backend, self.pool, self.turn).await
    }
}

async fn begin_on(
    backend: Backend,
    pool: &AnyPool,
    turn: Option<tokio::sync::OwnedMutexGuard<()>>,
) -> sqlx::Result<WriteTx> {
    let tx = match backend {
        Backend::Sqlite => pool.begin_with("BEGIN IMMEDIATE").await?,
        Backend::Postgres => pool.begin().await?,
    };
    Ok(WriteTx { tx, _turn: turn })
}

#[derive(Clone, Debug)]
pub enum SessionPool {
    Sqlite(sqlx::SqlitePool),
    Postgres(sqlx::PgPool),
}

impl Db {
    /// Opens the pools. `acquire_timeout` bounds how long a request waits for a connection, so a
    /// database that has gone away is answered with 503 in about that time instead of hanging.
    pub async fn connect(url: &str, acquire_timeout: Duration) -> anyhow::Result<Db> {
        sqlx::any::install_default_drivers();
        let backend = if url.starts_with("sqlite:") { Backend::Sqlite } else { Backend::Postgres };
        let sqlite_file = match backend {
            Backend::Sqlite => create_sqlite_parent_dir(url)?,
            Backend::Postgres => None,
        };
        let setup_lock_file = sqlite_file.as_ref().map(|db| db.with_extension("setup-lock"));
        let in_place = sqlite_file.map(InPlace::new);
        let options = AnyConnectOptions::from_str(url).context("DATABASE_URL is not a database URL")?;
        let kept =
            |size| (backend == Backend::Postgres).then(|| KeptConnections::new(options.clone(), size, acquire_timeout));
        // Separate, so that writes waiting on each other's row locks never hold up the reads.
        let (kept_reads, kept_writes) = (kept(KEPT_READS), kept(KEPT_WRITES));
        let pool =
            open_pool(backend, &options, if backend == Backend::Sqlite { 8 } else { 16 }, "FULL", acquire_timeout)
                .await?;
        // Writes take turns (the gate), so a few connections are plenty.
        // Opened at its first use (the main pool has shown the file opens): one connection and
        // thread fewer to make before an instance serves.
        let unflushed = match backend {
            Backend::Sqlite => pool_options(backend, 4, "NORMAL", acquire_timeout).connect_lazy_with(options.clone()),
            Backend::Postgres => pool.clone(),
        };
        let sessions = match backend {
            Backend::Sqlite => {
                let options = sqlx::sqlite::SqliteConnectOptions::from_str(url)?
                    .journal_mode(sqlx::sqlite::SqliteJournalMode::Wal)
                    // Sessions are not money either: see `unflushed_write`.
                    .synchronous(sqlx::sqlite::SqliteSynchronous::Normal)
                    // One small table read by key: a small page cache keeps memory down.
                    .pragma("cache_size", "-256")
                    .busy_timeout(Duration::from_secs(5))
                    .foreign_keys(true);
                SessionPool::Sqlite(
                    sqlx::sqlite::SqlitePoolOptions::new()
                        // Loading, creating and saving sessions run in place (`in_place`): this pool
                        // only deletes them (a sign-out, the expiry sweep).
                        .max_connections(2)
                        .acquire_timeout(acquire_timeout)
                        .test_before_acquire(false) // see `open_pool`
                        // Opened at its first use: its table is made once (`migrate_sessions`).
                        .connect_lazy_with(options),
                )
            }
            Backend::Postgres => SessionPool::Postgres(
                sqlx::postgres::PgPoolOptions::new()
                    // Loading, creating and saving sessions run on the kept connections (`kept`):
                    // this pool only deletes them (a sign-out, the expiry sweep).
                    .max_connections(4)
                    .acquire_timeout(acquire_timeout)
                    .connect(url)
                    .await?,
            ),
        };
        let write_gate = (backend == Backend::Sqlite).then(WriteGate::default);
        Ok(Db(std::sync::Arc::new(Pools {
            pool,
            backend,
            unflushed,
            sessions,
            setup_lock_file,
            write_gate,
            in_place,
            kept_reads,
            kept_writes,
        })))
    }

    /// The shop's migrations (sqlx takes PostgreSQL's advisory lock around them).
    pub async fn migrate(&self) -> anyhow::Result<()> {
        MIGRATOR.run(&self.pool).await.context("running the migrations")
    }

    /// The session store's own table. Its `CREATE ... IF NOT EXISTS` is not safe against another
    /// instance doing the same at once on PostgreSQL: call it under `with_setup_lock`.
    pub async fn migrate_sessions(&self) -> anyhow::Result<()> {
        match &self.sessions {
            SessionPool::Sqlite(pool) => {
                // Asked on the open pool, so the sessions' own opens only when it has work.
                let made: Option<(i64,)> =
                    sqlx::query_as("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'tower_sessions'")
                        .fetch_optional(&self.pool)
                        .await?;
                match made {
                    Some(_) => Ok(()),
                    None => SqliteStore::new(pool.clone()).migrate().await,
                }
            }
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
        for kept in [&self.kept_reads, &self.kept_writes].into_iter().flatten() {
            kept.close().await;
        }
        self.pool.close().await;
        self.unflushed.close().await;
        match &self.sessions {
            SessionPool::Sqlite(pool) => pool.close().await,
            SessionPool::Postgres(pool) => pool.close().await,
        }
    }

    /// A transaction that will write after reading. On SQLite it takes the write lock at once
    /// (`BEGIN IMMEDIATE`), so two such transactions queue instead of failing with "database is
    /// locked"; on PostgreSQL the conditional updates inside take row locks.
    pub async fn begin_write(&self) -> sqlx::Result<WriteTx> {
        let turn = self.take_turn().await?;
        begin_on(self.backend, &self.pool, turn).await
    }

    /// A write of what is not money (a cart, a session, a guess counter) that need not wait for
    /// the disk: on SQLite it commits with `synchronous = NORMAL`, so a power cut can lose the
    /// last moments of such changes (never an order: orders commit with FULL, which also makes
    /// every earlier commit durable) and never corrupts the database. It takes the write gate like
    /// any writer. `pool()` runs single statements; `begin()` a transaction.
    pub async fn unflushed_write(&self) -> sqlx::Result<WriteTurn<'_>> {
        Ok(WriteTurn { backend: self.backend, pool: &self.unflushed, turn: self.take_turn().await? })
    }

    /// A transaction within `unflushed_write`'s rules, run in place on a SQLite file.
    pub async fn begin_unflushed(&self) -> sqlx::Result<PortableTx> {
        match &self.in_place {
            Some(in_place) => {
                let turn = self.take_turn().await?;
                Ok(PortableTx::InPlace { tx: in_place.begin(Durability::Unflushed).await?, _turn: turn })
            }
            None => match &self.kept_writes {
                Some(kept) => Ok(PortableTx::Kept(kept.begin(Durability::Unflushed).await?)),
                None => Ok(PortableTx::Sqlx(self.unflushed_write().await?.begin().await?)),
            },
        }
    }

    /// A transaction within `begin_write`'s rules (its commit waits for the disk: orders), run in
    /// place on a SQLite file.
    pub async fn begin_durable(&self) -> sqlx::Result<PortableTx> {
        match &self.in_place {
            Some(in_place) => {
                let turn = self.take_turn().await?;
                Ok(PortableTx::InPlace { tx: in_place.begin(Durability::Full).await?, _turn: turn })
            }
            None => match &self.kept_writes {
                Some(kept) => Ok(PortableTx::Kept(kept.begin(Durability::Full).await?)),
                None => Ok(PortableTx::Sqlx(self.begin_write().await?)),
            },
        }
    }

    /// One statement within `begin_durable`'s rules, a transaction of its own: on PostgreSQL a
    /// single round trip (the server commits it), instead of three with `BEGIN` and `COMMIT`.
    pub async fn execute_durable(&self, sql: &str, params: &[Param<'_>]) -> sqlx::Result<u64> {
        if self.in_place.is_none() {
            if let Some(kept) = &self.kept_writes {
                return kept.execute(sql, params).await;
            }
        }
        let mut tx = self.begin_durable().await?;
        let changed = tx.execute(sql, params).await?;
        tx.commit().await?;
        Ok(changed)
    }

    /// SQLite file: copies the write-ahead log into the database file every `every`, on a sqlx
    /// connection's own thread, for as long as the instance runs. The in-place writers never do it
    /// themselves: SQLite would do it within the commit that crosses its threshold (1,000 pages), on
    /// the request's thread and holding the write gate, which made checkouts' p99 170 ms
    /// (BENCHMARKS.md). A PASSIVE checkpoint waits for nobody and blocks nobody.
    pub async fn checkpoint_continually(self, every: Duration) {
        if self.in_place.is_none() {
            return;
        }
        let mut tick = tokio::time::interval(every);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            if let Err(error) = sqlx::query("PRAGMA wal_checkpoint(PASSIVE)").execute(&self.unflushed).await {
                tracing::debug!(error = %error, "checkpoint: will try again");
            }
        }
    }

    /// A turn at writing (SQLite: this process's writers queue here instead of in SQLite's
    /// sleeping retry loop), for single statements outside a transaction: `pool()`.
    pub async fn write_turn(&self) -> sqlx::Result<WriteTurn<'_>> {
        Ok(WriteTurn { backend: self.backend, pool: &self.pool, turn: self.take_turn().await? })
    }

    async fn take_turn(&self) -> sqlx::Result<Option<tokio::sync::OwnedMutexGuard<()>>> {
        // The turn is taken within the pool's timeout, so a database that hangs still answers 503.
        Ok(match &self.write_gate {
            Some(gate) => Some(
                tokio::time::timeout(self.pool.options().get_acquire_timeout(), gate.enter())
                    .await
                    .map_err(|_| sqlx::Error::PoolTimedOut)?,
            ),
            None => None,
        })
    }

    /// True when the database can be written within `within`: a write transaction is opened (on
    /// SQLite that takes the write lock a wedged connection would hold), touched and rolled back.
    /// The probe runs in its own task, so giving up on it never cancels it halfway.
    pub async fn is_writable(&self, within: Duration) -> bool {
        let db = self.clone();
        let probe = tokio::spawn(async move {
            let mut tx = db.begin_write().await?;
            if db.backend == Backend::Postgres {
                // A probe must not queue behind a lock for long (SQLite's busy timeout bounds it there).
                sqlx::query("SET LOCAL lock_timeout = '2s'").execute(&mut *tx).await?;
            }
            sqlx::query("UPDATE settings SET value = value WHERE name = 'currency'").execute(&mut *tx).await?;
            tx.rollback().await
        });
        matches!(tokio::time::timeout(within, probe).await, Ok(Ok(Ok(()))))
    }

    /// Runs `work` while holding the shop's set-up lock, so that instances starting together
    /// prepare the database one after another: PostgreSQL's advisory lock held by one connection,
    /// or on SQLite an exclusive lock on a file beside the database.
    pub async fn with_setup_lock<T>(
        &self,
        work: impl std::future::Future<Output = anyhow::Result<T>>,
    ) -> anyhow::Result<T> {
        if self.backend == Backend::Sqlite {
            let Some(path) = self.setup_lock_file.clone() else { return work.await };
            let file = tokio::task::spawn_blocking(move || -> std::io::Result<std::fs::File> {
                let file = std::fs::OpenOptions::new().create(true).truncate(false).write(true).open(&path)?;
                file.lock()?;
                Ok(file)
            })
            .await?
            .context("taking the set-up lock")?;
            let result = work.await;
            drop(file); // closing the file releases the lock
            return result;
        }
        let mut conn = self.pool.acquire().await?;
        sqlx::query("SELECT pg_advisory_lock($1)").bind(SETUP_LOCK_KEY).execute(&mut *conn).await?;
        let result = work.await;
        let unlocked = sqlx::query("SELECT pg_advisory_unlock($1)").bind(SETUP_LOCK_KEY).execute(&mut *conn).await;
        if unlocked.is_err() {
            // A session lock lives as long as its connection: end the connection to free it.
            conn.close_on_drop();
        }
        result
    }
}

/// A pool of the shop's connections. On SQLite `synchronous` is FULL (a committed order survives a
/// power cut) or NORMAL (see `Db::unflushed_write`).
async fn open_pool(
    backend: Backend,
    options: &AnyConnectOptions,
    size: u32,
    synchronous: &'static str,
    acquire_timeout: Duration,
) -> anyhow::Result<AnyPool> {
    pool_options(backend, size, synchronous, acquire_timeout)
        .connect_with(options.clone())
        .await
        .with_context(|| format!("cannot open the database ({})", backend.name()))
}

fn pool_options(backend: Backend, size: u32, synchronous: &'static str, acquire_timeout: Duration) -> AnyPoolOptions {
    AnyPoolOptions::new()
        .max_connections(size)
        .acquire_timeout(acquire_timeout)
        // sqlx pings a connection before lending it (and again when it comes back). A SQLite
        // connection is a file this process holds open: it cannot have gone away, and on SQLite
        // each ping is a hand-off to the connection's thread and back. PostgreSQL keeps the check:
        // a restarted server leaves dead connections in the pool.
        .test_before_acquire(backend == Backend::Postgres)
        // A request dropped at the wrong moment (a reader's lost connection, a timeout) can leave
        // a connection inside a transaction that nobody will end: sqlx's `begin` is not
        // cancel-safe on every driver. Such a connection would hold SQLite's write lock (or
        // swallow later writes into a savepoint on PostgreSQL) for ever, so it is closed, which
        // rolls its transaction back, instead of going back into the pool.
        .after_release(|conn, _meta| Box::pin(async move { Ok(!left_in_transaction(conn).await) }))
        .before_acquire(|conn, _meta| Box::pin(async move { Ok(!left_in_transaction(conn).await) }))
        .after_connect(move |conn, _meta| {
            Box::pin(async move {
                if backend == Backend::Sqlite {
                    // WAL lets readers run beside the one writer. The unflushed pool writes small
                    // rows (carts, counters): a small page cache keeps memory down.
                    let cache = if synchronous == "FULL" { "" } else { "PRAGMA cache_size = -256;" };
                    let pragmas = format!(
                        "PRAGMA journal_mode = WAL; PRAGMA synchronous = {synchronous}; \
                         PRAGMA busy_timeout = 5000; PRAGMA foreign_keys = ON; {cache}"
                    );
                    Executor::execute(&mut *conn, pragmas.as_str()).await?;
                }
                Ok(())
            })
        })
}

/// The key of the advisory lock instances take while preparing the database (any constant;
/// distinct from sqlx's migration lock).
const SETUP_LOCK_KEY: i64 = 0x6d61_7374_6865_6164;

/// True when a connection is inside a transaction no `Transaction` value will ever end.
async fn left_in_transaction(conn: &mut sqlx::AnyConnection) -> bool {
    use sqlx::Connection;
    if !conn.is_in_transaction() {
        return false;
    }
    // A transaction dropped without commit is rolled back by SQLite's worker thread a moment
    // later; a ping queued behind that rollback waits for it.
    if conn.ping().await.is_err() {
        return true;
    }
    let stuck = conn.is_in_transaction();
    if stuck {
        tracing::warn!(
            "a database connection came back inside a transaction: closing it (the transaction is rolled back)"
        );
    }
    stuck
}

/// True when an error means the database cannot be reached or is going away, rather than a
/// fault in the query: the request is answered 503 with `Retry-After`, not 500.
pub fn is_unavailable(error: &sqlx::Error) -> bool {
    match error {
        sqlx::Error::PoolTimedOut | sqlx::Error::PoolClosed | sqlx::Error::Io(_) | sqlx::Error::WorkerCrashed => true,
        // PostgreSQL's classes 08 (connection exception) and 57 (operator intervention: shutting down).
        sqlx::Error::Database(e) => e.code().is_some_and(|c| c.starts_with("08") || c.starts_with("57")),
        _ => false,
    }
}

impl Backend {
    pub fn name(self) -> &'static str {
        match self {
            Backend::Sqlite => "SQLite",
            Backend::Postgres => "PostgreSQL",
        }
    }
}

/// SQLite creates the file but not the folder it lives in. Answers the file's path (none for an
/// in-memory database).
fn create_sqlite_parent_dir(url: &str) -> anyhow::Result<Option<std::path::PathBuf>> {
    let path = url.trim_start_matches("sqlite:").trim_start_matches("//");
    let path = path.split('?').next().unwrap_or_default();
    if path.is_empty() || path == ":memory:" {
        return Ok(None);
    }
    if let Some(parent) = std::path::Path::new(path).parent() {
        if !parent.as_os_str().is_empty() {
            std::fs::create_dir_all(parent).with_context(|| format!("creating {}", parent.display()))?;
        }
    }
    Ok(Some(std::path::PathBuf::from(path)))
}

/// A `LIKE ... ESCAPE '\'` pattern matching text that contains `typed`, with `%`,
/// `_` and `\` in it matched as themselves: searching for `o_brien` finds only `o_brien`.
pub fn contains_pattern(typed: &str) -> String {
    let mut pattern = String::from("%");
    for c in typed.chars() {
        if matches!(c, '%' | '_' | '\\') {
            pattern.push('\\');
        }
        pattern.push(c);
    }
    pattern.push('%');
    pattern
}

/// Lets `FromRow` read a TEXT column straight into a type of the shop's through its
/// `parse(&str) -> Option<Self>`: a value the type does not know fails to load, loudly, instead of
/// travelling on as a string nobody checks.
macro_rules! text_column {
    ($type:ty) => {
        impl sqlx::Type<sqlx::Any> for $type {
            fn type_info() -> sqlx::any::AnyTypeInfo {
                <String as sqlx::Type<sqlx::Any>>::type_info()
            }
        }

        impl<'r> sqlx::Decode<'r, sqlx::Any> for $type {
            fn decode(value: sqlx::any::AnyValueRef<'r>) -> Result<$type, sqlx::error::BoxDynError> {
                let text = <String as sqlx::Decode<sqlx::Any>>::decode(value)?;
                <$type>::parse(&text).ok_or_else(|| format!("unknown {} {text:?}", stringify!($type)).into())
            }
        }

        impl rusqlite::types::FromSql for $type {
            fn column_result(value: rusqlite::types::ValueRef<'_>) -> rusqlite::types::FromSqlResult<$type> {
                let text = value.as_str()?;
                <$type>::parse(text).ok_or_else(|| {
                    rusqlite::types::FromSqlError::Other(format!("unknown {} {text:?}", stringify!($type)).into())
                })
            }
        }
    };
}
pub(crate) use text_column;

/// The rows of a `LEFT JOIN` ordered by their parent, each parent once with its children (none
/// when the join found none): `parent` splits a row and names the parent it belongs to.
pub fn with_children<R, P, K: PartialEq, C>(
    rows: impl IntoIterator<Item = R>,
    parent: impl Fn(R) -> (K, P, Option<C>),
) -> Vec<(P, Vec<C>)> {
    let mut grouped: Vec<(K, P, Vec<C>)> = Vec::new();
    for row in rows {
        let (key, value, child) = parent(row);
        match grouped.last_mut() {
            Some((last, _, children)) if *last == key => children.extend(child),
            _ => grouped.push((key, value, child.into_iter().collect())),
        }
    }
    grouped.into_iter().map(|(_, value, children)| (value, children)).collect()
}

/// Reads a 0/1 flag column (flags are integers so that both databases decode them alike).
pub fn flag(value: i64) -> bool {
    value != 0
}

#[cfg(test)]
mod tests {
    /// Each parent once, in the rows' order, with its children in theirs; a parent the join found
    /// no child for has none.
    #[test]
    fn joined_rows_fold_into_parents_with_their_children() {
        let rows = [("sw", Some("print")), ("sw", Some("digital")), ("isr", None), ("xx", Some("print"))];
        let grouped = super::with_children(rows, |(slug, edition)| (slug, slug.to_uppercase(), edition));
        assert_eq!(
            grouped,
            [
                ("SW".to_string(), vec!["print", "digital"]),
                ("ISR".to_string(), vec![]),
                ("XX".to_string(), vec!["print"]),
            ]
        );
    }
}
