//! Example request bodies. The API suite sends every one of them to the endpoints that document
//! them and checks the answer, so an example that stops working fails a test.

use serde_json::{json, Value};

use crate::http::routes::Payload;
use crate::scim::schema::ResourceKind;
use crate::scim::urn;

pub fn request(p: Payload) -> Option<Value> {
    Some(match p {
        Payload::Resource(ResourceKind::User) => json!({
            "schemas": [urn::USER, urn::ENTERPRISE_USER],
            "userName": "bjensen@example.com",
            "externalId": "00u1abcd",
            "name": {"givenName": "Barbara", "familyName": "Jensen"},
            "emails": [{"value": "bjensen@example.com", "type": "work", "primary": true}],
            "active": true,
            (urn::ENTERPRISE_USER): {"employeeNumber": "1001", "department": "Engineering"}
        }),
        Payload::Resource(ResourceKind::Group) => json!({
            "schemas": [urn::GROUP],
            "displayName": "Engineering",
            "externalId": "eng"
        }),
        Payload::PatchOp(ResourceKind::User) => json!({
            "schemas": [urn::PATCH_OP],
            "Operations": [
                {"op": "replace", "path": "active", "value": false},
                {"op": "add", "path": "emails[type eq \"work\"].value", "value": "babs@example.com"}
            ]
        }),
        Payload::PatchOp(ResourceKind::Group) => json!({
            "schemas": [urn::PATCH_OP],
            "Operations": [{"op": "replace", "path": "externalId", "value": "eng-2"}]
        }),
        Payload::Search(Some(ResourceKind::User)) => json!({
            "schemas": [urn::SEARCH_REQUEST],
            "filter": "userName sw \"b\" and active eq true",
            "sortBy": "userName",
            "startIndex": 1,
            "count": 10,
            "attributes": ["userName", "emails"]
        }),
        Payload::Search(Some(ResourceKind::Group)) => json!({
            "schemas": [urn::SEARCH_REQUEST],
            "filter": "displayName sw \"Eng\"",
            "excludedAttributes": ["members"]
        }),
        Payload::Search(None) => json!({
            "schemas": [urn::SEARCH_REQUEST],
            "filter": "meta.lastModified gt \"2020-01-01T00:00:00Z\"",
            "count": 10
        }),
        Payload::Resources(_)
        | Payload::ServiceProviderConfig
        | Payload::ResourceType
        | Payload::ResourceTypes
        | Payload::Schema
        | Payload::Schemas
        | Payload::Health
        | Payload::OpenApi => return None,
    })
}
