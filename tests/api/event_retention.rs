//! Event retention: a realm keeps its events for so many days and/or so many events, set
//! through the admin API; older ones are pruned in the background, and a reader whose cursor
//! fell behind what was pruned is told so (410) instead of silently reading on past the gap.

use std::time::Duration;

use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use crate::both_backends_with;
use crate::helpers::TestApp;

const REALM: &str = "/v1/tenants/default/realms/default";
const FEED: &str = "/v1/tenants/default/realms/default/events";

fn pruning_every_second(cfg: &mut scimd::config::Config) {
    cfg.event_prune_interval_seconds = 1;
}

both_backends_with!(pruning_every_second =>
    retention_is_a_realm_setting_with_checked_bounds,
    events_older_than_the_realm_keeps_are_pruned_and_a_reader_behind_them_is_told,
    a_count_limit_keeps_the_newest_events,
);

async fn feed(app: &TestApp, query: &str) -> (StatusCode, Value) {
    let r = app
        .admin_call(Method::GET, &format!("{FEED}{query}"), None)
        .await;
    (r.status, r.body)
}

fn ids(page: &Value) -> Vec<String> {
    page["items"]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|e| e["id"].as_str().unwrap().to_owned())
                .collect()
        })
        .unwrap_or_default()
}

/// Every event the feed holds, read page by page from the start.
async fn all_ids(app: &TestApp) -> Vec<String> {
    let mut out = Vec::new();
    let mut query = "?limit=1000".to_owned();
    loop {
        let (status, page) = feed(app, &query).await;
        assert_eq!(status, StatusCode::OK, "{page}");
        let got = ids(&page);
        if got.is_empty() {
            return out;
        }
        query = format!("?limit=1000&after={}", got.last().unwrap());
        out.extend(got);
    }
}

/// Polls until `done` holds for the feed, for up to a minute (on PostgreSQL pruning waits for
/// every older transaction in the cluster, and a loaded test run has many).
async fn until(app: &TestApp, what: &str, done: impl Fn(&[String]) -> bool) -> Vec<String> {
    for _ in 0..600 {
        let got = all_ids(app).await;
        if done(&got) {
            return got;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("the feed never came to {what}");
}

async fn retention_is_a_realm_setting_with_checked_bounds(app: &TestApp) {
    let r = app.admin_call(Method::GET, REALM, None).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.body["event_retention_days"], 90, "{}", r.body);
    assert_eq!(r.body["event_retention_count"], Value::Null);

    let r = app
        .admin_call(
            Method::PATCH,
            REALM,
            Some(json!({"event_retention_days": null, "event_retention_count": 5000})),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.body["event_retention_days"], Value::Null);
    assert_eq!(r.body["event_retention_count"], 5000);
    // A PATCH that names neither leaves both as they are.
    let r = app
        .admin_call(Method::PATCH, REALM, Some(json!({"description": "x"})))
        .await;
    assert_eq!(
        (
            &r.body["event_retention_days"],
            &r.body["event_retention_count"]
        ),
        (&Value::Null, &json!(5000))
    );

    for (field, value) in [
        ("event_retention_days", json!(0)),
        ("event_retention_days", json!(36_501)),
        ("event_retention_days", json!("30")),
        ("event_retention_count", json!(999)),
        ("event_retention_count", json!(-1)),
    ] {
        let r = app
            .admin_call(Method::PATCH, REALM, Some(json!({ field: value })))
            .await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{field}={value}");
        assert_eq!(r.body["field"], field, "{}", r.body);
    }
    let r = app.admin_call(Method::GET, REALM, None).await;
    assert_eq!(
        r.body["event_retention_count"], 5000,
        "refusals change nothing"
    );

    // A new realm may say its own; without it, it keeps 90 days.
    let r = app
        .admin_call(
            Method::POST,
            "/v1/tenants/default/realms",
            Some(json!({"id": "audit", "event_retention_days": 400})),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    assert_eq!(r.body["event_retention_days"], 400);
}

async fn events_older_than_the_realm_keeps_are_pruned_and_a_reader_behind_them_is_told(
    app: &TestApp,
) {
    for name in ["old-1", "old-2", "old-3"] {
        app.user(name).await;
    }
    let before = until(app, "three events", |e| e.len() >= 3).await;
    let reader_cursor = before[0].clone();
    // Ninety days on, a moment later, every one of them is past the realm's retention.
    app.clock.advance(chrono::Duration::days(91));
    until(app, "no events", |e| e.is_empty()).await;

    let (status, body) = feed(app, &format!("?after={reader_cursor}")).await;
    assert_eq!(status, StatusCode::GONE, "{body}");
    assert_eq!(body["status"], 410);
    let detail = body["detail"].as_str().unwrap();
    let last = before.last().unwrap();
    assert!(
        detail.contains(&format!("after={last}")),
        "the answer says where to read on: {detail}"
    );
    // A reader that had read everything pruned is not behind.
    let (status, body) = feed(app, &format!("?after={last}")).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(ids(&body).is_empty());

    // The log goes on after what was pruned: the reader at the mark sees the next event.
    let id = app.user("new").await;
    let later = until(app, "the new event", |e| e.len() == 1).await;
    let (_, page) = feed(app, &format!("?after={last}")).await;
    assert_eq!(ids(&page), later);
    assert_eq!(page["items"][0]["resource_id"], id.as_str());
}

async fn a_count_limit_keeps_the_newest_events(app: &TestApp) {
    let r = app
        .admin_call(
            Method::PATCH,
            REALM,
            Some(json!({"event_retention_days": null, "event_retention_count": 1000})),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    // Ten writers at a time, so that a thousand events take a moment, not a minute.
    let client = reqwest::Client::new();
    for chunk in 0..(1010 / 10) {
        let mut tasks = Vec::new();
        for i in 0..10 {
            let req = client
                .post(format!("{}/Users", app.base))
                .bearer_auth(&app.token)
                .json(&json!({"userName": format!("u{chunk:03}-{i}")}));
            tasks.push(tokio::spawn(
                async move { req.send().await.unwrap().status() },
            ));
        }
        for t in tasks {
            assert_eq!(t.await.unwrap(), StatusCode::CREATED);
        }
    }
    let kept = until(app, "the newest 1000 events", |e| e.len() == 1000).await;
    // Nothing pruned is newer than anything kept: the kept events are the last 1000 of the
    // feed's order, and the first of them is after the prune mark.
    let (status, body) = feed(app, &format!("?after={}", kept[0])).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, body) = feed(app, "?after=0.0").await;
    assert_eq!(status, StatusCode::GONE, "{body}");
}
