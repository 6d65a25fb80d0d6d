//! Bearer tokens, realm states and tenancy.

use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::both_backends;
use crate::helpers::{send, until_status, TestApp};

both_backends!(
    missing_or_wrong_token_is_401_with_scim_body_and_challenge,
    other_realms_token_is_401,
    revoked_and_expired_tokens_are_401,
    token_without_scim_scope_is_403,
    several_live_tokens_work_at_once,
    paused_realm_is_403_and_keeps_its_data,
    unknown_tenant_or_realm_is_404,
    last_use_is_recorded_without_a_write_per_request,
    basic_takes_a_token_as_password_under_its_name,
);

async fn missing_or_wrong_token_is_401_with_scim_body_and_challenge(app: &TestApp) {
    let r = send(app.client.get(format!("{}/Users", app.base))).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    assert_eq!(r.body["status"], "401");
    assert!(r.header("www-authenticate").unwrap().starts_with("Bearer"));
    let r = send(
        app.client
            .get(format!("{}/Users", app.base))
            .bearer_auth("scimd_not-a-real-token"),
    )
    .await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    assert_eq!(
        r.body["schemas"],
        json!(["urn:ietf:params:scim:api:messages:2.0:Error"])
    );
}

async fn other_realms_token_is_401(app: &TestApp) {
    app.admin.create_tenant("acme").await.unwrap();
    app.admin.create_realm("acme", "prod").await.unwrap();
    let other = app
        .admin
        .create_token("acme", "prod", "acme-okta", None)
        .await
        .unwrap()
        .secret;
    let r = send(
        app.client
            .get(format!("{}/Users", app.base))
            .bearer_auth(&other),
    )
    .await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    let acme = format!("{}/v1/tenants/acme/realms/prod/scim/v2", app.origin);
    let r = send(app.client.get(format!("{acme}/Users")).bearer_auth(&other)).await;
    assert_eq!(r.status, StatusCode::OK);
    // Realms are separate directories.
    app.user("shared-name").await;
    let r = send(
        app.client
            .post(format!("{acme}/Users"))
            .bearer_auth(&other)
            .body(json!({"userName": "shared-name"}).to_string()),
    )
    .await;
    assert_eq!(r.status, StatusCode::CREATED);
}

async fn revoked_and_expired_tokens_are_401(app: &TestApp) {
    let t = app
        .admin
        .create_token("default", "default", "to-revoke", Some(30))
        .await
        .unwrap();
    let url = format!("{}/Users", app.base);
    let ok = send(app.client.get(&url).bearer_auth(&t.secret)).await;
    assert_eq!(ok.status, StatusCode::OK);
    app.admin
        .revoke_token("default", "default", &t.info.id)
        .await
        .unwrap();
    let r = until_status(StatusCode::UNAUTHORIZED, || {
        app.client.get(&url).bearer_auth(&t.secret)
    })
    .await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    // RFC 6750: a refused token is invalid_token, whatever made it so.
    assert_eq!(
        r.body["detail"], "the bearer token is not valid for this realm",
        "{}",
        r.body
    );
    assert_eq!(
        r.header("www-authenticate"),
        Some("Bearer realm=\"scimd\", error=\"invalid_token\"")
    );

    let e = app
        .admin
        .create_token("default", "default", "to-expire", Some(1))
        .await
        .unwrap();
    sqlx::any::install_default_drivers();
    let mut conn = <sqlx::AnyConnection as sqlx::Connection>::connect(&app.database_url)
        .await
        .unwrap();
    sqlx::query(
        "UPDATE tokens SET expires_at = '2000-01-01T00:00:00.000Z' WHERE CAST(id AS TEXT) = $1",
    )
    .bind(&e.info.id)
    .execute(&mut conn)
    .await
    .unwrap();
    let r = until_status(StatusCode::UNAUTHORIZED, || {
        app.client.get(&url).bearer_auth(&e.secret)
    })
    .await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    assert_eq!(
        r.body["detail"], "the bearer token is not valid for this realm",
        "expired is not told apart: {}",
        r.body
    );
}

async fn token_without_scim_scope_is_403(app: &TestApp) {
    let minted = scimd::service::auth::mint_secret();
    let realm = app
        .admin
        .list_realms(Some("default"))
        .await
        .unwrap()
        .remove(0);
    sqlx::any::install_default_drivers();
    let mut conn = <sqlx::AnyConnection as sqlx::Connection>::connect(&app.database_url)
        .await
        .unwrap();
    // Ids are uuid on Postgres, text on SQLite.
    let id = |n: u8| match app.database_url.starts_with("postgres") {
        true => format!("CAST(${n} AS uuid)"),
        false => format!("${n}"),
    };
    sqlx::query(&format!(
        "INSERT INTO tokens (id, realm_id, name, token_hash, scopes, created_at) \
         VALUES ({}, {}, 'reader', $3, 'directory:read', '2026-01-01T00:00:00.000Z')",
        id(1),
        id(2)
    ))
    .bind(uuid::Uuid::now_v7().to_string())
    .bind(&realm.id)
    .bind(&minted.hash)
    .execute(&mut conn)
    .await
    .unwrap();
    let r = send(
        app.client
            .get(format!("{}/Users", app.base))
            .bearer_auth(&minted.secret),
    )
    .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    assert!(r.body["detail"].as_str().unwrap().contains("scim:all"));
}

async fn several_live_tokens_work_at_once(app: &TestApp) {
    let second = app
        .admin
        .create_token("default", "default", "rotation", None)
        .await
        .unwrap()
        .secret;
    let url = format!("{}/Users", app.base);
    assert_eq!(
        send(app.client.get(&url).bearer_auth(&app.token))
            .await
            .status,
        StatusCode::OK
    );
    assert_eq!(
        send(app.client.get(&url).bearer_auth(&second)).await.status,
        StatusCode::OK
    );
}

async fn paused_realm_is_403_and_keeps_its_data(app: &TestApp) {
    let id = app.user("paused-user").await;
    use scimd::store::RealmState;
    app.admin
        .set_realm_state("default", "default", RealmState::Paused)
        .await
        .unwrap();
    let user_url = format!("{}/Users/{id}", app.base);
    let r = until_status(StatusCode::FORBIDDEN, || {
        app.client.get(&user_url).bearer_auth(&app.token)
    })
    .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    assert!(r.body["detail"].as_str().unwrap().contains("paused"));
    assert_eq!(r.body["status"], "403");
    app.admin
        .set_realm_state("default", "default", RealmState::Disabled)
        .await
        .unwrap();
    let r = until_status(StatusCode::FORBIDDEN, || {
        app.client.get(&user_url).bearer_auth(&app.token)
    })
    .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    app.admin
        .set_realm_state("default", "default", RealmState::Enabled)
        .await
        .unwrap();
    let r = until_status(StatusCode::OK, || {
        app.client.get(&user_url).bearer_auth(&app.token)
    })
    .await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.body["userName"], "paused-user");
}

async fn unknown_tenant_or_realm_is_404(app: &TestApp) {
    for path in [
        "/v1/tenants/nope/realms/default/scim/v2/Users",
        "/v1/tenants/default/realms/nope/scim/v2/Users",
        "/v1/tenants/nope/realms/default/scim/v2/Schemas",
    ] {
        let r = app
            .call(Method::GET, &format!("{}{path}", app.origin), None)
            .await;
        assert_eq!(r.status, StatusCode::NOT_FOUND, "{path}");
        assert_eq!(r.body["status"], "404");
    }
}

async fn last_use_is_recorded_without_a_write_per_request(app: &TestApp) {
    let before = app.admin.list_tokens("default", "default").await.unwrap();
    let t = before.iter().find(|t| t.name == "tests").unwrap();
    assert!(t.last_used_at.is_none());
    assert_eq!(app.get("/Users").await.status, StatusCode::OK);
    // Not written yet: the flush runs on a timer (30 s by default) and at shutdown.
    let mid = app.admin.list_tokens("default", "default").await.unwrap();
    assert!(mid
        .iter()
        .find(|x| x.id == t.id)
        .unwrap()
        .last_used_at
        .is_none());
}

async fn last_use_is_written_at_shutdown(backend: crate::helpers::Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    assert_eq!(app.get("/Users").await.status, StatusCode::OK);
    let (admin, _dir) = app.stop().await;
    let tokens = admin.list_tokens("default", "default").await.unwrap();
    let t = tokens.iter().find(|t| t.name == "tests").unwrap();
    assert!(t.last_used_at.is_some(), "{t:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn last_use_is_written_at_shutdown_sqlite() {
    last_use_is_written_at_shutdown(crate::helpers::Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn last_use_is_written_at_shutdown_postgres() {
    last_use_is_written_at_shutdown(crate::helpers::Backend::Postgres).await;
}

/// Okta, PingFederate and SailPoint offer HTTP Basic: a realm token is the password, under
/// its own name; anything else is a 401 that challenges with Basic.
async fn basic_takes_a_token_as_password_under_its_name(app: &TestApp) {
    let t = app
        .admin
        .create_token("default", "default", "okta-basic", None)
        .await
        .unwrap();
    let url = format!("{}/Users", app.base);
    let basic = |user: &str, pass: &str| app.client.get(&url).basic_auth(user, Some(pass));
    assert_eq!(
        send(basic("okta-basic", &t.secret)).await.status,
        StatusCode::OK
    );
    let created = send(
        app.client
            .post(&url)
            .basic_auth("okta-basic", Some(&t.secret))
            .header("content-type", "application/scim+json")
            .body(json!({"userName": "via-basic"}).to_string()),
    )
    .await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.body);

    let refused = |r: &crate::helpers::Resp, why: &str| {
        assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{why}: {}", r.body);
        assert_eq!(r.body["status"], "401", "{why}");
        let www: Vec<_> = r.headers.get_all("www-authenticate").iter().collect();
        assert_eq!(www.len(), 1, "{why}: {www:?}");
        assert!(
            www[0].to_str().unwrap().starts_with("Basic realm="),
            "{why}: {www:?}"
        );
    };
    // The right password under another token's name (the suite's own token is 'tests').
    refused(&send(basic("tests", &t.secret)).await, "another name");
    refused(
        &send(basic("okta-basic", "scimd_wrong")).await,
        "wrong password",
    );
    refused(&send(basic("okta-basic", "")).await, "empty password");
    refused(
        &send(
            app.client
                .get(&url)
                .header("authorization", "Basic %%%not-base64"),
        )
        .await,
        "not base64",
    );
    // Nothing sent: both schemes are offered, neither with an error code.
    let r = send(app.client.get(&url)).await;
    let www: Vec<_> = r
        .headers
        .get_all("www-authenticate")
        .iter()
        .map(|v| v.to_str().unwrap().to_owned())
        .collect();
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    assert!(www.iter().any(|v| v.starts_with("Bearer")), "{www:?}");
    assert!(www.iter().any(|v| v.starts_with("Basic")), "{www:?}");

    app.admin
        .revoke_token("default", "default", &t.info.id)
        .await
        .unwrap();
    let r = until_status(StatusCode::UNAUTHORIZED, || basic("okta-basic", &t.secret)).await;
    refused(&r, "revoked");
    // The write made over Basic is in the directory, once.
    let users = send(
        app.client
            .get(format!(
                "{}/Users?filter=userName%20eq%20%22via-basic%22",
                app.base
            ))
            .bearer_auth(&app.token),
    )
    .await;
    assert_eq!(users.body["totalResults"], 1, "{}", users.body);
}
