//! An identity provider for the tests, on 127.0.0.1: it generates its signing keys, serves
//! them as a JWKS (and an OpenID discovery document pointing there), counts the fetches,
//! rotates keys when told, can go down, and signs JWTs as Entra or anyone else would.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use jsonwebtoken::jwk::Jwk;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{json, Value};

pub struct Key {
    pub kid: String,
    pub alg: Algorithm,
    encoding: EncodingKey,
    pub jwk: Value,
    /// The public key as PEM text: what an HMAC-confusion attacker would sign with.
    pub public_pem: String,
}

impl Key {
    pub fn rsa(kid: &str) -> Key {
        use rsa::pkcs1::EncodeRsaPrivateKey;
        use rsa::pkcs8::EncodePublicKey;
        use rsa::Generate;
        let private = rsa::PrivateKey::generate();
        let der = private.to_pkcs1_der().expect("pkcs1 der");
        let public_pem = private
            .to_public_key()
            .to_public_key_pem(rsa::pkcs8::LineEnding::LF)
            .expect("public pem");
        Self::from_der(
            kid,
            Algorithm::RS256,
            EncodingKey::from_rsa_der(der.as_bytes()),
            public_pem,
        )
    }

    pub fn ec(kid: &str) -> Key {
        use p256::elliptic_curve::Generate;
        use p256::pkcs8::{EncodePrivateKey, EncodePublicKey};
        let secret = p256::SecretKey::generate();
        let der = secret.to_pkcs8_der().expect("pkcs8 der");
        let public_pem = secret
            .public_key()
            .to_public_key_pem(p256::pkcs8::LineEnding::LF)
            .expect("public pem");
        Self::from_der(
            kid,
            Algorithm::ES256,
            EncodingKey::from_ec_der(der.as_bytes()),
            public_pem,
        )
    }

    fn from_der(kid: &str, alg: Algorithm, encoding: EncodingKey, public_pem: String) -> Key {
        let mut jwk =
            serde_json::to_value(Jwk::from_encoding_key(&encoding, alg).unwrap()).unwrap();
        jwk["kid"] = json!(kid);
        jwk["use"] = json!("sig");
        Key {
            kid: kid.to_owned(),
            alg,
            encoding,
            jwk,
            public_pem,
        }
    }

    pub fn sign(&self, claims: &Value) -> String {
        let mut header = Header::new(self.alg);
        header.kid = Some(self.kid.clone());
        header.typ = Some("JWT".into());
        jsonwebtoken::encode(&header, claims, &self.encoding).expect("sign")
    }
}

#[derive(Default)]
struct Shared {
    published: Mutex<Vec<Value>>,
    fetches: AtomicUsize,
    down: AtomicBool,
    issuer: Mutex<String>,
}

pub struct Idp {
    /// http://127.0.0.1:port, also its issuer for discovery.
    pub origin: String,
    shared: Arc<Shared>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Idp {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn jwks(State(s): State<Arc<Shared>>) -> Response {
    s.fetches.fetch_add(1, Ordering::SeqCst);
    if s.down.load(Ordering::SeqCst) {
        return StatusCode::SERVICE_UNAVAILABLE.into_response();
    }
    let keys = s.published.lock().unwrap().clone();
    Json(json!({"keys": keys})).into_response()
}

async fn discovery(State(s): State<Arc<Shared>>) -> Response {
    if s.down.load(Ordering::SeqCst) {
        return StatusCode::SERVICE_UNAVAILABLE.into_response();
    }
    let issuer = s.issuer.lock().unwrap().clone();
    Json(json!({"issuer": issuer, "jwks_uri": format!("{issuer}/keys")})).into_response()
}

impl Idp {
    pub async fn start() -> Idp {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let origin = format!("http://{}", listener.local_addr().unwrap());
        let shared = Arc::new(Shared::default());
        *shared.issuer.lock().unwrap() = origin.clone();
        let app = Router::new()
            .route("/keys", get(jwks))
            .route("/.well-known/openid-configuration", get(discovery))
            .with_state(shared.clone());
        let task = tokio::spawn(async move {
            axum::serve(listener, app).await.unwrap();
        });
        Idp {
            origin,
            shared,
            task,
        }
    }

    pub fn jwks_url(&self) -> String {
        format!("{}/keys", self.origin)
    }

    /// Publishes exactly these keys.
    pub fn publish(&self, keys: &[&Key]) {
        *self.shared.published.lock().unwrap() = keys.iter().map(|k| k.jwk.clone()).collect();
    }

    pub fn fetches(&self) -> usize {
        self.shared.fetches.load(Ordering::SeqCst)
    }

    pub fn set_down(&self, down: bool) {
        self.shared.down.store(down, Ordering::SeqCst);
    }
}

pub fn now() -> i64 {
    chrono::Utc::now().timestamp()
}

/// The claims Entra's workload identity federation puts in its client assertion.
pub fn entra_claims(tenant_id: &str, app_id: &str, subject: &str) -> Value {
    let now = now();
    json!({
        "aud": format!("api://{app_id}"),
        "iss": format!("https://login.microsoftonline.com/{tenant_id}/v2.0"),
        "iat": now,
        "nbf": now,
        "exp": now + 3900,
        "appid": app_id,
        "appidacr": "2",
        "idp": format!("https://login.microsoftonline.com/{tenant_id}/v2.0"),
        "oid": "d2f8ee76-c549-45b8-a143-f5b640669704",
        "sub": subject,
        "tid": tenant_id,
        "ver": "2.0"
    })
}
