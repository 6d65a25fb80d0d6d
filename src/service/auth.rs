//! Who may call a realm's SCIM endpoints: realm lookup, bearer-token checks, realm state, and
//! last-use bookkeeping that costs no write per request.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use base64::Engine;
use rand::RngCore;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use super::auth_cache::AuthCache;
use super::error::{ServiceError, ServiceResult};
use crate::scim::ScimError;
use crate::store::{Realm, RealmState, Store, StoreError, TokenInfo};

pub const SCIM_SCOPE: &str = "scim:all";
const TOKEN_PREFIX: &str = "scimd_";

/// An authenticated caller of one realm.
#[derive(Debug, Clone)]
pub struct Principal {
    pub realm: Realm,
    /// `None` for anonymous discovery reads.
    pub token_id: Option<String>,
}

/// A freshly minted secret: shown once, then only its hash exists.
pub struct MintedSecret {
    pub secret: String,
    pub hash: String,
}

pub fn mint_secret() -> MintedSecret {
    let mut bytes = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    let secret = format!(
        "{TOKEN_PREFIX}{}",
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
    );
    let hash = hash_secret(&secret);
    MintedSecret { secret, hash }
}

/// SHA-256 suits a 256-bit random secret: there is nothing to brute-force, and lookups stay
/// cheap. (Passwords, which people choose, get Argon2 instead.)
pub fn hash_secret(secret: &str) -> String {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let digest = Sha256::digest(secret.as_bytes());
    let mut out = String::with_capacity(digest.len() * 2);
    for b in digest {
        out.push(HEX[usize::from(b >> 4)] as char);
        out.push(HEX[usize::from(b & 0xf)] as char);
    }
    out
}

/// Token last-use times, kept in memory and written in batches by `flush`.
#[derive(Default)]
pub struct UsageTracker {
    pending: Mutex<HashMap<String, String>>,
}

impl UsageTracker {
    pub fn note(&self, token_id: &str) {
        let now = crate::clock::now();
        if let Ok(mut p) = self.pending.lock() {
            p.insert(token_id.to_owned(), now);
        }
    }

    pub async fn flush(&self, store: &dyn Store) -> Result<(), StoreError> {
        let batch: Vec<(String, String)> = match self.pending.lock() {
            Ok(mut p) => p.drain().collect(),
            Err(_) => return Ok(()),
        };
        store.record_token_use(&batch).await
    }
}

pub struct AuthService {
    store: Arc<dyn Store>,
    usage: Arc<UsageTracker>,
    pub cache: Arc<AuthCache>,
}

impl AuthService {
    pub fn new(store: Arc<dyn Store>, usage: Arc<UsageTracker>) -> Self {
        Self {
            store,
            usage,
            cache: Arc::default(),
        }
    }

    /// The realm and, when a hash is given, the token with it: from the cache when it can
    /// vouch for them, else from the store (remembered for next time when allowed).
    async fn lookup(
        &self,
        tenant: &str,
        realm: &str,
        hash: Option<&str>,
    ) -> ServiceResult<Option<(Realm, Option<TokenInfo>)>> {
        if let Some(h) = hash {
            if let Some((r, t)) = self.cache.get(tenant, realm, h) {
                return Ok(Some((r, Some(t))));
            }
        }
        let ticket = self.cache.ticket();
        let found = self
            .store
            .authenticate(tenant, realm, hash)
            .await
            .map_err(|e| ServiceError::from_store(e, "realm"))?;
        if let (Some(ticket), Some((r, Some(t)))) = (ticket, &found) {
            self.cache.put(ticket, r, t);
        }
        Ok(found)
    }

    /// Resolves the realm and checks the bearer token. `token_required == false` lets
    /// anonymous callers through (discovery), but a token that is sent must still be valid.
    pub async fn authorize(
        &self,
        tenant: &str,
        realm: &str,
        bearer: Option<&str>,
        token_required: bool,
    ) -> ServiceResult<Principal> {
        let hash = bearer.map(hash_secret);
        // No tenant or realm name holds NUL, and PostgreSQL refuses to compare text with one.
        let found = if tenant.contains('\0') || realm.contains('\0') {
            None
        } else {
            self.lookup(tenant, realm, hash.as_deref()).await?
        };
        let Some((realm, token)) = found else {
            auth_failure("unknown_realm");
            return Err(ScimError::not_found(format!(
                "there is no realm '{realm}' in tenant '{tenant}'"
            ))
            .into());
        };
        let token_id = match (bearer, token) {
            (None, _) if !token_required => None,
            (None, _) => {
                return Err(unauthorized(
                    "missing_token",
                    "this endpoint needs a bearer token: send 'Authorization: Bearer <token>'",
                ))
            }
            (Some(_), None) => {
                return Err(unauthorized(
                    "invalid_token",
                    "the bearer token is not valid for this realm",
                ))
            }
            (Some(_), Some(t)) => {
                let expected = hash.unwrap_or_default();
                // The lookup was by hash; comparing again in constant time keeps timing from
                // saying anything even if the index ever changed.
                if !bool::from(expected.as_bytes().ct_eq(t.token_hash.as_bytes())) {
                    return Err(unauthorized(
                        "invalid_token",
                        "the bearer token is not valid for this realm",
                    ));
                }
                if t.revoked_at.is_some() {
                    return Err(unauthorized("revoked", "the bearer token has been revoked"));
                }
                if let Some(exp) = &t.expires_at {
                    if *exp <= crate::clock::now() {
                        return Err(unauthorized("expired", "the bearer token has expired"));
                    }
                }
                if !t.scopes.iter().any(|s| s == SCIM_SCOPE) {
                    auth_failure("insufficient_scope");
                    return Err(ScimError::new(
                        403,
                        None,
                        format!("the bearer token lacks the '{SCIM_SCOPE}' scope"),
                    )
                    .into());
                }
                self.usage.note(&t.id);
                Some(t.id)
            }
        };
        match realm.state {
            RealmState::Enabled => {}
            RealmState::Paused => {
                auth_failure("realm_paused");
                return Err(ScimError::new(
                    403,
                    None,
                    format!(
                        "SCIM provisioning is paused for realm '{}' of tenant '{}'; its data and \
                         tokens are kept. An operator resumes it with 'scimd realm set-state \
                         --tenant {} --realm {} enabled'",
                        realm.name, realm.tenant, realm.tenant, realm.name
                    ),
                )
                .into());
            }
            RealmState::Disabled => {
                auth_failure("realm_disabled");
                return Err(ScimError::new(
                    403,
                    None,
                    format!(
                        "SCIM provisioning is disabled for realm '{}' of tenant '{}'",
                        realm.name, realm.tenant
                    ),
                )
                .into());
            }
        }
        Ok(Principal { realm, token_id })
    }
}

fn unauthorized(reason: &'static str, detail: &str) -> ServiceError {
    auth_failure(reason);
    ScimError::new(401, None, detail).into()
}

fn auth_failure(reason: &'static str) {
    metrics::counter!("scimd_auth_failures_total", "reason" => reason).increment(1);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn minted_secrets_are_unique_prefixed_and_hash_stably() {
        let a = mint_secret();
        let b = mint_secret();
        assert_ne!(a.secret, b.secret);
        assert!(a.secret.starts_with(TOKEN_PREFIX));
        assert!(a.secret.len() > 40);
        assert_eq!(hash_secret(&a.secret), a.hash);
        assert_ne!(a.hash, a.secret);
    }
}
