//! Mapping of driver and pool errors into [`StoreError`].

use bulwark_store::{StoreError, StoreResult};
use deadpool_postgres::PoolError;
use tokio_postgres::error::SqlState;

/// Maps a driver error: unique violations are conflicts, broken references and bad values are
/// invalid requests, lost connections and an unwilling server are unavailability.
pub(crate) fn db(e: tokio_postgres::Error) -> StoreError {
    if let Some(dbe) = e.as_db_error() {
        let code = dbe.code();
        let class = &code.code()[..2];
        let detail = dbe.detail().map(|d| format!(" ({d})")).unwrap_or_default();
        return if *code == SqlState::UNIQUE_VIOLATION {
            StoreError::Conflict(format!("{}{detail}", dbe.message()))
        } else if *code == SqlState::FOREIGN_KEY_VIOLATION {
            StoreError::Invalid(format!(
                "refers to something that does not exist: {}",
                dbe.constraint().unwrap_or("a reference")
            ))
        } else if matches!(class, "22" | "23") {
            // Data exceptions and other integrity constraints (not null, check).
            StoreError::Invalid(dbe.message().to_string())
        } else if matches!(class, "08" | "53" | "57" | "58" | "40") || *code == SqlState::READ_ONLY_SQL_TRANSACTION {
            // Connection exceptions, insufficient resources (disk full), operator intervention
            // (shutdown), system errors, serialization failures and deadlocks: nothing was
            // written and the request may be tried again.
            StoreError::Unavailable(format!("PostgreSQL: {} [{}]", dbe.message(), code.code()))
        } else {
            StoreError::Internal(format!("PostgreSQL: {} [{}]", dbe.message(), code.code()))
        };
    }
    let text = e.to_string();
    let io = std::error::Error::source(&e).is_some_and(|s| s.is::<std::io::Error>());
    if e.is_closed() || io || text.contains("connect") || text.contains("timeout") || text.contains("communicating") {
        StoreError::Unavailable(format!("PostgreSQL: {text}"))
    } else {
        StoreError::Internal(format!("PostgreSQL: {text}"))
    }
}

/// Maps a failure to get a connection from the pool.
pub(crate) fn pool(e: PoolError) -> StoreError {
    match e {
        PoolError::Backend(e) => match db(e) {
            StoreError::Unavailable(m) => StoreError::Unavailable(format!("cannot connect: {m}")),
            other => other,
        },
        PoolError::Timeout(t) => StoreError::Unavailable(format!("no database connection available ({t:?} timeout)")),
        PoolError::Closed => StoreError::Unavailable("the connection pool is closed".into()),
        other => StoreError::Internal(format!("connection pool: {other}")),
    }
}

/// Replaces the generic message of a conflict or of an invalid reference by one that names what
/// exists or what is missing.
pub(crate) trait Explain<T> {
    fn conflict(self, message: impl FnOnce() -> String) -> StoreResult<T>;
    fn invalid(self, message: impl FnOnce() -> String) -> StoreResult<T>;
}

impl<T> Explain<T> for StoreResult<T> {
    fn conflict(self, message: impl FnOnce() -> String) -> StoreResult<T> {
        self.map_err(|e| match e {
            StoreError::Conflict(_) => StoreError::Conflict(message()),
            other => other,
        })
    }
    fn invalid(self, message: impl FnOnce() -> String) -> StoreResult<T> {
        self.map_err(|e| match e {
            StoreError::Invalid(_) => StoreError::Invalid(message()),
            other => other,
        })
    }
}

/// A stored value that does not parse back: the database holds something this build never wrote.
pub(crate) fn corrupt(what: &str, value: impl std::fmt::Display) -> StoreError {
    StoreError::Internal(format!("stored {what} is not valid: {value}"))
}
