//! Resolves `sortBy` / `sortOrder` against the schema into a storage sort.

use crate::scim::filter::{parse_patch_path, FilterLimits};
use crate::scim::schema::{AttrType, Registry, ResourceKind};
use crate::scim::ScimError;
use crate::store::query::{Field, Sort, SortKind};
use crate::store::StoredResource;
use serde_json::Value;

pub fn resolve_sort(
    kind: ResourceKind,
    sort_by: Option<&str>,
    sort_order: Option<&str>,
) -> Result<Option<Sort>, ScimError> {
    let descending = match sort_order.map(str::trim).filter(|s| !s.is_empty()) {
        None => false,
        Some(o) if o.eq_ignore_ascii_case("ascending") => false,
        Some(o) if o.eq_ignore_ascii_case("descending") => true,
        Some(o) => {
            return Err(ScimError::invalid_value(format!(
                "sortOrder must be \"ascending\" or \"descending\", got \"{o}\""
            )))
        }
    };
    let Some(raw) = sort_by.map(str::trim).filter(|s| !s.is_empty()) else {
        return Ok(None);
    };
    let bad = |why: &str| ScimError::invalid_value(format!("cannot sort by \"{raw}\": {why}"));
    let pp = parse_patch_path(raw, &FilterLimits::default()).map_err(|e| bad(&e.to_string()))?;
    if pp.filter.is_some() || pp.sub.is_some() {
        return Err(bad("sortBy takes an attribute name, not a filter"));
    }
    let schema = Registry::get().resource(kind);
    let (s, in_core) = match &pp.path.urn {
        None => (&schema.core, true),
        Some(u) => {
            let s = schema.schema(u).ok_or_else(|| bad("unknown schema"))?;
            (s, s.id == schema.core.id)
        }
    };
    let attr = pp.path.attr.as_str();
    let sub = pp.path.sub.as_deref();
    let text = |field: Field, fold: bool| Sort {
        field,
        descending,
        fold,
        kind: SortKind::Text,
    };
    if in_core {
        match (
            attr.to_ascii_lowercase().as_str(),
            sub.map(str::to_ascii_lowercase).as_deref(),
        ) {
            ("id", None) => return Ok(Some(text(Field::Id, false))),
            ("externalid", None) => return Ok(Some(text(Field::ExternalId, false))),
            ("meta", Some("created")) => return Ok(Some(text(Field::Created, false))),
            ("meta", Some("lastmodified")) => return Ok(Some(text(Field::LastModified, false))),
            ("meta", _) => return Err(bad("use meta.created or meta.lastModified")),
            _ => {}
        }
    }
    let def = s.attr(attr).ok_or_else(|| bad("unknown attribute"))?;
    let name_attr = match kind {
        ResourceKind::User => "userName",
        ResourceKind::Group => "displayName",
    };
    if in_core && def.name == name_attr && sub.is_none() {
        return Ok(Some(text(Field::NameFolded, true)));
    }
    if def.multi_valued {
        return Err(bad("it is multi-valued; sort by a singular attribute"));
    }
    let mut path = Vec::with_capacity(3);
    if !in_core {
        path.push(s.id.clone());
    }
    path.push(def.name.clone());
    let leaf = match sub {
        Some(sname) => {
            let sd = def.sub(sname).ok_or_else(|| bad("unknown sub-attribute"))?;
            path.push(sd.name.clone());
            sd
        }
        None if def.kind == AttrType::Complex => {
            return Err(bad(
                "it is complex; name a sub-attribute such as name.familyName",
            ))
        }
        None => def,
    };
    let kind = match leaf.kind {
        AttrType::Boolean | AttrType::Integer | AttrType::Decimal => SortKind::Number,
        _ => SortKind::Text,
    };
    Ok(Some(Sort {
        field: Field::Json(path),
        descending,
        fold: kind == SortKind::Text && !leaf.case_exact,
        kind,
    }))
}

/// A row's sort key as the store orders it: text in byte order (folded as `name_ci` and
/// `lower()` fold), numbers by value, `None` for a missing or null value.
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
            let name = match kind {
                ResourceKind::User => "userName",
                ResourceKind::Group => "displayName",
            };
            return r
                .data
                .get(name)?
                .as_str()
                .map(|s| Key::Text(s.to_lowercase()));
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
        (SortKind::Text, Value::String(s)) if sort.fold => Some(Key::Text(s.to_lowercase())),
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
