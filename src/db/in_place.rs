//! Reads by key and the writes of a reader's session and cart, on the request's own thread (SQLite).
//!
//! sqlx runs each SQLite connection on a thread of its own and hands every statement and row over
//! a channel: for a lookup SQLite answers from its cache in a few microseconds, the hand-offs cost
//! many times that (about 40% of the CPU of the cart API under load, BENCHMARKS.md). The few
//! lookups every request with a session makes (its session, its cart and lines, a line's plan or
//! issue, the header's cart count) run here instead, on read-only connections driven in place. A
//! read in WAL mode does not wait for writers; the busy timeout below bounds the rare wait (a
//! checkpoint restarting the log) and answers 503 past it. On PostgreSQL the same reads run on
//! connections kept for them (`kept`).
//!
//! Only single statements outside a transaction belong here: a read that must see a transaction's
//! own writes runs on that transaction.
//!
//! Writes run here too, under the process's write gate: what is not money (a reader's session:
//! `InPlace::write_unflushed`; the cart and its coupon: `Db::begin_unflushed`) on a read-write
//! connection with `synchronous = NORMAL` like `Db::unflushed_write`, and placing an order
//! (`Db::begin_durable`) on another with `synchronous = FULL`, whose commit waits for the disk
//! (an `fsync` of the log, on the request's thread) like every order's. Another process holding
//! SQLite's write lock is waited for asleep, off the thread; once the transaction has begun,
//! nothing in it waits, so no request dropped midway can leave it open.

use std::{
    path::PathBuf,
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use rusqlite::{types::FromSql, OpenFlags};
use sqlx::{any::AnyRow, FromRow};

use super::Db;

/// Connections kept between reads: one per thread that reads at once (the runtime's workers).
const KEEP_CONNECTIONS: usize = 4;
/// How long a read waits for a lock before the request is answered 503 (it holds its thread).
const BUSY_TIMEOUT: Duration = Duration::from_millis(500);
/// SQLite's page cache per connection, in KiB: the rows read here are few and small.
const CACHE_KIB: i64 = 1024;
/// How long a write waits for another process's write lock before the request is answered 503.
const WRITE_PATIENCE: Duration = Duration::from_secs(5);

/// A value bound to a `$N` placeholder.
#[derive(Clone, Copy, Debug)]
pub enum Param<'a> {
    Text(&'a str),
    Int(i64),
    Blob(&'a [u8]),
    /// An integer column's NULL (PostgreSQL types a NULL parameter too).
    NullInt,
    /// A text column's NULL.
    NullText,
}

impl<'a> Param<'a> {
    pub fn int_or_null(value: Option<i64>) -> Param<'static> {
        value.map_or(Param::NullInt, Param::Int)
    }

    pub fn text_or_null(value: Option<&'a str>) -> Param<'a> {
        value.map_or(Param::NullText, Param::Text)
    }
}

/// Whether a write transaction's commit waits for the disk (see the module's comment).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Durability {
    /// `synchronous = NORMAL`: what is not money.
    Unflushed,
    /// `synchronous = FULL`: orders.
    Full,
}

/// A row read here or through sqlx alike: tuples of columns both can decode.
pub trait ReadRow: for<'r> FromRow<'r, AnyRow> + Send + Unpin + Sized {
    fn from_sqlite(row: &rusqlite::Row<'_>) -> rusqlite::Result<Self>;
}

macro_rules! read_row_tuple {
    ($($name:ident $index:tt),+) => {
        impl<$($name),+> ReadRow for ($($name,)+)
        where
            ($($name,)+): for<'r> FromRow<'r, AnyRow> + Send + Unpin,
            $($name: FromSql),+
        {
            fn from_sqlite(row: &rusqlite::Row<'_>) -> rusqlite::Result<Self> {
                Ok(($(row.get::<_, $name>($index)?,)+))
            }
        }
    };
}
read_row_tuple!(A 0);
read_row_tuple!(A 0, B 1);
read_row_tuple!(A 0, B 1, C 2);
read_row_tuple!(A 0, B 1, C 2, D 3);
read_row_tuple!(A 0, B 1, C 2, D 3, E 4);
read_row_tuple!(A 0, B 1, C 2, D 3, E 4, F 5);
read_row_tuple!(A 0, B 1, C 2, D 3, E 4, F 5, G 6);
read_row_tuple!(A 0, B 1, C 2, D 3, E 4, F 5, G 6, H 7);
read_row_tuple!(A 0, B 1, C 2, D 3, E 4, F 5, G 6, H 7, I 8);
read_row_tuple!(A 0, B 1, C 2, D 3, E 4, F 5, G 6, H 7, I 8, J 9);
read_row_tuple!(A 0, B 1, C 2, D 3, E 4, F 5, G 6, H 7, I 8, J 9, K 10);
read_row_tuple!(A 0, B 1, C 2, D 3, E 4, F 5, G 6, H 7, I 8, J 9, K 10, L 11);

/// The in-place connections of one SQLite database file.
#[derive(Clone, Debug)]
pub struct InPlace {
    path: PathBuf,
    /// Read-only connections not in use.
    idle: Arc<Mutex<Vec<rusqlite::Connection>>>,
    /// The read-write connections, when no write is using them (writers take turns: one of each
    /// durability is enough).
    writer: Arc<Mutex<Option<rusqlite::Connection>>>,
    durable_writer: Arc<Mutex<Option<rusqlite::Connection>>>,
}

impl InPlace {
    pub fn new(path: PathBuf) -> InPlace {
        InPlace { path, idle: Default::default(), writer: Default::default(), durable_writer: Default::default() }
    }

    /// Runs `work` in one write transaction that commits without waiting for the disk (see the
    /// module's comment). The caller holds the process's write gate.
    pub async fn write_unflushed<T>(
        &self,
        work: impl FnOnce(&rusqlite::Connection) -> rusqlite::Result<T>,
    ) -> sqlx::Result<T> {
        let tx = self.begin(Durability::Unflushed).await?;
        let value = work(tx.conn()).map_err(to_sqlx)?;
        tx.commit()?;
        Ok(value)
    }

    /// Begins a write transaction on the read-write connection of `durability` (`BEGIN IMMEDIATE`:
    /// it holds SQLite's write lock from here). The caller holds the process's write gate.
    pub async fn begin(&self, durability: Durability) -> sqlx::Result<InPlaceTx> {
        let home = match durability {
            Durability::Unflushed => &self.writer,
            Durability::Full => &self.durable_writer,
        };
        let kept = home.lock().ok().and_then(|mut writer| writer.take());
        let conn = match kept {
            Some(conn) => conn,
            None => self.open_writer(durability).map_err(to_sqlx)?,
        };
        let started = Instant::now();
        loop {
            match conn.execute_batch("BEGIN IMMEDIATE") {
                Ok(()) => return Ok(InPlaceTx { conn: Some(conn), home: home.clone() }),
                Err(e) if is_busy(&e) && started.elapsed() < WRITE_PATIENCE => {
                    tokio::time::sleep(Duration::from_millis(2)).await
                }
                Err(e) => {
                    keep_writer(home, conn);
                    return Err(to_sqlx(e));
                }
            }
        }
    }

    fn open_writer(&self, durability: Durability) -> rusqlite::Result<rusqlite::Connection> {
        let conn = rusqlite::Connection::open_with_flags(
            &self.path,
            OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )?;
        // A lock taken by another process is waited for in `begin`, asleep.
        conn.busy_timeout(Duration::ZERO)?;
        let synchronous = match durability {
            Durability::Unflushed => "NORMAL",
            Durability::Full => "FULL",
        };
        // No checkpoint inside a commit (on the request's thread, holding the write gate): the log
        // is copied into the database off the request threads (`Db::checkpoint_continually`).
        conn.execute_batch(&format!(
            "PRAGMA synchronous = {synchronous}; PRAGMA foreign_keys = ON; PRAGMA cache_size = -256; \
             PRAGMA wal_autocheckpoint = 0;"
        ))?;
        conn.set_prepared_statement_cache_capacity(16);
        Ok(conn)
    }

    /// Runs `read` on a connection of its own, taken from those kept or opened.
    pub fn with_connection<T>(
        &self,
        read: impl FnOnce(&rusqlite::Connection) -> rusqlite::Result<T>,
    ) -> sqlx::Result<T> {
        let kept = self.idle.lock().ok().and_then(|mut idle| idle.pop());
        let conn = match kept {
            Some(conn) => conn,
            None => self.open().map_err(to_sqlx)?,
        };
        let result = read(&conn).map_err(to_sqlx);
        if let Ok(mut idle) = self.idle.lock() {
            if idle.len() < KEEP_CONNECTIONS {
                idle.push(conn);
            }
        }
        result
    }

    fn open(&self) -> rusqlite::Result<rusqlite::Connection> {
        let flags = OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX;
        let conn = rusqlite::Connection::open_with_flags(&self.path, flags)?;
        conn.busy_timeout(BUSY_TIMEOUT)?;
        conn.pragma_update(None, "cache_size", -CACHE_KIB)?;
        conn.set_prepared_statement_cache_capacity(64);
        Ok(conn)
    }
}

fn keep_writer(home: &Mutex<Option<rusqlite::Connection>>, conn: rusqlite::Connection) {
    if let Ok(mut writer) = home.lock() {
        writer.get_or_insert(conn);
    }
}

/// A write transaction on the in-place read-write connection; dropped without `commit`, it is
/// rolled back at once (nothing in it ever waits, so it is never left halfway).
pub struct InPlaceTx {
    conn: Option<rusqlite::Connection>,
    home: Arc<Mutex<Option<rusqlite::Connection>>>,
}

impl InPlaceTx {
    fn conn(&self) -> &rusqlite::Connection {
        self.conn.as_ref().expect("an open transaction has its connection")
    }

    /// Runs a statement; answers how many rows it changed.
    pub fn execute(&self, sql: &str, params: &[Param<'_>]) -> sqlx::Result<u64> {
        sqlite_execute(self.conn(), sql, params).map(|n| n as u64).map_err(to_sqlx)
    }

    pub fn rows<T: ReadRow>(&self, sql: &str, params: &[Param<'_>]) -> sqlx::Result<Vec<T>> {
        sqlite_rows(self.conn(), sql, params).map_err(to_sqlx)
    }

    pub fn commit(mut self) -> sqlx::Result<()> {
        let conn = self.conn.take().expect("an open transaction has its connection");
        let committed = conn.execute_batch("COMMIT");
        let rolled_back = committed.is_ok() || conn.execute_batch("ROLLBACK").is_ok();
        if rolled_back {
            keep_writer(&self.home, conn); // else dropped: closing it rolls back
        }
        committed.map_err(to_sqlx)
    }
}

impl Drop for InPlaceTx {
    fn drop(&mut self) {
        if let Some(conn) = self.conn.take() {
            if conn.is_autocommit() || conn.execute_batch("ROLLBACK").is_ok() {
                keep_writer(&self.home, conn);
            }
        }
    }
}

/// The rows of `sql` with its `$N` placeholders bound to `params[N - 1]`.
pub fn sqlite_rows<T: ReadRow>(
    conn: &rusqlite::Connection,
    sql: &str,
    params: &[Param<'_>],
) -> rusqlite::Result<Vec<T>> {
    let mut statement = prepare_bound(conn, sql, params)?;
    let mut rows = statement.raw_query();
    let mut read = Vec::new();
    while let Some(row) = rows.next()? {
        read.push(T::from_sqlite(row)?);
    }
    Ok(read)
}

/// Runs a statement that returns no rows; answers how many rows it changed.
pub fn sqlite_execute(conn: &rusqlite::Connection, sql: &str, params: &[Param<'_>]) -> rusqlite::Result<usize> {
    prepare_bound(conn, sql, params)?.raw_execute()
}

fn prepare_bound<'c>(
    conn: &'c rusqlite::Connection,
    sql: &str,
    params: &[Param<'_>],
) -> rusqlite::Result<rusqlite::CachedStatement<'c>> {
    let mut statement = conn.prepare_cached(sql)?;
    for index in 1..=statement.parameter_count() {
        let param = statement
            .parameter_name(index)
            .and_then(|name| name.strip_prefix('$'))
            .and_then(|number| number.parse::<usize>().ok())
            .and_then(|number| params.get(number.checked_sub(1)?))
            .ok_or(rusqlite::Error::InvalidParameterCount(index, params.len()))?;
        match *param {
            Param::Text(text) => statement.raw_bind_parameter(index, text)?,
            Param::Int(number) => statement.raw_bind_parameter(index, number)?,
            Param::Blob(bytes) => statement.raw_bind_parameter(index, bytes)?,
            Param::NullInt | Param::NullText => statement.raw_bind_parameter(index, rusqlite::types::Null)?,
        }
    }
    Ok(statement)
}

fn is_busy(error: &rusqlite::Error) -> bool {
    matches!(error.sqlite_error_code(), Some(rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked))
}

/// A failed read as sqlx would report it: a lock held too long or a file that cannot be opened is
/// the database being unavailable (503); anything else is the shop's own mistake.
fn to_sqlx(error: rusqlite::Error) -> sqlx::Error {
    use rusqlite::ErrorCode::{CannotOpen, ConstraintViolation, DatabaseBusy, DatabaseLocked};
    match (&error, error.sqlite_error_code()) {
        (_, Some(DatabaseBusy | DatabaseLocked | CannotOpen)) => {
            sqlx::Error::Io(std::io::Error::new(std::io::ErrorKind::TimedOut, error))
        }
        (rusqlite::Error::SqliteFailure(failure, message), Some(ConstraintViolation)) => {
            sqlx::Error::Database(Box::new(Violation {
                extended_code: failure.extended_code,
                message: message.clone().unwrap_or_else(|| failure.to_string()),
            }))
        }
        _ => sqlx::Error::Protocol(format!("SQLite: {error}")),
    }
}

/// A constraint SQLite enforced, told as sqlx tells it (so `is_unique_violation()` and the
/// like read the same whichever connection ran the statement).
#[derive(Debug)]
struct Violation {
    extended_code: std::os::raw::c_int,
    message: String,
}

impl std::fmt::Display for Violation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Violation {}

impl sqlx::error::DatabaseError for Violation {
    fn message(&self) -> &str {
        &self.message
    }

    fn code(&self) -> Option<std::borrow::Cow<'_, str>> {
        Some(self.extended_code.to_string().into())
    }

    fn as_error(&self) -> &(dyn std::error::Error + Send + Sync + 'static) {
        self
    }

    fn as_error_mut(&mut self) -> &mut (dyn std::error::Error + Send + Sync + 'static) {
        self
    }

    fn into_error(self: Box<Self>) -> Box<dyn std::error::Error + Send + Sync + 'static> {
        self
    }

    fn kind(&self) -> sqlx::error::ErrorKind {
        use rusqlite::ffi;
        match self.extended_code {
            ffi::SQLITE_CONSTRAINT_UNIQUE | ffi::SQLITE_CONSTRAINT_PRIMARYKEY => {
                sqlx::error::ErrorKind::UniqueViolation
            }
            ffi::SQLITE_CONSTRAINT_FOREIGNKEY => sqlx::error::ErrorKind::ForeignKeyViolation,
            ffi::SQLITE_CONSTRAINT_NOTNULL => sqlx::error::ErrorKind::NotNullViolation,
            ffi::SQLITE_CONSTRAINT_CHECK => sqlx::error::ErrorKind::CheckViolation,
            _ => sqlx::error::ErrorKind::Other,
        }
    }
}

type AnyArguments<'q> = sqlx::any::AnyArguments<'q>;

/// A sqlx statement or query with `params` bound in order.
macro_rules! bind_params {
    ($query:expr, $params:expr) => {{
        let mut query = $query;
        for param in $params {
            query = match *param {
                Param::Text(text) => query.bind(text),
                Param::Int(number) => query.bind(number),
                Param::Blob(bytes) => query.bind(bytes),
                Param::NullInt => query.bind(None::<i64>),
                Param::NullText => query.bind(None::<String>),
            };
        }
        query
    }};
}

pub fn bind_all<'q>(
    query: sqlx::query::Query<'q, sqlx::Any, AnyArguments<'q>>,
    params: &[Param<'q>],
) -> sqlx::query::Query<'q, sqlx::Any, AnyArguments<'q>> {
    bind_params!(query, params)
}

pub(super) fn bind_all_as<'q, T>(
    query: sqlx::query::QueryAs<'q, sqlx::Any, T, AnyArguments<'q>>,
    params: &[Param<'q>],
) -> sqlx::query::QueryAs<'q, sqlx::Any, T, AnyArguments<'q>> {
    bind_params!(query, params)
}

/// `ReadRow` for a struct whose fields are named as the columns read (`struct { a, b }`).
macro_rules! read_row_struct {
    ($type:ident { $($field:ident),+ $(,)? }) => {
        impl $crate::db::ReadRow for $type {
            fn from_sqlite(row: &rusqlite::Row<'_>) -> rusqlite::Result<$type> {
                Ok($type { $($field: row.get(stringify!($field))?),+ })
            }
        }
    };
}
pub(crate) use read_row_struct;

impl Db {
    /// The rows of a read by key (see the module's comment), with `$N` placeholders.
    pub async fn read_rows<T: ReadRow>(&self, sql: &str, params: &[Param<'_>]) -> sqlx::Result<Vec<T>> {
        // Only a SQLite file has in-place connections.
        if let Some(in_place) = &self.in_place {
            return in_place.with_connection(|conn| sqlite_rows(conn, sql, params));
        }
        if let Some(kept) = &self.kept_reads {
            return kept.rows(sql, params).await;
        }
        bind_all_as(sqlx::query_as::<_, T>(sql), params).fetch_all(&self.pool).await
    }

    /// The first row of a read by key, if any.
    pub async fn read_row<T: ReadRow>(&self, sql: &str, params: &[Param<'_>]) -> sqlx::Result<Option<T>> {
        Ok(self.read_rows(sql, params).await?.into_iter().next())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A test's folder, removed when the test ends (passed or failed).
    struct Folder(PathBuf);

    impl Drop for Folder {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    /// A database file of its own with one table, its point reads, and its folder.
    fn shop_file(name: &str) -> (PathBuf, InPlace, Folder) {
        let dir = std::env::temp_dir().join(format!("masthead-point-read-{name}-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("temp dir");
        let path = dir.join("shop.db");
        let _ = std::fs::remove_file(&path);
        let conn = rusqlite::Connection::open(&path).expect("create");
        conn.execute_batch(
            "CREATE TABLE carts (id TEXT PRIMARY KEY, owner TEXT, items INTEGER NOT NULL);
             INSERT INTO carts VALUES ('a', 'ann', 1), ('b', NULL, 2), ('c', 'cy', 3);",
        )
        .expect("table");
        (path.clone(), InPlace::new(path), Folder(dir))
    }

    fn items_of(reads: &InPlace, id: &str) -> Vec<(i64,)> {
        reads
            .with_connection(|c| sqlite_rows(c, "SELECT items FROM carts WHERE id = $1", &[Param::Text(id)]))
            .expect("read")
    }

    #[tokio::test(flavor = "current_thread")]
    async fn a_write_commits_whole_or_not_at_all_and_a_unique_clash_reads_as_sqlx_tells_it() {
        let (path, in_place, _folder) = shop_file("write");
        rusqlite::Connection::open(&path).expect("open").execute_batch("PRAGMA journal_mode = WAL").expect("wal");
        let tx = in_place.begin(Durability::Unflushed).await.expect("begin");
        let changed =
            tx.execute("UPDATE carts SET items = items + $2 WHERE id = $1", &[Param::Text("a"), Param::Int(4)]);
        assert_eq!(changed.expect("update"), 1);
        tx.execute(
            "INSERT INTO carts (id, owner, items) VALUES ($1, $2, $3)",
            &[Param::Text("d"), Param::Text("di"), Param::Int(0)],
        )
        .expect("insert");
        drop(tx); // never committed
        assert_eq!(items_of(&in_place, "a"), vec![(1,)]);
        assert_eq!(items_of(&in_place, "d"), vec![]);

        let tx = in_place.begin(Durability::Unflushed).await.expect("the connection is usable again");
        tx.execute("UPDATE carts SET items = 5 WHERE id = $1", &[Param::Text("a")]).expect("update");
        let clash = tx.execute("INSERT INTO carts (id, items) VALUES ($1, 1)", &[Param::Text("b")]);
        assert!(matches!(&clash, Err(sqlx::Error::Database(e)) if e.is_unique_violation()), "{clash:?}");
        let null = tx.execute("INSERT INTO carts (id, items) VALUES ($1, $2)", &[Param::Text("e"), Param::NullInt]);
        assert!(matches!(&null, Err(sqlx::Error::Database(e)) if e.kind() == sqlx::error::ErrorKind::NotNullViolation));
        tx.commit().expect("commit");
        assert_eq!(items_of(&in_place, "a"), vec![(5,)]);
    }

    #[tokio::test(flavor = "current_thread")]
    async fn an_orders_commit_waits_for_the_disk_and_a_carts_does_not() {
        let (path, in_place, _folder) = shop_file("durability");
        rusqlite::Connection::open(&path).expect("open").execute_batch("PRAGMA journal_mode = WAL").expect("wal");
        // SQLite's levels: 1 NORMAL, 2 FULL; each transaction asks its own connection.
        for (durability, level) in [(Durability::Full, 2), (Durability::Unflushed, 1), (Durability::Full, 2)] {
            let tx = in_place.begin(durability).await.expect("begin");
            assert_eq!(tx.rows::<(i64,)>("PRAGMA synchronous", &[]).expect("read"), vec![(level,)], "{durability:?}");
            tx.commit().expect("commit");
        }
    }

    #[tokio::test]
    async fn an_in_place_writers_log_is_copied_into_the_database_by_the_checkpointer_not_by_its_commits() {
        use crate::db::Statements;
        let dir = std::env::temp_dir().join(format!("masthead-checkpoint-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let _folder = Folder(dir.clone());
        let path = dir.join("shop.db");
        let url = format!("sqlite://{}?mode=rwc", path.display());
        let db = Db::connect(&url, Duration::from_secs(5)).await.expect("a database");
        sqlx::query("CREATE TABLE blobs (id INTEGER PRIMARY KEY, body BLOB)").execute(&db.pool).await.expect("table");
        let size = || std::fs::metadata(&path).expect("the file").len();
        let before = size();
        // 1,500 pages of log in three commits, past SQLite's threshold of 1,000 for a checkpoint.
        let body = vec![7u8; 4000];
        for _ in 0..3 {
            let mut tx = db.begin_unflushed().await.expect("begin");
            for _ in 0..500 {
                tx.execute("INSERT INTO blobs (body) VALUES ($1)", &[Param::Blob(&body)]).await.expect("insert");
            }
            tx.commit().await.expect("commit");
        }
        assert_eq!(size(), before, "a commit copied the log into the database");
        let checkpoints = tokio::spawn(db.clone().checkpoint_continually(Duration::from_millis(20)));
        let started = Instant::now();
        while size() < before + 1_500 * 4_000 {
            assert!(started.elapsed() < Duration::from_secs(5), "the checkpointer did not copy the log");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        checkpoints.abort();
        db.close().await;
    }

    #[tokio::test(flavor = "current_thread")]
    async fn a_write_waits_asleep_for_another_process_holding_the_write_lock() {
        let (path, in_place, _folder) = shop_file("wait");
        let other = rusqlite::Connection::open(&path).expect("open");
        other
            .execute_batch("PRAGMA journal_mode = WAL; BEGIN IMMEDIATE; UPDATE carts SET items = 7 WHERE id = 'c';")
            .expect("lock");
        let holder = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(150));
            other.execute_batch("COMMIT").expect("commit");
        });
        let ticks = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let ticker = tokio::spawn({
            let ticks = ticks.clone();
            async move {
                loop {
                    tokio::time::sleep(Duration::from_millis(10)).await;
                    ticks.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                }
            }
        });
        let tx = in_place.begin(Durability::Unflushed).await.expect("begins once the lock is free");
        // The runtime's only thread went on with other work while the write waited.
        assert!(ticks.load(std::sync::atomic::Ordering::SeqCst) >= 1, "the wait blocked the thread");
        ticker.abort();
        // It began after the other's commit, which it sees.
        let seen = tx.rows::<(i64,)>("SELECT items FROM carts WHERE id = $1", &[Param::Text("c")]);
        assert_eq!(seen.expect("read"), vec![(7,)]);
        tx.commit().expect("commit");
        holder.join().expect("holder");
    }

    #[test]
    fn placeholders_are_bound_by_their_number_wherever_and_however_often_they_appear() {
        let (_, reads, _folder) = shop_file("bind");
        let sql = "SELECT id, owner, items FROM carts WHERE items >= $2 AND (id = $1 OR owner IS NULL OR $1 = 'all') \
                   ORDER BY id";
        let rows: Vec<(String, Option<String>, i64)> =
            reads.with_connection(|c| sqlite_rows(c, sql, &[Param::Text("c"), Param::Int(2)])).expect("read");
        assert_eq!(rows, vec![("b".into(), None, 2), ("c".into(), Some("cy".into()), 3)]);
        let all: Vec<(String,)> =
            reads.with_connection(|c| sqlite_rows(c, sql, &[Param::Text("all"), Param::Int(0)])).expect("read");
        assert_eq!(all.len(), 3);
    }

    #[test]
    fn a_placeholder_without_its_value_or_a_write_is_refused_as_the_shops_mistake() {
        let (_, reads, _folder) = shop_file("refuse");
        let missing = reads.with_connection(|c| {
            sqlite_rows::<(String,)>(c, "SELECT id FROM carts WHERE id = $2", &[Param::Text("a")])
        });
        assert!(matches!(&missing, Err(e) if !crate::db::is_unavailable(e)), "{missing:?}");
        let write = reads.with_connection(|c| sqlite_rows::<(i64,)>(c, "DELETE FROM carts RETURNING items", &[]));
        assert!(write.is_err(), "point reads are read-only: {write:?}");
        let left: Vec<(i64,)> =
            reads.with_connection(|c| sqlite_rows(c, "SELECT COUNT(*) FROM carts", &[])).expect("count");
        assert_eq!(left, vec![(3,)]);
    }

    #[test]
    fn a_lock_held_past_the_busy_timeout_is_the_database_being_unavailable() {
        // Without WAL (the shop's own connections use it) a writer's exclusive lock stops readers.
        let (path, reads, _folder) = shop_file("busy");
        let writer = rusqlite::Connection::open(&path).expect("open");
        writer.execute_batch("BEGIN EXCLUSIVE; UPDATE carts SET items = 9;").expect("lock");
        let read = reads.with_connection(|c| sqlite_rows::<(i64,)>(c, "SELECT items FROM carts", &[]));
        assert!(matches!(&read, Err(e) if crate::db::is_unavailable(e)), "{read:?}");
        writer.execute_batch("ROLLBACK").expect("unlock");
        let after: Vec<(i64,)> = reads
            .with_connection(|c| sqlite_rows(c, "SELECT items FROM carts WHERE id = $1", &[Param::Text("a")]))
            .expect("read");
        assert_eq!(after, vec![(1,)]);
    }
}
