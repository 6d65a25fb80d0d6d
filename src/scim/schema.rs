//! The schema registry: RFC 7643 attribute definitions for User, Enterprise User and Group,
//! loaded once from the JSON documents we publish at `/Schemas`, so what we validate against and
//! what we advertise cannot drift apart.

use serde::{Deserialize, Serialize};
use std::sync::OnceLock;

use super::urn;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum AttrType {
    String,
    Boolean,
    Decimal,
    Integer,
    DateTime,
    Binary,
    Reference,
    Complex,
}

impl AttrType {
    /// The type with its article, for messages of the form "'x' is {describe}".
    pub fn describe(self) -> &'static str {
        match self {
            AttrType::String => "a string",
            AttrType::Boolean => "a boolean",
            AttrType::Decimal => "a decimal",
            AttrType::Integer => "an integer",
            AttrType::DateTime => "a dateTime",
            AttrType::Reference => "a reference",
            AttrType::Binary => "binary",
            AttrType::Complex => "complex",
        }
    }

    /// Compared as text (string operators apply).
    pub fn is_stringy(self) -> bool {
        matches!(
            self,
            AttrType::String | AttrType::Reference | AttrType::Binary
        )
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub enum Mutability {
    ReadOnly,
    #[default]
    ReadWrite,
    Immutable,
    WriteOnly,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub enum Returned {
    Always,
    Never,
    #[default]
    Default,
    Request,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub enum Uniqueness {
    #[default]
    None,
    Server,
    Global,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Attribute {
    pub name: String,
    #[serde(rename = "type")]
    pub kind: AttrType,
    #[serde(default)]
    pub multi_valued: bool,
    #[serde(default)]
    pub description: String,
    #[serde(default)]
    pub required: bool,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub canonical_values: Vec<String>,
    #[serde(default)]
    pub case_exact: bool,
    #[serde(default)]
    pub mutability: Mutability,
    #[serde(default)]
    pub returned: Returned,
    #[serde(default)]
    pub uniqueness: Uniqueness,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub reference_types: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub sub_attributes: Vec<Attribute>,
}

impl Attribute {
    pub fn sub(&self, name: &str) -> Option<&Attribute> {
        self.sub_attributes
            .iter()
            .find(|a| a.name.eq_ignore_ascii_case(name))
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Schema {
    pub id: String,
    pub name: String,
    #[serde(default)]
    pub description: String,
    pub attributes: Vec<Attribute>,
}

impl Schema {
    pub fn attr(&self, name: &str) -> Option<&Attribute> {
        self.attributes
            .iter()
            .find(|a| a.name.eq_ignore_ascii_case(name))
    }

    /// RFC 7643 §7 representation, with an absolute `meta.location` under `base`.
    pub fn to_json(&self, base: &str) -> serde_json::Value {
        let mut v = serde_json::to_value(self).unwrap_or_default();
        if let Some(obj) = v.as_object_mut() {
            // `schemas` first reads best for people with curl.
            let mut out = serde_json::Map::new();
            out.insert("schemas".into(), serde_json::json!([urn::SCHEMA]));
            out.extend(std::mem::take(obj));
            out.insert(
                "meta".into(),
                serde_json::json!({
                    "resourceType": "Schema",
                    "location": format!("{base}/Schemas/{}", self.id),
                }),
            );
            return serde_json::Value::Object(out);
        }
        v
    }
}

/// The two resource types scimd serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ResourceKind {
    User,
    Group,
}

impl ResourceKind {
    pub fn name(self) -> &'static str {
        match self {
            ResourceKind::User => "User",
            ResourceKind::Group => "Group",
        }
    }

    pub fn endpoint(self) -> &'static str {
        match self {
            ResourceKind::User => "/Users",
            ResourceKind::Group => "/Groups",
        }
    }

    /// The realm-unique name attribute, which the store keeps folded in a column of its own.
    pub fn name_attr(self) -> &'static str {
        match self {
            ResourceKind::User => "userName",
            ResourceKind::Group => "displayName",
        }
    }

    pub fn core_urn(self) -> &'static str {
        match self {
            ResourceKind::User => urn::USER,
            ResourceKind::Group => urn::GROUP,
        }
    }

    pub fn parse(name: &str) -> Option<Self> {
        match name {
            "User" => Some(ResourceKind::User),
            "Group" => Some(ResourceKind::Group),
            _ => None,
        }
    }
}

/// A resource type: its core schema and the extensions it accepts.
#[derive(Debug)]
pub struct ResourceSchema {
    pub kind: ResourceKind,
    pub core: Schema,
    pub extensions: Vec<Schema>,
}

impl ResourceSchema {
    pub fn extension(&self, urn: &str) -> Option<&Schema> {
        self.extensions
            .iter()
            .find(|s| s.id.eq_ignore_ascii_case(urn))
    }

    /// The schema a URN names (core or extension), case-insensitively.
    pub fn schema(&self, urn: &str) -> Option<&Schema> {
        if self.core.id.eq_ignore_ascii_case(urn) {
            Some(&self.core)
        } else {
            self.extension(urn)
        }
    }
}

#[derive(Debug)]
pub struct Registry {
    pub user: ResourceSchema,
    pub group: ResourceSchema,
}

impl Registry {
    /// The process-wide registry; the documents are compiled in, so a parse failure is a
    /// build defect caught by the first test that touches it.
    pub fn get() -> &'static Registry {
        static REGISTRY: OnceLock<Registry> = OnceLock::new();
        REGISTRY.get_or_init(|| {
            let load = |text: &str| -> Schema {
                serde_json::from_str(text).expect("bundled schema document is valid")
            };
            Registry {
                user: ResourceSchema {
                    kind: ResourceKind::User,
                    core: load(include_str!("schemas/user.json")),
                    extensions: vec![load(include_str!("schemas/enterprise_user.json"))],
                },
                group: ResourceSchema {
                    kind: ResourceKind::Group,
                    core: load(include_str!("schemas/group.json")),
                    extensions: vec![],
                },
            }
        })
    }

    pub fn resource(&self, kind: ResourceKind) -> &ResourceSchema {
        match kind {
            ResourceKind::User => &self.user,
            ResourceKind::Group => &self.group,
        }
    }

    pub fn schemas(&self) -> impl Iterator<Item = &Schema> {
        std::iter::once(&self.user.core)
            .chain(self.user.extensions.iter())
            .chain(std::iter::once(&self.group.core))
            .chain(self.group.extensions.iter())
    }

    pub fn schema(&self, id: &str) -> Option<&Schema> {
        self.schemas().find(|s| s.id.eq_ignore_ascii_case(id))
    }
}

/// `id`, `externalId` and `meta` (RFC 7643 §3.1): every resource has them, no schema document
/// lists them, so they are defined here for path resolution and never published.
pub fn common() -> &'static Schema {
    static COMMON: OnceLock<Schema> = OnceLock::new();
    COMMON.get_or_init(|| {
        serde_json::from_str(include_str!("schemas/common.json"))
            .expect("bundled common attributes are valid")
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bundled_schemas_load_with_every_core_user_attribute() {
        let r = Registry::get();
        for name in [
            "userName",
            "name",
            "displayName",
            "nickName",
            "profileUrl",
            "title",
            "userType",
            "preferredLanguage",
            "locale",
            "timezone",
            "active",
            "password",
            "emails",
            "phoneNumbers",
            "ims",
            "photos",
            "addresses",
            "groups",
            "entitlements",
            "roles",
            "x509Certificates",
        ] {
            assert!(r.user.core.attr(name).is_some(), "missing {name}");
        }
        let ent = r.user.extension(urn::ENTERPRISE_USER).expect("enterprise");
        assert!(ent.attr("manager").and_then(|m| m.sub("value")).is_some());
        assert!(r.group.core.attr("members").is_some());
    }
}
