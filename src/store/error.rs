//! Storage errors: the few outcomes a caller acts on, and everything else as `Other`.

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("not found")]
    NotFound,
    /// A uniqueness rule was violated (userName, displayName, tenant or realm name).
    #[error("conflict with an existing record")]
    Conflict,
    /// The row exists but its version is not the one the caller expected.
    #[error("version mismatch")]
    VersionMismatch,
    #[error("unknown members: {0:?}")]
    UnknownMembers(Vec<String>),
    #[error("membership cycle through group {0}")]
    MembershipCycle(String),
    #[error(transparent)]
    Other(#[from] sqlx::Error),
    #[error("{0}")]
    Corrupt(String),
}

impl StoreError {
    pub(crate) fn from_sqlx(e: sqlx::Error) -> Self {
        match &e {
            sqlx::Error::Database(db) if db.is_unique_violation() => StoreError::Conflict,
            sqlx::Error::RowNotFound => StoreError::NotFound,
            _ => StoreError::Other(e),
        }
    }
}
