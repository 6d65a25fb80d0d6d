//! The SCIM protocol, pure: schemas and the attribute paths resolved against them, the value
//! case-folding and dateTime rules, validation, rendering, projection, paging, filters, PATCH
//! and discovery documents. Nothing here knows about HTTP frameworks or databases.

mod case;
pub mod cursor;
pub mod datetime;
pub mod discovery;
pub mod error;
pub mod filter;
pub mod list;
pub mod patch;
pub mod projection;
pub mod resolve;
pub mod resource;
pub mod schema;
pub mod semantics;
pub mod urn;
pub mod validate;

pub use case::{fold, folds};
pub use error::{ScimError, ScimType};
