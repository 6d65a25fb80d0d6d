//! The admin API's HTTP edge: its route table, the admin-token middleware, and the
//! extractors whose refusals are problem details rather than SCIM errors.

mod feed;
mod handlers;
pub mod openapi;
pub mod problem;
mod routes;

use std::sync::Arc;

use axum::extract::{FromRequest, FromRequestParts, Request, State};
use axum::http::request::Parts;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::Router;
use serde_json::Value;

use self::problem::Problem;
use super::error::ApiError;
use super::extract::{bearer, ScimBody};
use super::state::AppState;
use crate::service::admin::events::FeedRequest;
use crate::service::admin::{Actor, AdminError, AdminService, PageRequest};
use crate::service::{ServiceError, Services};

pub use self::routes::table;

/// Who is calling and how they reach us, set by the middleware for every handler.
pub struct AdminCtx {
    services: Arc<Services>,
    pub actor: Actor,
    /// scheme://host as the caller sees it, for `Location` and `scim_base_url`.
    pub origin: String,
}

impl AdminCtx {
    fn svc(&self) -> &AdminService {
        &self.services.admin
    }
}

pub type Ctx = axum::Extension<Arc<AdminCtx>>;

/// Every admin route; unauthenticated callers never reach a handler.
pub fn router(state: &AppState) -> Router<AppState> {
    routes::router(state)
}

/// Checks the admin token, applies the per-token rate limit, and records who is acting.
pub async fn authenticate(State(state): State<AppState>, mut req: Request, next: Next) -> Response {
    let address = super::realm::client_address(&state, &req);
    if feed_reader(&req) {
        return feed::authenticate(state, req, next, address).await;
    }
    let checked = state
        .services
        .admin
        .authenticate_admin(bearer(req.headers()), address)
        .await;
    let (mut actor, token) = match checked {
        Ok(found) => found,
        Err(e) => return Problem::from(e).into_response(),
    };
    if let Err(wait) = state.limits.check_rate("admin", Some(&token.id)) {
        return too_many_requests(wait);
    }
    tracing::Span::current().record("token_id", token.id.as_str());
    actor.request_id = super::realm::request_id(&req);
    let origin = super::realm::origin(&state, &req);
    req.extensions_mut().insert(Arc::new(AdminCtx {
        services: state.services.clone(),
        actor,
        origin,
    }));
    next.run(req).await
}

/// A request for the change feed with a credential other than an admin token: the realm's own
/// credentials with the `events:read` scope read it too.
fn feed_reader(req: &Request) -> bool {
    let feed = req
        .extensions()
        .get::<axum::extract::MatchedPath>()
        .is_some_and(|m| m.as_str() == routes::REALM_EVENTS);
    let admin = bearer(req.headers())
        .is_some_and(|b| b.starts_with(crate::service::admin::ADMIN_TOKEN_PREFIX));
    feed && !admin
        && req
            .headers()
            .contains_key(axum::http::header::AUTHORIZATION)
}

pub(super) fn too_many_requests(wait: u64) -> Response {
    let mut resp = Problem::new(
        429,
        "too-many-requests",
        format!("this admin token is over its request rate; retry in {wait} s"),
    )
    .into_response();
    if let Ok(v) = wait.to_string().parse() {
        resp.headers_mut()
            .insert(axum::http::header::RETRY_AFTER, v);
    }
    resp
}

/// A JSON object body, read as the SCIM API reads one (size limit, NUL bytes), refused as a
/// problem.
pub struct AdminBody(pub Value);

impl FromRequest<AppState> for AdminBody {
    type Rejection = Problem;

    async fn from_request(req: Request, state: &AppState) -> Result<Self, Self::Rejection> {
        match ScimBody::from_request(req, state).await {
            Ok(ScimBody(v)) => Ok(AdminBody(v)),
            Err(ApiError(ServiceError::Scim(e))) => Err(Problem::from(e)),
            Err(_) => Err(Problem::new(
                400,
                "invalid-body",
                "the request body cannot be read",
            )),
        }
    }
}

/// The query string: `limit`, `cursor` and `name` on lists, `force` on deletes. Anything
/// else is refused by name, so a typo such as `?forse=true` is never silently ignored.
#[derive(Debug, Default)]
pub struct AdminQuery(Vec<(String, String)>);

impl<S: Send + Sync> FromRequestParts<S> for AdminQuery {
    type Rejection = Problem;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        let q = parts.uri.query().unwrap_or_default();
        Ok(AdminQuery(
            form_urlencoded::parse(q.as_bytes())
                .map(|(k, v)| (k.into_owned(), v.into_owned()))
                .collect(),
        ))
    }
}

impl AdminQuery {
    fn only(&self, allowed: &[&str]) -> Result<(), Problem> {
        if let Some((k, _)) = self.0.iter().find(|(k, _)| !allowed.contains(&k.as_str())) {
            let detail = if allowed.is_empty() {
                format!("unknown query parameter '{k}': this call takes none")
            } else {
                format!(
                    "unknown query parameter '{k}': this call takes {}",
                    allowed.join(", ")
                )
            };
            return Err(AdminError::invalid(k, detail).into());
        }
        Ok(())
    }

    fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// A list call's page.
    pub fn page(&self) -> Result<PageRequest, Problem> {
        self.only(&["limit", "cursor", "name"])?;
        let limit = self
            .get("limit")
            .map(|l| {
                l.parse::<u32>().map_err(|_| {
                    AdminError::invalid("limit", format!("limit must be a whole number, not '{l}'"))
                })
            })
            .transpose()?;
        Ok(PageRequest {
            limit,
            cursor: self.get("cursor").map(str::to_owned),
            name: self.get("name").map(str::to_owned),
        })
    }

    /// A delete's `?force=true`.
    pub fn feed(&self) -> Result<FeedRequest, Problem> {
        self.only(&["after", "limit", "wait", "resource_type", "operation"])?;
        let number = |name: &str| -> Result<Option<u64>, Problem> {
            self.get(name)
                .map(|v| {
                    v.parse::<u64>().map_err(|_| {
                        AdminError::invalid(
                            name,
                            format!("{name} must be a whole number, not '{v}'"),
                        )
                        .into()
                    })
                })
                .transpose()
        };
        Ok(FeedRequest {
            after: self.get("after").map(str::to_owned),
            limit: number("limit")?.map(|l| l.min(u64::from(u32::MAX)) as u32),
            wait_seconds: number("wait")?,
            resource_type: self.get("resource_type").map(str::to_owned),
            operation: self.get("operation").map(str::to_owned),
        })
    }

    /// A call that takes only `limit` (a webhook's deliveries).
    pub fn limit(&self) -> Result<Option<u32>, Problem> {
        self.only(&["limit"])?;
        self.get("limit")
            .map(|l| {
                l.parse::<u32>().map_err(|_| {
                    AdminError::invalid("limit", format!("limit must be a whole number, not '{l}'"))
                        .into()
                })
            })
            .transpose()
    }

    pub fn force(&self) -> Result<bool, Problem> {
        self.only(&["force"])?;
        match self.get("force") {
            None | Some("false") => Ok(false),
            Some("true") => Ok(true),
            Some(v) => Err(AdminError::invalid(
                "force",
                format!("force is 'true' or 'false', not '{v}'"),
            )
            .into()),
        }
    }

    pub fn none(&self) -> Result<(), Problem> {
        self.only(&[])
    }
}

/// Whether a path is the admin API's, so that a miss there is answered as a problem.
pub fn is_admin_path(path: &str) -> bool {
    let segs: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
    match segs.as_slice() {
        ["admin", ..] => true,
        ["v1", "tenants", _, "realms", _, "scim" | "oauth2" | ".well-known", ..] => false,
        ["v1", ..] => true,
        _ => false,
    }
}
