//! The domain's error type. Each variant says what went wrong in words a reader
//! understands; `http::error` maps it to an HTML page or the JSON error shape.

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Nothing here (404): an unknown SKU, publication, issue or page.
    #[error("{message}")]
    NotFound { code: &'static str, message: String },
    /// The request is well formed but its content is refused (422 unless a rule says otherwise).
    #[error("{message}")]
    Invalid { code: &'static str, message: String },
    /// Only for someone signed in, and nobody is (401).
    #[error("{message}")]
    Unauthorized { code: &'static str, message: String },
    /// Not allowed for this person (403), or a form whose CSRF token does not match.
    #[error("{message}")]
    Forbidden { code: &'static str, message: String },
    /// The request clashes with what is already there (409).
    #[error("{message}")]
    Conflict { code: &'static str, message: String },
    /// The body is not JSON (415).
    #[error("{message}")]
    UnsupportedMediaType { code: &'static str, message: String },
    /// The body is larger than the shop accepts (413).
    #[error("{message}")]
    PayloadTooLarge { code: &'static str, message: String },
    /// The request cannot be read at all (400).
    #[error("{message}")]
    BadRequest { code: &'static str, message: String },
    /// A service the shop depends on (the payment provider) failed (502).
    #[error("{message}")]
    Upstream { code: &'static str, message: String },
    /// Too many attempts; try again after this many seconds (429).
    #[error("{message}")]
    TooManyRequests { code: &'static str, message: String, retry_after_secs: u64 },
    /// The database cannot be reached just now (503, with `Retry-After`): the request changed
    /// nothing and may be sent again shortly.
    #[error("The shop cannot reach its database just now. Nothing was changed: please try again in a few seconds.")]
    Unavailable(String),
    /// The shop's own fault: logged in full, shown to the reader as a 500 without details.
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

impl Error {
    pub fn not_found(code: &'static str, message: impl Into<String>) -> Error {
        Error::NotFound { code, message: message.into() }
    }

    pub fn invalid(code: &'static str, message: impl Into<String>) -> Error {
        Error::Invalid { code, message: message.into() }
    }

    pub fn bad_request(code: &'static str, message: impl Into<String>) -> Error {
        Error::BadRequest { code, message: message.into() }
    }

    /// The machine-readable code of the JSON error shape.
    pub fn code(&self) -> &'static str {
        match self {
            Error::NotFound { code, .. }
            | Error::Invalid { code, .. }
            | Error::BadRequest { code, .. }
            | Error::Conflict { code, .. }
            | Error::Forbidden { code, .. }
            | Error::Unauthorized { code, .. }
            | Error::UnsupportedMediaType { code, .. }
            | Error::PayloadTooLarge { code, .. }
            | Error::Upstream { code, .. }
            | Error::TooManyRequests { code, .. } => code,
            Error::Unavailable(_) => "temporarily_unavailable",
            Error::Internal(_) => "internal_error",
        }
    }

    /// The sentence shown to the reader; internal causes are never shown.
    pub fn public_message(&self) -> String {
        match self {
            Error::Internal(_) => "Something went wrong on our side. Please try again in a moment.".into(),
            other => other.to_string(),
        }
    }
}

impl From<sqlx::Error> for Error {
    fn from(error: sqlx::Error) -> Error {
        if crate::db::is_unavailable(&error) {
            return Error::Unavailable(error.to_string());
        }
        Error::Internal(anyhow::Error::new(error).context("database"))
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
