//! Money: integer minor units with their currency. Arithmetic goes through
//! rust_decimal, never floats, and this is the one place that formats "$49.00".

use std::fmt;

use rust_decimal::{prelude::ToPrimitive, Decimal, RoundingStrategy};
use serde::{Serialize, Serializer};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Currency {
    Usd,
    Cad,
    Aud,
    Eur,
    Gbp,
}

impl Currency {
    pub fn parse(code: &str) -> Option<Currency> {
        match code.trim().to_ascii_uppercase().as_str() {
            "USD" => Some(Currency::Usd),
            "CAD" => Some(Currency::Cad),
            "AUD" => Some(Currency::Aud),
            "EUR" => Some(Currency::Eur),
            "GBP" => Some(Currency::Gbp),
            _ => None,
        }
    }

    pub fn code(self) -> &'static str {
        match self {
            Currency::Usd => "USD",
            Currency::Cad => "CAD",
            Currency::Aud => "AUD",
            Currency::Eur => "EUR",
            Currency::Gbp => "GBP",
        }
    }

    pub fn symbol(self) -> &'static str {
        match self {
            Currency::Usd => "$",
            Currency::Cad => "CA$",
            Currency::Aud => "A$",
            Currency::Eur => "€",
            Currency::Gbp => "£",
        }
    }

    /// Digits after the decimal point; every currency the shop sells in has two.
    pub fn exponent(self) -> u32 {
        2
    }
}

impl Serialize for Currency {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.code())
    }
}

// A currency column reads straight into `Currency`: a row in a currency the shop does not know
// fails to load instead of being taken for dollars.
crate::db::text_column!(Currency);

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Money {
    /// Minor units (cents).
    pub amount: i64,
    pub currency: Currency,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum MoneyError {
    #[error("{0:?} is not an amount of money")]
    NotAnAmount(String),
    #[error("{0:?} has more decimal places than the currency allows")]
    TooPrecise(String),
    #[error("{0:?} is more money than the shop can count")]
    TooLarge(String),
    #[error("{0:?} is not a currency the shop knows")]
    UnknownCurrency(String),
}

impl Money {
    pub fn new(amount: i64, currency: Currency) -> Money {
        Money { amount, currency }
    }

    pub fn zero(currency: Currency) -> Money {
        Money::new(0, currency)
    }

    /// Reads a stored amount: minor units and an ISO currency code.
    pub fn from_row(amount: i64, currency: &str) -> Result<Money, MoneyError> {
        let currency = Currency::parse(currency).ok_or_else(|| MoneyError::UnknownCurrency(currency.into()))?;
        Ok(Money::new(amount, currency))
    }

    /// Parses a major-unit amount as people write it ("29", "14.50"), refusing fractions of a cent.
    pub fn parse(text: &str, currency: Currency) -> Result<Money, MoneyError> {
        let value: Decimal = text.trim().parse().map_err(|_| MoneyError::NotAnAmount(text.into()))?;
        let exponent = currency.exponent();
        if value.normalize().scale() > exponent {
            return Err(MoneyError::TooPrecise(text.into()));
        }
        Money::from_decimal_exact(value, currency).ok_or_else(|| MoneyError::TooLarge(text.into()))
    }

    fn from_decimal_exact(value: Decimal, currency: Currency) -> Option<Money> {
        // Checked: an absurd amount typed into a form is refused, never a panic.
        let minor = value.checked_mul(Decimal::from(10i64.pow(currency.exponent())))?;
        if minor.fract() != Decimal::ZERO {
            return None;
        }
        minor.to_i64().map(|amount| Money::new(amount, currency))
    }

    /// Rounds a major-unit decimal half-up (away from zero) to the minor unit.
    pub fn from_decimal_rounded(value: Decimal, currency: Currency) -> Money {
        let rounded = value.round_dp_with_strategy(currency.exponent(), RoundingStrategy::MidpointAwayFromZero);
        Money::from_decimal_exact(rounded, currency).unwrap_or(Money::new(i64::MAX, currency))
    }

    /// The amount in major units, exactly.
    pub fn to_decimal(self) -> Decimal {
        Decimal::new(self.amount, self.currency.exponent())
    }

    /// What one year of a term costs, rounded half-up to the cent.
    pub fn per_year(self, years: i64) -> Money {
        self.share_of(years)
    }

    /// One of `parts` equal shares (what an issue of a term costs), rounded half-up to the cent.
    pub fn share_of(self, parts: i64) -> Money {
        if parts <= 0 {
            return self;
        }
        Money::from_decimal_rounded(self.to_decimal() / Decimal::from(parts), self.currency)
    }

    /// "$1,234.50", "-$5.00".
    pub fn display(self) -> String {
        let value = self.to_decimal().abs();
        let text = format!("{:.*}", self.currency.exponent() as usize, value);
        let (whole, fraction) = text.split_once('.').unwrap_or((&text, ""));
        let mut grouped = String::new();
        for (i, digit) in whole.chars().enumerate() {
            if i > 0 && (whole.len() - i) % 3 == 0 {
                grouped.push(',');
            }
            grouped.push(digit);
        }
        let sign = if self.amount < 0 { "-" } else { "" };
        if fraction.is_empty() {
            format!("{sign}{}{grouped}", self.currency.symbol())
        } else {
            format!("{sign}{}{grouped}.{fraction}", self.currency.symbol())
        }
    }
}

impl fmt::Display for Money {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.display())
    }
}

/// The shape of money in every JSON answer: `{"amount": 4900, "currency": "USD", "display": "$49.00"}`.
#[derive(Serialize, utoipa::ToSchema)]
#[schema(as = Money)]
pub struct MoneyJson {
    /// Minor units (cents).
    #[schema(example = 4900)]
    pub amount: i64,
    #[schema(example = "USD")]
    pub currency: &'static str,
    #[schema(example = "$49.00")]
    pub display: String,
}

impl Serialize for Money {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        MoneyJson { amount: self.amount, currency: self.currency.code(), display: self.display() }.serialize(serializer)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn usd(amount: i64) -> Money {
        Money::new(amount, Currency::Usd)
    }

    #[test]
    fn formats_like_a_price_tag() {
        assert_eq!(usd(4900).display(), "$49.00");
        assert_eq!(usd(1450).display(), "$14.50");
        assert_eq!(usd(5).display(), "$0.05");
        assert_eq!(usd(0).display(), "$0.00");
        assert_eq!(usd(123456789).display(), "$1,234,567.89");
        assert_eq!(usd(-500).display(), "-$5.00");
        assert_eq!(Money::new(1000, Currency::Gbp).display(), "£10.00");
    }

    #[test]
    fn parses_major_units_and_refuses_fractions_of_a_cent() {
        assert_eq!(Money::parse("29", Currency::Usd), Ok(usd(2900)));
        assert_eq!(Money::parse("14.50", Currency::Usd), Ok(usd(1450)));
        assert!(matches!(Money::parse("14.505", Currency::Usd), Err(MoneyError::TooPrecise(_))));
        assert!(matches!(Money::parse("abc", Currency::Usd), Err(MoneyError::NotAnAmount(_))));
        assert!(matches!(Money::parse("79228162514264337593543950335", Currency::Usd), Err(MoneyError::TooLarge(_))));
        assert!(matches!(Money::parse("92233720368547758.08", Currency::Usd), Err(MoneyError::TooLarge(_))));
        assert_eq!(Money::parse("14.50", Currency::Usd).expect("an amount"), usd(1450));
    }

    #[test]
    fn per_year_rounds_half_up() {
        assert_eq!(usd(9800).per_year(4), usd(2450));
        assert_eq!(usd(4500).per_year(2), usd(2250));
        // $1.00 over 3 years: 33.333… cents, rounded down; $0.05 over 2: 2.5 cents, rounded up.
        assert_eq!(usd(100).per_year(3), usd(33));
        assert_eq!(usd(5).per_year(2), usd(3));
    }

    #[test]
    fn serializes_in_the_api_shape() {
        let json = serde_json::to_value(usd(4900)).unwrap();
        assert_eq!(json, serde_json::json!({"amount": 4900, "currency": "USD", "display": "$49.00"}));
    }
}
