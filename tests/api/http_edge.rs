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
