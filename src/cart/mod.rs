//! The cart: lines keyed by SKU and at most one coupon, kept in the shop's own tables
//! (the session holds only the cart's id), priced from the catalog every time.

mod donation;
mod gifts;
mod pricing;
mod rows;
mod store;

use serde::Serialize;

use crate::{
    coupons::{Coupon, CouponSummary},
    error::Error,
};

pub use donation::{set_donation, Donation, MINIMUM as MINIMUM_DONATION, SUGGESTED as SUGGESTED_DONATIONS};
pub use gifts::{
    add_gift, cart_gifts, find_cart_gift, gift_not_in_cart, remove_gift, update_gift, CartGift, MAX_GIFTS,
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
    /// Changes whenever what the reader would pay for changes (a line, a quantity, a price, the
    /// coupon, the donation): the checkout form sends back the one it showed, so an order is never placed for a
    /// cart that changed in another tab meanwhile.
    pub version: String,
    /// Each line's product as priced, in `quote.lines`' order.
    #[serde(skip)]
    pub products: Vec<crate::catalog::Product>,
}

/// The version of a priced cart (see `CartView::version`).
pub fn version_of(quote: &Quote, coupon_code: Option<&str>) -> String {
    use sha2::{Digest, Sha256};
    let mut hasher = Sha256::new();
    for l in &quote.lines {
        if let Some(gift) = &l.gift {
            hasher.update(format!("gift|{}|{}\n", gift.id, serde_json::to_string(&gift.gift).unwrap_or_default()));
        }
        let line = format!(
            "{}|{}|{}|{}|{}|{}|{}\n",
            l.sku,
            l.quantity,
            l.is_renewal,
            l.rate.as_str(),
            l.unit_price.amount,
            l.line_total.amount,
            l.discount.amount
        );
        hasher.update(line.as_bytes());
    }
    hasher.update(
        format!("coupon|{}|donation|{}|total|{}", coupon_code.unwrap_or(""), quote.donation.amount, quote.total.amount)
            .as_bytes(),
    );
    hex::encode(&hasher.finalize()[..8])
}

/// A quantity as a reader sent it: a JSON value or a form field's text.
pub enum QuantityInput<'a> {
    Json(&'a serde_json::Value),
    Text(&'a str),
}

/// Copies of one line: a whole number from 1 to `MAX_ISSUE_QUANTITY`, valid once built.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Quantity(i64);

impl Quantity {
    pub const fn one() -> Quantity {
        Quantity(1)
    }

    /// A quantity to add: at least 1.
    pub fn parse(input: QuantityInput<'_>) -> Result<Quantity, Error> {
        Quantity::parse_or_zero(input)?.ok_or_else(|| Error::invalid("quantity_zero", "Add at least one copy."))
    }

    /// A quantity to set, where 0 means "remove the line" (answered as `None`).
    pub fn parse_or_zero(input: QuantityInput<'_>) -> Result<Option<Quantity>, Error> {
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
        if value > rust_decimal::Decimal::from(MAX_ISSUE_QUANTITY) {
            return Err(too_many_copies());
        }
        match rust_decimal::prelude::ToPrimitive::to_i64(&value) {
            Some(0) => Ok(None),
            Some(n) => Ok(Some(Quantity(n))),
            None => Err(not_a_number()),
        }
    }

    /// One copy (a subscription, or an item added without a quantity).
    pub const ONE: Quantity = Quantity(1);

    pub fn get(self) -> i64 {
        self.0
    }
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

    fn code(result: Result<Quantity, Error>) -> Result<i64, &'static str> {
        result.map(Quantity::get).map_err(|e| e.code())
    }

    fn code_or_zero(result: Result<Option<Quantity>, Error>) -> Result<i64, &'static str> {
        result.map(|q| q.map_or(0, Quantity::get)).map_err(|e| e.code())
    }

    #[test]
    fn quantities_are_whole_numbers_from_one_to_ninety_nine() {
        assert_eq!(code(Quantity::parse(QuantityInput::Json(&json!(3)))), Ok(3));
        assert_eq!(code(Quantity::parse(QuantityInput::Text(" 99 "))), Ok(99));
        assert_eq!(code(Quantity::parse(QuantityInput::Json(&json!(0)))), Err("quantity_zero"));
        assert_eq!(code_or_zero(Quantity::parse_or_zero(QuantityInput::Json(&json!(0)))), Ok(0));
        assert_eq!(code_or_zero(Quantity::parse_or_zero(QuantityInput::Json(&json!(-1)))), Err("quantity_negative"));
        assert_eq!(code(Quantity::parse(QuantityInput::Json(&json!(1.5)))), Err("quantity_fractional"));
        assert_eq!(code(Quantity::parse(QuantityInput::Json(&json!(100)))), Err("quantity_too_high"));
        assert_eq!(code(Quantity::parse(QuantityInput::Json(&json!("2")))), Err("quantity_not_a_number"));
        assert_eq!(code(Quantity::parse(QuantityInput::Json(&json!(null)))), Err("quantity_not_a_number"));
        assert_eq!(code(Quantity::parse(QuantityInput::Text("two"))), Err("quantity_not_a_number"));
        assert_eq!(code(Quantity::parse(QuantityInput::Json(&json!(1e300)))), Err("quantity_not_a_number"));
    }
}
