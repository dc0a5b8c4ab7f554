//! Slows down coupon guessing: after `FAILURE_LIMIT` failed codes within `FAILURE_WINDOW_SECS`
//! from one session or one address, further attempts are refused until the oldest failure ages out.
//! Failures are rows in the shop's database, so every instance of the shop counts the same ones.

use crate::{db::Db, error::Result};

pub const FAILURE_LIMIT: i64 = 10;
pub const FAILURE_WINDOW_SECS: i64 = 600;

/// When any of the keys is over the limit: the seconds until it may try again.
pub async fn retry_after(db: &Db, keys: &[String], now: i64) -> Result<Option<i64>> {
    let mut wait = None;
    for key in keys {
        let (count,): (i64,) =
            sqlx::query_as("SELECT COUNT(*) FROM coupon_failures WHERE limiter_key = $1 AND failed_at > $2")
                .bind(key)
                .bind(now - FAILURE_WINDOW_SECS)
                .fetch_one(&db.pool)
                .await?;
        if count < FAILURE_LIMIT {
            continue;
        }
        // Allowed again once all but FAILURE_LIMIT - 1 of the failures in the window have aged out.
        let (oldest_that_matters,): (i64,) = sqlx::query_as(
            "SELECT failed_at FROM coupon_failures WHERE limiter_key = $1 AND failed_at > $2 \
             ORDER BY failed_at LIMIT 1 OFFSET $3",
        )
        .bind(key)
        .bind(now - FAILURE_WINDOW_SECS)
        .bind(count - FAILURE_LIMIT)
        .fetch_one(&db.pool)
        .await?;
        let seconds = (oldest_that_matters + FAILURE_WINDOW_SECS - now).max(1);
        wait = Some(wait.map_or(seconds, |w: i64| w.max(seconds)));
    }
    Ok(wait)
}

pub async fn record_failure(db: &Db, keys: &[String], now: i64) -> Result<()> {
    for key in keys {
        sqlx::query("INSERT INTO coupon_failures (limiter_key, failed_at) VALUES ($1, $2)")
            .bind(key)
            .bind(now)
            .execute(&db.pool)
            .await?;
    }
    Ok(())
}

/// Forgets failures that can no longer count.
pub async fn purge_old_failures(db: &Db, now: i64) -> Result<u64> {
    Ok(sqlx::query("DELETE FROM coupon_failures WHERE failed_at <= $1")
        .bind(now - FAILURE_WINDOW_SECS)
        .execute(&db.pool)
        .await?
        .rows_affected())
}
