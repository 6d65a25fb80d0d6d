//! The realm's OAuth 2.0 authorization server, client credentials grant (RFC 6749 §4.4): a
//! client authenticates with its id and one of its secrets and receives an access token, a
//! row of `tokens` that names the client, so a SCIM request finds it as it finds any token
//! (cached, voided everywhere the moment the client is disabled or deleted).

use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::json;

use super::admin::clients::CLIENT_SECRET_PREFIX;
use super::auth::{hash_secret, mint_secret_with, OAUTH_ISSUED, SCIM_READ_SCOPE, SCIM_SCOPE};
use super::failures::FailureLimit;
use super::jwks::{KeySets, KeySource, Signer, Unverified};
use super::jwt::{self, Expected};
use crate::clock::Clock;
use crate::store::{
    AuditEvent, AuthMethod, FederatedCredential, IssuedWith, NewToken, OAuthClient, Realm,
    RealmState, Store, StoreError,
};

/// Why a client was refused, for the audit record only.
type Denied = std::borrow::Cow<'static, str>;

/// Access tokens say what they are, for secret scanners and people.
pub const ACCESS_TOKEN_PREFIX: &str = "scimd_at_";
pub const GRANT_CLIENT_CREDENTIALS: &str = "client_credentials";
/// Failed client authentications allowed per source address, and per client id, a minute.
const MAX_FAILURES: u32 = 10;

/// How the client authenticated (RFC 6749 §2.3.1, RFC 7523 §2.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClientAuthMethod {
    /// `Authorization: Basic` (client_secret_basic).
    Basic,
    /// `client_id` and `client_secret` in the form (client_secret_post).
    Post,
    /// A JWT its identity provider signed, in `client_assertion` (workload identity
    /// federation; private_key_jwt in RFC 8414's terms).
    Assertion,
}

/// What the client presented to prove it is itself.
#[derive(Debug, Clone)]
pub enum ClientCredential {
    Secret(String),
    Assertion(String),
}

/// A token request as the HTTP layer read it.
#[derive(Debug, Clone)]
pub struct TokenRequest {
    pub grant_type: Option<String>,
    pub scope: Option<String>,
    /// Required with a secret; with an assertion, optional (the assertion's issuer and
    /// subject name the client) but checked when given.
    pub client_id: Option<String>,
    pub credential: ClientCredential,
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
    /// The realm does not accept OAuth clients (its auth_methods lack `oauth`).
    #[error("{0}")]
    NotEnabled(String),
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
    keys: Arc<KeySets>,
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
    pub fn new(store: Arc<dyn Store>, clock: Arc<dyn Clock>, keys: Arc<KeySets>) -> Self {
        Self {
            store,
            clock,
            failures: FailureLimit::new(MAX_FAILURES, Duration::from_secs(60)),
            keys,
        }
    }

    /// The realm a token endpoint or its metadata belongs to.
    pub async fn realm(&self, tenant: &str, realm: &str) -> Result<Realm, OAuthError> {
        let found = if tenant.contains('\0') || realm.contains('\0') {
            None
        } else {
            self.store.find_realm(tenant, realm).await?
        };
        let found = found.ok_or_else(|| {
            OAuthError::NoRealm(format!("there is no realm '{realm}' in tenant '{tenant}'"))
        })?;
        if !found.auth_methods.contains(&AuthMethod::OAuth) {
            return Err(OAuthError::NotEnabled(format!(
                "realm '{realm}' of tenant '{tenant}' does not accept OAuth 2.0 client \
                 credentials; an operator adds \"oauth\" to its auth_methods"
            )));
        }
        Ok(found)
    }

    pub async fn token(
        &self,
        tenant: &str,
        realm: &str,
        req: TokenRequest,
    ) -> Result<Issued, OAuthError> {
        let realm = self.realm(tenant, realm).await?;
        // Per client only when the request names one: an assertion without a client id
        // must not share one counter with every other such request.
        let mut keys = vec![format!("address:{}", req.address.as_deref().unwrap_or("-"))];
        if let Some(id) = &req.client_id {
            keys.push(format!("client:{}:{id}", realm.id));
        }
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
        let (client, with) = client;
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
            created_by: format!("{OAUTH_ISSUED}{}", client.id),
            created_at: crate::clock::format(issued_at),
            expires_at: Some(crate::clock::format(
                issued_at + chrono::Duration::seconds(client.token_lifetime),
            )),
        };
        self.store
            .issue_access_token(&token, &client.id, &with)
            .await?;
        Ok(Issued {
            access_token: minted.secret,
            expires_in: client.token_lifetime,
            scope: scopes.join(" "),
        })
    }

    /// The client and the credential it used, or why not (for the audit record).
    async fn authenticate(
        &self,
        realm: &Realm,
        req: &TokenRequest,
    ) -> Result<Result<(OAuthClient, IssuedWith), Denied>, OAuthError> {
        if realm.state == RealmState::Disabled {
            return Ok(Err("the realm is disabled".into()));
        }
        let found = match &req.credential {
            ClientCredential::Secret(secret) => {
                let id = req.client_id.as_deref().unwrap_or_default();
                self.by_secret(realm, id, secret).await?
            }
            ClientCredential::Assertion(jwt) => {
                self.by_assertion(realm, req.client_id.as_deref(), jwt)
                    .await?
            }
        };
        Ok(match found {
            Ok((client, _)) if !client.enabled => Err("the client is disabled".into()),
            other => other,
        })
    }

    async fn by_secret(
        &self,
        realm: &Realm,
        client_id: &str,
        secret: &str,
    ) -> Result<Result<(OAuthClient, IssuedWith), Denied>, OAuthError> {
        if !secret.starts_with(CLIENT_SECRET_PREFIX) {
            return Ok(Err("not a client secret".into()));
        }
        let hash = hash_secret(secret);
        let Some((client, secret)) = self
            .store
            .find_client_secret(&realm.id, client_id, &hash)
            .await?
        else {
            return Ok(Err("unknown client or secret".into()));
        };
        let now = self.clock.now_text();
        if !secret.live(&now) {
            return Ok(Err(if secret.revoked_at.is_some() {
                "the secret is revoked"
            } else {
                "the secret has expired"
            }
            .into()));
        }
        Ok(Ok((client, IssuedWith::Secret(secret.id))))
    }

    /// RFC 7523 §3: a JWT from an issuer one of the realm's federated credentials trusts,
    /// with that credential's subject and audience, signed by one of the issuer's keys,
    /// in its lifetime, and (when it has a `jti`) not seen before.
    async fn by_assertion(
        &self,
        realm: &Realm,
        client_id: Option<&str>,
        assertion: &str,
    ) -> Result<Result<(OAuthClient, IssuedWith), Denied>, OAuthError> {
        let peek = match jwt::peek(assertion) {
            Ok(p) => p,
            Err(r) => return Ok(Err(format!("client assertion: {}", r.reason()).into())),
        };
        let candidates: Vec<_> = self
            .store
            .find_federated(&realm.id, &peek.issuer, &peek.subject)
            .await?
            .into_iter()
            .filter(|(c, _)| client_id.is_none_or(|id| id == c.id))
            .collect();
        if candidates.is_empty() {
            return Ok(Err(
                "client assertion: no federated credential has its issuer and subject".into(),
            ));
        }
        let now = self.clock.now();
        let ((client, cred), claims) = match self
            .keys
            .first_verified(assertion, &peek, now.timestamp(), candidates)
            .await
        {
            Ok(found) => found,
            Err(Unverified::Keys(e)) => return Ok(Err(format!("client assertion: {e}").into())),
            Err(Unverified::Rejected(why)) => {
                return Ok(Err(format!("client assertion: {}", why.reason()).into()))
            }
        };
        if let Some(jti) = claims.get("jti").and_then(|j| j.as_str()) {
            let key = hash_secret(&format!("{}\n{jti}", cred.issuer));
            let exp = claims.get("exp").and_then(|e| e.as_i64()).unwrap_or(0);
            let until =
                chrono::DateTime::from_timestamp(exp + jwt::LEEWAY_SECONDS, 0).unwrap_or(now);
            let fresh = self
                .store
                .claim_assertion(
                    &realm.id,
                    &key,
                    &crate::clock::format(until),
                    &crate::clock::format(now),
                )
                .await?;
            if !fresh {
                return Ok(Err("client assertion: its jti was used before".into()));
            }
        }
        Ok(Ok((client, IssuedWith::Federated(cred.id))))
    }

    async fn record_failure(&self, realm: &Realm, req: &TokenRequest, why: Denied) {
        let event = AuditEvent {
            id: uuid::Uuid::now_v7().to_string(),
            tenant: Some(realm.tenant.clone()),
            at: self.clock.now_text(),
            actor: format!(
                "oauth-client:{}",
                req.client_id.as_deref().unwrap_or("(from the assertion)")
            ),
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

/// A federated credential signs for its client.
impl Signer for (OAuthClient, FederatedCredential) {
    fn key_source(&self) -> KeySource {
        KeySource::new(&self.1.issuer, self.1.jwks_url.as_deref())
    }
    fn expected(&self) -> Expected<'_> {
        Expected {
            issuer: &self.1.issuer,
            subject: Some(&self.1.subject),
            audience: &self.1.audience,
        }
    }
}

/// Entra's workload identity federation asks for `scim` or `scim.readwrite` (its own
/// names, not configurable there); they mean what scimd calls scim:all.
fn alias(s: &str) -> &str {
    match s {
        "scim" | "scim.readwrite" => SCIM_SCOPE,
        "scim.read" => SCIM_READ_SCOPE,
        other => other,
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
        let s = alias(s);
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
        assert_eq!(
            granted(Some("scim.readwrite"), &allowed).unwrap(),
            scopes(&["scim:all"]),
            "Entra's name for it"
        );
        assert!(matches!(
            granted(Some("openid"), &read_only),
            Err(OAuthError::InvalidScope(d)) if d.contains("unknown scope 'openid'")
        ));
    }
}
