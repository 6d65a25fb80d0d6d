//! Where a PATCH path lands: resolved once against the resource type's schemas, with the
//! PATCH-only rules on top (a whole extension, `externalId`, read-only attributes, and Entra's
//! extension attributes written without their URN).

use crate::scim::error::{ScimError, ScimType};
use crate::scim::filter::{parse_patch_path, AttrPath, Filter, FilterLimits};
use crate::scim::resolve::{PathError, ResolvedPath};
use crate::scim::schema::{AttrType, Mutability, ResourceSchema, Schema};

pub(super) enum Target<'s> {
    /// A whole extension object (`path` is the extension URN).
    Extension(&'s Schema),
    ExternalId,
    /// An attribute or sub-attribute, narrowed by a value filter when one is given.
    Attr {
        at: ResolvedPath<'s>,
        filter: Option<Filter>,
    },
}

pub(super) fn invalid_path(detail: String) -> ScimError {
    ScimError::bad_request(ScimType::InvalidPath, detail)
}

fn read_only(name: &str) -> ScimError {
    ScimError::mutability(format!("\"{name}\" is read-only and cannot be patched"))
}

/// Resolves the `path` of an operation (or a key of a pathless operation's value).
pub(super) fn resolve<'s>(
    schema: &'s ResourceSchema,
    limits: &FilterLimits,
    raw: &str,
) -> Result<Target<'s>, ScimError> {
    let raw = raw.trim();
    if let Some(ext) = schema.extension(raw) {
        return Ok(Target::Extension(ext));
    }
    let pp = parse_patch_path(raw, limits)
        .map_err(|e| invalid_path(format!("invalid path \"{raw}\": {e}")))?;
    let core_urn = |u: &String| u.eq_ignore_ascii_case(&schema.core.id);
    if pp.path.attr.eq_ignore_ascii_case("schemas") && pp.path.urn.as_ref().is_none_or(core_urn) {
        return Err(read_only(&pp.path.attr));
    }
    // `emails[type eq "work"].value` names the same sub-attribute as `emails.value`.
    let path = AttrPath {
        sub: pp.path.sub.clone().or(pp.sub),
        ..in_extension(schema, pp.path)
    };
    let at = schema
        .resolve(&path)
        .map_err(|e| unresolved(schema, raw, &path, e))?;
    if at.is_common("externalId") {
        return Ok(Target::ExternalId);
    }
    if at.attr.mutability == Mutability::ReadOnly {
        return Err(read_only(&at.attr.name));
    }
    // A filter on a single-valued complex attribute selects it or nothing: Entra removes
    // the enterprise manager with `manager[value eq "id"]` (COMPAT 21).
    if pp.filter.is_some() && at.attr.kind != AttrType::Complex {
        return Err(invalid_path(format!(
            "\"{raw}\": a [filter] applies only to complex attributes"
        )));
    }
    Ok(Target::Attr {
        at,
        filter: pp.filter,
    })
}

/// An extension attribute without its URN (Entra's `manager[value eq "id"]`) is found in the
/// one extension that has it, where the core schema has none.
fn in_extension(schema: &ResourceSchema, path: AttrPath) -> AttrPath {
    if path.urn.is_some() || schema.core.attr(&path.attr).is_some() {
        return path;
    }
    match schema
        .extensions
        .iter()
        .find(|e| e.attr(&path.attr).is_some())
    {
        Some(ext) => AttrPath {
            urn: Some(ext.id.clone()),
            ..path
        },
        None => path,
    }
}

/// Read-only wins over an unknown sub-attribute: `groups.x` is refused as read-only.
fn unresolved(schema: &ResourceSchema, raw: &str, path: &AttrPath, e: PathError<'_>) -> ScimError {
    let sub = path.sub.as_deref().unwrap_or_default();
    match e {
        PathError::UnknownSchema => invalid_path(format!(
            "\"{raw}\" names schema {}, which {} resources do not have",
            path.urn.as_deref().unwrap_or_default(),
            schema.kind.name()
        )),
        PathError::UnknownAttr(s) => invalid_path(format!(
            "\"{raw}\": {} has no attribute \"{}\"",
            s.name, path.attr
        )),
        PathError::UnknownSub(a) | PathError::NoSubAttributes(a)
            if a.mutability == Mutability::ReadOnly =>
        {
            read_only(&a.name)
        }
        PathError::UnknownSub(a) | PathError::NoSubAttributes(a) => invalid_path(format!(
            "\"{raw}\": \"{}\" has no sub-attribute \"{sub}\"",
            a.name
        )),
    }
}
