//! A POST or PUT body, validated as a User and as a Group the way the service does, then
//! checked against a stored resource's immutable attributes. Validation must be idempotent:
//! a validated body, sent again, validates to itself.
#![no_main]

use libfuzzer_sys::fuzz_target;
use scimd::scim::schema::{Registry, ResourceKind, ResourceSchema};
use scimd::scim::validate::{enforce_immutable, parse_resource, Incoming};
use serde_json::{json, Map, Value};

/// The body a client would send to store exactly `incoming` again.
fn resend(incoming: &Incoming) -> Value {
    let mut body = incoming.data.clone();
    if let Some(e) = &incoming.external_id {
        body.insert("externalId".into(), Value::String(e.clone()));
    }
    if let Some(p) = &incoming.password {
        body.insert("password".into(), Value::String(p.clone()));
    }
    if let Some(members) = &incoming.members {
        let list = members
            .iter()
            .map(|m| {
                let mut o = Map::new();
                o.insert("value".into(), Value::String(m.value.clone()));
                if let Some(k) = &m.kind {
                    o.insert("type".into(), Value::String(k.clone()));
                }
                Value::Object(o)
            })
            .collect();
        body.insert("members".into(), Value::Array(list));
    }
    Value::Object(body)
}

fn check(schema: &ResourceSchema, body: Value, existing: &Map<String, Value>) {
    let Ok(incoming) = parse_resource(schema, body) else {
        return;
    };
    let again = parse_resource(schema, resend(&incoming))
        .unwrap_or_else(|e| panic!("a validated body no longer validates: {e:?}"));
    assert_eq!(again.data, incoming.data, "validation is not idempotent");
    assert_eq!(again.external_id, incoming.external_id);
    assert_eq!(again.password, incoming.password);
    assert_eq!(again.members, incoming.members);
    let _ = incoming.name(schema.kind);
    let mut data = incoming.data;
    let _ = enforce_immutable(schema, existing, &mut data);
}

fuzz_target!(|data: &[u8]| {
    let Ok(body) = serde_json::from_slice::<Value>(data) else {
        return;
    };
    let registry = Registry::get();
    let existing_user = json!({"userName": "bjensen", "active": true})
        .as_object()
        .cloned()
        .unwrap();
    let existing_group = json!({"displayName": "Tour Guides"})
        .as_object()
        .cloned()
        .unwrap();
    check(
        registry.resource(ResourceKind::User),
        body.clone(),
        &existing_user,
    );
    check(
        registry.resource(ResourceKind::Group),
        body,
        &existing_group,
    );
});
