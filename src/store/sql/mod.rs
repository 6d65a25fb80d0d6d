//! The SQL store: one implementation over sqlx's `Any` driver for PostgreSQL and SQLite. The
//! few places the dialects differ (JSON columns and functions) go through `Dialect`.
//!
//! SQLite takes its write lock at a transaction's first write, and a deferred transaction that
//! reads first can fail to upgrade under contention. So every write transaction here starts
//! with a write statement.

mod feed;
mod filter;
mod pool;
mod resources;
mod sort;
mod tenancy;
mod tokens;

use anyhow::Context;
use std::str::FromStr;

use sqlx::any::{AnyConnectOptions, AnyRow};
use sqlx::Row;

use pool::{Conn, Pool};

use super::StoreError;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    Postgres,
    Sqlite,
}

impl Dialect {
    pub fn from_url(url: &str) -> anyhow::Result<Self> {
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Ok(Dialect::Postgres)
        } else if url.starts_with("sqlite:") {
            Ok(Dialect::Sqlite)
        } else {
            anyhow::bail!(
                "unsupported database URL scheme (expected postgres:// or sqlite://): {}",
                crate::config::redact_url(url)
            )
        }
    }

    /// A bound parameter holding JSON text, as the `data` column's type wants it.
    fn json_param(self, n: usize) -> String {
        match self {
            Dialect::Postgres => format!("CAST(${n} AS jsonb)"),
            Dialect::Sqlite => format!("${n}"),
        }
    }

    /// The `data` column read back as JSON text.
    fn data_col(self) -> &'static str {
        match self {
            Dialect::Postgres => "data::text AS data",
            Dialect::Sqlite => "data",
        }
    }
}

pub struct SqlStore {
    pool: Pool,
    dialect: Dialect,
    /// For connections outside the pool (the change feed).
    url: String,
}

impl SqlStore {
    /// Connects, creating the SQLite file (and its directory) when needed, and migrates.
    pub async fn connect(url: &str, max_connections: u32) -> anyhow::Result<Self> {
        sqlx::any::install_default_drivers();
        let dialect = Dialect::from_url(url)?;
        let sqlite_url;
        let url = if dialect == Dialect::Sqlite {
            ensure_sqlite_dir(url)?;
            sqlite_url = sqlite_create_if_missing(url);
            sqlite_url.as_str()
        } else {
            url
        };
        let options = AnyConnectOptions::from_str(url)
            .with_context(|| format!("parsing {}", crate::config::redact_url(url)))?;
        let pool = Pool::new(options, dialect, max_connections);
        let mut conn = pool
            .acquire()
            .await
            .with_context(|| format!("connecting to {}", crate::config::redact_url(url)))?;
        match dialect {
            Dialect::Postgres => {
                sqlx::migrate!("./migrations/postgres")
                    .run_direct(&mut *conn)
                    .await
            }
            Dialect::Sqlite => {
                sqlx::migrate!("./migrations/sqlite")
                    .run_direct(&mut *conn)
                    .await
            }
        }
        .context("migrating the database")?;
        conn.finish();
        Ok(Self {
            pool,
            dialect,
            url: url.to_owned(),
        })
    }

    pub fn dialect(&self) -> Dialect {
        self.dialect
    }

    pub async fn close(&self) {
        self.pool.close().await;
    }

    async fn conn(&self) -> super::StoreResult<Conn> {
        self.pool.acquire().await.map_err(StoreError::from_sqlx)
    }
}

/// A SQLite URL that names no `mode` opens read-write and creates the file, as the default
/// URL does; sqlx's own default (`rw`) fails on a new file with "unable to open database file".
/// An explicit `mode=ro` or `mode=rw` is kept.
fn sqlite_create_if_missing(url: &str) -> String {
    let has_mode = url.split_once('?').is_some_and(|(_, q)| {
        q.split('&').any(|kv| {
            kv.split('=')
                .next()
                .is_some_and(|k| k.eq_ignore_ascii_case("mode"))
        })
    });
    let memory = url.contains(":memory:");
    match (has_mode || memory, url.contains('?')) {
        (true, _) => url.to_owned(),
        (false, true) => format!("{url}&mode=rwc"),
        (false, false) => format!("{url}?mode=rwc"),
    }
}

fn ensure_sqlite_dir(url: &str) -> anyhow::Result<()> {
    let path = url
        .trim_start_matches("sqlite://")
        .trim_start_matches("sqlite:");
    let path = path.split('?').next().unwrap_or_default();
    if path.is_empty() || path == ":memory:" {
        return Ok(());
    }
    if let Some(dir) = std::path::Path::new(path).parent() {
        if !dir.as_os_str().is_empty() {
            std::fs::create_dir_all(dir)
                .with_context(|| format!("creating the database directory {}", dir.display()))?;
        }
    }
    Ok(())
}

fn get<'r, T>(row: &'r AnyRow, col: &str) -> Result<T, StoreError>
where
    T: sqlx::Decode<'r, sqlx::Any> + sqlx::Type<sqlx::Any>,
{
    row.try_get(col).map_err(StoreError::Other)
}

/// `$start, $start+1, ...` for an IN list.
fn placeholders(start: usize, n: usize) -> String {
    (start..start + n)
        .map(|i| format!("${i}"))
        .collect::<Vec<_>>()
        .join(", ")
}

#[async_trait::async_trait]
impl super::Store for SqlStore {
    fn pool_stats(&self) -> (u32, usize) {
        self.pool.stats()
    }

    async fn ping(&self) -> super::StoreResult<()> {
        let mut conn = self.conn().await?;
        sqlx::query("SELECT 1")
            .execute(&mut *conn)
            .await
            .map_err(StoreError::from_sqlx)?;
        conn.finish();
        Ok(())
    }

    async fn create_tenant(&self, name: &str) -> super::StoreResult<super::Tenant> {
        self.create_tenant_impl(name).await
    }
    async fn list_tenants(&self) -> super::StoreResult<Vec<super::Tenant>> {
        self.list_tenants_impl().await
    }
    async fn create_realm(&self, tenant: &str, name: &str) -> super::StoreResult<super::Realm> {
        self.create_realm_impl(tenant, name).await
    }
    async fn list_realms(&self, tenant: Option<&str>) -> super::StoreResult<Vec<super::Realm>> {
        self.list_realms_impl(tenant).await
    }
    async fn find_realm(
        &self,
        tenant: &str,
        name: &str,
    ) -> super::StoreResult<Option<super::Realm>> {
        self.find_realm_impl(tenant, name).await
    }
    async fn set_realm_state(
        &self,
        tenant: &str,
        name: &str,
        state: super::RealmState,
    ) -> super::StoreResult<super::Realm> {
        self.set_realm_state_impl(tenant, name, state).await
    }
    async fn bootstrap(
        &self,
        tenant: &str,
        realm: &str,
        token: super::NewToken,
    ) -> super::StoreResult<bool> {
        self.bootstrap_impl(tenant, realm, token).await
    }
    async fn create_token(&self, token: super::NewToken) -> super::StoreResult<super::TokenInfo> {
        self.create_token_impl(token).await
    }
    async fn list_tokens(&self, realm_id: &str) -> super::StoreResult<Vec<super::TokenInfo>> {
        self.list_tokens_impl(realm_id).await
    }
    async fn revoke_token(&self, realm_id: &str, token_id: &str) -> super::StoreResult<bool> {
        self.revoke_token_impl(realm_id, token_id).await
    }
    async fn authenticate(
        &self,
        tenant: &str,
        realm: &str,
        token_hash: Option<&str>,
    ) -> super::StoreResult<Option<(super::Realm, Option<super::TokenInfo>)>> {
        self.authenticate_impl(tenant, realm, token_hash).await
    }
    async fn auth_feed(&self) -> super::StoreResult<Option<Box<dyn super::AuthFeed>>> {
        self.auth_feed_impl().await
    }

    async fn record_token_use(&self, uses: &[(String, String)]) -> super::StoreResult<()> {
        self.record_token_use_impl(uses).await
    }
    async fn insert_resource(
        &self,
        new: super::NewResource,
    ) -> super::StoreResult<super::StoredResource> {
        self.insert_resource_impl(new).await
    }
    async fn get_resource(
        &self,
        realm_id: &str,
        kind: super::Kind,
        id: &str,
    ) -> super::StoreResult<Option<super::StoredResource>> {
        self.get_resource_impl(realm_id, kind, id).await
    }
    async fn replace_resource(
        &self,
        update: super::ReplaceResource,
    ) -> super::StoreResult<super::StoredResource> {
        self.replace_resource_impl(update).await
    }
    async fn delete_resource(
        &self,
        realm_id: &str,
        kind: super::Kind,
        id: &str,
        expected_version: Option<i64>,
    ) -> super::StoreResult<()> {
        self.delete_resource_impl(realm_id, kind, id, expected_version)
            .await
    }
    async fn list_resources(
        &self,
        realm_id: &str,
        kind: super::Kind,
        query: &super::ListQuery,
    ) -> super::StoreResult<super::ListPage> {
        self.list_resources_impl(realm_id, kind, query).await
    }
    async fn secret(&self, name: &str) -> super::StoreResult<Vec<u8>> {
        self.secret_impl(name).await
    }
    async fn change_members(
        &self,
        realm_id: &str,
        group_id: &str,
        change: super::MemberChange,
        expected_version: Option<i64>,
        now: &str,
    ) -> super::StoreResult<super::StoredResource> {
        self.change_members_impl(realm_id, group_id, change, expected_version, now)
            .await
    }
    async fn has_more_members_than(&self, group_id: &str, n: u64) -> super::StoreResult<bool> {
        self.has_more_members_than_impl(group_id, n).await
    }
    async fn members_of(&self, group_ids: &[String]) -> super::StoreResult<Vec<super::MemberRow>> {
        self.members_of_impl(group_ids).await
    }
    async fn groups_of(&self, member_ids: &[String]) -> super::StoreResult<Vec<super::GroupRow>> {
        self.groups_of_impl(member_ids).await
    }
    async fn groups_from_direct(
        &self,
        direct: Vec<(String, super::DirectGroup)>,
    ) -> super::StoreResult<Vec<super::GroupRow>> {
        self.expand_groups(direct).await
    }
}
