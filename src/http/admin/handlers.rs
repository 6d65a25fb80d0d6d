//! One handler per admin call: read the path, query and body, call the admin service, shape
//! the reply. Permission checks and validation are the service's.

use std::collections::HashMap;

use axum::extract::{FromRequestParts, RawPathParams};
use axum::http::request::Parts;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use serde::Serialize;

use super::problem::Problem;
use super::{AdminBody, AdminQuery, Ctx};

type Reply = Result<Response, Problem>;

/// The path's named segments, percent-decoded; not UTF-8 is a problem, not axum's plain text.
pub struct Seg(HashMap<String, String>);

impl<S: Send + Sync> FromRequestParts<S> for Seg {
    type Rejection = Problem;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let raw = RawPathParams::from_request_parts(parts, state)
            .await
            .map_err(|_| {
                Problem::new(
                    400,
                    "invalid-field",
                    "the path is not UTF-8 once percent-decoded",
                )
            })?;
        Ok(Seg(raw
            .iter()
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .collect()))
    }
}

impl Seg {
    fn get(&self, name: &str) -> &str {
        self.0.get(name).map(String::as_str).unwrap_or_default()
    }
    fn tenant(&self) -> &str {
        self.get("tenant")
    }
    fn realm(&self) -> &str {
        self.get("realm")
    }
    fn id(&self) -> &str {
        self.get("id")
    }
}

fn ok(body: impl Serialize) -> Reply {
    Ok(Json(body).into_response())
}

/// 201 with the whole object and where it lives.
fn created(location: String, body: impl Serialize) -> Reply {
    let mut resp = (StatusCode::CREATED, Json(body)).into_response();
    if let Ok(v) = HeaderValue::from_str(&location) {
        resp.headers_mut().insert(header::LOCATION, v);
    }
    Ok(resp)
}

fn gone() -> Reply {
    Ok(StatusCode::NO_CONTENT.into_response())
}

// Tenants

pub async fn list_tenants(Extension(c): Ctx, q: AdminQuery) -> Reply {
    let page = q.page()?;
    ok(c.svc().list_tenants_page(&c.actor, &page).await?)
}

pub async fn create_tenant(Extension(c): Ctx, q: AdminQuery, AdminBody(body): AdminBody) -> Reply {
    q.none()?;
    let t = c.svc().create_tenant_from(&c.actor, body).await?;
    created(format!("{}/v1/tenants/{}", c.origin, t.id), t)
}

pub async fn get_tenant(Extension(c): Ctx, p: Seg, q: AdminQuery) -> Reply {
    q.none()?;
    ok(c.svc().get_tenant(&c.actor, p.tenant()).await?)
}

pub async fn update_tenant(
    Extension(c): Ctx,
    p: Seg,
    q: AdminQuery,
    AdminBody(body): AdminBody,
) -> Reply {
    q.none()?;
    ok(c.svc().update_tenant(&c.actor, p.tenant(), body).await?)
}

pub async fn delete_tenant(Extension(c): Ctx, p: Seg, q: AdminQuery) -> Reply {
    let force = q.force()?;
    c.svc().delete_tenant(&c.actor, p.tenant(), force).await?;
    gone()
}

// Realms

pub async fn list_realms(Extension(c): Ctx, p: Seg, q: AdminQuery) -> Reply {
    let page = q.page()?;
    ok(c.svc()
        .list_realms_page(&c.actor, p.tenant(), &page, &c.origin)
        .await?)
}

pub async fn create_realm(
    Extension(c): Ctx,
    p: Seg,
    q: AdminQuery,
    AdminBody(body): AdminBody,
) -> Reply {
    q.none()?;
    let r = c
        .svc()
        .create_realm_from(&c.actor, p.tenant(), body, &c.origin)
        .await?;
    created(
        format!("{}/v1/tenants/{}/realms/{}", c.origin, r.tenant_id, r.id),
        r,
    )
}

pub async fn get_realm(Extension(c): Ctx, p: Seg, q: AdminQuery) -> Reply {
    q.none()?;
    ok(c.svc()
        .get_realm(&c.actor, p.tenant(), p.realm(), &c.origin)
        .await?)
}

pub async fn update_realm(
    Extension(c): Ctx,
    p: Seg,
    q: AdminQuery,
    AdminBody(body): AdminBody,
) -> Reply {
    q.none()?;
    ok(c.svc()
        .update_realm(&c.actor, p.tenant(), p.realm(), body, &c.origin)
        .await?)
}

pub async fn delete_realm(Extension(c): Ctx, p: Seg, q: AdminQuery) -> Reply {
    let force = q.force()?;
    c.svc()
        .delete_realm(&c.actor, p.tenant(), p.realm(), force)
        .await?;
    gone()
}

// SCIM tokens

fn token_location(origin: &str, t: &crate::service::admin::view::TokenView) -> String {
    format!(
        "{origin}/v1/tenants/{}/realms/{}/tokens/{}",
        t.tenant_id, t.realm_id, t.id
    )
}

pub async fn list_tokens(Extension(c): Ctx, p: Seg, q: AdminQuery) -> Reply {
    let page = q.page()?;
    ok(c.svc()
        .list_tokens_page(&c.actor, p.tenant(), p.realm(), &page)
        .await?)
}

pub async fn create_token(
    Extension(c): Ctx,
    p: Seg,
    q: AdminQuery,
    AdminBody(body): AdminBody,
) -> Reply {
    q.none()?;
    let t = c
        .svc()
        .create_token_from(&c.actor, p.tenant(), p.realm(), body)
        .await?;
    created(token_location(&c.origin, &t), t)
}

pub async fn get_token(Extension(c): Ctx, p: Seg, q: AdminQuery) -> Reply {
    q.none()?;
    ok(c.svc()
        .get_token(&c.actor, p.tenant(), p.realm(), p.id())
        .await?)
}

pub async fn update_token(
    Extension(c): Ctx,
    p: Seg,
    q: AdminQuery,
    AdminBody(body): AdminBody,
) -> Reply {
    q.none()?;
    ok(c.svc()
        .update_token(&c.actor, p.tenant(), p.realm(), p.id(), body)
        .await?)
}

pub async fn revoke_token(Extension(c): Ctx, p: Seg, q: AdminQuery) -> Reply {
    q.none()?;
    c.svc()
        .revoke_token_by(&c.actor, p.tenant(), p.realm(), p.id())
        .await?;
    gone()
}

/// The body is optional: no body rotates with the default grace period.
/// The body of a call whose options all have defaults: none at all means `{}`.
fn optional_body(body: &[u8]) -> Result<serde_json::Value, Problem> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(serde_json::json!({}));
    }
    serde_json::from_slice(body).map_err(|e| {
        Problem::new(
            400,
            "invalid-body",
            format!("the request body is not valid JSON: {e}"),
        )
    })
}

pub async fn rotate_token(
    Extension(c): Ctx,
    p: Seg,
    q: AdminQuery,
    body: axum::body::Bytes,
) -> Reply {
    q.none()?;
    let body = optional_body(&body)?;
    let t = c
        .svc()
        .rotate_token(&c.actor, p.tenant(), p.realm(), p.id(), body)
        .await?;
    created(token_location(&c.origin, &t), t)
}

// OAuth clients

fn client_location(origin: &str, c: &crate::service::admin::view::ClientView) -> String {
    format!(
        "{origin}/v1/tenants/{}/realms/{}/oauth-clients/{}",
        c.tenant_id, c.realm_id, c.id
    )
}

pub async fn list_clients(Extension(c): Ctx, p: Seg, q: AdminQuery) -> Reply {
    let page = q.page()?;
    ok(c.svc()
        .list_clients_page(&c.actor, p.tenant(), p.realm(), &page, &c.origin)
        .await?)
}

pub async fn create_client(
    Extension(c): Ctx,
    p: Seg,
    q: AdminQuery,
    AdminBody(body): AdminBody,
) -> Reply {
    q.none()?;
    let v = c
        .svc()
        .create_client_from(&c.actor, p.tenant(), p.realm(), body, &c.origin)
        .await?;
    created(client_location(&c.origin, &v), v)
}

pub async fn get_client(Extension(c): Ctx, p: Seg, q: AdminQuery) -> Reply {
    q.none()?;
    ok(c.svc()
        .get_client(&c.actor, p.tenant(), p.realm(), p.id(), &c.origin)
        .await?)
}

pub async fn update_client(
    Extension(c): Ctx,
    p: Seg,
    q: AdminQuery,
    AdminBody(body): AdminBody,
) -> Reply {
    q.none()?;
    ok(c.svc()
        .update_client(&c.actor, p.tenant(), p.realm(), p.id(), body, &c.origin)
        .await?)
}

pub async fn delete_client(Extension(c): Ctx, p: Seg, q: AdminQuery) -> Reply {
    q.none()?;
    c.svc()
        .delete_client(&c.actor, p.tenant(), p.realm(), p.id())
        .await?;
    gone()
}

pub async fn create_client_secret(
    Extension(c): Ctx,
    p: Seg,
    q: AdminQuery,
    AdminBody(body): AdminBody,
) -> Reply {
    q.none()?;
    let s = c
        .svc()
        .create_client_secret(&c.actor, p.tenant(), p.realm(), p.id(), body)
        .await?;
    let location = format!(
        "{}/v1/tenants/{}/realms/{}/oauth-clients/{}/secrets/{}",
        c.origin,
        p.tenant(),
        p.realm(),
        p.id(),
        s.id
    );
    created(location, s)
}

pub async fn revoke_client_secret(Extension(c): Ctx, p: Seg, q: AdminQuery) -> Reply {
    q.none()?;
    c.svc()
        .revoke_client_secret(&c.actor, p.tenant(), p.realm(), p.id(), p.get("secret"))
        .await?;
    gone()
}

pub async fn create_federated(
    Extension(c): Ctx,
    p: Seg,
    q: AdminQuery,
    AdminBody(body): AdminBody,
) -> Reply {
    q.none()?;
    let f = c
        .svc()
        .create_federated(&c.actor, p.tenant(), p.realm(), p.id(), body)
        .await?;
    let location = format!(
        "{}/v1/tenants/{}/realms/{}/oauth-clients/{}/federated-credentials/{}",
        c.origin,
        p.tenant(),
        p.realm(),
        p.id(),
        f.id
    );
    created(location, f)
}

pub async fn delete_federated(Extension(c): Ctx, p: Seg, q: AdminQuery) -> Reply {
    q.none()?;
    c.svc()
        .delete_federated(&c.actor, p.tenant(), p.realm(), p.id(), p.get("credential"))
        .await?;
    gone()
}

// Trusted issuers (JWT bearer)

pub async fn list_trusted_issuers(Extension(c): Ctx, p: Seg, q: AdminQuery) -> Reply {
    q.none()?;
    ok(c.svc()
        .list_trusted_issuers(&c.actor, p.tenant(), p.realm())
        .await?)
}

pub async fn create_trusted_issuer(
    Extension(c): Ctx,
    p: Seg,
    q: AdminQuery,
    AdminBody(body): AdminBody,
) -> Reply {
    q.none()?;
    let t = c
        .svc()
        .create_trusted_issuer(&c.actor, p.tenant(), p.realm(), body)
        .await?;
    let location = format!(
        "{}/v1/tenants/{}/realms/{}/trusted-issuers/{}",
        c.origin,
        p.tenant(),
        p.realm(),
        t.id
    );
    created(location, t)
}

pub async fn get_trusted_issuer(Extension(c): Ctx, p: Seg, q: AdminQuery) -> Reply {
    q.none()?;
    ok(c.svc()
        .get_trusted_issuer(&c.actor, p.tenant(), p.realm(), p.id())
        .await?)
}

pub async fn update_trusted_issuer(
    Extension(c): Ctx,
    p: Seg,
    q: AdminQuery,
    AdminBody(body): AdminBody,
) -> Reply {
    q.none()?;
    ok(c.svc()
        .update_trusted_issuer(&c.actor, p.tenant(), p.realm(), p.id(), body)
        .await?)
}

pub async fn delete_trusted_issuer(Extension(c): Ctx, p: Seg, q: AdminQuery) -> Reply {
    q.none()?;
    c.svc()
        .delete_trusted_issuer(&c.actor, p.tenant(), p.realm(), p.id())
        .await?;
    gone()
}

// HTTP Basic credentials

pub async fn list_basic_credentials(Extension(c): Ctx, p: Seg, q: AdminQuery) -> Reply {
    q.none()?;
    ok(c.svc()
        .list_basic_credentials(&c.actor, p.tenant(), p.realm())
        .await?)
}

pub async fn create_basic_credential(
    Extension(c): Ctx,
    p: Seg,
    q: AdminQuery,
    AdminBody(body): AdminBody,
) -> Reply {
    q.none()?;
    let b = c
        .svc()
        .create_basic_credential(&c.actor, p.tenant(), p.realm(), body)
        .await?;
    let location = format!(
        "{}/v1/tenants/{}/realms/{}/basic-credentials/{}",
        c.origin,
        p.tenant(),
        p.realm(),
        b.id
    );
    created(location, b)
}

pub async fn get_basic_credential(Extension(c): Ctx, p: Seg, q: AdminQuery) -> Reply {
    q.none()?;
    ok(c.svc()
        .get_basic_credential(&c.actor, p.tenant(), p.realm(), p.id())
        .await?)
}

pub async fn delete_basic_credential(Extension(c): Ctx, p: Seg, q: AdminQuery) -> Reply {
    q.none()?;
    c.svc()
        .delete_basic_credential(&c.actor, p.tenant(), p.realm(), p.id())
        .await?;
    gone()
}

// Admin tokens: global when the path names no tenant.

fn admin_token_location(origin: &str, tenant: Option<&str>, id: &str) -> String {
    match tenant {
        Some(t) => format!("{origin}/v1/tenants/{t}/admin-tokens/{id}"),
        None => format!("{origin}/v1/admin-tokens/{id}"),
    }
}

fn scope_of(p: &Seg) -> Option<&str> {
    p.0.get("tenant").map(String::as_str)
}

pub async fn list_admin_tokens(Extension(c): Ctx, p: Seg, q: AdminQuery) -> Reply {
    let page = q.page()?;
    ok(c.svc()
        .list_admin_tokens(&c.actor, scope_of(&p), &page)
        .await?)
}

pub async fn create_admin_token(
    Extension(c): Ctx,
    p: Seg,
    q: AdminQuery,
    AdminBody(body): AdminBody,
) -> Reply {
    q.none()?;
    let tenant = scope_of(&p);
    let t = c.svc().create_admin_token(&c.actor, tenant, body).await?;
    created(admin_token_location(&c.origin, tenant, &t.id), t)
}

pub async fn get_admin_token(Extension(c): Ctx, p: Seg, q: AdminQuery) -> Reply {
    q.none()?;
    ok(c.svc()
        .get_admin_token(&c.actor, scope_of(&p), p.id())
        .await?)
}

pub async fn revoke_admin_token(Extension(c): Ctx, p: Seg, q: AdminQuery) -> Reply {
    q.none()?;
    c.svc()
        .revoke_admin_token(&c.actor, scope_of(&p), p.id())
        .await?;
    gone()
}

// Audit

pub async fn audit(Extension(c): Ctx, p: Seg, q: AdminQuery) -> Reply {
    let page = q.page()?;
    ok(c.svc().audit_log(&c.actor, scope_of(&p), &page).await?)
}

// Events

pub async fn events(Extension(c): Ctx, p: Seg, q: AdminQuery) -> Reply {
    let req = q.feed()?;
    ok(c.svc()
        .read_events(&c.actor, p.tenant(), p.realm(), &req)
        .await?)
}

/// /admin/openapi.json: open, like /openapi.json.
pub async fn openapi() -> Response {
    (
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        )],
        super::openapi::json(),
    )
        .into_response()
}

// Webhooks

pub async fn list_webhooks(Extension(c): Ctx, p: Seg, q: AdminQuery) -> Reply {
    q.none()?;
    ok(c.svc()
        .list_webhooks(&c.actor, p.tenant(), p.realm())
        .await?)
}

pub async fn create_webhook(
    Extension(c): Ctx,
    p: Seg,
    q: AdminQuery,
    AdminBody(body): AdminBody,
) -> Reply {
    q.none()?;
    let w = c
        .svc()
        .create_webhook(&c.actor, p.tenant(), p.realm(), body)
        .await?;
    let location = format!(
        "{}/v1/tenants/{}/realms/{}/webhooks/{}",
        c.origin,
        p.tenant(),
        p.realm(),
        w.webhook.id
    );
    created(location, w)
}

pub async fn get_webhook(Extension(c): Ctx, p: Seg, q: AdminQuery) -> Reply {
    q.none()?;
    ok(c.svc()
        .get_webhook(&c.actor, p.tenant(), p.realm(), p.id())
        .await?)
}

pub async fn update_webhook(
    Extension(c): Ctx,
    p: Seg,
    q: AdminQuery,
    AdminBody(body): AdminBody,
) -> Reply {
    q.none()?;
    ok(c.svc()
        .update_webhook(&c.actor, p.tenant(), p.realm(), p.id(), body)
        .await?)
}

pub async fn delete_webhook(Extension(c): Ctx, p: Seg, q: AdminQuery) -> Reply {
    q.none()?;
    c.svc()
        .delete_webhook(&c.actor, p.tenant(), p.realm(), p.id())
        .await?;
    gone()
}

pub async fn rotate_webhook_secret(
    Extension(c): Ctx,
    p: Seg,
    q: AdminQuery,
    body: axum::body::Bytes,
) -> Reply {
    q.none()?;
    let body = optional_body(&body)?;
    ok(c.svc()
        .rotate_webhook_secret(&c.actor, p.tenant(), p.realm(), p.id(), body)
        .await?)
}

pub async fn resume_webhook(Extension(c): Ctx, p: Seg, q: AdminQuery) -> Reply {
    q.none()?;
    ok(c.svc()
        .resume_webhook(&c.actor, p.tenant(), p.realm(), p.id())
        .await?)
}

pub async fn list_deliveries(Extension(c): Ctx, p: Seg, q: AdminQuery) -> Reply {
    let limit = q.limit()?;
    ok(c.svc()
        .list_deliveries(&c.actor, p.tenant(), p.realm(), p.id(), limit)
        .await?)
}

pub async fn redeliver(Extension(c): Ctx, p: Seg, q: AdminQuery) -> Reply {
    q.none()?;
    ok(c.svc()
        .redeliver(&c.actor, p.tenant(), p.realm(), p.id(), p.get("delivery"))
        .await?)
}
