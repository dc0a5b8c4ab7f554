//! The cart: lines keyed by SKU and at most one coupon, kept in the shop's own tables
//! (the session holds only the cart's id), priced from the catalog every time.

mod pricing;
mod store;

use serde::Serialize;

use crate::{
    coupons::{Coupon, CouponSummary},
    error::Error,
};

pub use pricing::{price, PricedLine, PricingLine, Quote};
pub use store::*;

/// Carts untouched this long are forgotten.
pub const CART_LIFETIME_SECS: i64 = 30 * 24 * 60 * 60;
/// The most copies of one issue in a cart.
pub const MAX_ISSUE_QUANTITY: i64 = 99;

/// Something the reader should know about their cart, in HTML and JSON alike.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Notice {
    pub code: &'static str,
    pub message: String,
}

impl Notice {
    pub fn new(code: &'static str, message: impl Into<String>) -> Notice {
        Notice { code, message: message.into() }
    }
}

/// The cart as the reader sees it.
#[derive(Clone, Debug, Serialize)]
pub struct CartView {
    pub quote: Quote,
    pub coupon: Option<CouponSummary>,
    /// The coupon the quote was priced with: checkout reserves exactly this one.
    #[serde(skip)]
    pub applied_coupon: Option<Coupon>,
    /// How many copies and subscriptions, for the header.
    pub item_count: i64,
    pub notices: Vec<Notice>,
}

/// A quantity as a reader sent it: a JSON value or a form field's text.
pub enum QuantityInput<'a> {
    Json(&'a serde_json::Value),
    Text(&'a str),
}

/// Reads a quantity: a whole number, at least 1 (or 0 where 0 means "remove"), at most `MAX_ISSUE_QUANTITY`.
pub fn parse_quantity(input: QuantityInput<'_>, zero_allowed: bool) -> Result<i64, Error> {
    let text = match input {
        QuantityInput::Json(serde_json::Value::Number(n)) => n.to_string(),
        QuantityInput::Json(_) => return Err(not_a_number()),
        QuantityInput::Text(text) => text.trim().to_string(),
    };
    let value: rust_decimal::Decimal = text.parse().map_err(|_| not_a_number())?;
    if value.is_sign_negative() && !value.is_zero() {
        return Err(Error::invalid("quantity_negative", "A quantity cannot be negative."));
    }
    if !value.fract().is_zero() {
        return Err(Error::invalid("quantity_fractional", "A quantity must be a whole number."));
    }
    if value.is_zero() && !zero_allowed {
        return Err(Error::invalid("quantity_zero", "Add at least one copy."));
    }
    if value > rust_decimal::Decimal::from(MAX_ISSUE_QUANTITY) {
        return Err(too_many_copies());
    }
    Ok(rust_decimal::prelude::ToPrimitive::to_i64(&value).unwrap_or(0))
}

fn not_a_number() -> Error {
    Error::invalid("quantity_not_a_number", "A quantity must be a number, such as 1 or 2.")
}

fn too_many_copies() -> Error {
    Error::invalid(
        "quantity_too_high",
        format!(
            "You can have up to {MAX_ISSUE_QUANTITY} copies of an issue in your cart. For more, please contact us."
        ),
    )
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn code(result: Result<i64, Error>) -> Result<i64, &'static str> {
        result.map_err(|e| e.code())
    }

    #[test]
    fn quantities_are_whole_numbers_from_one_to_ninety_nine() {
        assert_eq!(code(parse_quantity(QuantityInput::Json(&json!(3)), false)), Ok(3));
        assert_eq!(code(parse_quantity(QuantityInput::Text(" 99 "), false)), Ok(99));
        assert_eq!(code(parse_quantity(QuantityInput::Json(&json!(0)), false)), Err("quantity_zero"));
        assert_eq!(code(parse_quantity(QuantityInput::Json(&json!(0)), true)), Ok(0));
        assert_eq!(code(parse_quantity(QuantityInput::Json(&json!(-1)), true)), Err("quantity_negative"));
        assert_eq!(code(parse_quantity(QuantityInput::Json(&json!(1.5)), false)), Err("quantity_fractional"));
        assert_eq!(code(parse_quantity(QuantityInput::Json(&json!(100)), false)), Err("quantity_too_high"));
        assert_eq!(code(parse_quantity(QuantityInput::Json(&json!("2")), false)), Err("quantity_not_a_number"));
        assert_eq!(code(parse_quantity(QuantityInput::Json(&json!(null)), false)), Err("quantity_not_a_number"));
        assert_eq!(code(parse_quantity(QuantityInput::Text("two"), false)), Err("quantity_not_a_number"));
        assert_eq!(code(parse_quantity(QuantityInput::Json(&json!(1e300)), false)), Err("quantity_not_a_number"));
    }
}
