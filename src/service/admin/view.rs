//! What the admin API returns: the stored records as their users name them, without hashes,
//! and with what a reader would otherwise compute (token status, a realm's SCIM URL).

use serde::Serialize;

use super::federated::FederatedView;
use crate::store::{
    AdminToken, AuthMethod, ClientSecret, FederatedCredential, OAuthClient, Realm, RealmState,
    Tenant, TokenInfo,
};

#[derive(Debug, Serialize)]
pub struct TenantView {
    pub id: String,
    pub display_name: String,
    pub description: String,
    pub created_at: String,
    pub updated_at: String,
}

impl From<Tenant> for TenantView {
    fn from(t: Tenant) -> Self {
        TenantView {
            display_name: if t.display_name.is_empty() {
                t.name.clone()
            } else {
                t.display_name
            },
            id: t.name,
            description: t.description,
            created_at: t.created_at,
            updated_at: t.updated_at,
        }
    }
}

#[derive(Debug, Serialize)]
pub struct RealmView {
    pub id: String,
    pub tenant_id: String,
    pub display_name: String,
    pub description: String,
    pub state: RealmState,
    /// How callers may authenticate to its SCIM endpoints.
    pub auth_methods: Vec<AuthMethod>,
    /// Events older than this many days are pruned (null: no age limit).
    pub event_retention_days: Option<u32>,
    /// Events beyond the newest this many are pruned (null: no count limit).
    pub event_retention_count: Option<u64>,
    pub scim_base_url: String,
    pub users: u64,
    pub groups: u64,
    pub created_at: String,
    pub updated_at: String,
}

impl RealmView {
    /// `origin` is scheme://host of the server as the caller reaches it.
    pub fn new(r: Realm, (users, groups): (u64, u64), origin: &str) -> Self {
        RealmView {
            scim_base_url: format!("{origin}/v1/tenants/{}/realms/{}/scim/v2", r.tenant, r.name),
            display_name: if r.display_name.is_empty() {
                r.name.clone()
            } else {
                r.display_name
            },
            id: r.name,
            tenant_id: r.tenant,
            description: r.description,
            state: r.state,
            auth_methods: r.auth_methods,
            event_retention_days: r.retention.days,
            event_retention_count: r.retention.count,
            users,
            groups,
            created_at: r.created_at,
            updated_at: r.updated_at,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum TokenStatus {
    Active,
    /// Replaced by a rotation, living out its grace period.
    Rotating,
    Expired,
    Revoked,
}

impl TokenStatus {
    pub fn of(t: &TokenInfo, now: &str) -> Self {
        if t.revoked_at.is_some() {
            TokenStatus::Revoked
        } else if t.expires_at.as_deref().is_some_and(|e| e <= now) {
            TokenStatus::Expired
        } else if t.replaced_by.is_some() {
            TokenStatus::Rotating
        } else {
            TokenStatus::Active
        }
    }
}

#[derive(Debug, Serialize)]
pub struct TokenView {
    pub id: String,
    pub tenant_id: String,
    pub realm_id: String,
    pub name: String,
    pub description: String,
    pub scopes: Vec<String>,
    pub status: TokenStatus,
    pub replaced_by: Option<String>,
    pub created_at: String,
    pub created_by: String,
    pub expires_at: Option<String>,
    pub last_used_at: Option<String>,
    /// The secret: in the response that created the token, and nowhere else ever.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub token_value: Option<String>,
}

impl TokenView {
    pub fn new(t: TokenInfo, realm: &Realm, now: &str) -> Self {
        TokenView {
            status: TokenStatus::of(&t, now),
            id: t.id,
            tenant_id: realm.tenant.clone(),
            realm_id: realm.name.clone(),
            name: t.name,
            description: t.description,
            scopes: t.scopes,
            replaced_by: t.replaced_by,
            created_at: t.created_at,
            created_by: t.created_by,
            expires_at: t.expires_at,
            last_used_at: t.last_used_at,
            token_value: None,
        }
    }
}

#[derive(Debug, Serialize)]
pub struct AdminTokenView {
    pub id: String,
    pub tenant_id: Option<String>,
    pub name: String,
    pub description: String,
    pub scopes: Vec<String>,
    pub status: TokenStatus,
    pub created_at: String,
    pub created_by: String,
    pub expires_at: Option<String>,
    pub last_used_at: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub token_value: Option<String>,
}

impl AdminTokenView {
    pub fn new(t: AdminToken, now: &str) -> Self {
        let status = if t.revoked_at.is_some() {
            TokenStatus::Revoked
        } else if t.expires_at.as_deref().is_some_and(|e| e <= now) {
            TokenStatus::Expired
        } else {
            TokenStatus::Active
        };
        AdminTokenView {
            id: t.id,
            tenant_id: t.tenant,
            name: t.name,
            description: t.description,
            scopes: t.scopes,
            status,
            created_at: t.created_at,
            created_by: t.created_by,
            expires_at: t.expires_at,
            last_used_at: t.last_used_at,
            token_value: None,
        }
    }
}

/// One page of a list, and where the next begins.
#[derive(Debug, Serialize)]
pub struct Listed<T> {
    pub items: Vec<T>,
    pub next_cursor: Option<String>,
}

#[derive(Debug, Serialize)]
pub struct ClientSecretView {
    pub id: String,
    pub description: String,
    pub status: TokenStatus,
    pub created_at: String,
    pub created_by: String,
    pub expires_at: Option<String>,
    pub last_used_at: Option<String>,
    /// The secret: in the response that created it, and nowhere else ever.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_secret: Option<String>,
}

impl ClientSecretView {
    pub fn new(s: ClientSecret, now: &str) -> Self {
        let status = if s.revoked_at.is_some() {
            TokenStatus::Revoked
        } else if s.live(now) {
            TokenStatus::Active
        } else {
            TokenStatus::Expired
        };
        ClientSecretView {
            id: s.id,
            description: s.description,
            status,
            created_at: s.created_at,
            created_by: s.created_by,
            expires_at: s.expires_at,
            last_used_at: s.last_used_at,
            client_secret: None,
        }
    }
}

/// An OAuth client as the admin API shows it: what to paste into an identity provider
/// (client id, token endpoint) and its secrets, without their values.
#[derive(Debug, Serialize)]
pub struct ClientView {
    pub id: String,
    pub client_id: String,
    pub tenant_id: String,
    pub realm_id: String,
    pub name: String,
    pub description: String,
    pub scopes: Vec<String>,
    pub enabled: bool,
    pub token_lifetime_seconds: i64,
    pub token_endpoint: String,
    pub created_at: String,
    pub created_by: String,
    pub updated_at: String,
    pub secrets: Vec<ClientSecretView>,
    pub federated_credentials: Vec<FederatedView>,
    /// The first secret's value: in the response that created the client only.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_secret: Option<String>,
}

impl ClientView {
    pub fn new(
        c: OAuthClient,
        realm: &Realm,
        secrets: Vec<ClientSecret>,
        federated: Vec<FederatedCredential>,
        origin: &str,
        now: &str,
    ) -> Self {
        ClientView {
            client_id: c.id.clone(),
            id: c.id,
            tenant_id: realm.tenant.clone(),
            realm_id: realm.name.clone(),
            name: c.name,
            description: c.description,
            scopes: c.scopes,
            enabled: c.enabled,
            token_lifetime_seconds: c.token_lifetime,
            token_endpoint: token_endpoint(origin, realm),
            created_at: c.created_at,
            created_by: c.created_by,
            updated_at: c.updated_at,
            secrets: secrets
                .into_iter()
                .map(|s| ClientSecretView::new(s, now))
                .collect(),
            federated_credentials: federated.into_iter().map(FederatedView::from).collect(),
            client_secret: None,
        }
    }
}

/// Where a realm's clients get their access tokens.
pub fn token_endpoint(origin: &str, realm: &Realm) -> String {
    format!(
        "{origin}/v1/tenants/{}/realms/{}/oauth2/token",
        realm.tenant, realm.name
    )
}
