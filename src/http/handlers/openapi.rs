//! GET /openapi.json, without authentication.

use axum::http::header;
use axum::response::{IntoResponse, Response};

pub async fn document() -> Response {
    (
        [(header::CONTENT_TYPE, "application/json")],
        crate::http::openapi::json(),
    )
        .into_response()
}
