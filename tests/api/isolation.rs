//! Realm isolation: 2 tenants × 2 realms, a token, a user and a group per realm. Every method
//! on every endpoint, with every other realm's ids (through the caller's own base path) and
//! with every other realm's base path (with the caller's token), is refused or finds nothing,
//! and afterwards every realm's Users and Groups read back byte for byte as before.
//!
//! Why each refusal is what it is:
//! - Another realm's id through your own base path: 404. Your token is good for your realm,
//!   and in your realm there is no such resource; a 403 would confirm that the id exists
//!   somewhere.
//! - Another realm's base path with your token: 401 (with a Bearer challenge). The realm exists
//!   and your token is not one of its tokens; scimd looks tokens up in the realm addressed, so
//!   to that realm yours is as unknown as a made-up one. Never 403: that is for a token the
//!   realm does know (no `scim:all` scope, or the realm is paused or disabled).
//! - A base path mixing one realm's tenant with another's realm name: 404, no such realm.
//! - Lists and searches through your own base path for another realm's names and ids: 200
//!   with nothing of the other realm (a filter is a query over your realm, not an address).
//! - Naming another realm's user as a member of your own group: 400 invalidValue, the id is
//!   no user or group of your realm.

use reqwest::{Method, StatusCode, Url};
use serde_json::{json, Value};

use crate::helpers::{until_status, TestApp};
use crate::{both_backends, both_backends_with};

both_backends_with!(many_refusals =>
    every_endpoint_refuses_other_realms_ids_and_base_paths_and_changes_nothing,
    a_token_on_the_short_scim_v2_alias_reaches_only_the_default_realm,
);
both_backends!(a_paused_realm_tells_other_realms_tokens_only_401);

/// These send hundreds of refused credentials on purpose: the failure limit would answer
/// them 429 (tests/api/auth_failures.rs is its own).
fn many_refusals(cfg: &mut scimd::config::Config) {
    cfg.auth_failures_per_minute = 0;
}

const SCIM_ERROR: &str = "urn:ietf:params:scim:api:messages:2.0:Error";
const PATCH_OP: &str = "urn:ietf:params:scim:api:messages:2.0:PatchOp";
const SEARCH: &str = "urn:ietf:params:scim:api:messages:2.0:SearchRequest";
/// A user of this name lives in every realm: a realm's filter for it must find its own only.
const SHARED_NAME: &str = "shared@example.com";

struct Realm {
    tenant: &'static str,
    name: &'static str,
    base: String,
    token: String,
    user_id: String,
    user_name: String,
    shared_id: String,
    group_id: String,
    group_name: String,
}

impl Realm {
    fn label(&self) -> String {
        format!("{}/{}", self.tenant, self.name)
    }
}

/// One answer, with its raw body for the byte-for-byte snapshots.
struct Answer {
    status: StatusCode,
    www_authenticate: Option<String>,
    text: String,
    body: Value,
}

async fn call(
    app: &TestApp,
    method: Method,
    url: &str,
    token: &str,
    body: Option<Value>,
) -> Answer {
    let mut req = app.client.request(method, url).bearer_auth(token);
    if let Some(b) = body {
        req = req
            .header("content-type", "application/scim+json")
            .body(b.to_string());
    }
    let resp = req.send().await.expect("request");
    let status = resp.status();
    let www_authenticate = resp
        .headers()
        .get("www-authenticate")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let text = resp.text().await.expect("body");
    let body = serde_json::from_str(&text).unwrap_or(Value::Null);
    Answer {
        status,
        www_authenticate,
        text,
        body,
    }
}

fn with_filter(url: &str, filter: &str) -> String {
    Url::parse_with_params(url, &[("filter", filter)])
        .expect("url")
        .to_string()
}

/// The four realms, each with its own token, a user of its own name, the shared-name user, and
/// a group holding both.
async fn four_realms(app: &TestApp) -> Vec<Realm> {
    app.admin.create_tenant("acme").await.unwrap();
    app.admin.create_realm("default", "second").await.unwrap();
    app.admin.create_realm("acme", "prod").await.unwrap();
    app.admin.create_realm("acme", "staging").await.unwrap();
    let mut realms = Vec::new();
    for (tenant, name) in [
        ("default", "default"),
        ("default", "second"),
        ("acme", "prod"),
        ("acme", "staging"),
    ] {
        let token = app
            .admin
            .create_token(tenant, name, "isolation", None)
            .await
            .unwrap()
            .secret;
        let base = format!("{}/v1/tenants/{tenant}/realms/{name}/scim/v2", app.origin);
        let mut ids = Vec::new();
        let user_name = format!("user@{name}.{tenant}.example.com");
        for u in [user_name.as_str(), SHARED_NAME] {
            let r = call(
                app,
                Method::POST,
                &format!("{base}/Users"),
                &token,
                Some(json!({"userName": u, "displayName": format!("{u} of {tenant}/{name}")})),
            )
            .await;
            assert_eq!(r.status, StatusCode::CREATED, "{tenant}/{name}: {}", r.text);
            ids.push(r.body["id"].as_str().unwrap().to_owned());
        }
        let group_name = format!("group of {tenant}/{name}");
        let r = call(
            app,
            Method::POST,
            &format!("{base}/Groups"),
            &token,
            Some(json!({"displayName": group_name,
                        "members": [{"value": ids[0]}, {"value": ids[1]}]})),
        )
        .await;
        assert_eq!(r.status, StatusCode::CREATED, "{tenant}/{name}: {}", r.text);
        realms.push(Realm {
            tenant,
            name,
            base,
            token,
            user_id: ids[0].clone(),
            user_name,
            shared_id: ids[1].clone(),
            group_id: r.body["id"].as_str().unwrap().to_owned(),
            group_name,
        });
    }
    realms
}

/// Everything a realm holds, as its own token reads it: the raw list bodies, and each
/// resource by id (members and groups included).
async fn snapshot(app: &TestApp, realms: &[Realm]) -> Vec<String> {
    let mut out = Vec::new();
    for r in realms {
        for path in [
            "/Users?count=1000".to_owned(),
            "/Groups?count=1000".to_owned(),
            format!("/Users/{}", r.user_id),
            format!("/Users/{}", r.shared_id),
            format!("/Groups/{}", r.group_id),
        ] {
            let a = call(
                app,
                Method::GET,
                &format!("{}{path}", r.base),
                &r.token,
                None,
            )
            .await;
            assert_eq!(a.status, StatusCode::OK, "{} {path}: {}", r.label(), a.text);
            out.push(format!("{} {path}\n{}", r.label(), a.text));
        }
    }
    out
}

/// Counts the requests checked, and checks each.
#[derive(Default)]
struct Matrix {
    checked: usize,
}

impl Matrix {
    /// A refusal: `want` with a SCIM Error body whose status matches, a Bearer challenge on a
    /// 401, and nothing of the other realm in its detail.
    fn refused(&mut self, what: &str, a: &Answer, want: StatusCode, other: &Realm) {
        self.checked += 1;
        assert_eq!(a.status, want, "{what}: {}", a.text);
        assert_eq!(a.body["schemas"], json!([SCIM_ERROR]), "{what}: {}", a.text);
        assert_eq!(a.body["status"], want.as_str(), "{what}: {}", a.text);
        if want == StatusCode::UNAUTHORIZED {
            let challenge = a.www_authenticate.as_deref().unwrap_or_default();
            assert!(challenge.starts_with("Bearer"), "{what}: {challenge:?}");
        }
        for secret in [&other.user_name, &other.group_name, &other.token] {
            assert!(
                !a.text.contains(secret.as_str()),
                "{what} leaks {secret}: {}",
                a.text
            );
        }
    }

    /// A list or search through the caller's own realm: 200, and only ids of `own` (`expect`).
    fn finds_only(&mut self, what: &str, a: &Answer, expect: &[&str], other: &Realm) {
        self.checked += 1;
        assert_eq!(a.status, StatusCode::OK, "{what}: {}", a.text);
        let ids: Vec<&str> = a.body["Resources"]
            .as_array()
            .map(|rs| rs.iter().filter_map(|r| r["id"].as_str()).collect())
            .unwrap_or_default();
        assert_eq!(ids, expect, "{what}: {}", a.text);
        assert_eq!(a.body["totalResults"], json!(expect.len()), "{what}");
        for id in [&other.user_id, &other.shared_id, &other.group_id] {
            assert!(
                !a.text.contains(id.as_str()),
                "{what} leaks {id}: {}",
                a.text
            );
        }
    }
}

fn user_put(name: &str) -> Value {
    json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": name})
}

fn patch_replace(path: &str, value: Value) -> Value {
    json!({"schemas": [PATCH_OP], "Operations": [{"op": "replace", "path": path, "value": value}]})
}

fn search_body(filter: &str) -> Value {
    json!({"schemas": [SEARCH], "filter": filter})
}

/// Every method on an item: with `token` at `base`, on `other`'s user and group.
async fn item_methods(
    app: &TestApp,
    m: &mut Matrix,
    how: &str,
    base: &str,
    token: &str,
    other: &Realm,
    want: StatusCode,
) {
    for (kind, id) in [("Users", &other.user_id), ("Groups", &other.group_id)] {
        let url = format!("{base}/{kind}/{id}");
        let put = if kind == "Users" {
            user_put("hijacked@example.com")
        } else {
            json!({"displayName": "hijacked", "members": []})
        };
        let patch = if kind == "Users" {
            patch_replace("active", json!(false))
        } else {
            json!({"schemas": [PATCH_OP], "Operations": [{"op": "remove", "path": "members"}]})
        };
        let requests = [
            (Method::GET, None),
            (Method::PUT, Some(put)),
            (Method::PATCH, Some(patch)),
            (Method::DELETE, None),
        ];
        for (method, body) in requests {
            let what = format!("{how}: {method} /{kind}/{{{}'s id}}", other.label());
            let a = call(app, method.clone(), &url, token, body).await;
            m.refused(&what, &a, want, other);
        }
    }
}

async fn every_endpoint_refuses_other_realms_ids_and_base_paths_and_changes_nothing(app: &TestApp) {
    let realms = four_realms(app).await;
    let before = snapshot(app, &realms).await;
    let mut m = Matrix::default();

    for a in &realms {
        for b in realms.iter().filter(|b| b.label() != a.label()) {
            // --- B's ids through A's own base path, with A's token: nothing there (404). ---
            let how = format!("{}'s token at its own base", a.label());
            item_methods(
                app,
                &mut m,
                &how,
                &a.base,
                &a.token,
                b,
                StatusCode::NOT_FOUND,
            )
            .await;

            // Filters for B's names and ids find nothing of B; the shared name finds A's own.
            let users = format!("{}/Users", a.base);
            let groups = format!("{}/Groups", a.base);
            for (url, filter, expect) in [
                (&users, format!("userName eq \"{}\"", b.user_name), vec![]),
                (&users, format!("id eq \"{}\"", b.user_id), vec![]),
                (&users, format!("id eq \"{}\"", b.shared_id), vec![]),
                (
                    &users,
                    format!("groups.value eq \"{}\"", b.group_id),
                    vec![],
                ),
                (
                    &users,
                    format!("userName eq \"{SHARED_NAME}\""),
                    vec![a.shared_id.as_str()],
                ),
                (
                    &groups,
                    format!("displayName eq \"{}\"", b.group_name),
                    vec![],
                ),
                (&groups, format!("id eq \"{}\"", b.group_id), vec![]),
                (
                    &groups,
                    format!("members.value eq \"{}\"", b.user_id),
                    vec![],
                ),
            ] {
                let what = format!("{how}: GET {url} ?filter={filter}");
                let r = call(app, Method::GET, &with_filter(url, &filter), &a.token, None).await;
                m.finds_only(&what, &r, &expect, b);
            }
            for (path, filter) in [
                ("/Users/.search", format!("id eq \"{}\"", b.user_id)),
                ("/Users/.search", format!("userName eq \"{}\"", b.user_name)),
                ("/Groups/.search", format!("id eq \"{}\"", b.group_id)),
                (
                    "/.search",
                    format!("id eq \"{}\" or id eq \"{}\"", b.user_id, b.group_id),
                ),
            ] {
                let what = format!("{how}: POST {path} {filter}");
                let url = format!("{}{path}", a.base);
                let r = call(
                    app,
                    Method::POST,
                    &url,
                    &a.token,
                    Some(search_body(&filter)),
                )
                .await;
                m.finds_only(&what, &r, &[], b);
            }

            // B's user named as a member of A's group: no such user in A (400 invalidValue).
            let member = json!([{"value": b.user_id}]);
            for (method, url, body) in [
                (
                    Method::PATCH,
                    format!("{}/Groups/{}", a.base, a.group_id),
                    json!({"schemas": [PATCH_OP],
                           "Operations": [{"op": "add", "path": "members", "value": member}]}),
                ),
                (
                    Method::PUT,
                    format!("{}/Groups/{}", a.base, a.group_id),
                    json!({"displayName": a.group_name, "members": member}),
                ),
                (
                    Method::POST,
                    format!("{}/Groups", a.base),
                    json!({"displayName": "smuggler", "members": member}),
                ),
            ] {
                let what = format!("{how}: {method} {url} with {}'s user as member", b.label());
                let r = call(app, method, &url, &a.token, Some(body)).await;
                m.refused(&what, &r, StatusCode::BAD_REQUEST, b);
                assert_eq!(r.body["scimType"], "invalidValue", "{what}");
            }

            // --- B's base path with A's token: B does not know the token (401). ---
            let how = format!("{}'s token at {}'s base", a.label(), b.label());
            item_methods(
                app,
                &mut m,
                &how,
                &b.base,
                &a.token,
                b,
                StatusCode::UNAUTHORIZED,
            )
            .await;
            let search = search_body(&format!("userName eq \"{}\"", b.user_name));
            let collection_requests = [
                (Method::GET, "/Users".to_owned(), None),
                (
                    Method::GET,
                    format!("/Users?filter=id%20eq%20%22{}%22", b.user_id),
                    None,
                ),
                (
                    Method::POST,
                    "/Users".to_owned(),
                    Some(user_put("planted@example.com")),
                ),
                (
                    Method::POST,
                    "/Users/.search".to_owned(),
                    Some(search.clone()),
                ),
                (Method::GET, "/Groups".to_owned(), None),
                (
                    Method::POST,
                    "/Groups".to_owned(),
                    Some(json!({"displayName": "planted"})),
                ),
                (
                    Method::POST,
                    "/Groups/.search".to_owned(),
                    Some(search.clone()),
                ),
                (Method::POST, "/.search".to_owned(), Some(search)),
                // Discovery needs no token, but a token that is sent must be the realm's.
                (Method::GET, "/ServiceProviderConfig".to_owned(), None),
                (Method::GET, "/ResourceTypes".to_owned(), None),
                (Method::GET, "/ResourceTypes/User".to_owned(), None),
                (Method::GET, "/Schemas".to_owned(), None),
                (
                    Method::GET,
                    "/Schemas/urn:ietf:params:scim:schemas:core:2.0:User".to_owned(),
                    None,
                ),
            ];
            for (method, path, body) in collection_requests {
                let what = format!("{how}: {method} {path}");
                let url = format!("{}{path}", b.base);
                let r = call(app, method, &url, &a.token, body).await;
                m.refused(&what, &r, StatusCode::UNAUTHORIZED, b);
            }

            // --- A's tenant with B's realm name (or the reverse): no such realm (404). ---
            if a.tenant != b.tenant && a.name != b.name {
                let mixed = format!(
                    "{}/v1/tenants/{}/realms/{}/scim/v2",
                    app.origin, a.tenant, b.name
                );
                let how = format!("{}'s token at {}/{}", a.label(), a.tenant, b.name);
                item_methods(
                    app,
                    &mut m,
                    &how,
                    &mixed,
                    &a.token,
                    b,
                    StatusCode::NOT_FOUND,
                )
                .await;
                for (method, path) in [(Method::GET, "/Users"), (Method::GET, "/Groups")] {
                    let what = format!("{how}: {method} {path}");
                    let r = call(app, method, &format!("{mixed}{path}"), &a.token, None).await;
                    m.refused(&what, &r, StatusCode::NOT_FOUND, b);
                }
            }
        }
    }

    let after = snapshot(app, &realms).await;
    assert_eq!(before.len(), after.len());
    for (x, y) in before.iter().zip(&after) {
        assert_eq!(x, y, "a realm's data changed");
    }
    // 12 ordered pairs × (8 + 8 + 4 + 3 + 8 + 13), and 8 pairs across tenants × (8 + 2).
    assert_eq!(m.checked, 12 * 44 + 8 * 10, "requests checked");
    eprintln!("isolation matrix: {} requests checked", m.checked);
}

async fn a_token_on_the_short_scim_v2_alias_reaches_only_the_default_realm(app: &TestApp) {
    let realms = four_realms(app).await;
    let before = snapshot(app, &realms).await;
    let alias = format!("{}/scim/v2", app.origin);
    let default = &realms[0];
    let mut m = Matrix::default();

    // The default realm's token reaches its own data through the alias, and no one else's.
    let r = call(
        app,
        Method::GET,
        &format!("{alias}/Users/{}", default.user_id),
        &default.token,
        None,
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.body["userName"], default.user_name.as_str());
    let r = call(
        app,
        Method::GET,
        &with_filter(
            &format!("{alias}/Users"),
            &format!("userName eq \"{SHARED_NAME}\""),
        ),
        &default.token,
        None,
    )
    .await;
    m.finds_only(
        "default token at /scim/v2: shared name",
        &r,
        &[&default.shared_id],
        &realms[1],
    );
    for other in &realms[1..] {
        let how = format!("default realm's token at /scim/v2, {}'s ids", other.label());
        item_methods(
            app,
            &mut m,
            &how,
            &alias,
            &default.token,
            other,
            StatusCode::NOT_FOUND,
        )
        .await;
    }

    // Any other realm's token is not a token of the default realm: 401 on the alias, even for
    // its own ids.
    for other in &realms[1..] {
        let how = format!("{}'s token at /scim/v2", other.label());
        for (method, path) in [
            (Method::GET, "/Users".to_owned()),
            (Method::GET, format!("/Users/{}", other.user_id)),
            (Method::GET, format!("/Groups/{}", other.group_id)),
            (Method::GET, format!("/Users/{}", default.user_id)),
            (Method::GET, "/ServiceProviderConfig".to_owned()),
        ] {
            let what = format!("{how}: {method} {path}");
            let r = call(app, method, &format!("{alias}{path}"), &other.token, None).await;
            m.refused(&what, &r, StatusCode::UNAUTHORIZED, default);
        }
        let r = call(
            app,
            Method::POST,
            &format!("{alias}/Users"),
            &other.token,
            Some(user_put("via-alias@example.com")),
        )
        .await;
        m.refused(
            &format!("{how}: POST /Users"),
            &r,
            StatusCode::UNAUTHORIZED,
            default,
        );
        item_methods(
            app,
            &mut m,
            &how,
            &alias,
            &other.token,
            default,
            StatusCode::UNAUTHORIZED,
        )
        .await;
    }
    assert_eq!(
        snapshot(app, &realms).await,
        before,
        "a realm's data changed"
    );
    eprintln!("alias isolation: {} requests checked", m.checked);
}

async fn a_paused_realm_tells_other_realms_tokens_only_401(app: &TestApp) {
    let realms = four_realms(app).await;
    let (paused, other) = (&realms[3], &realms[2]);
    app.admin
        .set_realm_state(paused.tenant, paused.name, scimd::store::RealmState::Paused)
        .await
        .unwrap();
    let own_url = format!("{}/Users/{}", paused.base, paused.user_id);
    // Its own token hears that it is paused (once a server on PostgreSQL has heard the change).
    let r = until_status(StatusCode::FORBIDDEN, || {
        app.client.get(&own_url).bearer_auth(&paused.token)
    })
    .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.body);
    // Another realm's token learns nothing of its state: the same 401 as any unknown token.
    let mut m = Matrix::default();
    let a = call(app, Method::GET, &own_url, &other.token, None).await;
    m.refused(
        "other realm's token at a paused realm",
        &a,
        StatusCode::UNAUTHORIZED,
        paused,
    );
    assert!(!a.text.contains("paused"), "{}", a.text);
    let a = call(
        app,
        Method::GET,
        &format!("{}/Users/{}", other.base, paused.user_id),
        &other.token,
        None,
    )
    .await;
    m.refused(
        "a paused realm's id at another realm",
        &a,
        StatusCode::NOT_FOUND,
        paused,
    );
}
