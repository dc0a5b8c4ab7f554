//! A postal address for print copies: the same six fields wherever one is typed (every address
//! form) or kept (orders, subscriptions, the mailing list), and one way to print it.

use serde::{Deserialize, Serialize};

use crate::{db::Param, error::FieldError};

/// An address as typed, unchecked.
#[derive(Clone, Debug, Default, Deserialize, utoipa::ToSchema)]
pub struct AddressInput {
    #[serde(default)]
    pub line1: String,
    #[serde(default)]
    pub line2: Option<String>,
    #[serde(default)]
    pub city: String,
    #[serde(default)]
    pub region: Option<String>,
    #[serde(default)]
    pub postal_code: String,
    /// Two letters, such as US.
    #[serde(default)]
    pub country: String,
}

/// The six address fields of an HTML form, kept as typed to show them again after a mistake.
#[derive(Clone, Debug, Default, Deserialize, Serialize)]
pub struct AddressForm {
    #[serde(default)]
    pub line1: String,
    #[serde(default)]
    pub line2: String,
    #[serde(default)]
    pub city: String,
    #[serde(default)]
    pub region: String,
    #[serde(default)]
    pub postal_code: String,
    #[serde(default)]
    pub country: String,
}

impl AddressForm {
    /// True when any required field was filled in (a form without an address leaves them all empty).
    pub fn is_given(&self) -> bool {
        [&self.line1, &self.city, &self.postal_code, &self.country].iter().any(|f| !f.trim().is_empty())
    }

    pub fn input(&self) -> AddressInput {
        AddressInput {
            line1: self.line1.clone(),
            line2: Some(self.line2.clone()),
            city: self.city.clone(),
            region: Some(self.region.clone()),
            postal_code: self.postal_code.clone(),
            country: self.country.clone(),
        }
    }
}

/// Runs of spaces and line breaks typed into a field become one space.
pub(crate) fn clean(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

fn optional(text: &Option<String>) -> Option<String> {
    text.as_deref().map(clean).filter(|t| !t.is_empty())
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Address {
    pub line1: String,
    pub line2: Option<String>,
    pub city: String,
    /// State, province or region, where the country uses one.
    pub region: Option<String>,
    pub postal_code: String,
    /// ISO 3166 two-letter code, such as US.
    pub country: String,
}

impl Address {
    /// A typed address, or what is wrong with it, field by field (`line1`, `city`,
    /// `postal_code`, `country`).
    pub fn parse(a: &AddressInput) -> Result<Address, Vec<FieldError>> {
        let mut problems = Vec::new();
        let mut problem =
            |field, message: &str| problems.push(FieldError::with_code(field, "invalid_address", message));
        let (line1, city, postal_code) = (clean(&a.line1), clean(&a.city), clean(&a.postal_code));
        let country = a.country.trim().to_ascii_uppercase();
        let too_long = [&line1, &city, &postal_code].iter().any(|t| t.len() > 200)
            || [&a.line2, &a.region].iter().any(|t| t.as_deref().is_some_and(|t| t.len() > 200));
        if line1.is_empty() {
            problem("line1", "Enter the street address.");
        }
        if city.is_empty() {
            problem("city", "Enter the city or town.");
        }
        if postal_code.is_empty() {
            problem("postal_code", "Enter the postal or ZIP code.");
        }
        if !crate::postage::is_country_code(&country) {
            problem("country", "Enter the country as its two-letter code, such as US, CA or DE.");
        }
        if too_long {
            problem("line1", "Each line of the address is at most 200 characters.");
        }
        if !problems.is_empty() {
            return Err(problems);
        }
        Ok(Address { line1, line2: optional(&a.line2), city, region: optional(&a.region), postal_code, country })
    }

    /// An address from its stored columns; `None` when there is none (a digital-only order).
    pub fn from_columns(
        line1: Option<&str>,
        line2: Option<&str>,
        city: Option<&str>,
        region: Option<&str>,
        postal_code: Option<&str>,
        country: Option<&str>,
    ) -> Option<Address> {
        let owned = |text: Option<&str>| text.map(str::to_string).filter(|t| !t.is_empty());
        Some(Address {
            line1: owned(line1)?,
            line2: owned(line2),
            city: owned(city)?,
            region: owned(region),
            postal_code: owned(postal_code).unwrap_or_default(),
            country: owned(country).unwrap_or_default(),
        })
    }

    /// The address as it goes on an envelope: street lines, then city, region and postal code,
    /// then the country.
    pub fn lines(&self) -> Vec<String> {
        let mut lines = vec![self.line1.clone()];
        lines.extend(self.line2.clone());
        let place = [Some(self.city.as_str()), self.region.as_deref(), Some(self.postal_code.as_str())]
            .into_iter()
            .flatten()
            .filter(|part| !part.is_empty())
            .collect::<Vec<_>>()
            .join(" ");
        lines.push(place);
        if !self.country.is_empty() {
            lines.push(self.country.clone());
        }
        lines
    }
}

/// An address's six columns (line1, line2, city, region, postal_code, country), in that order, or
/// six NULLs.
pub(crate) fn params(address: Option<&Address>) -> [Param<'_>; 6] {
    [
        Param::text_or_null(address.map(|a| a.line1.as_str())),
        Param::text_or_null(address.and_then(|a| a.line2.as_deref())),
        Param::text_or_null(address.map(|a| a.city.as_str())),
        Param::text_or_null(address.and_then(|a| a.region.as_deref())),
        Param::text_or_null(address.map(|a| a.postal_code.as_str())),
        Param::text_or_null(address.map(|a| a.country.as_str())),
    ]
}

/// Binds `params(address)` to a sqlx statement.
pub(crate) trait BindAddress<'q> {
    fn bind_address(self, address: Option<&'q Address>) -> Self;
}

impl<'q> BindAddress<'q> for sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments<'q>> {
    fn bind_address(self, address: Option<&'q Address>) -> Self {
        crate::db::bind_all(self, &params(address))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_region_is_printed_with_the_city() {
        let address =
            Address::from_columns(Some("1 Main St"), None, Some("Chicago"), Some("IL"), Some("60601"), Some("US"))
                .expect("an address");
        assert_eq!(address.lines(), ["1 Main St", "Chicago IL 60601", "US"]);
        assert_eq!(Address::from_columns(None, None, None, None, None, None), None);
    }
}
