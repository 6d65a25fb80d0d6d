//! The HTTP edge: routes, extractors, auth middleware, and SCIM-shaped responses and errors.

pub mod admin;
pub mod error;
pub mod extract;
pub mod handlers;
pub mod limits;
pub mod metrics;
pub mod oauth;
pub mod openapi;
pub mod realm;
pub mod response;
pub mod routes;
pub mod state;

use std::time::Duration;

use axum::extract::Request;
use axum::http::{HeaderName, Method, StatusCode, Uri};
use axum::middleware;
use axum::response::Response;
use axum::routing::get;
use axum::Router;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::trace::TraceLayer;

use self::error::error_response;
use self::state::AppState;
use crate::scim::ScimError;

const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// The metrics listener's router: /metrics only.
pub fn metrics_router(state: AppState) -> Router {
    Router::new()
        .route("/metrics", get(self::metrics::render))
        .with_state(state)
}

pub fn router(state: AppState) -> Router {
    routes::mount(&state)
        .merge(admin::router(&state))
        .merge(oauth::router())
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(middleware::from_fn_with_state(
            state.clone(),
            self::metrics::observe,
        ))
        .layer(middleware::from_fn_with_state(state.clone(), limits::guard))
        .with_state(state)
        .layer(CatchPanicLayer::custom(|_| {
            error_response(&ScimError::new(
                500,
                None,
                "the server failed to handle this request; the cause is logged",
            ))
        }))
        .layer(
            TraceLayer::new_for_http()
                .make_span_with(|req: &Request| {
                    let id = req
                        .headers()
                        .get(REQUEST_ID)
                        .and_then(|v| v.to_str().ok())
                        .unwrap_or("-");
                    tracing::info_span!(
                        "request",
                        request_id = %id,
                        method = %req.method(),
                        path = %req.uri().path(),
                        route = tracing::field::Empty,
                        tenant = tracing::field::Empty,
                        realm = tracing::field::Empty,
                        token_id = tracing::field::Empty,
                    )
                })
                .on_request(())
                .on_response(
                    |resp: &Response, latency: Duration, _span: &tracing::Span| {
                        tracing::info!(
                            status = resp.status().as_u16(),
                            latency_ms = latency.as_secs_f64() * 1000.0,
                            "served"
                        );
                    },
                )
                .on_failure(()),
        )
        .layer(PropagateRequestIdLayer::new(REQUEST_ID))
        .layer(SetRequestIdLayer::new(REQUEST_ID, MakeRequestUuid))
}

async fn not_found(uri: Uri) -> Response {
    if admin::is_admin_path(uri.path()) {
        return axum::response::IntoResponse::into_response(admin::problem::Problem::new(
            404,
            "not-found",
            format!(
                "no admin endpoint at {}; the calls are listed in /admin/openapi.json",
                uri.path()
            ),
        ));
    }
    error_response(&ScimError::not_found(format!(
        "no endpoint at {}; SCIM endpoints live under /v1/tenants/{{tenant}}/realms/{{realm}}/scim/v2 \
         and /scim/v2",
        uri.path()
    )))
}

async fn method_not_allowed(method: Method, uri: Uri) -> Response {
    error_response(&ScimError::new(
        StatusCode::METHOD_NOT_ALLOWED.as_u16(),
        None,
        format!("{method} is not allowed on {}", uri.path()),
    ))
}

/// The resource endpoints in the case links are written in; a request may name them in any
/// case (some IdP validators send `/users`).
const ENDPOINTS: [&str; 7] = [
    "Users",
    "Groups",
    "Schemas",
    "ResourceTypes",
    "ServiceProviderConfig",
    ".search",
    "Bulk",
];

/// Where the endpoint segment of a SCIM path is: after `/scim/v2` or after
/// `/v1/tenants/{t}/realms/{r}/scim/v2`.
fn endpoint_index(segs: &[&str]) -> Option<usize> {
    match segs {
        ["scim", "v2", _, ..] => Some(2),
        ["v1", "tenants", _, "realms", _, "scim", "v2", _, ..] => Some(7),
        _ => None,
    }
}

/// Before routing: collapses repeated slashes and drops a trailing one, so a base URL
/// configured with a trailing slash works (COMPAT 2), and spells resource endpoints in their
/// canonical case (`/users` → `/Users`, `/Users/.SEARCH` → `/Users/.search`). Links scimd
/// writes always use the canonical case, whatever the request used.
pub fn normalize_path(mut req: Request) -> Request {
    let uri = req.uri();
    let path = uri.path();
    let mut segs: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
    let mut changed = path.len() > 1 && (path.ends_with('/') || path.contains("//"));
    if let Some(i) = endpoint_index(&segs) {
        let after_collection = matches!(segs[i].to_ascii_lowercase().as_str(), "users" | "groups");
        // Only `/.search` follows a collection by name; any other segment there is an id.
        let search_next = after_collection
            && segs
                .get(i + 1)
                .is_some_and(|s| s.eq_ignore_ascii_case(".search"));
        let n = 1 + usize::from(search_next);
        for seg in segs.iter_mut().skip(i).take(n) {
            if let Some(canon) = ENDPOINTS.iter().find(|e| e.eq_ignore_ascii_case(seg)) {
                if seg != canon {
                    *seg = canon;
                    changed = true;
                }
            }
        }
    }
    if !changed {
        return req;
    }
    let mut clean = String::with_capacity(path.len() + 1);
    for seg in &segs {
        clean.push('/');
        clean.push_str(seg);
    }
    if clean.is_empty() {
        clean.push('/');
    }
    if let Some(q) = uri.query() {
        clean.push('?');
        clean.push_str(q);
    }
    let mut parts = uri.clone().into_parts();
    if let Ok(pq) = clean.parse() {
        parts.path_and_query = Some(pq);
        if let Ok(new) = Uri::from_parts(parts) {
            *req.uri_mut() = new;
        }
    }
    req
}
