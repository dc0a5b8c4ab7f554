//! Coupons: what a code takes off and when it may be used. The rules here are pure;
//! the SQL is in `store.rs`; guessing is limited by `crate::attempts`.

mod new_coupon;
mod seed;
mod store;

use rust_decimal::Decimal;
use serde::Serialize;

use crate::{catalog::rates::Rate, money::Money};

pub use new_coupon::NewCoupon;
pub use seed::seed_demo_coupons;
pub use store::*;

/// A code as readers type it, reduced to what identifies it: upper case, without
/// spaces or hyphens, so `FTR 2016`, `ftr2016` and ` Ftr-2016 ` are one code.
pub fn normalize_code(text: &str) -> String {
    text.chars().filter(|c| !c.is_whitespace() && *c != '-').flat_map(char::to_uppercase).collect()
}

/// A code as a reader typed it, normalised once: what the shop looks coupons up by.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CouponCode {
    /// As typed, trimmed and cut to 40 characters, for messages.
    typed: String,
    normalized: String,
}

impl CouponCode {
    /// `None` when nothing but spaces and hyphens was typed.
    pub fn parse(text: &str) -> Option<CouponCode> {
        let normalized = normalize_code(text);
        (!normalized.is_empty()).then(|| CouponCode { typed: text.trim().chars().take(40).collect(), normalized })
    }

    pub fn typed(&self) -> &str {
        &self.typed
    }

    pub fn normalized(&self) -> &str {
        &self.normalized
    }
}

/// A percentage off, from 0.01% to 100%, kept in hundredths of a percent: valid once built.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Percent(i64);

/// Why a typed percentage is refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PercentProblem {
    /// Not a number with at most two decimals.
    Unreadable,
    /// Zero, negative, or more than 100.
    OutOfRange,
}

impl PercentProblem {
    pub fn message(self) -> &'static str {
        match self {
            PercentProblem::Unreadable => "Type a percentage such as 50 or 33.33 (at most two decimals).",
            PercentProblem::OutOfRange => "A percentage must be more than 0 and at most 100.",
        }
    }
}

impl Percent {
    /// From hundredths of a percent (5000 is 50%), when in range.
    pub fn from_basis_points(bp: i64) -> Option<Percent> {
        (1..=10_000).contains(&bp).then_some(Percent(bp))
    }

    /// A percentage as staff type it: "50", "33.33".
    pub fn parse(text: &str) -> Result<Percent, PercentProblem> {
        let percent: Decimal = text.trim().parse().map_err(|_| PercentProblem::Unreadable)?;
        if percent.normalize().scale() > 2 {
            return Err(PercentProblem::Unreadable);
        }
        if percent <= Decimal::ZERO || percent > Decimal::from(100) {
            return Err(PercentProblem::OutOfRange);
        }
        // In range, so at most 10,000 hundredths: nothing can overflow.
        let bp = rust_decimal::prelude::ToPrimitive::to_i64(&(percent * Decimal::from(100))).unwrap_or(0);
        Percent::from_basis_points(bp).ok_or(PercentProblem::OutOfRange)
    }

    pub const HUNDRED: Percent = Percent(10_000);

    pub fn basis_points(self) -> i64 {
        self.0
    }

    /// "50", "33.33": as staff would type it.
    pub fn as_decimal(self) -> Decimal {
        Decimal::new(self.0, 2).normalize()
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CouponValue {
    Percent(Percent),
    /// An amount off the eligible lines' sum.
    Fixed(Money),
}

impl CouponValue {
    /// "50%", "33.33%", "$5.00".
    pub fn describe(&self) -> String {
        match self {
            CouponValue::Percent(percent) => format!("{}%", percent.as_decimal()),
            CouponValue::Fixed(amount) => amount.display(),
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AppliesTo {
    Everything,
    Subscriptions,
    SingleIssues,
    Publications(Vec<String>),
    Skus(Vec<String>),
}

impl AppliesTo {
    /// From its stored or submitted kind and targets (publication slugs or SKUs, for the two kinds
    /// that have them); `None` for a kind the shop does not know.
    pub fn from_kind(kind: &str, targets: Vec<String>) -> Option<AppliesTo> {
        match kind {
            "everything" => Some(AppliesTo::Everything),
            "subscriptions" => Some(AppliesTo::Subscriptions),
            "single_issues" => Some(AppliesTo::SingleIssues),
            "publications" => Some(AppliesTo::Publications(targets)),
            "skus" => Some(AppliesTo::Skus(targets)),
            _ => None,
        }
    }

    pub fn kind(&self) -> &'static str {
        match self {
            AppliesTo::Everything => "everything",
            AppliesTo::Subscriptions => "subscriptions",
            AppliesTo::SingleIssues => "single_issues",
            AppliesTo::Publications(_) => "publications",
            AppliesTo::Skus(_) => "skus",
        }
    }

    pub fn targets(&self) -> &[String] {
        match self {
            AppliesTo::Publications(targets) | AppliesTo::Skus(targets) => targets,
            _ => &[],
        }
    }

    pub fn describe(&self) -> String {
        match self {
            AppliesTo::Everything => "everything".into(),
            AppliesTo::Subscriptions => "subscriptions".into(),
            AppliesTo::SingleIssues => "single issues".into(),
            AppliesTo::Publications(slugs) => format!("these publications: {}", slugs.join(", ")),
            AppliesTo::Skus(skus) => format!("these products: {}", skus.join(", ")),
        }
    }
}

#[derive(Clone, Debug)]
pub struct Coupon {
    pub id: String,
    pub code: String,
    pub normalized_code: String,
    pub description: String,
    pub value: CouponValue,
    pub applies_to: AppliesTo,
    pub new_subscribers_only: bool,
    /// Orders it is used on pay no postage.
    pub covers_postage: bool,
    /// Also discounts lines at the reduced rate (by default only the standard rate).
    pub applies_to_reduced: bool,
    /// Also discounts lines at the sustainer rate.
    pub applies_to_sustainer: bool,
    /// Unix seconds.
    pub starts_at: Option<i64>,
    pub ends_at: Option<i64>,
    pub max_redemptions: Option<i64>,
    /// Reserved and final redemptions together, counted only while the coupon has a limit (the
    /// count the limit is checked against); a coupon without one keeps no count, so that checkouts
    /// with it never wait for each other. Its uses are its redemption rows (`store::uses_by_coupon`).
    pub redemptions_used: i64,
    pub per_customer_limit: Option<i64>,
    pub min_subtotal: Option<Money>,
    pub active: bool,
}

/// The facts about one cart line that decide whether a coupon applies to it.
#[derive(Clone, Copy, Debug)]
pub struct LineFacts<'a> {
    pub sku: &'a str,
    pub publication: &'a str,
    pub is_subscription: bool,
    /// A renewal of the reader's running term, which a new-subscribers-only coupon never covers.
    pub is_renewal: bool,
    /// The rate the line is at: coupons cover the standard rate unless they say otherwise.
    pub rate: crate::catalog::rates::Rate,
}

/// Why a coupon cannot be used on this cart now; each has its own code and a sentence for the reader.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CouponProblem {
    EmptyCode,
    Unknown(String),
    NotYetValid {
        code: String,
        starts_at: i64,
    },
    Expired {
        code: String,
        ends_at: i64,
    },
    UsedUp(String),
    Inactive(String),
    NotApplicable {
        code: String,
        applies_to: String,
    },
    /// A new-subscribers-only coupon on a cart whose only qualifying lines renew a running term.
    NotForRenewals(String),
    BelowMinimum {
        code: String,
        minimum: Money,
        subtotal: Money,
    },
}

impl CouponProblem {
    pub fn code(&self) -> &'static str {
        match self {
            CouponProblem::EmptyCode => "empty_coupon_code",
            CouponProblem::Unknown(_) => "unknown_coupon",
            CouponProblem::NotYetValid { .. } => "coupon_not_yet_valid",
            CouponProblem::Expired { .. } => "coupon_expired",
            CouponProblem::UsedUp(_) => "coupon_used_up",
            CouponProblem::Inactive(_) => "coupon_inactive",
            CouponProblem::NotApplicable { .. } => "coupon_not_applicable",
            CouponProblem::NotForRenewals(_) => "coupon_not_for_renewals",
            CouponProblem::BelowMinimum { .. } => "coupon_below_minimum",
        }
    }

    pub fn message(&self) -> String {
        match self {
            CouponProblem::EmptyCode => "Type a coupon code first.".into(),
            CouponProblem::Unknown(code) => {
                format!("We don't know the coupon code \"{code}\". Check the spelling and try again.")
            }
            CouponProblem::NotYetValid { code, starts_at } => {
                format!("The coupon {code} can be used from {}.", date(*starts_at))
            }
            CouponProblem::Expired { code, ends_at } => format!("The coupon {code} expired on {}.", date(*ends_at)),
            CouponProblem::UsedUp(code) => format!("The coupon {code} has been used as many times as it can be."),
            CouponProblem::Inactive(code) => format!("The coupon {code} is no longer active."),
            CouponProblem::NotApplicable { code, applies_to } => {
                format!("Nothing in your cart qualifies for the coupon {code}: it applies to {applies_to}.")
            }
            CouponProblem::NotForRenewals(code) => {
                format!("The coupon {code} is for new subscribers: it does not apply to a renewal.")
            }
            CouponProblem::BelowMinimum { code, minimum, subtotal } => {
                format!("The coupon {code} needs a subtotal of at least {minimum}; your cart comes to {subtotal}.")
            }
        }
    }
}

/// "January 5, 2017" (UTC).
fn date(unix: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp(unix)
        .map(|t| format!("{} {}, {}", t.month(), t.day(), t.year()))
        .unwrap_or_else(|_| "an unknown date".into())
}

impl Coupon {
    pub fn applies_to_line(&self, line: LineFacts<'_>) -> bool {
        if self.new_subscribers_only && line.is_renewal {
            return false;
        }
        let rate_covered = match line.rate {
            Rate::Standard => true,
            Rate::Reduced => self.applies_to_reduced,
            Rate::Sustainer => self.applies_to_sustainer,
        };
        if !rate_covered {
            return false;
        }
        match &self.applies_to {
            AppliesTo::Everything => true,
            AppliesTo::Subscriptions => line.is_subscription,
            AppliesTo::SingleIssues => !line.is_subscription,
            AppliesTo::Publications(slugs) => slugs.iter().any(|s| s == line.publication),
            AppliesTo::Skus(skus) => skus.iter().any(|s| s == line.sku),
        }
    }

    /// Whether the coupon may be used now on a cart with these lines and this subtotal.
    /// The checks that need the reader's email (new subscribers, per-customer limit) wait for checkout.
    pub fn check(&self, now: i64, lines: &[LineFacts<'_>], subtotal: Money) -> Result<(), CouponProblem> {
        let code = || self.code.clone();
        if !self.active {
            return Err(CouponProblem::Inactive(code()));
        }
        if let Some(starts_at) = self.starts_at.filter(|&t| now < t) {
            return Err(CouponProblem::NotYetValid { code: code(), starts_at });
        }
        if let Some(ends_at) = self.ends_at.filter(|&t| now >= t) {
            return Err(CouponProblem::Expired { code: code(), ends_at });
        }
        if self.max_redemptions.is_some_and(|max| self.redemptions_used >= max) {
            return Err(CouponProblem::UsedUp(code()));
        }
        if let CouponValue::Fixed(amount) = &self.value {
            if amount.currency != subtotal.currency {
                return Err(CouponProblem::NotApplicable { code: code(), applies_to: self.applies_to.describe() });
            }
        }
        if !lines.iter().any(|&line| self.applies_to_line(line)) {
            if lines
                .iter()
                .any(|&line| line.is_renewal && self.applies_to_line(LineFacts { is_renewal: false, ..line }))
            {
                return Err(CouponProblem::NotForRenewals(code()));
            }
            return Err(CouponProblem::NotApplicable { code: code(), applies_to: self.applies_to.describe() });
        }
        if let Some(minimum) = self.min_subtotal.filter(|m| subtotal.amount < m.amount) {
            return Err(CouponProblem::BelowMinimum { code: code(), minimum, subtotal });
        }
        Ok(())
    }

    /// What the reader is told while the coupon waits for checkout to know their email.
    pub fn checkout_note(&self) -> Option<String> {
        match (self.new_subscribers_only, self.per_customer_limit) {
            (true, _) => Some(format!(
                "{} is for new subscribers only: we'll confirm it at checkout, when we know your email.",
                self.code
            )),
            (false, Some(limit)) => Some(format!(
                "{} can be used {} per reader: we'll confirm it at checkout, when we know your email.",
                self.code,
                if limit == 1 { "once".to_string() } else { format!("{limit} times") }
            )),
            (false, None) => None,
        }
    }

    /// Where the coupon stands now, for the admin's list: active, scheduled, expired, used up or inactive.
    pub fn status(&self, now: i64) -> &'static str {
        if !self.active {
            "inactive"
        } else if self.ends_at.is_some_and(|t| now >= t) {
            "expired"
        } else if self.max_redemptions.is_some_and(|max| self.redemptions_used >= max) {
            "used_up"
        } else if self.starts_at.is_some_and(|t| now < t) {
            "scheduled"
        } else {
            "active"
        }
    }

    /// The coupon as the audit log records it.
    pub fn record(&self) -> serde_json::Value {
        serde_json::json!({
            "code": self.code, "description": self.description, "value": self.value.describe(),
            "applies_to": self.applies_to.kind(), "targets": self.applies_to.targets(),
            "new_subscribers_only": self.new_subscribers_only, "covers_postage": self.covers_postage,
            "applies_to_reduced": self.applies_to_reduced, "applies_to_sustainer": self.applies_to_sustainer, "starts_at": self.starts_at, "ends_at": self.ends_at,
            "max_redemptions": self.max_redemptions,
            "redemptions_used": self.max_redemptions.map(|_| self.redemptions_used),
            "per_customer_limit": self.per_customer_limit, "min_subtotal": self.min_subtotal.map(|m| m.amount),
            "active": self.active,
        })
    }

    /// What the reader sees: the code and the description.
    pub fn summary(&self) -> CouponSummary {
        CouponSummary { code: self.code.clone(), description: self.description.clone(), value: self.value.describe() }
    }
}

#[cfg(test)]
impl Coupon {
    /// A plain coupon for unit tests: no dates, limits or minimum.
    pub fn example(code: &str, value: CouponValue, applies_to: AppliesTo) -> Coupon {
        Coupon {
            id: code.to_lowercase(),
            code: code.into(),
            normalized_code: normalize_code(code),
            description: format!("{} off", value.describe()),
            value,
            applies_to,
            new_subscribers_only: false,
            covers_postage: false,
            applies_to_reduced: false,
            applies_to_sustainer: false,
            starts_at: None,
            ends_at: None,
            max_redemptions: None,
            redemptions_used: 0,
            per_customer_limit: None,
            min_subtotal: None,
            active: true,
        }
    }
}

#[derive(Clone, Debug, Serialize)]
pub struct CouponSummary {
    pub code: String,
    pub description: String,
    /// "50%" or "$5.00".
    pub value: String,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::money::Currency;

    fn usd(amount: i64) -> Money {
        Money::new(amount, Currency::Usd)
    }

    fn ftr() -> Coupon {
        Coupon {
            new_subscribers_only: true,
            covers_postage: false,
            applies_to_reduced: false,
            applies_to_sustainer: false,
            ..Coupon::example("FTR 2016", CouponValue::Percent(Percent(5000)), AppliesTo::Subscriptions)
        }
    }

    const PLAN: LineFacts<'static> = LineFacts {
        sku: "isr-print-1y",
        publication: "isr",
        is_subscription: true,
        is_renewal: false,
        rate: Rate::Standard,
    };
    const ISSUE: LineFacts<'static> = LineFacts {
        sku: "sw-2017-01",
        publication: "sw",
        is_subscription: false,
        is_renewal: false,
        rate: Rate::Standard,
    };

    #[test]
    fn codes_normalize_ignoring_case_spaces_and_hyphens() {
        for typed in ["FTR 2016", "ftr2016", " Ftr-2016 ", "f t r - 2 0 1 6", "FTR\t2016"] {
            assert_eq!(normalize_code(typed), "FTR2016", "{typed:?}");
        }
        assert_eq!(normalize_code("  "), "");
    }

    #[test]
    fn a_typed_percentage_is_in_range_or_says_why_not() {
        assert_eq!(Percent::parse(" 50 ").map(Percent::basis_points), Ok(5000));
        assert_eq!(Percent::parse("33.33").map(Percent::basis_points), Ok(3333));
        assert_eq!(Percent::parse("100").map(Percent::basis_points), Ok(10_000));
        assert_eq!(Percent::parse("0.01").map(Percent::basis_points), Ok(1));
        for unreadable in ["fifty", "", "33.333", "5%", "99999999999999999999999999999"] {
            assert_eq!(Percent::parse(unreadable), Err(PercentProblem::Unreadable), "{unreadable:?}");
        }
        for out_of_range in ["0", "-5", "100.01", "1e5", "1000000000000"] {
            assert_eq!(Percent::parse(out_of_range), Err(PercentProblem::OutOfRange), "{out_of_range:?}");
        }
        assert_eq!(Percent::from_basis_points(0), None);
    }

    #[test]
    fn percent_values_describe_themselves() {
        assert_eq!(CouponValue::Percent(Percent(5000)).describe(), "50%");
        assert_eq!(CouponValue::Percent(Percent(3333)).describe(), "33.33%");
        assert_eq!(CouponValue::Fixed(usd(500)).describe(), "$5.00");
    }

    #[test]
    fn each_problem_is_found_in_turn() {
        let now = 1_000_000;
        assert_eq!(ftr().check(now, &[PLAN], usd(2900)), Ok(()));
        assert_eq!(ftr().check(now, &[ISSUE], usd(250)).map_err(|p| p.code()), Err("coupon_not_applicable"));
        let mut c = ftr();
        c.active = false;
        assert_eq!(c.check(now, &[PLAN], usd(2900)).map_err(|p| p.code()), Err("coupon_inactive"));
        let mut c = ftr();
        c.starts_at = Some(now + 1);
        assert_eq!(c.check(now, &[PLAN], usd(2900)).map_err(|p| p.code()), Err("coupon_not_yet_valid"));
        let mut c = ftr();
        c.ends_at = Some(now);
        assert_eq!(c.check(now, &[PLAN], usd(2900)).map_err(|p| p.code()), Err("coupon_expired"));
        let mut c = ftr();
        c.max_redemptions = Some(3);
        c.redemptions_used = 3;
        assert_eq!(c.check(now, &[PLAN], usd(2900)).map_err(|p| p.code()), Err("coupon_used_up"));
        let mut c = ftr();
        c.min_subtotal = Some(usd(5000));
        assert_eq!(c.check(now, &[PLAN], usd(2900)).map_err(|p| p.code()), Err("coupon_below_minimum"));
        assert_eq!(c.check(now, &[PLAN], usd(5000)), Ok(()));
    }

    #[test]
    fn eligibility_follows_what_the_coupon_applies_to() {
        let mut c = ftr();
        c.applies_to = AppliesTo::Publications(vec!["sw".into()]);
        assert!(c.applies_to_line(ISSUE) && !c.applies_to_line(PLAN));
        c.applies_to = AppliesTo::Skus(vec!["isr-print-1y".into()]);
        assert!(!c.applies_to_line(ISSUE) && c.applies_to_line(PLAN));
        c.applies_to = AppliesTo::SingleIssues;
        assert!(c.applies_to_line(ISSUE) && !c.applies_to_line(PLAN));
        c.applies_to = AppliesTo::Everything;
        assert!(c.applies_to_line(ISSUE) && c.applies_to_line(PLAN));
    }
}
