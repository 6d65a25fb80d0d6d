//! JWT bearer from a trusted issuer, black-box: a realm trusts an external issuer's JWTs as
//! bearer tokens on its SCIM endpoints (Entra's own token for its provisioning service is a
//! preset), with keys from the test's identity provider (tests/api/idp.rs): fixed and
//! claim-mapped scopes, a bad-token matrix, disabling and deleting the trust, and the admin
//! API's checks.

use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use crate::both_backends;
use crate::helpers::{send, Backend, Resp, TestApp};
use crate::idp::{now, Idp, Key};
use crate::oauth::{scim_create, scim_users, REALM};

both_backends!(
    entras_own_token_is_accepted_on_scim_with_the_preset,
    bad_jwts_are_refused_as_invalid_token,
    scopes_come_from_a_claim_when_mapped,
    a_disabled_or_deleted_issuer_stops_its_tokens_at_once,
    trusted_issuers_are_checked_when_created_and_changed,
);

const TENANT_ID: &str = "ce5f061f-abe6-4e40-9615-301f87bcb7f0";
const ENTRA_AUDIENCE: &str = "8adf8e6e-67b2-4cf2-a259-e3dc5476c621";
const GENERIC: &str = "the bearer token is not valid for this realm";

fn issuers() -> String {
    format!("{REALM}/trusted-issuers")
}

async fn trust(app: &TestApp, body: Value) -> Resp {
    app.admin_call(Method::POST, &issuers(), Some(body)).await
}

async fn change(app: &TestApp, id: &str, body: Value) -> Resp {
    app.admin_call(Method::PATCH, &format!("{}/{id}", issuers()), Some(body))
        .await
}

/// The claims of the access token Entra's provisioning service sends a SCIM app (v1).
fn entra_token_claims() -> Value {
    let now = now();
    json!({
        "aud": ENTRA_AUDIENCE,
        "iss": format!("https://sts.windows.net/{TENANT_ID}/"),
        "iat": now, "nbf": now, "exp": now + 3600,
        "appid": "1b4f816e-5eaf-48b9-8613-7923830595ad",
        "appidacr": "2",
        "idp": format!("https://sts.windows.net/{TENANT_ID}/"),
        "oid": "4ee4e8b9-3a2e-4a2b-9b5e-2a5b5c8f7a61",
        "sub": "4ee4e8b9-3a2e-4a2b-9b5e-2a5b5c8f7a61",
        "tid": TENANT_ID,
        "ver": "1.0"
    })
}

/// The Entra preset, its keys then pointed at the test's identity provider (the preset's
/// own, login.microsoftonline.com, is not reachable from a test). Returns the issuer's id.
async fn trust_entra(app: &TestApp, idp: &Idp) -> String {
    let r = trust(
        app,
        json!({"name": "entra", "preset": "entra", "entra_tenant_id": TENANT_ID}),
    )
    .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    assert_eq!(
        r.body["issuer"],
        format!("https://sts.windows.net/{TENANT_ID}/")
    );
    assert_eq!(r.body["audience"], ENTRA_AUDIENCE);
    assert_eq!(
        r.body["jwks_url"],
        format!("https://login.microsoftonline.com/{TENANT_ID}/discovery/keys")
    );
    assert_eq!(r.body["scopes"], json!(["scim:all"]));
    assert_eq!(r.body["enabled"], true);
    let id = r.body["id"].as_str().unwrap().to_owned();
    assert!(r
        .header("location")
        .is_some_and(|l| l.ends_with(&format!("/trusted-issuers/{id}"))));
    let r = change(app, &id, json!({"jwks_url": idp.jwks_url()})).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    id
}

async fn scim_get(app: &TestApp, token: &str) -> Resp {
    send(
        app.client
            .get(format!("{}/Users", app.base))
            .bearer_auth(token),
    )
    .await
}

fn refused(r: &Resp, what: &str) {
    assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{what}: {}", r.body);
    assert_eq!(
        r.body["detail"], GENERIC,
        "{what}: one answer whatever was wrong"
    );
    assert_eq!(
        r.header("www-authenticate"),
        Some("Bearer realm=\"scimd\", error=\"invalid_token\""),
        "{what}"
    );
}

async fn entras_own_token_is_accepted_on_scim_with_the_preset(app: &TestApp) {
    let idp = Idp::start().await;
    let key = Key::rsa("entra-1");
    idp.publish(&[&key]);
    let id = trust_entra(app, &idp).await;

    let token = key.sign(&entra_token_claims());
    assert_eq!(scim_users(app, &token).await, StatusCode::OK);
    assert_eq!(
        scim_create(app, &token, "jwt-bearer@example.com").await,
        StatusCode::CREATED
    );
    // Again: the same token, verified once, still good (and the key set is not refetched
    // for every request).
    let fetched = idp.fetches();
    for _ in 0..3 {
        assert_eq!(scim_users(app, &token).await, StatusCode::OK);
    }
    assert_eq!(idp.fetches(), fetched, "keys are cached");

    // The issuer rotates its key: a token with the new kid fetches the set again.
    let next = Key::ec("entra-2");
    idp.publish(&[&key, &next]);
    let token = next.sign(&entra_token_claims());
    assert_eq!(scim_users(app, &token).await, StatusCode::OK);

    // Listed, and shown one by one.
    let list = app.admin_call(Method::GET, &issuers(), None).await;
    assert_eq!(list.status, StatusCode::OK);
    assert_eq!(list.body["items"][0]["id"], id.as_str());
    assert_eq!(list.body["next_cursor"], Value::Null);
    let one = app
        .admin_call(Method::GET, &format!("{}/{id}", issuers()), None)
        .await;
    assert_eq!(one.body["jwks_url"], idp.jwks_url());

    // Another realm does not trust it.
    let r = send(
        app.client
            .get(format!(
                "{}/v1/tenants/default/realms/elsewhere/scim/v2/Users",
                app.origin
            ))
            .bearer_auth(&token),
    )
    .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND, "no such realm: {}", r.body);
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

fn b64(v: &Value) -> String {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v.to_string().as_bytes())
}

async fn bad_jwts_are_refused_as_invalid_token(app: &TestApp) {
    let idp = Idp::start().await;
    let key = Key::rsa("k1");
    let stranger = Key::rsa("k1");
    idp.publish(&[&key]);
    trust_entra(app, &idp).await;
    let good = entra_token_claims();
    let with = |k: &str, v: Value| {
        let mut c = good.clone();
        c[k] = v;
        c
    };
    let signed = key.sign(&good);
    let (head, rest) = signed.split_once('.').unwrap();
    let sig = rest.split_once('.').unwrap().1;
    let cases: Vec<(&str, String)> = vec![
        (
            "wrong issuer",
            key.sign(&with("iss", json!("https://sts.windows.net/other/"))),
        ),
        (
            "wrong audience",
            key.sign(&with("aud", json!("api://someone-else"))),
        ),
        ("expired", key.sign(&with("exp", json!(now() - 600)))),
        (
            "nbf in the future",
            key.sign(&with("nbf", json!(now() + 600))),
        ),
        ("no exp", {
            let mut c = good.clone();
            c.as_object_mut().unwrap().remove("exp");
            key.sign(&c)
        }),
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
        ("unknown kid", Key::ec("not-published").sign(&good)),
        (
            "signed by a stranger with the same kid",
            stranger.sign(&good),
        ),
        (
            "tampered payload",
            format!(
                "{head}.{}.{sig}",
                b64(&with("oid", json!("not-the-signed-one")))
            ),
        ),
        ("not a JWT", "eyJhbGciOiJSUzI1NiJ9.garbage.x".into()),
    ];
    for (what, token) in &cases {
        refused(&scim_get(app, token).await, what);
    }
    // The good one still works after all that.
    assert_eq!(scim_users(app, &signed).await, StatusCode::OK);
}

async fn scopes_come_from_a_claim_when_mapped(app: &TestApp) {
    let idp = Idp::start().await;
    let key = Key::ec("okta-1");
    idp.publish(&[&key]);
    let r = trust(
        app,
        json!({
            "name": "okta",
            "issuer": "https://example.okta.com/oauth2/default",
            "audience": "api://scimd",
            "jwks_url": idp.jwks_url(),
            "scope_claim": "scp",
            "scope_values": {"scim.read": "scim:read", "scim.write": "scim:all"}
        }),
    )
    .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    assert_eq!(r.body["scope_claim"], "scp");
    assert_eq!(r.body["scopes"], json!([]), "{}", r.body);
    let id = r.body["id"].as_str().unwrap().to_owned();
    let token = |scp: Value| {
        key.sign(&json!({"iss": "https://example.okta.com/oauth2/default",
            "aud": "api://scimd", "sub": "0oa1", "exp": now() + 600, "iat": now(), "scp": scp}))
    };
    let reader = token(json!(["openid", "scim.read"]));
    assert_eq!(scim_users(app, &reader).await, StatusCode::OK);
    assert_eq!(
        scim_create(app, &reader, "reader@example.com").await,
        StatusCode::FORBIDDEN,
        "scim:read may not write"
    );
    let writer = token(json!("scim.read scim.write"));
    assert_eq!(
        scim_create(app, &writer, "writer@example.com").await,
        StatusCode::CREATED
    );
    let nothing = token(json!(["openid"]));
    assert_eq!(
        scim_users(app, &nothing).await,
        StatusCode::FORBIDDEN,
        "a valid token whose claim maps to no scope"
    );

    // A subject restriction: only this client's tokens.
    let r = change(app, &id, json!({"subject": "0oa2"})).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    refused(
        &scim_get(app, &token(json!(["scim.read"]))).await,
        "another subject",
    );

    // Fixed scopes replace the mapping.
    let r = change(app, &id, json!({"subject": null, "scopes": ["scim:read"]})).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.body["scope_claim"], Value::Null);
    assert_eq!(r.body["scope_values"], json!({}));
    let fresh = token(json!([]));
    assert_eq!(scim_users(app, &fresh).await, StatusCode::OK);
    assert_eq!(
        scim_create(app, &fresh, "fixed@example.com").await,
        StatusCode::FORBIDDEN
    );
}

async fn a_disabled_or_deleted_issuer_stops_its_tokens_at_once(app: &TestApp) {
    let idp = Idp::start().await;
    let key = Key::rsa("k1");
    idp.publish(&[&key]);
    let id = trust_entra(app, &idp).await;
    let token = key.sign(&entra_token_claims());
    assert_eq!(scim_users(app, &token).await, StatusCode::OK);

    let r = change(app, &id, json!({"enabled": false})).await;
    assert_eq!(r.body["enabled"], false, "{}", r.body);
    refused(&scim_get(app, &token).await, "disabled issuer");
    change(app, &id, json!({"enabled": true})).await;
    assert_eq!(scim_users(app, &token).await, StatusCode::OK);

    // A paused realm is paused for JWTs as for any token.
    let r = app
        .admin_call(Method::PATCH, REALM, Some(json!({"state": "paused"})))
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(scim_get(app, &token).await.status, StatusCode::FORBIDDEN);
    app.admin_call(Method::PATCH, REALM, Some(json!({"state": "enabled"})))
        .await;

    let r = app
        .admin_call(Method::DELETE, &format!("{}/{id}", issuers()), None)
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.body);
    refused(&scim_get(app, &token).await, "deleted issuer");
    let again = app
        .admin_call(Method::DELETE, &format!("{}/{id}", issuers()), None)
        .await;
    assert_eq!(again.status, StatusCode::NOT_FOUND);

    // The record says who did what.
    let audit = app
        .admin_call(Method::GET, "/v1/tenants/default/audit?limit=50", None)
        .await;
    let text = audit.body.to_string();
    for action in [
        "trusted_issuer.create",
        "trusted_issuer.update",
        "trusted_issuer.delete",
    ] {
        assert!(text.contains(action), "{action}: {text}");
    }
}

async fn trusted_issuers_are_checked_when_created_and_changed(app: &TestApp) {
    let bad = |body: Value, field: &'static str| (body, field);
    let cases = [
        bad(json!({"name": "x", "audience": "a"}), "issuer"),
        bad(json!({"name": "x", "issuer": "https://i/"}), "audience"),
        bad(json!({"issuer": "https://i/", "audience": "a"}), "name"),
        bad(
            json!({"name": "x", "issuer": "http://idp.example/", "audience": "a"}),
            "issuer",
        ),
        bad(
            json!({"name": "x", "issuer": "https://i/", "audience": "a",
                "jwks_url": "http://idp.example/keys"}),
            "jwks_url",
        ),
        bad(
            json!({"name": "x", "issuer": "https://i/", "audience": "a", "scope_claim": "roles"}),
            "scope_values",
        ),
        bad(
            json!({"name": "x", "issuer": "https://i/", "audience": "a", "scope_claim": "roles",
                "scope_values": {"Admin": "admin"}}),
            "scope_values",
        ),
        bad(
            json!({"name": "x", "issuer": "https://i/", "audience": "a", "scopes": ["scim:read"],
                "scope_claim": "roles", "scope_values": {"R": "scim:read"}}),
            "scopes",
        ),
        bad(
            json!({"name": "x", "issuer": "https://i/", "audience": "a",
                "scope_values": {"R": "scim:read"}}),
            "scope_claim",
        ),
        bad(
            json!({"name": "x", "preset": "entra", "entra_tenant_id": "not-a-guid"}),
            "entra_tenant_id",
        ),
        bad(json!({"name": "x", "preset": "okta"}), "preset"),
        bad(
            json!({"name": "x", "issuer": " https://i/", "audience": "a"}),
            "issuer",
        ),
    ];
    for (body, field) in cases {
        let r = trust(app, body.clone()).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{body}: {}", r.body);
        assert_eq!(r.body["field"], field, "{body}: {}", r.body);
    }
    let r = trust(
        app,
        json!({"name": "x", "issuer": "https://i/", "audience": "a", "id": "mine"}),
    )
    .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.body);
    assert!(
        r.body["detail"].as_str().unwrap().contains("read-only"),
        "{}",
        r.body
    );

    let ok = json!({"name": "x", "issuer": "https://i/", "audience": "a"});
    let first = trust(app, ok.clone()).await;
    assert_eq!(first.status, StatusCode::CREATED, "{}", first.body);
    let dup = trust(app, ok).await;
    assert_eq!(dup.status, StatusCode::CONFLICT, "{}", dup.body);
    assert_eq!(dup.body["existing_id"], first.body["id"]);
    let id = first.body["id"].as_str().unwrap();

    // What a PATCH may not do.
    let r = change(app, id, json!({"issuer": "https://other/"})).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.body);
    let r = change(app, id, json!({"audience": null})).await;
    assert_eq!(r.body["field"], "audience", "{}", r.body);
    let r = change(
        app,
        id,
        json!({"scope_claim": "roles", "scope_values": {"W": "scim:all"}}),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let r = change(app, id, json!({"scope_claim": null})).await;
    assert_eq!(
        r.body["field"], "scopes",
        "dropping the mapping names the scopes: {}",
        r.body
    );
    let r = change(
        app,
        "0190a0a0-0000-7000-8000-000000000000",
        json!({"name": "y"}),
    )
    .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND, "{}", r.body);
    let r = app
        .admin_call(Method::GET, &format!("{}/not-an-id", issuers()), None)
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND, "{}", r.body);

    // The published description lists the calls.
    let spec = send(app.client.get(format!("{}/admin/openapi.json", app.origin))).await;
    let paths = spec.body["paths"].as_object().unwrap();
    assert!(paths.contains_key("/v1/tenants/{tenant}/realms/{realm}/trusted-issuers/{id}"));
}

/// Two servers on one PostgreSQL database: an issuer disabled through one stops its tokens
/// on the other within the second the change feed promises.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_issuer_disabled_on_one_replica_is_refused_by_the_other() {
    let Some(app) = TestApp::spawn(Backend::Postgres).await else {
        return;
    };
    let peer = app.peer().await;
    let idp = Idp::start().await;
    let key = Key::rsa("k1");
    idp.publish(&[&key]);
    let id = trust_entra(&app, &idp).await;
    let token = key.sign(&entra_token_claims());
    let url = format!("{}/Users", peer.base);
    for _ in 0..3 {
        let r = send(app.client.get(&url).bearer_auth(&token)).await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    }
    change(&app, &id, json!({"enabled": false})).await;
    let from = std::time::Instant::now();
    let r = loop {
        let r = send(app.client.get(&url).bearer_auth(&token)).await;
        if r.status == StatusCode::UNAUTHORIZED
            || from.elapsed() > std::time::Duration::from_secs(1)
        {
            break r;
        }
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    };
    refused(&r, "disabled on the other replica");
    peer.stop().await;
    app.stop().await;
}
