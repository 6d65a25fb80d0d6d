//! The event log and its change feed: every SCIM write records exactly one event, with who
//! made it, in which request, and what changed; a failed write records none; a reader that
//! goes on from its cursor misses nothing, however the writers' commits interleave.

use std::collections::HashSet;

use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use crate::both_backends;
use crate::helpers::{Backend, TestApp};

both_backends!(
    every_write_records_one_event_saying_what_changed,
    a_failed_write_records_nothing,
    the_feed_filters_by_type_and_operation_and_pages_from_a_cursor,
    concurrent_writers_leave_no_gap_for_a_reader_following_along,
    a_waiting_reader_is_answered_by_the_next_write,
    the_feed_refuses_bad_queries_and_other_credentials,
    a_credential_with_events_read_reads_the_feed_and_nothing_else,
    admin_actions_on_the_realm_are_events_naming_what_they_touched,
    refused_credentials_are_events_without_their_secret,
    deleting_a_member_is_an_event_of_each_group_it_leaves,
);

/// The feed's events of one operation, once there are `n`.
async fn feed_op(app: &TestApp, operation: &str, n: usize) -> Vec<Value> {
    for _ in 0..50 {
        let r = app
            .admin_call(
                Method::GET,
                &format!("{FEED}?operation={operation}&limit=1000"),
                None,
            )
            .await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.body);
        let got = items(&r.body);
        if got.len() >= n {
            return got;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    panic!("the feed never showed {n} '{operation}' events");
}

async fn admin_actions_on_the_realm_are_events_naming_what_they_touched(app: &TestApp) {
    let r = app
        .client
        .post(format!(
            "{}/v1/tenants/default/realms/default/tokens",
            app.origin
        ))
        .bearer_auth(&app.admin_token)
        .header("x-request-id", "req-admin-42")
        .json(&json!({"name": "audited", "scopes": ["scim:read"]}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::CREATED);
    let made: Value = r.json().await.unwrap();
    let secret = made["token_value"].as_str().unwrap().to_owned();
    let token_id = made["id"].as_str().unwrap().to_owned();
    let r = app
        .admin_call(
            Method::PATCH,
            "/v1/tenants/default/realms/default",
            Some(json!({"description": "watched", "state": "paused"})),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    // Tenant-wide actions are in the audit record only: no realm's log.
    let r = app
        .admin_call(
            Method::POST,
            "/v1/tenants",
            Some(json!({"id": "elsewhere"})),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);

    // The harness's own token (made through the admin service) is the first.
    let events = feed_op(app, "admin", 3).await;
    let actions: Vec<&str> = events
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    assert_eq!(actions, ["token.create", "token.create", "realm.update"]);
    let created = &events[1];
    assert_eq!(created["resource_type"], "Token");
    assert_eq!(created["resource_id"], token_id.as_str());
    assert_eq!(created["request_id"], "req-admin-42");
    assert!(created["actor"]
        .as_str()
        .unwrap()
        .starts_with("admin-token:"));
    assert_eq!(
        created["target"],
        format!("tenants/default/realms/default/tokens/{token_id}")
    );
    assert_eq!(created["detail"]["name"], "audited", "{created}");
    let updated = &events[2];
    assert_eq!(updated["resource_type"], "Realm");
    assert_eq!(updated["resource_id"], "default");
    assert_eq!(strings(&updated["changed"]), ["description", "state"]);
    assert_eq!(updated["detail"]["state"], "paused");
    let all = feed(
        app,
        "?limit=1000&resource_type=Token,Realm,User,Group,Credential",
    )
    .await;
    assert!(
        !all.to_string().contains(&secret),
        "no secret in the log: {all}"
    );
    // Filters name admin subjects too, and several at once.
    let realm_only = items(&feed(app, "?resource_type=Realm").await);
    assert_eq!(realm_only.len(), 1);
}

async fn refused_credentials_are_events_without_their_secret(app: &TestApp) {
    let wrong = "scimd_this-token-does-not-exist";
    let r = app
        .client
        .get(format!("{}/Users", app.base))
        .bearer_auth(wrong)
        .header("x-request-id", "req-denied-7")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    let r = app
        .client
        .get(format!("{}/Users", app.base))
        .basic_auth("okta-sync", Some("not-the-password"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    let events = feed_op(app, "denied", 2).await;
    assert_eq!(events.len(), 2, "{events:?}");
    assert_eq!(events[0]["actor"], "bearer-token");
    assert_eq!(events[1]["actor"], "basic:okta-sync");
    assert_eq!(
        events[0]["request_id"], "req-denied-7",
        "a refusal names the request, as scimd's own log does"
    );
    assert!(events[1]["request_id"].is_string(), "{}", events[1]);
    for e in &events {
        assert_eq!(e["resource_type"], "Credential");
        assert_eq!(e["resource_id"], Value::Null);
        assert_eq!(e["action"], "scim.auth.denied");
        assert!(e["detail"]["reason"].is_string(), "{e}");
        assert_eq!(e["detail"]["address"], "127.0.0.1");
    }
    let text = Value::Array(events).to_string();
    assert!(
        !text.contains(wrong) && !text.contains("not-the-password"),
        "{text}"
    );
    // A refused credential changes nothing: SCIM readers filtering on their types see none.
    assert!(items(&feed(app, "").await).is_empty());
}

async fn a_credential_with_events_read_reads_the_feed_and_nothing_else(app: &TestApp) {
    let r = app
        .admin_call(
            Method::POST,
            "/v1/tenants/default/realms/default/tokens",
            Some(json!({"name": "follower", "scopes": ["events:read"]})),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    let follower = r.body["token_value"].as_str().unwrap().to_owned();
    let id = app.user("followed").await;
    let mut seen = Vec::new();
    for _ in 0..50 {
        let r = app
            .admin_as(&follower, Method::GET, &scim_feed(""), None)
            .await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.body);
        seen = items(&r.body);
        if !seen.is_empty() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert_eq!(seen[0]["resource_id"], id.as_str());
    // The feed only: no SCIM data, no other realm, no admin call.
    let r = reqwest::Client::new()
        .get(format!("{}/Users", app.base))
        .bearer_auth(&follower)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    app.admin.create_realm("default", "second").await.unwrap();
    let r = app
        .admin_as(
            &follower,
            Method::GET,
            "/v1/tenants/default/realms/second/events",
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{}", r.body);
    let r = app
        .admin_as(
            &follower,
            Method::GET,
            "/v1/tenants/default/realms/default/tokens",
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{}", r.body);
}

const ENTERPRISE: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";
const FEED: &str = "/v1/tenants/default/realms/default/events";

/// The feed of SCIM writes: the realm's log also records admin actions (the harness creates
/// its token through the admin service) and refused credentials.
fn scim_feed(query: &str) -> String {
    let q = query.trim_start_matches('?');
    let filter = if q.contains("resource_type=") {
        ""
    } else {
        "resource_type=User,Group"
    };
    let parts: Vec<&str> = [filter, q].into_iter().filter(|s| !s.is_empty()).collect();
    format!("{FEED}?{}", parts.join("&"))
}

async fn feed(app: &TestApp, query: &str) -> Value {
    let r = app.admin_call(Method::GET, &scim_feed(query), None).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    r.body
}

/// The feed once it shows `n` events: on PostgreSQL an event is shown only once every older
/// transaction has ended, and the server's own background writes (token use) can be one.
async fn feed_n(app: &TestApp, query: &str, n: usize) -> Vec<Value> {
    let sep = if query.is_empty() { "?" } else { "&" };
    for _ in 0..50 {
        let got = items(&feed(app, &format!("{query}{sep}limit=1000")).await);
        if got.len() >= n {
            return got;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    panic!("the feed never showed {n} events for {query:?}");
}

fn items(page: &Value) -> Vec<Value> {
    page["items"].as_array().cloned().unwrap_or_default()
}

/// The test token's actor name: `token:<its id>`.
async fn actor(app: &TestApp) -> String {
    let r = app
        .admin_call(
            Method::GET,
            "/v1/tenants/default/realms/default/tokens?name=tests",
            None,
        )
        .await;
    format!(
        "token:{}",
        r.body["items"][0]["id"].as_str().expect("the tests token")
    )
}

fn strings(v: &Value) -> Vec<String> {
    v.as_array()
        .map(|a| {
            a.iter()
                .filter_map(|s| s.as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

async fn every_write_records_one_event_saying_what_changed(app: &TestApp) {
    let me = actor(app).await;
    let created = app
        .post(
            "/Users",
            json!({"userName": "ada", "externalId": "e-1", "title": "Engineer",
                   ENTERPRISE: {"department": "R&D"}}),
        )
        .await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.body);
    let ada = created.body["id"].as_str().unwrap().to_owned();
    let request_id = created
        .header("x-request-id")
        .expect("a request id")
        .to_owned();

    let put = app
        .put(
            &format!("/Users/{ada}"),
            json!({"userName": "ada", "externalId": "e-1", "title": "Lead",
                   ENTERPRISE: {"department": "R&D"}}),
        )
        .await;
    assert_eq!(put.status, StatusCode::OK, "{}", put.body);
    let patch = app
        .call(
            Method::PATCH,
            &format!("/Users/{ada}"),
            Some(json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
                "Operations": [{"op": "replace", "path": format!("{ENTERPRISE}:department"), "value": "Sales"},
                               {"op": "replace", "path": "active", "value": false}]})),
        )
        .await;
    assert_eq!(patch.status, StatusCode::OK, "{}", patch.body);
    let bob = app.user("bob").await;
    let group = app.group("eng", &[&ada]).await;
    let add = app
        .call(
            Method::PATCH,
            &format!("/Groups/{group}"),
            Some(
                json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
                "Operations": [{"op": "add", "path": "members", "value": [{"value": bob}]}]}),
            ),
        )
        .await;
    assert_eq!(add.status, StatusCode::OK, "{}", add.body);
    let remove = app
        .call(
            Method::PATCH,
            &format!("/Groups/{group}"),
            Some(
                json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
                "Operations": [{"op": "remove", "path": format!("members[value eq \"{ada}\"]")}]}),
            ),
        )
        .await;
    assert_eq!(remove.status, StatusCode::OK, "{}", remove.body);
    assert_eq!(
        app.delete(&format!("/Users/{bob}")).await.status,
        StatusCode::NO_CONTENT
    );

    let events = feed_n(app, "", 9).await;
    let summary: Vec<(String, String, String)> = events
        .iter()
        .map(|e| {
            (
                e["operation"].as_str().unwrap().to_owned(),
                e["resource_type"].as_str().unwrap().to_owned(),
                e["resource_id"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    let s = |o: &str, t: &str, id: &str| (o.to_owned(), t.to_owned(), id.to_owned());
    assert_eq!(
        summary,
        vec![
            s("create", "User", &ada),
            s("replace", "User", &ada),
            s("patch", "User", &ada),
            s("create", "User", &bob),
            s("create", "Group", &group),
            s("patch", "Group", &group),
            s("patch", "Group", &group),
            s("patch", "Group", &group),
            s("delete", "User", &bob),
        ],
        "{events:#?}"
    );
    for e in &events {
        assert_eq!(e["actor"], me.as_str(), "{e}");
        assert!(e["request_id"].is_string(), "{e}");
    }
    assert_eq!(events[0]["request_id"], request_id.as_str());
    assert_eq!(events[0]["version"], 1);
    let created_attrs = strings(&events[0]["changed"]);
    for must in [
        "userName",
        "externalId",
        "title",
        &format!("{ENTERPRISE}:department"),
    ] {
        assert!(created_attrs.contains(&must.to_owned()), "{}", events[0]);
    }
    assert_eq!(strings(&events[1]["changed"]), vec!["title".to_owned()]);
    assert_eq!(events[1]["version"], 2);
    assert_eq!(
        strings(&events[2]["changed"]),
        vec!["active".to_owned(), format!("{ENTERPRISE}:department")]
    );
    assert_eq!(strings(&events[4]["members_added"]), vec![ada.clone()]);
    assert_eq!(strings(&events[5]["members_added"]), vec![bob.clone()]);
    assert_eq!(strings(&events[5]["changed"]), vec!["members".to_owned()]);
    assert_eq!(strings(&events[6]["members_removed"]), vec![ada.clone()]);
    assert_eq!(
        strings(&events[7]["members_removed"]),
        vec![bob.clone()],
        "deleting a member is a change of its group"
    );
    assert_eq!(
        events[8]["version"], 1,
        "a delete names the version it deleted"
    );
    // Every event's id orders the log.
    let ids: Vec<String> = events
        .iter()
        .map(|e| e["id"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(ids.iter().collect::<HashSet<_>>().len(), ids.len());
}

async fn a_failed_write_records_nothing(app: &TestApp) {
    let ada = app.user("ada").await;
    assert_eq!(feed_n(app, "", 1).await.len(), 1);
    let dup = app.post("/Users", json!({"userName": "ADA"})).await;
    assert_eq!(dup.status, StatusCode::CONFLICT);
    let bad = app
        .call(
            Method::PATCH,
            &format!("/Users/{ada}"),
            Some(
                json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
                "Operations": [{"op": "replace", "path": "active", "value": "maybe"}]}),
            ),
        )
        .await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST, "{}", bad.body);
    let stale = app
        .call_with(
            Method::PUT,
            &format!("/Users/{ada}"),
            Some(json!({"userName": "ada", "title": "x"})),
            &[("if-match", "W/\"7\"")],
        )
        .await;
    assert_eq!(stale.status, StatusCode::PRECONDITION_FAILED);
    let missing = app
        .delete("/Users/01a25088-76fb-713d-8435-e744799a8565")
        .await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
    let unknown_member = app
        .post("/Groups", json!({"displayName": "g", "members": [{"value": "01a25088-76fb-713d-8435-e744799a8565"}]}))
        .await;
    assert_eq!(
        unknown_member.status,
        StatusCode::BAD_REQUEST,
        "{}",
        unknown_member.body
    );
    // A write that succeeds after them: once its event shows, any of theirs would have too.
    let marker = app.user("marker").await;
    let got = feed_n(app, "", 2).await;
    let ids: Vec<&str> = got
        .iter()
        .map(|e| e["resource_id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, vec![ada.as_str(), marker.as_str()]);
}

async fn the_feed_filters_by_type_and_operation_and_pages_from_a_cursor(app: &TestApp) {
    let mut users = Vec::new();
    for i in 0..5 {
        users.push(app.user(&format!("u{i}")).await);
    }
    let group = app.group("g", &[&users[0]]).await;
    assert_eq!(
        app.delete(&format!("/Users/{}", users[4])).await.status,
        StatusCode::NO_CONTENT
    );

    // Pages of two, each from the last one's cursor, give the whole log once, in order.
    let all = feed_n(app, "", 7).await;
    assert_eq!(all.len(), 7);
    let groups = items(&feed(app, "?resource_type=Group").await);
    assert_eq!(groups.len(), 1);
    assert_eq!(groups[0]["resource_id"], group.as_str());
    let deletes = items(&feed(app, "?operation=delete").await);
    assert_eq!(deletes.len(), 1);
    assert_eq!(deletes[0]["resource_id"], users[4].as_str());
    let mut seen = Vec::new();
    let mut cursor = String::new();
    loop {
        let q = if cursor.is_empty() {
            "?limit=2".to_owned()
        } else {
            format!("?limit=2&after={cursor}")
        };
        let page = feed(app, &q).await;
        let got = items(&page);
        cursor = page["next_cursor"].as_str().unwrap().to_owned();
        if got.is_empty() {
            break;
        }
        assert!(got.len() <= 2);
        seen.extend(got);
    }
    assert_eq!(seen, all);
    // At the end, the cursor stays where it is: poll with it as it is.
    let end = feed(app, &format!("?after={cursor}")).await;
    assert!(items(&end).is_empty());
    assert_eq!(end["next_cursor"], cursor.as_str());
    // A filter that matches nothing from a cursor on still moves the cursor past what it
    // looked at, so the next poll does not read those events again.
    let group_pos = groups[0]["id"].as_str().unwrap();
    let none = feed(app, &format!("?resource_type=Group&after={group_pos}")).await;
    assert!(items(&none).is_empty());
    assert_eq!(none["next_cursor"], all[6]["id"], "{none}");
}

/// 16 writers, a reader following the log from its cursor as they write: the reader ends with
/// every event exactly once, in increasing order.
async fn concurrent_writers_leave_no_gap_for_a_reader_following_along(app: &TestApp) {
    // The number of writes, once they are all done (0 before).
    let done = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let reader = {
        let (client, origin, token, done) = (
            app.client.clone(),
            app.origin.clone(),
            app.admin_token.clone(),
            done.clone(),
        );
        tokio::spawn(async move {
            let mut cursor = "0.0".to_owned();
            let mut seen: Vec<(String, String)> = Vec::new();
            let give_up = tokio::time::Instant::now() + std::time::Duration::from_secs(60);
            loop {
                let page: Value = client
                    .get(format!(
                        "{origin}{}",
                        scim_feed(&format!("after={cursor}&limit=7"))
                    ))
                    .bearer_auth(&token)
                    .send()
                    .await
                    .unwrap()
                    .json()
                    .await
                    .unwrap();
                let got = items(&page);
                cursor = page["next_cursor"].as_str().unwrap().to_owned();
                for e in &got {
                    seen.push((
                        e["id"].as_str().unwrap().to_owned(),
                        e["resource_id"].as_str().unwrap().to_owned(),
                    ));
                }
                let total = done.load(std::sync::atomic::Ordering::SeqCst);
                if (total > 0 && seen.len() >= total) || tokio::time::Instant::now() > give_up {
                    return seen;
                }
                if got.is_empty() {
                    tokio::time::sleep(std::time::Duration::from_millis(5)).await;
                }
            }
        })
    };
    let mut writers = Vec::new();
    for w in 0..16 {
        let (client, base, token) = (app.client.clone(), app.base.clone(), app.token.clone());
        writers.push(tokio::spawn(async move {
            let mut ids = Vec::new();
            for i in 0..8 {
                let r: Value = client
                    .post(format!("{base}/Users"))
                    .bearer_auth(&token)
                    .header("content-type", "application/scim+json")
                    .body(json!({"userName": format!("w{w}-{i}")}).to_string())
                    .send()
                    .await
                    .unwrap()
                    .json()
                    .await
                    .unwrap();
                ids.push(r["id"].as_str().expect("created").to_owned());
            }
            ids
        }));
    }
    let mut written = HashSet::new();
    for w in writers {
        written.extend(w.await.unwrap());
    }
    done.store(written.len(), std::sync::atomic::Ordering::SeqCst);
    let seen = reader.await.unwrap();
    let seen_ids: Vec<&String> = seen.iter().map(|(_, r)| r).collect();
    assert_eq!(
        seen_ids.len(),
        written.len(),
        "every write once, no duplicate"
    );
    assert_eq!(
        seen_ids.into_iter().cloned().collect::<HashSet<_>>(),
        written
    );
    let positions: Vec<(u64, i64)> = seen
        .iter()
        .map(|(id, _)| {
            let (a, b) = id.split_once('.').unwrap();
            (a.parse().unwrap(), b.parse().unwrap())
        })
        .collect();
    assert!(
        positions.windows(2).all(|w| w[0] < w[1]),
        "in increasing order: {positions:?}"
    );
}

async fn a_waiting_reader_is_answered_by_the_next_write(app: &TestApp) {
    let first = app.user("first").await;
    let cursor = feed_n(app, "", 1).await[0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(
        feed(app, "").await["items"][0]["resource_id"],
        first.as_str()
    );
    let waiting = {
        let (client, origin, token) = (
            app.client.clone(),
            app.origin.clone(),
            app.admin_token.clone(),
        );
        tokio::spawn(async move {
            client
                .get(format!(
                    "{origin}{}",
                    scim_feed(&format!("after={cursor}&wait=30"))
                ))
                .bearer_auth(&token)
                .send()
                .await
                .unwrap()
                .json::<Value>()
                .await
                .unwrap()
        })
    };
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    let second = app.user("second").await;
    let page = waiting.await.unwrap();
    let got = items(&page);
    assert_eq!(
        got.len(),
        1,
        "the waiting read returned with the new event: {page}"
    );
    assert_eq!(got[0]["resource_id"], second.as_str());
}

async fn the_feed_refuses_bad_queries_and_other_credentials(app: &TestApp) {
    for (q, field) in [
        ("?after=12", "after"),
        ("?limit=0", "limit"),
        ("?limit=1001", "limit"),
        ("?wait=61", "wait"),
        ("?resource_type=Users", "resource_type"),
        ("?operation=update", "operation"),
        ("?since=1", "since"),
    ] {
        let r = app
            .admin_call(Method::GET, &format!("{FEED}{q}"), None)
            .await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{q}: {}", r.body);
        assert_eq!(r.body["field"], field, "{q}: {}", r.body);
    }
    // A provisioning token (scim:all) does not read the feed: it needs events:read.
    let r = app
        .admin_as(&app.token.clone(), Method::GET, FEED, None)
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.body);
    assert!(r.body["detail"].as_str().unwrap().contains("events:read"));
    let r = app
        .admin_as("scimd_not-a-token", Method::GET, FEED, None)
        .await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{}", r.body);
    // Another tenant's admin sees no such realm.
    app.admin.create_tenant("other").await.unwrap();
    let other = app
        .admin
        .create_admin_token_cli(Some("other"), "o", None)
        .await
        .unwrap()
        .secret;
    let r = app.admin_as(&other, Method::GET, FEED, None).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    let r = app
        .admin_call(Method::GET, "/v1/tenants/default/realms/nope/events", None)
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
}

/// The outbox pitfall: a transaction that took its event's sequence number first but commits
/// last. A reader that has already read past the later commit must still get it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_transaction_that_commits_late_is_not_skipped_on_postgres() {
    let Some(app) = TestApp::spawn(Backend::Postgres).await else {
        return;
    };
    app.user("before").await;
    let start = feed_n(&app, "", 1).await[0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let realm_id: String = {
        let mut conn = <sqlx::AnyConnection as sqlx::Connection>::connect(&app.database_url)
            .await
            .unwrap();
        sqlx::query_scalar("SELECT CAST(id AS TEXT) FROM realms WHERE name = 'default'")
            .fetch_one(&mut conn)
            .await
            .unwrap()
    };
    // A write that started first and is still open (its txid and seq are the lower ones).
    let mut slow = <sqlx::PgConnection as sqlx::Connection>::connect(&app.database_url)
        .await
        .unwrap();
    sqlx::query("BEGIN").execute(&mut slow).await.unwrap();
    sqlx::query(
        "INSERT INTO events (realm_id, at, actor, operation, resource_type, resource_id, \
         version, changed) VALUES (CAST($1 AS uuid), now(), 'slow', 'create', 'User', \
         CAST('01a25088-76fb-713d-8435-e744799a8565' AS uuid), 1, '{}')",
    )
    .bind(&realm_id)
    .execute(&mut slow)
    .await
    .unwrap();
    // A later write commits first.
    let fast = app.user("fast").await;
    let held = feed(&app, &format!("?after={start}")).await;
    assert!(
        items(&held).is_empty(),
        "nothing past a still-open older transaction is shown yet: {held}"
    );
    assert_eq!(held["next_cursor"], start.as_str());
    sqlx::query("COMMIT").execute(&mut slow).await.unwrap();
    let got = feed_n(&app, &format!("?after={start}"), 2).await;
    let actors: Vec<&str> = got.iter().map(|e| e["actor"].as_str().unwrap()).collect();
    assert_eq!(actors.len(), 2, "{got:?}");
    assert_eq!(
        actors[0], "slow",
        "the early transaction's event comes first"
    );
    assert_eq!(got[1]["resource_id"], fast.as_str());
    app.stop().await;
}

async fn deleting_a_member_is_an_event_of_each_group_it_leaves(app: &TestApp) {
    let me = actor(app).await;
    let ada = app.user("ada").await;
    let a = app.group("a", &[&ada]).await;
    let b = app.group("b", &[&ada]).await;
    let parent = app.group("parent", &[&a]).await;
    let version = |r: &crate::helpers::Resp| r.body["meta"]["version"].clone();
    let before = version(&app.get(&format!("/Groups/{a}")).await);

    assert_eq!(
        app.delete(&format!("/Users/{ada}")).await.status,
        StatusCode::NO_CONTENT
    );
    let got = app.get(&format!("/Groups/{a}")).await;
    assert_ne!(
        version(&got),
        before,
        "a group that lost a member has a new version: {}",
        got.body
    );
    assert!(got.body["members"].as_array().is_none_or(|m| m.is_empty()));
    assert_eq!(
        app.delete(&format!("/Groups/{a}")).await.status,
        StatusCode::NO_CONTENT
    );

    let events = feed_n(app, "", 9).await;
    let tail: Vec<(String, String, Vec<String>)> = events[4..]
        .iter()
        .map(|e| {
            assert_eq!(e["actor"], me.as_str(), "{e}");
            (
                e["operation"].as_str().unwrap().to_owned(),
                e["resource_id"].as_str().unwrap().to_owned(),
                strings(&e["members_removed"]),
            )
        })
        .collect();
    let mut left: Vec<_> = tail[..2].to_vec();
    left.sort();
    let mut want = vec![
        ("patch".to_owned(), a.clone(), vec![ada.clone()]),
        ("patch".to_owned(), b.clone(), vec![ada.clone()]),
    ];
    want.sort();
    assert_eq!(left, want, "{events:#?}");
    assert_eq!(tail[2], ("delete".to_owned(), ada.clone(), vec![]));
    assert_eq!(
        tail[3],
        ("patch".to_owned(), parent.clone(), vec![a.clone()]),
        "a nested group's parent loses it too"
    );
    assert_eq!(tail[4], ("delete".to_owned(), a.clone(), vec![]));
    // The group's event carries the version it now has, and the request that caused it.
    assert_eq!(events[4]["request_id"], events[6]["request_id"]);
    assert_eq!(events[4]["changed"], json!(["members"]));
}
