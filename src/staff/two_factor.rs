//! The staff's optional second factor: TOTP codes from any authenticator app (RFC 6238, SHA-1,
//! six digits, 30-second steps), keyed by a base32 secret kept on the staff row.

use totp_rs::{Secret, TOTP};

use crate::error::{Error, Result};

fn totp(secret_base32: &str, email: &str) -> Result<TOTP> {
    let bytes = Secret::Encoded(secret_base32.to_string())
        .to_bytes()
        .map_err(|e| Error::Internal(anyhow::anyhow!("TOTP secret: {e:?}")))?;
    TOTP::new(totp_rs::Algorithm::SHA1, 6, 1, 30, bytes, Some("masthead".into()), email.to_string())
        .map_err(|e| Error::Internal(anyhow::anyhow!("TOTP: {e}")))
}

/// A new base32 secret for an authenticator app.
pub fn new_totp_secret() -> Result<String> {
    match Secret::generate_secret().to_encoded() {
        Secret::Encoded(s) => Ok(s),
        Secret::Raw(_) => Err(Error::Internal(anyhow::anyhow!("TOTP secret encoding"))),
    }
}

/// The otpauth:// address an authenticator app reads the secret from.
pub fn otpauth_url(secret: &str, email: &str) -> Result<String> {
    Ok(totp(secret, email)?.get_url())
}

/// Whether a six-digit code is right for the secret now (one 30-second step of drift allowed).
pub fn totp_code_matches(secret: &str, email: &str, code: &str) -> bool {
    let code: String = code.chars().filter(|c| !c.is_whitespace()).collect();
    totp(secret, email).ok().and_then(|t| t.check_current(&code).ok()).unwrap_or(false)
}

/// The code an authenticator app would show now (for tests and the CLI).
pub fn current_totp_code(secret: &str, email: &str) -> Result<String> {
    totp(secret, email)?.generate_current().map_err(|e| Error::Internal(anyhow::anyhow!("clock: {e}")))
}
