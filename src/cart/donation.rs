//! A donation on top of the cart: a whole amount from the smallest gift to the shop's maximum,
//! never discounted by a coupon. It lives on the cart's row, so another tab changing it is seen
//! by the checkout (the cart's version covers it).

use super::Notice;
use crate::{
    db::Db,
    error::{Error, FieldError, Result},
    money::{Currency, Money, MoneyError},
};

/// The amounts offered with one press, in minor units.
pub const SUGGESTED: [i64; 3] = [500, 1000, 2500];
/// The smallest donation taken: 1 in the currency's major unit.
pub const MINIMUM: i64 = 100;

/// An amount a reader may give: from `MINIMUM` to the shop's maximum, in whole cents.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Donation(Money);

fn refused(code: &'static str, message: impl Into<String>) -> Error {
    Error::Fields(vec![FieldError::with_code("donation", code, message)])
}

impl Donation {
    /// Reads an amount as typed ("10", "12.50", "$25"); anything else is refused beside the field.
    pub fn parse(text: &str, currency: Currency, maximum: Money) -> Result<Donation> {
        let typed = text.trim().trim_start_matches(currency.symbol()).trim();
        if typed.is_empty() {
            return Err(refused("donation_missing", "Enter an amount to give, such as 10."));
        }
        let amount = match Money::parse(typed, currency) {
            Ok(amount) => amount,
            Err(MoneyError::TooPrecise(_)) => {
                return Err(refused("donation_too_precise", "Give the amount in dollars and cents, such as 12.50."))
            }
            Err(MoneyError::TooLarge(_)) => return Err(too_large(maximum)),
            Err(_) => return Err(refused("donation_not_a_number", "Enter the amount as a number, such as 10.")),
        };
        Donation::new(amount, maximum)
    }

    /// A donation of this amount, checked against the bounds.
    pub fn new(amount: Money, maximum: Money) -> Result<Donation> {
        if amount.amount < MINIMUM {
            return Err(refused(
                "donation_too_small",
                format!("A donation must be at least {}.", Money::new(MINIMUM, amount.currency)),
            ));
        }
        if amount.amount > maximum.amount {
            return Err(too_large(maximum));
        }
        Ok(Donation(amount))
    }

    pub fn money(self) -> Money {
        self.0
    }
}

fn too_large(maximum: Money) -> Error {
    refused(
        "donation_too_large",
        format!("We take donations of up to {maximum} here: for a larger gift, please contact us."),
    )
}

/// Sets the cart's donation (opening the cart when needed), or takes it off with `None`.
pub async fn set_donation(db: &Db, cart_id: &str, donation: Option<Donation>, now: i64) -> Result<Vec<Notice>> {
    let pool = db.unflushed_write().await?;
    let Some(donation) = donation else {
        let removed = sqlx::query("UPDATE carts SET donation = 0, updated_at = $2 WHERE id = $1 AND donation > 0")
            .bind(cart_id)
            .bind(now)
            .execute(pool.pool())
            .await?
            .rows_affected();
        return Ok(if removed == 0 { vec![] } else { vec![Notice::new("donation_removed", "Donation removed.")] });
    };
    sqlx::query(
        "INSERT INTO carts (id, donation, created_at, updated_at) VALUES ($1, $2, $3, $3) \
         ON CONFLICT (id) DO UPDATE SET donation = excluded.donation, updated_at = excluded.updated_at",
    )
    .bind(cart_id)
    .bind(donation.money().amount)
    .bind(now)
    .execute(pool.pool())
    .await?;
    Ok(vec![Notice::new(
        "donation_added",
        format!("Thank you: a donation of {} is in your order, to support the paper.", donation.money()),
    )])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn code(text: &str) -> std::result::Result<i64, &'static str> {
        let max = Money::new(100_000, Currency::Usd);
        Donation::parse(text, Currency::Usd, max).map(|d| d.money().amount).map_err(|e| match e.fields() {
            Some([field]) => field.code,
            _ => "other",
        })
    }

    #[test]
    fn donations_are_whole_cents_from_one_dollar_to_the_maximum() {
        assert_eq!(code("10"), Ok(1000));
        assert_eq!(code(" $12.50 "), Ok(1250));
        assert_eq!(code("1"), Ok(100));
        assert_eq!(code("1000"), Ok(100_000));
        assert_eq!(code("0"), Err("donation_too_small"));
        assert_eq!(code("0.99"), Err("donation_too_small"));
        assert_eq!(code("-5"), Err("donation_too_small"));
        assert_eq!(code("1000.01"), Err("donation_too_large"));
        assert_eq!(code("1e9"), Err("donation_too_large"), "a billion, however written");
        assert_eq!(code("1000000000"), Err("donation_too_large"));
        assert_eq!(code("99999999999999999999999999"), Err("donation_too_large"));
        assert_eq!(code("12.345"), Err("donation_too_precise"));
        assert_eq!(code("ten"), Err("donation_not_a_number"));
        assert_eq!(code(""), Err("donation_missing"));
        assert_eq!(code("NaN"), Err("donation_not_a_number"));
    }
}
