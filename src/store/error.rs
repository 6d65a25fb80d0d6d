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
    /// The database cannot serve just now: down, restarting, out of connections, or (SQLite)
    /// locked past the busy timeout. The same request may well succeed later.
    #[error("database unavailable: {0}")]
    Unavailable(sqlx::Error),
    #[error(transparent)]
    Other(sqlx::Error),
    #[error("{0}")]
    Corrupt(String),
}

/// The one place a database error becomes a store outcome; `?` applies it at every call.
impl From<sqlx::Error> for StoreError {
    fn from(e: sqlx::Error) -> Self {
        match &e {
            // Every unique constraint scimd declares is a rule a client can break (userName,
            // displayName, tenant and realm names, token hashes): each is a conflict.
            sqlx::Error::Database(db) if db.is_unique_violation() => StoreError::Conflict,
            // A membership row naming a resource deleted meanwhile.
            sqlx::Error::Database(db)
                if db.is_foreign_key_violation() && db.constraint().is_some_and(is_member_fk) =>
            {
                StoreError::UnknownMembers(Vec::new())
            }
            sqlx::Error::RowNotFound => StoreError::NotFound,
            _ if is_unavailable(&e) => StoreError::Unavailable(e),
            _ => StoreError::Other(e),
        }
    }
}

fn is_member_fk(name: &str) -> bool {
    name.starts_with("members_")
}

/// Whether `e` says the database could not serve, rather than that the statement was wrong.
fn is_unavailable(e: &sqlx::Error) -> bool {
    match e {
        // Refused, reset or cut connections; no free connection within the acquire timeout;
        // the pool closing at shutdown; SQLite's worker thread gone.
        sqlx::Error::Io(_)
        | sqlx::Error::Tls(_)
        | sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::WorkerCrashed => true,
        sqlx::Error::Database(db) => {
            if let Some(pg) = db.try_downcast_ref::<sqlx::postgres::PgDatabaseError>() {
                let code = pg.code();
                // 08: connection exception; 53300: too many connections; 57P01-57P03: the
                // server is shutting down (fast or immediate), crashed, or still starting.
                // 40001 / 40P01: a serialization failure or deadlock victim, rolled back whole.
                code.starts_with("08")
                    || matches!(
                        code,
                        "53300" | "57P01" | "57P02" | "57P03" | "40001" | "40P01"
                    )
            } else if db.try_downcast_ref::<sqlx::sqlite::SqliteError>().is_some() {
                // Primary result codes (the low byte of the extended one): SQLITE_BUSY,
                // SQLITE_LOCKED and SQLITE_CANTOPEN.
                let code = db.code().and_then(|c| c.parse::<i32>().ok()).unwrap_or(0);
                matches!(code & 0xff, 5 | 6 | 14)
            } else {
                false
            }
        }
        _ => false,
    }
}
