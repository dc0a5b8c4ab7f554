//! The domain's error type. Each variant says what went wrong in words a reader
//! understands; `http::error` maps it to an HTML page or the JSON error shape.

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Nothing here (404): an unknown SKU, publication, issue or page.
    #[error("{message}")]
    NotFound { code: &'static str, message: String },
    /// Fields a person must put right (422), each named with its own message; forms show each
    /// beside its field, the API answers the first one's code and every message.
    #[error("{}", .0.iter().map(|f| f.message.as_str()).collect::<Vec<_>>().join(" "))]
    Fields(Vec<FieldError>),
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
    #[error("the database is unavailable: {0}")]
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
            Error::Fields(fields) => fields.first().map_or("invalid_input", |f| f.code),
            Error::Internal(_) => "internal_error",
        }
    }

    /// The sentence shown to the reader; internal causes are never shown.
    pub fn public_message(&self) -> String {
        match self {
            Error::Internal(_) => "Something went wrong on our side. Please try again in a moment.".into(),
            Error::Unavailable(_) => {
                "The shop cannot reach its database just now. Nothing was changed: please try again in a few seconds."
                    .into()
            }
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

/// One field a person must put right: which field, a stable code, and a sentence.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct FieldError {
    pub field: &'static str,
    pub code: &'static str,
    pub message: String,
}

impl FieldError {
    pub fn new(field: &'static str, message: impl Into<String>) -> FieldError {
        FieldError { field, code: "invalid_field", message: message.into() }
    }

    pub fn with_code(field: &'static str, code: &'static str, message: impl Into<String>) -> FieldError {
        FieldError { field, code, message: message.into() }
    }
}

impl Error {
    /// The field errors of a form refused for them, to show beside their fields; `None` for any
    /// other error (which the form does not draw).
    pub fn fields(&self) -> Option<&[FieldError]> {
        match self {
            Error::Fields(fields) => Some(fields),
            _ => None,
        }
    }
}

/// A constraint of the database that refused a write.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Constraint {
    /// A row that must not exist twice (a unique key or index).
    Unique,
    /// A row that must not be written so (a check).
    Check,
}

/// The one place where the database's refusal of a write becomes the user error it means:
/// `meaning` says what a violated constraint means here, or `None` when it means nothing the user
/// can put right (the error then stays the shop's own).
pub trait ConstraintExt<T> {
    fn on_constraint(self, meaning: impl FnOnce(Constraint) -> Option<Error>) -> Result<T>;
}

impl<T> ConstraintExt<T> for std::result::Result<T, sqlx::Error> {
    fn on_constraint(self, meaning: impl FnOnce(Constraint) -> Option<Error>) -> Result<T> {
        let error = match self {
            Ok(value) => return Ok(value),
            Err(error) => error,
        };
        let violated = match &error {
            sqlx::Error::Database(e) if e.is_unique_violation() => Some(Constraint::Unique),
            sqlx::Error::Database(e) if e.is_check_violation() => Some(Constraint::Check),
            _ => None,
        };
        Err(violated.and_then(meaning).unwrap_or_else(|| Error::from(error)))
    }
}
