//! The JSON edits PATCH operations share: finding an attribute's key whatever its case,
//! setting or clearing a value, multi-valued lists and their `primary` flag.

use serde_json::{Map, Value};

use crate::scim::schema::Attribute;

/// "" and null mean "clear" (COMPAT 22).
pub(super) fn is_clear(v: &Value) -> bool {
    matches!(v, Value::Null) || v.as_str().is_some_and(str::is_empty)
}

/// One attribute's place in its container (the resource, or an extension object): the key it
/// is stored under now, matched case-insensitively, and the schema spelling it is written as.
pub(super) struct Slot<'c, 'd> {
    container: &'c mut Map<String, Value>,
    key: String,
    pub def: &'d Attribute,
}

impl<'c, 'd> Slot<'c, 'd> {
    pub fn new(container: &'c mut Map<String, Value>, def: &'d Attribute) -> Self {
        let key = existing_key(container, &def.name);
        Self {
            container,
            key,
            def,
        }
    }

    pub fn take(&mut self) -> Option<Value> {
        self.container.remove(&self.key)
    }

    /// The values, as a list whatever was stored.
    pub fn take_array(&mut self) -> Vec<Value> {
        match self.take() {
            Some(Value::Array(a)) => a,
            Some(Value::Null) | None => Vec::new(),
            Some(other) => vec![other],
        }
    }

    pub fn put(&mut self, v: Value) {
        self.container.insert(self.def.name.clone(), v);
    }

    /// Writes the list back; an empty list is no value.
    pub fn put_array(&mut self, items: Vec<Value>) {
        if !items.is_empty() {
            self.put(Value::Array(items));
        }
    }
}

/// The key an attribute is stored under in `container`, matched case-insensitively.
fn existing_key(container: &Map<String, Value>, name: &str) -> String {
    container
        .keys()
        .find(|k| k.eq_ignore_ascii_case(name))
        .cloned()
        .unwrap_or_else(|| name.to_owned())
}

pub(super) fn remove_ci(o: &mut Map<String, Value>, name: &str) {
    let key = existing_key(o, name);
    o.remove(&key);
}

/// Sets `name` to `value`, or removes it when `value` clears.
pub(super) fn set_or_clear(o: &mut Map<String, Value>, name: &str, value: Value) {
    remove_ci(o, name);
    if !is_clear(&value) {
        o.insert(name.to_owned(), value);
    }
}

/// Sets each member of `from` on `o`, leaving the others (a complex target, RFC 7644 §3.5.2.1/3).
pub(super) fn merge_into(o: &mut Map<String, Value>, from: Map<String, Value>) {
    for (k, v) in from {
        set_or_clear(o, &k, v);
    }
}

pub(super) fn as_items(v: Value) -> Vec<Value> {
    match v {
        Value::Array(a) => a.into_iter().filter(|v| !v.is_null()).collect(),
        Value::Null => Vec::new(),
        other => vec![other],
    }
}

/// Members are the same member when their ids match, whatever else the client sent with
/// them; other values are the same when equal.
pub(super) fn same_value(def: &Attribute, a: &Value, b: &Value) -> bool {
    if def.name == "members" {
        let id = |v: &Value| v.get("value").and_then(Value::as_str).map(str::to_owned);
        return id(a).is_some() && id(a) == id(b);
    }
    a == b
}

pub(super) fn primary_true(v: &Value) -> bool {
    match v.get("primary") {
        Some(Value::Bool(b)) => *b,
        Some(Value::String(s)) => s.eq_ignore_ascii_case("true"),
        _ => false,
    }
}

/// RFC 7643 §2.4: a new primary value takes the flag from the old one.
pub(super) fn clear_primary(items: &mut [Value]) {
    for item in items.iter_mut() {
        if let Some(o) = item.as_object_mut() {
            if o.contains_key("primary") {
                o.insert("primary".into(), Value::Bool(false));
            }
        }
    }
}
