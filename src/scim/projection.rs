//! RFC 7644 §3.4.2.5 `attributes` / `excludedAttributes` with RFC 7643 §7 `returned` semantics.

use serde_json::{Map, Value};

use super::error::ScimError;
use super::filter::{parse_patch_path, AttrPath, FilterLimits};
use super::schema::{Attribute, ResourceSchema, Returned, Schema};

/// One name from an `attributes` list, resolved against the schemas.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Named {
    /// Lower-cased schema URN the name belongs to.
    urn: String,
    /// Lower-cased attribute name; `None` names the whole extension.
    attr: Option<String>,
    sub: Option<String>,
}

#[derive(Debug, Clone, Default)]
pub struct Projection {
    attributes: Vec<Named>,
    excluded: Vec<Named>,
}

impl Projection {
    pub fn parse(
        schema: &ResourceSchema,
        attributes: Option<&str>,
        excluded: Option<&str>,
    ) -> Result<Self, ScimError> {
        Ok(Self {
            attributes: parse_list(schema, "attributes", attributes)?,
            excluded: parse_list(schema, "excludedAttributes", excluded)?,
        })
    }

    /// Whether a core attribute (e.g. `members`, `groups`) will survive projection: lets the
    /// service skip loading what would be thrown away.
    pub fn includes(&self, schema: &ResourceSchema, attr: &str) -> bool {
        let urn = schema.core.id.to_ascii_lowercase();
        let attr_l = attr.to_ascii_lowercase();
        let returned = schema
            .core
            .attr(attr)
            .map(|a| a.returned)
            .unwrap_or_default();
        match returned {
            Returned::Never => false,
            Returned::Always => true,
            _ if !self.attributes.is_empty() => self
                .attributes
                .iter()
                .any(|n| n.urn == urn && n.attr.as_deref() == Some(&attr_l)),
            Returned::Request => false,
            Returned::Default => !self
                .excluded
                .iter()
                .any(|n| n.urn == urn && n.attr.as_deref() == Some(&attr_l) && n.sub.is_none()),
        }
    }

    /// Whether `attributes` names this core attribute (or one of its sub-attributes).
    pub fn names(&self, schema: &ResourceSchema, attr: &str) -> bool {
        let urn = schema.core.id.to_ascii_lowercase();
        let attr = attr.to_ascii_lowercase();
        self.attributes
            .iter()
            .any(|n| n.urn == urn && n.attr.as_deref() == Some(attr.as_str()))
    }

    /// This projection with one more core attribute excluded.
    pub fn excluding(&self, schema: &ResourceSchema, attr: &str) -> Projection {
        let mut p = self.clone();
        p.excluded.push(Named {
            urn: schema.core.id.to_ascii_lowercase(),
            attr: Some(attr.to_ascii_lowercase()),
            sub: None,
        });
        p
    }

    /// Applies the projection to a rendered resource.
    pub fn apply(&self, schema: &ResourceSchema, resource: Value) -> Value {
        let Value::Object(obj) = resource else {
            return resource;
        };
        let core_urn = schema.core.id.to_ascii_lowercase();
        let mut out = Map::with_capacity(obj.len());
        for (key, value) in obj {
            if key == "schemas" || key == "id" {
                out.insert(key, value);
                continue;
            }
            if let Some(ext) = schema.extension(&key) {
                let ext_urn = ext.id.to_ascii_lowercase();
                let whole = self
                    .attributes
                    .iter()
                    .any(|n| n.urn == ext_urn && n.attr.is_none());
                let excluded_whole = self
                    .excluded
                    .iter()
                    .any(|n| n.urn == ext_urn && n.attr.is_none());
                if excluded_whole && self.attributes.is_empty() {
                    continue;
                }
                if let Value::Object(inner) = value {
                    let kept = self.project_object(ext, &ext_urn, inner, whole);
                    if !kept.is_empty() {
                        out.insert(key, Value::Object(kept));
                    }
                }
                continue;
            }
            let lower = key.to_ascii_lowercase();
            let def = schema
                .resolve(&AttrPath::simple(key.as_str()))
                .ok()
                .map(|p| p.attr);
            let returned = def.map(|a| a.returned).unwrap_or_default();
            if let Some(v) = self.project_attr(&core_urn, &lower, returned, def, value, false) {
                out.insert(key, v);
            }
        }
        Value::Object(out)
    }

    fn project_object(
        &self,
        schema: &Schema,
        urn: &str,
        obj: Map<String, Value>,
        whole: bool,
    ) -> Map<String, Value> {
        let mut out = Map::new();
        for (key, value) in obj {
            let attr = schema.attr(&key);
            let returned = attr.map(|a| a.returned).unwrap_or_default();
            let lower = key.to_ascii_lowercase();
            if let Some(v) = self.project_attr(urn, &lower, returned, attr, value, whole) {
                out.insert(key, v);
            }
        }
        out
    }

    fn project_attr(
        &self,
        urn: &str,
        attr: &str,
        returned: Returned,
        def: Option<&Attribute>,
        value: Value,
        whole_schema_requested: bool,
    ) -> Option<Value> {
        let matches = |n: &&Named| n.urn == urn && n.attr.as_deref() == Some(attr);
        // Sub-attributes returned only on request (members.display) stay out unless named.
        let requested: Vec<&str> = self
            .attributes
            .iter()
            .filter(matches)
            .filter_map(|n| n.sub.as_deref())
            .collect();
        let value = strip_request_only(value, def, &requested);
        let listed = !self.attributes.is_empty();
        match returned {
            Returned::Never => None,
            Returned::Always => Some(value),
            _ if listed && whole_schema_requested => {
                (returned != Returned::Request).then_some(value)
            }
            _ if listed => select(value, def, self.attributes.iter().filter(matches), true),
            Returned::Request => None,
            _ => select(value, def, self.excluded.iter().filter(matches), false),
        }
    }
}

/// The value as the names that match it say: with `keep`, those names are what is returned
/// (none: nothing); without, they are what is left out (none: everything). A name without a
/// sub-attribute covers the whole value.
fn select<'n>(
    value: Value,
    def: Option<&Attribute>,
    named: impl Iterator<Item = &'n Named>,
    keep: bool,
) -> Option<Value> {
    let named: Vec<&Named> = named.collect();
    if named.is_empty() {
        return (!keep).then_some(value);
    }
    if named.iter().any(|n| n.sub.is_none()) {
        return keep.then_some(value);
    }
    let subs: Vec<&str> = named.iter().filter_map(|n| n.sub.as_deref()).collect();
    keep_subs(value, def, &subs, keep)
}

fn strip_request_only(value: Value, def: Option<&Attribute>, requested: &[&str]) -> Value {
    let Some(def) = def else { return value };
    let hidden: Vec<&str> = def
        .sub_attributes
        .iter()
        .filter(|s| s.returned == Returned::Request || s.returned == Returned::Never)
        .filter(|s| {
            s.returned == Returned::Never
                || !requested.iter().any(|r| r.eq_ignore_ascii_case(&s.name))
        })
        .map(|s| s.name.as_str())
        .collect();
    if hidden.is_empty() {
        return value;
    }
    let strip = |o: &mut Map<String, Value>| o.retain(|k, _| !hidden.contains(&k.as_str()));
    match value {
        Value::Object(mut o) => {
            strip(&mut o);
            Value::Object(o)
        }
        Value::Array(items) => Value::Array(
            items
                .into_iter()
                .map(|mut i| {
                    if let Some(o) = i.as_object_mut() {
                        strip(o);
                    }
                    i
                })
                .collect(),
        ),
        other => other,
    }
}

/// Keeps (or, with `keep == false`, drops) the named sub-attributes of a complex value or of
/// each element of a multi-valued complex attribute.
fn keep_subs(value: Value, def: Option<&Attribute>, subs: &[&str], keep: bool) -> Option<Value> {
    let always = |k: &str| {
        def.and_then(|d| d.sub(k))
            .is_some_and(|s| s.returned == Returned::Always)
    };
    let filter = |obj: Map<String, Value>| -> Map<String, Value> {
        obj.into_iter()
            .filter(|(k, _)| {
                let named = subs.iter().any(|s| s.eq_ignore_ascii_case(k));
                always(k) || named == keep
            })
            .collect()
    };
    match value {
        Value::Object(obj) => {
            let m = filter(obj);
            (!m.is_empty()).then_some(Value::Object(m))
        }
        Value::Array(items) => {
            let kept: Vec<Value> = items
                .into_iter()
                .filter_map(|item| match item {
                    Value::Object(obj) => {
                        let m = filter(obj);
                        (!m.is_empty()).then_some(Value::Object(m))
                    }
                    other => Some(other),
                })
                .collect();
            (!kept.is_empty()).then_some(Value::Array(kept))
        }
        other => Some(other),
    }
}

fn parse_list(
    schema: &ResourceSchema,
    param: &str,
    list: Option<&str>,
) -> Result<Vec<Named>, ScimError> {
    let Some(list) = list else {
        return Ok(Vec::new());
    };
    // RFC 7644 §3.4.2.5: these lists hold attribute names only. A value filter here would
    // otherwise select nothing and the client would see an empty resource, not its mistake.
    if let Some(bad) = list.find(['[', ']', '"', '(', ')']) {
        let what = match &list[bad..bad + 1] {
            "[" | "]" => "a [filter] is not allowed in it; filter with the filter parameter",
            _ => "it takes comma-separated attribute names only",
        };
        return Err(ScimError::invalid_value(format!(
            "{param}=\"{list}\": {what} (e.g. {param}=userName,emails.value)"
        )));
    }
    Ok(list
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|raw| resolve(schema, raw))
        .collect())
}

fn resolve(schema: &ResourceSchema, raw: &str) -> Named {
    // A bare schema URN names a whole extension (or the whole core schema).
    if let Some(s) = schema.schema(raw) {
        return Named {
            urn: s.id.to_ascii_lowercase(),
            attr: None,
            sub: None,
        };
    }
    resolved(schema, raw).unwrap_or_else(|| unresolved(schema, raw))
}

/// A name the schemas define, in their spelling, resolved as filters and PATCH resolve it.
fn resolved(schema: &ResourceSchema, raw: &str) -> Option<Named> {
    let pp = parse_patch_path(raw, &FilterLimits::default()).ok()?;
    let p = schema.resolve(&pp.path).ok()?;
    Some(Named {
        urn: p
            .extension()
            .unwrap_or(&schema.core)
            .id
            .to_ascii_lowercase(),
        attr: Some(p.attr.name.to_ascii_lowercase()),
        sub: p.sub_name().map(str::to_ascii_lowercase),
    })
}

/// A name no schema of this type defines selects nothing here, but is not an error: a root
/// /.search names attributes of both resource types.
fn unresolved(schema: &ResourceSchema, raw: &str) -> Named {
    let (urn, rest) = match raw.rsplit_once(':') {
        Some((urn, rest)) => match schema.schema(urn) {
            Some(s) => (s.id.to_ascii_lowercase(), rest),
            None => (urn.to_ascii_lowercase(), rest),
        },
        None => (schema.core.id.to_ascii_lowercase(), raw),
    };
    let (attr, sub) = match rest.split_once('.') {
        Some((a, s)) => (a, Some(s.to_ascii_lowercase())),
        None => (rest, None),
    };
    Named {
        urn,
        attr: Some(attr.to_ascii_lowercase()),
        sub,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scim::schema::Registry;
    use serde_json::json;

    #[test]
    fn a_filter_in_attributes_is_refused_naming_the_parameter() {
        let schema = &Registry::get().user;
        for (attrs, excluded, param) in [
            (Some("emails[type eq \"work\"]"), None, "attributes"),
            (
                Some("userName,emails[type eq \"work\"].value"),
                None,
                "attributes",
            ),
            (None, Some("emails[primary eq true]"), "excludedAttributes"),
        ] {
            let e = Projection::parse(schema, attrs, excluded).unwrap_err();
            assert_eq!(e.status, 400);
            assert_eq!(e.scim_type, Some(crate::scim::ScimType::InvalidValue));
            assert!(e.detail.starts_with(&format!("{param}=")), "{}", e.detail);
            assert!(e.detail.contains("filter"), "{}", e.detail);
        }
        assert!(Projection::parse(schema, Some("userName, emails.value"), None).is_ok());
    }

    fn sample() -> Value {
        json!({"schemas": ["x"], "id": "1", "userName": "a", "displayName": "A",
            "name": {"givenName": "G", "familyName": "F"},
            "emails": [{"value": "a@x", "type": "work"}],
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": {"department": "D", "division": "V"},
            "meta": {"resourceType": "User"}})
    }

    #[test]
    fn attributes_keeps_only_named_ones_plus_always_returned() {
        let s = &Registry::get().user;
        let p = Projection::parse(s, Some("userName,name.givenName"), None).unwrap();
        let v = p.apply(s, sample());
        assert_eq!(v["id"], json!("1"));
        assert_eq!(v["userName"], json!("a"));
        assert_eq!(v["name"], json!({"givenName": "G"}));
        assert!(v.get("displayName").is_none());
        assert!(v.get("meta").is_none());
        assert!(v
            .get("urn:ietf:params:scim:schemas:extension:enterprise:2.0:User")
            .is_none());
    }

    #[test]
    fn excluded_attributes_removes_default_ones_including_urn_qualified() {
        let s = &Registry::get().user;
        let p = Projection::parse(
            s,
            None,
            Some("emails,urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department"),
        )
        .unwrap();
        let v = p.apply(s, sample());
        assert!(v.get("emails").is_none());
        assert_eq!(
            v["urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"],
            json!({"division": "V"})
        );
    }

    #[test]
    fn excluding_members_tells_the_service_not_to_load_them() {
        let g = &Registry::get().group;
        let p = Projection::parse(g, None, Some("members")).unwrap();
        assert!(!p.includes(g, "members"));
        assert!(Projection::default().includes(g, "members"));
    }
}
