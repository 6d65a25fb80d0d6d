//! The schema registry seen through the filter evaluator's `AttrSemantics` trait.

use super::filter::{AttrInfo, AttrKind, AttrPath, AttrSemantics};
use super::schema::{AttrType, Attribute, ResourceSchema};

pub struct SchemaSemantics<'a>(pub &'a ResourceSchema);

fn info(a: &Attribute) -> AttrInfo {
    AttrInfo {
        kind: match a.kind {
            AttrType::String => AttrKind::String,
            AttrType::Boolean => AttrKind::Boolean,
            AttrType::Decimal => AttrKind::Decimal,
            AttrType::Integer => AttrKind::Integer,
            AttrType::DateTime => AttrKind::DateTime,
            AttrType::Binary => AttrKind::Binary,
            AttrType::Reference => AttrKind::Reference,
            AttrType::Complex => AttrKind::Complex,
        },
        case_exact: a.case_exact,
        multi_valued: a.multi_valued,
    }
}

impl SchemaSemantics<'_> {
    fn attr(&self, path: &AttrPath) -> Option<&Attribute> {
        let s = match &path.urn {
            None => &self.0.core,
            Some(u) => self.0.schema(u)?,
        };
        s.attr(&path.attr)
    }

    pub fn extension_urns(&self) -> Vec<&str> {
        self.0.extensions.iter().map(|e| e.id.as_str()).collect()
    }
}

impl AttrSemantics for SchemaSemantics<'_> {
    fn lookup(&self, path: &AttrPath) -> Option<AttrInfo> {
        if path.urn.is_none() || path.urn.as_deref() == Some(self.0.core.id.as_str()) {
            match path.attr.to_ascii_lowercase().as_str() {
                "id" | "externalid" => {
                    return Some(AttrInfo {
                        kind: AttrKind::String,
                        case_exact: true,
                        multi_valued: false,
                    })
                }
                _ => {}
            }
        }
        self.attr(path).map(info)
    }

    fn lookup_sub(&self, parent: &AttrPath, sub: &str) -> Option<AttrInfo> {
        self.attr(parent)?.sub(sub).map(info)
    }
}
