//! /Users and /Groups: the kind comes from the router, the rest is shared.

use std::sync::Arc;

use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Extension;

use crate::http::error::ApiResult;
use crate::http::extract::{Param, Precondition, QueryParams, ResourceId, ScimBody};
use crate::http::response::{resource, scim_json};
use crate::http::state::AppState;
use crate::scim::schema::ResourceKind;
use crate::service::auth::Principal;
use crate::service::resources::{ListParams, RealmCtx, ResourceService};

/// Per-realm SCIM operation counters for the metrics endpoint (when there is one).
fn count_op(state: &AppState, p: &Principal, kind: ResourceKind, op: &'static str) {
    if !state.metrics {
        return;
    }
    metrics::counter!(
        "scimd_scim_operations_total",
        "tenant" => p.realm.tenant.clone(),
        "realm" => p.realm.name.clone(),
        "resource" => kind.name(),
        "op" => op
    )
    .increment(1);
}

fn projection(
    kind: ResourceKind,
    q: &QueryParams,
) -> ApiResult<crate::scim::projection::Projection> {
    Ok(ResourceService::projection(
        kind,
        q.param(Param::Attributes),
        q.param(Param::ExcludedAttributes),
    )?)
}

pub async fn list(
    State(state): State<AppState>,
    Extension(kind): Extension<ResourceKind>,
    Extension(ctx): Extension<Arc<RealmCtx>>,
    q: QueryParams,
) -> ApiResult<Response> {
    let params = Param::list_params(|p| q.param(p).map(str::to_owned));
    let body = state.services.resources.list(&ctx, kind, &params).await?;
    Ok(scim_json(StatusCode::OK, &body))
}

pub async fn create(
    State(state): State<AppState>,
    Extension(kind): Extension<ResourceKind>,
    Extension(ctx): Extension<Arc<RealmCtx>>,
    Extension(principal): Extension<Arc<Principal>>,
    q: QueryParams,
    ScimBody(body): ScimBody,
) -> ApiResult<Response> {
    let proj = projection(kind, &q)?;
    let out = state
        .services
        .resources
        .create(&ctx, kind, body, &proj)
        .await?;
    count_op(&state, &principal, kind, "create");
    Ok(resource(out, true))
}

pub async fn get(
    State(state): State<AppState>,
    Extension(kind): Extension<ResourceKind>,
    Extension(ctx): Extension<Arc<RealmCtx>>,
    ResourceId(id): ResourceId,
    headers: HeaderMap,
    q: QueryParams,
) -> ApiResult<Response> {
    let proj = projection(kind, &q)?;
    let out = state.services.resources.get(&ctx, kind, &id, &proj).await?;
    let if_none_match = Precondition::from_header(&headers, header::IF_NONE_MATCH);
    let version = out
        .etag
        .trim_start_matches("W/")
        .trim_matches('"')
        .parse::<i64>()
        .unwrap_or(-1);
    if if_none_match.matches(version) {
        let mut resp = StatusCode::NOT_MODIFIED.into_response();
        if let Ok(v) = HeaderValue::from_str(&out.etag) {
            resp.headers_mut().insert(header::ETAG, v);
        }
        return Ok(resp);
    }
    Ok(resource(out, false))
}

// An axum handler takes one argument per extractor; grouping them would only hide that.
#[allow(clippy::too_many_arguments)]
pub async fn replace(
    State(state): State<AppState>,
    Extension(kind): Extension<ResourceKind>,
    Extension(ctx): Extension<Arc<RealmCtx>>,
    Extension(principal): Extension<Arc<Principal>>,
    ResourceId(id): ResourceId,
    headers: HeaderMap,
    q: QueryParams,
    ScimBody(body): ScimBody,
) -> ApiResult<Response> {
    let proj = projection(kind, &q)?;
    let if_match = if_match(&state, &ctx, kind, &id, &headers).await?;
    let out = state
        .services
        .resources
        .replace(&ctx, kind, &id, body, if_match, &proj)
        .await?;
    count_op(&state, &principal, kind, "replace");
    Ok(resource(out, false))
}

pub async fn delete(
    State(state): State<AppState>,
    Extension(kind): Extension<ResourceKind>,
    Extension(ctx): Extension<Arc<RealmCtx>>,
    Extension(principal): Extension<Arc<Principal>>,
    ResourceId(id): ResourceId,
    headers: HeaderMap,
) -> ApiResult<Response> {
    let if_match = if_match(&state, &ctx, kind, &id, &headers).await?;
    state
        .services
        .resources
        .delete(&ctx, kind, &id, if_match)
        .await?;
    count_op(&state, &principal, kind, "delete");
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// The version a write must find, from `If-Match`: the one tag it names, or, when it names
/// several, the current version if it is among them (else 412). `*` and no header: none.
async fn if_match(
    state: &AppState,
    ctx: &RealmCtx,
    kind: ResourceKind,
    id: &str,
    headers: &HeaderMap,
) -> ApiResult<Option<i64>> {
    match Precondition::from_header(headers, header::IF_MATCH) {
        Precondition::Versions(v) if v.len() > 1 => Ok(Some(
            state
                .services
                .resources
                .version_matching(ctx, kind, id, &v)
                .await?,
        )),
        p => Ok(p.expected_version()),
    }
}

/// `Prefer: return=minimal` asks for 204 instead of the resource (COMPAT 24).
fn wants_minimal(headers: &HeaderMap) -> bool {
    headers
        .get_all("prefer")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|p| p.trim().eq_ignore_ascii_case("return=minimal"))
}

// An axum handler takes one argument per extractor; grouping them would only hide that.
#[allow(clippy::too_many_arguments)]
pub async fn patch(
    State(state): State<AppState>,
    Extension(kind): Extension<ResourceKind>,
    Extension(ctx): Extension<Arc<RealmCtx>>,
    Extension(principal): Extension<Arc<Principal>>,
    ResourceId(id): ResourceId,
    headers: HeaderMap,
    q: QueryParams,
    ScimBody(body): ScimBody,
) -> ApiResult<Response> {
    let proj = projection(kind, &q)?;
    let if_match = if_match(&state, &ctx, kind, &id, &headers).await?;
    let out = state
        .services
        .resources
        .patch(&ctx, kind, &id, body, if_match, &proj)
        .await?;
    count_op(&state, &principal, kind, "patch");
    if wants_minimal(&headers) {
        let mut resp = StatusCode::NO_CONTENT.into_response();
        if let Ok(v) = HeaderValue::from_str(&out.etag) {
            resp.headers_mut().insert(header::ETAG, v);
        }
        return Ok(resp);
    }
    Ok(resource(out, false))
}

/// Reads a SearchRequest (RFC 7644 §3.4.3) into list parameters. `attributes` may be an array
/// or a comma-separated string; numbers may arrive as strings.
fn search_params(body: serde_json::Value) -> ApiResult<ListParams> {
    let serde_json::Value::Object(obj) = body else {
        return Err(crate::scim::ScimError::invalid_syntax(
            "a search body is a JSON object (a SearchRequest)",
        )
        .into());
    };
    let get = |name: &str| {
        obj.iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v)
    };
    let text = |name: &str| -> Option<String> {
        match get(name)? {
            serde_json::Value::String(s) => Some(s.clone()),
            serde_json::Value::Number(n) => Some(n.to_string()),
            serde_json::Value::Array(items) => Some(
                items
                    .iter()
                    .filter_map(|i| i.as_str())
                    .collect::<Vec<_>>()
                    .join(","),
            ),
            _ => None,
        }
    };
    Ok(Param::list_params(|p| text(p.name())))
}

pub async fn search(
    State(state): State<AppState>,
    Extension(kind): Extension<ResourceKind>,
    Extension(ctx): Extension<Arc<RealmCtx>>,
    ScimBody(body): ScimBody,
) -> ApiResult<Response> {
    let params = search_params(body)?;
    let body = state.services.resources.list(&ctx, kind, &params).await?;
    Ok(scim_json(StatusCode::OK, &body))
}

pub async fn search_root(
    State(state): State<AppState>,
    Extension(ctx): Extension<Arc<RealmCtx>>,
    ScimBody(body): ScimBody,
) -> ApiResult<Response> {
    let params = search_params(body)?;
    let body = state.services.resources.search_all(&ctx, &params).await?;
    Ok(scim_json(StatusCode::OK, &body))
}
