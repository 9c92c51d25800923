//! Mapping rusqlite errors onto [`StoreError`] at the boundary.

use bulwark_store::StoreError;
use rusqlite::{Error, ErrorCode};

pub(crate) fn map(e: Error) -> StoreError {
    match &e {
        Error::QueryReturnedNoRows => StoreError::NotFound,
        Error::SqliteFailure(f, msg) => {
            let msg = msg.clone().unwrap_or_else(|| f.to_string());
            match (f.code, f.extended_code) {
                (ErrorCode::ConstraintViolation, 2067 | 1555) => StoreError::Conflict(msg),
                (ErrorCode::ConstraintViolation, 787) => StoreError::Invalid(msg),
                (
                    ErrorCode::DiskFull
                    | ErrorCode::ReadOnly
                    | ErrorCode::CannotOpen
                    | ErrorCode::DatabaseBusy
                    | ErrorCode::DatabaseLocked
                    | ErrorCode::SystemIoFailure,
                    _,
                ) => StoreError::Unavailable(msg),
                _ => StoreError::Internal(msg),
            }
        }
        _ => StoreError::Internal(e.to_string()),
    }
}

/// A stored value that does not parse back into its domain type: the database was changed
/// behind the application's back.
pub(crate) fn corrupt(what: &str, e: impl std::fmt::Display) -> StoreError {
    StoreError::Internal(format!("stored {what} does not parse: {e}"))
}
