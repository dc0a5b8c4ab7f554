//! Counting failures to slow down guessing: coupon codes, staff passwords. After `limit`
//! failures within `window_secs` for any of the keys (a session, an address, an account),
//! further attempts are refused until the oldest failure that counts ages out. Failures are
//! rows in the shop's database, so every instance counts the same ones.

use crate::{db::Db, error::Result};

#[derive(Clone, Copy, Debug)]
pub struct FailureLimit {
    /// The table the failures are kept in (a constant of the shop's, never input).
    pub table: &'static str,
    pub limit: i64,
    pub window_secs: i64,
}

/// Coupon codes: 10 failed codes in 10 minutes.
pub const COUPON_CODES: FailureLimit = FailureLimit { table: "coupon_failures", limit: 10, window_secs: 600 };
/// Staff sign-in: 10 failures in 15 minutes (slowed down from the third).
pub const STAFF_SIGN_IN: FailureLimit = FailureLimit { table: "login_failures", limit: 10, window_secs: 900 };

impl FailureLimit {
    /// How many failures each key has within the window, the largest.
    pub async fn failures(&self, db: &Db, keys: &[String], now: i64) -> Result<i64> {
        let sql = format!("SELECT COUNT(*) FROM {} WHERE limiter_key = $1 AND failed_at > $2", self.table);
        let mut most = 0;
        for key in keys {
            let (count,): (i64,) = sqlx::query_as(&sql).bind(key).bind(now - self.window_secs).fetch_one(&db.pool).await?;
            most = most.max(count);
        }
        Ok(most)
    }

    /// When any of the keys is over the limit: the seconds until it may try again.
    pub async fn retry_after(&self, db: &Db, keys: &[String], now: i64) -> Result<Option<i64>> {
        let count_sql = format!("SELECT COUNT(*) FROM {} WHERE limiter_key = $1 AND failed_at > $2", self.table);
        let nth_sql = format!(
            "SELECT failed_at FROM {} WHERE limiter_key = $1 AND failed_at > $2 ORDER BY failed_at LIMIT 1 OFFSET $3",
            self.table
        );
        let mut wait = None;
        for key in keys {
            let (count,): (i64,) =
                sqlx::query_as(&count_sql).bind(key).bind(now - self.window_secs).fetch_one(&db.pool).await?;
            if count < self.limit {
                continue;
            }
            // Allowed again once all but `limit - 1` of the failures in the window have aged out.
            let (oldest_that_matters,): (i64,) = sqlx::query_as(&nth_sql)
                .bind(key)
                .bind(now - self.window_secs)
                .bind(count - self.limit)
                .fetch_one(&db.pool)
                .await?;
            let seconds = (oldest_that_matters + self.window_secs - now).max(1);
            wait = Some(wait.map_or(seconds, |w: i64| w.max(seconds)));
        }
        Ok(wait)
    }

    pub async fn record_failure(&self, db: &Db, keys: &[String], now: i64) -> Result<()> {
        let sql = format!("INSERT INTO {} (limiter_key, failed_at) VALUES ($1, $2)", self.table);
        for key in keys {
            sqlx::query(&sql).bind(key).bind(now).execute(&db.pool).await?;
        }
        Ok(())
    }

    /// Forgets a key's failures (after a successful sign-in).
    pub async fn forget(&self, db: &Db, key: &str) -> Result<()> {
        let sql = format!("DELETE FROM {} WHERE limiter_key = $1", self.table);
        sqlx::query(&sql).bind(key).execute(&db.pool).await?;
        Ok(())
    }

    /// Deletes failures that can no longer count.
    pub async fn purge(&self, db: &Db, now: i64) -> Result<u64> {
        let sql = format!("DELETE FROM {} WHERE failed_at <= $1", self.table);
        Ok(sqlx::query(&sql).bind(now - self.window_secs).execute(&db.pool).await?.rows_affected())
    }
}

/// A sentence for "wait this long".
pub fn describe_wait(seconds: i64) -> String {
    if seconds < 90 {
        format!("{seconds} seconds")
    } else {
        format!("{} minutes", (seconds + 59) / 60)
    }
}
