//! A Group PATCH's membership changes as a delta (ids to add and remove, or a clear first),
//! applied to the membership rows without reading the member list, so a change costs the same
//! for ten members or a hundred thousand.

use serde_json::{Map, Value};

use super::request::{OpKind, PatchOp};
use super::values::{as_items, is_clear};
use crate::scim::error::ScimError;
use crate::scim::filter::{
    parse_patch_path, CompValue, CompareOp, Filter, FilterLimits, PatchPath,
};
use crate::scim::resolve::Owner;
use crate::scim::schema::Registry;

/// Membership changes of one PATCH.
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

pub fn split_members(
    ops: &[PatchOp],
    limits: &FilterLimits,
) -> Result<Option<MemberSplit>, ScimError> {
    let mut split = Splitter::default();
    for op in ops {
        if !split.take(op, limits)? {
            return Ok(None);
        }
    }
    Ok(Some(MemberSplit {
        doc_ops: split.doc_ops,
        delta: split.touched.then_some(split.delta),
    }))
}

#[derive(Default)]
struct Splitter {
    delta: MemberDelta,
    /// Whether any operation changed membership (an empty delta still means "clear nothing").
    touched: bool,
    doc_ops: Vec<PatchOp>,
}

impl Splitter {
    /// Takes one operation into the delta or the document operations; `false` when it needs
    /// the member list.
    fn take(&mut self, op: &PatchOp, limits: &FilterLimits) -> Result<bool, ScimError> {
        let members = op.path.as_deref().and_then(|p| members_path(p, limits));
        match (members, op.kind) {
            (Some(MembersPath::Whole), kind) => {
                self.whole(kind, op.value.clone().unwrap_or(Value::Null))?
            }
            (Some(MembersPath::Filtered(pp)), OpKind::Remove) => return Ok(self.filtered(&pp)),
            (Some(_), _) => return Ok(false),
            (None, OpKind::Add | OpKind::Replace) if op.path.is_none() => {
                self.pathless(op, limits)?
            }
            (None, _) => self.doc_ops.push(op.clone()),
        }
        Ok(true)
    }

    /// An operation on `members` itself.
    fn whole(&mut self, kind: OpKind, value: Value) -> Result<(), ScimError> {
        self.touched = true;
        match kind {
            OpKind::Add => self.add_all(value),
            OpKind::Replace => {
                self.delta.clear();
                self.add_all(value)
            }
            OpKind::Remove if is_clear(&value) => {
                self.delta.clear();
                Ok(())
            }
            // Entra lists the members to remove (COMPAT 27).
            OpKind::Remove => {
                member_ids(value)?
                    .into_iter()
                    .for_each(|id| self.delta.remove(id));
                Ok(())
            }
        }
    }

    fn add_all(&mut self, value: Value) -> Result<(), ScimError> {
        member_ids(value)?
            .into_iter()
            .for_each(|id| self.delta.add(id));
        Ok(())
    }

    /// `members[value eq "a" or value eq "b"]` removes those ids; any other filter, or a
    /// sub-attribute, needs the member list.
    fn filtered(&mut self, pp: &PatchPath) -> bool {
        let mut ids = Vec::new();
        let simple = pp.sub.is_none()
            && pp.path.sub.is_none()
            && pp
                .filter
                .as_ref()
                .is_some_and(|f| ids_in_filter(f, &mut ids));
        if simple {
            self.touched = true;
            ids.into_iter().for_each(|id| self.delta.remove(id));
        }
        simple
    }

    /// A pathless add or replace: its `members` key joins the delta, the rest stays an
    /// operation on the document.
    fn pathless(&mut self, op: &PatchOp, limits: &FilterLimits) -> Result<(), ScimError> {
        let Some(Value::Object(obj)) = &op.value else {
            self.doc_ops.push(op.clone());
            return Ok(());
        };
        let mut rest = Map::new();
        for (k, v) in obj {
            if !matches!(members_path(k, limits), Some(MembersPath::Whole)) {
                rest.insert(k.clone(), v.clone());
                continue;
            }
            self.touched = true;
            if op.kind == OpKind::Replace {
                self.delta.clear();
            }
            self.add_all(v.clone())?;
        }
        if !rest.is_empty() {
            self.doc_ops.push(PatchOp {
                kind: op.kind,
                path: None,
                value: Some(Value::Object(rest)),
            });
        }
        Ok(())
    }
}

enum MembersPath {
    /// `members`, or with the Group URN.
    Whole,
    /// `members[...]`, `members.x` or `members[...].x`.
    Filtered(PatchPath),
}

/// What a path says about `members`, resolved as the engine resolves it; `None` for a path
/// that names another attribute (or none: the engine reports it).
fn members_path(raw: &str, limits: &FilterLimits) -> Option<MembersPath> {
    let pp = parse_patch_path(raw.trim(), limits).ok()?;
    let at = Registry::get().group.resolve(&pp.path).ok()?;
    if !matches!(at.owner, Owner::Core(_)) || at.attr.name != "members" {
        return None;
    }
    if pp.filter.is_none() && pp.path.sub.is_none() {
        return Some(MembersPath::Whole);
    }
    Some(MembersPath::Filtered(pp))
}

fn member_ids(value: Value) -> Result<Vec<String>, ScimError> {
    as_items(value).into_iter().map(member_id).collect()
}

/// A member as Entra (an object with `value`) or a bare id string.
fn member_id(v: Value) -> Result<String, ScimError> {
    match v {
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
    }
}

/// Collects the ids of `value eq "x" or value eq "y"`; `false` for any other filter.
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

#[cfg(test)]
mod tests {
    use super::super::request::parse_request;
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

    #[test]
    fn member_paths_resolve_as_the_engine_resolves_them() {
        let s = split(json!([
            {"op": "remove",
             "path": "urn:ietf:params:scim:schemas:core:2.0:Group:MEMBERS[value eq \"a\"]"},
            {"op": "add", "path": " Members ", "value": [{"value": "b"}]}
        ]))
        .unwrap();
        let d = s.delta.unwrap();
        assert_eq!(
            (d.add, d.remove),
            (vec!["b".to_owned()], vec!["a".to_owned()])
        );
        assert!(s.doc_ops.is_empty());
        let s = split(json!([{"op": "add", "path": "membersX", "value": 1}])).unwrap();
        assert!(s.delta.is_none());
        assert_eq!(s.doc_ops.len(), 1);
    }
}
