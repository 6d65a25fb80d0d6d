//! The realm's OAuth 2.0 authorization server, client credentials grant (RFC 6749 §4.4): a
//! client authenticates with its id and one of its secrets and receives an access token, a
//! row of `tokens` that names the client, so a SCIM request finds it as it finds any token
//! (cached, voided everywhere the moment the client is disabled or deleted).

use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::json;

use super::admin::clients::CLIENT_SECRET_PREFIX;
use super::auth::{hash_secret, mint_secret_with, SCIM_READ_SCOPE, SCIM_SCOPE};
use super::failures::FailureLimit;
use crate::clock::Clock;
use crate::store::{AuditEvent, NewToken, Realm, RealmState, Store, StoreError};

/// Access tokens say what they are, for secret scanners and people.
pub const ACCESS_TOKEN_PREFIX: &str = "scimd_at_";
pub const GRANT_CLIENT_CREDENTIALS: &str = "client_credentials";
/// Failed client authentications allowed per source address, and per client id, a minute.
const MAX_FAILURES: u32 = 10;

/// How the client authenticated (RFC 6749 §2.3.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClientAuthMethod {
    /// `Authorization: Basic` (client_secret_basic).
    Basic,
    /// `client_id` and `client_secret` in the form (client_secret_post).
    Post,
}

/// A token request as the HTTP layer read it.
#[derive(Debug, Clone)]
pub struct TokenRequest {
    pub grant_type: Option<String>,
    pub scope: Option<String>,
    pub client_id: String,
    pub client_secret: String,
    pub method: ClientAuthMethod,
    /// The caller's address, for the failure limit and the audit record.
    pub address: Option<String>,
}

/// What the token endpoint answers.
#[derive(Debug)]
pub struct Issued {
    pub access_token: String,
    pub expires_in: i64,
    pub scope: String,
}

/// RFC 6749 §5.2 errors, and the few answers around them.
#[derive(Debug, thiserror::Error)]
pub enum OAuthError {
    #[error("{0}")]
    InvalidRequest(String),
    /// Client authentication failed; `method` says whether to challenge (401 with
    /// WWW-Authenticate when it came by header).
    #[error("{detail}")]
    InvalidClient {
        detail: String,
        method: Option<ClientAuthMethod>,
    },
    #[error("{0}")]
    UnsupportedGrantType(String),
    #[error("{0}")]
    InvalidScope(String),
    #[error("{0}")]
    NoRealm(String),
    /// Too many failed authentications from this address or for this client.
    #[error("too many failed attempts; retry after {0:?}")]
    TooManyFailures(Duration),
    #[error("database unavailable: {0}")]
    Unavailable(StoreError),
    #[error("internal error: {0}")]
    Internal(StoreError),
}

impl From<StoreError> for OAuthError {
    fn from(e: StoreError) -> Self {
        match e {
            e @ StoreError::Unavailable(_) => OAuthError::Unavailable(e),
            e => OAuthError::Internal(e),
        }
    }
}

pub struct OAuthService {
    store: Arc<dyn Store>,
    clock: Arc<dyn Clock>,
    failures: FailureLimit,
}

fn bad_client(method: ClientAuthMethod) -> OAuthError {
    // One answer for an unknown client, a wrong, revoked or expired secret and a disabled
    // client: which part was wrong is for the audit record, not the caller.
    OAuthError::InvalidClient {
        detail: "client authentication failed".into(),
        method: Some(method),
    }
}

impl OAuthService {
    pub fn new(store: Arc<dyn Store>, clock: Arc<dyn Clock>) -> Self {
        Self {
            store,
            clock,
            failures: FailureLimit::new(MAX_FAILURES, Duration::from_secs(60)),
        }
    }

    /// The realm a token endpoint or its metadata belongs to.
    pub async fn realm(&self, tenant: &str, realm: &str) -> Result<Realm, OAuthError> {
        let found = if tenant.contains('\0') || realm.contains('\0') {
            None
        } else {
            self.store.find_realm(tenant, realm).await?
        };
        found.ok_or_else(|| {
            OAuthError::NoRealm(format!("there is no realm '{realm}' in tenant '{tenant}'"))
        })
    }

    pub async fn token(
        &self,
        tenant: &str,
        realm: &str,
        req: TokenRequest,
    ) -> Result<Issued, OAuthError> {
        let realm = self.realm(tenant, realm).await?;
        let keys = [
            format!("address:{}", req.address.as_deref().unwrap_or("-")),
            format!("client:{}:{}", realm.id, req.client_id),
        ];
        let now = Instant::now();
        if let Some(wait) = keys.iter().find_map(|k| self.failures.blocked(k, now)) {
            return Err(OAuthError::TooManyFailures(wait));
        }
        match req.grant_type.as_deref() {
            None => {
                return Err(OAuthError::InvalidRequest(
                    "grant_type is required; this endpoint issues tokens for \
                     grant_type=client_credentials"
                        .into(),
                ))
            }
            Some(GRANT_CLIENT_CREDENTIALS) => {}
            Some(other) => {
                return Err(OAuthError::UnsupportedGrantType(format!(
                    "grant_type '{other}' is not supported; use client_credentials"
                )))
            }
        }
        let client = match self.authenticate(&realm, &req).await? {
            Ok(found) => found,
            Err(why) => {
                for k in &keys {
                    self.failures.fail(k, now);
                }
                self.record_failure(&realm, &req, why).await;
                return Err(bad_client(req.method));
            }
        };
        let (client, secret_id) = client;
        let scopes = granted(req.scope.as_deref(), &client.scopes)?;
        let minted = mint_secret_with(ACCESS_TOKEN_PREFIX);
        let issued_at = self.clock.now();
        let token = NewToken {
            id: uuid::Uuid::now_v7().to_string(),
            realm_id: realm.id.clone(),
            name: client.name.clone(),
            token_hash: minted.hash,
            scopes: scopes.clone(),
            description: String::new(),
            created_by: format!("oauth-client:{}", client.id),
            created_at: crate::clock::format(issued_at),
            expires_at: Some(crate::clock::format(
                issued_at + chrono::Duration::seconds(client.token_lifetime),
            )),
        };
        self.store
            .issue_access_token(&token, &client.id, &secret_id)
            .await?;
        Ok(Issued {
            access_token: minted.secret,
            expires_in: client.token_lifetime,
            scope: scopes.join(" "),
        })
    }

    /// The client and the id of the secret it used, or why not (for the audit record).
    async fn authenticate(
        &self,
        realm: &Realm,
        req: &TokenRequest,
    ) -> Result<Result<(crate::store::OAuthClient, String), &'static str>, OAuthError> {
        if realm.state == RealmState::Disabled {
            return Ok(Err("the realm is disabled"));
        }
        if !req.client_secret.starts_with(CLIENT_SECRET_PREFIX) {
            return Ok(Err("not a client secret"));
        }
        let hash = hash_secret(&req.client_secret);
        let Some((client, secret)) = self
            .store
            .find_client_secret(&realm.id, &req.client_id, &hash)
            .await?
        else {
            return Ok(Err("unknown client or secret"));
        };
        let now = self.clock.now_text();
        if !secret.live(&now) {
            return Ok(Err(if secret.revoked_at.is_some() {
                "the secret is revoked"
            } else {
                "the secret has expired"
            }));
        }
        if !client.enabled {
            return Ok(Err("the client is disabled"));
        }
        Ok(Ok((client, secret.id)))
    }

    async fn record_failure(&self, realm: &Realm, req: &TokenRequest, why: &str) {
        let event = AuditEvent {
            id: uuid::Uuid::now_v7().to_string(),
            tenant: Some(realm.tenant.clone()),
            at: self.clock.now_text(),
            actor: format!("oauth-client:{}", req.client_id),
            action: "oauth.token.denied".into(),
            target: format!(
                "tenants/{}/realms/{}/oauth2/token",
                realm.tenant, realm.name
            ),
            address: req.address.clone(),
            detail: json!({"reason": why}),
        };
        if let Err(e) = self.store.append_audit(&event).await {
            tracing::error!(error = %e, "recording a failed client authentication failed");
        }
    }
}

/// The scopes to grant: those asked for, each allowed to the client, or all the client's.
fn granted(asked: Option<&str>, allowed: &[String]) -> Result<Vec<String>, OAuthError> {
    let asked: Vec<&str> = asked.unwrap_or_default().split_whitespace().collect();
    if asked.is_empty() {
        return Ok(allowed.to_vec());
    }
    let mut out: Vec<String> = Vec::new();
    // scim:all includes every read, so a client that may write may also ask for less.
    let may = |s: &str| {
        allowed
            .iter()
            .any(|a| a == s || (a == SCIM_SCOPE && s == SCIM_READ_SCOPE))
    };
    for s in asked {
        if !may(s) {
            let known = [SCIM_SCOPE, SCIM_READ_SCOPE].contains(&s);
            return Err(OAuthError::InvalidScope(if known {
                format!(
                    "the client may not have scope '{s}'; it may have {}",
                    allowed.join(" ")
                )
            } else {
                format!("unknown scope '{s}'; scopes are {SCIM_SCOPE} and {SCIM_READ_SCOPE}")
            }));
        }
        if !out.iter().any(|o| o == s) {
            out.push(s.to_owned());
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scopes(s: &[&str]) -> Vec<String> {
        s.iter().map(|s| (*s).to_owned()).collect()
    }

    #[test]
    fn a_request_gets_what_it_asks_within_what_the_client_may_have() {
        let allowed = scopes(&["scim:all", "scim:read"]);
        assert_eq!(granted(None, &allowed).unwrap(), allowed);
        assert_eq!(
            granted(Some("scim:read"), &scopes(&["scim:all"])).unwrap(),
            scopes(&["scim:read"]),
            "writing includes reading"
        );
        assert_eq!(granted(Some("  "), &allowed).unwrap(), allowed);
        assert_eq!(
            granted(Some("scim:read scim:read"), &allowed).unwrap(),
            scopes(&["scim:read"])
        );
        let read_only = scopes(&["scim:read"]);
        assert!(matches!(
            granted(Some("scim:all"), &read_only),
            Err(OAuthError::InvalidScope(d)) if d.contains("may not")
        ));
        assert!(matches!(
            granted(Some("openid"), &read_only),
            Err(OAuthError::InvalidScope(d)) if d.contains("unknown scope 'openid'")
        ));
    }
}
