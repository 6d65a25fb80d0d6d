//! RFC 7644 §3.5.2 PATCH, pure: reading a PatchOp message (`request`), applying its operations
//! to a resource document (`engine`, with `target` resolving paths, `filtered` for
//! `attr[filter]` paths and `values` for the JSON edits they share), and splitting a Group's
//! membership changes into a delta that needs no member list (`members`).

mod engine;
mod filtered;
mod members;
mod request;
mod target;
mod values;

pub use engine::Patcher;
pub use members::{split_members, MemberDelta, MemberSplit};
pub use request::{parse_request, OpKind, PatchOp};
