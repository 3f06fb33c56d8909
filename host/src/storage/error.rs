//! How a store fails.

#[cfg(doc)]
use super::Store;

/// A storage failure.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// A row with that key exists already.
    #[error("{0} already exists")]
    Conflict(&'static str),
    /// A row the operation needs does not exist.
    #[error("{0} not found")]
    NotFound(&'static str),
    /// A change's own rule refused what it would store (a change closure's
    /// answer, e.g. [`Store::change_app`]'s): nothing was stored.
    #[error("{0}")]
    Invalid(String),
    /// The database failed.
    #[error("database error: {0}")]
    Database(String),
}

impl From<rusqlite::Error> for StoreError {
    fn from(e: rusqlite::Error) -> Self {
        StoreError::Database(e.to_string())
    }
}

impl From<serde_json::Error> for StoreError {
    fn from(e: serde_json::Error) -> Self {
        StoreError::Database(format!("stored JSON does not decode: {e}"))
    }
}
