//! An email address, checked once where it is typed (checkout, staff accounts) and normalised by
//! one rule wherever addresses are compared: stored as `email_normalized`, searched for, counted
//! for "new subscribers only".

use crate::error::Error;

/// The longest address SMTP carries.
const MAX_LEN: usize = 254;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EmailAddress {
    /// As typed, without the spaces around it: what mail is sent to.
    typed: String,
    normalized: String,
}

impl EmailAddress {
    /// A valid address with a dotted domain (`name@example.org`), or a 422 saying what to type.
    pub fn parse(text: &str) -> Result<EmailAddress, Error> {
        let typed = text.trim();
        let dotted_domain = typed.rsplit_once('@').is_some_and(|(_, domain)| domain.contains('.'));
        if typed.len() > MAX_LEN || !dotted_domain || !email_address::EmailAddress::is_valid(typed) {
            return Err(Error::invalid("invalid_email", "Enter an email address such as name@example.org."));
        }
        Ok(EmailAddress { typed: typed.to_string(), normalized: EmailAddress::normalize(typed) })
    }

    /// The one normalisation: surrounding spaces dropped, lower case. Also for text that is an
    /// address stored already, or a part of one typed into a search.
    pub fn normalize(text: &str) -> String {
        text.trim().to_lowercase()
    }

    pub fn as_str(&self) -> &str {
        &self.typed
    }

    pub fn normalized(&self) -> &str {
        &self.normalized
    }
}

impl std::fmt::Display for EmailAddress {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.typed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_address_however_it_is_typed() {
        let a = EmailAddress::parse("  Ada.Reader@Example.ORG ").expect("valid");
        assert_eq!((a.as_str(), a.normalized()), ("Ada.Reader@Example.ORG", "ada.reader@example.org"));
        assert_eq!(a.normalized(), EmailAddress::parse("ada.reader@example.org").expect("valid").normalized());
        for bad in [
            "",
            "ada",
            "ada@",
            "@example.org",
            "ada@localhost",
            "a b@example.org",
            &format!("{}@example.org", "a".repeat(250)),
        ] {
            assert!(EmailAddress::parse(bad).is_err(), "{bad:?}");
        }
    }
}
