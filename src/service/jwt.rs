//! Verifying a JWT an identity provider signed: a client assertion (RFC 7523) or a bearer
//! token from a trusted issuer. The signature is `jsonwebtoken`'s; the algorithm allow-list
//! and every claim rule are here, so each refusal has a reason for the audit record.

use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde_json::{Map, Value};

/// Only asymmetric algorithms: never `none`, never an HMAC (whose "secret" would be the
/// issuer's public key, which anyone can fetch).
pub const ALLOWED: [Algorithm; 2] = [Algorithm::RS256, Algorithm::ES256];
/// Clock skew tolerated on `exp`, `nbf` and `iat`.
pub const LEEWAY_SECONDS: i64 = 60;

/// What the header and claims say before anything is verified: enough to find the
/// credential and the key to verify with, nothing to trust.
#[derive(Debug, Clone)]
pub struct Peek {
    pub alg: Algorithm,
    pub kid: Option<String>,
    pub issuer: String,
    pub subject: String,
}

/// Why a JWT was refused. The caller hears only that it was; the reason is audited.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rejected {
    Malformed,
    Algorithm,
    UnknownKey,
    Signature,
    Issuer,
    Subject,
    Audience,
    NoExpiry,
    Expired,
    NotYetValid,
    IssuedInFuture,
}

impl Rejected {
    pub fn reason(self) -> &'static str {
        match self {
            Rejected::Malformed => "not a well-formed JWT",
            Rejected::Algorithm => "its algorithm is not RS256 or ES256",
            Rejected::UnknownKey => "no key of the issuer has its kid",
            Rejected::Signature => "its signature does not verify",
            Rejected::Issuer => "wrong issuer",
            Rejected::Subject => "wrong subject",
            Rejected::Audience => "wrong audience",
            Rejected::NoExpiry => "it has no exp",
            Rejected::Expired => "it has expired",
            Rejected::NotYetValid => "its nbf is in the future",
            Rejected::IssuedInFuture => "its iat is in the future",
        }
    }
}

/// The claims a verified JWT must carry.
#[derive(Debug, Clone)]
pub struct Expected<'a> {
    pub issuer: &'a str,
    /// None: any subject (a trusted issuer's tokens are told apart by audience).
    pub subject: Option<&'a str>,
    pub audience: &'a str,
}

pub fn peek(token: &str) -> Result<Peek, Rejected> {
    // The algorithm is read first, so `none` or an HMAC is called what it is rather than a
    // header this crate cannot parse.
    let alg = token
        .split('.')
        .next()
        .and_then(|h| {
            use base64::Engine;
            base64::engine::general_purpose::URL_SAFE_NO_PAD
                .decode(h.trim_end_matches('='))
                .ok()
        })
        .and_then(|b| serde_json::from_slice::<Value>(&b).ok())
        .and_then(|h| h.get("alg").and_then(Value::as_str).map(str::to_owned))
        .ok_or(Rejected::Malformed)?;
    if !["RS256", "ES256"].contains(&alg.as_str()) {
        return Err(Rejected::Algorithm);
    }
    let header = jsonwebtoken::decode_header(token).map_err(|e| match e.kind() {
        jsonwebtoken::errors::ErrorKind::InvalidAlgorithmName => Rejected::Algorithm,
        _ => Rejected::Malformed,
    })?;
    if !ALLOWED.contains(&header.alg) {
        return Err(Rejected::Algorithm);
    }
    let claims: Map<String, Value> = jsonwebtoken::dangerous::insecure_decode(token)
        .map(|d| d.claims)
        .map_err(|_| Rejected::Malformed)?;
    let text = |k: &str| claims.get(k).and_then(Value::as_str).map(str::to_owned);
    Ok(Peek {
        alg: header.alg,
        kid: header.kid,
        issuer: text("iss").ok_or(Rejected::Issuer)?,
        subject: text("sub").unwrap_or_default(),
    })
}

/// Verifies the signature with whichever of `keys` signed it, then the claims at `now`
/// (Unix seconds). The claims on success.
pub fn verify(
    token: &str,
    alg: Algorithm,
    keys: &[DecodingKey],
    expected: &Expected<'_>,
    now: i64,
) -> Result<Map<String, Value>, Rejected> {
    if !ALLOWED.contains(&alg) {
        return Err(Rejected::Algorithm);
    }
    if keys.is_empty() {
        return Err(Rejected::UnknownKey);
    }
    let mut v = Validation::new(alg);
    // The claims are checked below, against our clock and with reasons.
    v.validate_exp = false;
    v.validate_nbf = false;
    v.validate_aud = false;
    v.required_spec_claims.clear();
    let mut last = Rejected::Signature;
    let mut claims = None;
    for key in keys {
        match jsonwebtoken::decode::<Map<String, Value>>(token, key, &v) {
            Ok(d) => {
                claims = Some(d.claims);
                break;
            }
            Err(e) => {
                use jsonwebtoken::errors::ErrorKind as K;
                last = match e.kind() {
                    K::InvalidAlgorithm | K::InvalidAlgorithmName => Rejected::Algorithm,
                    K::InvalidToken | K::Base64(_) | K::Json(_) | K::Utf8(_) => Rejected::Malformed,
                    _ => Rejected::Signature,
                };
            }
        }
    }
    let claims = claims.ok_or(last)?;
    check_claims(&claims, expected, now)?;
    Ok(claims)
}

fn check_claims(c: &Map<String, Value>, e: &Expected<'_>, now: i64) -> Result<(), Rejected> {
    if c.get("iss").and_then(Value::as_str) != Some(e.issuer) {
        return Err(Rejected::Issuer);
    }
    if let Some(sub) = e.subject {
        if c.get("sub").and_then(Value::as_str) != Some(sub) {
            return Err(Rejected::Subject);
        }
    }
    let aud_ok = match c.get("aud") {
        Some(Value::String(a)) => a == e.audience,
        Some(Value::Array(all)) => all.iter().any(|a| a.as_str() == Some(e.audience)),
        _ => false,
    };
    if !aud_ok {
        return Err(Rejected::Audience);
    }
    let time = |k: &str| c.get(k).and_then(Value::as_f64).map(|t| t as i64);
    let exp = time("exp").ok_or(Rejected::NoExpiry)?;
    if exp + LEEWAY_SECONDS <= now {
        return Err(Rejected::Expired);
    }
    if time("nbf").is_some_and(|nbf| nbf - LEEWAY_SECONDS > now) {
        return Err(Rejected::NotYetValid);
    }
    if time("iat").is_some_and(|iat| iat - LEEWAY_SECONDS > now) {
        return Err(Rejected::IssuedInFuture);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn claims(v: Value) -> Map<String, Value> {
        v.as_object().unwrap().clone()
    }

    const E: Expected<'static> = Expected {
        issuer: "https://idp.example/",
        subject: Some("svc"),
        audience: "api://scimd",
    };

    #[test]
    fn each_claim_rule_has_its_reason() {
        let now = 1_000_000;
        let good = json!({"iss": "https://idp.example/", "sub": "svc", "aud": "api://scimd",
            "exp": now + 600, "nbf": now, "iat": now});
        assert_eq!(check_claims(&claims(good.clone()), &E, now), Ok(()));
        let with = |k: &str, v: Value| {
            let mut c = claims(good.clone());
            c.insert(k.into(), v);
            check_claims(&c, &E, now)
        };
        assert_eq!(with("iss", json!("https://evil/")), Err(Rejected::Issuer));
        assert_eq!(with("sub", json!("other")), Err(Rejected::Subject));
        assert_eq!(with("aud", json!("api://else")), Err(Rejected::Audience));
        assert_eq!(with("aud", json!(["x", "api://scimd"])), Ok(()));
        assert_eq!(with("exp", json!(now - 61)), Err(Rejected::Expired));
        assert_eq!(with("exp", json!(now - 30)), Ok(()), "within the skew");
        assert_eq!(with("nbf", json!(now + 120)), Err(Rejected::NotYetValid));
        assert_eq!(with("iat", json!(now + 120)), Err(Rejected::IssuedInFuture));
        let mut no_exp = claims(good);
        no_exp.remove("exp");
        assert_eq!(check_claims(&no_exp, &E, now), Err(Rejected::NoExpiry));
    }

    #[test]
    fn none_and_hmac_are_refused_before_any_key_is_looked_up() {
        use base64::Engine;
        let b64 = |v: Value| {
            base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v.to_string().as_bytes())
        };
        let body = b64(json!({"iss": "https://idp.example/", "sub": "svc"}));
        let none = format!("{}.{body}.", b64(json!({"alg": "none"})));
        let hs = format!("{}.{body}.c2ln", b64(json!({"alg": "HS256"})));
        assert_eq!(peek(&none).unwrap_err(), Rejected::Algorithm);
        assert_eq!(peek(&hs).unwrap_err(), Rejected::Algorithm);
        assert_eq!(peek("not a jwt").unwrap_err(), Rejected::Malformed);
        let rs = format!("{}.{body}.c2ln", b64(json!({"alg": "RS256", "kid": "k1"})));
        let p = peek(&rs).unwrap();
        assert_eq!((p.kid.as_deref(), p.subject.as_str()), (Some("k1"), "svc"));
    }
}
