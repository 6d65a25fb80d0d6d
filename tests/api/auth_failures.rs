//! Refused SCIM credentials, black-box: counted per realm and client address (and per Basic
//! username), answered 429 with Retry-After past the limit, and audited without any secret.

use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use crate::both_backends_with;
use crate::helpers::{send, Resp, TestApp};
use crate::oauth::REALM;

both_backends_with!(tight_limits =>
    refused_credentials_hold_back_their_address_on_that_realm_only,
    wrong_basic_passwords_hold_back_the_username_from_every_address,
);

const PER_ADDRESS: u32 = 5;
const PER_USERNAME: u32 = 3;

/// Small limits, and the suite's proxy trusted so each request can say which address it
/// comes from (X-Forwarded-For).
fn tight_limits(cfg: &mut scimd::config::Config) {
    cfg.auth_failures_per_minute = PER_ADDRESS;
    cfg.basic_failures_per_minute = PER_USERNAME;
    cfg.trusted_proxies = "127.0.0.1".into();
}

async fn users(app: &TestApp, base: &str, from: &str, auth: Auth<'_>) -> Resp {
    let req = app
        .client
        .get(format!("{base}/Users"))
        .header("x-forwarded-for", from);
    let req = match auth {
        Auth::Bearer(t) => req.bearer_auth(t),
        Auth::Basic(u, p) => req.basic_auth(u, Some(p)),
    };
    send(req).await
}

#[derive(Clone, Copy)]
enum Auth<'a> {
    Bearer(&'a str),
    Basic(&'a str, &'a str),
}

fn assert_held_back(r: &Resp, why: &str) {
    assert_eq!(r.status, StatusCode::TOO_MANY_REQUESTS, "{why}: {}", r.body);
    assert_eq!(r.body["status"], "429", "{why}: a SCIM error: {}", r.body);
    assert!(
        r.body["detail"]
            .as_str()
            .is_some_and(|d| d.contains("failed authentications")),
        "{why}: {}",
        r.body
    );
    let wait = r.header("retry-after").and_then(|s| s.parse::<u64>().ok());
    assert!(
        wait.is_some_and(|s| (1..=61).contains(&s)),
        "{why}: {:?}",
        r.headers
    );
}

async fn denials(app: &TestApp) -> Vec<Value> {
    let audit = app
        .admin_call(Method::GET, "/v1/tenants/default/audit", None)
        .await;
    assert_eq!(audit.status, StatusCode::OK, "{}", audit.body);
    audit.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["action"] == "scim.auth.denied")
        .cloned()
        .collect()
}

async fn refused_credentials_hold_back_their_address_on_that_realm_only(app: &TestApp) {
    let postgres = app.database_url.starts_with("postgres");
    let good = app.token.clone();
    // Verified before the guessing starts (twice: the second is served from the cache where
    // there is one).
    for _ in 0..2 {
        let r = users(app, &app.base, "198.51.100.7", Auth::Bearer(&good)).await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.body);
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    for n in 0..PER_ADDRESS {
        let guess = format!("scimd_guess_{n}");
        let r = users(app, &app.base, "203.0.113.9", Auth::Bearer(&guess)).await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED, "guess {n}: {}", r.body);
    }
    let r = users(app, &app.base, "203.0.113.9", Auth::Bearer("scimd_guess_x")).await;
    assert_held_back(&r, "one guess too many");
    let r = users(
        app,
        &app.base,
        "203.0.113.9",
        Auth::Basic("tests", "scimd_wrong"),
    )
    .await;
    assert_held_back(&r, "another scheme from the same address");

    // Another address is not held back, nor another realm from the held-back address.
    let r = users(
        app,
        &app.base,
        "203.0.113.10",
        Auth::Bearer("scimd_guess_y"),
    )
    .await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{}", r.body);
    app.admin.create_realm("default", "other").await.unwrap();
    let other = app
        .admin
        .create_token("default", "other", "other-idp", None)
        .await
        .unwrap();
    let other_base = app.base.replace("/realms/default/", "/realms/other/");
    let r = users(app, &other_base, "203.0.113.9", Auth::Bearer(&other.secret)).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);

    // The identity provider sharing the guesser's address: where the server already
    // verified its token and can vouch for it (Postgres, whose change feed keeps the cache),
    // it is served; without a cache (SQLite) nothing is checked for the held-back address.
    let r = users(app, &app.base, "203.0.113.9", Auth::Bearer(&good)).await;
    if postgres {
        assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    } else {
        assert_held_back(&r, "SQLite checks nothing for a held-back address");
    }

    // Each refusal is on record once, with its address and why; held-back requests were
    // never checked, so they are not.
    let denied = denials(app).await;
    assert_eq!(denied.len(), PER_ADDRESS as usize + 1, "{denied:#?}");
    let from_guesser: Vec<_> = denied
        .iter()
        .filter(|e| e["address"] == "203.0.113.9")
        .collect();
    assert_eq!(from_guesser.len(), PER_ADDRESS as usize);
    for e in &from_guesser {
        assert_eq!(e["actor"], "bearer-token", "{e}");
        assert_eq!(e["detail"]["reason"], "invalid_token", "{e}");
        assert_eq!(e["target"], "tenants/default/realms/default/scim/v2", "{e}");
    }
    let all = serde_json::to_string(&denied).unwrap();
    assert!(!all.contains("scimd_guess"), "no secret is recorded: {all}");
}

async fn wrong_basic_passwords_hold_back_the_username_from_every_address(app: &TestApp) {
    let mut passwords = Vec::new();
    for name in ["okta", "pingfederate"] {
        let r = app
            .admin_call(
                Method::POST,
                &format!("{REALM}/basic-credentials"),
                Some(json!({"username": name})),
            )
            .await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
        passwords.push(r.body["password"].as_str().unwrap().to_owned());
    }
    // Each wrong password from its own address: the per-address limit never trips.
    for n in 0..PER_USERNAME {
        let from = format!("192.0.2.{n}");
        let r = users(
            app,
            &app.base,
            &from,
            Auth::Basic("okta", "scimd_basic_guess"),
        )
        .await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{}", r.body);
    }
    // Now even the right password waits, from a fresh address: it was never verified.
    let r = users(
        app,
        &app.base,
        "192.0.2.200",
        Auth::Basic("okta", &passwords[0]),
    )
    .await;
    assert_held_back(&r, "the guessed username");
    // Other usernames are not held back.
    let r = users(
        app,
        &app.base,
        "192.0.2.201",
        Auth::Basic("pingfederate", &passwords[1]),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    // A username that is nobody's is refused each time, never counted as a name (a flood
    // of made-up names would only fill memory), only per address.
    for n in 0..=PER_USERNAME {
        let from = format!("192.0.2.{}", 100 + n);
        let r = users(app, &app.base, &from, Auth::Basic("nobody", "scimd_x")).await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED, "try {n}: {}", r.body);
    }
    let denied = denials(app).await;
    let okta: Vec<_> = denied
        .iter()
        .filter(|e| e["actor"] == "basic:okta")
        .collect();
    assert_eq!(okta.len(), PER_USERNAME as usize, "{denied:#?}");
    assert!(okta
        .iter()
        .all(|e| e["detail"]["reason"] == "basic_password"));
    assert!(!serde_json::to_string(&denied)
        .unwrap()
        .contains("scimd_basic_guess"));
}
