//! RFC 9865 cursors: opaque to clients, signed so they cannot be forged or edited, bound to
//! the query they came from, and dated so they expire.

use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use base64::Engine;
use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::error::{ScimError, ScimType};

/// Where a page starts: after (or, `backward`, before) the row with this sort key and id.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Position {
    /// The sort key of the boundary row (`null` for no sort key or a missing value).
    #[serde(rename = "k", with = "exact_key")]
    pub key: serde_json::Value,
    #[serde(rename = "i")]
    pub id: String,
    #[serde(rename = "b")]
    pub backward: bool,
}

/// A float sort key travels as `{"f": "<shortest decimal>"}`: serde_json reads float literals
/// only to within an ulp, and a seek from a neighbouring value would skip or repeat rows.
/// Real keys are never objects, so the form cannot be mistaken for one; an integer, text or
/// boolean key is written as it is.
mod exact_key {
    use serde::de::Error;
    use serde::{Deserialize, Deserializer, Serialize, Serializer};
    use serde_json::{Map, Number, Value};

    pub fn serialize<S: Serializer>(key: &Value, s: S) -> Result<S::Ok, S::Error> {
        match key {
            Value::Number(n) if n.is_f64() => {
                let mut m = Map::new();
                m.insert("f".into(), Value::String(n.to_string()));
                Value::Object(m).serialize(s)
            }
            other => other.serialize(s),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Value, D::Error> {
        let v = Value::deserialize(d)?;
        match v.get("f") {
            Some(Value::String(f)) => f
                .parse::<f64>()
                .ok()
                .and_then(Number::from_f64)
                .map(Value::Number)
                .ok_or_else(|| D::Error::custom("not a float sort key")),
            _ => Ok(v),
        }
    }
}

#[derive(Serialize, Deserialize)]
struct Payload {
    #[serde(rename = "q")]
    query: String,
    #[serde(rename = "t")]
    issued: i64,
    #[serde(flatten)]
    pos: Position,
}

/// A stable fingerprint of what a cursor may be used with: resource type, filter and sort.
pub fn fingerprint(parts: &[&str]) -> String {
    let mut h = Sha256::new();
    for p in parts {
        h.update(p.as_bytes());
        h.update([0u8]);
    }
    B64.encode(&h.finalize()[..12])
}

fn mac(key: &[u8], data: &[u8]) -> Vec<u8> {
    let mut m = <Hmac<Sha256> as Mac>::new_from_slice(key).expect("HMAC takes any key length");
    m.update(data);
    m.finalize().into_bytes()[..16].to_vec()
}

pub fn encode(key: &[u8], query: &str, pos: Position, now: i64) -> String {
    let payload = Payload {
        query: query.to_owned(),
        issued: now,
        pos,
    };
    let body = serde_json::to_vec(&payload).unwrap_or_default();
    let sig = mac(key, &body);
    format!("{}.{}", B64.encode(&body), B64.encode(sig))
}

fn invalid(detail: &str) -> ScimError {
    ScimError::bad_request(ScimType::InvalidCursor, detail)
}

/// Checks signature, binding and age; returns the position to seek from.
pub fn decode(
    key: &[u8],
    token: &str,
    query: &str,
    now: i64,
    timeout_secs: i64,
) -> Result<Position, ScimError> {
    let (body, sig) = token
        .split_once('.')
        .ok_or_else(|| invalid("the cursor is not one this server issued"))?;
    let body = B64
        .decode(body)
        .map_err(|_| invalid("the cursor is not one this server issued"))?;
    let sig = B64
        .decode(sig)
        .map_err(|_| invalid("the cursor is not one this server issued"))?;
    let expected = mac(key, &body);
    if !bool::from(subtle::ConstantTimeEq::ct_eq(
        expected.as_slice(),
        sig.as_slice(),
    )) {
        return Err(invalid(
            "the cursor has been altered or was issued by another server",
        ));
    }
    let payload: Payload = serde_json::from_slice(&body)
        .map_err(|_| invalid("the cursor is not one this server issued"))?;
    if payload.query != query {
        return Err(invalid(
            "the cursor belongs to a different query: keep filter, sortBy and sortOrder \
             as they were on the first page",
        ));
    }
    if now - payload.issued > timeout_secs {
        return Err(ScimError::bad_request(
            ScimType::ExpiredCursor,
            format!(
                "the cursor expired ({timeout_secs} s after it was issued); start again with \
                 an empty cursor"
            ),
        ));
    }
    Ok(payload.pos)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pos() -> Position {
        Position {
            key: serde_json::json!("alice"),
            id: "42".into(),
            backward: false,
        }
    }

    #[test]
    fn a_cursor_round_trips_for_its_own_query_only() {
        let t = encode(b"k", "q1", pos(), 100);
        assert_eq!(decode(b"k", &t, "q1", 110, 60).unwrap(), pos());
        let e = decode(b"k", &t, "q2", 110, 60).unwrap_err();
        assert_eq!(e.scim_type, Some(ScimType::InvalidCursor));
    }

    /// Found by fuzz/fuzz_targets/cursor_token.rs: read back as a plain JSON number, this key
    /// came back one ulp off (1.0688841606175417e272).
    #[test]
    fn a_float_sort_key_comes_back_from_the_cursor_exactly() {
        for f in [1.0688841606175415e272, 0.1, -2.5e-300, 1.0] {
            let p = Position {
                key: serde_json::Number::from_f64(f).unwrap().into(),
                ..pos()
            };
            let t = encode(b"k", "q", p.clone(), 100);
            assert_eq!(decode(b"k", &t, "q", 110, 60).unwrap(), p, "{f:e}");
        }
    }

    #[test]
    fn tampered_foreign_and_old_cursors_are_refused() {
        let t = encode(b"k", "q", pos(), 100);
        let (body, sig) = t.split_once('.').unwrap();
        let mut raw = B64.decode(body).unwrap();
        raw[5] ^= 1;
        let forged = format!("{}.{sig}", B64.encode(raw));
        assert_eq!(
            decode(b"k", &forged, "q", 100, 60).unwrap_err().scim_type,
            Some(ScimType::InvalidCursor)
        );
        assert_eq!(
            decode(b"other", &t, "q", 100, 60).unwrap_err().scim_type,
            Some(ScimType::InvalidCursor)
        );
        assert_eq!(
            decode(b"k", &t, "q", 1000, 60).unwrap_err().scim_type,
            Some(ScimType::ExpiredCursor)
        );
        assert!(decode(b"k", "garbage", "q", 100, 60).is_err());
    }
}
