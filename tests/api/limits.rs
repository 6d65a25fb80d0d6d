//! Rate limits, metrics and request bounds.

use reqwest::StatusCode;

use crate::helpers::{send, Backend, TestApp};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn over_the_token_rate_a_client_gets_429_with_retry_after() {
    let app = TestApp::spawn_with(Backend::Sqlite, |c| {
        c.rate_limit_token_per_second = 2;
        c.rate_limit_token_burst = 3;
    })
    .await
    .unwrap();
    let mut statuses = Vec::new();
    for _ in 0..8 {
        let r = app.get("/Users").await;
        if r.status == StatusCode::TOO_MANY_REQUESTS {
            assert!(r.header("retry-after").unwrap().parse::<u64>().unwrap() >= 1);
            assert_eq!(r.body["status"], "429");
            assert_eq!(
                r.body["schemas"][0],
                "urn:ietf:params:scim:api:messages:2.0:Error"
            );
        }
        statuses.push(r.status);
    }
    assert_eq!(statuses[0], StatusCode::OK);
    assert!(
        statuses.contains(&StatusCode::TOO_MANY_REQUESTS),
        "{statuses:?}"
    );
    // Another token of the same realm has its own budget.
    let other = app
        .admin
        .create_token("default", "default", "second", None)
        .await
        .unwrap()
        .secret;
    let r = send(
        app.client
            .get(format!("{}/Users", app.base))
            .bearer_auth(other),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK);
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_count_requests_by_route_template_on_their_own_listener() {
    let app = TestApp::spawn(Backend::Sqlite).await.unwrap();
    let id = app.user("metered").await;
    assert_eq!(
        app.get(&format!("/Users/{id}")).await.status,
        StatusCode::OK
    );
    let _ = send(app.client.get(format!("{}/Users", app.base))).await; // 401
    let text = app
        .client
        .get(format!("{}/metrics", app.metrics_origin))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        text.contains("route=\"/v1/tenants/{tenant}/realms/{realm}/scim/v2/Users/{id}\""),
        "{text}"
    );
    assert!(text.contains("scimd_http_request_duration_seconds_bucket"));
    assert!(text.contains("scimd_db_pool_connections"));
    assert!(text.contains("scimd_auth_failures_total"), "{text}");
    assert!(text.contains("scimd_scim_operations_total"), "{text}");
    // The API listener does not serve it.
    let r = send(app.client.get(format!("{}/metrics", app.origin))).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    app.stop().await;
}
