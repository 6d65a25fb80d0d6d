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

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let e = match self.0 {
            ServiceError::Scim(e) => e,
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
