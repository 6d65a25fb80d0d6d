//! The admin API, black-box: tenants, realms, SCIM tokens (shown once, rotation, expiry,
//! revocation, last use), admin tokens and their tenant isolation, the read-only SCIM scope,
//! problem details, and the audit record.

use std::time::Duration;

use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use crate::both_backends;
use crate::helpers::{Backend, Resp, TestApp};

both_backends!(
    tenants_live_a_whole_life,
    realms_live_a_whole_life_and_their_state_reaches_scim,
    deleting_a_realm_with_data_needs_force,
    deleting_a_tenant_with_data_needs_force,
    lists_page_with_a_cursor_and_filter_by_name,
    bad_input_is_refused_by_field_and_changes_nothing,
    a_token_value_is_shown_once_and_works,
    rotation_keeps_both_tokens_for_the_grace_period_then_only_the_new_one,
    a_token_stops_working_when_it_expires,
    a_revoked_token_is_gone,
    token_names_are_unique_among_live_tokens,
    a_read_only_token_is_refused_on_every_write,
    credentials_do_not_cross_between_the_apis,
    a_tenant_admin_sees_nothing_of_other_tenants,
    admin_tokens_live_a_whole_life,
    every_admin_action_is_audited,
    misses_on_the_admin_api_are_problems,
);

const PROBLEM: &str = "application/problem+json";

fn problem(r: &Resp, status: u16, kind: &str) {
    assert_eq!(r.status.as_u16(), status, "{}", r.body);
    assert_eq!(r.header("content-type"), Some(PROBLEM), "{}", r.body);
    assert_eq!(
        r.body["type"],
        format!("urn:scimd:problem:{kind}"),
        "{}",
        r.body
    );
    assert_eq!(r.body["status"], status, "{}", r.body);
    assert!(
        r.body["detail"].as_str().is_some_and(|d| !d.is_empty()),
        "{}",
        r.body
    );
}

fn field_problem(r: &Resp, kind: &str, field: &str) {
    problem(r, 400, kind);
    assert_eq!(r.body["field"], field, "{}", r.body);
}

async fn get(app: &TestApp, path: &str) -> Resp {
    app.admin_call(Method::GET, path, None).await
}

async fn post(app: &TestApp, path: &str, body: Value) -> Resp {
    app.admin_call(Method::POST, path, Some(body)).await
}

async fn patch(app: &TestApp, path: &str, body: Value) -> Resp {
    app.admin_call(Method::PATCH, path, Some(body)).await
}

async fn delete(app: &TestApp, path: &str) -> Resp {
    app.admin_call(Method::DELETE, path, None).await
}

/// A SCIM call to a realm's base with `token`.
async fn scim(
    app: &TestApp,
    token: &str,
    method: Method,
    realm_path: &str,
    path: &str,
    body: Option<Value>,
) -> Resp {
    let url = format!("{}{realm_path}/scim/v2{path}", app.origin);
    let mut req = app.client.request(method, url).bearer_auth(token);
    if let Some(b) = body {
        req = req
            .header("content-type", "application/scim+json")
            .body(b.to_string());
    }
    let resp = req.send().await.unwrap();
    let status = resp.status();
    let headers = resp.headers().clone();
    let text = resp.text().await.unwrap();
    Resp {
        status,
        headers,
        body: serde_json::from_str(&text).unwrap_or(Value::Null),
    }
}

async fn tenant(app: &TestApp, id: &str) {
    let r = post(app, "/v1/tenants", json!({"id": id})).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
}

async fn realm(app: &TestApp, tenant: &str, id: &str) {
    let r = post(
        app,
        &format!("/v1/tenants/{tenant}/realms"),
        json!({"id": id}),
    )
    .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
}

/// A new SCIM token's (id, value).
async fn token(app: &TestApp, realm_path: &str, body: Value) -> (String, String) {
    let r = post(app, &format!("{realm_path}/tokens"), body).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    (
        r.body["id"].as_str().unwrap().to_owned(),
        r.body["token_value"].as_str().unwrap().to_owned(),
    )
}

async fn users(app: &TestApp, token: &str, realm_path: &str) -> StatusCode {
    scim(app, token, Method::GET, realm_path, "/Users", None)
        .await
        .status
}

async fn tenants_live_a_whole_life(app: &TestApp) {
    let r = post(
        app,
        "/v1/tenants",
        json!({"id": "acme", "display_name": "Acme Corp", "description": "the first"}),
    )
    .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    assert_eq!(
        r.header("location"),
        Some(format!("{}/v1/tenants/acme", app.origin).as_str())
    );
    assert_eq!(r.body["id"], "acme");
    assert_eq!(r.body["display_name"], "Acme Corp");
    assert_eq!(r.body["description"], "the first");
    assert!(r.body["created_at"].is_string());

    let again = post(app, "/v1/tenants", json!({"id": "acme"})).await;
    problem(&again, 409, "conflict");
    assert_eq!(again.body["existing_id"], "acme");

    let r = patch(app, "/v1/tenants/acme", json!({"display_name": "Acme Inc"})).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.body["display_name"], "Acme Inc");
    assert_eq!(
        r.body["description"], "the first",
        "unsent fields keep their values"
    );
    let r = get(app, "/v1/tenants/acme").await;
    assert_eq!(r.body["display_name"], "Acme Inc");
    assert_eq!(r.body["id"], "acme", "renaming changes no identifier");

    assert_eq!(
        delete(app, "/v1/tenants/acme").await.status,
        StatusCode::NO_CONTENT
    );
    problem(&get(app, "/v1/tenants/acme").await, 404, "not-found");
    problem(&delete(app, "/v1/tenants/acme").await, 404, "not-found");
    problem(
        &patch(app, "/v1/tenants/acme", json!({"description": "x"})).await,
        404,
        "not-found",
    );
}

async fn realms_live_a_whole_life_and_their_state_reaches_scim(app: &TestApp) {
    tenant(app, "acme").await;
    let r = post(
        app,
        "/v1/tenants/acme/realms",
        json!({"id": "prod", "display_name": "Production"}),
    )
    .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    assert_eq!(
        r.header("location"),
        Some(format!("{}/v1/tenants/acme/realms/prod", app.origin).as_str())
    );
    assert_eq!(r.body["state"], "enabled");
    assert_eq!(r.body["tenant_id"], "acme");
    let base = format!("{}/v1/tenants/acme/realms/prod/scim/v2", app.origin);
    assert_eq!(r.body["scim_base_url"], base);
    assert_eq!(r.body["users"], 0);

    let again = post(app, "/v1/tenants/acme/realms", json!({"id": "prod"})).await;
    problem(&again, 409, "conflict");
    assert_eq!(again.body["existing_id"], "prod");
    problem(
        &post(app, "/v1/tenants/nobody/realms", json!({"id": "prod"})).await,
        404,
        "not-found",
    );

    let path = "/v1/tenants/acme/realms/prod";
    let (_, secret) = token(app, path, json!({"name": "okta"})).await;
    let created = scim(
        app,
        &secret,
        Method::POST,
        path,
        "/Users",
        Some(json!({"userName": "ann"})),
    )
    .await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.body);
    assert_eq!(get(app, path).await.body["users"], 1);

    for state in ["paused", "disabled"] {
        let r = patch(app, path, json!({"state": state})).await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.body);
        assert_eq!(r.body["state"], state);
        assert_eq!(r.body["display_name"], "Production");
        assert_eq!(
            users(app, &secret, path).await,
            StatusCode::FORBIDDEN,
            "{state}"
        );
    }
    patch(app, path, json!({"state": "enabled"})).await;
    assert_eq!(users(app, &secret, path).await, StatusCode::OK);
    assert_eq!(
        get(app, path).await.body["users"],
        1,
        "pausing kept the data"
    );

    let listed = get(app, "/v1/tenants/acme/realms").await;
    assert_eq!(listed.status, StatusCode::OK, "{}", listed.body);
    let ids: Vec<&str> = listed.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["prod"]);
}

async fn deleting_a_realm_with_data_needs_force(app: &TestApp) {
    tenant(app, "acme").await;
    realm(app, "acme", "prod").await;
    let path = "/v1/tenants/acme/realms/prod";
    let (_, secret) = token(app, path, json!({"name": "okta"})).await;
    for name in ["ann", "bob"] {
        let r = scim(
            app,
            &secret,
            Method::POST,
            path,
            "/Users",
            Some(json!({"userName": name})),
        )
        .await;
        assert_eq!(r.status, StatusCode::CREATED);
    }
    let refused = delete(app, path).await;
    problem(&refused, 409, "not-empty");
    assert!(
        refused.body["detail"].as_str().unwrap().contains('2'),
        "{}",
        refused.body
    );
    assert_eq!(
        get(app, path).await.body["users"],
        2,
        "the refusal changed nothing"
    );
    assert_eq!(users(app, &secret, path).await, StatusCode::OK);

    field_problem(
        &delete(app, &format!("{path}?force=yes")).await,
        "invalid-field",
        "force",
    );
    field_problem(
        &delete(app, &format!("{path}?forse=true")).await,
        "invalid-field",
        "forse",
    );
    assert_eq!(
        delete(app, &format!("{path}?force=true")).await.status,
        StatusCode::NO_CONTENT
    );
    problem(&get(app, path).await, 404, "not-found");
    assert_eq!(users(app, &secret, path).await, StatusCode::NOT_FOUND);
    // The id is free again, and the new realm starts empty.
    realm(app, "acme", "prod").await;
    assert_eq!(get(app, path).await.body["users"], 0);
}

async fn deleting_a_tenant_with_data_needs_force(app: &TestApp) {
    tenant(app, "acme").await;
    realm(app, "acme", "prod").await;
    let path = "/v1/tenants/acme/realms/prod";
    let (_, secret) = token(app, path, json!({"name": "okta"})).await;
    let r = scim(
        app,
        &secret,
        Method::POST,
        path,
        "/Groups",
        Some(json!({"displayName": "eng"})),
    )
    .await;
    assert_eq!(r.status, StatusCode::CREATED);
    problem(&delete(app, "/v1/tenants/acme").await, 409, "not-empty");
    assert_eq!(get(app, path).await.body["groups"], 1);
    assert_eq!(
        delete(app, "/v1/tenants/acme?force=true").await.status,
        StatusCode::NO_CONTENT
    );
    problem(&get(app, "/v1/tenants/acme").await, 404, "not-found");
    assert_eq!(
        users(app, &secret, path).await,
        StatusCode::NOT_FOUND,
        "its tokens went with it"
    );
}

async fn lists_page_with_a_cursor_and_filter_by_name(app: &TestApp) {
    for id in ["t-c", "t-a", "t-b"] {
        tenant(app, id).await;
    }
    let mut seen = Vec::new();
    let mut next = Some(String::new());
    let mut pages = 0;
    while let Some(cursor) = next {
        let q = if cursor.is_empty() {
            "/v1/tenants?limit=2".to_owned()
        } else {
            format!("/v1/tenants?limit=2&cursor={cursor}")
        };
        let r = get(app, &q).await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.body);
        let items = r.body["items"].as_array().unwrap();
        assert!(items.len() <= 2);
        seen.extend(items.iter().map(|t| t["id"].as_str().unwrap().to_owned()));
        next = r.body["next_cursor"].as_str().map(str::to_owned);
        pages += 1;
        assert!(pages < 10, "paging ends");
    }
    // The default tenant the harness made is there too, in id order.
    assert_eq!(seen, ["default", "t-a", "t-b", "t-c"]);

    let r = get(app, "/v1/tenants?name=t-b").await;
    let ids: Vec<&str> = r.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["t-b"]);
    assert!(r.body["next_cursor"].is_null());

    let path = "/v1/tenants/default/realms/default";
    for n in ["one", "two", "three"] {
        token(app, path, json!({"name": n})).await;
    }
    let r = get(app, &format!("{path}/tokens?name=two")).await;
    let items = r.body["items"].as_array().unwrap();
    assert_eq!(items.len(), 1, "{}", r.body);
    assert_eq!(items[0]["name"], "two");

    field_problem(
        &get(app, "/v1/tenants?limit=0").await,
        "invalid-field",
        "limit",
    );
    field_problem(
        &get(app, "/v1/tenants?limit=201").await,
        "invalid-field",
        "limit",
    );
    field_problem(
        &get(app, "/v1/tenants?limit=ten").await,
        "invalid-field",
        "limit",
    );
    field_problem(
        &get(app, "/v1/tenants?cursor=%%%").await,
        "invalid-field",
        "cursor",
    );
    field_problem(
        &get(app, "/v1/tenants?sort=id").await,
        "invalid-field",
        "sort",
    );
}

async fn bad_input_is_refused_by_field_and_changes_nothing(app: &TestApp) {
    tenant(app, "acme").await;
    realm(app, "acme", "prod").await;
    let path = "/v1/tenants/acme/realms/prod";
    let (id, _) = token(app, path, json!({"name": "okta"})).await;
    let long = "x".repeat(201);
    let cases: Vec<(&str, String, Value, &str, &str)> = vec![
        (
            "POST",
            "/v1/tenants".into(),
            json!({"id": "ok", "colour": "red"}),
            "unknown-field",
            "colour",
        ),
        (
            "POST",
            "/v1/tenants".into(),
            json!({"id": "Acme"}),
            "invalid-field",
            "id",
        ),
        (
            "POST",
            "/v1/tenants".into(),
            json!({"id": "a_b"}),
            "invalid-field",
            "id",
        ),
        (
            "POST",
            "/v1/tenants".into(),
            json!({"id": ""}),
            "invalid-field",
            "id",
        ),
        (
            "POST",
            "/v1/tenants".into(),
            json!({"id": "-a"}),
            "invalid-field",
            "id",
        ),
        (
            "POST",
            "/v1/tenants".into(),
            json!({"id": "a".repeat(64)}),
            "invalid-field",
            "id",
        ),
        (
            "POST",
            "/v1/tenants".into(),
            json!({"display_name": "x"}),
            "invalid-field",
            "id",
        ),
        (
            "POST",
            "/v1/tenants".into(),
            json!({"id": "ok", "display_name": long}),
            "invalid-field",
            "display_name",
        ),
        (
            "POST",
            "/v1/tenants".into(),
            json!({"id": "ok", "display_name": 7}),
            "invalid-field",
            "display_name",
        ),
        (
            "POST",
            "/v1/tenants".into(),
            json!({"id": "ok", "created_at": "2020-01-01T00:00:00Z"}),
            "unknown-field",
            "created_at",
        ),
        (
            "PATCH",
            "/v1/tenants/acme".into(),
            json!({"id": "other"}),
            "unknown-field",
            "id",
        ),
        (
            "PATCH",
            path.to_string(),
            json!({"state": "frozen"}),
            "invalid-field",
            "state",
        ),
        (
            "PATCH",
            path.to_string(),
            json!({"display_name": ""}),
            "invalid-field",
            "display_name",
        ),
        (
            "POST",
            format!("{path}/tokens"),
            json!({}),
            "invalid-field",
            "name",
        ),
        (
            "POST",
            format!("{path}/tokens"),
            json!({"name": ""}),
            "invalid-field",
            "name",
        ),
        (
            "POST",
            format!("{path}/tokens"),
            json!({"name": "x".repeat(101)}),
            "invalid-field",
            "name",
        ),
        (
            "POST",
            format!("{path}/tokens"),
            json!({"name": "n", "expires_in_days": 0}),
            "invalid-field",
            "expires_in_days",
        ),
        (
            "POST",
            format!("{path}/tokens"),
            json!({"name": "n", "expires_in_days": -3}),
            "invalid-field",
            "expires_in_days",
        ),
        (
            "POST",
            format!("{path}/tokens"),
            json!({"name": "n", "expires_in_days": 3651}),
            "invalid-field",
            "expires_in_days",
        ),
        (
            "POST",
            format!("{path}/tokens"),
            json!({"name": "n", "expires_at": "2001-01-01T00:00:00Z"}),
            "invalid-field",
            "expires_at",
        ),
        (
            "POST",
            format!("{path}/tokens"),
            json!({"name": "n", "expires_at": "tomorrow"}),
            "invalid-field",
            "expires_at",
        ),
        (
            "POST",
            format!("{path}/tokens"),
            json!({"name": "n", "scopes": ["scim:write"]}),
            "invalid-field",
            "scopes",
        ),
        (
            "POST",
            format!("{path}/tokens"),
            json!({"name": "n", "scopes": []}),
            "invalid-field",
            "scopes",
        ),
        (
            "POST",
            format!("{path}/tokens"),
            json!({"name": "n", "token_value": "mine"}),
            "unknown-field",
            "token_value",
        ),
        (
            "POST",
            format!("{path}/tokens/{id}/rotate"),
            json!({"grace_period_seconds": 2_592_001}),
            "invalid-field",
            "grace_period_seconds",
        ),
        (
            "POST",
            format!("{path}/tokens/{id}/rotate"),
            json!({"grace_period_seconds": -1}),
            "invalid-field",
            "grace_period_seconds",
        ),
        (
            "POST",
            "/v1/admin-tokens".into(),
            json!({"name": "n", "scopes": ["root"]}),
            "invalid-field",
            "scopes",
        ),
    ];
    let before = snapshot(app, path).await;
    for (method, url, body, kind, field) in cases {
        let m = Method::from_bytes(method.as_bytes()).unwrap();
        let r = app.admin_call(m, &url, Some(body.clone())).await;
        assert_eq!(
            r.status,
            StatusCode::BAD_REQUEST,
            "{method} {url} {body}: {}",
            r.body
        );
        assert_eq!(r.header("content-type"), Some(PROBLEM));
        assert_eq!(
            r.body["type"],
            format!("urn:scimd:problem:{kind}"),
            "{body}: {}",
            r.body
        );
        assert_eq!(r.body["field"], field, "{method} {url} {body}: {}", r.body);
    }
    // Bodies that are not JSON objects at all.
    for raw in ["not json", "[1, 2]", "\"acme\"", ""] {
        let r = app
            .client
            .post(format!("{}/v1/tenants", app.origin))
            .bearer_auth(&app.admin_token)
            .header("content-type", "application/json")
            .body(raw)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::BAD_REQUEST, "{raw:?}");
        assert_eq!(r.headers().get("content-type").unwrap(), PROBLEM, "{raw:?}");
    }
    assert_eq!(
        snapshot(app, path).await,
        before,
        "no refused call changed anything"
    );
}

/// Everything a refused call could have touched.
async fn snapshot(app: &TestApp, realm_path: &str) -> Vec<Value> {
    let mut out = Vec::new();
    for p in [
        "/v1/tenants".to_owned(),
        "/v1/tenants/acme/realms".to_owned(),
        format!("{realm_path}/tokens"),
        "/v1/admin-tokens".to_owned(),
    ] {
        let mut body = get(app, &p).await.body;
        // Admin tokens' last use moves with every call; it is not what is compared.
        if let Some(items) = body["items"].as_array_mut() {
            for i in items {
                i.as_object_mut().unwrap().remove("last_used_at");
            }
        }
        out.push(body);
    }
    out
}

async fn a_token_value_is_shown_once_and_works(app: &TestApp) {
    let path = "/v1/tenants/default/realms/default";
    let r = post(
        app,
        &format!("{path}/tokens"),
        json!({"name": "okta", "description": "Okta production", "expires_in_days": 30}),
    )
    .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    let id = r.body["id"].as_str().unwrap().to_owned();
    assert_eq!(
        r.header("location"),
        Some(format!("{}{path}/tokens/{id}", app.origin).as_str())
    );
    let secret = r.body["token_value"].as_str().unwrap().to_owned();
    assert_eq!(r.body["scopes"], json!(["scim:all"]));
    assert_eq!(r.body["status"], "active");
    assert_eq!(r.body["description"], "Okta production");
    assert!(r.body["created_by"]
        .as_str()
        .unwrap()
        .starts_with("admin-token:"));
    assert!(r.body["expires_at"].is_string());
    assert!(r.body["last_used_at"].is_null());

    let read = get(app, &format!("{path}/tokens/{id}")).await;
    assert_eq!(read.status, StatusCode::OK);
    assert!(read.body.get("token_value").is_none(), "{}", read.body);
    let text = read.body.to_string();
    assert!(
        !text.contains(&secret),
        "the secret is never returned again"
    );
    let listed = get(app, &format!("{path}/tokens")).await;
    assert!(!listed.body.to_string().contains(&secret));
    assert!(listed.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .all(|t| t.get("token_value").is_none()));

    assert_eq!(users(app, &secret, path).await, StatusCode::OK);

    let r = patch(
        app,
        &format!("{path}/tokens/{id}"),
        json!({"name": "okta-prod", "description": "renamed"}),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.body["name"], "okta-prod");
    assert!(r.body.get("token_value").is_none());
    assert_eq!(
        users(app, &secret, path).await,
        StatusCode::OK,
        "renaming keeps it working"
    );
}

macro_rules! both_backends_flushing {
    ($name:ident) => {
        mod $name {
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                super::$name(crate::helpers::Backend::Sqlite).await;
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                super::$name(crate::helpers::Backend::Postgres).await;
            }
        }
    };
}

both_backends_flushing!(a_token_use_shows_as_last_used);

async fn a_token_use_shows_as_last_used(backend: Backend) {
    let Some(app) = TestApp::spawn_with(backend, |c| c.token_usage_flush_seconds = 1).await else {
        return;
    };
    let path = "/v1/tenants/default/realms/default";
    let (id, secret) = token(&app, path, json!({"name": "reader"})).await;
    assert!(get(&app, &format!("{path}/tokens/{id}")).await.body["last_used_at"].is_null());
    assert_eq!(users(&app, &secret, path).await, StatusCode::OK);
    // Uses are written in batches every `token_usage_flush_seconds`; wait for the batch.
    let mut last_used = Value::Null;
    for _ in 0..100 {
        last_used = get(&app, &format!("{path}/tokens/{id}")).await.body["last_used_at"].clone();
        if last_used.is_string() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(last_used.is_string(), "last_used_at was never written");
    app.stop().await;
}

async fn rotation_keeps_both_tokens_for_the_grace_period_then_only_the_new_one(app: &TestApp) {
    let path = "/v1/tenants/default/realms/default";
    let (old_id, old) = token(
        app,
        path,
        json!({"name": "entra", "description": "Entra", "scopes": ["scim:read"]}),
    )
    .await;
    let r = post(
        app,
        &format!("{path}/tokens/{old_id}/rotate"),
        json!({"grace_period_seconds": 3600}),
    )
    .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    let new_id = r.body["id"].as_str().unwrap().to_owned();
    let new = r.body["token_value"].as_str().unwrap().to_owned();
    assert_ne!(new_id, old_id);
    assert_ne!(new, old);
    assert_eq!(r.body["name"], "entra");
    assert_eq!(r.body["description"], "Entra");
    assert_eq!(r.body["scopes"], json!(["scim:read"]));
    assert_eq!(r.body["status"], "active");
    assert_eq!(
        r.header("location"),
        Some(format!("{}{path}/tokens/{new_id}", app.origin).as_str())
    );

    let old_view = get(app, &format!("{path}/tokens/{old_id}")).await.body;
    assert_eq!(old_view["status"], "rotating");
    assert_eq!(old_view["replaced_by"], new_id.as_str());
    assert_eq!(
        users(app, &old, path).await,
        StatusCode::OK,
        "old works in grace"
    );
    assert_eq!(
        users(app, &new, path).await,
        StatusCode::OK,
        "new works at once"
    );

    let twice = post(app, &format!("{path}/tokens/{old_id}/rotate"), json!({})).await;
    problem(&twice, 409, "conflict");
    assert_eq!(twice.body["existing_id"], new_id.as_str());

    app.clock.advance(chrono::TimeDelta::seconds(3599));
    assert_eq!(
        users(app, &old, path).await,
        StatusCode::OK,
        "still in grace"
    );
    app.clock.advance(chrono::TimeDelta::seconds(2));
    assert_eq!(
        users(app, &old, path).await,
        StatusCode::UNAUTHORIZED,
        "grace is over"
    );
    assert_eq!(users(app, &new, path).await, StatusCode::OK);
    assert_eq!(
        get(app, &format!("{path}/tokens/{old_id}")).await.body["status"],
        "expired"
    );

    // A rotation without a body takes the default grace period: a day.
    let r = app
        .admin_call(
            Method::POST,
            &format!("{path}/tokens/{new_id}/rotate"),
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    let newer = r.body["token_value"].as_str().unwrap().to_owned();
    app.clock.advance(chrono::TimeDelta::seconds(86_400 - 10));
    assert_eq!(users(app, &new, path).await, StatusCode::OK);
    app.clock.advance(chrono::TimeDelta::seconds(20));
    assert_eq!(users(app, &new, path).await, StatusCode::UNAUTHORIZED);
    assert_eq!(users(app, &newer, path).await, StatusCode::OK);
}

async fn a_token_stops_working_when_it_expires(app: &TestApp) {
    let path = "/v1/tenants/default/realms/default";
    let (id, secret) = token(app, path, json!({"name": "short", "expires_in_days": 1})).await;
    let (_, forever) = token(app, path, json!({"name": "forever"})).await;
    assert_eq!(users(app, &secret, path).await, StatusCode::OK);
    app.clock.advance(chrono::TimeDelta::seconds(86_400 - 5));
    assert_eq!(users(app, &secret, path).await, StatusCode::OK);
    app.clock.advance(chrono::TimeDelta::seconds(10));
    let r = scim(app, &secret, Method::GET, path, "/Users", None).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    assert_eq!(
        r.body["detail"], "the bearer token is not valid for this realm",
        "{}",
        r.body
    );
    assert_eq!(
        get(app, &format!("{path}/tokens/{id}")).await.body["status"],
        "expired"
    );
    app.clock.advance(chrono::TimeDelta::seconds(3650 * 86_400));
    assert_eq!(
        users(app, &forever, path).await,
        StatusCode::OK,
        "no expiry means none"
    );
}

async fn a_revoked_token_is_gone(app: &TestApp) {
    let path = "/v1/tenants/default/realms/default";
    let (id, secret) = token(app, path, json!({"name": "temp"})).await;
    assert_eq!(users(app, &secret, path).await, StatusCode::OK);
    let item = format!("{path}/tokens/{id}");
    assert_eq!(delete(app, &item).await.status, StatusCode::NO_CONTENT);
    assert_eq!(
        users(app, &secret, path).await,
        StatusCode::UNAUTHORIZED,
        "at once"
    );
    problem(&get(app, &item).await, 404, "not-found");
    problem(&delete(app, &item).await, 404, "not-found");
    problem(
        &patch(app, &item, json!({"description": "x"})).await,
        404,
        "not-found",
    );
    problem(
        &post(app, &format!("{item}/rotate"), json!({})).await,
        404,
        "not-found",
    );
    assert_eq!(
        users(app, &app.token, path).await,
        StatusCode::OK,
        "others unaffected"
    );
}

async fn token_names_are_unique_among_live_tokens(app: &TestApp) {
    let path = "/v1/tenants/default/realms/default";
    let (id, _) = token(app, path, json!({"name": "okta"})).await;
    let dup = post(app, &format!("{path}/tokens"), json!({"name": "okta"})).await;
    problem(&dup, 409, "conflict");
    assert_eq!(dup.body["existing_id"], id.as_str());
    let (other, _) = token(app, path, json!({"name": "jumpcloud"})).await;
    let rename = patch(
        app,
        &format!("{path}/tokens/{other}"),
        json!({"name": "okta"}),
    )
    .await;
    problem(&rename, 409, "conflict");
    // A revoked token's name is free again.
    delete(app, &format!("{path}/tokens/{id}")).await;
    token(app, path, json!({"name": "okta"})).await;
    // The same name in another realm is another scope.
    realm(app, "default", "second").await;
    token(
        app,
        "/v1/tenants/default/realms/second",
        json!({"name": "okta"}),
    )
    .await;
}

async fn a_read_only_token_is_refused_on_every_write(app: &TestApp) {
    let path = "/v1/tenants/default/realms/default";
    let uid = app.user("ann").await;
    let gid = app.group("eng", &[&uid]).await;
    let (_, reader) = token(app, path, json!({"name": "app", "scopes": ["scim:read"]})).await;
    for p in [
        "/Users".to_owned(),
        format!("/Users/{uid}"),
        format!("/Groups/{gid}"),
        "/ServiceProviderConfig".to_owned(),
        "/Schemas".to_owned(),
    ] {
        assert_eq!(
            scim(app, &reader, Method::GET, path, &p, None).await.status,
            StatusCode::OK,
            "{p}"
        );
    }
    let search = scim(
        app,
        &reader,
        Method::POST,
        path,
        "/Users/.search",
        Some(json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:SearchRequest"], "filter": "userName eq \"ann\""})),
    )
    .await;
    assert_eq!(search.status, StatusCode::OK, "{}", search.body);
    assert_eq!(search.body["totalResults"], 1);

    let patch_op = json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
        "Operations": [{"op": "replace", "path": "displayName", "value": "x"}]});
    let writes = [
        (
            Method::POST,
            "/Users".to_owned(),
            Some(json!({"userName": "bob"})),
        ),
        (
            Method::PUT,
            format!("/Users/{uid}"),
            Some(json!({"userName": "ann"})),
        ),
        (
            Method::PATCH,
            format!("/Users/{uid}"),
            Some(patch_op.clone()),
        ),
        (Method::DELETE, format!("/Users/{uid}"), None),
        (
            Method::POST,
            "/Groups".to_owned(),
            Some(json!({"displayName": "ops"})),
        ),
        (
            Method::PUT,
            format!("/Groups/{gid}"),
            Some(json!({"displayName": "eng"})),
        ),
        (Method::PATCH, format!("/Groups/{gid}"), Some(patch_op)),
        (Method::DELETE, format!("/Groups/{gid}"), None),
    ];
    for (m, p, body) in writes {
        let r = scim(app, &reader, m.clone(), path, &p, body).await;
        assert_eq!(r.status, StatusCode::FORBIDDEN, "{m} {p}: {}", r.body);
        let www = r.header("www-authenticate").unwrap_or_default();
        assert!(
            www.contains("error=\"insufficient_scope\""),
            "{m} {p}: {www}"
        );
        assert!(www.contains("scope=\"scim:all\""), "{m} {p}: {www}");
        assert_eq!(
            r.body["schemas"][0], "urn:ietf:params:scim:api:messages:2.0:Error",
            "{}",
            r.body
        );
    }
    // Nothing was written.
    let u = scim(
        app,
        &app.token,
        Method::GET,
        path,
        &format!("/Users/{uid}"),
        None,
    )
    .await;
    assert_eq!(u.status, StatusCode::OK);
    let g = scim(
        app,
        &app.token,
        Method::GET,
        path,
        &format!("/Groups/{gid}"),
        None,
    )
    .await;
    assert_eq!(g.body["displayName"], "eng");
    let all = scim(app, &app.token, Method::GET, path, "/Users", None).await;
    assert_eq!(all.body["totalResults"], 1);
}

async fn credentials_do_not_cross_between_the_apis(app: &TestApp) {
    let path = "/v1/tenants/default/realms/default";
    // No token, a SCIM token, garbage: 401 on the admin API.
    for t in ["", app.token.as_str(), "scimd_admin_not-a-real-one"] {
        let r = app.admin_as(t, Method::GET, "/v1/tenants", None).await;
        problem(&r, 401, "unauthorized");
        assert!(r.header("www-authenticate").is_some());
    }
    // An admin token on SCIM data: 403, unless it carries a SCIM scope.
    let r = scim(app, &app.admin_token, Method::GET, path, "/Users", None).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.body);
    let c = post(
        app,
        "/v1/admin-tokens",
        json!({"name": "both", "scopes": ["admin", "scim:read"]}),
    )
    .await;
    assert_eq!(c.status, StatusCode::CREATED, "{}", c.body);
    let both = c.body["token_value"].as_str().unwrap().to_owned();
    assert!(both.starts_with("scimd_admin_"));
    assert_eq!(users(app, &both, path).await, StatusCode::OK);
    let w = scim(
        app,
        &both,
        Method::POST,
        path,
        "/Users",
        Some(json!({"userName": "x"})),
    )
    .await;
    assert_eq!(w.status, StatusCode::FORBIDDEN, "scim:read stays read-only");
    assert_eq!(
        app.admin_as(&both, Method::GET, "/v1/tenants", None)
            .await
            .status,
        StatusCode::OK
    );
    // A revoked admin token stops at once.
    let id = c.body["id"].as_str().unwrap();
    assert_eq!(
        delete(app, &format!("/v1/admin-tokens/{id}")).await.status,
        StatusCode::NO_CONTENT
    );
    problem(
        &app.admin_as(&both, Method::GET, "/v1/tenants", None).await,
        401,
        "unauthorized",
    );
    assert_eq!(users(app, &both, path).await, StatusCode::UNAUTHORIZED);
}

async fn a_tenant_admin_sees_nothing_of_other_tenants(app: &TestApp) {
    for t in ["mine", "theirs"] {
        tenant(app, t).await;
        realm(app, t, "prod").await;
    }
    let (their_token, their_secret) = token(
        app,
        "/v1/tenants/theirs/realms/prod",
        json!({"name": "okta"}),
    )
    .await;
    let their_admin = post(
        app,
        "/v1/tenants/theirs/admin-tokens",
        json!({"name": "ops"}),
    )
    .await;
    let their_admin = their_admin.body["id"].as_str().unwrap().to_owned();
    let mine = post(app, "/v1/tenants/mine/admin-tokens", json!({"name": "ops"})).await;
    assert_eq!(mine.status, StatusCode::CREATED, "{}", mine.body);
    assert_eq!(mine.body["tenant_id"], "mine");
    let me = mine.body["token_value"].as_str().unwrap().to_owned();

    // Its own tenant: everything works.
    let r = app.admin_as(&me, Method::GET, "/v1/tenants", None).await;
    let ids: Vec<&str> = r.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["mine"], "the list shows only its own tenant");
    let r = app
        .admin_as(
            &me,
            Method::POST,
            "/v1/tenants/mine/realms",
            Some(json!({"id": "dev"})),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    let r = app
        .admin_as(
            &me,
            Method::POST,
            "/v1/tenants/mine/realms/dev/tokens",
            Some(json!({"name": "idp"})),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);

    let before = tenant_state(app, "theirs").await;
    let t = "/v1/tenants/theirs";
    let r = "/v1/tenants/theirs/realms/prod";
    let k = format!("{r}/tokens/{their_token}");
    let a = format!("{t}/admin-tokens/{their_admin}");
    let body = Some(json!({"description": "mine now"}));
    let matrix: Vec<(Method, String, Option<Value>)> = vec![
        (Method::GET, t.into(), None),
        (Method::PATCH, t.into(), body.clone()),
        (Method::DELETE, t.into(), None),
        (Method::DELETE, format!("{t}?force=true"), None),
        (Method::GET, format!("{t}/realms"), None),
        (
            Method::POST,
            format!("{t}/realms"),
            Some(json!({"id": "x"})),
        ),
        (Method::GET, r.into(), None),
        (Method::PATCH, r.into(), Some(json!({"state": "disabled"}))),
        (Method::DELETE, format!("{r}?force=true"), None),
        (Method::GET, format!("{r}/tokens"), None),
        (
            Method::POST,
            format!("{r}/tokens"),
            Some(json!({"name": "x"})),
        ),
        (Method::GET, k.clone(), None),
        (Method::PATCH, k.clone(), Some(json!({"name": "x"}))),
        (Method::DELETE, k.clone(), None),
        (Method::POST, format!("{k}/rotate"), Some(json!({}))),
        (Method::GET, format!("{t}/admin-tokens"), None),
        (
            Method::POST,
            format!("{t}/admin-tokens"),
            Some(json!({"name": "x"})),
        ),
        (Method::GET, a.clone(), None),
        (Method::DELETE, a.clone(), None),
        (Method::GET, format!("{t}/audit"), None),
        // A tenant that does not exist looks exactly the same.
        (Method::GET, "/v1/tenants/nowhere".into(), None),
        (Method::GET, "/v1/tenants/nowhere/realms".into(), None),
    ];
    let mut bodies = Vec::new();
    for (m, p, b) in matrix {
        let resp = app.admin_as(&me, m.clone(), &p, b).await;
        problem(&resp, 404, "not-found");
        bodies.push(resp.body["detail"].as_str().unwrap().to_owned());
    }
    // Global calls are refused outright.
    for (m, p, b) in [
        (Method::POST, "/v1/tenants", Some(json!({"id": "new"}))),
        (Method::GET, "/v1/admin-tokens", None),
        (Method::POST, "/v1/admin-tokens", Some(json!({"name": "x"}))),
        (Method::GET, "/v1/audit", None),
    ] {
        problem(&app.admin_as(&me, m, p, b).await, 403, "forbidden");
    }
    problem(
        &app.admin_as(&me, Method::DELETE, "/v1/tenants/mine", None)
            .await,
        403,
        "forbidden",
    );
    assert_eq!(
        tenant_state(app, "theirs").await,
        before,
        "nothing of theirs changed"
    );
    assert_eq!(
        users(app, &their_secret, "/v1/tenants/theirs/realms/prod").await,
        StatusCode::OK
    );
    problem(&get(app, "/v1/tenants/new").await, 404, "not-found");
}

/// What another tenant's admin could have changed, as a global admin reads it.
async fn tenant_state(app: &TestApp, tenant: &str) -> Vec<Value> {
    let mut out = Vec::new();
    for p in [
        format!("/v1/tenants/{tenant}"),
        format!("/v1/tenants/{tenant}/realms"),
        format!("/v1/tenants/{tenant}/realms/prod/tokens"),
        format!("/v1/tenants/{tenant}/admin-tokens"),
        format!("/v1/tenants/{tenant}/audit"),
    ] {
        let r = get(app, &p).await;
        assert_eq!(r.status, StatusCode::OK, "{p}: {}", r.body);
        out.push(r.body);
    }
    out
}

async fn admin_tokens_live_a_whole_life(app: &TestApp) {
    let r = post(
        app,
        "/v1/admin-tokens",
        json!({"name": "ci", "description": "pipeline", "expires_in_days": 2}),
    )
    .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    let id = r.body["id"].as_str().unwrap().to_owned();
    assert_eq!(
        r.header("location"),
        Some(format!("{}/v1/admin-tokens/{id}", app.origin).as_str())
    );
    assert_eq!(r.body["scopes"], json!(["admin"]));
    assert!(r.body["tenant_id"].is_null());
    let secret = r.body["token_value"].as_str().unwrap().to_owned();
    assert!(secret.starts_with("scimd_admin_"));

    let read = get(app, &format!("/v1/admin-tokens/{id}")).await;
    assert_eq!(read.status, StatusCode::OK);
    assert!(read.body.get("token_value").is_none());
    assert!(!get(app, "/v1/admin-tokens")
        .await
        .body
        .to_string()
        .contains(&secret));

    // It works as a global admin until it expires.
    let mk = app
        .admin_as(
            &secret,
            Method::POST,
            "/v1/tenants",
            Some(json!({"id": "by-ci"})),
        )
        .await;
    assert_eq!(mk.status, StatusCode::CREATED, "{}", mk.body);
    app.clock
        .advance(chrono::TimeDelta::seconds(2 * 86_400 + 1));
    let r = app
        .admin_as(&secret, Method::GET, "/v1/tenants", None)
        .await;
    problem(&r, 401, "unauthorized");
    assert!(r.body["detail"].as_str().unwrap().contains("expired"));
    assert_eq!(
        get(app, &format!("/v1/admin-tokens/{id}")).await.body["status"],
        "expired"
    );

    assert_eq!(
        delete(app, &format!("/v1/admin-tokens/{id}")).await.status,
        StatusCode::NO_CONTENT
    );
    problem(
        &get(app, &format!("/v1/admin-tokens/{id}")).await,
        404,
        "not-found",
    );
    problem(
        &delete(app, &format!("/v1/admin-tokens/{id}")).await,
        404,
        "not-found",
    );

    // A tenant's token is not reachable as a global one, nor the other way round.
    tenant(app, "acme").await;
    let t = post(app, "/v1/tenants/acme/admin-tokens", json!({"name": "ops"})).await;
    let tid = t.body["id"].as_str().unwrap();
    problem(
        &get(app, &format!("/v1/admin-tokens/{tid}")).await,
        404,
        "not-found",
    );
    assert_eq!(
        get(app, &format!("/v1/tenants/acme/admin-tokens/{tid}"))
            .await
            .status,
        StatusCode::OK
    );
}

async fn every_admin_action_is_audited(app: &TestApp) {
    tenant(app, "acme").await;
    realm(app, "acme", "prod").await;
    let path = "/v1/tenants/acme/realms/prod";
    let (id, secret) = token(app, path, json!({"name": "okta"})).await;
    patch(app, path, json!({"state": "paused"})).await;
    post(app, &format!("{path}/tokens/{id}/rotate"), json!({})).await;
    delete(app, &format!("{path}/tokens/{id}")).await;
    // A refused call is not an action.
    post(app, &format!("{path}/tokens"), json!({"name": ""})).await;

    let r = get(app, "/v1/tenants/acme/audit").await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let events = r.body["items"].as_array().unwrap();
    let actions: Vec<&str> = events
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    assert_eq!(
        actions,
        [
            "token.revoke",
            "token.rotate",
            "realm.update",
            "token.create",
            "realm.create",
            "tenant.create"
        ],
        "newest first"
    );
    let me = get(app, "/v1/admin-tokens").await.body["items"][0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    for e in events {
        assert_eq!(e["actor"], format!("admin-token:{me}"), "{e}");
        assert_eq!(e["address"], "127.0.0.1", "{e}");
        assert!(e["at"].is_string());
        assert!(
            e["target"].as_str().unwrap().starts_with("tenants/acme"),
            "{e}"
        );
    }
    assert_eq!(events[2]["detail"]["state"], "paused", "{}", events[2]);
    assert!(
        !r.body.to_string().contains(&secret),
        "no secret is ever in the record"
    );

    let global = get(app, "/v1/audit").await;
    assert_eq!(global.status, StatusCode::OK, "{}", global.body);
    assert!(global.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .any(|e| e["action"] == "tenant.create" && e["target"] == "tenants/acme"));
}

async fn misses_on_the_admin_api_are_problems(app: &TestApp) {
    problem(
        &get(app, "/v1/tenants/default/widgets").await,
        404,
        "not-found",
    );
    problem(&get(app, "/v1/nothing").await, 404, "not-found");
    let r = app
        .admin_call(Method::PUT, "/v1/tenants/default", Some(json!({})))
        .await;
    problem(&r, 405, "method-not-allowed");
    // The SCIM tree under the same prefix keeps its SCIM errors.
    let r = scim(
        app,
        &app.token,
        Method::GET,
        "/v1/tenants/default/realms/default",
        "/Nope",
        None,
    )
    .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    assert_eq!(
        r.body["schemas"][0],
        "urn:ietf:params:scim:api:messages:2.0:Error"
    );

    // The description is open, and names every call served.
    let doc = app
        .client
        .get(format!("{}/admin/openapi.json", app.origin))
        .send()
        .await
        .unwrap();
    assert_eq!(doc.status(), StatusCode::OK);
    let doc: Value = doc.json().await.unwrap();
    assert_eq!(doc["openapi"], "3.1.0");
    for r in scimd::http::admin::table() {
        let m = format!("{:?}", r.verb).to_lowercase();
        assert!(
            doc["paths"][r.path][&m].is_object(),
            "{m} {} undocumented",
            r.path
        );
    }
    let main: Value = app
        .client
        .get(format!("{}/openapi.json", app.origin))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(main["info"]["description"]
        .as_str()
        .unwrap()
        .contains("/admin/openapi.json"));
}

/// The admin API is held to the SCIM API's limits: body size and the per-token rate.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admin_calls_are_held_to_the_body_and_rate_limits() {
    let Some(app) = TestApp::spawn_with(Backend::Sqlite, |c| {
        c.rate_limit_token_per_second = 2;
        c.rate_limit_token_burst = 3;
        c.max_body_bytes = 1024;
    })
    .await
    else {
        return;
    };
    let big = post(
        &app,
        "/v1/tenants",
        json!({"id": "big", "description": "x".repeat(2000)}),
    )
    .await;
    problem(&big, 413, "too-large");
    let mut statuses = Vec::new();
    for _ in 0..8 {
        let r = get(&app, "/v1/tenants").await;
        if r.status == StatusCode::TOO_MANY_REQUESTS {
            problem(&r, 429, "too-many-requests");
            assert!(r.header("retry-after").unwrap().parse::<u64>().unwrap() >= 1);
        }
        statuses.push(r.status);
    }
    assert!(
        statuses.contains(&StatusCode::TOO_MANY_REQUESTS),
        "{statuses:?}"
    );
    app.stop().await;
}
