//! The one place errors become HTTP responses: always a SCIM Error body, and internal causes
//! logged (inside the request's span, so with its request id) but never sent.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};

use super::response::scim_json;
use crate::scim::ScimError;
use crate::service::ServiceError;

#[derive(Debug)]
pub struct ApiError(pub ServiceError);

impl From<ServiceError> for ApiError {
    fn from(e: ServiceError) -> Self {
        ApiError(e)
    }
}

impl From<ScimError> for ApiError {
    fn from(e: ScimError) -> Self {
        ApiError(ServiceError::Scim(e))
    }
}

pub type ApiResult<T> = Result<T, ApiError>;

/// Seconds a client is told to wait when the database is unavailable: about what a database
/// restart or failover takes.
const UNAVAILABLE_RETRY_AFTER: &str = "5";

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let e = match self.0 {
            ServiceError::Scim(e) | ServiceError::Refused { error: e, .. } => e,
            ServiceError::TooManyFailures(wait) => {
                let secs = wait.as_secs() + 1;
                let mut resp = error_response(&ScimError::new(
                    429,
                    None,
                    format!(
                        "too many failed authentications for this realm from this address (or \
                         for this Basic username); retry after {secs} s"
                    ),
                ));
                resp.headers_mut()
                    .insert(header::RETRY_AFTER, HeaderValue::from(secs));
                return resp;
            }
            ServiceError::InsufficientScope(e) => {
                let mut resp = error_response(&e);
                resp.headers_mut().insert(
                    header::WWW_AUTHENTICATE,
                    HeaderValue::from_static(
                        "Bearer realm=\"scimd\", error=\"insufficient_scope\", scope=\"scim:all\"",
                    ),
                );
                return resp;
            }
            ServiceError::Unavailable(cause) => {
                tracing::warn!(error = %cause, "database unavailable");
                let mut resp = error_response(&ScimError::new(
                    503,
                    None,
                    "the database is unavailable; retry the request shortly",
                ));
                resp.headers_mut().insert(
                    header::RETRY_AFTER,
                    HeaderValue::from_static(UNAVAILABLE_RETRY_AFTER),
                );
                return resp;
            }
            ServiceError::Internal(cause) => {
                tracing::error!(error = format!("{cause:#}"), "internal error");
                ScimError::new(
                    500,
                    None,
                    "the server failed to handle this request; the cause is logged under this \
                     response's X-Request-Id",
                )
            }
        };
        error_response(&e)
    }
}

pub fn error_response(e: &ScimError) -> Response {
    let status = StatusCode::from_u16(e.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let mut resp = scim_json(status, &e.to_json());
    if status == StatusCode::UNAUTHORIZED {
        resp.headers_mut().insert(
            header::WWW_AUTHENTICATE,
            HeaderValue::from_static("Bearer realm=\"scimd\", error=\"invalid_token\""),
        );
    }
    resp
}
