//! Attribute paths resolved against a resource type's schemas, once: which schema owns the
//! attribute, and the definitions of the attribute and of its sub-attribute. Filter lowering,
//! sorting, the filter evaluator, PATCH and projection all resolve names through here, so a
//! name means the same attribute, type and case rule in each.

use std::fmt;

use super::case;
use super::filter::AttrPath;
use super::schema::{common, AttrType, Attribute, ResourceSchema, Schema};

/// Where an attribute is defined, which is also where its values are kept.
#[derive(Debug, Clone, Copy)]
pub enum Owner<'s> {
    /// `id`, `externalId` and `meta` (RFC 7643 §3.1), which every resource has and the store
    /// keeps beside the attribute data.
    Common,
    /// The core schema: values at the top level of the resource.
    Core(&'s Schema),
    /// An extension: values under the extension's URN.
    Extension(&'s Schema),
}

/// An attribute path with its definitions looked up.
#[derive(Debug, Clone, Copy)]
pub struct ResolvedPath<'s> {
    pub owner: Owner<'s>,
    pub attr: &'s Attribute,
    pub sub: Option<&'s Attribute>,
}

/// Why a path names no attribute. Each consumer words its own message from it.
#[derive(Debug, Clone, Copy)]
pub enum PathError<'s> {
    /// The URN names no schema of this resource type.
    UnknownSchema,
    /// The schema has no attribute of that name.
    UnknownAttr(&'s Schema),
    /// The attribute is complex but has no sub-attribute of that name.
    UnknownSub(&'s Attribute),
    /// A sub-attribute was named on an attribute that is not complex.
    NoSubAttributes(&'s Attribute),
}

impl<'s> PathError<'s> {
    /// The attribute the path did resolve, when only its sub-attribute failed.
    pub fn attr(&self) -> Option<&'s Attribute> {
        match self {
            PathError::UnknownSub(a) | PathError::NoSubAttributes(a) => Some(a),
            PathError::UnknownSchema | PathError::UnknownAttr(_) => None,
        }
    }
}

impl<'s> ResolvedPath<'s> {
    /// The definition that governs the path's values: the sub-attribute's when one is named.
    pub fn def(&self) -> &'s Attribute {
        self.sub.unwrap_or(self.attr)
    }

    pub fn kind(&self) -> AttrType {
        self.def().kind
    }

    /// Whether the path's values compare case-insensitively (see [`case::folds`]).
    pub fn folds(&self) -> bool {
        case::folds(self.def().kind, self.def().case_exact)
    }

    /// The extension whose URN key holds the values, if any.
    pub fn extension(&self) -> Option<&'s Schema> {
        match self.owner {
            Owner::Extension(s) => Some(s),
            Owner::Common | Owner::Core(_) => None,
        }
    }

    /// Whether this is the common attribute `name` (`id`, `externalId` or `meta`).
    pub fn is_common(&self, name: &str) -> bool {
        matches!(self.owner, Owner::Common) && self.attr.name == name
    }

    /// The sub-attribute's schema name, if one is named.
    pub fn sub_name(&self) -> Option<&'s str> {
        self.sub.map(|s| s.name.as_str())
    }

    /// Keys from the top of the stored attribute data down to the values, in schema spelling:
    /// `["name", "givenName"]`, `["urn:...:enterprise:2.0:User", "manager", "value"]`.
    pub fn json_path(&self) -> Vec<String> {
        let mut keys = Vec::with_capacity(3);
        if let Some(ext) = self.extension() {
            keys.push(ext.id.clone());
        }
        keys.push(self.attr.name.clone());
        if let Some(sub) = self.sub {
            keys.push(sub.name.clone());
        }
        keys
    }
}

/// The path in schema spelling, URN-qualified only for extensions.
impl fmt::Display for ResolvedPath<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(ext) = self.extension() {
            write!(f, "{}:", ext.id)?;
        }
        f.write_str(&self.attr.name)?;
        if let Some(sub) = self.sub {
            write!(f, ".{}", sub.name)?;
        }
        Ok(())
    }
}

impl ResourceSchema {
    /// Resolves `[urn:]attr[.sub]`, names and URNs case-insensitively. Without a URN, or with
    /// the core URN, the name is a common or core attribute; unqualified names never reach
    /// into extensions.
    pub fn resolve(&self, path: &AttrPath) -> Result<ResolvedPath<'_>, PathError<'_>> {
        let schema = match &path.urn {
            None => &self.core,
            Some(urn) => self.schema(urn).ok_or(PathError::UnknownSchema)?,
        };
        let in_core = std::ptr::eq(schema, &self.core);
        let (owner, attr) = match common().attr(&path.attr).filter(|_| in_core) {
            Some(attr) => (Owner::Common, attr),
            None => {
                let attr = schema
                    .attr(&path.attr)
                    .ok_or(PathError::UnknownAttr(schema))?;
                let owner = if in_core {
                    Owner::Core(schema)
                } else {
                    Owner::Extension(schema)
                };
                (owner, attr)
            }
        };
        let sub = match path.sub.as_deref() {
            None => None,
            Some(_) if attr.kind != AttrType::Complex => {
                return Err(PathError::NoSubAttributes(attr))
            }
            Some(name) => Some(attr.sub(name).ok_or(PathError::UnknownSub(attr))?),
        };
        Ok(ResolvedPath { owner, attr, sub })
    }

    /// The schema a path names as a whole. The path grammar cannot tell a schema URN from a
    /// URN-qualified attribute, so `urn:...:enterprise:2.0:User` arrives as attribute `User`
    /// of schema `urn:...:enterprise:2.0`.
    pub fn whole_schema(&self, path: &AttrPath) -> Option<&Schema> {
        let urn = path.urn.as_deref().filter(|_| path.sub.is_none())?;
        self.schema(&format!("{urn}:{}", path.attr))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scim::filter::{parse_patch_path, FilterLimits};
    use crate::scim::schema::Registry;
    use crate::scim::urn;

    fn path(text: &str) -> AttrPath {
        parse_patch_path(text, &FilterLimits::default())
            .unwrap_or_else(|e| panic!("{text}: {e}"))
            .path
    }

    fn resolve(text: &str) -> Result<ResolvedPath<'static>, PathError<'static>> {
        Registry::get().user.resolve(&path(text))
    }

    #[test]
    fn names_resolve_case_insensitively_to_their_schema_spelling() {
        let p = resolve("NAME.givenname").unwrap();
        assert!(matches!(p.owner, Owner::Core(_)));
        assert_eq!(p.to_string(), "name.givenName");
        assert_eq!(p.json_path(), ["name", "givenName"]);
        assert!(p.folds());
        let p = resolve(&format!("{}:userName", urn::USER.to_uppercase())).unwrap();
        assert_eq!(p.to_string(), "userName");
    }

    #[test]
    fn common_attributes_resolve_without_a_schema_document() {
        let p = resolve("meta.lastModified").unwrap();
        assert!(p.is_common("meta"));
        assert_eq!(p.kind(), AttrType::DateTime);
        let p = resolve(&format!("{}:externalId", urn::USER)).unwrap();
        assert!(p.is_common("externalId"));
        assert!(!p.folds());
        assert!(matches!(
            resolve(&format!("{}:id", urn::ENTERPRISE_USER)),
            Err(PathError::UnknownAttr(_))
        ));
    }

    #[test]
    fn extension_attributes_need_their_urn() {
        let p = resolve(&format!("{}:manager.value", urn::ENTERPRISE_USER)).unwrap();
        assert_eq!(
            p.extension().map(|s| s.id.as_str()),
            Some(urn::ENTERPRISE_USER)
        );
        assert_eq!(
            p.json_path(),
            [urn::ENTERPRISE_USER, "manager", "value"].map(String::from)
        );
        assert!(matches!(resolve("manager"), Err(PathError::UnknownAttr(_))));
    }

    #[test]
    fn failures_say_which_part_is_unknown() {
        assert!(matches!(
            resolve("urn:example:Foo:userName"),
            Err(PathError::UnknownSchema)
        ));
        assert!(
            matches!(resolve("name.middle"), Err(PathError::UnknownSub(a)) if a.name == "name")
        );
        assert!(matches!(
            resolve("userName.x"),
            Err(PathError::NoSubAttributes(a)) if a.name == "userName"
        ));
    }

    #[test]
    fn a_bare_extension_urn_names_the_whole_schema() {
        let user = &Registry::get().user;
        let whole = user.whole_schema(&path(urn::ENTERPRISE_USER));
        assert_eq!(whole.map(|s| s.id.as_str()), Some(urn::ENTERPRISE_USER));
        assert!(user.whole_schema(&path("userName")).is_none());
    }
}
