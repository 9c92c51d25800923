//! The application error: what a use case can end with, in terms the shells map to a status code
//! or an exit code. Storage errors are folded in here; internal details are logged once, at the
//! boundary, and never shown to users.

use bulwark_store::StoreError;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AppError {
    #[error("sign in first")]
    Unauthenticated,
    /// The role may not do this, or the object is outside the actor's scope (or does not exist:
    /// scoped callers cannot tell the two apart, so existence does not leak).
    #[error("not allowed")]
    Forbidden,
    #[error("not found")]
    NotFound,
    /// Bad input: names the field and what is expected.
    #[error("{field}: {message}")]
    Invalid { field: String, message: String },
    #[error("{0}")]
    Conflict(String),
    /// An idempotency key sent again with a different body: nothing was stored.
    #[error("this Idempotency-Key was used for a different request")]
    KeyReused,
    /// A registration sent without its idempotency key.
    #[error("send the header Idempotency-Key: <uuid>, made once per scan")]
    MissingKey,
    #[error("too many attempts; try again in {retry_after_secs} s")]
    TooManyAttempts { retry_after_secs: u64 },
    /// Storage cannot take the request now; nothing was written and no data was returned.
    #[error("service unavailable: {0}")]
    Unavailable(String),
    #[error("internal error")]
    Internal(String),
}

impl AppError {
    pub fn invalid(field: impl Into<String>, message: impl ToString) -> AppError {
        AppError::Invalid { field: field.into(), message: message.to_string() }
    }

    /// A stable machine-readable code for API clients.
    pub fn code(&self) -> &'static str {
        match self {
            AppError::Unauthenticated => "unauthenticated",
            AppError::Forbidden => "forbidden",
            AppError::NotFound => "not_found",
            AppError::Invalid { .. } => "invalid",
            AppError::Conflict(_) => "conflict",
            AppError::KeyReused => "idempotency_key_reused",
            AppError::MissingKey => "idempotency_key_missing",
            AppError::TooManyAttempts { .. } => "too_many_attempts",
            AppError::Unavailable(_) => "unavailable",
            AppError::Internal(_) => "internal",
        }
    }
}

impl From<StoreError> for AppError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::NotFound => AppError::NotFound,
            StoreError::Conflict(m) => AppError::Conflict(m),
            StoreError::Invalid(m) => AppError::invalid("request", m),
            StoreError::Unavailable(m) => AppError::Unavailable(m),
            StoreError::Internal(m) => AppError::Internal(m),
        }
    }
}

pub type AppResult<T> = Result<T, AppError>;
