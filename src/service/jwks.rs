//! Issuers' signing keys (JWK Sets, RFC 7517), fetched over HTTPS from a JWKS URL or from
//! the `jwks_uri` of the issuer's OpenID discovery document, and cached per URL.
//!
//! A key set is used for up to an hour, then fetched again; a JWT whose `kid` the cached set
//! lacks (the issuer rotated) fetches it again at once, at most once in `MIN_REFETCH` per URL
//! so a stream of made-up `kid`s cannot turn scimd into a load generator. When a fetch
//! fails the keys already held stay in use, and access tokens already issued never depend
//! on the issuer at all.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use jsonwebtoken::jwk::{AlgorithmParameters, EllipticCurve, Jwk, KeyAlgorithm, PublicKeyUse};
use jsonwebtoken::{Algorithm, DecodingKey};
use serde_json::{Map, Value};

use super::jwt::{self, Expected, Peek, Rejected};

const FRESH_FOR: Duration = Duration::from_secs(3600);
const MIN_REFETCH: Duration = Duration::from_secs(30);
const FETCH_TIMEOUT: Duration = Duration::from_secs(5);
/// Key sets are a few kilobytes; anything much larger is not one.
const MAX_DOCUMENT_BYTES: usize = 512 * 1024;
/// Distinct URLs remembered; more than this many issuers in one process is a misuse.
const MAX_URLS: usize = 1024;

/// Where an issuer's keys are.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum KeySource {
    Jwks(String),
    /// `{issuer}/.well-known/openid-configuration`, whose `jwks_uri` names the key set.
    Discovery(String),
}

impl KeySource {
    pub fn new(issuer: &str, jwks_url: Option<&str>) -> Self {
        match jwks_url {
            Some(u) => KeySource::Jwks(u.to_owned()),
            None => KeySource::Discovery(issuer.to_owned()),
        }
    }

    fn url(&self) -> String {
        match self {
            KeySource::Jwks(u) => u.clone(),
            KeySource::Discovery(iss) => format!(
                "{}/.well-known/openid-configuration",
                iss.trim_end_matches('/')
            ),
        }
    }
}

/// The address scimd may fetch keys from: HTTPS, or plain HTTP to this machine only (a
/// test's key server, a sidecar).
pub fn check_url(url: &str) -> Result<(), String> {
    let parsed = reqwest::Url::parse(url).map_err(|e| format!("'{url}' is not a URL: {e}"))?;
    let loopback = match parsed.host() {
        Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
        Some(url::Host::Ipv4(a)) => a.is_loopback(),
        Some(url::Host::Ipv6(a)) => a.is_loopback(),
        None => return Err(format!("'{url}' has no host")),
    };
    match parsed.scheme() {
        "https" => Ok(()),
        "http" if loopback => Ok(()),
        _ => Err(format!(
            "'{url}' must be an https:// URL (plain http is allowed to localhost only)"
        )),
    }
}

#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    /// The key set holds no key for this `kid` and algorithm, even after a fetch.
    #[error("the issuer's key set has no usable key for this token")]
    Unknown,
    /// No key set could be fetched and none is held.
    #[error("the issuer's keys could not be fetched: {0}")]
    Unavailable(String),
}

struct Held {
    keys: Arc<Vec<Jwk>>,
    fetched_at: Option<Instant>,
    tried_at: Instant,
    /// When a kid missing from the held set last caused a fetch.
    missed_at: Option<Instant>,
}

pub struct KeySets {
    http: reqwest::Client,
    held: Mutex<HashMap<String, Held>>,
}

impl Default for KeySets {
    fn default() -> Self {
        Self::new()
    }
}

impl KeySets {
    pub fn new() -> Self {
        let http = reqwest::Client::builder()
            .timeout(FETCH_TIMEOUT)
            .redirect(reqwest::redirect::Policy::limited(3))
            .user_agent(concat!("scimd/", env!("CARGO_PKG_VERSION")))
            .build()
            .expect("an HTTP client with rustls builds");
        Self {
            http,
            held: Mutex::new(HashMap::new()),
        }
    }

    /// The keys that may have signed a JWT with this `kid` and algorithm.
    pub async fn keys_for(
        &self,
        source: &KeySource,
        kid: Option<&str>,
        alg: Algorithm,
    ) -> Result<Vec<DecodingKey>, KeyError> {
        let url = source.url();
        let now = Instant::now();
        let held = {
            let mut map = self.held.lock().expect("key cache lock");
            match map.get_mut(&url) {
                None => None,
                Some(h) => {
                    let found = usable(&h.keys, kid, alg);
                    let waited = |t: Instant| now - t >= MIN_REFETCH;
                    let fetch = match h.fetched_at {
                        // Never loaded: a failed first fetch is retried, not hammered.
                        None => waited(h.tried_at),
                        Some(at) if !found.is_empty() => {
                            now - at >= FRESH_FOR && waited(h.tried_at)
                        }
                        // Loaded, and the kid is not in it: the issuer may have rotated.
                        // The first such miss fetches at once, later ones wait.
                        Some(_) => {
                            let go = h.missed_at.is_none_or(waited);
                            if go {
                                h.missed_at = Some(now);
                            }
                            go
                        }
                    };
                    if !fetch {
                        return if found.is_empty() {
                            Err(KeyError::Unknown)
                        } else {
                            Ok(found)
                        };
                    }
                    Some((h.keys.clone(), found))
                }
            }
        };
        self.mark_tried(&url, now);
        match self.fetch(source).await {
            Ok(keys) => {
                let found = usable(&keys, kid, alg);
                let mut map = self.held.lock().expect("key cache lock");
                let h = map.entry(url).or_insert_with(|| Held {
                    keys: Arc::new(Vec::new()),
                    fetched_at: None,
                    tried_at: now,
                    missed_at: None,
                });
                h.keys = Arc::new(keys);
                h.fetched_at = Some(now);
                if found.is_empty() {
                    Err(KeyError::Unknown)
                } else {
                    Ok(found)
                }
            }
            Err(e) => {
                tracing::warn!(url = %url, error = %e, "fetching an issuer's keys failed");
                match held {
                    Some((_, found)) if !found.is_empty() => Ok(found),
                    Some((keys, _)) if !keys.is_empty() => Err(KeyError::Unknown),
                    _ => Err(KeyError::Unavailable(e)),
                }
            }
        }
    }

    fn mark_tried(&self, url: &str, now: Instant) {
        let mut map = self.held.lock().expect("key cache lock");
        if map.len() >= MAX_URLS && !map.contains_key(url) {
            // Forget the longest-unused; a busy issuer is fetched again on its next token.
            if let Some(oldest) = map
                .iter()
                .min_by_key(|(_, h)| h.tried_at)
                .map(|(k, _)| k.clone())
            {
                map.remove(&oldest);
            }
        }
        map.entry(url.to_owned())
            .and_modify(|h| h.tried_at = now)
            .or_insert_with(|| Held {
                keys: Arc::new(Vec::new()),
                fetched_at: None,
                tried_at: now,
                missed_at: None,
            });
    }

    async fn fetch(&self, source: &KeySource) -> Result<Vec<Jwk>, String> {
        let jwks_url = match source {
            KeySource::Jwks(u) => u.clone(),
            KeySource::Discovery(_) => {
                let doc = self.get_json(&source.url()).await?;
                doc.get("jwks_uri")
                    .and_then(Value::as_str)
                    .map(str::to_owned)
                    .ok_or("the discovery document has no jwks_uri")?
            }
        };
        let set = self.get_json(&jwks_url).await?;
        let keys = set
            .get("keys")
            .and_then(Value::as_array)
            .ok_or("the document at the JWKS URL has no \"keys\" array")?;
        // A key scimd cannot use (another key type, a malformed one) is skipped, not fatal:
        // issuers publish sets with several kinds.
        Ok(keys
            .iter()
            .filter_map(|k| serde_json::from_value::<Jwk>(k.clone()).ok())
            .collect())
    }

    async fn get_json(&self, url: &str) -> Result<Value, String> {
        check_url(url)?;
        let mut resp = self
            .http
            .get(url)
            .header(reqwest::header::ACCEPT, "application/json")
            .send()
            .await
            .map_err(|e| format!("GET {url}: {e}"))?;
        if !resp.status().is_success() {
            return Err(format!("GET {url}: HTTP {}", resp.status()));
        }
        let mut body = Vec::new();
        while let Some(chunk) = resp.chunk().await.map_err(|e| format!("GET {url}: {e}"))? {
            body.extend_from_slice(&chunk);
            if body.len() > MAX_DOCUMENT_BYTES {
                return Err(format!("GET {url}: larger than {MAX_DOCUMENT_BYTES} bytes"));
            }
        }
        serde_json::from_slice(&body).map_err(|e| format!("GET {url}: not JSON: {e}"))
    }
}

/// The keys of `set` that can verify `alg` with this `kid` (any kid when the JWT has none).
fn usable(set: &[Jwk], kid: Option<&str>, alg: Algorithm) -> Vec<DecodingKey> {
    set.iter()
        .filter(|k| kid.is_none() || k.common.key_id.as_deref() == kid)
        .filter(|k| {
            !matches!(
                k.common.public_key_use,
                Some(PublicKeyUse::Encryption) | Some(PublicKeyUse::Other(_))
            )
        })
        .filter(|k| match k.common.key_algorithm {
            None => true,
            Some(a) => matches!(
                (a, alg),
                (KeyAlgorithm::RS256, Algorithm::RS256) | (KeyAlgorithm::ES256, Algorithm::ES256)
            ),
        })
        .filter(|k| match (&k.algorithm, alg) {
            (AlgorithmParameters::RSA(_), Algorithm::RS256) => true,
            (AlgorithmParameters::EllipticCurve(ec), Algorithm::ES256) => {
                ec.curve == EllipticCurve::P256
            }
            _ => false,
        })
        .filter_map(|k| DecodingKey::from_jwk(k).ok())
        .collect()
}

/// One party that may have signed a JWT: where its keys are and what its claims must say
/// (a trusted issuer, a federated credential).
pub trait Signer {
    fn key_source(&self) -> KeySource;
    fn expected(&self) -> Expected<'_>;
}

/// Why none of the candidates verified a JWT.
#[derive(Debug)]
pub enum Unverified {
    /// The last candidate's reason (the audience, when there were none to try).
    Rejected(Rejected),
    /// A key set that could not be fetched: said at once, the JWT may be good.
    Keys(KeyError),
}

impl KeySets {
    /// The first of `candidates` whose keys verify `token` (peeked as `peek`) and whose
    /// claims it meets at `now` (Unix seconds), with the claims.
    pub async fn first_verified<C: Signer>(
        &self,
        token: &str,
        peek: &Peek,
        now: i64,
        candidates: Vec<C>,
    ) -> Result<(C, Map<String, Value>), Unverified> {
        let mut why = Rejected::Audience;
        for c in candidates {
            let keys = match self
                .keys_for(&c.key_source(), peek.kid.as_deref(), peek.alg)
                .await
            {
                Ok(k) => k,
                Err(KeyError::Unknown) => {
                    why = Rejected::UnknownKey;
                    continue;
                }
                Err(e) => return Err(Unverified::Keys(e)),
            };
            match jwt::verify(token, peek.alg, &keys, &c.expected(), now) {
                Ok(claims) => return Ok((c, claims)),
                Err(r) => why = r,
            }
        }
        Err(Unverified::Rejected(why))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_come_over_https_or_from_this_machine() {
        assert!(check_url("https://login.microsoftonline.com/t/discovery/v2.0/keys").is_ok());
        assert!(check_url("http://127.0.0.1:8080/jwks").is_ok());
        assert!(check_url("http://localhost/jwks").is_ok());
        assert!(check_url("http://[::1]:9/jwks").is_ok());
        assert!(check_url("http://idp.example/jwks")
            .unwrap_err()
            .contains("https://"));
        assert!(check_url("ftp://idp.example/jwks").is_err());
        assert!(check_url("not a url").unwrap_err().contains("not a URL"));
    }

    #[test]
    fn only_signing_keys_of_the_algorithm_and_kid_are_used() {
        let set: Vec<Jwk> = serde_json::from_value(serde_json::json!([
            {"kty": "RSA", "kid": "r1", "use": "sig", "n": "sXch", "e": "AQAB"},
            {"kty": "RSA", "kid": "r2", "use": "enc", "n": "sXch", "e": "AQAB"},
            {"kty": "RSA", "kid": "r3", "alg": "RS384", "n": "sXch", "e": "AQAB"},
            {"kty": "EC", "kid": "e1", "crv": "P-256",
             "x": "f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU",
             "y": "x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0"}
        ]))
        .unwrap();
        assert_eq!(usable(&set, Some("r1"), Algorithm::RS256).len(), 1);
        assert_eq!(
            usable(&set, Some("r2"), Algorithm::RS256).len(),
            0,
            "encryption key"
        );
        assert_eq!(
            usable(&set, Some("r3"), Algorithm::RS256).len(),
            0,
            "another alg"
        );
        assert_eq!(
            usable(&set, Some("e1"), Algorithm::RS256).len(),
            0,
            "wrong type"
        );
        assert_eq!(usable(&set, Some("e1"), Algorithm::ES256).len(), 1);
        assert_eq!(usable(&set, None, Algorithm::RS256).len(), 1);
        assert_eq!(usable(&set, Some("zz"), Algorithm::RS256).len(), 0);
    }
}
