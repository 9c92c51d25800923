//! Storage errors: a small enum that both engines map their driver errors into at the boundary.

/// What went wrong in storage, in terms the callers can act on.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StoreError {
    #[error("not found")]
    NotFound,
    /// A uniqueness rule was broken; the message names what already exists.
    #[error("conflict: {0}")]
    Conflict(String),
    /// The request refers to something that cannot be (e.g. an area that does not exist).
    #[error("invalid: {0}")]
    Invalid(String),
    /// The database cannot take the request now (down, disk full, read-only); nothing was written.
    #[error("storage unavailable: {0}")]
    Unavailable(String),
    #[error("storage error: {0}")]
    Internal(String),
}

pub type StoreResult<T> = Result<T, StoreError>;
