//! SCIM responses: `application/scim+json` bodies with Location and ETag where they belong.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::Value;

use crate::service::resources::ResourceOut;

pub const SCIM_CONTENT_TYPE: &str = "application/scim+json; charset=utf-8";

pub fn scim_json(status: StatusCode, body: &Value) -> Response {
    let bytes = serde_json::to_vec(body).unwrap_or_default();
    (
        status,
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static(SCIM_CONTENT_TYPE),
        )],
        bytes,
    )
        .into_response()
}

/// A single resource with its ETag; `created` adds the 201 status and `Location` header.
pub fn resource(out: ResourceOut, created: bool) -> Response {
    let status = if created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    let mut resp = scim_json(status, &out.body);
    let h = resp.headers_mut();
    if let Ok(v) = HeaderValue::from_str(&out.etag) {
        h.insert(header::ETAG, v);
    }
    if created {
        if let Ok(v) = HeaderValue::from_str(&out.location) {
            h.insert(header::LOCATION, v);
        }
    }
    resp
}
