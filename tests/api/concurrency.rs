//! No lost update: concurrent PATCHes all take effect or fail cleanly; concurrent PUTs
//! without If-Match all succeed (the last one wins, whole).

use std::collections::BTreeSet;

use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::both_backends;
use crate::helpers::{send, TestApp};

both_backends!(
    concurrent_membership_patches_keep_every_acknowledged_member,
    a_bad_membership_patch_among_concurrent_ones_fails_alone,
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
        let req = add_patch(app, format!("{base}/Groups/{group}"), "members", &u);
        tasks.push(tokio::spawn(async move { (u, send(req).await) }));
    }
    let mut acked = BTreeSet::new();
    let mut answered_versions = Vec::new();
    for t in tasks {
        let (u, r) = t.await.unwrap();
        assert_eq!(r.status, StatusCode::OK, "{}", r.body);
        // Each answer shows the group with this request's member in it.
        assert!(
            member_ids(&r.body).contains(&u),
            "the answer to adding {u} lacks it: {}",
            r.body
        );
        answered_versions.push(version_of(&r.body));
        acked.insert(u);
    }
    assert_eq!(acked.len(), 32, "membership deltas never conflict");
    peer.stop().await;
    let g = app.get(&format!("/Groups/{group}")).await;
    assert_eq!(member_ids(&g.body), acked);
    // Changes that arrive together may share one version bump (one transaction), so the
    // group moved on by at least one version and at most one per change, and no answer
    // named a version past the final one.
    let last = version_of(&g.body);
    assert!((2..=33).contains(&last), "version {last}");
    assert!(answered_versions.iter().all(|v| *v <= last && *v >= 2));
}

/// A PATCH adding one `{"value": value}` entry to the multi-valued attribute `path`.
fn add_patch(app: &TestApp, url: String, path: &str, value: &str) -> reqwest::RequestBuilder {
    app.client
        .request(Method::PATCH, url)
        .bearer_auth(&app.token)
        .body(
            json!({"Operations": [{"op": "add", "path": path, "value": [{"value": value}]}]})
                .to_string(),
        )
}

fn member_ids(group: &serde_json::Value) -> BTreeSet<String> {
    group["members"]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|m| m["value"].as_str().unwrap().to_owned())
                .collect()
        })
        .unwrap_or_default()
}

fn version_of(resource: &serde_json::Value) -> u64 {
    resource["meta"]["version"]
        .as_str()
        .and_then(|v| v.strip_prefix("W/\""))
        .and_then(|v| v.strip_suffix('"'))
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("no version in {resource}"))
}

/// Concurrent membership PATCHes to one group go in together; one naming an unknown member
/// must still fail alone, naming it, and take nothing of the others down with it.
async fn a_bad_membership_patch_among_concurrent_ones_fails_alone(app: &TestApp) {
    let group = app.group("crowd", &[]).await;
    let mut tasks = Vec::new();
    for i in 0..24 {
        let member = if i % 6 == 5 {
            format!("no-such-user-{i}")
        } else {
            app.user(&format!("crowd{i}")).await
        };
        let req = add_patch(
            app,
            format!("{}/Groups/{group}", app.base),
            "members",
            &member,
        );
        tasks.push(tokio::spawn(async move { (member, send(req).await) }));
    }
    let mut good = BTreeSet::new();
    for t in tasks {
        let (member, r) = t.await.unwrap();
        if member.starts_with("no-such-user") {
            assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.body);
            assert!(
                r.body["detail"].as_str().unwrap().contains(&member),
                "{}",
                r.body
            );
        } else {
            assert_eq!(r.status, StatusCode::OK, "{}", r.body);
            good.insert(member);
        }
    }
    assert_eq!(good.len(), 20);
    let g = app.get(&format!("/Groups/{group}")).await;
    assert_eq!(member_ids(&g.body), good);
}

async fn concurrent_attribute_patches_to_one_user_lose_nothing_acknowledged(app: &TestApp) {
    let id = app.user("contended").await;
    let peer = app.peer().await;
    let mut tasks = Vec::new();
    for i in 0..16 {
        let addr = format!("a{i}@example.com");
        let base = if i % 2 == 0 { &app.base } else { &peer.base };
        let req = add_patch(app, format!("{base}/Users/{id}"), "emails", &addr);
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
