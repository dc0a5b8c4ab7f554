//! Counting failures to slow down guessing: coupon codes, staff passwords. Each attempt first
//! takes a place in the count of every key it is made under (a cart, an address, an account) in
//! one atomic statement; past `limit` within the window the attempt is refused before anything is
//! checked, and an attempt that succeeds gives its place back. So N attempts at once, on any
//! number of instances, can never check more than `limit` guesses: the count and the record are
//! one upsert, never a read followed by a write.

use crate::{
    db::{Db, Param, PortableTx, Statements},
    error::{Error, Result},
};

#[derive(Clone, Copy, Debug)]
pub struct FailureLimit {
    /// The kind of limit, the first half of its rows' key.
    pub kind: &'static str,
    /// The error code of a refusal.
    pub refusal_code: &'static str,
    pub limit: i64,
    pub window_secs: i64,
}

/// Coupon codes: 10 failed codes in 10 minutes.
pub const COUPON_CODES: FailureLimit =
    FailureLimit { kind: "coupon_code", refusal_code: "too_many_coupon_attempts", limit: 10, window_secs: 600 };
/// Staff sign-in: 10 failures in 15 minutes (slowed down from the third).
pub const STAFF_SIGN_IN: FailureLimit =
    FailureLimit { kind: "staff_sign_in", refusal_code: "too_many_sign_in_attempts", limit: 10, window_secs: 900 };

/// An attempt allowed to go ahead: how many attempts (this one included) count against its
/// busiest key. Give it back with `FailureLimit::succeeded` when the guess was right.
/// A wrong attempt is simply dropped: its place in the count stays.
#[derive(Debug)]
pub struct Attempt {
    pub count: i64,
    keys: [String; 2],
}

impl FailureLimit {
    /// Counts this attempt against both its keys (who and from where) in one statement, so that
    /// attempts at once are counted one after another on every key alike; refuses it with 429
    /// (and `Retry-After`) when either key is past the limit. `refusal` words the message.
    pub async fn begin(&self, db: &Db, keys: &[String; 2], now: i64, refusal: &'static str) -> Result<Attempt> {
        // Every right-hand side reads the row as it was, on both databases: a window that has
        // ended starts again at one.
        let mut tx = db.begin_unflushed().await?;
        let counts: Vec<(i64, i64)> = tx
            .rows(
                "INSERT INTO attempt_counts (kind, limiter_key, window_start, failures) VALUES ($1, $2, $4, 1), ($1, $3, $4, 1) \
             ON CONFLICT (kind, limiter_key) DO UPDATE SET \
             failures = CASE WHEN attempt_counts.window_start <= $5 THEN 1 ELSE attempt_counts.failures + 1 END, \
             window_start = CASE WHEN attempt_counts.window_start <= $5 THEN $4 ELSE attempt_counts.window_start END \
             RETURNING failures, window_start",
                &[
                    Param::Text(self.kind),
                    Param::Text(&keys[0]),
                    Param::Text(&keys[1]),
                    Param::Int(now),
                    Param::Int(now - self.window_secs),
                ],
            )
            .await?;
        tx.commit().await?;
        let count = counts.iter().map(|(failures, _)| *failures).max().unwrap_or(0);
        let retry_after = counts
            .iter()
            .filter(|(failures, _)| *failures > self.limit)
            .map(|(_, window_start)| (window_start + self.window_secs - now).max(1))
            .max();
        if let Some(seconds) = retry_after {
            return Err(Error::TooManyRequests {
                code: self.refusal_code,
                message: format!("{refusal} Please wait {} before trying again.", describe_wait(seconds)),
                retry_after_secs: seconds as u64,
            });
        }
        Ok(Attempt { count, keys: keys.clone() })
    }

    /// The attempt was right: it stops counting against its keys, in the caller's transaction so
    /// that their own change commits with it.
    pub async fn succeeded(&self, tx: &mut PortableTx, attempt: Attempt) -> Result<()> {
        tx.execute(
            "UPDATE attempt_counts SET failures = failures - 1 \
             WHERE kind = $1 AND limiter_key IN ($2, $3) AND failures > 0",
            &[Param::Text(self.kind), Param::Text(&attempt.keys[0]), Param::Text(&attempt.keys[1])],
        )
        .await?;
        Ok(())
    }

    /// Forgets a key's failures (an account after a successful sign-in).
    pub async fn forget(&self, db: &Db, key: &str) -> Result<()> {
        sqlx::query("DELETE FROM attempt_counts WHERE kind = $1 AND limiter_key = $2")
            .bind(self.kind)
            .bind(key)
            .execute(db.unflushed_write().await?.pool())
            .await?;
        Ok(())
    }

    /// Deletes counts whose window has ended.
    pub async fn purge(&self, db: &Db, now: i64) -> Result<u64> {
        Ok(sqlx::query("DELETE FROM attempt_counts WHERE kind = $1 AND window_start <= $2")
            .bind(self.kind)
            .bind(now - self.window_secs)
            .execute(db.unflushed_write().await?.pool())
            .await?
            .rows_affected())
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
