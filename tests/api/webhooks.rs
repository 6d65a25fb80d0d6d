//! Webhooks: a realm's events POSTed to a receiver the test runs, signed in the Standard
//! Webhooks format, in order, at least once, retried while the receiver is down, given up
//! after a day (and resumed by an admin), with the secret sealed at rest and rotated with an
//! overlap, and never sent twice at once by two servers.

use std::collections::HashSet;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU16, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Bytes;
use axum::http::{HeaderMap, StatusCode as AxumStatus};
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use hmac::{Hmac, Mac};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use sha2::Sha256;

use crate::helpers::TestApp;
use crate::{both_backends, both_backends_with};

/// The test key: PostgreSQL has no default key file, so the server is given one.
const KEY: &str = "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=";
const HOOKS: &str = "/v1/tenants/default/realms/default/webhooks";

fn receiving(c: &mut scimd::config::Config) {
    c.webhook_allow_private = "127.0.0.1".into();
    c.secret_key = KEY.into();
}

both_backends_with!(receiving =>
    a_write_is_delivered_signed_in_the_standard_webhooks_format,
    events_arrive_in_order_and_only_the_types_subscribed,
    a_receiver_that_was_down_gets_every_event_once_it_is_back,
    retries_run_out_after_a_day_and_resume_sends_from_where_it_stopped,
    a_rotated_secret_signs_beside_the_old_one_during_the_overlap,
    redelivery_sends_the_event_again_under_the_same_id,
    the_signing_secret_is_sealed_at_rest,
    two_servers_never_send_one_event_at_the_same_time,
);

both_backends!(webhook_requests_are_checked);

#[derive(Clone, Debug)]
struct Received {
    id: String,
    timestamp: String,
    signature: String,
    body: Vec<u8>,
    json: Value,
    /// Whether the receiver answered 2xx.
    accepted: bool,
}

/// An HTTP receiver on 127.0.0.1 that records what it gets and answers `status`.
#[derive(Clone)]
struct Receiver {
    url: String,
    seen: Arc<Mutex<Vec<Received>>>,
    status: Arc<AtomicU16>,
    delay_ms: Arc<AtomicU64>,
    /// Message ids being handled right now, and how often one arrived while already there.
    in_flight: Arc<Mutex<HashSet<String>>>,
    overlaps: Arc<AtomicUsize>,
}

impl Receiver {
    async fn start() -> Receiver {
        let r = Receiver {
            url: String::new(),
            seen: Arc::default(),
            status: Arc::new(AtomicU16::new(200)),
            delay_ms: Arc::default(),
            in_flight: Arc::default(),
            overlaps: Arc::default(),
        };
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr: SocketAddr = listener.local_addr().unwrap();
        let state = r.clone();
        let app = axum::Router::new().route(
            "/hook/{name}",
            axum::routing::post(
                move |axum::extract::Path(name): axum::extract::Path<String>,
                      headers: HeaderMap,
                      body: Bytes| {
                    let r = state.clone();
                    async move { r.take(name, headers, body).await }
                },
            ),
        );
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Receiver {
            url: format!("http://{addr}/hook/a"),
            ..r
        }
    }

    /// Requests to `/hook/<name>`: each webhook of a test has its own name.
    async fn take(&self, name: String, headers: HeaderMap, body: Bytes) -> AxumStatus {
        let h = |n: &str| {
            headers
                .get(n)
                .and_then(|v| v.to_str().ok())
                .unwrap_or_default()
                .to_owned()
        };
        let id = h("webhook-id");
        let key = format!("{name} {id}");
        if !self.in_flight.lock().unwrap().insert(key.clone()) {
            self.overlaps.fetch_add(1, Ordering::SeqCst);
        }
        let delay = self.delay_ms.load(Ordering::SeqCst);
        if delay > 0 {
            tokio::time::sleep(Duration::from_millis(delay)).await;
        }
        let status = AxumStatus::from_u16(self.status.load(Ordering::SeqCst)).unwrap();
        self.seen.lock().unwrap().push(Received {
            id: id.clone(),
            timestamp: h("webhook-timestamp"),
            signature: h("webhook-signature"),
            json: serde_json::from_slice(&body).unwrap_or(Value::Null),
            body: body.to_vec(),
            accepted: status.is_success(),
        });
        self.in_flight.lock().unwrap().remove(&key);
        status
    }

    fn answer(&self, status: u16) {
        self.status.store(status, Ordering::SeqCst);
    }

    fn all(&self) -> Vec<Received> {
        self.seen.lock().unwrap().clone()
    }

    fn accepted(&self) -> Vec<Received> {
        self.all().into_iter().filter(|r| r.accepted).collect()
    }

    /// Waits (up to 20 s) until `n` messages were accepted.
    async fn until_accepted(&self, n: usize) -> Vec<Received> {
        for _ in 0..200 {
            let got = self.accepted();
            if got.len() >= n {
                return got;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!(
            "the receiver accepted {} of {n} messages; it saw {:#?}",
            self.accepted().len(),
            self.all()
                .iter()
                .map(|r| (r.id.clone(), r.accepted))
                .collect::<Vec<_>>()
        );
    }

    /// Waits until `n` requests arrived, accepted or not.
    async fn until_seen(&self, n: usize) -> Vec<Received> {
        for _ in 0..200 {
            let got = self.all();
            if got.len() >= n {
                return got;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("the receiver saw {} of {n} requests", self.all().len());
    }
}

/// Checks one signature as a receiver would: HMAC-SHA256 of `id.timestamp.body` under the
/// secret's base64-decoded bytes.
fn signed_by(secret: &str, r: &Received) -> bool {
    let key = STANDARD
        .decode(secret.strip_prefix("whsec_").expect("a whsec_ secret"))
        .unwrap();
    let mut mac = Hmac::<Sha256>::new_from_slice(&key).unwrap();
    mac.update(format!("{}.{}.", r.id, r.timestamp).as_bytes());
    mac.update(&r.body);
    let want = format!("v1,{}", STANDARD.encode(mac.finalize().into_bytes()));
    r.signature.split(' ').any(|s| s == want)
}

async fn subscribe(app: &TestApp, url: &str, extra: Value) -> (String, String) {
    let mut body = json!({"url": url});
    if let (Value::Object(b), Value::Object(e)) = (&mut body, extra) {
        b.extend(e);
    }
    let r = app.admin_call(Method::POST, HOOKS, Some(body)).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    let id = r.body["id"].as_str().unwrap().to_owned();
    let secret = r.body["secret"].as_str().unwrap().to_owned();
    (id, secret)
}

async fn hook(app: &TestApp, id: &str) -> Value {
    let r = app
        .admin_call(Method::GET, &format!("{HOOKS}/{id}"), None)
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    r.body
}

async fn deliveries(app: &TestApp, id: &str) -> Vec<Value> {
    let r = app
        .admin_call(Method::GET, &format!("{HOOKS}/{id}/deliveries"), None)
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    r.body["items"].as_array().cloned().unwrap_or_default()
}

/// Waits until the webhook's state satisfies `ok`.
async fn until_hook(app: &TestApp, id: &str, ok: impl Fn(&Value) -> bool) -> Value {
    for _ in 0..200 {
        let h = hook(app, id).await;
        if ok(&h) {
            return h;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("the webhook never got there: {:#}", hook(app, id).await);
}

async fn a_write_is_delivered_signed_in_the_standard_webhooks_format(app: &TestApp) {
    let rx = Receiver::start().await;
    let (id, secret) = subscribe(app, &rx.url, json!({"description": "directory sync"})).await;
    assert!(secret.starts_with("whsec_"), "{secret}");
    let shown = hook(app, &id).await;
    assert!(shown.get("secret").is_none(), "the secret is shown once");
    assert_eq!(shown["event_types"], json!(["group.*", "user.*"]));
    assert_eq!(shown["status"], "active");

    let user = app.user("webhook.alice").await;
    let got = rx.until_accepted(1).await;
    let m = &got[0];
    assert!(
        signed_by(&secret, m),
        "signature {} does not verify",
        m.signature
    );
    assert!(m.id.starts_with("evt_"), "{}", m.id);
    let ts: i64 = m.timestamp.parse().expect("a unix timestamp");
    assert!((ts - chrono::Utc::now().timestamp()).abs() < 600);
    assert_eq!(m.json["type"], "user.create");
    assert_eq!(m.json["data"]["resource_id"], user.as_str());
    assert_eq!(m.json["data"]["resource_type"], "User");
    assert_eq!(m.json["data"]["tenant"], "default");
    assert_eq!(m.json["data"]["realm"], "default");
    assert_eq!(m.json["data"]["operation"], "create");

    // A tampered body no longer matches its signature.
    let mut forged = m.clone();
    forged.body = br#"{"type":"user.delete"}"#.to_vec();
    assert!(!signed_by(&secret, &forged));

    let h = until_hook(app, &id, |h| h["last_success_at"].is_string()).await;
    assert_eq!(h["delivered_through"], m.json["data"]["id"]);
    let d = deliveries(app, &id).await;
    assert_eq!(d[0]["status_code"], 200);
    assert_eq!(d[0]["ok"], true);
    assert_eq!(d[0]["attempt"], 1);
    assert_eq!(d[0]["event_type"], "user.create");

    // Checked again by the reference implementation, when it is installed (CI installs it).
    verify_with_standardwebhooks(&secret, m);
}

/// The PyPI `standardwebhooks` package verifies the message: an implementation that is not
/// ours. Required in CI; elsewhere skipped with a note when it is missing.
fn verify_with_standardwebhooks(secret: &str, m: &Received) {
    let script = r#"
import json, sys
from standardwebhooks.webhooks import Webhook
secret, msg_id, ts, sig, body = sys.argv[1:6]
Webhook(secret).verify(body, {"webhook-id": msg_id, "webhook-timestamp": ts, "webhook-signature": sig})
try:
    Webhook(secret).verify(body + " ", {"webhook-id": msg_id, "webhook-timestamp": ts, "webhook-signature": sig})
except Exception:
    print("verified")
"#;
    let python = std::env::var("SCIMD_TEST_PYTHON").unwrap_or_else(|_| "python3".into());
    let has = std::process::Command::new(&python)
        .args(["-c", "import standardwebhooks"])
        .output()
        .is_ok_and(|o| o.status.success());
    if !has {
        assert!(
            std::env::var_os("CI").is_none(),
            "CI needs the standardwebhooks package (scripts/test.sh installs it)"
        );
        eprintln!("note: python3 standardwebhooks is not installed; reference check skipped");
        return;
    }
    let out = std::process::Command::new(&python)
        .args([
            "-c",
            script,
            secret,
            &m.id,
            &m.timestamp,
            &m.signature,
            std::str::from_utf8(&m.body).unwrap(),
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success() && String::from_utf8_lossy(&out.stdout).trim() == "verified",
        "standardwebhooks refused the message: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

async fn events_arrive_in_order_and_only_the_types_subscribed(app: &TestApp) {
    let rx = Receiver::start().await;
    let (_, _) = subscribe(
        app,
        &rx.url,
        json!({"event_types": ["group.*", "user.delete"]}),
    )
    .await;
    let alice = app.user("order.alice").await;
    let group = app.group("order-team", &[&alice]).await;
    let r = app
        .call(
            Method::PATCH,
            &format!("/Groups/{group}"),
            Some(
                json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
                "Operations": [{"op": "replace", "path": "displayName", "value": "order-team-2"}]}),
            ),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let r = app.delete(&format!("/Users/{alice}")).await;
    assert_eq!(r.status, StatusCode::NO_CONTENT);
    let got = rx.until_accepted(4).await;
    let types: Vec<&str> = got
        .iter()
        .map(|m| m.json["type"].as_str().unwrap())
        .collect();
    // The user's creation is not subscribed; her deletion takes her out of the group, a
    // change of the group's own.
    assert_eq!(
        &types[..4],
        ["group.create", "group.patch", "group.patch", "user.delete"]
    );
    assert_eq!(got[2].json["data"]["members_removed"], json!([alice]));
    assert_eq!(got[0].json["data"]["members_added"], json!([alice]));
    let ids: Vec<&str> = got
        .iter()
        .map(|m| m.json["data"]["id"].as_str().unwrap())
        .collect();
    let mut sorted = ids.clone();
    sorted.sort_by_key(|i| {
        let (a, b) = i.split_once('.').unwrap();
        (a.parse::<u64>().unwrap(), b.parse::<i64>().unwrap())
    });
    assert_eq!(ids, sorted, "delivered in log order");
}

async fn a_receiver_that_was_down_gets_every_event_once_it_is_back(app: &TestApp) {
    let rx = Receiver::start().await;
    rx.answer(503);
    let (id, _) = subscribe(app, &rx.url, json!({})).await;
    let mut users = Vec::new();
    for i in 0..3 {
        users.push(app.user(&format!("down.{i}")).await);
    }
    rx.until_seen(1).await;
    let h = until_hook(app, &id, |h| h["status"] == "retrying").await;
    assert!(h["next_attempt_at"].is_string(), "{h:#}");
    let d = deliveries(app, &id).await;
    assert_eq!(d[0]["status_code"], 503);
    assert_eq!(d[0]["ok"], false);
    assert!(
        d[0]["error"].as_str().unwrap().contains("503"),
        "{:#}",
        d[0]
    );
    // Nothing after the failing event is sent before it: one request so far.
    assert!(rx
        .all()
        .iter()
        .all(|m| m.json["data"]["resource_id"] == users[0].as_str()));

    rx.answer(200);
    // The retry falls due (the backoff is at most an hour).
    app.clock.advance(chrono::Duration::hours(1));
    let got = rx.until_accepted(3).await;
    let delivered: Vec<&str> = got
        .iter()
        .map(|m| m.json["data"]["resource_id"].as_str().unwrap())
        .collect();
    assert_eq!(
        delivered,
        users.iter().map(String::as_str).collect::<Vec<_>>()
    );
    until_hook(app, &id, |h| h["status"] == "active" && h["attempts"] == 0).await;
}

async fn retries_run_out_after_a_day_and_resume_sends_from_where_it_stopped(app: &TestApp) {
    let rx = Receiver::start().await;
    rx.answer(500);
    let (id, _) = subscribe(app, &rx.url, json!({})).await;
    let first = app.user("dead.0").await;
    rx.until_seen(1).await;
    until_hook(app, &id, |h| h["status"] == "retrying").await;
    app.clock.advance(chrono::Duration::hours(25));
    let h = until_hook(app, &id, |h| h["status"] == "failing").await;
    assert!(
        h["failure"].as_str().unwrap().contains("500"),
        "the failure says why: {h:#}"
    );
    let second = app.user("dead.1").await;

    rx.answer(200);
    let r = app
        .admin_call(Method::POST, &format!("{HOOKS}/{id}/resume"), None)
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let got = rx.until_accepted(2).await;
    assert_eq!(got[0].json["data"]["resource_id"], first.as_str());
    assert_eq!(got[1].json["data"]["resource_id"], second.as_str());
    until_hook(app, &id, |h| {
        h["status"] == "active" && h["failure"].is_null()
    })
    .await;
}

async fn a_rotated_secret_signs_beside_the_old_one_during_the_overlap(app: &TestApp) {
    let rx = Receiver::start().await;
    let (id, old) = subscribe(app, &rx.url, json!({})).await;
    let r = app
        .admin_call(
            Method::POST,
            &format!("{HOOKS}/{id}/rotate-secret"),
            Some(json!({"overlap_seconds": 3600})),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let new = r.body["secret"].as_str().unwrap().to_owned();
    assert_ne!(new, old);
    assert!(r.body["previous_secret_valid_until"].is_string());
    app.user("rotate.0").await;
    let m = rx.until_accepted(1).await[0].clone();
    assert_eq!(m.signature.split(' ').count(), 2, "{}", m.signature);
    assert!(signed_by(&old, &m) && signed_by(&new, &m));

    // Past the overlap only the new secret signs.
    app.clock.advance(chrono::Duration::hours(2));
    app.user("rotate.1").await;
    let m = rx.until_accepted(2).await[1].clone();
    assert_eq!(m.signature.split(' ').count(), 1, "{}", m.signature);
    assert!(signed_by(&new, &m) && !signed_by(&old, &m));

    let r = app
        .admin_call(
            Method::POST,
            &format!("{HOOKS}/{id}/rotate-secret"),
            Some(json!({"overlap_seconds": -1})),
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert_eq!(r.body["field"], "overlap_seconds");
}

async fn redelivery_sends_the_event_again_under_the_same_id(app: &TestApp) {
    let rx = Receiver::start().await;
    let (id, secret) = subscribe(app, &rx.url, json!({})).await;
    app.user("again.0").await;
    let first = rx.until_accepted(1).await[0].clone();
    let d = until_deliveries(app, &id, 1).await;
    let r = app
        .admin_call(
            Method::POST,
            &format!(
                "{HOOKS}/{id}/deliveries/{}/redeliver",
                d[0]["id"].as_str().unwrap()
            ),
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.body["manual"], true);
    assert_eq!(r.body["ok"], true);
    assert_eq!(r.body["attempt"], 2);
    let again = rx.until_accepted(2).await[1].clone();
    assert_eq!(
        again.id, first.id,
        "the same message id: a receiver can drop it"
    );
    assert!(signed_by(&secret, &again));
    assert_eq!(deliveries(app, &id).await.len(), 2);

    let r = app
        .admin_call(
            Method::POST,
            &format!("{HOOKS}/{id}/deliveries/{}/redeliver", uuid::Uuid::now_v7()),
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
}

async fn until_deliveries(app: &TestApp, id: &str, n: usize) -> Vec<Value> {
    for _ in 0..100 {
        let d = deliveries(app, id).await;
        if d.len() >= n {
            return d;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("fewer than {n} deliveries recorded");
}

async fn the_signing_secret_is_sealed_at_rest(app: &TestApp) {
    let rx = Receiver::start().await;
    let (id, secret) = subscribe(app, &rx.url, json!({})).await;
    sqlx::any::install_default_drivers();
    let mut conn = <sqlx::AnyConnection as sqlx::Connection>::connect(&app.database_url)
        .await
        .unwrap();
    let row: (String,) = sqlx::query_as(&format!(
        "SELECT secret FROM webhooks WHERE CAST(id AS TEXT) = '{id}'"
    ))
    .fetch_one(&mut conn)
    .await
    .unwrap();
    let raw = secret.trim_start_matches("whsec_");
    assert!(row.0.starts_with("v1."), "{}", row.0);
    assert!(!row.0.contains(raw) && !row.0.contains(&secret));
    let dump: Vec<(String,)> = sqlx::query_as("SELECT CAST(detail AS TEXT) FROM audit_events")
        .fetch_all(&mut conn)
        .await
        .unwrap();
    assert!(!dump.is_empty());
    assert!(
        dump.iter().all(|(d,)| !d.contains(raw)),
        "no secret in the audit record"
    );
}

async fn two_servers_never_send_one_event_at_the_same_time(app: &TestApp) {
    if app.database_url.starts_with("sqlite") {
        // One SQLite file has one server.
        return;
    }
    let rx = Receiver::start().await;
    rx.delay_ms.store(50, Ordering::SeqCst);
    let peer = app.peer_with(receiving).await;
    let (_, _) = subscribe(app, &rx.url, json!({})).await;
    let second = rx.url.replace("/hook/a", "/hook/b");
    let (_, _) = subscribe(app, &second, json!({"description": "second"})).await;
    let client = reqwest::Client::new();
    let mut writes = Vec::new();
    for i in 0..20 {
        let base = if i % 2 == 0 {
            app.base.clone()
        } else {
            peer.base.clone()
        };
        let req = client
            .post(format!("{base}/Users"))
            .bearer_auth(&app.token)
            .header("content-type", "application/scim+json")
            .body(
                json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
                "userName": format!("twin.{i}")})
                .to_string(),
            );
        writes.push(tokio::spawn(req.send()));
    }
    for w in writes {
        assert_eq!(w.await.unwrap().unwrap().status(), StatusCode::CREATED);
    }
    // Two webhooks, twenty events each.
    let got = rx.until_accepted(40).await;
    assert_eq!(
        rx.overlaps.load(Ordering::SeqCst),
        0,
        "a message was sent twice at once"
    );
    let distinct: HashSet<(String, String)> = got
        .iter()
        .map(|m| (m.id.clone(), m.signature.clone()))
        .collect();
    assert_eq!(distinct.len(), 40, "every event reached both webhooks");
    peer.stop().await;
}

async fn webhook_requests_are_checked(app: &TestApp) {
    let bad = |url: &str| json!({"url": url});
    for (body, field) in [
        (bad("http://127.0.0.1:9/hook"), "url"),
        (bad("http://10.0.0.8/hook"), "url"),
        (bad("http://169.254.169.254/latest"), "url"),
        (bad("ftp://example.com/hook"), "url"),
        (bad("https://user:pw@example.com/hook"), "url"),
        (json!({}), "url"),
        (
            json!({"url": "https://example.com/h", "event_types": ["user.update"]}),
            "event_types",
        ),
        (
            json!({"url": "https://example.com/h", "event_types": []}),
            "event_types",
        ),
        (
            json!({"url": "https://example.com/h", "secret": "mine"}),
            "secret",
        ),
        (
            json!({"url": "https://example.com/h", "retries": 3}),
            "retries",
        ),
    ] {
        let r = app
            .admin_call(Method::POST, HOOKS, Some(body.clone()))
            .await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{body} → {}", r.body);
        assert_eq!(r.body["field"], field, "{body} → {}", r.body);
        assert!(r.body["detail"].as_str().is_some_and(|d| d.len() > 20));
    }
    let r = app
        .admin_call(
            Method::POST,
            HOOKS,
            Some(json!({"url": "https://example.com/h"})),
        )
        .await;
    if app.database_url.starts_with("postgres") {
        // No key given and none beside a database file: sealing is impossible, and said so.
        assert_eq!(r.status, StatusCode::CONFLICT, "{}", r.body);
        assert!(
            r.body["detail"].as_str().unwrap().contains("secret_key"),
            "{}",
            r.body
        );
        return;
    }
    // SQLite keeps its key beside the database file.
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    let id = r.body["id"].as_str().unwrap().to_owned();
    let r = app
        .admin_call(
            Method::PATCH,
            &format!("{HOOKS}/{id}"),
            Some(json!({"enabled": false, "event_types": ["*.delete"]})),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.body["status"], "disabled");
    assert_eq!(r.body["event_types"], json!(["*.delete"]));
    let r = app
        .admin_call(
            Method::PATCH,
            &format!("{HOOKS}/{id}"),
            Some(json!({"url": "http://192.168.0.1/"})),
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    let r = app
        .admin_call(
            Method::GET,
            &format!("{HOOKS}/{id}/deliveries?limit=0"),
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    let r = app
        .admin_call(
            Method::GET,
            &format!("{HOOKS}/{}", uuid::Uuid::now_v7()),
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    let r = app.admin_call(Method::GET, HOOKS, None).await;
    assert_eq!(r.body["items"].as_array().unwrap().len(), 1);
    let r = app
        .admin_call(Method::DELETE, &format!("{HOOKS}/{id}"), None)
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT);
    let r = app
        .admin_call(Method::DELETE, &format!("{HOOKS}/{id}"), None)
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    // A SCIM token is not an admin credential.
    let r = app
        .call(Method::GET, &format!("{}{HOOKS}", app.origin), None)
        .await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
}
