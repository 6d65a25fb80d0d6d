//! The schema registry seen through the filter evaluator's `AttrSemantics` trait: each lookup
//! is a `ResourceSchema::resolve`, so the evaluator and the SQL lowering agree on every name.

use super::filter::{AttrInfo, AttrPath, AttrSemantics};
use super::resolve::ResolvedPath;
use super::schema::ResourceSchema;

pub struct SchemaSemantics<'a>(pub &'a ResourceSchema);

fn info(p: ResolvedPath<'_>) -> AttrInfo {
    let def = p.def();
    AttrInfo {
        kind: def.kind,
        case_exact: def.case_exact,
        multi_valued: def.multi_valued,
    }
}

impl SchemaSemantics<'_> {
    pub fn extension_urns(&self) -> Vec<&str> {
        self.0.extensions.iter().map(|e| e.id.as_str()).collect()
    }
}

impl AttrSemantics for SchemaSemantics<'_> {
    fn lookup(&self, path: &AttrPath) -> Option<AttrInfo> {
        self.0.resolve(path).ok().map(info)
    }

    fn lookup_sub(&self, parent: &AttrPath, sub: &str) -> Option<AttrInfo> {
        let path = AttrPath {
            sub: Some(sub.to_owned()),
            ..parent.clone()
        };
        self.0.resolve(&path).ok().map(info)
    }
}
