//! The shop's clock: Unix seconds, the unit every stored time uses.

pub fn now() -> i64 {
    time::OffsetDateTime::now_utc().unix_timestamp()
}

/// A moment's day as readers are told it: "30 November 2026" (UTC).
pub fn long_date(unix: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp(unix)
        .map(|t| format!("{} {} {}", t.day(), crate::catalog::month_name(t.month() as i64), t.year()))
        .unwrap_or_default()
}

/// A day typed as yyyy-mm-dd (as a date field sends it): its first moment, UTC.
pub fn day_start(text: &str) -> Option<i64> {
    let format = time::macros::format_description!("[year]-[month]-[day]");
    time::Date::parse(text.trim(), &format).ok().map(|d| d.midnight().assume_utc().unix_timestamp())
}

/// The day of a moment as yyyy-mm-dd (UTC).
pub fn day(unix: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp(unix)
        .map(|d| format!("{:04}-{:02}-{:02}", d.year(), d.month() as u8, d.day()))
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    #[test]
    fn days_are_written_yyyy_mm_dd() {
        assert_eq!(super::day_start("1970-01-02"), Some(86_400));
        assert_eq!(super::day(86_400), "1970-01-02");
        for bad in ["2027-02-30", "31/01/2027", "", "tomorrow"] {
            assert_eq!(super::day_start(bad), None, "{bad}");
        }
    }
}
