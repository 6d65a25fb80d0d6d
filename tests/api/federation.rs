//! Workload identity federation (RFC 7523 client assertions), black-box, with an identity
//! provider started by the test (tests/api/idp.rs): Entra's claim shape, the bad-assertion
//! matrix, key rotation and a key-server outage, OpenID discovery, and the admin API's
//! federated credentials.

use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use crate::both_backends_with;
use crate::helpers::{send, Resp, TestApp};
use crate::idp::{entra_claims, now, Idp, Key};
use crate::oauth::{access_token, oauth_error, scim_create, scim_users, token_url, CC, REALM};

/// Each case below comes from its own address (X-Forwarded-For from a trusted proxy), so
/// the failure limit, which counts per address, does not end the matrix early.
fn behind_a_proxy(cfg: &mut scimd::config::Config) {
    cfg.trusted_proxies = "127.0.0.1".into();
}

both_backends_with!(behind_a_proxy =>
    entras_workload_identity_federation_gets_a_token_that_works_on_scim,
    bad_assertions_are_refused_and_none_issues_a_token,
    rotated_keys_are_fetched_and_an_outage_keeps_what_works,
    keys_found_by_openid_discovery,
    federated_credentials_are_checked_when_created,
);

const ASSERTION_TYPE: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";
const TENANT_ID: &str = "ce5f061f-abe6-4e40-9615-301f87bcb7f0";
const APP_ID: &str = "b5ba7a93-4452-4522-aeb4-a2b5da870c16";
const SYNC_FABRIC: &str = "4e6f1ec0-9f0b-4e73-9a0e-4bd1c3b7a1f2";

/// A client without a secret; returns its id.
async fn federated_client(app: &TestApp, name: &str) -> String {
    let r = app
        .admin_call(
            Method::POST,
            &format!("{REALM}/oauth-clients"),
            Some(json!({"name": name, "issue_secret": false})),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    assert!(r.body.get("client_secret").is_none(), "{}", r.body);
    assert_eq!(r.body["secrets"], json!([]));
    r.body["client_id"].as_str().unwrap().to_owned()
}

async fn add_credential(app: &TestApp, client: &str, body: Value) -> Resp {
    app.admin_call(
        Method::POST,
        &format!("{REALM}/oauth-clients/{client}/federated-credentials"),
        Some(body),
    )
    .await
}

/// Trusts Entra-shaped assertions for `client`, with keys from the test's identity provider.
async fn trust_entra(app: &TestApp, idp: &Idp, client: &str) -> String {
    let r = add_credential(
        app,
        client,
        json!({
            "name": "entra provisioning",
            "issuer": format!("https://login.microsoftonline.com/{TENANT_ID}/v2.0"),
            "subject": SYNC_FABRIC,
            "audience": format!("api://{APP_ID}"),
            "jwks_url": idp.jwks_url(),
        }),
    )
    .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    r.body["id"].as_str().unwrap().to_owned()
}

/// A token request as Entra sends it, from `address`.
async fn assert_with(
    app: &TestApp,
    client_id: Option<&str>,
    assertion: &str,
    address: &str,
) -> Resp {
    let mut form = vec![
        CC,
        ("client_assertion_type", ASSERTION_TYPE),
        ("client_assertion", assertion),
        ("scope", "scim"),
    ];
    if let Some(id) = client_id {
        form.push(("client_id", id));
    }
    send(
        app.client
            .post(token_url(app))
            .header("x-forwarded-for", address)
            .form(&form),
    )
    .await
}

async fn entras_workload_identity_federation_gets_a_token_that_works_on_scim(app: &TestApp) {
    let idp = Idp::start().await;
    let key = Key::rsa("entra-1");
    idp.publish(&[&key]);
    let client = federated_client(app, "entra-wif").await;
    let cred = trust_entra(app, &idp, &client).await;

    // Entra's request: client_credentials, its client id, its JWT, scope=scim.
    let assertion = key.sign(&entra_claims(TENANT_ID, APP_ID, SYNC_FABRIC));
    let r = assert_with(app, Some(&client), &assertion, "10.0.0.1").await;
    let token = access_token(&r);
    assert_eq!(r.body["token_type"], "Bearer");
    assert_eq!(
        r.body["scope"], "scim:all",
        "Entra's 'scim' is scimd's scim:all"
    );
    assert_eq!(r.body["expires_in"], 3600);
    assert_eq!(r.header("cache-control"), Some("no-store"));
    assert_eq!(scim_users(app, &token).await, StatusCode::OK);
    assert_eq!(
        scim_create(app, &token, "wif@example.com").await,
        StatusCode::CREATED
    );

    // Entra presents the same assertion again next cycle (it has no jti): still good; so is
    // one without the client id, which the issuer and subject identify.
    access_token(&assert_with(app, Some(&client), &assertion, "10.0.0.1").await);
    access_token(&assert_with(app, None, &assertion, "10.0.0.1").await);

    // Another client's id with this assertion is not this client.
    let other = federated_client(app, "someone-else").await;
    let r = assert_with(app, Some(&other), &assertion, "10.0.0.2").await;
    oauth_error(&r, 401, "invalid_client");
    assert!(
        r.header("www-authenticate").is_none(),
        "no Basic challenge for an assertion"
    );

    // The admin API shows the credential and its last use; disabling the client ends it.
    let read = app
        .admin_call(
            Method::GET,
            &format!("{REALM}/oauth-clients/{client}"),
            None,
        )
        .await;
    let fc = &read.body["federated_credentials"][0];
    assert_eq!(fc["id"], cred.as_str());
    assert_eq!(fc["subject"], SYNC_FABRIC);
    assert!(fc["last_used_at"].is_string(), "{}", read.body);
    let off = app
        .admin_call(
            Method::PATCH,
            &format!("{REALM}/oauth-clients/{client}"),
            Some(json!({"enabled": false})),
        )
        .await;
    assert_eq!(off.status, StatusCode::OK, "{}", off.body);
    assert_eq!(scim_users(app, &token).await, StatusCode::UNAUTHORIZED);
    oauth_error(
        &assert_with(app, Some(&client), &assertion, "10.0.0.3").await,
        401,
        "invalid_client",
    );

    // Deleting the credential: the assertion is nobody's.
    app.admin_call(
        Method::PATCH,
        &format!("{REALM}/oauth-clients/{client}"),
        Some(json!({"enabled": true})),
    )
    .await;
    let del = app
        .admin_call(
            Method::DELETE,
            &format!("{REALM}/oauth-clients/{client}/federated-credentials/{cred}"),
            None,
        )
        .await;
    assert_eq!(del.status, StatusCode::NO_CONTENT, "{}", del.body);
    oauth_error(
        &assert_with(app, Some(&client), &assertion, "10.0.0.4").await,
        401,
        "invalid_client",
    );

    // The realm's metadata says assertions are taken.
    let meta = send(app.client.get(format!(
        "{}/.well-known/oauth-authorization-server{REALM}",
        app.origin
    )))
    .await;
    let methods = meta.body["token_endpoint_auth_methods_supported"].to_string();
    assert!(methods.contains("private_key_jwt"), "{}", meta.body);
}

fn b64(v: &Value) -> String {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v.to_string().as_bytes())
}

fn hs256(secret: &[u8], claims: &Value, kid: &str) -> String {
    let mut header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256);
    header.kid = Some(kid.into());
    jsonwebtoken::encode(
        &header,
        claims,
        &jsonwebtoken::EncodingKey::from_secret(secret).unwrap(),
    )
    .unwrap()
}

async fn bad_assertions_are_refused_and_none_issues_a_token(app: &TestApp) {
    let idp = Idp::start().await;
    let key = Key::rsa("k1");
    let stranger = Key::rsa("k1");
    idp.publish(&[&key]);
    let client = federated_client(app, "matrix").await;
    trust_entra(app, &idp, &client).await;
    let good = entra_claims(TENANT_ID, APP_ID, SYNC_FABRIC);
    let with = |k: &str, v: Value| {
        let mut c = good.clone();
        c[k] = v;
        c
    };
    let signed = key.sign(&good);
    let (head, rest) = signed.split_once('.').unwrap();
    let sig = rest.split_once('.').unwrap().1;
    let now = now();
    let cases: Vec<(&str, String)> = vec![
        (
            "wrong iss",
            key.sign(&with(
                "iss",
                json!("https://login.microsoftonline.com/x/v2.0"),
            )),
        ),
        ("wrong sub", key.sign(&with("sub", json!("another-app")))),
        (
            "wrong aud",
            key.sign(&with("aud", json!("api://someone-else"))),
        ),
        ("expired", key.sign(&with("exp", json!(now - 600)))),
        (
            "nbf in the future",
            key.sign(&with("nbf", json!(now + 600))),
        ),
        (
            "alg none",
            format!(
                "{}.{}.",
                b64(&json!({"alg": "none", "typ": "JWT"})),
                b64(&good)
            ),
        ),
        (
            "HS256 with the public key",
            hs256(key.public_pem.as_bytes(), &good, "k1"),
        ),
        ("unknown kid", {
            let other = Key::ec("not-published");
            other.sign(&good)
        }),
        (
            "signed by a stranger with the same kid",
            stranger.sign(&good),
        ),
        (
            "tampered payload",
            format!(
                "{head}.{}.{sig}",
                b64(&with("oid", json!("0000-not-the-signed-one")))
            ),
        ),
        ("not a JWT", "eyJhbGciOiJSUzI1NiJ9.garbage".into()),
    ];
    for (i, (what, assertion)) in cases.iter().enumerate() {
        let r = assert_with(app, None, assertion, &format!("10.1.0.{i}")).await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{what}: {}", r.body);
        assert_eq!(r.body["error"], "invalid_client", "{what}: {}", r.body);
        assert!(r.body.get("access_token").is_none(), "{what}: {}", r.body);
        assert_eq!(
            r.body["error_description"], "client authentication failed",
            "{what}: one answer whatever was wrong"
        );
    }

    // A jti makes an assertion single-use, on every server (it is recorded in the database).
    let once = key.sign(&with("jti", json!("0c2d-once")));
    access_token(&assert_with(app, Some(&client), &once, "10.2.0.1").await);
    let again = assert_with(app, Some(&client), &once, "10.2.0.2").await;
    oauth_error(&again, 401, "invalid_client");

    // The reasons are in the audit record, never the assertion.
    let audit = app
        .admin_call(Method::GET, "/v1/tenants/default/audit?limit=100", None)
        .await;
    let text = audit.body.to_string();
    for reason in [
        "no federated credential has its issuer and subject",
        "wrong audience",
        "it has expired",
        "its nbf is in the future",
        "its algorithm is not RS256 or ES256",
        "no key of the issuer has its kid",
        "its signature does not verify",
        "its jti was used before",
    ] {
        assert!(text.contains(reason), "audit lacks '{reason}': {text}");
    }
    assert!(
        !text.contains(sig),
        "an assertion's signature reached the audit record"
    );
}

async fn rotated_keys_are_fetched_and_an_outage_keeps_what_works(app: &TestApp) {
    let idp = Idp::start().await;
    let old = Key::ec("2026-old");
    idp.publish(&[&old]);
    let client = federated_client(app, "rotating").await;
    trust_entra(app, &idp, &client).await;
    let claims = entra_claims(TENANT_ID, APP_ID, SYNC_FABRIC);
    let first =
        access_token(&assert_with(app, Some(&client), &old.sign(&claims), "10.3.0.1").await);
    let fetched = idp.fetches();
    assert_eq!(fetched, 1);
    // Cached: a second assertion with the same key fetches nothing.
    access_token(&assert_with(app, Some(&client), &old.sign(&claims), "10.3.0.1").await);
    assert_eq!(idp.fetches(), 1);

    // The issuer rotates mid-test: a new RSA key, the old one gone. Its first JWT makes
    // scimd fetch the set again, and it is accepted.
    let new = Key::rsa("2026-new");
    idp.publish(&[&new]);
    access_token(&assert_with(app, Some(&client), &new.sign(&claims), "10.3.0.2").await);
    assert_eq!(idp.fetches(), 2);

    // Made-up kids right after do not make scimd fetch again and again: the first miss
    // fetched at once, later ones wait.
    for i in 0..3 {
        let bogus = Key::ec(&format!("bogus-{i}"));
        oauth_error(
            &assert_with(
                app,
                Some(&client),
                &bogus.sign(&claims),
                &format!("10.3.1.{i}"),
            )
            .await,
            401,
            "invalid_client",
        );
    }
    assert!(
        idp.fetches() <= 3,
        "{} fetches for three made-up kids",
        idp.fetches()
    );

    // The key server goes down: tokens already issued keep working, and the cached key
    // still verifies new assertions.
    idp.set_down(true);
    assert_eq!(scim_users(app, &first).await, StatusCode::OK);
    access_token(&assert_with(app, Some(&client), &new.sign(&claims), "10.3.0.3").await);
}

async fn keys_found_by_openid_discovery(app: &TestApp) {
    let idp = Idp::start().await;
    let key = Key::ec("disc-1");
    idp.publish(&[&key]);
    let client = federated_client(app, "discovered").await;
    // No jwks_url: the keys are where the issuer's discovery document says.
    let r = add_credential(
        app,
        &client,
        json!({"issuer": idp.origin, "subject": "workload-7", "audience": "scimd"}),
    )
    .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    assert_eq!(r.body["jwks_url"], Value::Null);
    let n = now();
    let claims = json!({"iss": idp.origin, "sub": "workload-7", "aud": ["scimd", "other"],
        "iat": n, "exp": n + 300, "jti": "d-1"});
    let r = assert_with(app, Some(&client), &key.sign(&claims), "10.4.0.1").await;
    access_token(&r);
    assert_eq!(idp.fetches(), 1);
}

async fn federated_credentials_are_checked_when_created(app: &TestApp) {
    let client = federated_client(app, "checked").await;
    // Entra's preset fills in its issuer and key set from the tenant id.
    let r = add_credential(
        app,
        &client,
        json!({"preset": "entra", "entra_tenant_id": TENANT_ID, "subject": SYNC_FABRIC,
            "audience": format!("api://{APP_ID}")}),
    )
    .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    assert_eq!(
        r.body["issuer"],
        format!("https://login.microsoftonline.com/{TENANT_ID}/v2.0")
    );
    assert_eq!(
        r.body["jwks_url"],
        format!("https://login.microsoftonline.com/{TENANT_ID}/discovery/v2.0/keys")
    );
    assert!(r
        .header("location")
        .is_some_and(|l| l.contains("/federated-credentials/")));
    let dup = add_credential(
        app,
        &client,
        json!({"preset": "entra", "entra_tenant_id": TENANT_ID, "subject": SYNC_FABRIC,
            "audience": format!("api://{APP_ID}")}),
    )
    .await;
    assert_eq!(dup.status, StatusCode::CONFLICT, "{}", dup.body);

    let refused = [
        (
            json!({"issuer": "https://idp.example", "audience": "a"}),
            "subject",
        ),
        (
            json!({"issuer": "https://idp.example", "subject": "s"}),
            "audience",
        ),
        (json!({"subject": "s", "audience": "a"}), "issuer"),
        (
            json!({"issuer": "http://idp.example", "subject": "s", "audience": "a"}),
            "https://",
        ),
        (
            json!({"issuer": "x", "subject": "s", "audience": "a",
                "jwks_url": "http://keys.example/jwks"}),
            "https://",
        ),
        (
            json!({"preset": "entra", "entra_tenant_id": "contoso", "subject": "s",
                "audience": "a"}),
            "GUID",
        ),
        (
            json!({"preset": "okta", "subject": "s", "audience": "a"}),
            "unknown preset",
        ),
        (
            json!({"issuer": "https://idp.example", "subject": " s", "audience": "a"}),
            "spaces",
        ),
    ];
    for (body, says) in refused {
        let r = add_credential(app, &client, body.clone()).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{body}: {}", r.body);
        assert!(r.body.to_string().contains(says), "{body}: {}", r.body);
    }
    let none = add_credential(
        app,
        "0190e7a0-0000-7000-8000-000000000000",
        json!({"issuer": "https://idp.example", "subject": "s", "audience": "a"}),
    )
    .await;
    assert_eq!(none.status, StatusCode::NOT_FOUND, "{}", none.body);
}
