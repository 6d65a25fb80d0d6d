//! Sealing secrets at rest: AES-256-GCM under a key-encryption key the server is given (its
//! config or a key file), never the database. A sealed value names the key that sealed it,
//! so keys can be rotated: the new key seals, old keys still open what they sealed.

use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine;
use ring::aead::{Aad, LessSafeKey, Nonce, UnboundKey, AES_256_GCM, NONCE_LEN};
use ring::rand::{SecureRandom, SystemRandom};
use sha2::{Digest, Sha256};

const PREFIX: &str = "v1";

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum SealError {
    #[error(
        "no key-encryption key is configured (secret_key, secret_key_file or SCIMD_SECRET_KEY)"
    )]
    NoKey,
    #[error("sealed under key {0}, which this server does not have (secret_keys_previous)")]
    UnknownKey(String),
    #[error("the sealed value is damaged or was sealed for another record")]
    Damaged,
}

struct Key {
    /// Names the key without revealing it: the first 8 bytes of its SHA-256, in hex.
    id: String,
    key: LessSafeKey,
}

impl Key {
    fn new(bytes: &[u8; 32]) -> Self {
        let digest = Sha256::digest(bytes);
        let id = digest[..8].iter().map(|b| format!("{b:02x}")).collect();
        let key = LessSafeKey::new(UnboundKey::new(&AES_256_GCM, bytes).expect("a 32-byte key"));
        Key { id, key }
    }
}

/// The server's key-encryption keys: the current one (seals) and older ones (open only).
#[derive(Default)]
pub struct Keyring {
    current: Option<Key>,
    previous: Vec<Key>,
}

/// A key as configured: 32 bytes, in standard or URL-safe base64.
pub fn parse_key(text: &str) -> Result<[u8; 32], String> {
    let t = text.trim();
    let bytes = STANDARD
        .decode(t)
        .or_else(|_| URL_SAFE_NO_PAD.decode(t.trim_end_matches('=')))
        .map_err(|_| "a key-encryption key is 32 bytes in base64".to_owned())?;
    bytes
        .try_into()
        .map_err(|b: Vec<u8>| format!("a key-encryption key is 32 bytes, this one is {}", b.len()))
}

/// A new random key, in the text form `parse_key` reads.
pub fn generate_key() -> String {
    let mut k = [0u8; 32];
    SystemRandom::new()
        .fill(&mut k)
        .expect("the system's random source");
    STANDARD.encode(k)
}

impl Keyring {
    pub fn new(current: Option<[u8; 32]>, previous: &[[u8; 32]]) -> Self {
        Keyring {
            current: current.as_ref().map(Key::new),
            previous: previous.iter().map(Key::new).collect(),
        }
    }

    pub fn can_seal(&self) -> bool {
        self.current.is_some()
    }

    /// The current key's id, for logs and the health of a rotation.
    pub fn current_id(&self) -> Option<&str> {
        self.current.as_ref().map(|k| k.id.as_str())
    }

    /// `v1.<key id>.<nonce and ciphertext>`. `context` (the record's id) is authenticated
    /// with it: a sealed value copied onto another record does not open there.
    pub fn seal(&self, plain: &[u8], context: &str) -> Result<String, SealError> {
        let key = self.current.as_ref().ok_or(SealError::NoKey)?;
        let mut nonce = [0u8; NONCE_LEN];
        SystemRandom::new()
            .fill(&mut nonce)
            .map_err(|_| SealError::Damaged)?;
        let mut buf = plain.to_vec();
        key.key
            .seal_in_place_append_tag(
                Nonce::assume_unique_for_key(nonce),
                Aad::from(context.as_bytes()),
                &mut buf,
            )
            .map_err(|_| SealError::Damaged)?;
        let mut out = nonce.to_vec();
        out.extend_from_slice(&buf);
        Ok(format!(
            "{PREFIX}.{}.{}",
            key.id,
            URL_SAFE_NO_PAD.encode(out)
        ))
    }

    pub fn open(&self, sealed: &str, context: &str) -> Result<Vec<u8>, SealError> {
        let mut parts = sealed.splitn(3, '.');
        let (Some(PREFIX), Some(id), Some(body)) = (parts.next(), parts.next(), parts.next())
        else {
            return Err(SealError::Damaged);
        };
        let key = self
            .current
            .iter()
            .chain(&self.previous)
            .find(|k| k.id == id)
            .ok_or_else(|| SealError::UnknownKey(id.to_owned()))?;
        let raw = URL_SAFE_NO_PAD
            .decode(body)
            .map_err(|_| SealError::Damaged)?;
        if raw.len() < NONCE_LEN {
            return Err(SealError::Damaged);
        }
        let (nonce, ct) = raw.split_at(NONCE_LEN);
        let nonce = Nonce::try_assume_unique_for_key(nonce).map_err(|_| SealError::Damaged)?;
        let mut buf = ct.to_vec();
        let plain = key
            .key
            .open_in_place(nonce, Aad::from(context.as_bytes()), &mut buf)
            .map_err(|_| SealError::Damaged)?;
        Ok(plain.to_vec())
    }

    /// Whether `sealed` was sealed under a key other than the current one.
    pub fn is_stale(&self, sealed: &str) -> bool {
        match (self.current_id(), sealed.split('.').nth(1)) {
            (Some(cur), Some(id)) => cur != id,
            _ => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(n: u8) -> [u8; 32] {
        [n; 32]
    }

    #[test]
    fn sealed_values_open_with_their_key_and_context_only() {
        let ring = Keyring::new(Some(key(1)), &[]);
        let sealed = ring.seal(b"whsec_abc", "hook-1").unwrap();
        assert!(!sealed.contains("whsec"));
        assert_eq!(ring.open(&sealed, "hook-1").unwrap(), b"whsec_abc");
        assert_eq!(ring.open(&sealed, "hook-2"), Err(SealError::Damaged));
        // Two seals of one value differ (fresh nonce each time).
        assert_ne!(sealed, ring.seal(b"whsec_abc", "hook-1").unwrap());
        let other = Keyring::new(Some(key(2)), &[]);
        assert!(matches!(
            other.open(&sealed, "hook-1"),
            Err(SealError::UnknownKey(_))
        ));
        let mut flipped = sealed.clone();
        let last = flipped.pop().unwrap();
        flipped.push(if last == 'A' { 'B' } else { 'A' });
        assert_eq!(ring.open(&flipped, "hook-1"), Err(SealError::Damaged));
    }

    #[test]
    fn a_rotated_ring_opens_old_values_and_seals_with_the_new_key() {
        let old = Keyring::new(Some(key(1)), &[]);
        let sealed = old.seal(b"s", "h").unwrap();
        let rotated = Keyring::new(Some(key(2)), &[key(1)]);
        assert_eq!(rotated.open(&sealed, "h").unwrap(), b"s");
        assert!(rotated.is_stale(&sealed));
        assert!(!rotated.is_stale(&rotated.seal(b"s", "h").unwrap()));
        assert_eq!(Keyring::default().seal(b"s", "h"), Err(SealError::NoKey));
    }

    #[test]
    fn keys_are_32_bytes_of_base64() {
        assert_eq!(parse_key(&generate_key()).unwrap().len(), 32);
        assert!(parse_key("c2hvcnQ=").is_err());
        assert!(parse_key("not base64!").is_err());
    }
}
