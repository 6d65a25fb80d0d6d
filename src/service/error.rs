//! The service layer's error: a SCIM error for the client, or an internal failure whose cause
//! is logged and never sent.

use crate::scim::ScimError;
use crate::store::StoreError;

#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    #[error(transparent)]
    Scim(#[from] ScimError),
    /// A 403 for a token whose scope does not allow the call (RFC 6750 §3.1: the response
    /// names the scope that would).
    #[error("insufficient scope: {0}")]
    InsufficientScope(ScimError),
    /// A credential that was presented and refused (a 401): `reason` is for the metrics, the
    /// failure limit and the audit record, never for the caller.
    #[error("refused ({reason}): {error}")]
    Refused {
        reason: &'static str,
        error: ScimError,
    },
    /// Too many refused credentials from this caller of late: wait this long.
    #[error("too many failed authentications")]
    TooManyFailures(std::time::Duration),
    /// The database cannot serve just now; the client should retry. The cause is logged.
    #[error("database unavailable: {0}")]
    Unavailable(StoreError),
    #[error("internal error: {0:#}")]
    Internal(#[from] anyhow::Error),
}

pub type ServiceResult<T> = Result<T, ServiceError>;

impl ServiceError {
    /// Maps storage outcomes the client caused to SCIM errors, and a database that cannot
    /// serve to `Unavailable`; the rest stay internal.
    pub fn from_store(e: StoreError, what: &str) -> Self {
        match e {
            StoreError::NotFound => ScimError::not_found(format!("{what} not found")).into(),
            StoreError::Conflict => ScimError::uniqueness(format!(
                "{what} conflicts with an existing one (names are unique per realm, ignoring case)"
            ))
            .into(),
            StoreError::VersionMismatch => ScimError::precondition_failed(format!(
                "{what} has changed since the version given in If-Match; read it again and retry"
            ))
            .into(),
            StoreError::UnknownMembers(ids) => ScimError::invalid_value(format!(
                "these member ids are not users or groups of this realm: {}",
                ids.join(", ")
            ))
            .into(),
            StoreError::MembershipCycle(id) => ScimError::invalid_value(format!(
                "adding group {id} as a member would make a group contain itself"
            ))
            .into(),
            e @ StoreError::Unavailable(_) => ServiceError::Unavailable(e),
            other => ServiceError::Internal(anyhow::Error::new(other)),
        }
    }
}
