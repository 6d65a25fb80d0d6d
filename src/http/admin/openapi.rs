//! /admin/openapi.json: the admin API as OpenAPI 3.1, rendered once from its route table.

use std::sync::OnceLock;

use serde_json::{json, Map, Value};

use super::routes::{table, Query};
use crate::http::routes::Verb;

pub fn json() -> &'static [u8] {
    static DOC: OnceLock<Vec<u8>> = OnceLock::new();
    DOC.get_or_init(|| serde_json::to_vec(&document()).unwrap_or_default())
}

pub fn document() -> Value {
    let mut paths = Map::new();
    let mut tags: Vec<&str> = Vec::new();
    for r in table() {
        if !tags.contains(&r.doc.tag) {
            tags.push(r.doc.tag);
        }
        let item = paths.entry(r.path.to_owned()).or_insert_with(|| json!({}));
        item[method(r.verb)] = operation(r.path, &r.doc);
    }
    json!({
        "openapi": "3.1.0",
        "info": {
            "title": "scimd admin API",
            "version": env!("CARGO_PKG_VERSION"),
            "description": "Tenants, realms, SCIM tokens, OAuth clients, trusted issuers, admin tokens and the audit record. \
                Errors are RFC 9457 problem details. See docs/admin-api.md.",
            "license": {"name": "Apache-2.0", "identifier": "Apache-2.0"}
        },
        "tags": tags.iter().map(|t| json!({"name": t})).collect::<Vec<_>>(),
        "paths": paths,
        "components": {
            "schemas": schemas(),
            "securitySchemes": {
                "admin": {
                    "type": "http",
                    "scheme": "bearer",
                    "bearerFormat": "scimd_admin_...",
                    "description": "An admin token (`scimd admin-token create`, or the one the \
                        first start prints)."
                }
            }
        },
        "security": [{"admin": []}]
    })
}

fn method(v: Verb) -> &'static str {
    match v {
        Verb::Get => "get",
        Verb::Post => "post",
        Verb::Put => "put",
        Verb::Patch => "patch",
        Verb::Delete => "delete",
    }
}

fn schema_ref(name: &str) -> Value {
    json!({"$ref": format!("#/components/schemas/{name}")})
}

fn operation(path: &str, d: &super::routes::Doc) -> Value {
    let mut params: Vec<Value> = path
        .split('/')
        .filter_map(|s| s.strip_prefix('{')?.strip_suffix('}'))
        .map(|name| {
            json!({"name": name, "in": "path", "required": true, "schema": {"type": "string"},
                   "description": path_param(name)})
        })
        .collect();
    match d.query {
        Query::None => {}
        Query::List => params.extend([
            json!({"name": "limit", "in": "query", "schema": {"type": "integer", "minimum": 1, "maximum": 200, "default": 50}}),
            json!({"name": "cursor", "in": "query", "schema": {"type": "string"}, "description": "The `next_cursor` of the previous page."}),
            json!({"name": "name", "in": "query", "schema": {"type": "string"}, "description": "Only the object with this id (tenants, realms) or name (tokens)."}),
        ]),
        Query::Feed => params.extend([
            json!({"name": "after", "in": "query", "schema": {"type": "string", "pattern": "^[0-9]+\\.[0-9]+$"},
                   "description": "An event `id` (or a `next_cursor`): only the events after it. Absent: from the oldest kept."}),
            json!({"name": "limit", "in": "query", "schema": {"type": "integer", "minimum": 1, "maximum": 1000, "default": 100}}),
            json!({"name": "wait", "in": "query", "schema": {"type": "integer", "minimum": 0, "maximum": 60, "default": 0},
                   "description": "Seconds to wait for an event when there is none yet (long poll)."}),
            json!({"name": "resource_type", "in": "query", "schema": {"type": "string"},
                "description": "Only events about these, comma-separated: User, Group, Realm, Token, OAuthClient, BasicCredential, TrustedIssuer, Webhook, Credential (User,Group: SCIM writes only)."}),
            json!({"name": "operation", "in": "query", "schema": {"type": "string"},
                "description": "Only these operations, comma-separated: create, replace, patch, delete, admin, denied."}),
        ]),
        Query::Limit => params.push(
            json!({"name": "limit", "in": "query", "schema": {"type": "integer", "minimum": 1, "maximum": 100, "default": 50}}),
        ),
        Query::Force => params.push(
            json!({"name": "force", "in": "query", "schema": {"type": "boolean", "default": false},
                   "description": "Delete even when it still holds users or groups, with them."}),
        ),
    }
    let mut responses = Map::new();
    let (status, body) = d.ok;
    responses.insert(
        status.to_string(),
        match body {
            Some(s) => {
                let mut r = json!({"description": "Success.",
                    "content": {"application/json": {"schema": schema_ref(s)}}});
                if status == 201 {
                    r["headers"] = json!({"Location": {"description": "The new object's URL.",
                        "schema": {"type": "string", "format": "uri"}}});
                }
                r
            }
            None => json!({"description": "Done."}),
        },
    );
    for e in [400u16, 401, 429, 503].iter().chain(d.errors) {
        responses.insert(
            e.to_string(),
            json!({"description": error_text(*e),
                   "content": {"application/problem+json": {"schema": schema_ref("Problem")}}}),
        );
    }
    let mut op = json!({
        "operationId": d.operation_id,
        "summary": d.summary,
        "tags": [d.tag],
        "parameters": params,
        "responses": responses,
    });
    if let Some(b) = d.body {
        op["requestBody"] = json!({"required": b != "TokenRotate",
            "content": {"application/json": {"schema": schema_ref(b)}}});
    }
    op
}

fn path_param(name: &str) -> &'static str {
    match name {
        "tenant" => "The tenant's id.",
        "realm" => "The realm's id.",
        "secret" => "The client secret's id.",
        _ => "The token's or OAuth client's id.",
    }
}

fn error_text(status: u16) -> &'static str {
    match status {
        400 => "A field, query parameter or body is not acceptable; `field` names it.",
        401 => "No admin token, or not a valid one.",
        403 => "The admin token may not do this (a tenant admin token on a global call).",
        404 => "It does not exist, or the admin token may not see it.",
        409 => "The id or name is taken (`existing_id`), or it still holds data.",
        429 => "Over the rate limit; see Retry-After.",
        _ => "The database is unavailable; retry shortly.",
    }
}

fn string() -> Value {
    json!({"type": "string"})
}

fn time() -> Value {
    json!({"type": "string", "format": "date-time"})
}

fn nullable_time() -> Value {
    json!({"type": ["string", "null"], "format": "date-time"})
}

fn object(props: Value, required: &[&str]) -> Value {
    json!({"type": "object", "additionalProperties": false, "properties": props, "required": required})
}

fn list(item: &str) -> Value {
    object(
        json!({"items": {"type": "array", "items": schema_ref(item)},
               "next_cursor": {"type": ["string", "null"]}}),
        &["items", "next_cursor"],
    )
}

fn schemas() -> Value {
    let mut all = base_schemas();
    for more in [trusted_issuer_schemas(), event_schemas(), webhook_schemas()] {
        if let (Some(all), Value::Object(more)) = (all.as_object_mut(), more) {
            all.extend(more);
        }
    }
    all
}

fn event_schemas() -> Value {
    let string = || json!({"type": "string"});
    let ids = || json!({"type": "array", "items": {"type": "string"}});
    json!({
        "Event": object(json!({
            "id": {"type": "string", "description": "Its place in the realm's log: `after=<id>` reads what follows."},
            "at": {"type": "string", "format": "date-time"}, "actor": string(),
            "request_id": {"type": ["string", "null"]},
            "operation": {"type": "string", "enum": ["create", "replace", "patch", "delete", "admin", "denied"],
                "description": "create, replace, patch, delete: SCIM writes; admin: an admin API or CLI action on the realm; denied: a credential its SCIM endpoints refused."},
            "resource_type": {"type": "string", "enum": ["User", "Group", "Realm", "Token", "OAuthClient", "BasicCredential", "TrustedIssuer", "Webhook", "Credential"]},
            "resource_id": {"type": ["string", "null"], "description": "The user's or group's id; for an admin action the id of what it touched (a realm: its name); null for a denial."},
            "version": {"type": ["integer", "null"]},
            "changed": ids(), "members_added": ids(), "members_removed": ids(),
            "action": {"type": "string", "description": "Admin actions: which (token.rotate); denials: scim.auth.denied."},
            "target": {"type": "string", "description": "Admin actions: what was touched, as a path."},
            "detail": {"type": "object", "description": "Admin actions and denials: what the audit record says of them; never a secret."}}),
            &["id", "at", "actor", "request_id", "operation", "resource_type", "resource_id", "version", "changed"]),
        "EventList": object(
            json!({"items": {"type": "array", "items": schema_ref("Event")},
                   "next_cursor": {"type": "string", "description": "The last event's id, or the position read from: poll with it."}}),
            &["items", "next_cursor"],
        ),
    })
}

fn webhook_schemas() -> Value {
    let string = || json!({"type": "string"});
    let types = || {
        json!({"type": "array", "minItems": 1, "maxItems": 20, "items": {"type": "string"},
            "description": "<resource>.<operation> (user|group . create|replace|patch|delete), either part *, or * for all."})
    };
    let view = json!({"id": string(), "url": string(), "description": {"type": ["string", "null"]},
        "event_types": types(), "enabled": {"type": "boolean"},
        "status": {"type": "string", "enum": ["active", "retrying", "failing", "disabled"]},
        "failure": {"type": ["string", "null"], "description": "Why it is failing: retries ran out."},
        "delivered_through": {"type": "string", "description": "The last event sent or passed over."},
        "attempts": {"type": "integer"}, "next_attempt_at": nullable_time(),
        "failing_since": nullable_time(), "last_success_at": nullable_time(),
        "previous_secret_valid_until": nullable_time(),
        "created_at": time(), "created_by": string(), "updated_at": time()});
    let required = [
        "id",
        "url",
        "description",
        "event_types",
        "enabled",
        "status",
        "failure",
        "delivered_through",
        "attempts",
        "next_attempt_at",
        "failing_since",
        "last_success_at",
        "previous_secret_valid_until",
        "created_at",
        "created_by",
        "updated_at",
    ];
    let mut with_secret = view.clone();
    with_secret["secret"] = json!({"type": "string", "description": "whsec_…: shown this once."});
    let mut required_secret = required.to_vec();
    required_secret.push("secret");
    json!({
        "Webhook": object(view, &required),
        "WebhookWithSecret": object(with_secret, &required_secret),
        "WebhookList": list("Webhook"),
        "WebhookCreate": object(json!({"url": {"type": "string", "maxLength": 2048},
            "description": {"type": ["string", "null"]}, "event_types": types(),
            "enabled": {"type": "boolean", "default": true}}), &["url"]),
        "WebhookUpdate": object(json!({"url": {"type": "string", "maxLength": 2048},
            "description": {"type": ["string", "null"]}, "event_types": types(),
            "enabled": {"type": "boolean"}}), &[]),
        "WebhookRotate": object(json!({"overlap_seconds": {"type": "integer", "minimum": 0,
            "maximum": 2592000, "default": 86400}}), &[]),
        "Delivery": object(json!({"id": string(), "event_id": string(), "event_type": string(),
            "attempt": {"type": "integer"}, "at": time(), "status_code": {"type": ["integer", "null"]},
            "latency_ms": {"type": "integer"}, "ok": {"type": "boolean"},
            "error": {"type": ["string", "null"]}, "manual": {"type": "boolean"}}),
            &["id", "event_id", "event_type", "attempt", "at", "status_code", "latency_ms", "ok", "error", "manual"]),
        "DeliveryList": list("Delivery"),
    })
}

/// The trusted issuers' schemas, apart: one `json!` that held every schema would pass the
/// macro's recursion limit.
fn trusted_issuer_schemas() -> Value {
    let scim_scopes = json!({"type": "array", "items": {"type": "string", "enum": ["scim:all", "scim:read", "events:read"]}});
    json!({
        "TrustedIssuer": object(json!({"id": string(), "name": string(), "issuer": string(),
            "audience": string(), "subject": {"type": ["string", "null"], "description": "Null: any subject."},
            "jwks_url": {"type": ["string", "null"], "description": "Null: the keys come from the issuer's OpenID discovery."},
            "scopes": scim_scopes, "scope_claim": {"type": ["string", "null"]},
            "scope_values": {"type": "object", "additionalProperties": {"type": "string", "enum": ["scim:all", "scim:read", "events:read"]}},
            "enabled": {"type": "boolean"}, "created_at": time(), "created_by": string(),
            "updated_at": time(), "last_used_at": nullable_time()}),
            &["id", "name", "issuer", "audience", "subject", "jwks_url", "scopes", "scope_claim", "scope_values", "enabled", "created_at", "created_by", "updated_at", "last_used_at"]),
        "TrustedIssuerList": list("TrustedIssuer"),
        "BasicCredential": object(json!({"id": string(), "username": string(), "scopes": scim_scopes,
            "description": string(), "password_kind": {"type": "string", "enum": ["generated", "chosen"]},
            "status": {"type": "string", "enum": ["active", "expired"]},
            "created_at": time(), "created_by": string(), "expires_at": nullable_time(),
            "last_used_at": nullable_time(),
            "password": {"type": "string", "description": "A generated password: in the create response only."}}),
            &["id", "username", "scopes", "description", "password_kind", "status", "created_at", "created_by", "expires_at", "last_used_at"]),
        "BasicCredentialList": list("BasicCredential"),
        "BasicCredentialCreate": object(json!({"username": {"type": "string", "minLength": 1, "maxLength": 200, "pattern": "^[^:]+$"},
            "password": {"type": "string", "minLength": 16, "maxLength": 256, "description": "A chosen password (kept as Argon2id); omit it and scimd generates one."},
            "scopes": scim_scopes, "description": {"type": "string", "maxLength": 1000},
            "expires_in_days": {"type": "integer", "minimum": 1, "maximum": 3650},
            "expires_at": time()}), &["username"]),
        "TrustedIssuerCreate": object(json!({"name": {"type": "string", "minLength": 1, "maxLength": 200},
            "preset": {"type": "string", "enum": ["entra"], "description": "entra: Entra ID's own token for its provisioning service (issuer, audience and jwks_url from entra_tenant_id)."},
            "entra_tenant_id": {"type": "string", "format": "uuid"},
            "issuer": {"type": "string", "minLength": 1, "maxLength": 1024},
            "audience": {"type": "string", "minLength": 1, "maxLength": 1024},
            "subject": {"type": ["string", "null"], "maxLength": 1024},
            "jwks_url": {"type": "string", "format": "uri"},
            "scopes": scim_scopes,
            "scope_claim": {"type": ["string", "null"], "description": "A claim (roles, scp, groups) whose values scope_values maps to scopes."},
            "scope_values": {"type": "object", "additionalProperties": {"type": "string", "enum": ["scim:all", "scim:read", "events:read"]}},
            "enabled": {"type": "boolean", "default": true}}), &["name"]),
        "TrustedIssuerUpdate": object(json!({"name": {"type": "string", "minLength": 1, "maxLength": 200},
            "audience": {"type": "string", "minLength": 1, "maxLength": 1024},
            "subject": {"type": ["string", "null"], "maxLength": 1024},
            "jwks_url": {"type": ["string", "null"], "format": "uri"},
            "scopes": scim_scopes, "scope_claim": {"type": ["string", "null"]},
            "scope_values": {"type": "object", "additionalProperties": {"type": "string", "enum": ["scim:all", "scim:read", "events:read"]}},
            "enabled": {"type": "boolean"}}), &[]),
    })
}

fn base_schemas() -> Value {
    let id = json!({"type": "string", "pattern": "^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$"});
    let display = json!({"type": "string", "maxLength": 200});
    let description = json!({"type": "string", "maxLength": 1000});
    let state = json!({"type": "string", "enum": ["enabled", "paused", "disabled"]});
    let methods = json!({"type": "array", "minItems": 1, "uniqueItems": true,
        "items": {"type": "string", "enum": ["token", "basic", "oauth", "jwt"]},
        "description": "How callers may authenticate to the realm's SCIM endpoints: token (realm tokens as Bearer), basic (HTTP Basic), oauth (OAuth 2.0 client credentials and workload identity federation), jwt (JWTs of trusted issuers). Default: all."});
    let status = json!({"type": "string", "enum": ["active", "rotating", "expired", "revoked"]});
    let retention_days = json!({"type": ["integer", "null"], "minimum": 1, "maximum": 36_500,
        "description": "Events older than this many days are pruned; null keeps them whatever their age. Default 90."});
    let retention_count = json!({"type": ["integer", "null"], "minimum": 1000, "maximum": 1_000_000_000,
        "description": "Events beyond the newest this many are pruned; null (the default) sets no count limit."});
    let days = json!({"type": "integer", "minimum": 1, "maximum": 3650});
    let scim_scopes = json!({"type": "array", "items": {"type": "string", "enum": ["scim:all", "scim:read", "events:read"]}});
    let admin_scopes = json!({"type": "array", "items": {"type": "string", "enum": ["admin", "scim:all", "scim:read"]}});
    let token_name = json!({"type": "string", "minLength": 1, "maxLength": 100});
    let lifetime = json!({"type": "integer", "minimum": 300, "maximum": 86_400, "default": 3600});
    json!({
        "Problem": {
            "type": "object",
            "properties": {
                "type": string(), "title": string(), "status": {"type": "integer"},
                "detail": string(), "field": string(), "existing_id": string(),
                "fields": {"type": "array", "items": string()}
            },
            "required": ["type", "title", "status", "detail"]
        },
        "Tenant": object(json!({"id": id, "display_name": string(), "description": string(),
            "created_at": time(), "updated_at": time()}),
            &["id", "display_name", "description", "created_at", "updated_at"]),
        "TenantList": list("Tenant"),
        "TenantCreate": object(json!({"id": id, "display_name": display, "description": description}), &["id"]),
        "TenantUpdate": object(json!({"display_name": display, "description": description}), &[]),
        "Realm": object(json!({"id": id, "tenant_id": id, "display_name": string(),
            "description": string(), "state": state, "auth_methods": methods,
            "event_retention_days": retention_days.clone(), "event_retention_count": retention_count.clone(),
            "scim_base_url": {"type": "string", "format": "uri"},
            "users": {"type": "integer"}, "groups": {"type": "integer"},
            "created_at": time(), "updated_at": time()}),
            &["id", "tenant_id", "display_name", "description", "state", "auth_methods", "event_retention_days", "event_retention_count", "scim_base_url", "users", "groups", "created_at", "updated_at"]),
        "RealmList": list("Realm"),
        "RealmCreate": object(json!({"id": id, "display_name": display, "description": description, "state": state, "auth_methods": methods,
            "event_retention_days": retention_days.clone(), "event_retention_count": retention_count.clone()}), &["id"]),
        "RealmUpdate": object(json!({"display_name": display, "description": description, "state": state, "auth_methods": methods,
            "event_retention_days": retention_days, "event_retention_count": retention_count}), &[]),
        "Token": object(json!({"id": string(), "tenant_id": string(), "realm_id": string(),
            "name": string(), "description": string(), "scopes": scim_scopes, "status": status,
            "replaced_by": {"type": ["string", "null"]}, "created_at": time(), "created_by": string(),
            "expires_at": nullable_time(), "last_used_at": nullable_time(),
            "token_value": {"type": "string", "description": "The secret: in the create and rotate responses only."}}),
            &["id", "tenant_id", "realm_id", "name", "description", "scopes", "status", "replaced_by", "created_at", "created_by", "expires_at", "last_used_at"]),
        "TokenList": list("Token"),
        "TokenCreate": object(json!({"name": token_name, "description": description, "scopes": scim_scopes,
            "expires_in_days": days, "expires_at": time()}), &["name"]),
        "TokenUpdate": object(json!({"name": token_name, "description": description}), &[]),
        "TokenRotate": object(json!({"grace_period_seconds": {"type": "integer", "minimum": 0, "maximum": 2_592_000, "default": 86_400},
            "expires_in_days": days, "expires_at": time()}), &[]),
        "AdminToken": object(json!({"id": string(), "tenant_id": {"type": ["string", "null"]},
            "name": string(), "description": string(), "scopes": admin_scopes, "status": status,
            "created_at": time(), "created_by": string(), "expires_at": nullable_time(),
            "last_used_at": nullable_time(), "token_value": string()}),
            &["id", "tenant_id", "name", "description", "scopes", "status", "created_at", "created_by", "expires_at", "last_used_at"]),
        "AdminTokenList": list("AdminToken"),
        "AdminTokenCreate": object(json!({"name": token_name, "description": description, "scopes": admin_scopes,
            "expires_in_days": days, "expires_at": time()}), &["name"]),
        "ClientSecret": object(json!({"id": string(), "description": string(), "status": status,
            "created_at": time(), "created_by": string(), "expires_at": nullable_time(),
            "last_used_at": nullable_time(),
            "client_secret": {"type": "string", "description": "The secret: in the response that created it only."}}),
            &["id", "description", "status", "created_at", "created_by", "expires_at", "last_used_at"]),
        "ClientSecretCreate": object(json!({"description": description, "expires_in_days": days, "expires_at": time()}), &[]),
        "OAuthClient": object(json!({"id": string(), "client_id": string(), "tenant_id": string(),
            "realm_id": string(), "name": string(), "description": string(), "scopes": scim_scopes,
            "enabled": {"type": "boolean"}, "token_lifetime_seconds": lifetime,
            "token_endpoint": {"type": "string", "format": "uri"},
            "created_at": time(), "created_by": string(), "updated_at": time(),
            "secrets": {"type": "array", "items": schema_ref("ClientSecret")},
            "federated_credentials": {"type": "array", "items": schema_ref("FederatedCredential")},
            "client_secret": {"type": "string", "description": "The first secret: in the create response only."}}),
            &["id", "client_id", "tenant_id", "realm_id", "name", "description", "scopes", "enabled", "token_lifetime_seconds", "token_endpoint", "created_at", "created_by", "updated_at", "secrets", "federated_credentials"]),
        "FederatedCredential": object(json!({"id": string(), "name": string(), "issuer": string(),
            "subject": string(), "audience": string(),
            "jwks_url": {"type": ["string", "null"], "description": "Null: the keys come from the issuer's OpenID discovery."},
            "created_at": time(), "created_by": string(), "last_used_at": nullable_time()}),
            &["id", "name", "issuer", "subject", "audience", "jwks_url", "created_at", "created_by", "last_used_at"]),
        "FederatedCredentialCreate": object(json!({"name": {"type": "string", "maxLength": 200},
            "preset": {"type": "string", "enum": ["entra"], "description": "entra: issuer and jwks_url from entra_tenant_id."},
            "entra_tenant_id": {"type": "string", "format": "uuid"},
            "issuer": {"type": "string", "minLength": 1, "maxLength": 1024},
            "subject": {"type": "string", "minLength": 1, "maxLength": 1024},
            "audience": {"type": "string", "minLength": 1, "maxLength": 1024},
            "jwks_url": {"type": "string", "format": "uri"}}), &["subject", "audience"]),
        "OAuthClientList": list("OAuthClient"),
        "OAuthClientCreate": object(json!({"name": token_name, "description": description, "scopes": scim_scopes,
            "enabled": {"type": "boolean", "default": true}, "token_lifetime_seconds": lifetime,
            "secret_description": description, "secret_expires_in_days": days,
            "issue_secret": {"type": "boolean", "default": true, "description": "false: no secret (a client that authenticates by federated credential)."}}), &["name"]),
        "OAuthClientUpdate": object(json!({"name": token_name, "description": description, "scopes": scim_scopes,
            "enabled": {"type": "boolean"}, "token_lifetime_seconds": lifetime}), &[]),
        "AuditEvent": object(json!({"id": string(), "tenant": {"type": ["string", "null"]}, "at": time(),
            "actor": string(), "action": string(), "target": string(),
            "address": {"type": ["string", "null"]}, "detail": {"type": "object"}}),
            &["id", "tenant", "at", "actor", "action", "target", "address", "detail"]),
        "AuditList": list("AuditEvent"),
    })
}
