//! How a Terraform resource maps onto an admin API object: its fields, how each travels
//! (sent, read back, shown once, kept only in Terraform), and the Terraform schema made from it.
//!
//! Every resource of the provider is one `Spec`; the behaviour (plan, create, read, update,
//! delete, import) is written once, in `resource.rs`, so the resources cannot drift apart in
//! how they treat drift, 404s, secrets or replacement.

use std::collections::{BTreeMap, HashMap};

use serde_json::{Map, Value};
use tf_provider::schema::{
    Attribute, AttributeConstraint, AttributeType, Block, Description, Schema,
};
use tf_provider::value::ValueAny;

/// A resource's (or data source's) state: attribute name to value, every attribute present.
pub type State = BTreeMap<String, ValueAny>;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Str,
    Int,
    Bool,
    /// A set of strings (scopes, auth methods).
    StrSet,
    /// A map of strings (a trusted issuer's claim values to scopes).
    StrMap,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Required,
    Optional,
    /// Optional; when not set, the server's default is read back (Optional + Computed).
    Defaulted,
    /// Set by the server only.
    Computed,
}

/// How a field travels between Terraform and the API.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flow {
    /// Sent at create (and in PATCH when it changes and is not `replace`); read back.
    Both,
    /// Sent at create only; reads never return it, so the state keeps what was sent (or what
    /// the create answer gave in its place: a generated password).
    CreateOnly,
    /// Set by the server; read back from every answer.
    Output,
    /// In the create answer only (a secret's value); the state keeps it from then on.
    Once,
    /// A segment of the object's URL (tenant, realm, client); never in a body.
    Path,
    /// Terraform's alone (`force_destroy`); never sent.
    Local,
}

pub type Check = fn(&ValueAny) -> Result<(), String>;

#[derive(Debug, Clone, Copy)]
pub struct Field {
    pub name: &'static str,
    pub kind: Kind,
    pub mode: Mode,
    pub flow: Flow,
    pub doc: &'static str,
    /// The API cannot change it in place: a change replaces the object.
    pub replace: bool,
    pub sensitive: bool,
    /// The API's name for it, when that is not `name`.
    pub api: Option<&'static str>,
    /// Checked at plan time, when the value is known then.
    pub check: Option<Check>,
}

/// The common case, for struct-update syntax: `Field { name: "x", ..FIELD }`.
pub const FIELD: Field = Field {
    name: "",
    kind: Kind::Str,
    mode: Mode::Optional,
    flow: Flow::Both,
    doc: "",
    replace: false,
    sensitive: false,
    api: None,
    check: None,
};

impl Field {
    pub fn api_name(&self) -> &'static str {
        self.api.unwrap_or(self.name)
    }
}

pub struct Spec {
    /// `token` makes `scimd_token`.
    pub type_name: &'static str,
    pub doc: &'static str,
    pub fields: &'static [Field],
    /// Where it is created (POST).
    pub create_path: fn(&State) -> String,
    /// Where it is read (GET): the object itself, or the parent holding it in `within`.
    pub read_path: fn(&State) -> String,
    /// The object is an element of this list in the read answer, found by its `id`.
    pub within: Option<&'static str>,
    /// Where it is changed (PATCH) and deleted (DELETE).
    pub write_path: fn(&State) -> String,
    /// The state fields an import id's `/`-separated segments fill, in order.
    pub import: &'static [&'static str],
    /// Terraform's `id` from the API object and the state.
    pub tf_id: fn(&Value, &State) -> String,
    /// Fixed fields of the create body (what the provider always asks for).
    pub create_extra: fn(&mut Map<String, Value>),
    /// The query string of DELETE (`?force=true`).
    pub delete_query: fn(&State) -> &'static str,
    /// After every read: what can be derived for fields the API does not return.
    pub after_read: fn(&mut State, &Value),
    /// Checks across fields, at plan time: (field, message).
    pub check_all: fn(&State) -> Vec<(&'static str, String)>,
}

pub fn no_extra(_: &mut Map<String, Value>) {}
pub fn no_query(_: &State) -> &'static str {
    ""
}
pub fn nothing_after(_: &mut State, _: &Value) {}
pub fn no_checks(_: &State) -> Vec<(&'static str, String)> {
    Vec::new()
}

impl Spec {
    pub fn field(&self, name: &str) -> Option<&Field> {
        self.fields.iter().find(|f| f.name == name)
    }

    /// The Terraform field the API calls `api` (for a problem detail's `field`).
    pub fn field_for_api(&self, api: &str) -> Option<&'static str> {
        self.fields
            .iter()
            .find(|f| f.api_name() == api && !matches!(f.flow, Flow::Local))
            .map(|f| f.name)
    }

    pub fn schema(&self) -> Schema {
        schema(self.doc, self.fields.iter().map(|f| (f, f.mode)))
    }

    /// A state with every field null but the given ones.
    pub fn empty_state(&self) -> State {
        self.fields
            .iter()
            .map(|f| (f.name.to_owned(), ValueAny::Null))
            .collect()
    }
}

pub fn schema<'a>(doc: &str, fields: impl Iterator<Item = (&'a Field, Mode)>) -> Schema {
    let attributes: HashMap<String, Attribute> = fields
        .map(|(f, mode)| {
            let constraint = match mode {
                Mode::Required => AttributeConstraint::Required,
                Mode::Optional => AttributeConstraint::Optional,
                Mode::Defaulted => AttributeConstraint::OptionalComputed,
                Mode::Computed => AttributeConstraint::Computed,
            };
            let attr = Attribute {
                attr_type: attr_type(f.kind),
                description: Description::markdown(f.doc),
                constraint,
                sensitive: f.sensitive,
                deprecated: false,
            };
            (f.name.to_owned(), attr)
        })
        .collect();
    Schema {
        version: 0,
        block: Block {
            version: 0,
            attributes,
            description: Description::markdown(doc),
            ..Default::default()
        },
    }
}

pub fn attr_type(kind: Kind) -> AttributeType {
    match kind {
        Kind::Str => AttributeType::String,
        Kind::Int => AttributeType::Number,
        Kind::Bool => AttributeType::Bool,
        Kind::StrSet => AttributeType::Set(Box::new(AttributeType::String)),
        Kind::StrMap => AttributeType::Map(Box::new(AttributeType::String)),
    }
}

/// A Terraform value from the API's JSON (null for what is absent or of another type).
pub fn from_json(kind: Kind, v: Option<&Value>) -> ValueAny {
    match (kind, v) {
        (Kind::Str, Some(Value::String(s))) => ValueAny::String(s.clone()),
        (Kind::Int, Some(Value::Number(n))) => n.as_i64().map_or(ValueAny::Null, ValueAny::Number),
        (Kind::Bool, Some(Value::Bool(b))) => ValueAny::Bool(*b),
        (Kind::StrSet, Some(Value::Array(items))) => {
            let mut items: Vec<String> = items
                .iter()
                .filter_map(|i| i.as_str().map(str::to_owned))
                .collect();
            items.sort();
            items.dedup();
            ValueAny::List(items.into_iter().map(ValueAny::String).collect())
        }
        // The API shows "no mapping" as {}; in Terraform an unset map is null.
        (Kind::StrMap, Some(Value::Object(m))) if !m.is_empty() => ValueAny::Map(
            m.iter()
                .filter_map(|(k, v)| v.as_str().map(|v| (k.clone(), ValueAny::String(v.into()))))
                .collect(),
        ),
        _ => ValueAny::Null,
    }
}

/// The API's JSON for a known Terraform value; `None` for null and unknown.
pub fn to_json(v: &ValueAny) -> Option<Value> {
    match v {
        ValueAny::String(s) => Some(Value::String(s.clone())),
        ValueAny::Number(n) => Some(Value::from(*n)),
        ValueAny::Bool(b) => Some(Value::Bool(*b)),
        ValueAny::List(items) => Some(Value::Array(items.iter().filter_map(to_json).collect())),
        ValueAny::Map(m) => Some(Value::Object(
            m.iter()
                .filter_map(|(k, v)| to_json(v).map(|v| (k.clone(), v)))
                .collect(),
        )),
        ValueAny::Null | ValueAny::Unknown => None,
    }
}

/// The value of a string field, when known.
pub fn text<'s>(s: &'s State, name: &str) -> Option<&'s str> {
    match s.get(name) {
        Some(ValueAny::String(v)) => Some(v),
        _ => None,
    }
}

/// A string field the URL needs; empty when it is not known (the API then answers 404).
pub fn seg<'s>(s: &'s State, name: &str) -> &'s str {
    text(s, name).unwrap_or("")
}

pub fn is_unknown(v: Option<&ValueAny>) -> bool {
    matches!(v, Some(ValueAny::Unknown))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_string_set_from_the_api_is_sorted_and_deduplicated() {
        let v = json!(["scim:read", "scim:all", "scim:read"]);
        assert_eq!(
            from_json(Kind::StrSet, Some(&v)),
            ValueAny::List(vec![
                ValueAny::String("scim:all".into()),
                ValueAny::String("scim:read".into())
            ])
        );
    }

    #[test]
    fn absent_or_mistyped_api_values_are_null() {
        assert_eq!(from_json(Kind::Str, None), ValueAny::Null);
        assert_eq!(from_json(Kind::Int, Some(&json!("3"))), ValueAny::Null);
        assert_eq!(from_json(Kind::Str, Some(&Value::Null)), ValueAny::Null);
    }

    #[test]
    fn an_empty_map_from_the_api_is_an_unset_map() {
        assert_eq!(from_json(Kind::StrMap, Some(&json!({}))), ValueAny::Null);
        let m = from_json(Kind::StrMap, Some(&json!({"scim.write": "scim:all"})));
        assert_eq!(to_json(&m), Some(json!({"scim.write": "scim:all"})));
    }

    #[test]
    fn unknown_and_null_values_are_never_sent() {
        assert_eq!(to_json(&ValueAny::Unknown), None);
        assert_eq!(to_json(&ValueAny::Null), None);
        assert_eq!(to_json(&ValueAny::Number(7)), Some(json!(7)));
    }

    #[test]
    fn the_schema_says_which_attributes_are_sensitive_and_computed() {
        const FIELDS: &[Field] = &[
            Field {
                name: "name",
                mode: Mode::Required,
                ..FIELD
            },
            Field {
                name: "secret",
                mode: Mode::Computed,
                flow: Flow::Once,
                sensitive: true,
                ..FIELD
            },
        ];
        let s = schema("x", FIELDS.iter().map(|f| (f, f.mode)));
        let secret = &s.block.attributes["secret"];
        assert!(secret.sensitive);
        assert_eq!(secret.constraint, AttributeConstraint::Computed);
        assert_eq!(
            s.block.attributes["name"].constraint,
            AttributeConstraint::Required
        );
    }
}
