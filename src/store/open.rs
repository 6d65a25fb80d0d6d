//! Picks the store a database URL names.

use std::sync::Arc;

use super::postgres::PgStore;
use super::sqlite::SqliteStore;
use super::Store;

/// Connects to (creating, for SQLite, when needed) and migrates the database `url` names.
pub async fn open(url: &str, max_connections: u32) -> anyhow::Result<Arc<dyn Store>> {
    if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        Ok(Arc::new(PgStore::connect(url, max_connections).await?))
    } else if url.starts_with("sqlite:") {
        Ok(Arc::new(SqliteStore::connect(url, max_connections).await?))
    } else {
        anyhow::bail!(
            "unsupported database URL scheme (expected postgres:// or sqlite://): {}",
            crate::config::redact_url(url)
        )
    }
}
