//! The discovery documents of RFC 7644 §4: ServiceProviderConfig and ResourceTypes. Every flag
//! comes from `Capabilities`, which the service fills from what the server really does.

use serde_json::{json, Value};

use super::schema::{Registry, ResourceKind};
use super::urn;

#[derive(Debug, Clone)]
pub struct Capabilities {
    pub patch: bool,
    pub bulk: bool,
    pub filter: bool,
    pub filter_max_results: u32,
    pub change_password: bool,
    pub sort: bool,
    pub cursor_timeout_secs: u64,
    pub etag: bool,
    pub max_payload_bytes: u64,
    pub default_page_size: u32,
    pub max_page_size: u32,
    pub documentation_uri: Option<String>,
}

/// A way a caller may authenticate to a realm's SCIM endpoints; each realm enables its own.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum AuthMethod {
    /// A realm token as `Authorization: Bearer` (RFC 6750).
    Token,
    /// HTTP Basic (RFC 7617): a Basic credential, or a realm token as the password.
    Basic,
    /// OAuth 2.0 client credentials (RFC 6749 §4.4), with secrets or workload identity
    /// federation (RFC 7523): the realm's token endpoint, and the access tokens it issues.
    OAuth,
    /// A JWT from one of the realm's trusted issuers as `Authorization: Bearer`.
    Jwt,
}

impl AuthMethod {
    pub const ALL: [AuthMethod; 4] = [
        AuthMethod::Token,
        AuthMethod::Basic,
        AuthMethod::OAuth,
        AuthMethod::Jwt,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            AuthMethod::Token => "token",
            AuthMethod::Basic => "basic",
            AuthMethod::OAuth => "oauth",
            AuthMethod::Jwt => "jwt",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|m| m.as_str() == s)
    }

    /// What people call it, for messages.
    pub fn title(self) -> &'static str {
        match self {
            AuthMethod::Token => "a realm token as a bearer token",
            AuthMethod::Basic => "HTTP Basic",
            AuthMethod::OAuth => "OAuth 2.0 client credentials",
            AuthMethod::Jwt => "a JWT from a trusted issuer",
        }
    }
}

/// RFC 7643 §5 `authenticationSchemes`: one per enabled method, the first primary.
fn schemes(methods: &[AuthMethod]) -> Value {
    let all: Vec<Value> = methods
        .iter()
        .enumerate()
        .map(|(i, m)| {
            let (kind, name, description, spec) = match m {
                AuthMethod::Token => (
                    "oauthbearertoken",
                    "OAuth Bearer Token",
                    "A realm token, sent as 'Authorization: Bearer <token>'. Create one with \
                     the admin API (POST .../realms/{realm}/tokens) or 'scimd token create'.",
                    "https://www.rfc-editor.org/info/rfc6750",
                ),
                AuthMethod::Basic => (
                    "httpbasic",
                    "HTTP Basic",
                    "A Basic credential of the realm (POST .../realms/{realm}/basic-credentials), \
                     or a realm token as the password under that token's name as the username.",
                    "https://www.rfc-editor.org/info/rfc7617",
                ),
                AuthMethod::OAuth => (
                    "oauth2",
                    "OAuth 2.0 client credentials",
                    "An OAuth client of the realm gets an access token from the realm's token \
                     endpoint (.../oauth2/token, RFC 8414 metadata at \
                     /.well-known/oauth-authorization-server/v1/tenants/{tenant}/realms/{realm}), \
                     with a client secret or a client assertion (RFC 7523), and sends it as a \
                     bearer token.",
                    "https://www.rfc-editor.org/info/rfc6749",
                ),
                AuthMethod::Jwt => (
                    "oauthbearertoken",
                    "JWT bearer from a trusted issuer",
                    "A JWT signed by one of the realm's trusted issuers (Entra ID's own token, \
                     for one), sent as 'Authorization: Bearer <JWT>'.",
                    "https://www.rfc-editor.org/info/rfc9068",
                ),
            };
            json!({"type": kind, "name": name, "description": description,
                   "specUri": spec, "primary": i == 0})
        })
        .collect();
    Value::Array(all)
}

/// The realm's own discovery document: `methods` are the ways it accepts callers.
pub fn service_provider_config(c: &Capabilities, base: &str, methods: &[AuthMethod]) -> Value {
    let mut spc = json!({
        "schemas": [urn::SERVICE_PROVIDER_CONFIG],
        // RFC 7643 §5 gives `patch` no field for its operation bound, and strict clients
        // (scim2-models) reject any extra one: the bound is documented instead, and a request
        // over it gets 400 tooMany naming it.
        "patch": {"supported": c.patch},
        "bulk": {"supported": c.bulk, "maxOperations": 0, "maxPayloadSize": c.max_payload_bytes},
        "filter": {"supported": c.filter, "maxResults": c.filter_max_results},
        "changePassword": {"supported": c.change_password},
        "sort": {"supported": c.sort},
        "etag": {"supported": c.etag},
        "pagination": {
            "cursor": true,
            "index": true,
            "defaultPaginationMethod": "index",
            "defaultPageSize": c.default_page_size,
            "maxPageSize": c.max_page_size,
            "cursorTimeout": c.cursor_timeout_secs,
        },
        "authenticationSchemes": schemes(methods),
        "meta": {
            "resourceType": "ServiceProviderConfig",
            "location": format!("{base}/ServiceProviderConfig"),
        },
    });
    if let Some(doc) = &c.documentation_uri {
        spc["documentationUri"] = Value::String(doc.clone());
    }
    spc
}

pub fn resource_type(kind: ResourceKind, base: &str) -> Value {
    let schema = Registry::get().resource(kind);
    let extensions: Vec<Value> = schema
        .extensions
        .iter()
        .map(|e| json!({"schema": e.id, "required": false}))
        .collect();
    let mut rt = json!({
        "schemas": [urn::RESOURCE_TYPE],
        "id": kind.name(),
        "name": kind.name(),
        "endpoint": kind.endpoint(),
        "description": match kind {
            ResourceKind::User => "User Account",
            ResourceKind::Group => "Group",
        },
        "schema": schema.core.id,
        "meta": {
            "resourceType": "ResourceType",
            "location": format!("{base}/ResourceTypes/{}", kind.name()),
        },
    });
    if !extensions.is_empty() {
        rt["schemaExtensions"] = Value::Array(extensions);
    }
    rt
}

pub const RESOURCE_KINDS: [ResourceKind; 2] = [ResourceKind::User, ResourceKind::Group];
