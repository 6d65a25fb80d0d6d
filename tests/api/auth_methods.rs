//! Each realm chooses how callers may authenticate (token, basic, oauth, jwt), and its
//! /ServiceProviderConfig lists exactly those: a credential of another kind is refused, the
//! token endpoint of a realm without OAuth issues nothing, and turning a method back on
//! restores it.

use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use crate::both_backends;
use crate::helpers::{send, Resp, TestApp};
use crate::oauth::{access_token, oauth_error, scim_users, token_url, CC, REALM};

both_backends!(
    discovery_lists_exactly_the_methods_the_realm_enables,
    a_method_turned_off_is_refused_and_turned_on_works_again,
    auth_methods_are_checked,
);

async fn set_methods(app: &TestApp, methods: Value) -> Resp {
    app.admin_call(Method::PATCH, REALM, Some(json!({"auth_methods": methods})))
        .await
}

async fn spc(app: &TestApp) -> Value {
    let r = send(
        app.client
            .get(format!("{}/ServiceProviderConfig", app.base))
            .bearer_auth(&app.token),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    r.body
}

fn scheme_types(spc: &Value) -> Vec<(String, String, bool)> {
    spc["authenticationSchemes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            assert!(s["specUri"]
                .as_str()
                .unwrap()
                .starts_with("https://www.rfc-editor.org/"));
            assert!(!s["description"].as_str().unwrap().is_empty());
            (
                s["type"].as_str().unwrap().to_owned(),
                s["name"].as_str().unwrap().to_owned(),
                s["primary"].as_bool().unwrap(),
            )
        })
        .collect()
}

async fn oauth_client(app: &TestApp) -> (String, String) {
    let r = app
        .admin_call(
            Method::POST,
            &format!("{REALM}/oauth-clients"),
            Some(json!({"name": "entra"})),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    (
        r.body["client_id"].as_str().unwrap().to_owned(),
        r.body["client_secret"].as_str().unwrap().to_owned(),
    )
}

async fn token_request(app: &TestApp, id: &str, secret: &str) -> Resp {
    send(
        app.client
            .post(token_url(app))
            .basic_auth(id, Some(secret))
            .form(&[CC]),
    )
    .await
}

async fn discovery_lists_exactly_the_methods_the_realm_enables(app: &TestApp) {
    let realm = app.admin_call(Method::GET, REALM, None).await;
    assert_eq!(
        realm.body["auth_methods"],
        json!(["token", "basic", "oauth", "jwt"]),
        "every method by default"
    );
    let all = scheme_types(&spc(app).await);
    let types: Vec<&str> = all.iter().map(|(t, _, _)| t.as_str()).collect();
    assert_eq!(
        types,
        [
            "oauthbearertoken",
            "httpbasic",
            "oauth2",
            "oauthbearertoken"
        ]
    );
    assert_eq!(
        all.iter().filter(|(_, _, primary)| *primary).count(),
        1,
        "one primary: {all:?}"
    );

    let r = set_methods(app, json!(["token", "oauth"])).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.body["auth_methods"], json!(["token", "oauth"]));
    let now = scheme_types(&spc(app).await);
    assert_eq!(
        now,
        [
            ("oauthbearertoken".into(), "OAuth Bearer Token".into(), true),
            (
                "oauth2".into(),
                "OAuth 2.0 client credentials".into(),
                false
            ),
        ]
    );
    // Another realm's discovery tells its own truth.
    app.admin.create_realm("default", "other").await.unwrap();
    let other = app
        .admin
        .create_token("default", "other", "t", None)
        .await
        .unwrap();
    let r = send(
        app.client
            .get(format!(
                "{}/v1/tenants/default/realms/other/scim/v2/ServiceProviderConfig",
                app.origin
            ))
            .bearer_auth(&other.secret),
    )
    .await;
    assert_eq!(r.body["authenticationSchemes"].as_array().unwrap().len(), 4);
}

async fn a_method_turned_off_is_refused_and_turned_on_works_again(app: &TestApp) {
    let (id, secret) = oauth_client(app).await;
    let issued = access_token(&token_request(app, &id, &secret).await);
    let basic = app
        .admin_call(
            Method::POST,
            &format!("{REALM}/basic-credentials"),
            Some(json!({"username": "okta"})),
        )
        .await;
    let password = basic.body["password"].as_str().unwrap().to_owned();
    let with_basic = || async {
        send(
            app.client
                .get(format!("{}/Users", app.base))
                .basic_auth("okta", Some(&password)),
        )
        .await
    };
    assert_eq!(scim_users(app, &issued).await, StatusCode::OK);
    assert_eq!(with_basic().await.status, StatusCode::OK);

    // Only Basic: realm tokens and OAuth access tokens stop, and the token endpoint and its
    // metadata are gone.
    let r = set_methods(app, json!(["basic"])).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let refused = send(
        app.client
            .get(format!("{}/Users", app.base))
            .bearer_auth(&app.token),
    )
    .await;
    assert_eq!(refused.status, StatusCode::UNAUTHORIZED, "{}", refused.body);
    let detail = refused.body["detail"].as_str().unwrap();
    assert!(
        detail.contains("does not accept") && detail.contains("basic"),
        "{detail}"
    );
    assert_eq!(scim_users(app, &issued).await, StatusCode::UNAUTHORIZED);
    oauth_error(
        &token_request(app, &id, &secret).await,
        400,
        "unauthorized_client",
    );
    let meta = send(app.client.get(format!(
        "{}/.well-known/oauth-authorization-server{REALM}",
        app.origin
    )))
    .await;
    assert_eq!(meta.status, StatusCode::NOT_FOUND, "{}", meta.body);
    let r = with_basic().await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    // The older Basic (a token as the password) is Basic too.
    let t = app
        .admin
        .create_token("default", "default", "legacy", None)
        .await
        .unwrap();
    let r = send(
        app.client
            .get(format!("{}/Users", app.base))
            .basic_auth("legacy", Some(&t.secret)),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);

    // Only tokens: Basic stops.
    set_methods(app, json!(["token"])).await;
    let r = with_basic().await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{}", r.body);
    assert!(r
        .header("www-authenticate")
        .is_some_and(|w| w.starts_with("Basic")));
    assert_eq!(scim_users(app, &app.token).await, StatusCode::OK);

    // All back: everything issued before works again (nothing was revoked).
    set_methods(app, json!(["token", "basic", "oauth", "jwt"])).await;
    assert_eq!(scim_users(app, &issued).await, StatusCode::OK);
    assert_eq!(with_basic().await.status, StatusCode::OK);
    access_token(&token_request(app, &id, &secret).await);
}

async fn auth_methods_are_checked(app: &TestApp) {
    for bad in [json!([]), json!(["kerberos"]), json!("token"), json!([1])] {
        let r = set_methods(app, bad.clone()).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{bad}: {}", r.body);
        assert_eq!(r.body["field"], "auth_methods", "{bad}: {}", r.body);
    }
    let r = app.admin_call(Method::GET, REALM, None).await;
    assert_eq!(
        r.body["auth_methods"].as_array().unwrap().len(),
        4,
        "unchanged"
    );
    // Duplicates fold; the order is the server's.
    let r = set_methods(app, json!(["jwt", "token", "jwt"])).await;
    assert_eq!(r.body["auth_methods"], json!(["token", "jwt"]));
    // A realm created with its methods.
    let r = app
        .admin_call(
            Method::POST,
            "/v1/tenants/default/realms",
            Some(json!({"id": "entra-only", "auth_methods": ["oauth"]})),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    assert_eq!(r.body["auth_methods"], json!(["oauth"]));
}
