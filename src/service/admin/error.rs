//! The admin API's failures, as the service decides them; the HTTP layer renders each as an
//! RFC 9457 problem, the CLI as a line of text.

use crate::store::StoreError;

#[derive(Debug, thiserror::Error)]
pub enum AdminError {
    /// A field's value is not acceptable.
    #[error("{detail}")]
    Invalid { field: String, detail: String },
    /// Fields the object does not have (or that cannot be set).
    #[error("{detail}")]
    UnknownFields { fields: Vec<String>, detail: String },
    /// The body is not a JSON object at all.
    #[error("{0}")]
    Body(String),
    #[error("{0}")]
    NotFound(String),
    /// The name is taken; `existing_id` names who has it.
    #[error("{detail}")]
    Conflict { detail: String, existing_id: String },
    /// Refused because it still holds data (`?force=true` overrides).
    #[error("{0}")]
    NotEmpty(String),
    /// What was asked for is gone for good (events pruned past a reader's cursor).
    #[error("{0}")]
    Gone(String),
    /// The server lacks a setting this needs (a key-encryption key, say).
    #[error("{0}")]
    NotConfigured(String),
    #[error("{0}")]
    Unauthorized(String),
    #[error("{0}")]
    Forbidden(String),
    /// The database cannot serve just now.
    #[error("database unavailable: {0}")]
    Unavailable(StoreError),
    #[error("internal error: {0:#}")]
    Internal(anyhow::Error),
}

pub type AdminResult<T> = Result<T, AdminError>;

impl AdminError {
    pub fn invalid(field: &str, detail: impl Into<String>) -> Self {
        AdminError::Invalid {
            field: field.to_owned(),
            detail: detail.into(),
        }
    }
}

impl From<StoreError> for AdminError {
    fn from(e: StoreError) -> Self {
        match e {
            e @ StoreError::Unavailable(_) => AdminError::Unavailable(e),
            e => AdminError::Internal(anyhow::Error::new(e)),
        }
    }
}
