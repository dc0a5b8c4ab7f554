//! Gift subscriptions: a plan bought for someone else. The buyer names the recipient (and, for
//! print, where to mail it), picks the first issue (the next, or one up to 12 months ahead) and
//! when the recipient is told: at once, on a chosen day (a scheduled email sent once, by the
//! outbox), or never (the buyer prints a gift card instead). The subscription belongs to the
//! recipient; "new subscribers only" is judged by them; the buyer is reminded when it ends.

mod card;
mod notice;

use serde::{Deserialize, Serialize};

use crate::{
    address::{Address, AddressForm},
    catalog::{Edition, Frequency},
    clock,
    db::Param,
    email::EmailAddress,
    error::FieldError,
    terms,
};

pub use card::gift_card_pdf;
pub use notice::{gift_notice, GiftWords, NOTICE_KIND_PREFIX};

/// How far ahead a gift may start, or its recipient be told: 12 months.
pub const MONTHS_AHEAD: i64 = 12;
pub const MAX_MESSAGE_CHARS: usize = 500;

/// When the recipient hears of the gift.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", content = "on", rename_all = "lowercase")]
pub enum Notify {
    /// As soon as the order is paid.
    Now,
    /// On this day (midnight UTC, Unix seconds).
    Date(i64),
    /// Never by us: the buyer hands over a printed gift card.
    Never,
}

impl Notify {
    pub fn from_columns(kind: &str, on: Option<i64>) -> Notify {
        match (kind, on) {
            ("date", Some(day)) => Notify::Date(day),
            ("never", _) => Notify::Never,
            _ => Notify::Now,
        }
    }

    pub fn kind(self) -> &'static str {
        match self {
            Notify::Now => "now",
            Notify::Date(_) => "date",
            Notify::Never => "never",
        }
    }

    pub fn day(self) -> Option<i64> {
        match self {
            Notify::Date(day) => Some(day),
            _ => None,
        }
    }
}

/// A gift's details, checked: valid once built.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Gift {
    pub recipient_name: String,
    /// Required for digital (the PDFs are read by signing in with it); optional for print.
    pub recipient_email: Option<String>,
    /// Print only: where copies are mailed.
    pub address: Option<Address>,
    pub message: Option<String>,
    /// The first issue chosen; `None`: the next one.
    pub first_period: Option<i64>,
    pub notify: Notify,
    /// Also remind the recipient (not only the buyer) before the gift ends.
    pub remind_recipient: bool,
}

impl Gift {
    /// The recipient's normalised email: whose new subscription this is.
    pub fn beneficiary(&self) -> Option<String> {
        self.recipient_email.as_deref().map(EmailAddress::normalize)
    }

    /// "Gift for Bo Reader, from the March 2027 issue; we email Bo on 5 January 2027".
    pub fn describe(&self) -> String {
        let start = match self.first_period {
            Some(period) => format!("from the {} issue", terms::describe(period)),
            None => "from the next issue".to_string(),
        };
        let told = match (self.notify, &self.recipient_email) {
            (Notify::Now, Some(_)) => "we email them when you have paid".to_string(),
            (Notify::Date(day), Some(_)) => format!("we email them on {}", clock::long_date(day)),
            (Notify::Never, _) | (_, None) => "you give them the gift card".to_string(),
        };
        format!("Gift for {}, {start}; {told}", self.recipient_name)
    }
}

/// A gift's columns, as `cart_gifts` and `order_gifts` both keep them (in this order: see `bind`).
#[derive(sqlx::FromRow)]
pub struct GiftColumns {
    recipient_name: String,
    recipient_email: Option<String>,
    ship_line1: Option<String>,
    ship_line2: Option<String>,
    ship_city: Option<String>,
    ship_region: Option<String>,
    ship_postal_code: Option<String>,
    ship_country: Option<String>,
    message: Option<String>,
    first_period: Option<i64>,
    notify: String,
    notify_on: Option<i64>,
    remind_recipient: i64,
}

crate::db::in_place::read_row_struct!(GiftColumns {
    recipient_name,
    recipient_email,
    ship_line1,
    ship_line2,
    ship_city,
    ship_region,
    ship_postal_code,
    ship_country,
    message,
    first_period,
    notify,
    notify_on,
    remind_recipient,
});

/// The column list `GiftColumns` reads.
pub const GIFT_COLUMNS: &str = "recipient_name, recipient_email, ship_line1, ship_line2, ship_city, ship_region, \
     ship_postal_code, ship_country, message, first_period, notify, notify_on, remind_recipient";

impl GiftColumns {
    pub fn into_gift(self) -> Gift {
        Gift {
            recipient_name: self.recipient_name,
            recipient_email: self.recipient_email,
            address: Address::from_columns(
                self.ship_line1.as_deref(),
                self.ship_line2.as_deref(),
                self.ship_city.as_deref(),
                self.ship_region.as_deref(),
                self.ship_postal_code.as_deref(),
                self.ship_country.as_deref(),
            ),
            message: self.message,
            first_period: self.first_period,
            notify: Notify::from_columns(&self.notify, self.notify_on),
            remind_recipient: self.remind_recipient != 0,
        }
    }
}

/// A gift's columns in `GIFT_COLUMNS` order (13 parameters).
pub fn params(gift: &Gift) -> Vec<Param<'_>> {
    let mut params = vec![Param::Text(&gift.recipient_name), Param::text_or_null(gift.recipient_email.as_deref())];
    params.extend(crate::address::params(gift.address.as_ref()));
    params.extend([
        Param::text_or_null(gift.message.as_deref()),
        Param::int_or_null(gift.first_period),
        Param::Text(gift.notify.kind()),
        Param::int_or_null(gift.notify.day()),
        Param::Int(gift.remind_recipient as i64),
    ]);
    params
}

/// Binds `params(gift)` to a sqlx statement.
pub fn bind<'q>(
    query: sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments<'q>>,
    gift: &'q Gift,
) -> sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments<'q>> {
    crate::db::bind_all(query, &params(gift))
}

/// The first issues a gift of this edition may start with, bought at `now`: the next one (as
/// settlement would give a new subscriber) and those after it up to 12 months ahead.
pub fn start_choices(frequency: Frequency, next_issue: i64, now: i64) -> Vec<(i64, String)> {
    let step = 12 / frequency.issues_per_year();
    let limit = terms::period_at(now) + MONTHS_AHEAD;
    (0..)
        .map(|n| next_issue + n * step)
        .take_while(|&period| period <= limit || period == next_issue)
        .map(|period| (period, terms::describe(period)))
        .collect()
}

/// A gift as the form sends it, unchecked.
#[derive(Clone, Debug, Default, Deserialize, Serialize)]
pub struct GiftInput {
    #[serde(default)]
    pub recipient_name: String,
    #[serde(default)]
    pub recipient_email: String,
    #[serde(flatten)]
    pub address: AddressForm,
    #[serde(default)]
    pub message: String,
    /// "next", or a period as yyyy-mm.
    #[serde(default)]
    pub first_issue: String,
    /// "now", "date" or "never".
    #[serde(default)]
    pub notify: String,
    /// yyyy-mm-dd, for "date".
    #[serde(default)]
    pub notify_on: String,
    #[serde(default)]
    pub remind_recipient: Option<String>,
}

impl GiftInput {
    /// The form as a gift fills it (to edit it).
    pub fn of(gift: &Gift) -> GiftInput {
        let address = gift.address.as_ref();
        GiftInput {
            recipient_name: gift.recipient_name.clone(),
            recipient_email: gift.recipient_email.clone().unwrap_or_default(),
            address: AddressForm {
                line1: address.map(|a| a.line1.clone()).unwrap_or_default(),
                line2: address.and_then(|a| a.line2.clone()).unwrap_or_default(),
                city: address.map(|a| a.city.clone()).unwrap_or_default(),
                region: address.and_then(|a| a.region.clone()).unwrap_or_default(),
                postal_code: address.map(|a| a.postal_code.clone()).unwrap_or_default(),
                country: address.map(|a| a.country.clone()).unwrap_or_default(),
            },
            message: gift.message.clone().unwrap_or_default(),
            first_issue: gift.first_period.map_or("next".into(), |p| {
                let (year, month) = terms::year_month(p);
                format!("{year:04}-{month:02}")
            }),
            notify: gift.notify.kind().into(),
            notify_on: gift.notify.day().map(clock::day).unwrap_or_default(),
            remind_recipient: gift.remind_recipient.then(|| "on".into()),
        }
    }

    /// The gift these fields describe for a plan of `edition` whose next issue is `choices[0]`,
    /// or each mistake beside its field.
    pub fn check(&self, edition: Edition, choices: &[(i64, String)], now: i64) -> Result<Gift, Vec<FieldError>> {
        let mut problems = Vec::new();
        let mut problem = |field, code, message: &str| problems.push(FieldError::with_code(field, code, message));
        let recipient_name = crate::address::clean(&self.recipient_name);
        if recipient_name.is_empty() || recipient_name.chars().count() > 200 {
            problem("recipient_name", "gift_recipient_name", "Enter the name of the person you are giving it to.");
        }
        let email = self.recipient_email.trim();
        let recipient_email = match (email.is_empty(), edition) {
            (true, Edition::Digital) => {
                problem(
                    "recipient_email",
                    "gift_recipient_email_required",
                    "A digital gift is read by signing in with an email address: enter the recipient's.",
                );
                None
            }
            (true, Edition::Print) => None,
            (false, _) => match EmailAddress::parse(email) {
                Ok(address) => Some(address.as_str().to_string()),
                Err(error) => {
                    problem("recipient_email", error.code(), &error.public_message());
                    None
                }
            },
        };
        let address = match edition {
            Edition::Digital => None,
            Edition::Print if !self.address.is_given() => {
                problem(
                    "shipping_address",
                    "gift_address_required",
                    "A print gift needs the recipient's mailing address.",
                );
                None
            }
            Edition::Print => match Address::parse(&self.address.input()) {
                Ok(address) => Some(address),
                Err(address_problems) => {
                    problems.extend(address_problems);
                    None
                }
            },
        };
        let message = self.message.trim().replace("\r\n", "\n");
        if message.chars().count() > MAX_MESSAGE_CHARS {
            problems.push(FieldError::with_code(
                "message",
                "gift_message_too_long",
                format!("Keep the message under {MAX_MESSAGE_CHARS} characters."),
            ));
        }
        let first_period = match self.first_issue.trim() {
            "" | "next" => None,
            text => match terms::parse_month(text) {
                Some(period) if choices.iter().any(|(p, _)| *p == period) => {
                    Some(period).filter(|p| Some(p) != choices.first().map(|(first, _)| first))
                }
                Some(period) if choices.first().is_some_and(|(first, _)| period < *first) => {
                    problems.push(FieldError::with_code(
                        "first_issue",
                        "gift_start_in_the_past",
                        "That issue is already out: choose the next issue or a later one.",
                    ));
                    None
                }
                _ => {
                    problems.push(FieldError::with_code(
                        "first_issue",
                        "gift_start_not_offered",
                        "Choose one of the issues offered, up to 12 months ahead.",
                    ));
                    None
                }
            },
        };
        let today = clock::day_start(&clock::day(now)).unwrap_or(now);
        let notify = match self.notify.trim() {
            "" | "now" => Notify::Now,
            "never" => Notify::Never,
            "date" => match clock::day_start(self.notify_on.trim()) {
                Some(day) if day < today => {
                    problems.push(FieldError::with_code(
                        "notify_on",
                        "gift_notice_in_the_past",
                        "That day has passed: choose today or a later day.",
                    ));
                    Notify::Now
                }
                Some(day) if day > today + MONTHS_AHEAD * 31 * 86_400 => {
                    problems.push(FieldError::with_code(
                        "notify_on",
                        "gift_notice_too_far",
                        "Choose a day within the next 12 months.",
                    ));
                    Notify::Now
                }
                Some(day) => Notify::Date(day),
                None => {
                    problems.push(FieldError::with_code(
                        "notify_on",
                        "gift_notice_date",
                        "Give the day as yyyy-mm-dd, such as 2027-01-05.",
                    ));
                    Notify::Now
                }
            },
            _ => {
                problems.push(FieldError::with_code("notify", "gift_notify", "Choose when we tell the recipient."));
                Notify::Now
            }
        };
        if recipient_email.is_none() && notify != Notify::Never && problems.is_empty() {
            problems.push(FieldError::with_code(
                "notify",
                "gift_notice_needs_email",
                "Without the recipient's email we cannot tell them: give it, or choose the printable gift card.",
            ));
        }
        if !problems.is_empty() {
            return Err(problems);
        }
        Ok(Gift {
            recipient_name,
            recipient_email,
            address,
            message: Some(message).filter(|m| !m.is_empty()),
            first_period,
            notify,
            remind_recipient: self.remind_recipient.is_some(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: i64 = 1_796_083_200; // 1 December 2026

    fn input(fields: &[(&str, &str)]) -> GiftInput {
        let mut value = serde_json::json!({
            "recipient_name": "Bo Reader", "recipient_email": "bo@example.org", "line1": "1 Main St",
            "city": "Chicago", "postal_code": "60601", "country": "US", "notify": "now", "first_issue": "next"
        });
        for (k, v) in fields {
            value[*k] = serde_json::json!(v);
        }
        serde_json::from_value(value).expect("a gift form")
    }

    fn codes(result: Result<Gift, Vec<FieldError>>) -> Vec<&'static str> {
        result.err().map(|p| p.iter().map(|f| f.code).collect()).unwrap_or_default()
    }

    #[test]
    fn a_gift_is_checked_field_by_field() {
        let choices = start_choices(Frequency::Monthly, terms::period(2026, 12), NOW);
        assert_eq!(choices.len(), 13, "December 2026 to December 2027");
        let gift = input(&[("first_issue", "2027-03")]).check(Edition::Print, &choices, NOW).expect("a gift");
        assert_eq!(gift.first_period, Some(terms::period(2027, 3)));
        assert!(gift.address.is_some());
        assert_eq!(input(&[]).check(Edition::Print, &choices, NOW).expect("a gift").first_period, None);
        assert_eq!(
            codes(input(&[("recipient_name", "  ")]).check(Edition::Print, &choices, NOW)),
            ["gift_recipient_name"]
        );
        assert_eq!(
            codes(input(&[("line1", ""), ("city", ""), ("postal_code", ""), ("country", "")]).check(
                Edition::Print,
                &choices,
                NOW
            )),
            ["gift_address_required"]
        );
        assert_eq!(
            codes(input(&[("recipient_email", "")]).check(Edition::Digital, &choices, NOW)),
            ["gift_recipient_email_required"]
        );
        assert_eq!(
            codes(input(&[("first_issue", "2026-11")]).check(Edition::Print, &choices, NOW)),
            ["gift_start_in_the_past"]
        );
        assert_eq!(
            codes(input(&[("first_issue", "2028-01")]).check(Edition::Print, &choices, NOW)),
            ["gift_start_not_offered"]
        );
        assert_eq!(
            codes(input(&[("first_issue", "2027-13")]).check(Edition::Print, &choices, NOW)),
            ["gift_start_not_offered"]
        );
        assert_eq!(
            codes(input(&[("notify", "date"), ("notify_on", "2026-11-30")]).check(Edition::Print, &choices, NOW)),
            ["gift_notice_in_the_past"]
        );
        assert_eq!(
            codes(input(&[("notify", "date"), ("notify_on", "2028-06-01")]).check(Edition::Print, &choices, NOW)),
            ["gift_notice_too_far"]
        );
        let dated = input(&[("notify", "date"), ("notify_on", "2027-01-05")]).check(Edition::Print, &choices, NOW);
        assert!(matches!(dated.map(|g| g.notify), Ok(Notify::Date(_))));
        // A print gift without an email is told by the card only.
        assert_eq!(
            codes(input(&[("recipient_email", "")]).check(Edition::Print, &choices, NOW)),
            ["gift_notice_needs_email"]
        );
        let card = input(&[("recipient_email", ""), ("notify", "never")]).check(Edition::Print, &choices, NOW);
        assert_eq!(card.map(|g| g.beneficiary()), Ok(None));
        let long = "x".repeat(MAX_MESSAGE_CHARS + 1);
        assert_eq!(codes(input(&[("message", &long)]).check(Edition::Print, &choices, NOW)), ["gift_message_too_long"]);
    }

    #[test]
    fn a_quarterly_gift_starts_on_its_issues() {
        let choices = start_choices(Frequency::Quarterly, terms::period(2026, 12), NOW);
        let months: Vec<&str> = choices.iter().map(|(_, label)| label.as_str()).collect();
        assert_eq!(months, ["December 2026", "March 2027", "June 2027", "September 2027", "December 2027"]);
    }
}
