//! The `filter` query parameter and `/.search` body filter, as the service takes it: parse
//! with the configured limits, lower onto storage fields for Users and Groups, and evaluate
//! in memory. A filter that parses must print to a canonical form that parses back to the
//! same tree.
#![no_main]

use libfuzzer_sys::fuzz_target;
use scimd::scim::filter::{parse_filter, CompiledFilter, FilterLimits};
use scimd::scim::schema::{Registry, ResourceKind};
use scimd::scim::semantics::SchemaSemantics;
use scimd::service::filter::lower_filter;
use serde_json::json;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let limits = FilterLimits::default();
    let Ok(filter) = parse_filter(text, &limits) else {
        return;
    };
    let printed = filter.to_string();
    match parse_filter(&printed, &limits) {
        Ok(again) => assert_eq!(again, filter, "{text:?} printed as {printed:?}"),
        // The canonical form may be longer than the input (`a pr` inside `[...]` gains the
        // attribute, escapes grow), so only the length limit may refuse it.
        Err(e) => assert!(
            printed.chars().count() > limits.max_length,
            "{text:?} printed as {printed:?}, which does not parse: {e}"
        ),
    }

    let registry = Registry::get();
    let user = json!({
        "id": "2819c223-7f76-453a-919d-413861904646",
        "externalId": "bjensen",
        "userName": "bjensen@example.com",
        "name": {"givenName": "Barbara", "familyName": "Jensen"},
        "active": true,
        "emails": [
            {"value": "bjensen@example.com", "type": "work", "primary": true},
            {"value": "babs@jensen.org", "type": "home"}
        ],
        "meta": {"created": "2011-08-01T18:29:49.793Z", "lastModified": "2011-08-01T18:29:49Z"},
        "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": {
            "employeeNumber": "701984",
            "manager": {"value": "26118915-6090-4610-87e4-49d8ca9f808d"}
        }
    });
    let group = json!({
        "id": "e9e30dba-f08f-4109-8486-d5c6a331660a",
        "displayName": "Tour Guides",
        "members": [{"value": "2819c223-7f76-453a-919d-413861904646", "type": "User"}]
    });
    for (kind, doc) in [(ResourceKind::User, &user), (ResourceKind::Group, &group)] {
        let _ = lower_filter(kind, text, &limits);
        let schema = registry.resource(kind);
        let sem = SchemaSemantics(schema);
        if let Ok(compiled) = CompiledFilter::compile(&filter, &sem, &sem.extension_urns()) {
            let _ = compiled.matches(doc);
        }
    }
});
