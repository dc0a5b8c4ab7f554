//! A coupon as staff write it, before it is saved: every rule it must keep, each broken one named
//! by its field.

use super::{normalize_code, AppliesTo, Coupon, CouponValue};
use crate::{
    error::FieldError,
    money::{Currency, Money},
};

#[derive(Clone, Debug)]
pub struct NewCoupon {
    /// The currency of a fixed amount and of the minimum subtotal: the shop's.
    pub currency: Currency,
    pub code: String,
    pub description: String,
    pub value: CouponValue,
    pub applies_to: AppliesTo,
    pub new_subscribers_only: bool,
    /// Orders it is used on pay no postage.
    pub covers_postage: bool,
    /// Also discounts the reduced and the sustainer rate (by default the standard rate only).
    pub applies_to_reduced: bool,
    pub applies_to_sustainer: bool,
    pub starts_at: Option<i64>,
    pub ends_at: Option<i64>,
    pub max_redemptions: Option<i64>,
    pub per_customer_limit: Option<i64>,
    pub min_subtotal: Option<Money>,
    pub active: bool,
}

impl NewCoupon {
    /// The coupon as the audit log records it.
    pub fn record(&self) -> serde_json::Value {
        self.unsaved().record()
    }

    /// The coupon these fields describe, before it is saved (for the preview of prices).
    pub fn unsaved(&self) -> Coupon {
        Coupon {
            id: String::new(),
            code: self.code.trim().to_string(),
            normalized_code: normalize_code(&self.code),
            description: self.description.clone(),
            value: self.value.clone(),
            applies_to: self.applies_to.clone(),
            new_subscribers_only: self.new_subscribers_only,
            covers_postage: self.covers_postage,
            applies_to_reduced: self.applies_to_reduced,
            applies_to_sustainer: self.applies_to_sustainer,
            starts_at: self.starts_at,
            ends_at: self.ends_at,
            max_redemptions: self.max_redemptions,
            redemptions_used: 0,
            per_customer_limit: self.per_customer_limit,
            min_subtotal: self.min_subtotal,
            active: self.active,
        }
    }

    /// Every rule a coupon must keep, each broken one named by its field.
    pub fn problems(&self) -> Vec<FieldError> {
        let mut problems = Vec::new();
        let mut problem = |field, message: &str| problems.push(FieldError::new(field, message));
        let normalized = normalize_code(&self.code);
        if normalized.is_empty() {
            problem("code", "A coupon needs a code.");
        } else if normalized.len() > 40 || !normalized.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
            problem("code", "A code is up to 40 letters and digits (spaces and hyphens are ignored).");
        }
        if self.description.trim().is_empty() {
            problem("description", "Say what the coupon gives, for the readers who use it.");
        }
        match &self.value {
            CouponValue::Fixed(amount) if amount.amount <= 0 => {
                problem("amount_off", "A fixed discount must be more than zero.")
            }
            CouponValue::Fixed(amount) if amount.currency != self.currency => {
                problem("amount_off", "A fixed discount must be in the shop's currency.")
            }
            _ => {}
        }
        if matches!(self.applies_to, AppliesTo::Publications(_) | AppliesTo::Skus(_))
            && self.applies_to.targets().is_empty()
        {
            problem("targets", "Choose at least one publication or product the coupon applies to.");
        }
        if let (Some(start), Some(end)) = (self.starts_at, self.ends_at) {
            if end <= start {
                problem("ends_at", "The end must come after the start.");
            }
        }
        if self.max_redemptions.is_some_and(|n| n <= 0) {
            problem("max_redemptions", "A redemption limit must be at least 1.");
        }
        if self.per_customer_limit.is_some_and(|n| n <= 0) {
            problem("per_customer_limit", "A per-reader limit must be at least 1.");
        }
        if self.min_subtotal.is_some_and(|m| m.currency != self.currency) {
            problem("min_subtotal", "A minimum subtotal must be in the shop's currency.");
        }
        if self.min_subtotal.is_some_and(|m| m.amount <= 0) {
            problem("min_subtotal", "A minimum subtotal must be more than zero.");
        }
        problems
    }
}
