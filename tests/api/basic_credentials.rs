//! HTTP Basic credentials of a realm, black-box: generated and chosen passwords, scopes,
//! expiry, revocation, last use, and the admin API's checks. The older form of Basic (a realm
//! token as the password under its name) is tests/api/auth.rs's.

use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use crate::both_backends;
use crate::helpers::{send, Backend, Resp, TestApp};
use crate::oauth::REALM;

both_backends!(
    a_generated_password_works_once_shown_and_never_again,
    a_chosen_password_is_kept_as_argon2id_and_works,
    scopes_expiry_and_revocation_hold,
    basic_credentials_are_checked_when_created,
    the_older_form_reads_no_basic_credential,
);

fn creds() -> String {
    format!("{REALM}/basic-credentials")
}

async fn create(app: &TestApp, body: Value) -> Resp {
    app.admin_call(Method::POST, &creds(), Some(body)).await
}

async fn with_basic(app: &TestApp, method: Method, user: &str, pass: &str) -> Resp {
    let mut req = app
        .client
        .request(method.clone(), format!("{}/Users", app.base))
        .basic_auth(user, Some(pass));
    if method == Method::POST {
        req = req
            .header("content-type", "application/scim+json")
            .body(json!({"userName": format!("via-{user}")}).to_string());
    }
    send(req).await
}

fn assert_refused(r: &Resp, why: &str) {
    assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{why}: {}", r.body);
    assert_eq!(
        r.body["detail"], "the bearer token is not valid for this realm",
        "{why}: says nothing of which part was wrong"
    );
    assert!(
        r.header("www-authenticate")
            .is_some_and(|w| w.starts_with("Basic realm=")),
        "{why}: {:?}",
        r.headers
    );
}

async fn a_generated_password_works_once_shown_and_never_again(app: &TestApp) {
    let r = create(
        app,
        json!({"username": "okta-provisioning", "description": "Okta"}),
    )
    .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    let id = r.body["id"].as_str().unwrap().to_owned();
    let password = r.body["password"].as_str().unwrap().to_owned();
    assert!(password.starts_with("scimd_basic_") && password.len() > 50);
    assert_eq!(r.body["password_kind"], "generated");
    assert_eq!(r.body["scopes"], json!(["scim:all"]));
    assert_eq!(r.body["status"], "active");
    assert!(r
        .header("location")
        .unwrap()
        .ends_with(&format!("/basic-credentials/{id}")));

    let ok = with_basic(app, Method::POST, "okta-provisioning", &password).await;
    assert_eq!(ok.status, StatusCode::CREATED, "{}", ok.body);
    let ok = with_basic(app, Method::GET, "okta-provisioning", &password).await;
    assert_eq!(ok.status, StatusCode::OK, "{}", ok.body);
    assert_eq!(ok.body["totalResults"], 1);

    // Never shown again: not in the list, not in the credential.
    let one = app
        .admin_call(Method::GET, &format!("{}/{id}", creds()), None)
        .await;
    assert_eq!(one.status, StatusCode::OK);
    assert!(one.body.get("password").is_none(), "{}", one.body);
    let all = app.admin_call(Method::GET, &creds(), None).await;
    assert_eq!(all.body["items"].as_array().unwrap().len(), 1);
    assert!(!all.body.to_string().contains(&password));

    let wrong = format!("{password}x");
    assert_refused(
        &with_basic(app, Method::GET, "okta-provisioning", &wrong).await,
        "wrong password",
    );
    assert_refused(
        &with_basic(app, Method::GET, "Okta-Provisioning", &password).await,
        "the username is exact",
    );
    // A password as a bearer token is nothing.
    let r = send(
        app.client
            .get(format!("{}/Users", app.base))
            .bearer_auth(&password),
    )
    .await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
}

async fn a_chosen_password_is_kept_as_argon2id_and_works(app: &TestApp) {
    let chosen = "correct horse battery staple: 42";
    let r = create(
        app,
        json!({"username": "pingfederate", "password": chosen, "scopes": ["scim:read"]}),
    )
    .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    assert!(
        r.body.get("password").is_none(),
        "a chosen password is not echoed"
    );
    assert_eq!(r.body["password_kind"], "chosen");
    for _ in 0..3 {
        let ok = with_basic(app, Method::GET, "pingfederate", chosen).await;
        assert_eq!(ok.status, StatusCode::OK, "{}", ok.body);
    }
    assert_refused(
        &with_basic(
            app,
            Method::GET,
            "pingfederate",
            "correct horse battery staple: 43",
        )
        .await,
        "a near miss",
    );
}

async fn scopes_expiry_and_revocation_hold(app: &TestApp) {
    let r = create(app, json!({"username": "reader", "scopes": ["scim:read"]})).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    let reader = r.body["password"].as_str().unwrap().to_owned();
    assert_eq!(
        with_basic(app, Method::GET, "reader", &reader).await.status,
        StatusCode::OK
    );
    let w = with_basic(app, Method::POST, "reader", &reader).await;
    assert_eq!(w.status, StatusCode::FORBIDDEN, "{}", w.body);

    // Revoked: refused at once, on the next request.
    let r = create(app, json!({"username": "rotating-out"})).await;
    let id = r.body["id"].as_str().unwrap().to_owned();
    let pass = r.body["password"].as_str().unwrap().to_owned();
    assert_eq!(
        with_basic(app, Method::GET, "rotating-out", &pass)
            .await
            .status,
        StatusCode::OK
    );
    let d = app
        .admin_call(Method::DELETE, &format!("{}/{id}", creds()), None)
        .await;
    assert_eq!(d.status, StatusCode::NO_CONTENT, "{}", d.body);
    assert_refused(
        &with_basic(app, Method::GET, "rotating-out", &pass).await,
        "revoked",
    );
    let again = app
        .admin_call(Method::DELETE, &format!("{}/{id}", creds()), None)
        .await;
    assert_eq!(again.status, StatusCode::NOT_FOUND);

    // Expiry is checked on every request: one in the past cannot be made, one a day away is
    // active.
    let r = create(app, json!({"username": "temporary", "expires_in_days": 1})).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    assert!(r.body["expires_at"].is_string());
    let pass = r.body["password"].as_str().unwrap().to_owned();
    assert_eq!(
        with_basic(app, Method::GET, "temporary", &pass)
            .await
            .status,
        StatusCode::OK
    );
}

/// A realm token as the password under its name is the token path with a name check: it costs
/// what a bearer token costs, and never waits on (or fails with) the Basic credentials' table.
/// The table is taken away to show it is not read; the newer form needs it, and says so.
async fn the_older_form_reads_no_basic_credential(app: &TestApp) {
    let t = app
        .admin
        .create_token("default", "default", "okta-legacy", None)
        .await
        .unwrap();
    let r = create(app, json!({"username": "okta-new"})).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    let newer = r.body["password"].as_str().unwrap().to_owned();
    sqlx::any::install_default_drivers();
    let mut conn = <sqlx::AnyConnection as sqlx::Connection>::connect(&app.database_url)
        .await
        .unwrap();
    sqlx::query("ALTER TABLE basic_credentials RENAME TO basic_credentials_away")
        .execute(&mut conn)
        .await
        .unwrap();
    for _ in 0..3 {
        let r = with_basic(app, Method::GET, "okta-legacy", &t.secret).await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    }
    let r = with_basic(app, Method::POST, "okta-legacy", &t.secret).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    // The token's password under another name is no token's: the newer form is looked up.
    let r = with_basic(app, Method::GET, "okta-new", &newer).await;
    assert!(r.status.is_server_error(), "{}: {}", r.status, r.body);
    assert!(
        !r.body.to_string().contains("basic_credentials"),
        "no internals: {}",
        r.body
    );
    sqlx::query("ALTER TABLE basic_credentials_away RENAME TO basic_credentials")
        .execute(&mut conn)
        .await
        .unwrap();
    let r = with_basic(app, Method::GET, "okta-new", &newer).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
}

async fn basic_credentials_are_checked_when_created(app: &TestApp) {
    let bad = [
        (json!({}), "username"),
        (json!({"username": "a:b"}), "username"),
        (json!({"username": " padded"}), "username"),
        (
            json!({"username": "short-pw", "password": "too short"}),
            "password",
        ),
        (
            json!({"username": "ctl", "password": "sixteen chars\u{7}...."}),
            "password",
        ),
        (json!({"username": "scoped", "scopes": ["admin"]}), "scopes"),
        (
            json!({"username": "past", "expires_at": "2001-01-01T00:00:00Z"}),
            "expires_at",
        ),
        (json!({"username": "x", "id": "mine"}), "id"),
        (json!({"username": "x", "colour": "blue"}), "colour"),
    ];
    for (body, field) in bad {
        let r = create(app, body.clone()).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{body}: {}", r.body);
        let named = r.body["field"] == field
            || r.body["fields"]
                .as_array()
                .is_some_and(|f| f.contains(&json!(field)));
        assert!(named, "{body} names {field}: {}", r.body);
    }
    let first = create(app, json!({"username": "okta"})).await;
    assert_eq!(first.status, StatusCode::CREATED);
    let dup = create(app, json!({"username": "okta"})).await;
    assert_eq!(dup.status, StatusCode::CONFLICT, "{}", dup.body);
    assert_eq!(dup.body["existing_id"], first.body["id"]);
    let missing = app
        .admin_call(
            Method::POST,
            "/v1/tenants/default/realms/nope/basic-credentials",
            Some(json!({"username": "okta"})),
        )
        .await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
    for n in 1..20 {
        let r = create(app, json!({"username": format!("idp-{n}")})).await;
        assert_eq!(r.status, StatusCode::CREATED, "{n}: {}", r.body);
    }
    let over = create(app, json!({"username": "one-too-many"})).await;
    assert_eq!(over.status, StatusCode::CONFLICT, "{}", over.body);
    assert!(over.body["detail"].as_str().unwrap().contains("20"));
    // Nothing refused was kept.
    let all = app.admin_call(Method::GET, &creds(), None).await;
    assert_eq!(all.body["items"].as_array().unwrap().len(), 20);
}

async fn last_use_is_written(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let r = create(&app, json!({"username": "used"})).await;
    let pass = r.body["password"].as_str().unwrap().to_owned();
    create(&app, json!({"username": "unused"})).await;
    assert_eq!(
        with_basic(&app, Method::GET, "used", &pass).await.status,
        StatusCode::OK
    );
    let (admin, _dir) = app.stop().await;
    let all = admin
        .list_basic_credentials(&scimd::service::admin::Actor::cli(), "default", "default")
        .await
        .unwrap();
    let used = all.items.iter().find(|c| c.username == "used").unwrap();
    let unused = all.items.iter().find(|c| c.username == "unused").unwrap();
    assert!(used.last_used_at.is_some(), "{used:?}");
    assert!(unused.last_used_at.is_none(), "{unused:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn last_use_is_written_sqlite() {
    last_use_is_written(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn last_use_is_written_postgres() {
    last_use_is_written(Backend::Postgres).await;
}
