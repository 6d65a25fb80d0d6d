//! SCIM filter language (RFC 7644 §3.4.2.2): parsing of filters and PATCH paths, canonical printing, and the reference in-memory evaluator.

mod ast;
mod eval;
mod parser;
mod path;

pub use ast::{AttrPath, CompValue, CompareOp, Filter, FilterError, FilterLimits};
pub use eval::{
    matches, parse_date_time, AttrInfo, AttrKind, AttrSemantics, CompiledFilter, UtcInstant,
};
pub use parser::parse_filter;
pub use path::{parse_patch_path, PatchPath};
