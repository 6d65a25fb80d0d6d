//! Property test: random valid PATCH operations on random users give, on both backends, exactly
//! what the in-memory engine (the patch engine plus validation, no database) predicts.

use reqwest::{Method, StatusCode};
use serde_json::{json, Map, Value};

use scimd::scim::filter::FilterLimits;
use scimd::scim::patch::{parse_request, Patcher};
use scimd::scim::schema::Registry;
use scimd::scim::validate::parse_resource;

use crate::both_backends;
use crate::helpers::TestApp;

both_backends!(random_patches_match_the_in_memory_engine);

const ENT: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";

/// xorshift64*: deterministic, dependency-free; the seed is printed on failure.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }
}

fn random_value(r: &mut Rng, what: &str) -> Value {
    let words = ["alpha", "Beta", "gamma", "DELTA", "", "ünï"];
    match what {
        "bool" => match r.below(4) {
            0 => json!(true),
            1 => json!(false),
            2 => json!("True"),
            _ => json!("false"),
        },
        "email" => json!({"value": format!("{}@example.com", r.pick(&words[..4])),
                          "type": r.pick(&["work", "home", "other"])}),
        "role" => json!({"value": r.pick(&words[..4])}),
        _ => json!(r.pick(&words)),
    }
}

fn random_op(r: &mut Rng) -> Value {
    let op = *r.pick(&["add", "replace", "remove", "Add", "Replace"]);
    match r.below(12) {
        0 => json!({"op": op, "path": "title", "value": random_value(r, "s")}),
        1 => json!({"op": op, "path": "active", "value": random_value(r, "bool")}),
        2 => json!({"op": op, "path": "name.givenName", "value": random_value(r, "s")}),
        3 => json!({"op": op, "path": "emails", "value": [random_value(r, "email")]}),
        4 => {
            json!({"op": op, "path": format!("emails[type eq \"{}\"].value", r.pick(&["work", "home"])),
                    "value": format!("{}@x.org", r.pick(&["p", "q"]))})
        }
        5 => {
            json!({"op": "remove", "path": format!("emails[type eq \"{}\"]", r.pick(&["work", "home"]))})
        }
        6 => {
            json!({"op": op, "path": "roles", "value": [random_value(r, "role"), random_value(r, "role")]})
        }
        7 => json!({"op": op, "path": format!("{ENT}:department"), "value": random_value(r, "s")}),
        8 => json!({"op": op, "path": format!("{ENT}:manager"), "value": r.pick(&["m1", "m2"])}),
        9 => json!({"op": if op.eq_ignore_ascii_case("remove") { "replace" } else { op },
                    "value": {"nickName": random_value(r, "s"), "name.familyName": random_value(r, "s"),
                              format!("{ENT}:costCenter"): random_value(r, "s")}}),
        10 => json!({"op": op, "path": "displayName", "value": random_value(r, "s")}),
        _ => {
            json!({"op": "remove", "path": *r.pick(&["title", "name", "emails", "roles", ENT, "nickName"])})
        }
    }
}

/// The stored attributes of a response: what PATCH may change.
fn attributes(body: &Value) -> Map<String, Value> {
    let mut m = body.as_object().cloned().unwrap_or_default();
    for k in ["schemas", "id", "meta", "groups"] {
        m.remove(k);
    }
    m
}

async fn random_patches_match_the_in_memory_engine(app: &TestApp) {
    let seed = std::env::var("SCIMD_PROP_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0x5c1d_2026_u64);
    let mut r = Rng(seed);
    let schema = &Registry::get().user;
    let limits = FilterLimits::default();
    let patcher = Patcher {
        schema,
        limits: &limits,
    };
    let mut checked = 0;
    for u in 0..25 {
        let created = app
            .post(
                "/Users",
                json!({"userName": format!("prop{u}"), "title": "start",
                       "emails": [{"value": "s@example.com", "type": "work"}]}),
            )
            .await;
        assert_eq!(created.status, StatusCode::CREATED);
        let id = created.body["id"].as_str().unwrap().to_owned();
        let mut current = created.body;
        for _ in 0..8 {
            let n = 1 + r.below(3);
            let ops: Vec<Value> = (0..n).map(|_| random_op(&mut r)).collect();
            let body = json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
                              "Operations": ops});
            // The prediction: the engine on the current document, then validation.
            let predicted = parse_request(body.clone(), 1000).and_then(|ops| {
                let mut doc = attributes(&current);
                patcher.apply(&mut doc, &ops)?;
                let incoming = parse_resource(schema, Value::Object(doc))?;
                let mut out = incoming.data;
                if let Some(e) = incoming.external_id {
                    out.insert("externalId".into(), Value::String(e));
                }
                Ok(out)
            });
            let resp = app
                .call(Method::PATCH, &format!("/Users/{id}"), Some(body.clone()))
                .await;
            match predicted {
                Ok(want) => {
                    assert_eq!(
                        resp.status,
                        StatusCode::OK,
                        "seed {seed}: {body}: {}",
                        resp.body
                    );
                    assert_eq!(attributes(&resp.body), want, "seed {seed}: {body}");
                    let read = app.get(&format!("/Users/{id}")).await;
                    assert_eq!(
                        attributes(&read.body),
                        want,
                        "seed {seed}: read back after {body}"
                    );
                    current = read.body;
                }
                Err(e) => {
                    assert_eq!(
                        resp.status.as_u16(),
                        e.status,
                        "seed {seed}: {body}: {}",
                        resp.body
                    );
                    assert_eq!(
                        resp.body["scimType"].as_str(),
                        e.scim_type.map(|t| t.as_str()),
                        "seed {seed}: {body}"
                    );
                    let read = app.get(&format!("/Users/{id}")).await;
                    assert_eq!(
                        attributes(&read.body),
                        attributes(&current),
                        "a failed PATCH changed data"
                    );
                }
            }
            checked += 1;
        }
    }
    assert_eq!(checked, 200);
}
