//! The RFC 7644 §3.5.2 PATCH engine, pure: applies add / replace / remove operations to a
//! resource document (core attributes at the top, extensions under their URN, `externalId`,
//! and `members` for Groups) in the dialects real identity providers speak (COMPAT 15-29).
//! The caller validates the result exactly as it would a PUT body.

use serde_json::{Map, Value};

use super::error::{ScimError, ScimType};
use super::filter::{
    matches, parse_patch_path, AttrPath, CompValue, CompareOp, Filter, FilterLimits,
};
use super::schema::{AttrType, Attribute, Mutability, ResourceSchema, Schema};
use super::semantics::SchemaSemantics;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OpKind {
    Add,
    Replace,
    Remove,
}

impl OpKind {
    /// Every operation, in the order error messages and /openapi.json list them; the parser
    /// reads names through this list, so an operation left out of it cannot be sent.
    pub const ALL: [OpKind; 3] = [OpKind::Add, OpKind::Replace, OpKind::Remove];

    pub fn as_str(self) -> &'static str {
        match self {
            OpKind::Add => "add",
            OpKind::Replace => "replace",
            OpKind::Remove => "remove",
        }
    }
}

#[derive(Debug, Clone)]
pub struct PatchOp {
    pub kind: OpKind,
    pub path: Option<String>,
    pub value: Option<Value>,
}

/// Reads a PatchOp message; keys and op names in any case (COMPAT 17, 18).
pub fn parse_request(body: Value, max_ops: usize) -> Result<Vec<PatchOp>, ScimError> {
    let Value::Object(body) = body else {
        return Err(ScimError::invalid_syntax(
            "a PATCH body is a JSON object with an \"Operations\" array",
        ));
    };
    let ops = body
        .into_iter()
        .find(|(k, _)| k.eq_ignore_ascii_case("operations"))
        .map(|(_, v)| v)
        .ok_or_else(|| ScimError::invalid_syntax("the PATCH body has no \"Operations\" array"))?;
    let Value::Array(ops) = ops else {
        return Err(ScimError::invalid_syntax("\"Operations\" must be an array"));
    };
    if ops.is_empty() {
        return Err(ScimError::invalid_syntax("\"Operations\" is empty"));
    }
    if ops.len() > max_ops {
        return Err(ScimError::new(
            400,
            Some(ScimType::TooMany),
            format!(
                "a PATCH may carry at most {max_ops} operations; this one has {}",
                ops.len()
            ),
        ));
    }
    ops.into_iter()
        .enumerate()
        .map(|(i, op)| {
            let Value::Object(op) = op else {
                return Err(ScimError::invalid_syntax(format!(
                    "operation {i} is not a JSON object"
                )));
            };
            let mut kind = None;
            let mut path = None;
            let mut value = None;
            for (k, v) in op {
                match k.to_ascii_lowercase().as_str() {
                    "op" => {
                        let named = v.as_str().and_then(|name| {
                            OpKind::ALL
                                .into_iter()
                                .find(|k| k.as_str().eq_ignore_ascii_case(name))
                        });
                        kind = Some(named.ok_or_else(|| {
                            ScimError::invalid_syntax(format!(
                                "operation {i}: \"op\" must be add, replace or remove, got {v}"
                            ))
                        })?);
                    }
                    "path" => match v {
                        Value::String(s) if !s.trim().is_empty() => path = Some(s),
                        Value::Null | Value::String(_) => {}
                        other => {
                            return Err(ScimError::bad_request(
                                ScimType::InvalidPath,
                                format!("operation {i}: \"path\" must be a string, got {other}"),
                            ))
                        }
                    },
                    "value" => value = Some(v),
                    _ => {}
                }
            }
            let kind = kind
                .ok_or_else(|| ScimError::invalid_syntax(format!("operation {i} has no \"op\"")))?;
            Ok(PatchOp { kind, path, value })
        })
        .collect()
}

/// Where an operation lands.
enum Target<'a> {
    /// A whole extension object (`path` is the extension URN).
    Extension(&'a Schema),
    ExternalId,
    Attr {
        /// `None`: the core schema (top level); otherwise the extension.
        ext: Option<&'a Schema>,
        def: &'a Attribute,
        filter: Option<Filter>,
        sub: Option<&'a Attribute>,
    },
}

pub struct Patcher<'a> {
    pub schema: &'a ResourceSchema,
    pub limits: &'a FilterLimits,
}

fn invalid_path(detail: String) -> ScimError {
    ScimError::bad_request(ScimType::InvalidPath, detail)
}

/// "" and null mean "clear" (COMPAT 22).
fn is_clear(v: &Value) -> bool {
    matches!(v, Value::Null) || v.as_str().is_some_and(str::is_empty)
}

impl Patcher<'_> {
    pub fn apply(&self, doc: &mut Map<String, Value>, ops: &[PatchOp]) -> Result<(), ScimError> {
        for (i, op) in ops.iter().enumerate() {
            self.apply_one(doc, op).map_err(|mut e| {
                e.detail = format!("operation {i} ({}): {}", op.kind.as_str(), e.detail);
                e
            })?;
        }
        Ok(())
    }

    fn apply_one(&self, doc: &mut Map<String, Value>, op: &PatchOp) -> Result<(), ScimError> {
        match &op.path {
            Some(path) => {
                let target = self.resolve(path)?;
                self.apply_target(doc, op.kind, target, op.value.clone(), path)
            }
            None => match op.kind {
                OpKind::Remove => Err(ScimError::bad_request(
                    ScimType::NoTarget,
                    "a remove operation needs a \"path\"",
                )),
                kind => {
                    let value = op.value.clone().unwrap_or(Value::Null);
                    let Value::Object(obj) = value else {
                        return Err(ScimError::invalid_value(
                            "without a \"path\", \"value\" must be an object of attributes",
                        ));
                    };
                    for (key, v) in obj {
                        if ["schemas", "id", "meta"]
                            .iter()
                            .any(|k| k.eq_ignore_ascii_case(&key))
                        {
                            continue;
                        }
                        // Unknown and read-only keys are ignored here as in a POST body: Entra
                        // and Okta send `id` and read-only attributes alongside the change.
                        let target = match self.resolve(&key) {
                            Ok(Target::Attr { def, .. })
                                if def.mutability == Mutability::ReadOnly =>
                            {
                                continue
                            }
                            Ok(t) => t,
                            Err(e) if e.scim_type == Some(ScimType::Mutability) => continue,
                            Err(_) => continue,
                        };
                        self.apply_target(doc, kind, target, Some(v), &key)?;
                    }
                    Ok(())
                }
            },
        }
    }

    fn resolve(&self, raw: &str) -> Result<Target<'_>, ScimError> {
        let raw = raw.trim();
        if let Some(ext) = self.schema.extension(raw) {
            return Ok(Target::Extension(ext));
        }
        let pp = parse_patch_path(raw, self.limits)
            .map_err(|e| invalid_path(format!("invalid path \"{raw}\": {e}")))?;
        let (schema, ext) = match &pp.path.urn {
            // An extension attribute without its URN (Entra's `manager[value eq "id"]`) is
            // found in the one extension that has it, where the core schema has none.
            None if self.schema.core.attr(&pp.path.attr).is_none() => {
                match self
                    .schema
                    .extensions
                    .iter()
                    .find(|e| e.attr(&pp.path.attr).is_some())
                {
                    Some(e) => (e, Some(e)),
                    None => (&self.schema.core, None),
                }
            }
            None => (&self.schema.core, None),
            Some(u) => {
                let s = self.schema.schema(u).ok_or_else(|| {
                    invalid_path(format!(
                        "\"{raw}\" names schema {u}, which {} resources do not have",
                        self.schema.kind.name()
                    ))
                })?;
                let ext = (s.id != self.schema.core.id).then_some(s);
                (s, ext)
            }
        };
        let attr = pp.path.attr.as_str();
        if ext.is_none() {
            if attr.eq_ignore_ascii_case("externalId") && pp.path.sub.is_none() {
                return Ok(Target::ExternalId);
            }
            if ["id", "meta", "schemas"]
                .iter()
                .any(|k| k.eq_ignore_ascii_case(attr))
            {
                return Err(ScimError::mutability(format!(
                    "\"{attr}\" is read-only and cannot be patched"
                )));
            }
        }
        let def = schema.attr(attr).ok_or_else(|| {
            invalid_path(format!(
                "\"{raw}\": {} has no attribute \"{attr}\"",
                schema.name
            ))
        })?;
        if def.mutability == Mutability::ReadOnly {
            return Err(ScimError::mutability(format!(
                "\"{}\" is read-only and cannot be patched",
                def.name
            )));
        }
        let sub_name = pp.path.sub.as_deref().or(pp.sub.as_deref());
        let sub = match sub_name {
            None => None,
            Some(s) => Some(def.sub(s).ok_or_else(|| {
                invalid_path(format!(
                    "\"{raw}\": \"{}\" has no sub-attribute \"{s}\"",
                    def.name
                ))
            })?),
        };
        // A filter on a single-valued complex attribute selects it or nothing: Entra removes
        // the enterprise manager with `manager[value eq "id"]` (COMPAT 21).
        if pp.filter.is_some() && def.kind != AttrType::Complex {
            return Err(invalid_path(format!(
                "\"{raw}\": a [filter] applies only to complex attributes"
            )));
        }
        if sub.is_some() && def.kind != AttrType::Complex {
            return Err(invalid_path(format!(
                "\"{raw}\": \"{}\" has no sub-attributes",
                def.name
            )));
        }
        Ok(Target::Attr {
            ext,
            def,
            filter: pp.filter,
            sub,
        })
    }

    fn apply_target(
        &self,
        doc: &mut Map<String, Value>,
        kind: OpKind,
        target: Target<'_>,
        value: Option<Value>,
        path: &str,
    ) -> Result<(), ScimError> {
        match target {
            Target::ExternalId => {
                match (kind, value) {
                    (OpKind::Remove, _) => {
                        doc.remove("externalId");
                    }
                    (_, Some(v)) if !is_clear(&v) => {
                        doc.insert("externalId".into(), v);
                    }
                    _ => {
                        doc.remove("externalId");
                    }
                }
                Ok(())
            }
            Target::Extension(ext) => {
                let value = value.map(|v| match v {
                    Value::Object(mut o) => {
                        // The tester and some IdPs nest "schemas" inside the extension value.
                        o.retain(|k, _| !k.eq_ignore_ascii_case("schemas"));
                        Value::Object(o)
                    }
                    other => other,
                });
                match (kind, value) {
                    (OpKind::Remove, _) => {
                        doc.remove(&ext.id);
                    }
                    (_, None) => {
                        doc.remove(&ext.id);
                    }
                    (_, Some(v)) if is_clear(&v) => {
                        doc.remove(&ext.id);
                    }
                    // RFC 7644 §3.5.2.1/3: an extension is a complex target, so each
                    // attribute given is added or replaced and the others are left as they
                    // are (a replace never wipes the attributes it does not name).
                    (kind, Some(Value::Object(o))) => {
                        for (k, v) in o {
                            let Some(def) = ext.attr(&k) else { continue };
                            if def.mutability == Mutability::ReadOnly {
                                continue;
                            }
                            let t = Target::Attr {
                                ext: Some(ext),
                                def,
                                filter: None,
                                sub: None,
                            };
                            self.apply_target(doc, kind, t, Some(v), &k)?;
                        }
                    }
                    (_, Some(other)) => {
                        return Err(ScimError::invalid_value(format!(
                            "the value for \"{path}\" must be an object, got {other}"
                        )))
                    }
                }
                Ok(())
            }
            Target::Attr {
                ext,
                def,
                filter,
                sub,
            } => {
                if kind == OpKind::Remove && def.required && filter.is_none() && sub.is_none() {
                    return Err(ScimError::invalid_value(format!(
                        "\"{}\" is required and cannot be removed",
                        def.name
                    )));
                }
                let container = match ext {
                    None => &mut *doc,
                    Some(e) => {
                        if kind == OpKind::Remove && !doc.contains_key(&e.id) {
                            return Ok(());
                        }
                        let slot = doc
                            .entry(e.id.clone())
                            .or_insert_with(|| Value::Object(Map::new()));
                        if !slot.is_object() {
                            *slot = Value::Object(Map::new());
                        }
                        slot.as_object_mut().expect("made an object above")
                    }
                };
                let res = match filter {
                    Some(f) => self.apply_filtered(container, kind, ext, def, &f, sub, value, path),
                    None => self.apply_attr(container, kind, def, sub, value, path),
                };
                if let Some(e) = ext {
                    if doc
                        .get(&e.id)
                        .and_then(Value::as_object)
                        .is_some_and(Map::is_empty)
                    {
                        doc.remove(&e.id);
                    }
                }
                res
            }
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn apply_attr(
        &self,
        container: &mut Map<String, Value>,
        kind: OpKind,
        def: &Attribute,
        sub: Option<&Attribute>,
        value: Option<Value>,
        path: &str,
    ) -> Result<(), ScimError> {
        let key = existing_key(container, &def.name);
        let clear = value.as_ref().is_none_or(is_clear);
        needs_value(kind, &value, path)?;

        // attr.sub
        if let Some(s) = sub {
            if def.multi_valued {
                // emails.value without a filter: every element.
                let mut items = take_array(container, &key);
                for item in items.iter_mut() {
                    if let Some(o) = item.as_object_mut() {
                        if kind == OpKind::Remove {
                            remove_ci(o, &s.name);
                        } else {
                            set_or_clear(o, &s.name, value.clone());
                        }
                    }
                }
                put_array(container, &def.name, items);
                return Ok(());
            }
            let mut obj = match container.remove(&key) {
                Some(Value::Object(o)) => o,
                _ => Map::new(),
            };
            if kind == OpKind::Remove {
                remove_ci(&mut obj, &s.name);
            } else {
                set_or_clear(&mut obj, &s.name, value);
            }
            if !obj.is_empty() {
                container.insert(def.name.clone(), Value::Object(obj));
            }
            return Ok(());
        }

        // attr
        match kind {
            OpKind::Remove => {
                match value {
                    // Entra removes members by listing them: only those go (COMPAT 27).
                    Some(v) if def.multi_valued && !is_clear(&v) => {
                        let listed = as_items(v);
                        let items = take_array(container, &key);
                        let kept: Vec<Value> = items
                            .into_iter()
                            .filter(|item| !listed.iter().any(|l| same_value(def, item, l)))
                            .collect();
                        put_array(container, &def.name, kept);
                    }
                    _ => {
                        container.remove(&key);
                    }
                }
                Ok(())
            }
            _ if clear => {
                container.remove(&key);
                Ok(())
            }
            OpKind::Add if def.multi_valued => {
                let incoming = as_items(value.unwrap_or(Value::Null));
                let mut items = take_array(container, &key);
                if incoming.iter().any(primary_true) {
                    clear_primary(&mut items);
                }
                for v in incoming {
                    if !items.iter().any(|i| same_value(def, i, &v)) {
                        items.push(v);
                    }
                }
                put_array(container, &def.name, items);
                Ok(())
            }
            OpKind::Replace if def.multi_valued => {
                container.remove(&key);
                let items = as_items(value.unwrap_or(Value::Null));
                put_array(container, &def.name, items);
                Ok(())
            }
            // RFC 7644 §3.5.2.1/3: on a complex attribute the given sub-attributes are set and
            // the others left as they are.
            _ if def.kind == AttrType::Complex => {
                let v = value.unwrap_or(Value::Null);
                match (container.remove(&key), v) {
                    (Some(Value::Object(mut old)), Value::Object(new)) => {
                        for (k, v) in new {
                            set_or_clear(&mut old, &k, Some(v));
                        }
                        if !old.is_empty() {
                            container.insert(def.name.clone(), Value::Object(old));
                        }
                    }
                    (_, v) => {
                        container.insert(def.name.clone(), v);
                    }
                }
                Ok(())
            }
            // Add on a single-valued attribute replaces it (COMPAT 23).
            _ => {
                container.remove(&key);
                container.insert(def.name.clone(), value.unwrap_or(Value::Null));
                Ok(())
            }
        }
    }
}

impl Patcher<'_> {
    /// `attr[filter]` and `attr[filter].sub`. A single-valued complex attribute is treated
    /// as a list of at most one element, so both kinds follow one rule.
    #[allow(clippy::too_many_arguments)]
    fn apply_filtered(
        &self,
        container: &mut Map<String, Value>,
        kind: OpKind,
        ext: Option<&Schema>,
        def: &Attribute,
        filter: &Filter,
        sub: Option<&Attribute>,
        value: Option<Value>,
        path: &str,
    ) -> Result<(), ScimError> {
        needs_value(kind, &value, path)?;
        let key = existing_key(container, &def.name);
        let clear = value.as_ref().is_none_or(is_clear);
        let items = take_array(container, &key);
        let sem = SchemaSemantics(self.schema);
        let urns = sem.extension_urns();
        let vp = Filter::ValuePath {
            path: AttrPath {
                urn: ext.map(|e| e.id.clone()),
                attr: def.name.clone(),
                sub: None,
            },
            filter: Box::new(filter.clone()),
        };
        let mut out = Vec::with_capacity(items.len() + 1);
        let mut matched = 0usize;
        for item in items {
            // Each element is evaluated alone, as {attr: [element]} (under its extension's
            // URN), so the reference evaluator decides the match exactly as a filter would.
            let element = serde_json::json!({ def.name.clone(): [item.clone()] });
            let probe = match ext {
                None => element,
                Some(e) => serde_json::json!({ e.id.clone(): element }),
            };
            let hit = matches(&vp, &probe, &sem, &urns)
                .map_err(|e| invalid_path(format!("\"{path}\": {}", e.message)))?;
            if !hit {
                out.push(item);
                continue;
            }
            matched += 1;
            let mut item = item;
            match (kind, sub) {
                (OpKind::Remove, None) => continue,
                (OpKind::Remove, Some(s)) => {
                    if let Some(o) = item.as_object_mut() {
                        remove_ci(o, &s.name);
                    }
                }
                (_, Some(s)) => {
                    if let Some(o) = item.as_object_mut() {
                        set_or_clear(o, &s.name, value.clone());
                    }
                }
                (OpKind::Replace, None) if clear => continue,
                (_, None) if clear => {}
                // A matched element is a complex target: the sub-attributes given replace
                // theirs and the rest stay (RFC 7644 §3.5.2.3).
                (_, None) => match (item.as_object_mut(), value.clone()) {
                    (Some(o), Some(Value::Object(v))) => {
                        for (k, v) in v {
                            set_or_clear(o, &k, Some(v));
                        }
                    }
                    (_, v) => {
                        return Err(ScimError::invalid_value(format!(
                            "\"{path}\": the value must be an object of sub-attributes, got {}",
                            v.unwrap_or(Value::Null)
                        )))
                    }
                },
            }
            // An element whose last sub-attribute was removed is gone, not an empty `{}`.
            if !item.as_object().is_some_and(Map::is_empty) {
                out.push(item);
            }
        }
        if matched == 0 && kind != OpKind::Remove && !clear {
            let fresh = self.fresh_element(filter, def, sub, value, path)?;
            if primary_true(&fresh) {
                clear_primary(&mut out);
            }
            out.push(fresh);
        }
        if def.multi_valued {
            put_array(container, &def.name, out);
        } else if let Some(one) = out.into_iter().next() {
            container.insert(def.name.clone(), one);
        }
        Ok(())
    }

    /// The element a filtered add or replace that matched nothing creates. Only the
    /// `attr[filter].sub` form with `eq` terms describes one (COMPAT 20: Entra's
    /// `emails[type eq "work"].value` on a user with no work email); any other form that
    /// matches nothing is `noTarget` (RFC 7644 §3.5.2.3), never a guess.
    fn fresh_element(
        &self,
        filter: &Filter,
        def: &Attribute,
        sub: Option<&Attribute>,
        value: Option<Value>,
        path: &str,
    ) -> Result<Value, ScimError> {
        let mut fresh = Map::new();
        seed_from_filter(filter, &mut fresh);
        let (Some(s), Some(v), true) = (sub, value, def.multi_valued && !fresh.is_empty()) else {
            return Err(ScimError::bad_request(
                ScimType::NoTarget,
                format!("\"{path}\" matches no value"),
            ));
        };
        fresh.insert(s.name.clone(), v);
        Ok(Value::Object(fresh))
    }
}

fn needs_value(kind: OpKind, value: &Option<Value>, path: &str) -> Result<(), ScimError> {
    if kind != OpKind::Remove && value.is_none() {
        return Err(ScimError::invalid_value(format!(
            "\"{path}\": an {} operation needs a \"value\"",
            kind.as_str()
        )));
    }
    Ok(())
}

/// The key an attribute is stored under in `container`, matched case-insensitively.
fn existing_key(container: &Map<String, Value>, name: &str) -> String {
    container
        .keys()
        .find(|k| k.eq_ignore_ascii_case(name))
        .cloned()
        .unwrap_or_else(|| name.to_owned())
}

fn remove_ci(o: &mut Map<String, Value>, name: &str) {
    let key = existing_key(o, name);
    o.remove(&key);
}

fn set_or_clear(o: &mut Map<String, Value>, name: &str, value: Option<Value>) {
    let key = existing_key(o, name);
    o.remove(&key);
    if let Some(v) = value {
        if !is_clear(&v) {
            o.insert(name.to_owned(), v);
        }
    }
}

fn take_array(container: &mut Map<String, Value>, key: &str) -> Vec<Value> {
    match container.remove(key) {
        Some(Value::Array(a)) => a,
        Some(Value::Null) | None => Vec::new(),
        Some(other) => vec![other],
    }
}

fn put_array(container: &mut Map<String, Value>, name: &str, items: Vec<Value>) {
    if !items.is_empty() {
        container.insert(name.to_owned(), Value::Array(items));
    }
}

fn as_items(v: Value) -> Vec<Value> {
    match v {
        Value::Array(a) => a.into_iter().filter(|v| !v.is_null()).collect(),
        Value::Null => Vec::new(),
        other => vec![other],
    }
}

/// Members are the same member when their ids match, whatever else the client sent with
/// them; other values are the same when equal.
fn same_value(def: &Attribute, a: &Value, b: &Value) -> bool {
    if def.name == "members" {
        let id = |v: &Value| v.get("value").and_then(Value::as_str).map(str::to_owned);
        return id(a).is_some() && id(a) == id(b);
    }
    a == b
}

fn primary_true(v: &Value) -> bool {
    match v.get("primary") {
        Some(Value::Bool(b)) => *b,
        Some(Value::String(s)) => s.eq_ignore_ascii_case("true"),
        _ => false,
    }
}

/// RFC 7643 §2.4: a new primary value takes the flag from the old one.
fn clear_primary(items: &mut [Value]) {
    for item in items.iter_mut() {
        if let Some(o) = item.as_object_mut() {
            if o.contains_key("primary") {
                o.insert("primary".into(), Value::Bool(false));
            }
        }
    }
}

/// The `eq` terms of an and-chain, as sub-attribute values of a new element.
fn seed_from_filter(f: &Filter, out: &mut Map<String, Value>) {
    match f {
        Filter::And(a, b) => {
            seed_from_filter(a, out);
            seed_from_filter(b, out);
        }
        Filter::Compare {
            path,
            op: CompareOp::Eq,
            value,
        } => {
            let v = match value {
                CompValue::String(s) => Value::String(s.clone()),
                CompValue::Bool(b) => Value::Bool(*b),
                CompValue::Number(n) => Value::Number(n.clone()),
                CompValue::Null => return,
            };
            out.insert(path.attr.clone(), v);
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scim::schema::Registry;
    use serde_json::json;

    fn run(kind_user: bool, doc: Value, body: Value) -> Result<Value, ScimError> {
        let r = Registry::get();
        let schema = if kind_user { &r.user } else { &r.group };
        let limits = FilterLimits::default();
        let p = Patcher {
            schema,
            limits: &limits,
        };
        let ops = parse_request(body, 100)?;
        let mut d = doc.as_object().cloned().unwrap();
        p.apply(&mut d, &ops)?;
        Ok(Value::Object(d))
    }

    #[test]
    fn entra_deactivation_with_capitalised_op_and_string_boolean() {
        let d = run(
            true,
            json!({"userName": "a", "active": true}),
            json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
                   "Operations": [{"op": "Replace", "path": "active", "value": "False"}]}),
        )
        .unwrap();
        assert_eq!(
            d["active"],
            json!("False"),
            "coercion happens in validation"
        );
    }

    #[test]
    fn pathless_dotted_and_urn_keys_are_applied() {
        let d = run(
            true,
            json!({"userName": "a", "name": {"familyName": "F"}}),
            json!({"operations": [{"op": "replace", "value": {
                "name.givenName": "A",
                "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber": "7",
                "id": "ignored"}}]}),
        )
        .unwrap();
        assert_eq!(d["name"], json!({"familyName": "F", "givenName": "A"}));
        assert_eq!(
            d["urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"]["employeeNumber"],
            "7"
        );
    }

    #[test]
    fn filtered_path_on_absent_entry_creates_it_with_the_filter_type() {
        let d = run(
            true,
            json!({"userName": "a"}),
            json!({"Operations": [{"op": "Add", "path": "emails[type eq \"work\"].value",
                                   "value": "a@work"}]}),
        )
        .unwrap();
        assert_eq!(d["emails"], json!([{"type": "work", "value": "a@work"}]));
        let d = run(
            true,
            d,
            json!({"Operations": [{"op": "replace", "path": "emails[type eq \"work\"].value",
                                   "value": "b@work"}]}),
        )
        .unwrap();
        assert_eq!(d["emails"], json!([{"type": "work", "value": "b@work"}]));
    }

    #[test]
    fn remove_members_with_value_list_removes_only_listed_members() {
        let d = run(
            false,
            json!({"displayName": "g", "members": [{"value": "1"}, {"value": "2"}, {"value": "3"}]}),
            json!({"Operations": [{"op": "Remove", "path": "members",
                                   "value": [{"value": "2"}, {"value": "9"}]}]}),
        )
        .unwrap();
        assert_eq!(d["members"], json!([{"value": "1"}, {"value": "3"}]));
    }

    #[test]
    fn remove_member_by_filter_and_add_is_idempotent() {
        let d = run(
            false,
            json!({"displayName": "g", "members": [{"value": "1"}, {"value": "2"}]}),
            json!({"Operations": [
                {"op": "remove", "path": "members[value eq \"1\"]"},
                {"op": "add", "path": "members", "value": [{"value": "2", "display": "x"}, {"value": "3"}]}
            ]}),
        )
        .unwrap();
        assert_eq!(d["members"], json!([{"value": "2"}, {"value": "3"}]));
    }

    #[test]
    fn pathless_rename_leaves_members_untouched() {
        let d = run(
            false,
            json!({"displayName": "g", "members": [{"value": "1"}]}),
            json!({"Operations": [{"op": "replace", "value": {"id": "x", "displayName": "h"}}]}),
        )
        .unwrap();
        assert_eq!(d["displayName"], "h");
        assert_eq!(d["members"], json!([{"value": "1"}]));
    }

    #[test]
    fn manager_removed_by_filter_or_cleared_by_empty_string() {
        let ent = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";
        let doc = json!({"userName": "a", ent: {"manager": {"value": "m1"}, "department": "D"}});
        let d = run(
            true,
            doc.clone(),
            json!({"Operations": [{"op": "replace", "path": format!("{ent}:manager"), "value": ""}]}),
        )
        .unwrap();
        assert_eq!(d[ent], json!({"department": "D"}));
        let d = run(
            true,
            doc,
            json!({"Operations": [{"op": "remove", "path": format!("{ent}:manager.value")}]}),
        )
        .unwrap();
        assert_eq!(d[ent], json!({"department": "D"}));
    }

    #[test]
    fn errors_name_the_problem() {
        let e = run(
            true,
            json!({"userName": "a"}),
            json!({"Operations": [{"op": "remove", "path": "userName"}]}),
        )
        .unwrap_err();
        assert!(e.detail.contains("required"), "{}", e.detail);
        let e = run(
            true,
            json!({"userName": "a"}),
            json!({"Operations": [{"op": "add", "path": "nope", "value": 1}]}),
        )
        .unwrap_err();
        assert_eq!(e.scim_type, Some(ScimType::InvalidPath));
        let e = run(
            true,
            json!({"userName": "a"}),
            json!({"Operations": [{"op": "replace", "path": "groups", "value": []}]}),
        )
        .unwrap_err();
        assert_eq!(e.scim_type, Some(ScimType::Mutability));
        let e = run(
            true,
            json!({"userName": "a"}),
            json!({"Operations": [{"op": "remove"}]}),
        )
        .unwrap_err();
        assert_eq!(e.scim_type, Some(ScimType::NoTarget));
        let e = run(
            true,
            json!({"userName": "a"}),
            json!({"Operations": [{"op": "merge", "path": "title", "value": "x"}]}),
        )
        .unwrap_err();
        assert_eq!(e.status, 400);
    }

    #[test]
    fn filtered_replace_matching_nothing_without_an_eq_is_no_target() {
        let e = run(
            true,
            json!({"userName": "a", "emails": [{"value": "x@y"}]}),
            json!({"Operations": [{"op": "replace", "path": "emails[value co \"zzz\"].type",
                                   "value": "work"}]}),
        )
        .unwrap_err();
        assert_eq!(e.scim_type, Some(ScimType::NoTarget));
        // A filtered remove that matches nothing is not an error: removal is idempotent.
        run(
            true,
            json!({"userName": "a", "emails": [{"value": "x@y"}]}),
            json!({"Operations": [{"op": "remove", "path": "emails[value co \"zzz\"]"}]}),
        )
        .unwrap();
    }

    #[test]
    fn add_appends_without_duplicates_and_replace_swaps_the_list() {
        let doc = json!({"userName": "a", "roles": [{"value": "r1"}]});
        let d = run(
            true,
            doc.clone(),
            json!({"Operations": [{"op": "add", "path": "roles",
                                   "value": [{"value": "r1"}, {"value": "r2"}]}]}),
        )
        .unwrap();
        assert_eq!(d["roles"], json!([{"value": "r1"}, {"value": "r2"}]));
        let d = run(
            true,
            doc,
            json!({"Operations": [{"op": "replace", "path": "roles", "value": [{"value": "r3"}]}]}),
        )
        .unwrap();
        assert_eq!(d["roles"], json!([{"value": "r3"}]));
    }

    #[test]
    fn remove_without_filter_clears_and_replace_merges_complex() {
        let doc = json!({"userName": "a", "emails": [{"value": "1"}, {"value": "2"}],
                         "name": {"givenName": "G", "familyName": "F"}});
        let d = run(
            true,
            doc,
            json!({"Operations": [
                {"op": "remove", "path": "emails"},
                {"op": "replace", "path": "name", "value": {"givenName": "H"}}
            ]}),
        )
        .unwrap();
        assert!(d.get("emails").is_none());
        assert_eq!(d["name"], json!({"givenName": "H", "familyName": "F"}));
    }

    #[test]
    fn add_on_single_valued_replaces_and_null_clears() {
        let d = run(
            true,
            json!({"userName": "a", "title": "Old", "nickName": "n"}),
            json!({"Operations": [
                {"op": "add", "path": "title", "value": "New"},
                {"op": "replace", "path": "nickName", "value": null}
            ]}),
        )
        .unwrap();
        assert_eq!(d["title"], "New");
        assert!(d.get("nickName").is_none());
    }

    #[test]
    fn whole_extension_path_ignores_nested_schemas_and_removes_cleanly() {
        let ent = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";
        let d = run(
            true,
            json!({"userName": "a"}),
            json!({"Operations": [{"op": "add", "path": ent,
                "value": {"schemas": [ent], "department": "D"}}]}),
        )
        .unwrap();
        assert_eq!(d[ent], json!({"department": "D"}));
        let d = run(
            true,
            d,
            json!({"Operations": [
                {"op": "remove", "path": ent},
                {"op": "remove", "path": format!("{ent}:department")}
            ]}),
        )
        .unwrap();
        assert!(d.get(ent).is_none());
    }

    const ENT: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";

    fn enterprise_user() -> Value {
        json!({"userName": "a", "name": {"givenName": "G", "familyName": "F", "middleName": "M"},
               ENT: {"employeeNumber": "7", "department": "D", "costCenter": "CC-1",
                     "manager": {"value": "m1"}}})
    }

    #[test]
    fn pathless_replace_of_the_extension_keeps_the_attributes_it_does_not_name() {
        for kind in ["replace", "add"] {
            let d = run(
                true,
                enterprise_user(),
                json!({"Operations": [{"op": kind, "value": {ENT: {"costCenter": "CC-9"}}}]}),
            )
            .unwrap();
            assert_eq!(
                d[ENT],
                json!({"employeeNumber": "7", "department": "D", "costCenter": "CC-9",
                       "manager": {"value": "m1"}}),
                "{kind}"
            );
            let d = run(
                true,
                enterprise_user(),
                json!({"Operations": [{"op": kind, "path": ENT,
                                       "value": {"department": "E", "manager": {"displayName": "Boss"}}}]}),
            )
            .unwrap();
            assert_eq!(
                d[ENT],
                json!({"employeeNumber": "7", "department": "E", "costCenter": "CC-1",
                       "manager": {"value": "m1", "displayName": "Boss"}}),
                "{kind} with the URN as path"
            );
        }
    }

    #[test]
    fn pathless_and_pathed_replace_of_name_keeps_the_other_sub_attributes() {
        for op in [
            json!({"op": "replace", "value": {"name": {"givenName": "X"}}}),
            json!({"op": "replace", "path": "name", "value": {"givenName": "X"}}),
            json!({"op": "add", "value": {"name": {"givenName": "X"}}}),
            json!({"op": "add", "path": "name", "value": {"givenName": "X"}}),
        ] {
            let d = run(true, enterprise_user(), json!({"Operations": [op.clone()]})).unwrap();
            assert_eq!(
                d["name"],
                json!({"givenName": "X", "familyName": "F", "middleName": "M"}),
                "{op}"
            );
            assert_eq!(d[ENT], enterprise_user()[ENT], "{op}");
        }
    }

    #[test]
    fn entra_manager_removal_by_value_filter_removes_only_a_match() {
        for path in [
            format!("{ENT}:manager[value eq \"m1\"]"),
            "manager[value eq \"m1\"]".into(),
        ] {
            let d = run(
                true,
                enterprise_user(),
                json!({"Operations": [{"op": "Remove", "path": path}]}),
            )
            .unwrap();
            assert!(d[ENT].get("manager").is_none(), "{path}: {}", d[ENT]);
            assert_eq!(d[ENT]["department"], "D");
        }
        let d = run(
            true,
            enterprise_user(),
            json!({"Operations": [{"op": "remove", "path": format!("{ENT}:manager[value eq \"other\"]")}]}),
        )
        .unwrap();
        assert_eq!(d, enterprise_user(), "a manager that does not match stays");
        let d = run(
            true,
            json!({"userName": "a"}),
            json!({"Operations": [{"op": "remove", "path": "manager[value eq \"m1\"]"}]}),
        )
        .unwrap();
        assert_eq!(d, json!({"userName": "a"}), "no manager, nothing to do");
    }

    #[test]
    fn value_filter_matching_nothing_is_no_target_and_adds_nothing() {
        let doc = json!({"userName": "a", "emails": [{"value": "a@x", "type": "work"}]});
        for op in [
            json!({"op": "replace", "path": "emails[value eq \"absent@example.com\"]",
                   "value": {"value": "x@example.com"}}),
            json!({"op": "add", "path": "emails[value eq \"absent@example.com\"]",
                   "value": {"value": "x@example.com"}}),
            json!({"op": "replace", "path": "manager[value eq \"m1\"].displayName",
                   "value": "Boss"}),
        ] {
            let e = run(true, doc.clone(), json!({"Operations": [op.clone()]})).unwrap_err();
            assert_eq!(e.scim_type, Some(ScimType::NoTarget), "{op}");
            assert_eq!(e.status, 400);
        }
    }

    #[test]
    fn filtered_replace_of_a_matched_element_keeps_its_other_sub_attributes() {
        let d = run(
            true,
            json!({"userName": "a", "emails": [{"value": "a@x", "type": "work", "primary": true},
                                               {"value": "b@x", "type": "home"}]}),
            json!({"Operations": [{"op": "replace", "path": "emails[type eq \"work\"]",
                                   "value": {"value": "new@x"}}]}),
        )
        .unwrap();
        assert_eq!(
            d["emails"],
            json!([{"value": "new@x", "type": "work", "primary": true},
                   {"value": "b@x", "type": "home"}])
        );
    }

    #[test]
    fn new_primary_email_takes_the_flag() {
        let d = run(
            true,
            json!({"userName": "a", "emails": [{"value": "old", "primary": true}]}),
            json!({"Operations": [{"op": "add", "path": "emails",
                                   "value": [{"value": "new", "primary": true}]}]}),
        )
        .unwrap();
        assert_eq!(
            d["emails"],
            json!([{"value": "old", "primary": false}, {"value": "new", "primary": true}])
        );
    }
}

/// Membership changes of one PATCH, as a delta: applied to the membership rows without
/// reading the member list, so a change costs the same for ten members or a hundred thousand.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MemberDelta {
    /// Remove every member first (a replace, or a remove without value).
    pub clear: bool,
    pub add: Vec<String>,
    pub remove: Vec<String>,
}

impl MemberDelta {
    fn add(&mut self, id: String) {
        self.remove.retain(|r| *r != id);
        if !self.add.contains(&id) {
            self.add.push(id);
        }
    }

    fn remove(&mut self, id: String) {
        self.add.retain(|a| *a != id);
        if !self.remove.contains(&id) {
            self.remove.push(id);
        }
    }

    fn clear(&mut self) {
        self.clear = true;
        self.add.clear();
        self.remove.clear();
    }
}

/// A Group PATCH split into attribute operations and a membership delta; `None` when some
/// membership operation needs the member list itself (a filter on `type`, a sub-attribute).
pub struct MemberSplit {
    pub doc_ops: Vec<PatchOp>,
    pub delta: Option<MemberDelta>,
}

fn is_members(path: &str) -> bool {
    let p = path.trim();
    p.eq_ignore_ascii_case("members")
        || p.eq_ignore_ascii_case("urn:ietf:params:scim:schemas:core:2.0:Group:members")
}

fn member_ids(value: Value) -> Result<Vec<String>, ScimError> {
    as_items(value)
        .into_iter()
        .map(|v| match v {
            Value::String(s) => Ok(s),
            Value::Object(o) => o
                .iter()
                .find(|(k, _)| k.eq_ignore_ascii_case("value"))
                .and_then(|(_, v)| v.as_str())
                .map(str::to_owned)
                .ok_or_else(|| {
                    ScimError::invalid_value(
                        "every member needs a \"value\": the id of a user or group",
                    )
                }),
            other => Err(ScimError::invalid_value(format!(
                "a member is an object with a \"value\", got {other}"
            ))),
        })
        .collect()
}

/// Ids named by `value eq "x" or value eq "y"`, or `None` for any other filter.
fn ids_in_filter(f: &Filter, out: &mut Vec<String>) -> bool {
    match f {
        Filter::Or(a, b) => ids_in_filter(a, out) && ids_in_filter(b, out),
        Filter::Compare {
            path,
            op: CompareOp::Eq,
            value: CompValue::String(s),
        } if path.attr.eq_ignore_ascii_case("value") && path.sub.is_none() => {
            out.push(s.clone());
            true
        }
        _ => false,
    }
}

pub fn split_members(
    ops: &[PatchOp],
    limits: &FilterLimits,
) -> Result<Option<MemberSplit>, ScimError> {
    let mut delta = MemberDelta::default();
    let mut touched = false;
    let mut doc_ops = Vec::with_capacity(ops.len());
    for op in ops {
        match (&op.path, op.kind) {
            (Some(p), kind) if is_members(p) => {
                touched = true;
                let value = op.value.clone().unwrap_or(Value::Null);
                match kind {
                    OpKind::Add => member_ids(value)?.into_iter().for_each(|id| delta.add(id)),
                    OpKind::Replace => {
                        let ids = member_ids(value)?;
                        delta.clear();
                        ids.into_iter().for_each(|id| delta.add(id));
                    }
                    OpKind::Remove if is_clear(&value) => delta.clear(),
                    // Entra lists the members to remove (COMPAT 27).
                    OpKind::Remove => member_ids(value)?
                        .into_iter()
                        .for_each(|id| delta.remove(id)),
                }
            }
            (Some(p), kind) if p.trim_start().to_ascii_lowercase().starts_with("members") => {
                let Ok(pp) = parse_patch_path(p, limits) else {
                    return Ok(None);
                };
                let mut ids = Vec::new();
                let simple = kind == OpKind::Remove
                    && pp.sub.is_none()
                    && pp.path.sub.is_none()
                    && pp
                        .filter
                        .as_ref()
                        .is_some_and(|f| ids_in_filter(f, &mut ids));
                if !simple {
                    return Ok(None);
                }
                touched = true;
                ids.into_iter().for_each(|id| delta.remove(id));
            }
            (None, kind) if kind != OpKind::Remove => {
                let Some(Value::Object(obj)) = &op.value else {
                    doc_ops.push(op.clone());
                    continue;
                };
                let mut rest = Map::new();
                for (k, v) in obj {
                    if is_members(k) {
                        touched = true;
                        let ids = member_ids(v.clone())?;
                        if kind == OpKind::Replace {
                            delta.clear();
                        }
                        ids.into_iter().for_each(|id| delta.add(id));
                    } else {
                        rest.insert(k.clone(), v.clone());
                    }
                }
                if !rest.is_empty() {
                    doc_ops.push(PatchOp {
                        kind,
                        path: None,
                        value: Some(Value::Object(rest)),
                    });
                }
            }
            _ => doc_ops.push(op.clone()),
        }
    }
    Ok(Some(MemberSplit {
        doc_ops,
        delta: touched.then_some(delta),
    }))
}

#[cfg(test)]
mod member_tests {
    use super::*;
    use serde_json::json;

    fn split(list: Value) -> Option<MemberSplit> {
        let ops = parse_request(json!({ "Operations": list }), 100).unwrap();
        split_members(&ops, &FilterLimits::default()).unwrap()
    }

    #[test]
    fn entra_and_okta_member_forms_become_a_delta() {
        let s = split(json!([
            {"op": "Add", "path": "members", "value": [{"value": "a"}, {"value": "b"}]},
            {"op": "Remove", "path": "members", "value": [{"value": "b"}]},
            {"op": "remove", "path": "members[value eq \"c\" or value eq \"d\"]"},
            {"op": "replace", "path": "displayName", "value": "x"}
        ]))
        .unwrap();
        let d = s.delta.unwrap();
        assert!(!d.clear);
        assert_eq!(d.add, vec!["a"]);
        assert_eq!(d.remove, vec!["b", "c", "d"]);
        assert_eq!(s.doc_ops.len(), 1);
    }

    #[test]
    fn replace_and_pathless_members_clear_first() {
        let s = split(json!([
            {"op": "replace", "value": {"displayName": "n", "members": [{"value": "z"}]}}
        ]))
        .unwrap();
        let d = s.delta.unwrap();
        assert!(d.clear);
        assert_eq!(d.add, vec!["z"]);
        assert_eq!(s.doc_ops.len(), 1);
        assert!(s.doc_ops[0]
            .value
            .as_ref()
            .unwrap()
            .get("members")
            .is_none());
    }

    #[test]
    fn filters_on_other_sub_attributes_need_the_member_list() {
        assert!(split(json!([{"op": "remove", "path": "members[type eq \"Group\"]"}])).is_none());
        assert!(split(
            json!([{"op": "add", "path": "members[value eq \"a\"].display", "value": "x"}])
        )
        .is_none());
    }
}
