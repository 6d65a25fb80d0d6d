//! /openapi.json: served without a token, and true to the live server in both directions: every
//! documented operation answers as documented (status, body schema, security), and the server
//! answers nothing the document leaves out.

use std::collections::BTreeSet;

use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use crate::both_backends;
use crate::helpers::{send, Resp, TestApp};

both_backends!(
    openapi_document_is_served_without_a_token_and_lists_exactly_the_served_endpoints,
    every_documented_operation_answers_with_a_documented_status_and_body,
);

const METHODS: [&str; 5] = ["get", "post", "put", "patch", "delete"];
const LONG_BASE: &str = "/v1/tenants/{tenant}/realms/{realm}/scim/v2";

async fn fetch_document(app: &TestApp) -> Value {
    let r = send(app.client.get(format!("{}/openapi.json", app.origin))).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.header("content-type"), Some("application/json"));
    assert!(
        r.body["openapi"]
            .as_str()
            .unwrap_or_default()
            .starts_with("3.1"),
        "{}",
        r.body["openapi"]
    );
    r.body
}

/// (method, path template) of every documented operation.
fn documented(doc: &Value) -> BTreeSet<(String, String)> {
    let mut out = BTreeSet::new();
    for (path, item) in doc["paths"].as_object().expect("paths") {
        for method in item.as_object().expect("path item").keys() {
            assert!(METHODS.contains(&method.as_str()), "{method} {path}");
            out.insert((method.clone(), path.clone()));
        }
    }
    out
}

/// The endpoints the README promises, written out independently of the server's route table.
fn promised() -> BTreeSet<(String, String)> {
    let mut out: BTreeSet<(String, String)> = [
        ("get", "/healthz"),
        ("get", "/readyz"),
        ("get", "/openapi.json"),
    ]
    .into_iter()
    .map(|(m, p)| (m.to_owned(), p.to_owned()))
    .collect();
    for base in [LONG_BASE, "/scim/v2"] {
        let mut add = |m: &str, p: &str| out.insert((m.to_owned(), format!("{base}{p}")));
        for p in [
            "/ServiceProviderConfig",
            "/ResourceTypes",
            "/ResourceTypes/{id}",
            "/Schemas",
            "/Schemas/{id}",
        ] {
            add("get", p);
        }
        for c in ["/Users", "/Groups"] {
            add("get", c);
            add("post", c);
            add("post", &format!("{c}/.search"));
            for m in ["get", "put", "patch", "delete"] {
                add(m, &format!("{c}/{{id}}"));
            }
        }
        add("post", "/.search");
    }
    out
}

/// A 404 from the router's fallback (no such endpoint), as opposed to a missing resource.
fn is_unrouted(r: &Resp) -> bool {
    r.status == StatusCode::METHOD_NOT_ALLOWED
        || (r.status == StatusCode::NOT_FOUND
            && r.body["detail"]
                .as_str()
                .is_some_and(|d| d.starts_with("no endpoint at")))
}

async fn openapi_document_is_served_without_a_token_and_lists_exactly_the_served_endpoints(
    app: &TestApp,
) {
    let doc = fetch_document(app).await;
    let documented = documented(&doc);
    assert_eq!(documented, promised());

    // Every other method on a documented path, and every method on paths the API listener does
    // not serve, must be unrouted.
    let paths: BTreeSet<&String> = documented.iter().map(|(_, p)| p).collect();
    let mut probes: Vec<(String, String)> = Vec::new();
    for path in &paths {
        for m in METHODS {
            if !documented.contains(&(m.to_owned(), (*path).clone())) {
                probes.push((m.to_owned(), (*path).clone()));
            }
        }
    }
    for path in [
        "/",
        "/metrics",
        "/scim/v2",
        "/scim/v2/Bulk",
        "/scim/v2/Me",
        "/v1/tenants/{tenant}/realms/{realm}/scim/v2/Bulk",
        // The admin API's paths are in /admin/openapi.json (tests/api/admin_api.rs).
    ] {
        for m in METHODS {
            probes.push((m.to_owned(), path.to_owned()));
        }
    }
    for (m, path) in probes {
        let url = format!(
            "{}{}",
            app.origin,
            path.replace("{tenant}", "default")
                .replace("{realm}", "default")
                .replace("{id}", "x")
        );
        let method = Method::from_bytes(m.to_uppercase().as_bytes()).unwrap();
        let r = send(
            app.client
                .request(method, url)
                .bearer_auth(&app.token)
                .header("content-type", "application/scim+json")
                .body("{}"),
        )
        .await;
        assert!(
            is_unrouted(&r),
            "{m} {path} is answered ({}) but not documented: {}",
            r.status,
            r.body
        );
    }
}

/// Validates `instance` against a schema of the document, `$ref`s resolved within it.
fn assert_matches(doc: &Value, schema: &Value, instance: &Value, what: &str) {
    let mut root = schema.clone();
    root["components"] = doc["components"].clone();
    let validator = jsonschema::draft202012::new(&root)
        .unwrap_or_else(|e| panic!("{what}: the documented schema does not compile: {e}"));
    let errors: Vec<String> = validator
        .iter_errors(instance)
        .map(|e| format!("{} at {}", e, e.instance_path()))
        .collect();
    assert!(
        errors.is_empty(),
        "{what}: body does not match its documented schema:\n{}\nbody: {instance}",
        errors.join("\n")
    );
}

/// The response object documented for `status`, with a `$ref` to a shared response followed.
fn documented_response<'a>(doc: &'a Value, op: &'a Value, status: StatusCode) -> Option<&'a Value> {
    let r = op["responses"].get(status.as_str())?;
    match r["$ref"].as_str() {
        Some(reference) => {
            let name = reference.strip_prefix("#/components/responses/")?;
            doc["components"]["responses"].get(name)
        }
        None => Some(r),
    }
}

fn check_answer(doc: &Value, op: &Value, r: &Resp, what: &str) {
    let documented = documented_response(doc, op, r.status).unwrap_or_else(|| {
        panic!(
            "{what}: answered {} which is not documented: {}",
            r.status, r.body
        )
    });
    let media = r
        .header("content-type")
        .map(|c| c.split(';').next().unwrap_or_default().trim().to_owned());
    match (&documented["content"], media) {
        (Value::Object(content), Some(media)) => {
            let schema = &content.get(&media).unwrap_or_else(|| {
                panic!("{what}: {} answered as {media}, not documented", r.status)
            })["schema"];
            assert_matches(doc, schema, &r.body, what);
        }
        (Value::Object(_), None) => panic!("{what}: documented a body, got none"),
        (_, _) => assert!(
            r.body.is_null(),
            "{what}: documented no body for {}, got {}",
            r.status,
            r.body
        ),
    }
    for (name, _) in documented["headers"].as_object().into_iter().flatten() {
        // Rate-limit and auth headers come only with their statuses, which the document
        // describes; ETag and Location must be present where documented.
        if ["ETag", "Location", "X-Request-Id"].contains(&name.as_str()) {
            assert!(
                r.headers.contains_key(name.as_str()),
                "{what}: no {name} header"
            );
        }
    }
}

struct Realm {
    tenant: &'static str,
    realm: &'static str,
    token: String,
}

/// Fills a path template: tenant and realm from `realm`, `{id}` with the parameter's first
/// documented value, or with a new resource of the collection it follows.
async fn fill_path(app: &TestApp, op: &Value, path: &str, realm: &Realm, n: usize) -> String {
    let mut path = path
        .replace("{tenant}", realm.tenant)
        .replace("{realm}", realm.realm);
    if path.contains("{id}") {
        let id_param = op["parameters"]
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["in"] == "path" && p["name"] == "id")
            .expect("{id} is documented");
        let id = match id_param["schema"]["enum"].get(0).and_then(Value::as_str) {
            Some(v) => v.to_owned(),
            None => {
                let collection = path.split("/{id}").next().unwrap().to_owned();
                let body = if collection.ends_with("/Users") {
                    json!({"userName": format!("walk-user-{n}")})
                } else {
                    json!({"displayName": format!("walk-group-{n}")})
                };
                let r = send(
                    app.client
                        .post(format!("{}{collection}", app.origin))
                        .bearer_auth(&realm.token)
                        .json(&body),
                )
                .await;
                assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
                r.body["id"].as_str().unwrap().to_owned()
            }
        };
        path = path.replace("{id}", &id);
    }
    path
}

/// The documented example body, with the attributes that must be unique in a realm made so.
fn example_body(doc: &Value, op: &Value, n: usize, what: &str) -> Option<Value> {
    let content = &op["requestBody"]["content"]["application/scim+json"];
    if content.is_null() {
        return None;
    }
    let mut body = content["example"].clone();
    assert!(body.is_object(), "{what}: the request body has no example");
    assert_matches(
        doc,
        &content["schema"],
        &body,
        &format!("{what} (request example)"),
    );
    if body.get("userName").is_some() {
        body["userName"] = json!(format!("example-{n}@example.com"));
    }
    if body.get("displayName").is_some() {
        body["displayName"] = json!(format!("Example {n}"));
    }
    Some(body)
}

fn allows_anonymous(op: &Value) -> bool {
    match op["security"].as_array() {
        None => true,
        Some(reqs) => reqs
            .iter()
            .any(|r| r.as_object().is_some_and(|o| o.is_empty())),
    }
}

async fn every_documented_operation_answers_with_a_documented_status_and_body(app: &TestApp) {
    let doc = fetch_document(app).await;
    // The long base is walked in a realm of its own, so the examples' creations do not collide
    // with those made through /scim/v2 in the default realm.
    app.admin.create_realm("default", "walk").await.unwrap();
    let walk = Realm {
        tenant: "default",
        realm: "walk",
        token: app
            .admin
            .create_token("default", "walk", "walk", None)
            .await
            .unwrap()
            .secret,
    };
    let default = Realm {
        tenant: "default",
        realm: "default",
        token: app.token.clone(),
    };
    let mut n = 0;
    for (path, item) in doc["paths"].as_object().unwrap() {
        let realm = if path.starts_with(LONG_BASE) {
            &walk
        } else {
            &default
        };
        for (m, op) in item.as_object().unwrap() {
            n += 1;
            let what = format!("{m} {path}");
            let url = format!("{}{}", app.origin, fill_path(app, op, path, realm, n).await);
            let method = Method::from_bytes(m.to_uppercase().as_bytes()).unwrap();
            let body = example_body(&doc, op, n, &what);

            let mut req = app
                .client
                .request(method.clone(), &url)
                .bearer_auth(&realm.token);
            if let Some(b) = &body {
                req = req
                    .header("content-type", "application/scim+json")
                    .body(b.to_string());
            }
            let r = send(req).await;
            assert!(
                r.status.is_success(),
                "{what}: the documented call failed with {}: {}",
                r.status,
                r.body
            );
            check_answer(&doc, op, &r, &what);

            // Without a token: what the security requirement promises. Authentication comes
            // before the body and the resource are looked at.
            let mut req = app.client.request(method, &url);
            if let Some(b) = &body {
                req = req
                    .header("content-type", "application/scim+json")
                    .body(b.to_string());
            }
            let r = send(req).await;
            if allows_anonymous(op) {
                assert!(
                    r.status.is_success(),
                    "{what} without a token: {}",
                    r.status
                );
            } else {
                assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{what} without a token");
            }
            check_answer(&doc, op, &r, &format!("{what} without a token"));
        }
    }
    assert!(n > 40, "only {n} operations documented");
}
