//! The `cursor` query parameter (RFC 9865). Any string a client sends must be refused or
//! accepted without a panic; a cursor this server issued must decode to the position it was
//! issued for, for its own query only, until it expires.
#![no_main]

use arbitrary::{Arbitrary, Unstructured};
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use base64::Engine;
use hmac::{Hmac, Mac};
use libfuzzer_sys::fuzz_target;
use scimd::scim::cursor::{decode, encode, fingerprint, Position};
use scimd::scim::ScimType;
use serde_json::Value;
use sha2::Sha256;

const KEY: &[u8] = b"fuzz-cursor-signing-key-0123456789abcdef";
/// `cursor_timeout_seconds` in the default configuration.
const TIMEOUT: i64 = 3600;
/// Some instant of the service's clock (Unix seconds); the clock never runs backwards past
/// the epoch nor into the far future, so neither does this.
const NOW: i64 = 1_780_000_000;

/// The sort keys a page boundary can carry: a missing value, or a text, number, boolean or
/// dateTime attribute's value.
#[derive(Arbitrary, Debug)]
enum SortKey {
    Null,
    Bool(bool),
    Int(i64),
    Uint(u64),
    Float(f64),
    Text(String),
}

#[derive(Arbitrary, Debug)]
struct Issued {
    key: SortKey,
    id: String,
    backward: bool,
    /// Seconds between issuing and using the cursor.
    age: u16,
    filter: String,
    sort: String,
}

fn sort_key(k: SortKey) -> Value {
    match k {
        SortKey::Null => Value::Null,
        SortKey::Bool(b) => Value::Bool(b),
        SortKey::Int(i) => Value::from(i),
        SortKey::Uint(u) => Value::from(u),
        SortKey::Float(f) => serde_json::Number::from_f64(f).map_or(Value::Null, Value::Number),
        SortKey::Text(s) => Value::String(s),
    }
}

fuzz_target!(|data: &[u8]| {
    let query = fingerprint(&["Users", "userName pr", "userName", "ascending"]);

    // 1. Whatever a client sends, as the service trims and decodes it.
    let token = String::from_utf8_lossy(data);
    if let Ok(pos) = decode(KEY, token.trim(), &query, NOW, TIMEOUT) {
        panic!("a forged cursor {token:?} was accepted as {pos:?}");
    }

    // 2. A payload signed with the server's key, whatever its content: past the signature
    //    only the payload parser stands between it and the seek.
    let _ = decode(KEY, &sign(data), &query, NOW, TIMEOUT);

    // 3. Round trip of a cursor this server issued.
    let Ok(issued) = Issued::arbitrary_take_rest(Unstructured::new(data)) else {
        return;
    };
    let query = fingerprint(&["Users", &issued.filter, &issued.sort, "ascending"]);
    let pos = Position {
        key: sort_key(issued.key),
        id: issued.id,
        backward: issued.backward,
    };
    let issued_at = NOW - i64::from(issued.age);
    let token = encode(KEY, &query, pos.clone(), issued_at);
    let (body, _) = token.split_once('.').expect("a cursor is body.signature");
    let body = B64.decode(body).expect("the server's own cursor is base64");
    assert_eq!(
        sign(&body),
        token,
        "this target signs differently from the server"
    );
    let age = i64::from(issued.age);
    match decode(KEY, &token, &query, NOW, TIMEOUT) {
        Ok(back) => {
            assert!(age <= TIMEOUT, "a cursor {age} s old was accepted");
            assert_eq!(back, pos, "the cursor did not round-trip");
        }
        Err(e) => {
            assert!(age > TIMEOUT, "a fresh cursor was refused: {e:?}");
            assert_eq!(e.scim_type, Some(ScimType::ExpiredCursor));
        }
    }
    let other = fingerprint(&["Groups", &issued.filter, &issued.sort, "ascending"]);
    assert!(decode(KEY, &token, &other, NOW, TIMEOUT).is_err());
    assert!(decode(b"another realm's key", &token, &query, NOW, TIMEOUT).is_err());
});

/// `body.signature` as src/scim/cursor.rs signs a payload: HMAC-SHA256 cut to 16 bytes,
/// both parts URL-safe base64 without padding. Kept in step by the round trip above: a
/// payload `encode` wrote and `sign` re-signed must decode the same.
fn sign(body: &[u8]) -> String {
    let mut m = <Hmac<Sha256> as Mac>::new_from_slice(KEY).expect("HMAC takes any key length");
    m.update(body);
    let sig = &m.finalize().into_bytes()[..16];
    format!("{}.{}", B64.encode(body), B64.encode(sig))
}
