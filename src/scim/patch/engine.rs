//! Applies PATCH operations to a resource document (core attributes at the top, extensions
//! under their URN, `externalId`, and `members` for Groups) in the dialects real identity
//! providers speak (COMPAT 15-29). The caller validates the result exactly as it would a PUT
//! body.

use serde_json::{Map, Value};

use super::filtered::apply_filtered;
use super::request::{OpKind, PatchOp};
use super::target::{resolve, Target};
use super::values::{
    as_items, clear_primary, is_clear, merge_into, primary_true, remove_ci, same_value,
    set_or_clear, Slot,
};
use crate::scim::error::{ScimError, ScimType};
use crate::scim::filter::FilterLimits;
use crate::scim::resolve::{Owner, ResolvedPath};
use crate::scim::schema::{AttrType, Attribute, Mutability, ResourceSchema, Schema};

pub struct Patcher<'a> {
    pub schema: &'a ResourceSchema,
    pub limits: &'a FilterLimits,
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
        let Some(path) = &op.path else {
            return self.apply_pathless(doc, op);
        };
        let target = resolve(self.schema, self.limits, path)?;
        self.apply_target(doc, op.kind, target, op.value.clone(), path)
    }

    /// Without a path, each key of the value is a path of its own.
    fn apply_pathless(&self, doc: &mut Map<String, Value>, op: &PatchOp) -> Result<(), ScimError> {
        if op.kind == OpKind::Remove {
            return Err(ScimError::bad_request(
                ScimType::NoTarget,
                "a remove operation needs a \"path\"",
            ));
        }
        let Some(Value::Object(obj)) = op.value.clone() else {
            return Err(ScimError::invalid_value(
                "without a \"path\", \"value\" must be an object of attributes",
            ));
        };
        for (key, v) in obj {
            // Unknown and read-only keys are ignored here as in a POST body: Entra and Okta
            // send `id`, `schemas` and read-only attributes alongside the change.
            let Ok(target) = resolve(self.schema, self.limits, &key) else {
                continue;
            };
            self.apply_target(doc, op.kind, target, Some(v), &key)?;
        }
        Ok(())
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
                apply_external_id(doc, kind, value);
                Ok(())
            }
            Target::Extension(ext) => self.apply_extension(doc, kind, ext, value, path),
            Target::Attr { at, filter } => {
                if kind == OpKind::Remove
                    && at.attr.required
                    && filter.is_none()
                    && at.sub.is_none()
                {
                    return Err(ScimError::invalid_value(format!(
                        "\"{}\" is required and cannot be removed",
                        at.attr.name
                    )));
                }
                needs_value(kind, &value, path)?;
                let Some(container) = container(doc, kind, at.extension()) else {
                    return Ok(());
                };
                let slot = Slot::new(container, at.attr);
                let res = match &filter {
                    Some(f) => apply_filtered(self.schema, slot, kind, at, f, value, path),
                    None => apply_attr(slot, kind, at.sub, value),
                };
                drop_empty_extension(doc, at.extension());
                res
            }
        }
    }

    /// RFC 7644 §3.5.2.1/3: an extension is a complex target, so each attribute given is added
    /// or replaced and the others are left as they are (a replace never wipes the attributes
    /// it does not name).
    fn apply_extension(
        &self,
        doc: &mut Map<String, Value>,
        kind: OpKind,
        ext: &Schema,
        value: Option<Value>,
        path: &str,
    ) -> Result<(), ScimError> {
        let attrs = match value {
            Some(Value::Object(o)) if kind != OpKind::Remove => o,
            Some(other) if kind != OpKind::Remove && !is_clear(&other) => {
                return Err(ScimError::invalid_value(format!(
                    "the value for \"{path}\" must be an object, got {other}"
                )))
            }
            _ => {
                doc.remove(&ext.id);
                return Ok(());
            }
        };
        // The tester and some IdPs nest "schemas" inside the extension value.
        for (k, v) in attrs
            .into_iter()
            .filter(|(k, _)| !k.eq_ignore_ascii_case("schemas"))
        {
            let Some(def) = ext
                .attr(&k)
                .filter(|d| d.mutability != Mutability::ReadOnly)
            else {
                continue;
            };
            let at = ResolvedPath {
                owner: Owner::Extension(ext),
                attr: def,
                sub: None,
            };
            let t = Target::Attr { at, filter: None };
            self.apply_target(doc, kind, t, Some(v), &k)?;
        }
        Ok(())
    }
}

fn apply_external_id(doc: &mut Map<String, Value>, kind: OpKind, value: Option<Value>) {
    match value {
        Some(v) if kind != OpKind::Remove && !is_clear(&v) => {
            doc.insert("externalId".into(), v);
        }
        _ => {
            doc.remove("externalId");
        }
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

/// The object an attribute lives in: the document, or its extension's object (made when an
/// add or replace needs it; `None` for a remove from an extension that is not there).
fn container<'d>(
    doc: &'d mut Map<String, Value>,
    kind: OpKind,
    ext: Option<&Schema>,
) -> Option<&'d mut Map<String, Value>> {
    let Some(e) = ext else { return Some(doc) };
    if kind == OpKind::Remove && !doc.contains_key(&e.id) {
        return None;
    }
    let slot = doc
        .entry(e.id.clone())
        .or_insert_with(|| Value::Object(Map::new()));
    if !slot.is_object() {
        *slot = Value::Object(Map::new());
    }
    slot.as_object_mut()
}

/// An extension whose last attribute went is gone, not an empty `{}`.
fn drop_empty_extension(doc: &mut Map<String, Value>, ext: Option<&Schema>) {
    let Some(e) = ext else { return };
    if doc
        .get(&e.id)
        .and_then(Value::as_object)
        .is_some_and(Map::is_empty)
    {
        doc.remove(&e.id);
    }
}

/// `attr` or `attr.sub`, without a filter.
fn apply_attr(
    mut slot: Slot<'_, '_>,
    kind: OpKind,
    sub: Option<&Attribute>,
    value: Option<Value>,
) -> Result<(), ScimError> {
    let multi = slot.def.multi_valued;
    let clear = value.as_ref().is_none_or(is_clear);
    match (sub, kind) {
        (Some(s), _) if multi => patch_sub_of_each(slot, s, kind, value),
        (Some(s), _) => patch_sub(slot, s, kind, value),
        (None, OpKind::Remove) => remove_values(slot, value),
        (None, _) if clear => {
            slot.take();
        }
        (None, OpKind::Add) if multi => add_values(slot, value.unwrap_or_default()),
        (None, OpKind::Replace) if multi => {
            slot.take();
            slot.put_array(as_items(value.unwrap_or_default()));
        }
        (None, _) if slot.def.kind == AttrType::Complex => {
            merge_complex(slot, value.unwrap_or_default())
        }
        // Add on a single-valued attribute replaces it (COMPAT 23).
        (None, _) => {
            slot.take();
            slot.put(value.unwrap_or_default());
        }
    }
    Ok(())
}

/// `emails.value` without a filter: that sub-attribute of every element.
fn patch_sub_of_each(mut slot: Slot<'_, '_>, sub: &Attribute, kind: OpKind, value: Option<Value>) {
    let mut items = slot.take_array();
    for o in items.iter_mut().filter_map(Value::as_object_mut) {
        set_sub(o, sub, kind, value.clone());
    }
    slot.put_array(items);
}

/// `name.givenName`: a sub-attribute of a singular complex attribute.
fn patch_sub(mut slot: Slot<'_, '_>, sub: &Attribute, kind: OpKind, value: Option<Value>) {
    let mut obj = match slot.take() {
        Some(Value::Object(o)) => o,
        _ => Map::new(),
    };
    set_sub(&mut obj, sub, kind, value);
    if !obj.is_empty() {
        slot.put(Value::Object(obj));
    }
}

fn set_sub(o: &mut Map<String, Value>, sub: &Attribute, kind: OpKind, value: Option<Value>) {
    if kind == OpKind::Remove {
        remove_ci(o, &sub.name);
    } else {
        set_or_clear(o, &sub.name, value.unwrap_or_default());
    }
}

/// A remove of the attribute: all of it, or, when values are listed, only those. Entra removes
/// members by listing them (COMPAT 27).
fn remove_values(mut slot: Slot<'_, '_>, value: Option<Value>) {
    let listed = match value {
        Some(v) if slot.def.multi_valued && !is_clear(&v) => as_items(v),
        _ => {
            slot.take();
            return;
        }
    };
    let def = slot.def;
    let kept: Vec<Value> = slot
        .take_array()
        .into_iter()
        .filter(|item| !listed.iter().any(|l| same_value(def, item, l)))
        .collect();
    slot.put_array(kept);
}

/// An add to a multi-valued attribute appends what is not there yet.
fn add_values(mut slot: Slot<'_, '_>, value: Value) {
    let incoming = as_items(value);
    let mut items = slot.take_array();
    if incoming.iter().any(primary_true) {
        clear_primary(&mut items);
    }
    for v in incoming {
        if !items.iter().any(|i| same_value(slot.def, i, &v)) {
            items.push(v);
        }
    }
    slot.put_array(items);
}

/// RFC 7644 §3.5.2.1/3: on a complex attribute the given sub-attributes are set and the others
/// left as they are.
fn merge_complex(mut slot: Slot<'_, '_>, value: Value) {
    match (slot.take(), value) {
        (Some(Value::Object(mut old)), Value::Object(new)) => {
            merge_into(&mut old, new);
            if !old.is_empty() {
                slot.put(Value::Object(old));
            }
        }
        (_, v) => slot.put(v),
    }
}

#[cfg(test)]
mod tests {
    use super::super::request::parse_request;
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
