//! A database written by the previous release is migrated in place by this one: users,
//! groups, nested memberships, tokens, passwords, versions and timestamps all come through.
//!
//! The previous release's schema is built by its own migrations (those up to the last one it
//! shipped), and its rows are written in the shape its store wrote them: ids and instants as
//! text, memberships without a realm. Then this release starts on that database.

use std::borrow::Cow;
use std::collections::BTreeSet;

use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::helpers::{fresh_database, send, Backend, TestApp};

/// The newest migration of the previous release, per engine.
const LAST_RELEASED_POSTGRES: i64 = 20261204000007;
const LAST_RELEASED_SQLITE: i64 = 20261204000004;

const REALM: &str = "0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b";
const TOKEN: &str = "0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a60";
const ALICE: &str = "0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a61";
const BOB: &str = "0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a62";
const CAROL: &str = "0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a63";
const ENG: &str = "0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a64";
const PLATFORM: &str = "0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a65";

/// The previous release's schema, with its rows.
async fn previous_release(backend: Backend, url: &str, token_hash: &str) {
    let (all, last) = match backend {
        Backend::Postgres => (
            sqlx::migrate!("./migrations/postgres"),
            LAST_RELEASED_POSTGRES,
        ),
        Backend::Sqlite => (sqlx::migrate!("./migrations/sqlite"), LAST_RELEASED_SQLITE),
    };
    let old = sqlx::migrate::Migrator {
        migrations: Cow::Owned(all.iter().filter(|m| m.version <= last).cloned().collect()),
        ..all
    };
    let mut conn = <sqlx::AnyConnection as sqlx::Connection>::connect(url)
        .await
        .unwrap();
    old.run_direct(&mut conn)
        .await
        .expect("previous migrations");
    let data_param = match backend {
        Backend::Postgres => "CAST($7 AS jsonb)",
        Backend::Sqlite => "$7",
    };
    sqlx::query("INSERT INTO tenants (name, created_at) VALUES ('default', $1)")
        .bind("2026-01-01T00:00:00.000Z")
        .execute(&mut conn)
        .await
        .unwrap();
    sqlx::query(
        "INSERT INTO realms (id, tenant, name, state, created_at) \
         VALUES ($1, 'default', 'default', 'enabled', '2026-01-01T00:00:01.000Z')",
    )
    .bind(REALM)
    .execute(&mut conn)
    .await
    .unwrap();
    sqlx::query(
        "INSERT INTO tokens (id, realm_id, name, token_hash, scopes, created_at, last_used_at) \
         VALUES ($1, $2, 'okta', $3, 'scim:all', '2026-01-01T00:00:02.000Z', \
         '2026-03-01T10:00:00.000Z')",
    )
    .bind(TOKEN)
    .bind(REALM)
    .bind(token_hash)
    .execute(&mut conn)
    .await
    .unwrap();
    for (id, kind, name, ext, data, password, version, created, modified) in resources() {
        sqlx::query(&format!(
            "INSERT INTO resources (id, realm_id, kind, name, name_ci, external_id, data, \
             password_hash, version, created, last_modified) \
             VALUES ($1, $2, $3, $4, $5, $6, {data_param}, $8, $9, $10, $11)"
        ))
        .bind(id)
        .bind(REALM)
        .bind(kind)
        .bind(name)
        .bind(name.to_lowercase())
        .bind(ext)
        .bind(data.to_string())
        .bind(password)
        .bind(version)
        .bind(created)
        .bind(modified)
        .execute(&mut conn)
        .await
        .unwrap();
    }
    for (group, member) in [(ENG, ALICE), (ENG, BOB), (ENG, PLATFORM), (PLATFORM, CAROL)] {
        sqlx::query("INSERT INTO members (group_id, member_id) VALUES ($1, $2)")
            .bind(group)
            .bind(member)
            .execute(&mut conn)
            .await
            .unwrap();
    }
}

type Row = (
    &'static str,
    &'static str,
    &'static str,
    Option<&'static str>,
    Value,
    Option<&'static str>,
    i64,
    &'static str,
    &'static str,
);

fn resources() -> Vec<Row> {
    vec![
        (
            ALICE,
            "User",
            "Alice@Example.com",
            Some("ext-alice"),
            json!({"userName": "Alice@Example.com", "name": {"givenName": "Alice"},
                   "emails": [{"value": "alice@example.com", "type": "work", "primary": true}],
                   "active": true}),
            Some("$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHRzYWx0$aGFzaGhhc2hoYXNoaGFzaGhhc2g"),
            3,
            "2026-01-02T03:04:05.678Z",
            "2026-02-03T04:05:06.789Z",
        ),
        (
            BOB,
            "User",
            "bob",
            None,
            json!({"userName": "bob", "active": false}),
            None,
            1,
            "2026-01-03T00:00:00.000Z",
            "2026-01-03T00:00:00.000Z",
        ),
        (
            CAROL,
            "User",
            "carol",
            None,
            json!({"userName": "carol", "title": "SRE"}),
            None,
            2,
            "2026-01-04T00:00:00.001Z",
            "2026-01-05T00:00:00.002Z",
        ),
        (
            ENG,
            "Group",
            "Engineering",
            Some("grp-eng"),
            json!({"displayName": "Engineering"}),
            None,
            7,
            "2026-01-06T00:00:00.000Z",
            "2026-01-07T00:00:00.000Z",
        ),
        (
            PLATFORM,
            "Group",
            "Platform",
            None,
            json!({"displayName": "Platform"}),
            None,
            2,
            "2026-01-08T00:00:00.000Z",
            "2026-01-09T00:00:00.000Z",
        ),
    ]
}

fn ids(list: &Value, key: &str) -> BTreeSet<(String, String)> {
    list.as_array()
        .map(|a| {
            a.iter()
                .map(|m| {
                    let kind = m.get(key).and_then(Value::as_str).unwrap_or_default();
                    (m["value"].as_str().unwrap().to_owned(), kind.to_owned())
                })
                .collect()
        })
        .unwrap_or_default()
}

fn set(items: &[(&str, &str)]) -> BTreeSet<(String, String)> {
    items
        .iter()
        .map(|(a, b)| (a.to_string(), b.to_string()))
        .collect()
}

async fn a_previous_release_database_is_upgraded_in_place(backend: Backend) {
    sqlx::any::install_default_drivers();
    let dir = tempfile::tempdir().unwrap();
    let Some(url) = fresh_database(backend, &dir).await else {
        return;
    };
    let old_token = scimd::service::auth::mint_secret();
    previous_release(backend, &url, &old_token.hash).await;

    let app = TestApp::spawn_with(backend, |cfg| cfg.database_url = url.clone())
        .await
        .unwrap();
    let get = |path: String| {
        send(
            app.client
                .get(format!("{}{path}", app.base))
                .bearer_auth(&old_token.secret),
        )
    };

    // Every resource reads back as the previous release stored it.
    for (id, kind, name, ext, data, _, version, created, modified) in resources() {
        let r = get(format!("/{kind}s/{id}")).await;
        assert_eq!(r.status, StatusCode::OK, "{kind} {id}: {}", r.body);
        let b = &r.body;
        assert_eq!(b["id"], id);
        let name_attr = if kind == "User" {
            "userName"
        } else {
            "displayName"
        };
        assert_eq!(b[name_attr], name);
        assert_eq!(b["externalId"].as_str(), ext, "{id}");
        assert_eq!(b["meta"]["version"], format!("W/\"{version}\""), "{id}");
        assert_eq!(b["meta"]["created"], created, "{id}");
        assert_eq!(b["meta"]["lastModified"], modified, "{id}");
        for (k, v) in data.as_object().unwrap() {
            assert_eq!(&b[k], v, "{id} {k}");
        }
        assert!(b.get("password").is_none());
    }
    let eng = get(format!("/Groups/{ENG}")).await.body;
    assert_eq!(
        ids(&eng["members"], "type"),
        set(&[(ALICE, "User"), (BOB, "User"), (PLATFORM, "Group")])
    );
    let carol = get(format!("/Users/{CAROL}")).await.body;
    assert_eq!(
        ids(&carol["groups"], "type"),
        set(&[(PLATFORM, "direct"), (ENG, "indirect")])
    );
    let users = get("/Users".into()).await.body;
    assert_eq!(users["totalResults"], 3, "{users}");
    let groups = get("/Groups?filter=displayName%20eq%20%22platform%22".into())
        .await
        .body;
    assert_eq!(groups["totalResults"], 1, "{groups}");
    let sorted = get("/Users?sortBy=meta.created&sortOrder=descending".into())
        .await
        .body;
    let order: Vec<&str> = sorted["Resources"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["id"].as_str().unwrap())
        .collect();
    assert_eq!(order, [CAROL, BOB, ALICE]);

    // And it goes on working: a membership change and a password check of the kept hash.
    let r = send(
        app.client
            .patch(format!("{}/Groups/{ENG}", app.base))
            .bearer_auth(&old_token.secret)
            .header("If-Match", "W/\"7\"")
            .json(&json!({
                "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
                "Operations": [{"op": "remove", "path": format!("members[value eq \"{BOB}\"]")}]
            })),
    )
    .await;
    assert!(r.status.is_success(), "{}", r.body);
    let eng = get(format!("/Groups/{ENG}?attributes=members")).await.body;
    assert_eq!(
        ids(&eng["members"], "type"),
        set(&[(ALICE, "User"), (PLATFORM, "Group")])
    );
    let eng = get(format!("/Groups/{ENG}")).await.body;
    assert_eq!(eng["meta"]["version"], "W/\"8\"");
    let mut conn = <sqlx::AnyConnection as sqlx::Connection>::connect(&url)
        .await
        .unwrap();
    let hash: Option<String> =
        sqlx::query_scalar("SELECT password_hash FROM resources WHERE CAST(id AS TEXT) = $1")
            .bind(ALICE)
            .fetch_one(&mut conn)
            .await
            .unwrap();
    assert_eq!(hash.as_deref(), resources()[0].5);
    let tokens = app.admin.list_tokens("default", "default").await.unwrap();
    let okta = tokens.iter().find(|t| t.name == "okta").expect("old token");
    assert_eq!(okta.id, TOKEN);
    assert_eq!(okta.created_at, "2026-01-01T00:00:02.000Z");
    drop(conn);
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_previous_release_sqlite_database_is_upgraded_in_place() {
    a_previous_release_database_is_upgraded_in_place(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_previous_release_postgres_database_is_upgraded_in_place() {
    a_previous_release_database_is_upgraded_in_place(Backend::Postgres).await;
}
