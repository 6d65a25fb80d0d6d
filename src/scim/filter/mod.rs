//! SCIM filter language (RFC 7644 §3.4.2.2): parsing of filters and PATCH paths, canonical printing, and the reference in-memory evaluator.

mod ast;
mod eval;
mod parser;
mod path;

/// The evaluator reads attribute types as the schema registry defines them.
pub use super::schema::AttrType as AttrKind;
pub use ast::{AttrPath, CompValue, CompareOp, Filter, FilterError, FilterLimits};
pub use eval::{matches, AttrInfo, AttrSemantics, CompiledFilter};
pub use parser::parse_filter;
pub use path::{parse_patch_path, PatchPath};
