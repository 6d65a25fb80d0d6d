//! Two replicas: two scimd servers on one PostgreSQL database behave as one service. What one
//! writes the other reads, a token revoked through one stops working on the other within the
//! second the change feed promises, and membership changes sent through both at once all land.
//! (SQLite is one process's file: there is no second replica to test there.)

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use crate::helpers::{send, Backend, Peer, Resp, TestApp};

/// The app and a second server on its database, or `None` where Postgres is not tested.
async fn replicas() -> Option<(TestApp, Peer)> {
    let app = TestApp::spawn(Backend::Postgres).await?;
    let peer = app.peer().await;
    Some((app, peer))
}

/// A request to `path` under `base` (either server's), with `token`.
async fn call(
    app: &TestApp,
    base: &str,
    token: &str,
    method: Method,
    path: &str,
    body: Option<Value>,
) -> Resp {
    let mut req = app
        .client
        .request(method, format!("{base}{path}"))
        .bearer_auth(token);
    if let Some(b) = body {
        req = req
            .header("content-type", "application/scim+json")
            .body(b.to_string());
    }
    send(req).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_write_through_one_replica_is_read_back_through_the_other() {
    let Some((app, peer)) = replicas().await else {
        return;
    };
    let t = &app.token;
    let created = call(
        &app,
        &app.base,
        t,
        Method::POST,
        "/Users",
        Some(json!({"userName": "replicated", "title": "first"})),
    )
    .await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.body);
    let id = created.body["id"].as_str().unwrap().to_owned();
    let read = call(
        &app,
        &peer.base,
        t,
        Method::GET,
        &format!("/Users/{id}"),
        None,
    )
    .await;
    assert_eq!(read.status, StatusCode::OK, "{}", read.body);
    assert_eq!(read.body["title"], "first");
    assert_eq!(
        read.body["meta"]["version"],
        created.body["meta"]["version"]
    );

    // And back the other way: a change through the second is what the first serves.
    let patched = call(
        &app,
        &peer.base,
        t,
        Method::PATCH,
        &format!("/Users/{id}"),
        Some(json!({"Operations": [{"op": "replace", "path": "title", "value": "second"}]})),
    )
    .await;
    assert_eq!(patched.status, StatusCode::OK, "{}", patched.body);
    let read = app.get(&format!("/Users/{id}")).await;
    assert_eq!(read.body["title"], "second");
    assert_eq!(
        read.body["meta"]["version"],
        patched.body["meta"]["version"]
    );
    let listed = app.get("/Users?filter=title%20eq%20%22second%22").await;
    assert_eq!(listed.body["totalResults"], 1, "{}", listed.body);
    peer.stop().await;
    app.stop().await;
}

/// Sends `req` until it is refused with 401 or `bound` has passed since `from`; returns the
/// last answer and whether it came within the bound.
async fn refused_within(
    from: Instant,
    bound: Duration,
    req: impl Fn() -> reqwest::RequestBuilder,
) -> (Resp, bool) {
    loop {
        let r = send(req()).await;
        let within = from.elapsed() <= bound;
        if r.status == StatusCode::UNAUTHORIZED || !within {
            return (r, within);
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_token_revoked_through_one_replica_is_refused_by_the_other_within_a_second() {
    let Some((app, peer)) = replicas().await else {
        return;
    };
    let t = app
        .admin
        .create_token("default", "default", "revoked-on-one", None)
        .await
        .unwrap();
    // Both servers have accepted the token, so each may serve it from its own cache.
    for base in [&app.base, &peer.base] {
        for _ in 0..3 {
            let r = call(&app, base, &t.secret, Method::GET, "/Users", None).await;
            assert_eq!(r.status, StatusCode::OK, "{base}: {}", r.body);
        }
    }
    // Revoked through the first server's database connection, as `scimd token revoke` next
    // to it would.
    app.admin
        .revoke_token("default", "default", &t.info.id)
        .await
        .unwrap();
    let revoked = Instant::now();
    let url = format!("{}/Users", peer.base);
    let (r, within) = refused_within(revoked, Duration::from_secs(1), || {
        app.client.get(&url).bearer_auth(&t.secret)
    })
    .await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{}", r.body);
    assert!(
        within,
        "the other replica still accepted the token a second after it was revoked"
    );
    assert_eq!(
        r.body["detail"], "the bearer token is not valid for this realm",
        "{}",
        r.body
    );
    // The server next to the revocation hears of it the same way, and may hear it a little
    // later than its peer did: the bound holds for it too.
    let url = format!("{}/Users", app.base);
    let (r, within) = refused_within(revoked, Duration::from_secs(1), || {
        app.client.get(&url).bearer_auth(&t.secret)
    })
    .await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{}", r.body);
    assert!(
        within,
        "the revoking side still accepted the token after a second"
    );
    // The other tokens of the realm are untouched on both.
    for base in [&app.base, &peer.base] {
        let r = call(&app, base, &app.token, Method::GET, "/Users", None).await;
        assert_eq!(r.status, StatusCode::OK, "{base}: {}", r.body);
    }
    peer.stop().await;
    app.stop().await;
}

fn member_ids(group: &Value) -> BTreeSet<String> {
    group["members"]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|m| m["value"].as_str().unwrap().to_owned())
                .collect()
        })
        .unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_member_additions_through_both_replicas_lose_no_member() {
    let Some((app, peer)) = replicas().await else {
        return;
    };
    let group = app.group("shared", &[]).await;
    let mut users = BTreeSet::new();
    for i in 0..40 {
        users.insert(app.user(&format!("r{i}")).await);
    }
    // Each server batches the changes it receives; the two batches race on the group's row.
    let mut tasks = Vec::new();
    for (i, u) in users.iter().enumerate() {
        let base = if i % 2 == 0 { &app.base } else { &peer.base };
        let req = app
            .client
            .request(Method::PATCH, format!("{base}/Groups/{group}"))
            .bearer_auth(&app.token)
            .header("content-type", "application/scim+json")
            .body(
                json!({"Operations": [{"op": "add", "path": "members", "value": [{"value": u}]}]})
                    .to_string(),
            );
        let u = u.clone();
        tasks.push(tokio::spawn(async move { (u, send(req).await) }));
    }
    for t in tasks {
        let (u, r) = t.await.unwrap();
        assert_eq!(r.status, StatusCode::OK, "adding {u}: {}", r.body);
        assert!(
            member_ids(&r.body).contains(&u),
            "the answer lacks {u}: {}",
            r.body
        );
    }
    for base in [&app.base, &peer.base] {
        let g = call(
            &app,
            base,
            &app.token,
            Method::GET,
            &format!("/Groups/{group}"),
            None,
        )
        .await;
        assert_eq!(member_ids(&g.body), users, "through {base}");
    }
    peer.stop().await;
    app.stop().await;
}

/// An access token issued by one replica's token endpoint works on the other, and disabling
/// its client through the first replica's admin API ends it on the other within the second.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_access_token_from_one_replica_works_on_the_other_until_its_client_is_disabled() {
    let Some((app, peer)) = replicas().await else {
        return;
    };
    let realm = "/v1/tenants/default/realms/default";
    let created = app
        .admin_call(
            Method::POST,
            &format!("{realm}/oauth-clients"),
            Some(json!({"name": "replicated"})),
        )
        .await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.body);
    let id = created.body["client_id"].as_str().unwrap();
    let secret = created.body["client_secret"].as_str().unwrap();
    let peer_origin = peer.base.trim_end_matches(&format!("{realm}/scim/v2"));
    let issued = send(
        app.client
            .post(format!("{peer_origin}{realm}/oauth2/token"))
            .basic_auth(id, Some(secret))
            .form(&[("grant_type", "client_credentials")]),
    )
    .await;
    assert_eq!(issued.status, StatusCode::OK, "{}", issued.body);
    let token = issued.body["access_token"].as_str().unwrap();
    for base in [&app.base, &peer.base] {
        let r = call(&app, base, token, Method::GET, "/Users", None).await;
        assert_eq!(r.status, StatusCode::OK, "{base}: {}", r.body);
    }
    let r = app
        .admin_call(
            Method::PATCH,
            &format!("{realm}/oauth-clients/{id}"),
            Some(json!({"enabled": false})),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let disabled = Instant::now();
    let url = format!("{}/Users", peer.base);
    let (r, within) = refused_within(disabled, Duration::from_secs(1), || {
        app.client.get(&url).bearer_auth(token)
    })
    .await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{}", r.body);
    assert!(
        within,
        "the other replica still accepted the access token a second after its client was disabled"
    );
}

/// A chosen Basic password is verified (Argon2) once and then remembered by each server: the
/// credential deleted through one replica's admin API is refused by the other within the
/// second, as a revoked token is.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_basic_credential_deleted_through_one_replica_is_refused_by_the_other_within_a_second() {
    let Some((app, peer)) = replicas().await else {
        return;
    };
    let password = "a password the operator chose";
    let created = app
        .admin_call(
            Method::POST,
            "/v1/tenants/default/realms/default/basic-credentials",
            Some(json!({"username": "pingfederate", "password": password})),
        )
        .await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.body);
    let id = created.body["id"].as_str().unwrap().to_owned();
    for base in [&app.base, &peer.base] {
        for _ in 0..3 {
            let r = send(
                app.client
                    .get(format!("{base}/Users"))
                    .basic_auth("pingfederate", Some(password)),
            )
            .await;
            assert_eq!(r.status, StatusCode::OK, "{base}: {}", r.body);
        }
    }
    let deleted = app
        .admin_call(
            Method::DELETE,
            &format!("/v1/tenants/default/realms/default/basic-credentials/{id}"),
            None,
        )
        .await;
    assert_eq!(deleted.status, StatusCode::NO_CONTENT, "{}", deleted.body);
    let gone = Instant::now();
    let url = format!("{}/Users", peer.base);
    let (r, within) = refused_within(gone, Duration::from_secs(1), || {
        app.client
            .get(&url)
            .basic_auth("pingfederate", Some(password))
    })
    .await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{}", r.body);
    assert!(
        within,
        "the other replica still accepted the deleted credential a second later"
    );
}
