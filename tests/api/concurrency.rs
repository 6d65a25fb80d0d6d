//! No lost update: concurrent PATCHes all take effect or fail cleanly; concurrent PUTs
//! without If-Match all succeed (the last one wins, whole).

use std::collections::BTreeSet;

use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::both_backends;
use crate::helpers::{send, TestApp};

both_backends!(
    concurrent_membership_patches_keep_every_acknowledged_member,
    concurrent_attribute_patches_to_one_user_lose_nothing_acknowledged,
    large_group_patch_response_leaves_members_out_unless_asked,
    concurrent_puts_without_if_match_all_succeed_and_one_wins_whole,
);

async fn concurrent_membership_patches_keep_every_acknowledged_member(app: &TestApp) {
    let group = app.group("busy", &[]).await;
    let mut users = Vec::new();
    for i in 0..32 {
        users.push(app.user(&format!("c{i}")).await);
    }
    // Half the PATCHes go through a second server on the same database, as a second replica
    // would send them.
    let peer = app.peer().await;
    let mut tasks = Vec::new();
    for (i, u) in users.clone().into_iter().enumerate() {
        let base = if i % 2 == 0 { &app.base } else { &peer.base };
        let req = app
            .client
            .request(Method::PATCH, format!("{base}/Groups/{group}"))
            .bearer_auth(&app.token)
            .body(
                json!({"Operations": [{"op": "add", "path": "members", "value": [{"value": u}]}]})
                    .to_string(),
            );
        tasks.push(tokio::spawn(async move { (u, send(req).await) }));
    }
    let mut acked = BTreeSet::new();
    for t in tasks {
        let (u, r) = t.await.unwrap();
        assert!(
            r.status == StatusCode::OK || r.status == StatusCode::PRECONDITION_FAILED,
            "{}: {}",
            r.status,
            r.body
        );
        if r.status == StatusCode::OK {
            acked.insert(u);
        }
    }
    assert_eq!(acked.len(), 32, "membership deltas never conflict");
    peer.stop().await;
    let g = app.get(&format!("/Groups/{group}")).await;
    let got: BTreeSet<String> = g.body["members"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["value"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(got, acked);
    assert_eq!(g.body["meta"]["version"], "W/\"33\"");
}

async fn concurrent_attribute_patches_to_one_user_lose_nothing_acknowledged(app: &TestApp) {
    let id = app.user("contended").await;
    let peer = app.peer().await;
    let mut tasks = Vec::new();
    for i in 0..16 {
        let addr = format!("a{i}@example.com");
        let base = if i % 2 == 0 { &app.base } else { &peer.base };
        let req = app
            .client
            .request(Method::PATCH, format!("{base}/Users/{id}"))
            .bearer_auth(&app.token)
            .body(
                json!({"Operations": [{"op": "add", "path": "emails", "value": [{"value": addr}]}]})
                    .to_string(),
            );
        tasks.push(tokio::spawn(async move { (addr, send(req).await) }));
    }
    let mut acked = BTreeSet::new();
    for t in tasks {
        let (addr, r) = t.await.unwrap();
        assert!(
            r.status == StatusCode::OK || r.status == StatusCode::PRECONDITION_FAILED,
            "{}: {}",
            r.status,
            r.body
        );
        if r.status == StatusCode::OK {
            acked.insert(addr);
        }
    }
    let got: BTreeSet<String> = app.get(&format!("/Users/{id}")).await.body["emails"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["value"].as_str().unwrap().to_owned())
        .collect();
    assert!(!acked.is_empty());
    assert_eq!(got, acked, "exactly the acknowledged changes are stored");
    peer.stop().await;
}

async fn large_group_patch_response_leaves_members_out_unless_asked(app: &TestApp) {
    let group = app.group("large", &[]).await;
    let mut ids = Vec::new();
    for i in 0..1001 {
        ids.push(json!({"value": app.user(&format!("l{i}")).await}));
    }
    let r = app
        .call(
            Method::PATCH,
            &format!("/Groups/{group}"),
            Some(json!({"Operations": [{"op": "add", "path": "members", "value": ids}]})),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert!(r.body.get("members").is_none());
    assert_eq!(r.body["displayName"], "large");
    let r = app
        .call(
            Method::PATCH,
            &format!("/Groups/{group}?attributes=members"),
            Some(json!({"Operations": [{"op": "remove", "path": "members[value eq \"nobody\"]"}]})),
        )
        .await;
    assert_eq!(r.body["members"].as_array().unwrap().len(), 1001);
}

/// A PUT without If-Match states no precondition, so losing a race with another writer must
/// not answer 412 (it did: the version read for the immutability check guarded the write).
async fn concurrent_puts_without_if_match_all_succeed_and_one_wins_whole(app: &TestApp) {
    let id = app.user("put-race").await;
    let peer = app.peer().await;
    let mut tasks = Vec::new();
    for i in 0..16 {
        let base = if i % 2 == 0 { &app.base } else { &peer.base };
        let body = json!({
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
            "userName": "put-race",
            "displayName": format!("writer {i}"),
            "title": format!("title {i}"),
        });
        let req = app
            .client
            .request(Method::PUT, format!("{base}/Users/{id}"))
            .bearer_auth(&app.token)
            .body(body.to_string());
        tasks.push(tokio::spawn(async move { send(req).await }));
    }
    for t in tasks {
        let r = t.await.unwrap();
        assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    }
    let u = app.get(&format!("/Users/{id}")).await.body;
    let writer = u["displayName"]
        .as_str()
        .unwrap()
        .strip_prefix("writer ")
        .unwrap();
    assert_eq!(
        u["title"],
        format!("title {writer}"),
        "one PUT's body, not a mix"
    );
    assert_eq!(u["meta"]["version"], "W/\"17\"");
    peer.stop().await;
}
