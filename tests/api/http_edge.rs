//! What every request gets at the edge: content types, paths, errors, request ids, health.

use reqwest::StatusCode;
use serde_json::json;

use crate::both_backends;
use crate::helpers::{send, TestApp};

both_backends!(
    every_json_content_type_or_none_is_accepted,
    base_url_works_with_trailing_slash_and_entra_query_flag,
    unknown_routes_and_bad_bodies_get_scim_errors,
    health_endpoints_answer_without_auth,
);

async fn every_json_content_type_or_none_is_accepted(app: &TestApp) {
    for (i, ct) in [
        Some("application/scim+json"),
        Some("application/scim+json; charset=utf-8"),
        Some("application/json"),
        None,
    ]
    .into_iter()
    .enumerate()
    {
        let mut req = app
            .client
            .post(format!("{}/Users", app.base))
            .bearer_auth(&app.token)
            .body(json!({"userName": format!("ct{i}")}).to_string());
        if let Some(ct) = ct {
            req = req.header("content-type", ct);
        }
        let r = send(req).await;
        assert_eq!(r.status, StatusCode::CREATED, "{ct:?}: {}", r.body);
        assert_eq!(
            r.header("content-type"),
            Some("application/scim+json; charset=utf-8")
        );
        assert!(r.header("x-request-id").is_some());
    }
}

async fn base_url_works_with_trailing_slash_and_entra_query_flag(app: &TestApp) {
    let r = app.get("/Users/?aadOptscim062020").await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let r = app.get("//Users?aadOptscim062020").await;
    assert_eq!(r.status, StatusCode::OK);
    let r = app
        .call(
            reqwest::Method::GET,
            &format!("{}/scim/v2/Users", app.origin),
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::OK);
}

async fn unknown_routes_and_bad_bodies_get_scim_errors(app: &TestApp) {
    let r = app.get("/Devices").await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    assert_eq!(r.body["status"], "404");
    let r = send(app.client.get(format!("{}/nothing/here", app.origin))).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    assert_eq!(
        r.body["schemas"][0],
        "urn:ietf:params:scim:api:messages:2.0:Error"
    );

    let r = send(
        app.client
            .post(format!("{}/Users", app.base))
            .bearer_auth(&app.token)
            .body("{\"userName\": "),
    )
    .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert_eq!(r.body["scimType"], "invalidSyntax");

    // Just over the 1 MiB default, so the client finishes sending before the answer comes.
    let big = "x".repeat(1024 * 1024 + 4096);
    let r = send(
        app.client
            .post(format!("{}/Users", app.base))
            .bearer_auth(&app.token)
            .body(json!({"userName": "big", "title": big}).to_string()),
    )
    .await;
    assert_eq!(r.status, StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(r.body["status"], "413");

    let r = app.post("/Users", json!(["not", "an", "object"])).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert_eq!(r.body["scimType"], "invalidSyntax");
}

async fn health_endpoints_answer_without_auth(app: &TestApp) {
    let r = send(app.client.get(format!("{}/healthz", app.origin))).await;
    assert_eq!(r.status, StatusCode::OK);
    let r = send(app.client.get(format!("{}/readyz", app.origin))).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.body["status"], "ready");
}

async fn location_of_a_new_user(
    app: &TestApp,
    name: &str,
    headers: &[(&str, &str)],
) -> (String, String) {
    let r = app
        .call_with(
            reqwest::Method::POST,
            "/Users",
            Some(json!({"userName": name})),
            headers,
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    let header = r.header("location").unwrap().to_owned();
    let meta = r.body["meta"]["location"].as_str().unwrap().to_owned();
    assert_eq!(header, meta);
    (header, meta)
}

#[tokio::test]
async fn forwarded_headers_from_an_untrusted_client_do_not_change_links() {
    let app = crate::helpers::TestApp::spawn(crate::helpers::Backend::Sqlite)
        .await
        .unwrap();
    let spoof = [
        ("x-forwarded-host", "evil.example"),
        ("x-forwarded-proto", "https"),
    ];
    let (loc, _) = location_of_a_new_user(&app, "fwd-untrusted", &spoof).await;
    assert!(
        loc.starts_with(&format!("{}/v1/tenants/", app.origin)),
        "{loc}"
    );
    assert!(!loc.contains("evil.example"), "{loc}");
    app.stop().await;
}

#[tokio::test]
async fn forwarded_headers_from_a_trusted_proxy_set_the_links() {
    let app = crate::helpers::TestApp::spawn_with(crate::helpers::Backend::Sqlite, |c| {
        c.trusted_proxies = "10.9.0.0/16, 127.0.0.1".into()
    })
    .await
    .unwrap();
    let via_proxy = [
        ("x-forwarded-host", "scim.example.com, inner.proxy"),
        ("x-forwarded-proto", "https"),
    ];
    let (loc, _) = location_of_a_new_user(&app, "fwd-trusted", &via_proxy).await;
    assert!(
        loc.starts_with(
            "https://scim.example.com/v1/tenants/default/realms/default/scim/v2/Users/"
        ),
        "{loc}"
    );
    app.stop().await;
}

#[tokio::test]
async fn resource_endpoints_match_in_any_case_and_links_keep_the_canonical_case() {
    let app = crate::helpers::TestApp::spawn(crate::helpers::Backend::Sqlite)
        .await
        .unwrap();
    let id = app.user("case-user").await;
    let short = format!("{}/scim/v2", app.origin);
    for url in [
        format!("{}/users/{id}", app.base),
        format!("{}/USERS/{id}", app.base),
        format!("{short}/users/{id}"),
    ] {
        let r = app.call(reqwest::Method::GET, &url, None).await;
        assert_eq!(r.status, StatusCode::OK, "{url}: {}", r.body);
        let loc = r.body["meta"]["location"].as_str().unwrap();
        assert!(loc.ends_with(&format!("/Users/{id}")), "{loc}");
    }
    for path in [
        "/groups",
        "/schemas",
        "/resourcetypes",
        "/serviceproviderconfig",
    ] {
        let r = app.get(path).await;
        assert_eq!(r.status, StatusCode::OK, "{path}: {}", r.body);
    }
    let r = app
        .call(
            reqwest::Method::POST,
            "/users/.SEARCH",
            Some(json!({"filter": "userName eq \"case-user\""})),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.body["totalResults"], 1);
    let r = app
        .call(reqwest::Method::POST, "/.Search", Some(json!({})))
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let r = app
        .call(
            reqwest::Method::POST,
            "/users",
            Some(json!({"userName": "case-created"})),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    assert!(r.header("location").unwrap().contains("/scim/v2/Users/"));
    // A schema id after /Schemas keeps its own case: it is an id, not an endpoint.
    let r = app
        .get("/schemas/urn:ietf:params:scim:schemas:core:2.0:User")
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    app.stop().await;
}
