//! Subscription terms as ranges of issue periods.
//!
//! A period is `year * 12 + month - 1`, one per calendar month, so a monthly
//! publication has an issue every period and a quarterly one every third. The rule
//! (and why): a term starts with the next issue published after the payment, which is
//! the later of (a) the issue after the newest one already published and (b) the
//! issue of the payment's own month or, for a quarterly, the next quarter's; a reader
//! whose subscription to the same edition has not ended starts after it instead. The
//! term then runs for `issues a year × years` issues.

use crate::catalog::Frequency;

pub fn period(year: i64, month: i64) -> i64 {
    year * 12 + month - 1
}

pub fn year_month(period: i64) -> (i64, i64) {
    (period.div_euclid(12), period.rem_euclid(12) + 1)
}

fn step(frequency: Frequency) -> i64 {
    12 / frequency.issues_per_year()
}

/// The first issue of a new term.
///
/// `latest_published`: the newest issue published at payment time; `payment_period`: the
/// month of the payment; `current_last`: the last issue of the reader's running subscription to
/// the same publication and edition, if any.
pub fn first_issue(
    frequency: Frequency,
    latest_published: Option<i64>,
    payment_period: i64,
    current_last: Option<i64>,
) -> i64 {
    let step = step(frequency);
    // Quarterly issues fall in the months of the newest issue's cycle (March, June, September,
    // December when there is none yet).
    let anchor = latest_published.unwrap_or(period(2000, 3));
    let aligned_from = |p: i64| p + (anchor - p).rem_euclid(step);
    let after_latest = latest_published.map(|p| p + step);
    let this_cycle = aligned_from(payment_period);
    let mut first = after_latest.map_or(this_cycle, |a| a.max(this_cycle));
    if let Some(last) = current_last {
        first = first.max(last + step);
    }
    first
}

/// The period of a moment (Unix seconds, UTC): the month it falls in.
pub fn period_at(unix_seconds: i64) -> i64 {
    // Unix seconds from the clock or the database are always within `time`'s range; a value out
    // of it would be a bug, and the epoch's month is as good an answer as any.
    let date = time::OffsetDateTime::from_unix_timestamp(unix_seconds).unwrap_or(time::OffsetDateTime::UNIX_EPOCH);
    period(date.year() as i64, date.month() as i64)
}

/// The first moment of a period (midnight UTC on the 1st of its month), in Unix seconds: the date an
/// issue is due.
pub fn first_day(period: i64) -> i64 {
    let (year, month) = year_month(period);
    let date = u8::try_from(month)
        .ok()
        .and_then(|m| time::Month::try_from(m).ok())
        .and_then(|m| time::Date::from_calendar_date(i32::try_from(year).ok()?, m, 1).ok());
    date.map_or(0, |d| d.midnight().assume_utc().unix_timestamp())
}

/// The last issue of a term that starts at `first` and lasts `years`.
pub fn last_issue(frequency: Frequency, first: i64, years: i64) -> i64 {
    first + (frequency.issues_per_year() * years - 1) * step(frequency)
}

/// A month written yyyy-mm ("2017-03") as a period.
pub fn parse_month(text: &str) -> Option<i64> {
    let text = text.trim();
    let (year, month) = text.split_once('-')?;
    let (year, month): (i64, i64) = (year.parse().ok()?, month.parse().ok()?);
    ((1900..=2200).contains(&year) && (1..=12).contains(&month) && text.len() == 7).then(|| period(year, month))
}

/// "December 2016".
pub fn describe(period: i64) -> String {
    let (year, month) = year_month(period);
    format!("{} {year}", crate::catalog::month_name(month))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::Frequency::{Monthly, Quarterly};

    #[test]
    fn periods_round_trip() {
        assert_eq!(year_month(period(2017, 1)), (2017, 1));
        assert_eq!(year_month(period(2016, 12)), (2016, 12));
        assert_eq!(describe(period(2026, 11)), "November 2026");
    }

    #[test]
    fn a_monthly_term_starts_with_the_next_issue_and_lasts_twelve_a_year() {
        // November's issue is out; paid in November: December to November.
        let first = first_issue(Monthly, Some(period(2026, 11)), period(2026, 11), None);
        assert_eq!(first, period(2026, 12));
        assert_eq!(last_issue(Monthly, first, 1), period(2027, 11));
        assert_eq!(last_issue(Monthly, first, 4), period(2030, 11));
        // November's issue is not out yet: it is the next one.
        assert_eq!(first_issue(Monthly, Some(period(2026, 10)), period(2026, 11), None), period(2026, 11));
        // A stale archive does not send a reader back in time.
        assert_eq!(first_issue(Monthly, Some(period(2017, 1)), period(2026, 11), None), period(2026, 11));
    }

    #[test]
    fn a_quarterly_term_has_four_issues_a_year_in_the_journals_months() {
        let first = first_issue(Quarterly, Some(period(2016, 12)), period(2017, 1), None);
        assert_eq!(first, period(2017, 3));
        assert_eq!(last_issue(Quarterly, first, 1), period(2017, 12));
        assert_eq!(last_issue(Quarterly, first, 2), period(2018, 12));
        assert_eq!(first_issue(Quarterly, Some(period(2016, 9)), period(2016, 11), None), period(2016, 12));
        assert_eq!(first_issue(Quarterly, None, period(2026, 4), None), period(2026, 6));
    }

    #[test]
    fn a_renewal_starts_after_the_running_term() {
        let first = first_issue(Monthly, Some(period(2026, 11)), period(2026, 11), Some(period(2027, 5)));
        assert_eq!(first, period(2027, 6));
        let first = first_issue(Quarterly, Some(period(2016, 12)), period(2017, 1), Some(period(2017, 12)));
        assert_eq!(first, period(2018, 3));
    }
}
