//! The SCIM protocol, pure: schemas, validation, rendering, projection, paging, filters and
//! discovery documents. Nothing here knows about HTTP frameworks or databases.

pub mod cursor;
pub mod discovery;
pub mod error;
pub mod filter;
pub mod list;
pub mod patch;
pub mod projection;
pub mod resource;
pub mod schema;
pub mod semantics;
pub mod urn;
pub mod validate;

pub use error::{ScimError, ScimType};
