//! The admin API's errors as RFC 9457 problem details (`application/problem+json`), in one
//! place; internal causes are logged with the request id, never sent.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{json, Value};

use crate::scim::ScimError;
use crate::service::admin::AdminError;

pub const PROBLEM_JSON: &str = "application/problem+json";

#[derive(Debug)]
pub struct Problem {
    pub status: u16,
    /// The last part of the `type` URN (`urn:scimd:problem:<kind>`).
    pub kind: &'static str,
    pub detail: String,
    pub field: Option<String>,
    pub extra: Option<Box<(&'static str, Value)>>,
}

impl Problem {
    pub fn new(status: u16, kind: &'static str, detail: impl Into<String>) -> Self {
        Problem {
            status,
            kind,
            detail: detail.into(),
            field: None,
            extra: None,
        }
    }
}

impl From<AdminError> for Problem {
    fn from(e: AdminError) -> Self {
        match e {
            AdminError::Invalid { field, detail } => Problem {
                field: Some(field),
                ..Problem::new(400, "invalid-field", detail)
            },
            AdminError::UnknownFields { fields, detail } => Problem {
                field: fields.first().cloned(),
                extra: Some(Box::new(("fields", json!(fields)))),
                ..Problem::new(400, "unknown-field", detail)
            },
            AdminError::Body(d) => Problem::new(400, "invalid-body", d),
            AdminError::NotFound(d) => Problem::new(404, "not-found", d),
            AdminError::Conflict {
                detail,
                existing_id,
            } => Problem {
                extra: Some(Box::new(("existing_id", json!(existing_id)))),
                ..Problem::new(409, "conflict", detail)
            },
            AdminError::NotEmpty(d) => Problem::new(409, "not-empty", d),
            AdminError::Gone(d) => Problem::new(410, "events-pruned", d),
            AdminError::NotConfigured(d) => Problem::new(409, "not-configured", d),
            AdminError::Unauthorized(d) => Problem::new(401, "unauthorized", d),
            AdminError::Forbidden(d) => Problem::new(403, "forbidden", d),
            AdminError::Unavailable(cause) => {
                tracing::warn!(error = %cause, "database unavailable");
                Problem::new(
                    503,
                    "unavailable",
                    "the database is unavailable; retry the request shortly",
                )
            }
            AdminError::Internal(cause) => {
                tracing::error!(error = format!("{cause:#}"), "internal error");
                Problem::new(
                    500,
                    "internal",
                    "the server failed to handle this request; the cause is logged under this \
                     response's X-Request-Id",
                )
            }
        }
    }
}

/// The body extractor's refusals (not JSON, too large, NUL bytes) keep their status.
impl From<ScimError> for Problem {
    fn from(e: ScimError) -> Self {
        let kind = match e.status {
            413 => "too-large",
            408 => "timeout",
            _ => "invalid-body",
        };
        Problem::new(e.status, kind, e.detail)
    }
}

fn title(status: StatusCode) -> &'static str {
    status.canonical_reason().unwrap_or("Error")
}

impl IntoResponse for Problem {
    fn into_response(self) -> Response {
        let status = StatusCode::from_u16(self.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let mut body = json!({
            "type": format!("urn:scimd:problem:{}", self.kind),
            "title": title(status),
            "status": self.status,
            "detail": self.detail,
        });
        if let Some(f) = self.field {
            body["field"] = json!(f);
        }
        if let Some((k, v)) = self.extra.map(|b| *b) {
            body[k] = v;
        }
        let mut resp = (status, serde_json::to_vec(&body).unwrap_or_default()).into_response();
        let headers = resp.headers_mut();
        headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(PROBLEM_JSON));
        if status == StatusCode::UNAUTHORIZED {
            headers.insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Bearer realm=\"scimd-admin\", error=\"invalid_token\""),
            );
        }
        if status == StatusCode::SERVICE_UNAVAILABLE {
            headers.insert(header::RETRY_AFTER, HeaderValue::from_static("5"));
        }
        resp
    }
}
