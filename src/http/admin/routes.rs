//! The admin API's route table: each call's method, path, handler and documentation in one
//! entry, so /admin/openapi.json describes exactly what is served.

use axum::handler::Handler;
use axum::routing::{get, on, MethodRouter};
use axum::{middleware, Router};

use super::handlers as h;
use crate::http::routes::Verb;
use crate::http::state::AppState;

/// Which query parameters a call takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Query {
    None,
    /// `limit`, `cursor`, `name`.
    List,
    /// `force`.
    Force,
    /// `after`, `limit`, `wait`, `resource_type`, `operation`.
    Feed,
    /// `limit` alone.
    Limit,
}

/// What /admin/openapi.json says about a call.
pub struct Doc {
    pub operation_id: &'static str,
    pub summary: &'static str,
    pub tag: &'static str,
    /// The request body's schema (a name under `components/schemas`).
    pub body: Option<&'static str>,
    /// The success status and its body's schema (`None`: no body).
    pub ok: (u16, Option<&'static str>),
    pub query: Query,
    /// Error statuses besides those every call can answer (400, 401, 429, 503).
    pub errors: &'static [u16],
}

pub struct Route {
    pub verb: Verb,
    pub path: &'static str,
    pub doc: Doc,
    handler: MethodRouter<AppState>,
}

fn route<H, T>(verb: Verb, path: &'static str, handler: H, doc: Doc) -> Route
where
    H: Handler<T, AppState>,
    T: 'static,
{
    Route {
        verb,
        path,
        doc,
        handler: on(verb.filter(), handler),
    }
}

const fn doc(
    operation_id: &'static str,
    summary: &'static str,
    tag: &'static str,
    body: Option<&'static str>,
    ok: (u16, Option<&'static str>),
    query: Query,
    errors: &'static [u16],
) -> Doc {
    Doc {
        operation_id,
        summary,
        tag,
        body,
        ok,
        query,
        errors,
    }
}

pub const TENANTS: &str = "/v1/tenants";
pub const TENANT: &str = "/v1/tenants/{tenant}";
pub const REALMS: &str = "/v1/tenants/{tenant}/realms";
pub const REALM: &str = "/v1/tenants/{tenant}/realms/{realm}";
pub const TOKENS: &str = "/v1/tenants/{tenant}/realms/{realm}/tokens";
pub const TOKEN: &str = "/v1/tenants/{tenant}/realms/{realm}/tokens/{id}";
pub const ROTATE: &str = "/v1/tenants/{tenant}/realms/{realm}/tokens/{id}/rotate";
pub const CLIENTS: &str = "/v1/tenants/{tenant}/realms/{realm}/oauth-clients";
pub const CLIENT: &str = "/v1/tenants/{tenant}/realms/{realm}/oauth-clients/{id}";
pub const CLIENT_SECRETS: &str = "/v1/tenants/{tenant}/realms/{realm}/oauth-clients/{id}/secrets";
pub const CLIENT_SECRET: &str =
    "/v1/tenants/{tenant}/realms/{realm}/oauth-clients/{id}/secrets/{secret}";
pub const CLIENT_FEDERATED: &str =
    "/v1/tenants/{tenant}/realms/{realm}/oauth-clients/{id}/federated-credentials";
pub const CLIENT_FEDERATED_ONE: &str =
    "/v1/tenants/{tenant}/realms/{realm}/oauth-clients/{id}/federated-credentials/{credential}";
pub const TRUSTED_ISSUERS: &str = "/v1/tenants/{tenant}/realms/{realm}/trusted-issuers";
pub const TRUSTED_ISSUER: &str = "/v1/tenants/{tenant}/realms/{realm}/trusted-issuers/{id}";
pub const BASIC_CREDENTIALS: &str = "/v1/tenants/{tenant}/realms/{realm}/basic-credentials";
pub const BASIC_CREDENTIAL: &str = "/v1/tenants/{tenant}/realms/{realm}/basic-credentials/{id}";
pub const GLOBAL_ADMIN_TOKENS: &str = "/v1/admin-tokens";
pub const GLOBAL_ADMIN_TOKEN: &str = "/v1/admin-tokens/{id}";
pub const TENANT_ADMIN_TOKENS: &str = "/v1/tenants/{tenant}/admin-tokens";
pub const TENANT_ADMIN_TOKEN: &str = "/v1/tenants/{tenant}/admin-tokens/{id}";
pub const TENANT_AUDIT: &str = "/v1/tenants/{tenant}/audit";
pub const REALM_EVENTS: &str = "/v1/tenants/{tenant}/realms/{realm}/events";
pub const WEBHOOKS: &str = "/v1/tenants/{tenant}/realms/{realm}/webhooks";
pub const WEBHOOK: &str = "/v1/tenants/{tenant}/realms/{realm}/webhooks/{id}";
pub const WEBHOOK_ROTATE: &str = "/v1/tenants/{tenant}/realms/{realm}/webhooks/{id}/rotate-secret";
pub const WEBHOOK_RESUME: &str = "/v1/tenants/{tenant}/realms/{realm}/webhooks/{id}/resume";
pub const WEBHOOK_DELIVERIES: &str = "/v1/tenants/{tenant}/realms/{realm}/webhooks/{id}/deliveries";
pub const WEBHOOK_REDELIVER: &str =
    "/v1/tenants/{tenant}/realms/{realm}/webhooks/{id}/deliveries/{delivery}/redeliver";
pub const GLOBAL_AUDIT: &str = "/v1/audit";
pub const OPENAPI: &str = "/admin/openapi.json";

/// Every authenticated admin call.
pub fn table() -> Vec<Route> {
    use Query::{Feed, Force, Limit, List, None as NoQuery};
    use Verb::{Delete, Get, Patch, Post};
    const T: &str = "Tenants";
    const R: &str = "Realms";
    const K: &str = "SCIM tokens";
    const A: &str = "Admin tokens";
    const O: &str = "OAuth clients";
    const L: &str = "Audit";
    const J: &str = "Trusted issuers";
    const W: &str = "Webhooks";
    vec![
        route(
            Get,
            TENANTS,
            h::list_tenants,
            doc(
                "listTenants",
                "List tenants",
                T,
                None,
                (200, Some("TenantList")),
                List,
                &[],
            ),
        ),
        route(
            Post,
            TENANTS,
            h::create_tenant,
            doc(
                "createTenant",
                "Create a tenant (global admins)",
                T,
                Some("TenantCreate"),
                (201, Some("Tenant")),
                NoQuery,
                &[403, 409],
            ),
        ),
        route(
            Get,
            TENANT,
            h::get_tenant,
            doc(
                "getTenant",
                "Read a tenant",
                T,
                None,
                (200, Some("Tenant")),
                NoQuery,
                &[404],
            ),
        ),
        route(
            Patch,
            TENANT,
            h::update_tenant,
            doc(
                "updateTenant",
                "Change a tenant's display name or description",
                T,
                Some("TenantUpdate"),
                (200, Some("Tenant")),
                NoQuery,
                &[404],
            ),
        ),
        route(
            Delete,
            TENANT,
            h::delete_tenant,
            doc(
                "deleteTenant",
                "Delete a tenant (global admins); `force=true` also when it holds data",
                T,
                None,
                (204, None),
                Force,
                &[403, 404, 409],
            ),
        ),
        route(
            Get,
            REALMS,
            h::list_realms,
            doc(
                "listRealms",
                "List a tenant's realms",
                R,
                None,
                (200, Some("RealmList")),
                List,
                &[404],
            ),
        ),
        route(
            Post,
            REALMS,
            h::create_realm,
            doc(
                "createRealm",
                "Create a realm",
                R,
                Some("RealmCreate"),
                (201, Some("Realm")),
                NoQuery,
                &[404, 409],
            ),
        ),
        route(
            Get,
            REALM,
            h::get_realm,
            doc(
                "getRealm",
                "Read a realm, with its SCIM base URL and counts",
                R,
                None,
                (200, Some("Realm")),
                NoQuery,
                &[404],
            ),
        ),
        route(
            Patch,
            REALM,
            h::update_realm,
            doc(
                "updateRealm",
                "Change a realm's display name, description or state",
                R,
                Some("RealmUpdate"),
                (200, Some("Realm")),
                NoQuery,
                &[404],
            ),
        ),
        route(
            Delete,
            REALM,
            h::delete_realm,
            doc(
                "deleteRealm",
                "Delete a realm; `force=true` also when it holds users or groups",
                R,
                None,
                (204, None),
                Force,
                &[404, 409],
            ),
        ),
        route(
            Get,
            TOKENS,
            h::list_tokens,
            doc(
                "listTokens",
                "List a realm's SCIM tokens",
                K,
                None,
                (200, Some("TokenList")),
                List,
                &[404],
            ),
        ),
        route(
            Post,
            TOKENS,
            h::create_token,
            doc(
                "createToken",
                "Create a SCIM token; its value is in this response only",
                K,
                Some("TokenCreate"),
                (201, Some("Token")),
                NoQuery,
                &[404, 409],
            ),
        ),
        route(
            Get,
            TOKEN,
            h::get_token,
            doc(
                "getToken",
                "Read a SCIM token (never its value)",
                K,
                None,
                (200, Some("Token")),
                NoQuery,
                &[404],
            ),
        ),
        route(
            Patch,
            TOKEN,
            h::update_token,
            doc(
                "updateToken",
                "Change a SCIM token's name or description",
                K,
                Some("TokenUpdate"),
                (200, Some("Token")),
                NoQuery,
                &[404, 409],
            ),
        ),
        route(
            Delete,
            TOKEN,
            h::revoke_token,
            doc(
                "revokeToken",
                "Revoke a SCIM token at once",
                K,
                None,
                (204, None),
                NoQuery,
                &[404],
            ),
        ),
        route(
            Post,
            ROTATE,
            h::rotate_token,
            doc(
                "rotateToken",
                "Replace a SCIM token; the old one lives out a grace period",
                K,
                Some("TokenRotate"),
                (201, Some("Token")),
                NoQuery,
                &[404, 409],
            ),
        ),
        route(
            Get,
            GLOBAL_ADMIN_TOKENS,
            h::list_admin_tokens,
            doc(
                "listGlobalAdminTokens",
                "List global admin tokens (global admins)",
                A,
                None,
                (200, Some("AdminTokenList")),
                List,
                &[403],
            ),
        ),
        route(
            Post,
            GLOBAL_ADMIN_TOKENS,
            h::create_admin_token,
            doc(
                "createGlobalAdminToken",
                "Create a global admin token (global admins)",
                A,
                Some("AdminTokenCreate"),
                (201, Some("AdminToken")),
                NoQuery,
                &[403],
            ),
        ),
        route(
            Get,
            GLOBAL_ADMIN_TOKEN,
            h::get_admin_token,
            doc(
                "getGlobalAdminToken",
                "Read a global admin token",
                A,
                None,
                (200, Some("AdminToken")),
                NoQuery,
                &[403, 404],
            ),
        ),
        route(
            Delete,
            GLOBAL_ADMIN_TOKEN,
            h::revoke_admin_token,
            doc(
                "revokeGlobalAdminToken",
                "Revoke a global admin token",
                A,
                None,
                (204, None),
                NoQuery,
                &[403, 404],
            ),
        ),
        route(
            Get,
            CLIENTS,
            h::list_clients,
            doc(
                "listOAuthClients",
                "List a realm's OAuth clients",
                O,
                None,
                (200, Some("OAuthClientList")),
                List,
                &[404],
            ),
        ),
        route(
            Post,
            CLIENTS,
            h::create_client,
            doc(
                "createOAuthClient",
                "Create an OAuth client with its first secret (shown once)",
                O,
                Some("OAuthClientCreate"),
                (201, Some("OAuthClient")),
                NoQuery,
                &[404, 409],
            ),
        ),
        route(
            Get,
            CLIENT,
            h::get_client,
            doc(
                "getOAuthClient",
                "Read an OAuth client and its secrets (without their values)",
                O,
                None,
                (200, Some("OAuthClient")),
                NoQuery,
                &[404],
            ),
        ),
        route(
            Patch,
            CLIENT,
            h::update_client,
            doc(
                "updateOAuthClient",
                "Change an OAuth client; fewer scopes or disabling revokes its access tokens",
                O,
                Some("OAuthClientUpdate"),
                (200, Some("OAuthClient")),
                NoQuery,
                &[404, 409],
            ),
        ),
        route(
            Delete,
            CLIENT,
            h::delete_client,
            doc(
                "deleteOAuthClient",
                "Delete an OAuth client with its secrets and access tokens",
                O,
                None,
                (204, None),
                NoQuery,
                &[404],
            ),
        ),
        route(
            Post,
            CLIENT_SECRETS,
            h::create_client_secret,
            doc(
                "createOAuthClientSecret",
                "Add a secret to an OAuth client (at most five live; shown once)",
                O,
                Some("ClientSecretCreate"),
                (201, Some("ClientSecret")),
                NoQuery,
                &[404, 409],
            ),
        ),
        route(
            Delete,
            CLIENT_SECRET,
            h::revoke_client_secret,
            doc(
                "revokeOAuthClientSecret",
                "Revoke one secret of an OAuth client",
                O,
                None,
                (204, None),
                NoQuery,
                &[404],
            ),
        ),
        route(
            Post,
            CLIENT_FEDERATED,
            h::create_federated,
            doc(
                "createOAuthClientFederatedCredential",
                "Trust an identity provider's JWTs (workload identity federation) for a client",
                O,
                Some("FederatedCredentialCreate"),
                (201, Some("FederatedCredential")),
                NoQuery,
                &[404, 409],
            ),
        ),
        route(
            Delete,
            CLIENT_FEDERATED_ONE,
            h::delete_federated,
            doc(
                "deleteOAuthClientFederatedCredential",
                "Delete one federated credential of an OAuth client",
                O,
                None,
                (204, None),
                NoQuery,
                &[404],
            ),
        ),
        route(
            Get,
            TRUSTED_ISSUERS,
            h::list_trusted_issuers,
            doc(
                "listTrustedIssuers",
                "List the issuers whose JWTs a realm accepts as bearer tokens",
                J,
                None,
                (200, Some("TrustedIssuerList")),
                NoQuery,
                &[404],
            ),
        ),
        route(
            Post,
            TRUSTED_ISSUERS,
            h::create_trusted_issuer,
            doc(
                "createTrustedIssuer",
                "Trust an issuer's JWTs as bearer tokens on a realm's SCIM endpoints",
                J,
                Some("TrustedIssuerCreate"),
                (201, Some("TrustedIssuer")),
                NoQuery,
                &[404, 409],
            ),
        ),
        route(
            Get,
            TRUSTED_ISSUER,
            h::get_trusted_issuer,
            doc(
                "getTrustedIssuer",
                "Show a trusted issuer",
                J,
                None,
                (200, Some("TrustedIssuer")),
                NoQuery,
                &[404],
            ),
        ),
        route(
            Patch,
            TRUSTED_ISSUER,
            h::update_trusted_issuer,
            doc(
                "updateTrustedIssuer",
                "Change a trusted issuer's audience, subject, keys, scopes or state",
                J,
                Some("TrustedIssuerUpdate"),
                (200, Some("TrustedIssuer")),
                NoQuery,
                &[404, 409],
            ),
        ),
        route(
            Delete,
            TRUSTED_ISSUER,
            h::delete_trusted_issuer,
            doc(
                "deleteTrustedIssuer",
                "Stop trusting an issuer (its tokens stop working at once)",
                J,
                None,
                (204, None),
                NoQuery,
                &[404],
            ),
        ),
        route(
            Get,
            BASIC_CREDENTIALS,
            h::list_basic_credentials,
            doc(
                "listBasicCredentials",
                "List a realm's HTTP Basic credentials (never their passwords)",
                J,
                None,
                (200, Some("BasicCredentialList")),
                NoQuery,
                &[404],
            ),
        ),
        route(
            Post,
            BASIC_CREDENTIALS,
            h::create_basic_credential,
            doc(
                "createBasicCredential",
                "Create an HTTP Basic credential; a generated password is in this response only",
                J,
                Some("BasicCredentialCreate"),
                (201, Some("BasicCredential")),
                NoQuery,
                &[404, 409],
            ),
        ),
        route(
            Get,
            BASIC_CREDENTIAL,
            h::get_basic_credential,
            doc(
                "getBasicCredential",
                "Show a Basic credential",
                J,
                None,
                (200, Some("BasicCredential")),
                NoQuery,
                &[404],
            ),
        ),
        route(
            Delete,
            BASIC_CREDENTIAL,
            h::delete_basic_credential,
            doc(
                "deleteBasicCredential",
                "Revoke a Basic credential (it stops working at once)",
                J,
                None,
                (204, None),
                NoQuery,
                &[404],
            ),
        ),
        route(
            Get,
            TENANT_ADMIN_TOKENS,
            h::list_admin_tokens,
            doc(
                "listTenantAdminTokens",
                "List a tenant's admin tokens",
                A,
                None,
                (200, Some("AdminTokenList")),
                List,
                &[404],
            ),
        ),
        route(
            Post,
            TENANT_ADMIN_TOKENS,
            h::create_admin_token,
            doc(
                "createTenantAdminToken",
                "Create an admin token limited to the tenant",
                A,
                Some("AdminTokenCreate"),
                (201, Some("AdminToken")),
                NoQuery,
                &[404],
            ),
        ),
        route(
            Get,
            TENANT_ADMIN_TOKEN,
            h::get_admin_token,
            doc(
                "getTenantAdminToken",
                "Read a tenant's admin token",
                A,
                None,
                (200, Some("AdminToken")),
                NoQuery,
                &[404],
            ),
        ),
        route(
            Delete,
            TENANT_ADMIN_TOKEN,
            h::revoke_admin_token,
            doc(
                "revokeTenantAdminToken",
                "Revoke a tenant's admin token",
                A,
                None,
                (204, None),
                NoQuery,
                &[404],
            ),
        ),
        route(
            Get,
            TENANT_AUDIT,
            h::audit,
            doc(
                "tenantAudit",
                "A tenant's admin actions, newest first",
                L,
                None,
                (200, Some("AuditList")),
                List,
                &[404],
            ),
        ),
        route(
            Get,
            REALM_EVENTS,
            h::events,
            doc(
                "realmEvents",
                "The realm's change feed: every change of its users and groups, in order",
                "Events",
                None,
                (200, Some("EventList")),
                Feed,
                &[404],
            ),
        ),
        route(
            Get,
            WEBHOOKS,
            h::list_webhooks,
            doc(
                "listWebhooks",
                "List a realm's webhook subscriptions",
                W,
                None,
                (200, Some("WebhookList")),
                NoQuery,
                &[404],
            ),
        ),
        route(
            Post,
            WEBHOOKS,
            h::create_webhook,
            doc(
                "createWebhook",
                "Subscribe a URL to the realm's events (the signing secret is shown once)",
                W,
                Some("WebhookCreate"),
                (201, Some("WebhookWithSecret")),
                NoQuery,
                &[404, 409],
            ),
        ),
        route(
            Get,
            WEBHOOK,
            h::get_webhook,
            doc(
                "getWebhook",
                "Show a webhook and how its delivery stands",
                W,
                None,
                (200, Some("Webhook")),
                NoQuery,
                &[404],
            ),
        ),
        route(
            Patch,
            WEBHOOK,
            h::update_webhook,
            doc(
                "updateWebhook",
                "Change a webhook's URL, description, event types or whether it is enabled",
                W,
                Some("WebhookUpdate"),
                (200, Some("Webhook")),
                NoQuery,
                &[404],
            ),
        ),
        route(
            Delete,
            WEBHOOK,
            h::delete_webhook,
            doc(
                "deleteWebhook",
                "Delete a webhook (nothing more is sent to it)",
                W,
                None,
                (204, None),
                NoQuery,
                &[404],
            ),
        ),
        route(
            Post,
            WEBHOOK_ROTATE,
            h::rotate_webhook_secret,
            doc(
                "rotateWebhookSecret",
                "A new signing secret (shown once); the old one keeps signing beside it for the overlap",
                W,
                Some("WebhookRotate"),
                (200, Some("WebhookWithSecret")),
                NoQuery,
                &[404, 409],
            ),
        ),
        route(
            Post,
            WEBHOOK_RESUME,
            h::resume_webhook,
            doc(
                "resumeWebhook",
                "Send again to a failing webhook, from the event it stopped at",
                W,
                None,
                (200, Some("Webhook")),
                NoQuery,
                &[404],
            ),
        ),
        route(
            Get,
            WEBHOOK_DELIVERIES,
            h::list_deliveries,
            doc(
                "listWebhookDeliveries",
                "A webhook's recent delivery attempts, newest first",
                W,
                None,
                (200, Some("DeliveryList")),
                Limit,
                &[404],
            ),
        ),
        route(
            Post,
            WEBHOOK_REDELIVER,
            h::redeliver,
            doc(
                "redeliverWebhookDelivery",
                "Send a delivery's event again, now, and answer with the attempt",
                W,
                None,
                (200, Some("Delivery")),
                NoQuery,
                &[404, 409],
            ),
        ),
        route(
            Get,
            GLOBAL_AUDIT,
            h::audit,
            doc(
                "globalAudit",
                "Global admin actions, newest first (global admins)",
                L,
                None,
                (200, Some("AuditList")),
                List,
                &[403],
            ),
        ),
    ]
}

pub fn router(state: &AppState) -> Router<AppState> {
    let mut authed = Router::new();
    for r in table() {
        authed = authed.route(r.path, r.handler);
    }
    let authed = authed
        .route_layer(middleware::from_fn_with_state(
            state.clone(),
            super::authenticate,
        ))
        .method_not_allowed_fallback(method_not_allowed);
    Router::new()
        .route(OPENAPI, get(h::openapi))
        .method_not_allowed_fallback(method_not_allowed)
        .merge(authed)
}

async fn method_not_allowed(method: axum::http::Method, uri: axum::http::Uri) -> super::Problem {
    super::Problem::new(
        405,
        "method-not-allowed",
        format!("{method} is not allowed on {}", uri.path()),
    )
}
