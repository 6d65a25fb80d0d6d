//! The change feed read with a realm's own credential (a token, an OAuth access token, Basic
//! or a trusted issuer's JWT) carrying the `events:read` scope, answered like every admin call
//! (problem details), the caller acting as that credential on that realm only.

use std::sync::Arc;

use axum::extract::{FromRequestParts, RawPathParams, Request};
use axum::http::{header, HeaderValue};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::problem::Problem;
use super::AdminCtx;
use crate::http::extract::credential;
use crate::http::state::AppState;
use crate::service::admin::{Actor, AdminError};
use crate::service::auth::{Caller, Intent};
use crate::service::ServiceError;

/// A refused SCIM credential as a problem: the same statuses the SCIM API answers.
fn refusal(e: ServiceError) -> Response {
    match e {
        ServiceError::Scim(e) | ServiceError::InsufficientScope(e) => {
            let kind = match e.status {
                401 => "unauthorized",
                403 => "forbidden",
                404 => "not-found",
                _ => "invalid-field",
            };
            Problem::new(e.status, kind, e.detail).into_response()
        }
        ServiceError::Refused { error, .. } => {
            let mut resp = Problem::new(401, "unauthorized", error.detail).into_response();
            resp.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Bearer error=\"invalid_token\""),
            );
            resp
        }
        ServiceError::TooManyFailures(wait) => super::too_many_requests(wait.as_secs() + 1),
        ServiceError::Unavailable(cause) => {
            Problem::from(AdminError::Unavailable(cause)).into_response()
        }
        ServiceError::Internal(cause) => Problem::from(AdminError::Internal(cause)).into_response(),
    }
}

pub async fn authenticate(
    state: AppState,
    req: Request,
    next: Next,
    address: Option<String>,
) -> Response {
    let (mut parts, body) = req.into_parts();
    let Ok(params) = RawPathParams::from_request_parts(&mut parts, &state).await else {
        return Problem::new(
            400,
            "invalid-field",
            "the path is not UTF-8 once percent-decoded",
        )
        .into_response();
    };
    let seg = |name: &str| {
        params
            .iter()
            .find(|(k, _)| *k == name)
            .map(|(_, v)| v.to_owned())
            .unwrap_or_default()
    };
    let (tenant, realm) = (seg("tenant"), seg("realm"));
    let cred = credential(&parts.headers);
    let principal = match state
        .services
        .auth
        .authorize(
            &tenant,
            &realm,
            cred.as_ref(),
            true,
            Intent::Events,
            Caller {
                address: address.as_deref(),
                request_id: crate::http::realm::request_id_of(&parts.headers).as_deref(),
            },
        )
        .await
    {
        Ok(p) => p,
        Err(e) => return refusal(e),
    };
    if let Err(wait) = state
        .limits
        .check_rate(&principal.realm.id, principal.token_id())
    {
        return crate::http::limits::too_many_requests(wait);
    }
    let mut req = Request::from_parts(parts, body);
    let origin = crate::http::realm::origin(&state, &req);
    req.extensions_mut().insert(Arc::new(AdminCtx {
        services: state.services.clone(),
        // A tenant admin of one tenant in effect, for this one realm: the feed's handler asks
        // only for this realm.
        actor: Actor {
            id: principal.actor(),
            tenant: Some(tenant),
            address,
            request_id: None,
        },
        origin,
    }));
    next.run(req).await
}
