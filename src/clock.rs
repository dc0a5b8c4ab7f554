//! The shop's clock: Unix seconds, the unit every stored time uses.

pub fn now() -> i64 {
    time::OffsetDateTime::now_utc().unix_timestamp()
}
