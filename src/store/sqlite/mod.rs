//! The SQLite store: the zero-setup default, one file (or memory) on `SqliteConnection`s from
//! scimd's pool, its own migrations (`migrations/sqlite`) and SQL.
//!
//! SQLite takes its write lock at a transaction's first write, and a deferred transaction that
//! reads first can fail to upgrade under contention. So every write transaction here starts
//! with a write statement.

mod basic;
mod control;
mod events;
mod federation;
mod oauth;
mod resources;
mod tenancy;
mod tokens;
mod trusted;
mod webhooks;

use std::str::FromStr;
use std::sync::Arc;

use anyhow::Context;
use sqlx::sqlite::{SqliteConnectOptions, SqliteRow};
use sqlx::{Executor, Row, SqliteConnection};

use super::pool::{Conn, Pool};
use super::{StoreError, StoreResult};

/// The collation `sql::sort` names for folded sort keys.
const FOLD_COLLATION: &str = "scimd_fold";

pub struct SqliteStore {
    pool: Pool<SqliteConnection>,
}

impl SqliteStore {
    /// Opens (creating the file and its directory when needed) and migrates.
    pub async fn connect(url: &str, max_connections: u32) -> anyhow::Result<Self> {
        ensure_dir(url)?;
        // Every connection to `:memory:` opens a database of its own: one connection is the
        // only way they all see the same one.
        let max_connections = if url.contains(":memory:") {
            1
        } else {
            max_connections
        };
        let url = create_if_missing(url);
        let options = SqliteConnectOptions::from_str(&url)
            .with_context(|| format!("parsing {}", crate::config::redact_url(&url)))?
            // Sorting by a case-insensitive attribute: the protocol's folding, in byte order.
            .collation(FOLD_COLLATION, |a, b| {
                crate::scim::fold(a).cmp(&crate::scim::fold(b))
            });
        let pool = Pool::new(
            options,
            Some(Arc::new(|conn: &mut SqliteConnection| {
                Box::pin(async move {
                    // WAL lets readers run beside the writer; busy_timeout makes writers queue
                    // instead of failing; foreign keys carry membership deletes.
                    conn.execute(
                        "PRAGMA journal_mode = WAL; PRAGMA busy_timeout = 10000; \
                         PRAGMA foreign_keys = ON; PRAGMA synchronous = NORMAL;",
                    )
                    .await
                    .map(|_| ())
                })
            })),
            max_connections,
        );
        let mut conn = pool
            .acquire()
            .await
            .with_context(|| format!("opening {}", crate::config::redact_url(&url)))?;
        sqlx::migrate!("./migrations/sqlite")
            .run_direct(&mut *conn)
            .await
            .context("migrating the database")?;
        conn.finish();
        Ok(Self { pool })
    }

    async fn conn(&self) -> StoreResult<Conn<SqliteConnection>> {
        Ok(self.pool.acquire().await?)
    }

    /// Moves `last_used_at` of `table`'s rows (keyed by realm_id and id) forward to the
    /// (realm id, id, when) of `uses`, in one transaction; never backward.
    async fn record_uses(
        &self,
        table: &'static str,
        uses: &[(String, String, String)],
    ) -> StoreResult<()> {
        if uses.is_empty() {
            return Ok(());
        }
        let sql = format!(
            "UPDATE {table} SET last_used_at = $1 \
             WHERE realm_id = $2 AND id = $3 AND (last_used_at IS NULL OR last_used_at < $1)"
        );
        let mut conn = self.conn().await?;
        let mut tx = conn.begin().await?;
        for (realm, id, at) in uses {
            sqlx::query(&sql)
                .bind(at)
                .bind(realm)
                .bind(id)
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        conn.finish();
        Ok(())
    }
}

/// In a transaction about to add a row to `table` for a realm: takes the database's write
/// lock with a write that changes nothing (so two requests cannot both count below the limit
/// and both add one), then counts. NotFound without the realm, Conflict at `max`.
async fn room_in_realm(
    tx: &mut SqliteConnection,
    table: &'static str,
    realm_id: &str,
    max: usize,
) -> StoreResult<()> {
    let claimed = sqlx::query("UPDATE realms SET state = state WHERE id = $1")
        .bind(realm_id)
        .execute(&mut *tx)
        .await?;
    if claimed.rows_affected() == 0 {
        return Err(StoreError::NotFound);
    }
    let held: i64 =
        sqlx::query_scalar(&format!("SELECT count(*) FROM {table} WHERE realm_id = $1"))
            .bind(realm_id)
            .fetch_one(&mut *tx)
            .await?;
    if held as usize >= max {
        return Err(StoreError::Conflict);
    }
    Ok(())
}

fn get<'r, T>(row: &'r SqliteRow, col: &str) -> Result<T, StoreError>
where
    T: sqlx::Decode<'r, sqlx::Sqlite> + sqlx::Type<sqlx::Sqlite>,
{
    row.try_get(col).map_err(StoreError::Other)
}

/// A SQLite URL that names no `mode` opens read-write and creates the file, as the default
/// URL does; sqlx's own default (`rw`) fails on a new file with "unable to open database file".
/// An explicit `mode=ro` or `mode=rw` is kept.
fn create_if_missing(url: &str) -> String {
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

fn ensure_dir(url: &str) -> anyhow::Result<()> {
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

#[async_trait::async_trait]
impl super::System for SqliteStore {
    fn pool_stats(&self) -> (u32, usize) {
        self.pool.stats()
    }

    async fn close(&self) {
        self.pool.close().await;
    }

    async fn ping(&self) -> StoreResult<()> {
        let mut conn = self.conn().await?;
        sqlx::query("SELECT 1").execute(&mut *conn).await?;
        conn.finish();
        Ok(())
    }

    async fn secret(&self, name: &str) -> StoreResult<Vec<u8>> {
        // Insert-if-absent then read: every process ends up with the first value written.
        let mut conn = self.conn().await?;
        sqlx::query("INSERT INTO settings (name, value) VALUES ($1, $2) ON CONFLICT DO NOTHING")
            .bind(name)
            .bind(super::sql::fresh_secret())
            .execute(&mut *conn)
            .await?;
        let value: String = sqlx::query_scalar("SELECT value FROM settings WHERE name = $1")
            .bind(name)
            .fetch_one(&mut *conn)
            .await?;
        conn.finish();
        super::sql::decode_secret(name, &value)
    }
}
