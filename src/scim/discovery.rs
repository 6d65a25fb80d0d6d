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

pub fn service_provider_config(c: &Capabilities, base: &str) -> Value {
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
        "authenticationSchemes": [{
            "type": "oauthbearertoken",
            "name": "OAuth Bearer Token",
            "description": "A realm token carrying the scim:all scope, sent as \
                            'Authorization: Bearer <token>'. Create one with \
                            'scimd token create'.",
            "specUri": "https://www.rfc-editor.org/info/rfc6750",
            "primary": true,
        }, {
            "type": "httpbasic",
            "name": "HTTP Basic",
            "description": "For clients that offer only Basic: a realm token as the \
                            password, under that token's name as the username.",
            "specUri": "https://www.rfc-editor.org/info/rfc7617",
            "primary": false,
        }, {
            "type": "oauth2",
            "name": "OAuth 2.0 client credentials",
            "description": "An OAuth client of the realm gets an access token from the \
                            realm's token endpoint (.../oauth2/token, RFC 8414 metadata at \
                            /.well-known/oauth-authorization-server/v1/tenants/{tenant}/realms/{realm}) \
                            and sends it as a bearer token.",
            "specUri": "https://www.rfc-editor.org/info/rfc6749",
            "primary": false,
        }],
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
