//! OAuth 2.0 client credentials, black-box: clients and secrets through the admin API, the
//! realm's token endpoint (both client authentication methods, RFC 6749 §5.2 errors), issued
//! tokens on SCIM with their scopes and lifetime, rotation, revocation, disabling and
//! deletion taking effect at once, the failure limit, and the RFC 8414 metadata.

use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use crate::both_backends;
use crate::helpers::{send, Resp, TestApp};

both_backends!(
    client_credentials_issue_a_token_that_works_on_scim,
    token_requests_are_refused_as_rfc_6749_says,
    secrets_rotate_without_downtime_and_dead_ones_fail,
    disabling_narrowing_or_deleting_a_client_ends_its_tokens_at_once,
    failed_client_authentication_is_limited_and_audited,
);

pub const REALM: &str = "/v1/tenants/default/realms/default";

/// Creates a client; returns (client id, secret, the whole response).
async fn client(app: &TestApp, body: Value) -> (String, String, Value) {
    let r = app
        .admin_call(Method::POST, &format!("{REALM}/oauth-clients"), Some(body))
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    let id = r.body["client_id"].as_str().unwrap().to_owned();
    let secret = r.body["client_secret"].as_str().unwrap().to_owned();
    (id, secret, r.body)
}

pub fn token_url(app: &TestApp) -> String {
    format!("{}{REALM}/oauth2/token", app.origin)
}

/// A token request with client_secret_basic.
async fn basic(app: &TestApp, id: &str, secret: &str, form: &[(&str, &str)]) -> Resp {
    send(
        app.client
            .post(token_url(app))
            .basic_auth(id, Some(secret))
            .form(form),
    )
    .await
}

/// A token request with client_secret_post.
async fn post_auth(app: &TestApp, id: &str, secret: &str, form: &[(&str, &str)]) -> Resp {
    let mut all = vec![("client_id", id), ("client_secret", secret)];
    all.extend_from_slice(form);
    send(app.client.post(token_url(app)).form(&all)).await
}

pub const CC: (&str, &str) = ("grant_type", "client_credentials");

pub fn access_token(r: &Resp) -> String {
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    r.body["access_token"].as_str().unwrap().to_owned()
}

pub fn oauth_error(r: &Resp, status: u16, error: &str) {
    assert_eq!(r.status.as_u16(), status, "{}", r.body);
    assert_eq!(r.body["error"], error, "{}", r.body);
    assert!(
        r.body["error_description"]
            .as_str()
            .is_some_and(|d| !d.is_empty()),
        "{}",
        r.body
    );
    assert_eq!(r.header("cache-control"), Some("no-store"));
}

pub async fn scim_users(app: &TestApp, token: &str) -> StatusCode {
    send(
        app.client
            .get(format!("{}/Users", app.base))
            .bearer_auth(token),
    )
    .await
    .status
}

pub async fn scim_create(app: &TestApp, token: &str, user: &str) -> StatusCode {
    send(
        app.client
            .post(format!("{}/Users", app.base))
            .bearer_auth(token)
            .header("content-type", "application/scim+json")
            .body(json!({"userName": user}).to_string()),
    )
    .await
    .status
}

async fn client_credentials_issue_a_token_that_works_on_scim(app: &TestApp) {
    let (id, secret, created) = client(app, json!({"name": "entra"})).await;
    assert_eq!(created["scopes"], json!(["scim:all"]));
    assert_eq!(created["enabled"], true);
    assert_eq!(created["token_lifetime_seconds"], 3600);
    assert_eq!(created["token_endpoint"], token_url(app));
    assert!(secret.starts_with("scimd_cs_"));
    assert_eq!(created["secrets"][0]["status"], "active");

    // Shown once: reading the client again shows no secret value anywhere.
    let read = app
        .admin_call(Method::GET, &format!("{REALM}/oauth-clients/{id}"), None)
        .await;
    assert_eq!(read.status, StatusCode::OK);
    assert!(!read.body.to_string().contains(&secret), "{}", read.body);
    assert!(read.body.get("client_secret").is_none());

    let r = basic(app, &id, &secret, &[CC]).await;
    let token = access_token(&r);
    assert_eq!(r.body["token_type"], "Bearer");
    assert_eq!(r.body["expires_in"], 3600);
    assert_eq!(r.body["scope"], "scim:all");
    assert_eq!(r.header("cache-control"), Some("no-store"));
    assert_eq!(scim_users(app, &token).await, StatusCode::OK);
    assert_eq!(
        scim_create(app, &token, "via-oauth").await,
        StatusCode::CREATED
    );

    // client_secret_post, asking for reads only: a token that may only read.
    let r = post_auth(app, &id, &secret, &[CC, ("scope", "scim:read")]).await;
    let read_only = access_token(&r);
    assert_eq!(r.body["scope"], "scim:read");
    assert_eq!(scim_users(app, &read_only).await, StatusCode::OK);
    assert_eq!(
        scim_create(app, &read_only, "refused").await,
        StatusCode::FORBIDDEN
    );

    // The secret's use is recorded; access tokens are not among the realm's tokens.
    let read = app
        .admin_call(Method::GET, &format!("{REALM}/oauth-clients/{id}"), None)
        .await;
    assert!(read.body["secrets"][0]["last_used_at"].is_string());
    let tokens = app
        .admin_call(Method::GET, &format!("{REALM}/tokens"), None)
        .await;
    assert!(
        tokens.body["items"]
            .as_array()
            .unwrap()
            .iter()
            .all(|t| t["name"] != "entra"),
        "{}",
        tokens.body
    );

    // The token lives its lifetime and no longer.
    app.clock.advance(chrono::TimeDelta::seconds(3600 + 5));
    assert_eq!(scim_users(app, &token).await, StatusCode::UNAUTHORIZED);

    // Both metadata locations name the token endpoint.
    for path in [
        format!("{REALM}/.well-known/oauth-authorization-server"),
        format!("/.well-known/oauth-authorization-server{REALM}"),
    ] {
        let m = send(app.client.get(format!("{}{path}", app.origin))).await;
        assert_eq!(m.status, StatusCode::OK, "{path}: {}", m.body);
        assert_eq!(m.body["issuer"], format!("{}{REALM}", app.origin));
        assert_eq!(m.body["token_endpoint"], token_url(app));
        assert_eq!(
            m.body["grant_types_supported"],
            json!(["client_credentials"])
        );
        assert_eq!(
            m.body["token_endpoint_auth_methods_supported"],
            json!([
                "client_secret_basic",
                "client_secret_post",
                "private_key_jwt"
            ])
        );
    }
    let m = send(app.client.get(format!(
        "{}/v1/tenants/default/realms/nope/.well-known/oauth-authorization-server",
        app.origin
    )))
    .await;
    assert_eq!(m.status, StatusCode::NOT_FOUND);
}

async fn token_requests_are_refused_as_rfc_6749_says(app: &TestApp) {
    let (id, secret, _) = client(app, json!({"name": "okta", "scopes": ["scim:read"]})).await;
    let url = token_url(app);

    oauth_error(&basic(app, &id, &secret, &[]).await, 400, "invalid_request");
    oauth_error(
        &basic(app, &id, &secret, &[("grant_type", "password")]).await,
        400,
        "unsupported_grant_type",
    );
    oauth_error(
        &basic(app, &id, &secret, &[CC, ("scope", "scim:all")]).await,
        400,
        "invalid_scope",
    );
    oauth_error(
        &basic(app, &id, &secret, &[CC, ("scope", "openid")]).await,
        400,
        "invalid_scope",
    );
    let twice = send(
        app.client
            .post(&url)
            .header("content-type", "application/x-www-form-urlencoded")
            .body("grant_type=client_credentials&grant_type=client_credentials")
            .basic_auth(&id, Some(&secret)),
    )
    .await;
    oauth_error(&twice, 400, "invalid_request");
    let json_body = send(
        app.client
            .post(&url)
            .basic_auth(&id, Some(&secret))
            .json(&json!({"grant_type": "client_credentials"})),
    )
    .await;
    oauth_error(&json_body, 400, "invalid_request");
    // Two authentication methods at once.
    let both = send(
        app.client
            .post(&url)
            .basic_auth(&id, Some(&secret))
            .form(&[CC, ("client_secret", secret.as_str())]),
    )
    .await;
    oauth_error(&both, 400, "invalid_request");

    // A wrong secret by header: 401 with a Basic challenge; in the form: 401 without one.
    let wrong = basic(app, &id, "scimd_cs_wrong", &[CC]).await;
    oauth_error(&wrong, 401, "invalid_client");
    assert!(wrong
        .header("www-authenticate")
        .is_some_and(|w| w.starts_with("Basic")));
    let wrong = post_auth(app, &id, "scimd_cs_wrong", &[CC]).await;
    oauth_error(&wrong, 401, "invalid_client");
    assert_eq!(wrong.header("www-authenticate"), None);
    // An unknown client says exactly what a wrong secret says.
    let unknown = basic(app, "00000000-0000-0000-0000-000000000000", &secret, &[CC]).await;
    oauth_error(&unknown, 401, "invalid_client");
    assert_eq!(unknown.body, wrong.body);
    // No client authentication at all.
    let none = send(app.client.post(&url).form(&[CC])).await;
    oauth_error(&none, 401, "invalid_client");
    // A client assertion beside a secret is two methods at once (RFC 6749 §2.3).
    let assertion = post_auth(
        app,
        &id,
        &secret,
        &[
            CC,
            (
                "client_assertion_type",
                "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
            ),
            ("client_assertion", "eyJ.e30.x"),
        ],
    )
    .await;
    oauth_error(&assertion, 400, "invalid_request");
    // An assertion of another type.
    let other_type = send(app.client.post(&url).form(&[
        CC,
        ("client_assertion_type", "urn:example:saml"),
        ("client_assertion", "x"),
    ]))
    .await;
    oauth_error(&other_type, 400, "invalid_request");
    // Only POST.
    let r = send(app.client.get(&url)).await;
    assert_eq!(r.status, StatusCode::METHOD_NOT_ALLOWED);
    // Another realm's endpoint does not know the client.
    let other = send(
        app.client
            .post(format!(
                "{}/v1/tenants/default/realms/nope/oauth2/token",
                app.origin
            ))
            .basic_auth(&id, Some(&secret))
            .form(&[CC]),
    )
    .await;
    assert_eq!(other.status, StatusCode::NOT_FOUND, "{}", other.body);
    // After all that, the right request still works.
    let ok = basic(app, &id, &secret, &[CC]).await;
    assert_eq!(ok.body["scope"], "scim:read", "{}", ok.body);
}

async fn secrets_rotate_without_downtime_and_dead_ones_fail(app: &TestApp) {
    let (id, first, _) = client(app, json!({"name": "rotating"})).await;
    let secrets = format!("{REALM}/oauth-clients/{id}/secrets");
    let r = app
        .admin_call(
            Method::POST,
            &secrets,
            Some(json!({"description": "second", "expires_in_days": 1})),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    let second_id = r.body["id"].as_str().unwrap().to_owned();
    let second = r.body["client_secret"].as_str().unwrap().to_owned();
    access_token(&basic(app, &id, &first, &[CC]).await);
    access_token(&basic(app, &id, &second, &[CC]).await);

    // Five live at most.
    for _ in 0..3 {
        let r = app
            .admin_call(Method::POST, &secrets, Some(json!({})))
            .await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    }
    let sixth = app
        .admin_call(Method::POST, &secrets, Some(json!({})))
        .await;
    assert_eq!(sixth.status, StatusCode::CONFLICT, "{}", sixth.body);

    // Revoke the first: it fails, the others still work, and a sixth may now be added.
    let first_id = app
        .admin_call(Method::GET, &format!("{REALM}/oauth-clients/{id}"), None)
        .await
        .body["secrets"][0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let item = format!("{secrets}/{first_id}");
    let r = app.admin_call(Method::DELETE, &item, None).await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.body);
    assert_eq!(
        app.admin_call(Method::DELETE, &item, None).await.status,
        StatusCode::NOT_FOUND
    );
    oauth_error(&basic(app, &id, &first, &[CC]).await, 401, "invalid_client");
    access_token(&basic(app, &id, &second, &[CC]).await);
    let r = app
        .admin_call(Method::POST, &secrets, Some(json!({})))
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);

    // The second expires after its day.
    app.clock.advance(chrono::TimeDelta::seconds(86_400 + 5));
    oauth_error(
        &basic(app, &id, &second, &[CC]).await,
        401,
        "invalid_client",
    );
    let view = app
        .admin_call(Method::GET, &format!("{REALM}/oauth-clients/{id}"), None)
        .await;
    let status = |sid: &str| {
        view.body["secrets"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["id"] == sid)
            .unwrap()["status"]
            .clone()
    };
    assert_eq!(status(&first_id), "revoked");
    assert_eq!(status(&second_id), "expired");
}

async fn disabling_narrowing_or_deleting_a_client_ends_its_tokens_at_once(app: &TestApp) {
    let (id, secret, _) = client(
        app,
        json!({"name": "jumpcloud", "token_lifetime_seconds": 600}),
    )
    .await;
    let item = format!("{REALM}/oauth-clients/{id}");
    let r = basic(app, &id, &secret, &[CC]).await;
    assert_eq!(r.body["expires_in"], 600);
    let token = access_token(&r);
    assert_eq!(scim_users(app, &token).await, StatusCode::OK);

    let r = app
        .admin_call(Method::PATCH, &item, Some(json!({"enabled": false})))
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.body["enabled"], false);
    assert_eq!(
        scim_users(app, &token).await,
        StatusCode::UNAUTHORIZED,
        "at once"
    );
    oauth_error(
        &basic(app, &id, &secret, &[CC]).await,
        401,
        "invalid_client",
    );

    let r = app
        .admin_call(Method::PATCH, &item, Some(json!({"enabled": true})))
        .await;
    assert_eq!(r.status, StatusCode::OK);
    let token = access_token(&basic(app, &id, &secret, &[CC]).await);
    assert_eq!(scim_users(app, &token).await, StatusCode::OK);
    // Fewer scopes: the token with more is revoked; a new one carries what is left.
    let r = app
        .admin_call(Method::PATCH, &item, Some(json!({"scopes": ["scim:read"]})))
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(scim_users(app, &token).await, StatusCode::UNAUTHORIZED);
    let r = basic(app, &id, &secret, &[CC]).await;
    assert_eq!(r.body["scope"], "scim:read");
    let token = access_token(&r);

    // Bad changes are refused by field and change nothing.
    for (body, field) in [
        (
            json!({"token_lifetime_seconds": 60}),
            "token_lifetime_seconds",
        ),
        (json!({"enabled": "yes"}), "enabled"),
        (json!({"scopes": ["admin"]}), "scopes"),
    ] {
        let r = app.admin_call(Method::PATCH, &item, Some(body)).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.body);
        assert_eq!(r.body["field"], field, "{}", r.body);
    }
    let r = app
        .admin_call(Method::PATCH, &item, Some(json!({"client_secret": "x"})))
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.body);
    let (_, _, _) = client(app, json!({"name": "taken"})).await;
    let r = app
        .admin_call(Method::PATCH, &item, Some(json!({"name": "taken"})))
        .await;
    assert_eq!(r.status, StatusCode::CONFLICT, "{}", r.body);
    let dup = app
        .admin_call(
            Method::POST,
            &format!("{REALM}/oauth-clients"),
            Some(json!({"name": "taken"})),
        )
        .await;
    assert_eq!(dup.status, StatusCode::CONFLICT, "{}", dup.body);
    let view = app.admin_call(Method::GET, &item, None).await;
    assert_eq!(view.body["token_lifetime_seconds"], 600);
    assert_eq!(view.body["name"], "jumpcloud");

    // Deleted: its token, secrets and the client itself are gone.
    assert_eq!(scim_users(app, &token).await, StatusCode::OK);
    assert_eq!(
        app.admin_call(Method::DELETE, &item, None).await.status,
        StatusCode::NO_CONTENT
    );
    assert_eq!(scim_users(app, &token).await, StatusCode::UNAUTHORIZED);
    oauth_error(
        &basic(app, &id, &secret, &[CC]).await,
        401,
        "invalid_client",
    );
    assert_eq!(
        app.admin_call(Method::GET, &item, None).await.status,
        StatusCode::NOT_FOUND
    );
    let list = app
        .admin_call(Method::GET, &format!("{REALM}/oauth-clients"), None)
        .await;
    let names: Vec<&Value> = list.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| &c["name"])
        .collect();
    assert_eq!(names, vec!["taken"], "{}", list.body);
}

async fn failed_client_authentication_is_limited_and_audited(app: &TestApp) {
    let (id, secret, _) = client(app, json!({"name": "guessed"})).await;
    for _ in 0..10 {
        oauth_error(
            &basic(app, &id, "scimd_cs_guess", &[CC]).await,
            401,
            "invalid_client",
        );
    }
    // Now even the right secret waits: the failures are counted for this client.
    let r = basic(app, &id, &secret, &[CC]).await;
    assert_eq!(r.status, StatusCode::TOO_MANY_REQUESTS, "{}", r.body);
    assert!(r
        .header("retry-after")
        .and_then(|s| s.parse::<u64>().ok())
        .is_some_and(|s| (1..=60).contains(&s)));
    let audit = app
        .admin_call(Method::GET, "/v1/tenants/default/audit", None)
        .await;
    let denied = audit.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["action"] == "oauth.token.denied")
        .count();
    assert_eq!(denied, 10, "{}", audit.body);
    assert!(!audit.body.to_string().contains("scimd_cs_guess"));
}
