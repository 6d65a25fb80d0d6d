//! Resolves `sortBy` / `sortOrder` against the schema into a storage sort.

use crate::scim::filter::{parse_patch_path, FilterLimits};
use crate::scim::schema::{AttrType, Registry, ResourceKind};
use crate::scim::ScimError;
use crate::store::query::{Field, Sort, SortKind};

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
