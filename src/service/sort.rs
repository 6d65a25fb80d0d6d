//! Resolves `sortBy` / `sortOrder` against the schema into a storage sort.

use crate::scim::filter::{parse_patch_path, FilterLimits};
use crate::scim::resolve::{Owner, PathError, ResolvedPath};
use crate::scim::schema::{AttrType, Registry, ResourceKind};
use crate::scim::{fold, ScimError};
use crate::store::query::{Field, Sort, SortKind};
use crate::store::StoredResource;
use serde_json::Value;

pub fn resolve_sort(
    kind: ResourceKind,
    sort_by: Option<&str>,
    sort_order: Option<&str>,
) -> Result<Option<Sort>, ScimError> {
    let descending = descending(sort_order)?;
    let Some(raw) = sort_by.map(str::trim).filter(|s| !s.is_empty()) else {
        return Ok(None);
    };
    let bad = |why: &str| ScimError::invalid_value(format!("cannot sort by \"{raw}\": {why}"));
    let pp = parse_patch_path(raw, &FilterLimits::default()).map_err(|e| bad(&e.to_string()))?;
    if pp.filter.is_some() || pp.sub.is_some() {
        return Err(bad("sortBy takes an attribute name, not a filter"));
    }
    let schema = Registry::get().resource(kind);
    let p = schema.resolve(&pp.path).map_err(|e| bad(unresolved(e)))?;
    let field = sort_field(kind, p).map_err(bad)?;
    let kind = match p.kind() {
        AttrType::Boolean | AttrType::Integer | AttrType::Decimal => SortKind::Number,
        _ => SortKind::Text,
    };
    Ok(Some(Sort {
        field,
        descending,
        fold: kind == SortKind::Text && p.folds(),
        kind,
    }))
}

fn descending(sort_order: Option<&str>) -> Result<bool, ScimError> {
    match sort_order.map(str::trim).filter(|s| !s.is_empty()) {
        None => Ok(false),
        Some(o) if o.eq_ignore_ascii_case("ascending") => Ok(false),
        Some(o) if o.eq_ignore_ascii_case("descending") => Ok(true),
        Some(o) => Err(ScimError::invalid_value(format!(
            "sortOrder must be \"ascending\" or \"descending\", got \"{o}\""
        ))),
    }
}

fn unresolved(e: PathError<'_>) -> &'static str {
    match e {
        PathError::UnknownSchema => "unknown schema",
        PathError::UnknownAttr(_) => "unknown attribute",
        PathError::UnknownSub(a) | PathError::NoSubAttributes(a) if a.name == "meta" => META,
        PathError::UnknownSub(_) | PathError::NoSubAttributes(_) => "unknown sub-attribute",
    }
}

const META: &str = "use meta.created or meta.lastModified";

/// Where a resolved path's sort key is stored.
fn sort_field(kind: ResourceKind, p: ResolvedPath<'_>) -> Result<Field, &'static str> {
    if matches!(p.owner, Owner::Common) {
        let field = match (p.attr.name.as_str(), p.sub_name()) {
            ("id", None) => Field::Id,
            ("externalId", None) => Field::ExternalId,
            ("meta", Some("created")) => Field::Created,
            ("meta", Some("lastModified")) => Field::LastModified,
            _ => return Err(META),
        };
        return Ok(field);
    }
    if matches!(p.owner, Owner::Core(_)) && p.attr.name == kind.name_attr() && p.sub.is_none() {
        return Ok(Field::NameFolded);
    }
    if p.attr.multi_valued {
        return Err("it is multi-valued; sort by a singular attribute");
    }
    if p.kind() == AttrType::Complex {
        return Err("it is complex; name a sub-attribute such as name.familyName");
    }
    Ok(Field::Json(p.json_path()))
}

/// A row's sort key as the store orders it: text in byte order (folded by `scim::fold`),
/// numbers by value, `None` for a missing or null value.
#[derive(Debug, Clone, PartialEq, PartialOrd)]
enum Key {
    Number(f64),
    Text(String),
}

fn sort_key(sort: &Sort, kind: ResourceKind, r: &StoredResource) -> Option<Key> {
    let text = |s: &str| Some(Key::Text(s.to_owned()));
    let value = match &sort.field {
        Field::Id => return text(&r.id),
        Field::ExternalId => return r.external_id.as_deref().and_then(text),
        Field::Created => return text(&r.created),
        Field::LastModified => return text(&r.last_modified),
        Field::NameFolded => {
            return r
                .data
                .get(kind.name_attr())?
                .as_str()
                .map(|s| Key::Text(fold(s)))
        }
        Field::Json(path) => {
            let (first, rest) = path.split_first()?;
            rest.iter().try_fold(r.data.get(first)?, |v, k| v.get(k))?
        }
        Field::Element(_) | Field::GroupIds | Field::MemberIds => return None,
    };
    match (sort.kind, value) {
        (_, Value::Null) => None,
        (SortKind::Number, Value::Bool(b)) => Some(Key::Number(if *b { 1.0 } else { 0.0 })),
        (SortKind::Number, Value::Number(n)) => n.as_f64().map(Key::Number),
        (SortKind::Number, Value::String(s)) => s.trim().parse().ok().map(Key::Number),
        (SortKind::Text, Value::String(s)) if sort.fold => Some(Key::Text(fold(s))),
        (SortKind::Text, Value::String(s)) => text(s),
        (SortKind::Text, v @ (Value::Bool(_) | Value::Number(_))) => text(&v.to_string()),
        _ => None,
    }
}

/// Whether `a` goes before `b`, or ties with it, in a list sorted `descending` or not with
/// missing values last (the store's `NULLS LAST` either way).
fn not_after(a: &Option<Key>, b: &Option<Key>, descending: bool) -> bool {
    match (a, b) {
        (_, None) => true,
        (None, Some(_)) => false,
        (Some(a), Some(b)) if descending => a >= b,
        (Some(a), Some(b)) => a <= b,
    }
}

/// Merges lists the store sorted, each by its own resource type's `Sort` (`None`: a type
/// without the attribute, whose rows all sort as missing), into one list in that order.
/// Each list keeps its own order; on a tie the earlier list goes first, so Users precede
/// Groups as in an unsorted root search.
pub fn merge_sorted(
    descending: bool,
    lists: Vec<(ResourceKind, Option<Sort>, Vec<StoredResource>)>,
) -> Vec<(ResourceKind, StoredResource)> {
    let mut keyed: Vec<std::collections::VecDeque<(Option<Key>, ResourceKind, StoredResource)>> =
        lists
            .into_iter()
            .map(|(kind, sort, rows)| {
                rows.into_iter()
                    .map(|r| {
                        let k = sort.as_ref().and_then(|s| sort_key(s, kind, &r));
                        (k, kind, r)
                    })
                    .collect()
            })
            .collect();
    let mut out = Vec::with_capacity(keyed.iter().map(|l| l.len()).sum());
    loop {
        // The first list whose head goes no later than every other list's head.
        let mut best: Option<usize> = None;
        for (i, list) in keyed.iter().enumerate() {
            let Some((k, ..)) = list.front() else {
                continue;
            };
            match best {
                Some(b) if not_after(&keyed[b][0].0, k, descending) => {}
                _ => best = Some(i),
            }
        }
        let Some(b) = best else { return out };
        let (_, kind, r) = keyed[b].pop_front().expect("a head was found");
        out.push((kind, r));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scim::urn;

    fn sort(by: &str) -> Result<Sort, String> {
        resolve_sort(ResourceKind::User, Some(by), None)
            .map(|s| s.expect("a sort"))
            .map_err(|e| e.detail)
    }

    #[test]
    fn text_folds_by_the_attributes_case_rule() {
        let s = sort("USERNAME").unwrap();
        assert_eq!((s.field, s.fold), (Field::NameFolded, true));
        let s = sort("name.givenName").unwrap();
        assert_eq!(
            s.field,
            Field::Json(vec!["name".into(), "givenName".into()])
        );
        assert!(s.fold);
        assert!(!sort("externalId").unwrap().fold);
        let s = sort("meta.lastModified").unwrap();
        assert_eq!(
            (s.field, s.fold, s.kind),
            (Field::LastModified, false, SortKind::Text)
        );
        assert_eq!(sort("active").unwrap().kind, SortKind::Number);
    }

    #[test]
    fn extension_attributes_sort_under_their_urn() {
        let s = sort(&format!("{}:manager.value", urn::ENTERPRISE_USER)).unwrap();
        assert_eq!(
            s.field,
            Field::Json(vec![
                urn::ENTERPRISE_USER.into(),
                "manager".into(),
                "value".into()
            ])
        );
    }

    #[test]
    fn unsortable_paths_say_why() {
        for (by, why) in [
            ("emails", "multi-valued"),
            ("name", "complex"),
            ("meta.location", "meta.created"),
            ("meta.nope", "meta.created"),
            ("nope", "unknown attribute"),
            ("name.nope", "unknown sub-attribute"),
            ("urn:x:y:userName", "unknown schema"),
            ("emails[type eq \"work\"]", "not a filter"),
        ] {
            let e = sort(by).unwrap_err();
            assert!(e.contains(why), "{by}: {e}");
        }
    }
}
