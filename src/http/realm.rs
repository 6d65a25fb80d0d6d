//! Realm resolution and authentication for everything under a SCIM base path.

use std::collections::HashMap;
use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::header;
use axum::http::HeaderValue;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::error::ApiError;
use super::extract::credential;
use super::state::AppState;
use crate::scim::ScimError;
use crate::service::admin::{DEFAULT_REALM, DEFAULT_TENANT};
use crate::service::auth::{Caller, Credential, Intent, Principal};
use crate::service::resources::RealmCtx;

/// Marks the discovery routes, whose token requirement is a configuration switch.
#[derive(Clone, Copy)]
pub struct Discovery;

pub async fn resolve_realm(
    State(state): State<AppState>,
    params: Result<axum::extract::RawPathParams, axum::extract::rejection::RawPathParamsRejection>,
    mut req: Request,
    next: Next,
) -> Result<Response, ApiError> {
    // axum's own rejection (a tenant or realm that is not UTF-8) is plain text.
    let params = params.map_err(|_| {
        ScimError::invalid_value(
            "the tenant or realm in the path is not UTF-8 once percent-decoded",
        )
    })?;
    let (tenant, realm, prefix) = realm_path(&params);
    let discovery = req.extensions().get::<Discovery>().is_some();
    let token_required = !discovery || state.discovery_requires_auth;
    let cred = credential(req.headers());
    let principal = match state
        .services
        .auth
        .authorize(
            &tenant,
            &realm,
            cred.as_ref(),
            token_required,
            intent(&req),
            Caller {
                address: client_address(&state, &req).as_deref(),
                request_id: request_id(&req).as_deref(),
            },
        )
        .await
    {
        Ok(p) => p,
        Err(e) => return Ok(challenge(ApiError(e).into_response(), cred.as_ref())),
    };
    if let Err(wait) = state
        .limits
        .check_rate(&principal.realm.id, principal.token_id())
    {
        return Ok(super::limits::too_many_requests(wait));
    }
    record_caller(&tenant, &realm, &principal);
    // Behind an Arc: each handler's `Extension` extractor clones what it takes out.
    let ctx = Arc::new(RealmCtx {
        realm: principal.realm.clone(),
        base_url: format!("{}{prefix}", origin(&state, &req)),
        actor: principal.actor(),
        request_id: request_id(&req),
    });
    req.extensions_mut().insert(ctx);
    req.extensions_mut().insert(Arc::new(principal));
    Ok(next.run(req).await)
}

/// The id the request-id layer gave the request (or the client's own, which it keeps),
/// bounded: it is stored with every change the request makes.
pub fn request_id(req: &Request) -> Option<String> {
    request_id_of(req.headers())
}

/// The `X-Request-Id` among `headers`, cut to 128 characters.
pub fn request_id_of(headers: &axum::http::HeaderMap) -> Option<String> {
    let id = headers.get("x-request-id")?.to_str().ok()?;
    Some(id.chars().take(128).collect())
}

/// A 401 challenges with the scheme the client used (RFC 7235 §4.1); one that sent nothing
/// is offered both.
fn challenge(mut resp: Response, cred: Option<&Credential>) -> Response {
    if resp.status() != axum::http::StatusCode::UNAUTHORIZED {
        return resp;
    }
    let basic = HeaderValue::from_static("Basic realm=\"scimd\", charset=\"UTF-8\"");
    let headers = resp.headers_mut();
    match cred {
        Some(Credential::Basic { .. }) | Some(Credential::Malformed) => {
            headers.insert(header::WWW_AUTHENTICATE, basic);
        }
        Some(Credential::Bearer(_)) => {}
        None => {
            // Nothing was sent, so nothing was invalid: RFC 6750 §3.1 says no error code.
            headers.insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Bearer realm=\"scimd\""),
            );
            headers.append(header::WWW_AUTHENTICATE, basic);
        }
    }
    resp
}

/// Reads are GET (and HEAD) and the `.search` POSTs; everything else writes.
fn intent(req: &Request) -> Intent {
    let m = req.method();
    if m == axum::http::Method::GET
        || m == axum::http::Method::HEAD
        || req.uri().path().ends_with("/.search")
    {
        Intent::Read
    } else {
        Intent::Write
    }
}

/// The tenant and realm a SCIM path names, and its base path; `/scim/v2` names the default
/// realm of the default tenant.
fn realm_path(params: &axum::extract::RawPathParams) -> (String, String, String) {
    let params: HashMap<&str, &str> = params.iter().collect();
    match (params.get("tenant"), params.get("realm")) {
        (Some(t), Some(r)) => (
            (*t).to_owned(),
            (*r).to_owned(),
            format!("/v1/tenants/{t}/realms/{r}/scim/v2"),
        ),
        _ => (
            DEFAULT_TENANT.to_owned(),
            DEFAULT_REALM.to_owned(),
            "/scim/v2".to_owned(),
        ),
    }
}

/// Names the caller in the request's span, for its log lines.
fn record_caller(tenant: &str, realm: &str, principal: &Principal) {
    let span = tracing::Span::current();
    span.record("tenant", tenant);
    span.record("realm", realm);
    if let Some(t) = principal.token_id() {
        span.record("token_id", t);
    }
}

/// scheme://host[:port] as the client sees us: configured; else X-Forwarded-Host/-Proto when
/// the peer is a trusted proxy; else the request's own Host over plain HTTP. Forwarded headers
/// from anyone else are ignored: they would let any client choose the host of every link.
pub(super) fn origin(state: &AppState, req: &Request) -> String {
    if !state.public_url.is_empty() {
        return state.public_url.trim_end_matches('/').to_owned();
    }
    let headers = req.headers();
    let peer = req
        .extensions()
        .get::<axum::extract::ConnectInfo<std::net::SocketAddr>>()
        .map(|c| c.0.ip());
    let trusted = peer.is_some_and(|ip| state.trusted_proxies.iter().any(|n| n.contains(&ip)));
    // A chain of proxies appends: the first value is what the client asked for.
    let forwarded = |name: &str| {
        trusted
            .then(|| headers.get(name)?.to_str().ok()?.split(',').next())
            .flatten()
            .map(str::trim)
            .filter(|v| !v.is_empty())
    };
    let host = forwarded("x-forwarded-host")
        .or_else(|| headers.get(header::HOST).and_then(|v| v.to_str().ok()))
        .unwrap_or("localhost");
    let proto = forwarded("x-forwarded-proto")
        .filter(|p| p.eq_ignore_ascii_case("https") || p.eq_ignore_ascii_case("http"))
        .unwrap_or("http");
    format!("{proto}://{host}")
}

/// The client's address for the audit record: the peer, or the first `X-Forwarded-For` hop
/// when the peer is a trusted proxy (anyone else could write any address there).
pub(super) fn client_address(state: &AppState, req: &Request) -> Option<String> {
    let peer = req
        .extensions()
        .get::<axum::extract::ConnectInfo<std::net::SocketAddr>>()?
        .0
        .ip();
    let trusted = state.trusted_proxies.iter().any(|n| n.contains(&peer));
    let forwarded = trusted
        .then(|| {
            let v = req.headers().get("x-forwarded-for")?.to_str().ok()?;
            v.split(',').next()?.trim().parse::<std::net::IpAddr>().ok()
        })
        .flatten();
    Some(forwarded.unwrap_or(peer).to_string())
}
