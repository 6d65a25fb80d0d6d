//! `attr[filter]` and `attr[filter].sub` operations: each element the value filter selects is
//! changed or removed, and an add or replace that selects nothing may create the element the
//! filter describes. A single-valued complex attribute is treated as a list of at most one
//! element, so both kinds follow one rule.

use serde_json::{Map, Value};

use super::request::OpKind;
use super::target::invalid_path;
use super::values::{
    clear_primary, is_clear, merge_into, primary_true, remove_ci, set_or_clear, Slot,
};
use crate::scim::error::{ScimError, ScimType};
use crate::scim::filter::{AttrPath, CompValue, CompareOp, CompiledFilter, Filter};
use crate::scim::resolve::ResolvedPath;
use crate::scim::schema::{Attribute, ResourceSchema};
use crate::scim::semantics::SchemaSemantics;

pub(super) fn apply_filtered(
    schema: &ResourceSchema,
    mut slot: Slot<'_, '_>,
    kind: OpKind,
    at: ResolvedPath<'_>,
    filter: &Filter,
    value: Option<Value>,
    path: &str,
) -> Result<(), ScimError> {
    let clear = value.as_ref().is_none_or(is_clear);
    let items = slot.take_array();
    let selects = Selector::new(schema, at, filter, !items.is_empty(), path)?;
    let mut out = Vec::with_capacity(items.len() + 1);
    let mut matched = 0usize;
    for item in items {
        if !selects.matches(&item) {
            out.push(item);
            continue;
        }
        matched += 1;
        out.extend(patch_element(item, kind, at.sub, &value, clear, path)?);
    }
    if matched == 0 && kind != OpKind::Remove && !clear {
        let fresh = fresh_element(filter, at, value, path)?;
        if primary_true(&fresh) {
            clear_primary(&mut out);
        }
        out.push(fresh);
    }
    if at.attr.multi_valued {
        slot.put_array(out);
    } else if let Some(one) = out.into_iter().next() {
        slot.put(one);
    }
    Ok(())
}

/// Decides which elements a value filter selects, by the reference evaluator: each element is
/// evaluated alone, as `{attr: [element]}` under its extension's URN, so the match is exactly
/// what the same filter selects in a search.
struct Selector<'s> {
    compiled: Option<CompiledFilter>,
    at: ResolvedPath<'s>,
}

impl<'s> Selector<'s> {
    /// Compiled only when there are elements to test: a filter over an absent attribute
    /// selects nothing and is not checked.
    fn new(
        schema: &ResourceSchema,
        at: ResolvedPath<'s>,
        filter: &Filter,
        needed: bool,
        path: &str,
    ) -> Result<Self, ScimError> {
        if !needed {
            return Ok(Self { compiled: None, at });
        }
        let vp = Filter::ValuePath {
            path: AttrPath {
                urn: at.extension().map(|e| e.id.clone()),
                attr: at.attr.name.clone(),
                sub: None,
            },
            filter: Box::new(filter.clone()),
        };
        let sem = SchemaSemantics(schema);
        let compiled = CompiledFilter::compile(&vp, &sem, &sem.extension_urns())
            .map_err(|e| invalid_path(format!("\"{path}\": {}", e.message)))?;
        Ok(Self {
            compiled: Some(compiled),
            at,
        })
    }

    fn matches(&self, item: &Value) -> bool {
        let Some(compiled) = &self.compiled else {
            return false;
        };
        let element = serde_json::json!({ self.at.attr.name.clone(): [item.clone()] });
        let probe = match self.at.extension() {
            None => element,
            Some(e) => serde_json::json!({ e.id.clone(): element }),
        };
        compiled.matches(&probe)
    }
}

/// A selected element after the operation, `None` when it is gone: removed, replaced by a
/// clearing value, or left with no sub-attribute (not an empty `{}`).
fn patch_element(
    mut item: Value,
    kind: OpKind,
    sub: Option<&Attribute>,
    value: &Option<Value>,
    clear: bool,
    path: &str,
) -> Result<Option<Value>, ScimError> {
    match (kind, sub, item.as_object_mut()) {
        (OpKind::Remove, None, _) => return Ok(None),
        (OpKind::Remove, Some(s), Some(o)) => remove_ci(o, &s.name),
        (_, Some(s), Some(o)) => set_or_clear(o, &s.name, value.clone().unwrap_or_default()),
        (_, Some(_), None) => {}
        (OpKind::Replace, None, _) if clear => return Ok(None),
        (_, None, _) if clear => {}
        // A matched element is a complex target: the sub-attributes given replace theirs and
        // the rest stay (RFC 7644 §3.5.2.3).
        (_, None, Some(o)) => match value.clone() {
            Some(Value::Object(v)) => merge_into(o, v),
            v => return Err(not_an_object(path, v)),
        },
        (_, None, None) => return Err(not_an_object(path, value.clone())),
    }
    Ok((!item.as_object().is_some_and(Map::is_empty)).then_some(item))
}

fn not_an_object(path: &str, v: Option<Value>) -> ScimError {
    ScimError::invalid_value(format!(
        "\"{path}\": the value must be an object of sub-attributes, got {}",
        v.unwrap_or(Value::Null)
    ))
}

/// The element a filtered add or replace that matched nothing creates. Only the
/// `attr[filter].sub` form with `eq` terms describes one (COMPAT 20: Entra's
/// `emails[type eq "work"].value` on a user with no work email); any other form that
/// matches nothing is `noTarget` (RFC 7644 §3.5.2.3), never a guess.
fn fresh_element(
    filter: &Filter,
    at: ResolvedPath<'_>,
    value: Option<Value>,
    path: &str,
) -> Result<Value, ScimError> {
    let mut fresh = Map::new();
    seed_from_filter(filter, &mut fresh);
    let (Some(s), Some(v), true) = (at.sub, value, at.attr.multi_valued && !fresh.is_empty())
    else {
        return Err(ScimError::bad_request(
            ScimType::NoTarget,
            format!("\"{path}\" matches no value"),
        ));
    };
    fresh.insert(s.name.clone(), v);
    Ok(Value::Object(fresh))
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
