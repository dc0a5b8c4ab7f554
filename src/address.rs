//! A postal address for print copies: the same six fields wherever one is kept (orders,
//! subscriptions, the mailing list), and one way to print it.

use serde::Serialize;

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
