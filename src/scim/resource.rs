//! The outgoing representation of a User or Group: `schemas`, `id`, `externalId`, the stored
//! attributes, the derived ones (`groups`, `members`) and `meta`.

use serde_json::{Map, Value};

use super::schema::{ResourceKind, ResourceSchema};

/// What the store knows about a resource beyond its attributes.
#[derive(Debug, Clone)]
pub struct Meta {
    pub created: String,
    pub last_modified: String,
    pub version: i64,
}

impl Meta {
    /// RFC 7644 §3.14: a weak entity tag derived from the row version.
    pub fn etag(&self) -> String {
        etag(self.version)
    }
}

pub fn etag(version: i64) -> String {
    format!("W/\"{version}\"")
}

/// Absolute URL of a resource under a realm's base URL.
pub fn location(base: &str, kind: ResourceKind, id: &str) -> String {
    format!("{base}{}/{id}", kind.endpoint())
}

pub struct Rendered<'a> {
    pub schema: &'a ResourceSchema,
    pub base: &'a str,
    pub id: &'a str,
    pub external_id: Option<&'a str>,
    pub data: &'a Map<String, Value>,
    pub meta: &'a Meta,
    /// `groups` of a User or `members` of a Group, when loaded.
    pub relations: Option<Value>,
}

impl Rendered<'_> {
    pub fn to_json(&self) -> Value {
        let kind = self.schema.kind;
        let mut schemas = vec![Value::String(self.schema.core.id.clone())];
        for ext in &self.schema.extensions {
            if self.data.contains_key(&ext.id) {
                schemas.push(Value::String(ext.id.clone()));
            }
        }
        let mut out = Map::with_capacity(self.data.len() + 5);
        out.insert("schemas".into(), Value::Array(schemas));
        out.insert("id".into(), Value::String(self.id.to_owned()));
        if let Some(e) = self.external_id {
            out.insert("externalId".into(), Value::String(e.to_owned()));
        }
        // Core attributes first, extensions after them, as the RFC examples show them.
        for (k, v) in self.data.iter().filter(|(k, _)| !k.starts_with("urn:")) {
            out.insert(k.clone(), v.clone());
        }
        if let Some(rel) = &self.relations {
            let key = match kind {
                ResourceKind::User => "groups",
                ResourceKind::Group => "members",
            };
            if rel.as_array().is_some_and(|a| !a.is_empty()) {
                out.insert(key.into(), rel.clone());
            }
        }
        for (k, v) in self.data.iter().filter(|(k, _)| k.starts_with("urn:")) {
            out.insert(k.clone(), v.clone());
        }
        out.insert(
            "meta".into(),
            serde_json::json!({
                "resourceType": kind.name(),
                "created": self.meta.created,
                "lastModified": self.meta.last_modified,
                "location": location(self.base, kind, self.id),
                "version": self.meta.etag(),
            }),
        );
        Value::Object(out)
    }
}
