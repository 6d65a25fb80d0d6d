//! Persistence: the storage-neutral capability traits, their record and query types, and the
//! two native stores (PostgreSQL, SQLite) that implement them. Without the `server` feature
//! only the record and query types are built (the fuzz targets need nothing else).

#[cfg(feature = "server")]
mod capabilities;
#[cfg(feature = "server")]
pub mod error;
pub mod model;
#[cfg(feature = "server")]
mod open;
#[cfg(feature = "server")]
mod pool;
#[cfg(feature = "server")]
pub mod postgres;
pub mod query;
#[cfg(feature = "server")]
pub mod sql;
#[cfg(feature = "server")]
pub mod sqlite;

#[cfg(feature = "server")]
pub use capabilities::*;
#[cfg(feature = "server")]
pub use error::StoreError;
pub use model::*;
#[cfg(feature = "server")]
pub use open::open;
pub use query::{ListPage, ListQuery};
