//! Staff passwords: the rules a new password must meet, and argon2id hashing (m = 19 MiB, t = 2,
//! p = 1). Hashing and verifying take tens of milliseconds of CPU each, so they run on tokio's
//! blocking pool: on the async workers they would stall every other request meanwhile.

use argon2::{
    password_hash::{rand_core::OsRng, PasswordHash, PasswordHasher, PasswordVerifier, SaltString},
    Algorithm, Argon2, Params, Version,
};

use crate::error::{Error, Result};

pub const MIN_PASSWORD_CHARS: usize = 12;
pub const MAX_PASSWORD_CHARS: usize = 128;
const COMMON_PASSWORDS: &str = include_str!("common-passwords.txt");

/// Why a password is refused, or nothing.
pub fn password_problem(password: &str) -> Option<String> {
    let chars = password.chars().count();
    if chars < MIN_PASSWORD_CHARS {
        return Some(format!("A password needs at least {MIN_PASSWORD_CHARS} characters."));
    }
    if chars > MAX_PASSWORD_CHARS {
        return Some(format!("A password can have at most {MAX_PASSWORD_CHARS} characters."));
    }
    let lower = password.to_lowercase();
    let first = lower.chars().next();
    if lower.chars().all(|c| Some(c) == first) || COMMON_PASSWORDS.lines().any(|common| common.trim() == lower) {
        return Some("That password is too common: choose a longer phrase of your own.".into());
    }
    None
}

fn hasher() -> Argon2<'static> {
    // OWASP's minimum for argon2id: 19 MiB of memory, 2 passes, 1 lane.
    let params = Params::new(19 * 1024, 2, 1, None).unwrap_or_default();
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
}

fn hash_now(password: &str) -> Result<String> {
    let salt = SaltString::generate(&mut OsRng);
    hasher()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| Error::Internal(anyhow::anyhow!("hashing a password: {e}")))
}

fn matches_now(hash: &str, password: &str) -> bool {
    PasswordHash::new(hash).is_ok_and(|parsed| hasher().verify_password(password.as_bytes(), &parsed).is_ok())
}

/// Checked against only to spend the same time on an unknown account as on a known one.
fn dummy_hash() -> &'static str {
    static HASH: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    HASH.get_or_init(|| hash_now("not anybody's password").unwrap_or_default())
}

async fn off_the_runtime<T: Send + 'static>(work: impl FnOnce() -> T + Send + 'static) -> Result<T> {
    tokio::task::spawn_blocking(work).await.map_err(|e| Error::Internal(anyhow::anyhow!("password hashing: {e}")))
}

/// The PHC string of a new password's argon2id hash.
pub async fn hash(password: &str) -> Result<String> {
    let password = password.to_string();
    off_the_runtime(move || hash_now(&password)).await?
}

/// True when `password` matches `hash`; with no hash (an unknown account) the same work is done
/// against a dummy hash and the answer is false.
pub async fn verify(hash: Option<&str>, password: &str) -> Result<bool> {
    let (hash, password) = (hash.map(str::to_string), password.to_string());
    off_the_runtime(move || match hash {
        Some(hash) => matches_now(&hash, &password),
        None => {
            matches_now(dummy_hash(), &password);
            false
        }
    })
    .await
}

#[cfg(test)]
mod tests {
    use std::sync::{
        atomic::{AtomicBool, Ordering},
        Arc,
    };

    use super::*;

    /// On a single-threaded runtime another task can run while a password is hashed only if the
    /// hashing is off the runtime's one thread.
    #[tokio::test(flavor = "current_thread")]
    async fn hashing_leaves_the_runtime_free_for_other_requests() {
        let other_ran = Arc::new(AtomicBool::new(false));
        let flag = other_ran.clone();
        tokio::spawn(async move { flag.store(true, Ordering::SeqCst) });
        let hashed = hash("a long passphrase of mine").await.expect("hashed");
        assert!(other_ran.load(Ordering::SeqCst), "another task ran while the password was hashed");

        let other_ran = Arc::new(AtomicBool::new(false));
        let flag = other_ran.clone();
        tokio::spawn(async move { flag.store(true, Ordering::SeqCst) });
        assert!(verify(Some(&hashed), "a long passphrase of mine").await.expect("verified"));
        assert!(other_ran.load(Ordering::SeqCst), "another task ran while the password was verified");
        assert!(!verify(Some(&hashed), "another passphrase").await.expect("verified"));
        assert!(!verify(None, "a long passphrase of mine").await.expect("verified"));
    }
}
