//! Whether an instance can do its work, in words an operator can act on (`/readyz`), and the
//! numbers a monitoring system scrapes (`/metrics`, Prometheus' text format, through the
//! `metrics` crate's recorder).

use std::{sync::OnceLock, time::Duration};

use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};

use crate::{db::Db, error::Result, storage::MediaStore};

/// A due email older than this means the outbox is stuck (SMTP down, or no instance delivering).
pub const OUTBOX_STUCK_AFTER_SECS: i64 = 15 * 60;

/// One thing `/readyz` checks.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Check {
    pub name: &'static str,
    pub ok: bool,
    /// What is wrong (or "ok"), for the operator.
    pub detail: String,
}

/// The checks, and whether the instance should take traffic: the database and media storage
/// must work; a stuck outbox is reported but leaves the instance serving (it can still sell).
#[derive(Clone, Debug)]
pub struct Readiness {
    pub checks: Vec<Check>,
}

impl Readiness {
    pub fn ready(&self) -> bool {
        self.checks.iter().filter(|c| c.name != "outbox").all(|c| c.ok)
    }

    /// One line per check: "database: ok", "outbox: stuck: ...".
    pub fn report(&self) -> String {
        let mut text = String::from(if self.ready() { "ready\n" } else { "not ready\n" });
        for check in &self.checks {
            text.push_str(&format!("{}: {}\n", check.name, check.detail));
        }
        text
    }
}

pub async fn readiness(db: &Db, media: &MediaStore, timeout: Duration, now: i64) -> Readiness {
    let database_ok = db.is_writable(timeout).await;
    let database = Check {
        name: "database",
        ok: database_ok,
        detail: if database_ok { "ok".into() } else { "unreachable or not writable".into() },
    };
    let media = match media.probe(timeout).await {
        Ok(()) => Check { name: "media", ok: true, detail: "ok".into() },
        Err(e) => Check {
            name: "media",
            ok: false,
            detail: format!("cannot write to the media store ({}): {e:#}", media.location()),
        },
    };
    let outbox = match database_ok {
        false => Check { name: "outbox", ok: false, detail: "unknown (no database)".into() },
        true => match tokio::time::timeout(timeout, outbox_state(db, now)).await {
            Ok(Ok(state)) => state.check(now),
            Ok(Err(e)) => Check { name: "outbox", ok: false, detail: format!("unreadable: {e}") },
            Err(_) => Check { name: "outbox", ok: false, detail: "no answer in time".into() },
        },
    };
    Readiness { checks: vec![database, media, outbox] }
}

/// The outbox as an operator sees it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct OutboxState {
    /// Messages waiting to be sent whose time has come.
    pub due: i64,
    /// When the oldest of those came due.
    pub oldest_due_at: Option<i64>,
    /// Messages scheduled for later (a gift's notice on its day).
    pub scheduled: i64,
    /// Messages given up after every retry.
    pub failed: i64,
}

impl OutboxState {
    fn check(self, now: i64) -> Check {
        let waited = self.oldest_due_at.map_or(0, |at| now - at);
        if waited > OUTBOX_STUCK_AFTER_SECS {
            return Check {
                name: "outbox",
                ok: false,
                detail: format!(
                    "stuck: {} email(s) due, the oldest for {} minutes (is SMTP reachable?)",
                    self.due,
                    waited / 60
                ),
            };
        }
        let failed = match self.failed {
            0 => String::new(),
            n => format!(", {n} given up"),
        };
        Check {
            name: "outbox",
            ok: true,
            detail: format!("ok ({} due, {} scheduled{failed})", self.due, self.scheduled),
        }
    }
}

pub async fn outbox_state(db: &Db, now: i64) -> Result<OutboxState> {
    let (due, oldest_due_at, scheduled, failed): (i64, Option<i64>, i64, i64) = sqlx::query_as(
        "SELECT CAST(COALESCE(SUM(CASE WHEN status = 'pending' AND next_attempt_at <= $1 THEN 1 ELSE 0 END), 0) AS BIGINT), \
         MIN(CASE WHEN status = 'pending' AND next_attempt_at <= $1 THEN next_attempt_at END), \
         CAST(COALESCE(SUM(CASE WHEN status = 'pending' AND next_attempt_at > $1 THEN 1 ELSE 0 END), 0) AS BIGINT), \
         CAST(COALESCE(SUM(CASE WHEN status = 'failed' THEN 1 ELSE 0 END), 0) AS BIGINT) \
         FROM email_outbox WHERE status IN ('pending', 'failed')",
    )
    .bind(now)
    .fetch_one(&db.pool)
    .await?;
    Ok(OutboxState { due, oldest_due_at, scheduled, failed })
}

/// The process's metrics recorder (one per process, however many shops a test starts in it).
pub fn metrics_handle() -> &'static PrometheusHandle {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    HANDLE.get_or_init(|| {
        let builder = PrometheusBuilder::new()
            .set_buckets(&[0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0])
            .unwrap_or_else(|_| PrometheusBuilder::new());
        let handle = match builder.install_recorder() {
            Ok(handle) => handle,
            // Another recorder is installed already (a test harness's): render into one of our own.
            Err(_) => PrometheusBuilder::new().build_recorder().handle(),
        };
        // Histogram samples wait in a buffer until upkeep folds them into their buckets: without
        // it every request's latency stays in memory until the next scrape (or forever, with
        // metrics off). A thread of its own, as the handle outlives any one runtime.
        let upkeep = handle.clone();
        let _ = std::thread::Builder::new().name("metrics-upkeep".into()).spawn(move || loop {
            std::thread::sleep(METRICS_UPKEEP);
            upkeep.run_upkeep();
        });
        handle
    })
}

/// How often buffered histogram samples are folded into their buckets.
const METRICS_UPKEEP: Duration = Duration::from_secs(2);

/// Sets the gauges read from the database at scrape time: orders by status, the outbox, the
/// renewal reminders waiting to be sent, the connection pool.
pub async fn record_gauges(db: &Db, now: i64) -> Result<()> {
    let orders: Vec<(String, i64)> =
        sqlx::query_as("SELECT status, COUNT(*) FROM orders GROUP BY status").fetch_all(&db.pool).await?;
    for status in ["pending", "paid", "failed", "review", "refunded"] {
        let count = orders.iter().find(|(s, _)| s == status).map_or(0, |(_, n)| *n);
        metrics::gauge!("masthead_orders", "status" => status).set(count as f64);
    }
    let outbox = outbox_state(db, now).await?;
    metrics::gauge!("masthead_outbox_due").set(outbox.due as f64);
    metrics::gauge!("masthead_outbox_oldest_due_age_seconds")
        .set(outbox.oldest_due_at.map_or(0, |at| (now - at).max(0)) as f64);
    metrics::gauge!("masthead_outbox_scheduled").set(outbox.scheduled as f64);
    metrics::gauge!("masthead_outbox_failed").set(outbox.failed as f64);
    let (reminders,): (i64,) =
        sqlx::query_as("SELECT COUNT(*) FROM email_outbox WHERE status = 'pending' AND kind LIKE 'renewal_reminder%'")
            .fetch_one(&db.pool)
            .await?;
    metrics::gauge!("masthead_reminders_waiting").set(reminders as f64);
    metrics::gauge!("masthead_db_pool_connections").set(f64::from(db.pool.size()));
    metrics::gauge!("masthead_db_pool_idle").set(db.pool.num_idle() as f64);
    Ok(())
}
