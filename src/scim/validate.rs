//! Turns a client's resource body into the canonical form scimd stores: attribute names in their
//! schema spelling, values coerced to their schema types, read-only and unknown attributes
//! dropped, required attributes enforced. Real identity providers send loose JSON (COMPAT 9, 10,
//! 13, 14, 21); this is the one place that absorbs it.

use serde_json::{Map, Value};

use super::datetime;
use super::error::ScimError;
use super::schema::{AttrType, Attribute, Mutability, ResourceKind, ResourceSchema, Schema};

/// A member reference as a client sent it: the id, and the type if it said one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MemberRef {
    pub value: String,
    pub kind: Option<String>,
}

/// A validated resource body.
#[derive(Debug, Clone, Default)]
pub struct Incoming {
    pub external_id: Option<String>,
    /// Core attributes at the top level, extension attributes under their schema URN.
    pub data: Map<String, Value>,
    /// The clear-text password (User only): hashed by the service, never stored as sent.
    pub password: Option<String>,
    /// `members` of a Group; `None` when the body did not mention them.
    pub members: Option<Vec<MemberRef>>,
}

impl Incoming {
    /// `userName` of a User or `displayName` of a Group: the realm-unique name.
    pub fn name(&self, kind: ResourceKind) -> Option<&str> {
        self.data.get(kind.name_attr()).and_then(Value::as_str)
    }
}

/// Validates a POST or PUT body against its resource type's schemas.
pub fn parse_resource(schema: &ResourceSchema, body: Value) -> Result<Incoming, ScimError> {
    let Value::Object(body) = body else {
        return Err(ScimError::invalid_syntax(
            "the request body must be a JSON object representing the resource",
        ));
    };
    let mut sorted = Sorted::default();
    for (key, value) in body {
        sorted.place(schema, key, value)?;
    }
    let mut data = normalize_object(&schema.core, sorted.core)?;
    let password = match data.remove("password") {
        Some(Value::String(p)) => Some(p),
        _ => None,
    };
    let members = match schema.kind {
        ResourceKind::Group => Some(take_members(&mut data)?),
        ResourceKind::User => None,
    };
    check_required(&schema.core, &data, "")?;
    for (ext, input) in sorted.extensions {
        let obj = normalize_object(ext, input)?;
        if !obj.is_empty() {
            check_required(ext, &obj, &format!("{}:", ext.id))?;
            data.insert(ext.id.clone(), Value::Object(obj));
        }
    }
    Ok(Incoming {
        external_id: sorted.external_id,
        data,
        password,
        members,
    })
}

/// A body's members sorted by the schema they belong to, before normalising.
#[derive(Default)]
struct Sorted<'s> {
    external_id: Option<String>,
    core: Map<String, Value>,
    extensions: Vec<(&'s Schema, Map<String, Value>)>,
}

impl<'s> Sorted<'s> {
    fn place(
        &mut self,
        schema: &'s ResourceSchema,
        key: String,
        value: Value,
    ) -> Result<(), ScimError> {
        if ["schemas", "id", "meta"]
            .iter()
            .any(|k| k.eq_ignore_ascii_case(&key))
        {
            // Read-only common attributes: Okta echoes them back on PUT (COMPAT 14).
            return Ok(());
        }
        if key.eq_ignore_ascii_case("externalId") {
            self.external_id = string_value("externalId", value)?;
            return Ok(());
        }
        if let Some(attr) = schema.core.attr(&key) {
            self.core.insert(attr.name.clone(), value);
            return Ok(());
        }
        if let Some(ext) = schema.extension(&key) {
            return match value {
                Value::Object(obj) => {
                    ext_entry(&mut self.extensions, ext).extend(obj);
                    Ok(())
                }
                Value::Null => Ok(()),
                _ => Err(ScimError::invalid_value(format!(
                    "extension '{}' must be a JSON object",
                    ext.id
                ))),
            };
        }
        self.place_qualified(schema, &key, value);
        Ok(())
    }

    /// A fully qualified attribute name, e.g. "urn:...:enterprise:2.0:User:department".
    /// Anything else is an attribute we do not know: ignored, as COMPAT 9 requires.
    fn place_qualified(&mut self, schema: &'s ResourceSchema, key: &str, value: Value) {
        let Some((urn, attr_name)) = key.rsplit_once(':') else {
            return;
        };
        let Some(target) = schema.schema(urn) else {
            return;
        };
        let Some(attr) = target.attr(attr_name) else {
            return;
        };
        if target.id == schema.core.id {
            self.core.insert(attr.name.clone(), value);
        } else {
            ext_entry(&mut self.extensions, target).insert(attr.name.clone(), value);
        }
    }
}

/// Carries immutable attributes over from the stored resource and rejects changes to them
/// (RFC 7643 §2.2: an immutable value, once set, may not change).
pub fn enforce_immutable(
    schema: &ResourceSchema,
    existing: &Map<String, Value>,
    incoming: &mut Map<String, Value>,
) -> Result<(), ScimError> {
    for s in std::iter::once(&schema.core).chain(schema.extensions.iter()) {
        let ext = (s.id != schema.core.id).then_some(s.id.as_str());
        for attr in s
            .attributes
            .iter()
            .filter(|a| a.mutability == Mutability::Immutable)
        {
            carry_immutable(ext, &attr.name, existing, incoming)?;
        }
    }
    Ok(())
}

/// One immutable attribute (under the extension `ext`, if any): a stored value must not change,
/// and one the body leaves out is kept.
fn carry_immutable(
    ext: Option<&str>,
    name: &str,
    existing: &Map<String, Value>,
    incoming: &mut Map<String, Value>,
) -> Result<(), ScimError> {
    let Some(old) = member(existing, ext, name) else {
        return Ok(());
    };
    match member(incoming, ext, name) {
        Some(new) if new != old => {
            return Err(ScimError::mutability(format!(
                "attribute '{name}' is immutable and already set; it cannot be changed"
            )))
        }
        Some(_) => return Ok(()),
        None => {}
    }
    let slot = match ext {
        None => Some(incoming),
        Some(e) => incoming
            .entry(e.to_owned())
            .or_insert_with(|| Value::Object(Map::new()))
            .as_object_mut(),
    };
    if let Some(m) = slot {
        m.insert(name.to_owned(), old.clone());
    }
    Ok(())
}

fn member<'m>(data: &'m Map<String, Value>, ext: Option<&str>, name: &str) -> Option<&'m Value> {
    match ext {
        None => data.get(name),
        Some(e) => data.get(e)?.get(name),
    }
}

fn ext_entry<'a, 's>(
    ext_in: &'a mut Vec<(&'s Schema, Map<String, Value>)>,
    ext: &'s Schema,
) -> &'a mut Map<String, Value> {
    let pos = match ext_in.iter().position(|(s, _)| s.id == ext.id) {
        Some(p) => p,
        None => {
            ext_in.push((ext, Map::new()));
            ext_in.len() - 1
        }
    };
    &mut ext_in[pos].1
}

fn string_value(name: &str, value: Value) -> Result<Option<String>, ScimError> {
    match value {
        Value::Null => Ok(None),
        Value::String(s) if s.is_empty() => Ok(None),
        Value::String(s) => Ok(Some(s)),
        Value::Number(n) => Ok(Some(n.to_string())),
        other => Err(ScimError::invalid_value(format!(
            "attribute '{name}' must be a string, got {other}"
        ))),
    }
}

/// Normalizes the attributes of one schema, in schema order, matching names case-insensitively.
pub fn normalize_object(
    schema: &Schema,
    mut input: Map<String, Value>,
) -> Result<Map<String, Value>, ScimError> {
    let mut by_lower: Vec<(String, Value)> = std::mem::take(&mut input)
        .into_iter()
        .map(|(k, v)| (k.to_ascii_lowercase(), v))
        .collect();
    let mut out = Map::new();
    for attr in &schema.attributes {
        let lower = attr.name.to_ascii_lowercase();
        // The last spelling wins when a client sends the same attribute twice in different case.
        let Some(pos) = by_lower.iter().rposition(|(k, _)| *k == lower) else {
            continue;
        };
        let (_, value) = by_lower.swap_remove(pos);
        if let Some(v) = normalize_attr(attr, value, &attr.name)? {
            out.insert(attr.name.clone(), v);
        }
    }
    Ok(out)
}

/// Normalizes one attribute value; `None` means "unassigned" (null, "", [] or read-only).
pub fn normalize_attr(
    attr: &Attribute,
    value: Value,
    path: &str,
) -> Result<Option<Value>, ScimError> {
    if attr.mutability == Mutability::ReadOnly || value.is_null() {
        return Ok(None);
    }
    if attr.multi_valued {
        // OneLogin sends a single object where an array belongs (COMPAT 13).
        let items = match value {
            Value::Array(items) => items,
            other => vec![other],
        };
        let mut out = Vec::with_capacity(items.len());
        for item in items {
            if let Some(v) = normalize_single(attr, item, path)? {
                if !out.contains(&v) {
                    out.push(v);
                }
            }
        }
        single_primary(&mut out);
        return Ok((!out.is_empty()).then_some(Value::Array(out)));
    }
    match value {
        // Okta sends manager as `[{"value": ..}]` (COMPAT 21): one element of a singular attribute.
        Value::Array(mut items) if items.len() <= 1 => match items.pop() {
            Some(v) => normalize_single(attr, v, path),
            None => Ok(None),
        },
        Value::Array(_) => Err(ScimError::invalid_value(format!(
            "attribute '{path}' is single-valued but an array of several values was sent"
        ))),
        other => normalize_single(attr, other, path),
    }
}

/// RFC 7643 §2.4: `primary: true` may appear at most once; the first one sent wins.
fn single_primary(values: &mut [Value]) {
    let mut seen = false;
    for v in values.iter_mut() {
        if let Some(obj) = v.as_object_mut() {
            if obj.get("primary") == Some(&Value::Bool(true)) {
                if seen {
                    obj.insert("primary".into(), Value::Bool(false));
                }
                seen = true;
            }
        }
    }
}

fn normalize_single(
    attr: &Attribute,
    value: Value,
    path: &str,
) -> Result<Option<Value>, ScimError> {
    if value.is_null() {
        return Ok(None);
    }
    match attr.kind {
        AttrType::Complex => normalize_complex(attr, value, path),
        AttrType::String | AttrType::Reference | AttrType::Binary => {
            normalize_text(attr, value, path)
        }
        AttrType::DateTime => normalize_date_time(value, path),
        AttrType::Boolean => normalize_boolean(value, path),
        AttrType::Integer => normalize_integer(value, path),
        AttrType::Decimal => normalize_decimal(value, path),
    }
}

fn normalize_complex(
    attr: &Attribute,
    value: Value,
    path: &str,
) -> Result<Option<Value>, ScimError> {
    match value {
        Value::Object(obj) => normalize_subs(attr, obj, path),
        // A bare id where a complex value with a `value` sub-attribute belongs (COMPAT 21).
        scalar @ (Value::String(_) | Value::Number(_)) if attr.sub("value").is_some() => {
            let sub = attr.sub("value").expect("checked above");
            let v = normalize_single(sub, scalar, &format!("{path}.value"))?;
            Ok(v.map(|v| {
                let mut m = Map::new();
                m.insert(sub.name.clone(), v);
                Value::Object(m)
            }))
        }
        other => Err(ScimError::invalid_value(format!(
            "attribute '{path}' is complex and must be a JSON object, got {other}"
        ))),
    }
}

/// The sub-attributes of a complex value, in schema order and spelling; read-only ones dropped.
fn normalize_subs(
    attr: &Attribute,
    obj: Map<String, Value>,
    path: &str,
) -> Result<Option<Value>, ScimError> {
    let mut out = Map::new();
    let mut by_lower: Vec<(String, Value)> = obj
        .into_iter()
        .map(|(k, v)| (k.to_ascii_lowercase(), v))
        .collect();
    for sub in &attr.sub_attributes {
        let lower = sub.name.to_ascii_lowercase();
        let Some(pos) = by_lower.iter().rposition(|(k, _)| *k == lower) else {
            continue;
        };
        let (_, v) = by_lower.swap_remove(pos);
        if sub.mutability == Mutability::ReadOnly {
            continue;
        }
        if let Some(v) = normalize_single(sub, v, &format!("{path}.{}", sub.name))? {
            out.insert(sub.name.clone(), v);
        }
    }
    Ok((!out.is_empty()).then_some(Value::Object(out)))
}

fn normalize_text(attr: &Attribute, value: Value, path: &str) -> Result<Option<Value>, ScimError> {
    match value {
        Value::String(s) if s.is_empty() => Ok(None),
        Value::String(s) => Ok(Some(Value::String(s))),
        Value::Number(n) if attr.kind == AttrType::String => Ok(Some(Value::String(n.to_string()))),
        Value::Bool(b) if attr.kind == AttrType::String => Ok(Some(Value::String(b.to_string()))),
        other => Err(ScimError::invalid_value(format!(
            "attribute '{path}' must be a string, got {other}"
        ))),
    }
}

/// Kept as sent, once the one dateTime reader accepts it, so filters can compare it.
fn normalize_date_time(value: Value, path: &str) -> Result<Option<Value>, ScimError> {
    match value {
        Value::String(s) if s.is_empty() => Ok(None),
        Value::String(s) if datetime::parse(&s).is_some() => Ok(Some(Value::String(s))),
        Value::String(s) => Err(ScimError::invalid_value(format!(
            "attribute '{path}' must be an RFC 3339 dateTime such as \
             2024-01-31T12:00:00Z, got \"{s}\""
        ))),
        other => Err(ScimError::invalid_value(format!(
            "attribute '{path}' must be a dateTime string, got {other}"
        ))),
    }
}

fn normalize_boolean(value: Value, path: &str) -> Result<Option<Value>, ScimError> {
    match value {
        Value::Bool(b) => Ok(Some(Value::Bool(b))),
        // Entra sends "True"/"False" (COMPAT 10).
        Value::String(s) if s.eq_ignore_ascii_case("true") => Ok(Some(Value::Bool(true))),
        Value::String(s) if s.eq_ignore_ascii_case("false") => Ok(Some(Value::Bool(false))),
        Value::String(s) if s.is_empty() => Ok(None),
        other => Err(ScimError::invalid_value(format!(
            "attribute '{path}' must be a boolean (true or false), got {other}"
        ))),
    }
}

fn normalize_integer(value: Value, path: &str) -> Result<Option<Value>, ScimError> {
    match value {
        Value::Number(n) if n.is_i64() => Ok(Some(Value::Number(n))),
        Value::String(s) if s.is_empty() => Ok(None),
        Value::String(s) => s
            .trim()
            .parse::<i64>()
            .map(|i| Some(Value::from(i)))
            .map_err(|_| {
                ScimError::invalid_value(format!(
                    "attribute '{path}' must be an integer, got \"{s}\""
                ))
            }),
        other => Err(ScimError::invalid_value(format!(
            "attribute '{path}' must be an integer, got {other}"
        ))),
    }
}

fn normalize_decimal(value: Value, path: &str) -> Result<Option<Value>, ScimError> {
    match value {
        Value::Number(n) => Ok(Some(Value::Number(n))),
        Value::String(s) if s.is_empty() => Ok(None),
        Value::String(s) => s
            .trim()
            .parse::<f64>()
            .ok()
            .and_then(serde_json::Number::from_f64)
            .map(|n| Some(Value::Number(n)))
            .ok_or_else(|| {
                ScimError::invalid_value(format!(
                    "attribute '{path}' must be a decimal number, got \"{s}\""
                ))
            }),
        other => Err(ScimError::invalid_value(format!(
            "attribute '{path}' must be a decimal number, got {other}"
        ))),
    }
}

fn take_members(data: &mut Map<String, Value>) -> Result<Vec<MemberRef>, ScimError> {
    let Some(Value::Array(items)) = data.remove("members") else {
        return Ok(Vec::new());
    };
    let mut out: Vec<MemberRef> = Vec::with_capacity(items.len());
    for item in items {
        let value = item.get("value").and_then(Value::as_str).ok_or_else(|| {
            ScimError::invalid_value("every entry of 'members' needs a 'value': the member's id")
        })?;
        if out.iter().any(|m| m.value == value) {
            continue;
        }
        out.push(MemberRef {
            value: value.to_owned(),
            kind: item.get("type").and_then(Value::as_str).map(str::to_owned),
        });
    }
    Ok(out)
}

fn check_required(
    schema: &Schema,
    data: &Map<String, Value>,
    prefix: &str,
) -> Result<(), ScimError> {
    for attr in &schema.attributes {
        let writable = !matches!(
            attr.mutability,
            Mutability::ReadOnly | Mutability::WriteOnly
        );
        if attr.required && writable && !data.contains_key(&attr.name) {
            return Err(ScimError::invalid_value(format!(
                "attribute '{prefix}{}' is required",
                attr.name
            )));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scim::schema::Registry;
    use serde_json::json;

    fn user(body: Value) -> Result<Incoming, ScimError> {
        parse_resource(&Registry::get().user, body)
    }

    #[test]
    fn string_booleans_become_booleans() {
        let u = user(json!({"userName": "a", "active": "False",
            "emails": [{"value": "a@x", "primary": "true"}]}))
        .unwrap();
        assert_eq!(u.data["active"], json!(false));
        assert_eq!(u.data["emails"][0]["primary"], json!(true));
    }

    #[test]
    fn attribute_names_match_case_insensitively_and_unknown_ones_are_dropped() {
        let u = user(
            json!({"USERNAME": "a", "DisplayName": "A", "favouriteColour": "blue",
            "groups": [{"value": "g"}], "id": "x", "meta": {}}),
        )
        .unwrap();
        assert_eq!(u.data["userName"], json!("a"));
        assert_eq!(u.data["displayName"], json!("A"));
        assert!(!u.data.contains_key("favouriteColour"));
        assert!(!u.data.contains_key("groups"));
    }

    #[test]
    fn single_object_for_multi_valued_attribute_is_wrapped() {
        let u = user(json!({"userName": "a", "emails": {"value": "a@x", "type": "work"}})).unwrap();
        assert_eq!(u.data["emails"], json!([{"value": "a@x", "type": "work"}]));
    }

    #[test]
    fn missing_user_name_is_rejected_with_invalid_value() {
        let e = user(json!({"displayName": "A"})).unwrap_err();
        assert_eq!(e.status, 400);
        assert!(e.detail.contains("userName"));
    }

    #[test]
    fn manager_in_every_shape_is_stored_as_value_object() {
        for m in [
            json!("42"),
            json!({"value": "42"}),
            json!([{"$ref": null, "value": "42"}]),
        ] {
            let u = user(json!({"userName": "a",
                "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": {"manager": m}}))
            .unwrap();
            assert_eq!(
                u.data["urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"]["manager"],
                json!({"value": "42"})
            );
        }
    }

    #[test]
    fn password_is_separated_from_stored_data() {
        let u = user(json!({"userName": "a", "password": "s3cret"})).unwrap();
        assert_eq!(u.password.as_deref(), Some("s3cret"));
        assert!(!u.data.contains_key("password"));
    }

    #[test]
    fn bad_boolean_names_the_attribute() {
        let e = user(json!({"userName": "a", "active": "maybe"})).unwrap_err();
        assert!(e.detail.contains("active"), "{}", e.detail);
    }

    #[test]
    fn group_members_are_extracted_without_duplicates() {
        let g = parse_resource(
            &Registry::get().group,
            json!({"displayName": "g", "members": [{"value": "1"}, {"value": "1", "display": "x"},
                {"value": "2", "type": "Group"}]}),
        )
        .unwrap();
        let m = g.members.unwrap();
        assert_eq!(m.len(), 2);
        assert_eq!(m[1].kind.as_deref(), Some("Group"));
        assert!(!g.data.contains_key("members"));
    }
}
