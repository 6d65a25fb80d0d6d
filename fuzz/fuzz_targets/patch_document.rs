//! A PATCH request body, as the service handles it (src/service/resources.rs): parse the
//! PatchOp message, split a Group's membership operations off into a delta, apply the rest to
//! a stored User or Group document with the real schema registry, then validate the result as
//! a PUT body and carry the immutable attributes over.
#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use scimd::scim::filter::FilterLimits;
use scimd::scim::patch::{parse_request, split_members, PatchOp, Patcher};
use scimd::scim::schema::{Registry, ResourceKind};
use scimd::scim::validate::{enforce_immutable, parse_resource, Incoming};
use serde_json::{json, Map, Value};

/// `patch_max_operations` in the default configuration.
const MAX_OPERATIONS: usize = 1000;

struct Stored {
    kind: ResourceKind,
    /// What the store holds: the validated body's data.
    data: Map<String, Value>,
    external_id: Option<String>,
    members: Vec<String>,
}

fn stored() -> &'static [Stored; 2] {
    static STORED: OnceLock<[Stored; 2]> = OnceLock::new();
    STORED.get_or_init(|| {
        let registry = Registry::get();
        let load = |kind, body: Value| {
            let Incoming {
                external_id,
                data,
                members,
                ..
            } = parse_resource(registry.resource(kind), body).expect("seed resource is valid");
            Stored {
                kind,
                data,
                external_id,
                members: members
                    .unwrap_or_default()
                    .into_iter()
                    .map(|m| m.value)
                    .collect(),
            }
        };
        [
            load(
                ResourceKind::User,
                json!({
                    "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User",
                                "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"],
                    "externalId": "701984",
                    "userName": "bjensen@example.com",
                    "name": {"formatted": "Ms. Barbara J Jensen III", "familyName": "Jensen",
                             "givenName": "Barbara"},
                    "displayName": "Babs Jensen",
                    "nickName": "Babs",
                    "title": "Tour Guide",
                    "active": true,
                    "emails": [{"value": "bjensen@example.com", "type": "work", "primary": true},
                               {"value": "babs@jensen.org", "type": "home"}],
                    "phoneNumbers": [{"value": "555-555-8377", "type": "work"}],
                    "addresses": [{"type": "work", "streetAddress": "100 Universal City Plaza",
                                   "locality": "Hollywood", "region": "CA",
                                   "postalCode": "91608", "country": "USA", "primary": true}],
                    "roles": [{"value": "r1"}],
                    "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": {
                        "employeeNumber": "701984",
                        "costCenter": "4130",
                        "department": "Tour Operations",
                        "manager": {"value": "26118915-6090-4610-87e4-49d8ca9f808d"}
                    }
                }),
            ),
            load(
                ResourceKind::Group,
                json!({
                    "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"],
                    "externalId": "tour-guides",
                    "displayName": "Tour Guides",
                    "members": [{"value": "2819c223-7f76-453a-919d-413861904646", "type": "User"},
                                {"value": "902c246b-6245-4190-8e05-00816be7344a", "type": "User"}]
                }),
            ),
        ]
    })
}

/// The service's `patch_document`: operations on the stored document, then PUT validation.
fn patch_document(stored: &Stored, ops: &[PatchOp], with_members: bool, limits: &FilterLimits) {
    let schema = Registry::get().resource(stored.kind);
    let patcher = Patcher { schema, limits };
    let mut doc = stored.data.clone();
    if let Some(e) = &stored.external_id {
        doc.insert("externalId".into(), Value::String(e.clone()));
    }
    if with_members {
        doc.insert(
            "members".into(),
            Value::Array(stored.members.iter().map(|m| json!({"value": m})).collect()),
        );
    }
    if patcher.apply(&mut doc, ops).is_err() {
        return;
    }
    let Ok(mut incoming) = parse_resource(schema, Value::Object(doc)) else {
        return;
    };
    let _ = enforce_immutable(schema, &stored.data, &mut incoming.data);
    let _ = incoming.name(stored.kind);
}

fuzz_target!(|data: &[u8]| {
    let Ok(body) = serde_json::from_slice::<Value>(data) else {
        return;
    };
    let Ok(ops) = parse_request(body, MAX_OPERATIONS) else {
        return;
    };
    let limits = FilterLimits::default();
    for stored in stored() {
        if stored.kind == ResourceKind::Group {
            match split_members(&ops, &limits) {
                Err(_) => {}
                Ok(Some(split)) if split.doc_ops.is_empty() => {}
                Ok(Some(split)) => patch_document(stored, &split.doc_ops, false, &limits),
                Ok(None) => patch_document(stored, &ops, true, &limits),
            }
        } else {
            patch_document(stored, &ops, false, &limits);
        }
    }
});
