//! JWT bearer tokens from a realm's trusted issuers: `Authorization: Bearer <JWT>` that an
//! external issuer signed (Entra's own access token for its provisioning service, say),
//! checked against the issuers the realm trusts and turned into the token it stands for.
//! The signature and claim rules are `jwt`'s, the keys `jwks`'s; what is here is which
//! issuer vouches for the JWT and which scopes it grants.

use std::sync::Arc;

use serde_json::{Map, Value};

use super::auth::SCIM_READ_SCOPE;
use super::auth::SCIM_SCOPE;
use super::jwks::{KeySets, KeySource, Signer, Unverified};
use super::jwt::{self, Expected};
use crate::store::{Realm, Store, StoreError, TokenInfo, TrustedIssuer};

/// A compact JWS (header.payload.signature) whose header is base64url JSON (`{"` is `eyJ`).
/// scimd's own tokens start with `scimd_` and have no dots, so the two never meet.
pub fn looks_like_jwt(s: &str) -> bool {
    s.starts_with("eyJ") && s.bytes().filter(|b| *b == b'.').count() == 2
}

pub struct JwtBearer {
    store: Arc<dyn Store>,
    keys: Arc<KeySets>,
}

/// Why a JWT was refused, for the audit record and the log; the caller hears only
/// `invalid_token`.
pub type Refusal = String;

impl JwtBearer {
    pub fn new(store: Arc<dyn Store>, keys: Arc<KeySets>) -> Self {
        Self { store, keys }
    }

    /// The token `jwt` stands for in `realm` at `now` (Unix seconds), carrying `hash` so the
    /// auth cache can find it again; `Ok(Err(why))` when no trusted issuer vouches for it.
    pub async fn verify(
        &self,
        realm: &Realm,
        jwt: &str,
        hash: &str,
        now: i64,
    ) -> Result<Result<(TokenInfo, TrustedIssuer), Refusal>, StoreError> {
        let peek = match jwt::peek(jwt) {
            Ok(p) => p,
            Err(r) => return Ok(Err(r.reason().into())),
        };
        let candidates = self
            .store
            .find_trusted_issuers(&realm.id, &peek.issuer)
            .await?;
        if candidates.is_empty() {
            return Ok(Err("the realm trusts no enabled issuer with its iss".into()));
        }
        let (t, claims) = match self.keys.first_verified(jwt, &peek, now, candidates).await {
            Ok(found) => found,
            Err(Unverified::Keys(e)) => return Ok(Err(e.to_string())),
            Err(Unverified::Rejected(why)) => return Ok(Err(why.reason().into())),
        };
        let exp = claims.get("exp").and_then(Value::as_f64).unwrap_or(0.0) as i64;
        let until = chrono::DateTime::from_timestamp(exp + jwt::LEEWAY_SECONDS, 0)
            .map(crate::clock::format);
        let token = TokenInfo {
            id: t.id.clone(),
            realm_id: realm.id.clone(),
            name: t.name.clone(),
            token_hash: hash.to_owned(),
            scopes: scopes_of(&t, &claims),
            description: format!("JWT of '{}' for subject '{}'", t.issuer, peek.subject),
            created_by: t.created_by.clone(),
            created_at: t.created_at.clone(),
            expires_at: until,
            revoked_at: None,
            last_used_at: None,
            replaced_by: None,
        };
        Ok(Ok((token, t)))
    }
}

impl Signer for TrustedIssuer {
    fn key_source(&self) -> KeySource {
        KeySource::new(&self.issuer, self.jwks_url.as_deref())
    }
    fn expected(&self) -> Expected<'_> {
        Expected {
            issuer: &self.issuer,
            subject: self.subject.as_deref(),
            audience: &self.audience,
        }
    }
}

/// The issuer's fixed scopes, or those its claim's values map to. A claim is a list
/// (`roles`, `groups`) or one space-separated string (`scp`, `scope`).
pub fn scopes_of(t: &TrustedIssuer, claims: &Map<String, Value>) -> Vec<String> {
    let Some(claim) = &t.scope_claim else {
        return t.scopes.clone();
    };
    let values: Vec<&str> = match claims.get(claim) {
        Some(Value::String(s)) => s.split_whitespace().collect(),
        Some(Value::Array(all)) => all.iter().filter_map(Value::as_str).collect(),
        _ => Vec::new(),
    };
    let mut out: Vec<String> = Vec::new();
    for v in values {
        if let Some(scope) = t.scope_values.get(v) {
            if !out.contains(scope) {
                out.push(scope.clone());
            }
        }
    }
    // Read and write both granted is simply write.
    if out.iter().any(|s| s == SCIM_SCOPE) {
        out.retain(|s| s != SCIM_READ_SCOPE);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn issuer(claim: Option<&str>) -> TrustedIssuer {
        TrustedIssuer {
            id: "i".into(),
            realm_id: "r".into(),
            name: "n".into(),
            issuer: "https://idp/".into(),
            audience: "api://scimd".into(),
            subject: None,
            jwks_url: None,
            scopes: vec![SCIM_SCOPE.into()],
            scope_claim: claim.map(str::to_owned),
            scope_values: [
                ("Provisioner".to_owned(), SCIM_SCOPE.to_owned()),
                ("Reader".to_owned(), SCIM_READ_SCOPE.to_owned()),
            ]
            .into_iter()
            .collect(),
            enabled: true,
            created_at: String::new(),
            created_by: String::new(),
            updated_at: String::new(),
            last_used_at: None,
        }
    }

    #[test]
    fn scopes_are_fixed_or_mapped_from_a_list_or_a_spaced_string() {
        let c = |v: Value| v.as_object().unwrap().clone();
        assert_eq!(scopes_of(&issuer(None), &c(json!({}))), vec![SCIM_SCOPE]);
        let roles = issuer(Some("roles"));
        assert_eq!(
            scopes_of(&roles, &c(json!({"roles": ["Reader", "Other"]}))),
            vec![SCIM_READ_SCOPE]
        );
        assert_eq!(
            scopes_of(&roles, &c(json!({"roles": ["Reader", "Provisioner"]}))),
            vec![SCIM_SCOPE]
        );
        assert!(
            scopes_of(&roles, &c(json!({"roles": ["reader"]}))).is_empty(),
            "exact"
        );
        assert!(scopes_of(&roles, &c(json!({}))).is_empty());
        let scp = issuer(Some("scp"));
        assert_eq!(
            scopes_of(&scp, &c(json!({"scp": "openid Reader"}))),
            vec![SCIM_READ_SCOPE]
        );
    }

    #[test]
    fn only_compact_jws_shapes_are_taken_for_jwts() {
        assert!(looks_like_jwt("eyJhbGciOiJSUzI1NiJ9.eyJ9.c2ln"));
        assert!(!looks_like_jwt("scimd_abc"));
        assert!(!looks_like_jwt("eyJhbGciOiJSUzI1NiJ9.eyJ9"));
        assert!(!looks_like_jwt("eyJ.a.b.c"), "JWE has five parts");
    }
}
