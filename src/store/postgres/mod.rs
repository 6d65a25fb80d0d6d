//! The PostgreSQL store: `PgConnection`s from scimd's pool, its own migrations
//! (`migrations/postgres`) and SQL, and native types: ids are `uuid`, instants `timestamptz`,
//! documents `jsonb`, versions `bigint`. The records it returns carry ids and instants as the
//! text the protocol shows (lowercase hyphenated uuids; RFC 3339 UTC with milliseconds).

mod basic;
mod control;
mod events;
mod federation;
mod feed;
mod oauth;
mod planner;
mod resources;
mod tenancy;
mod tokens;
mod trusted;
mod webhooks;

use std::str::FromStr;
use std::sync::Arc;

use anyhow::Context;
use chrono::{DateTime, Utc};
use sqlx::postgres::{PgConnectOptions, PgRow};
use sqlx::{Executor, PgConnection, Row};
use uuid::Uuid;

use super::pool::{Conn, Pool};
use super::{StoreError, StoreResult};

pub struct PgStore {
    pool: Pool<PgConnection>,
    /// For connections outside the pool (the change feed).
    url: String,
    planner: planner::Planner,
}

impl PgStore {
    /// Connects and migrates.
    pub async fn connect(url: &str, max_connections: u32) -> anyhow::Result<Self> {
        let options = PgConnectOptions::from_str(url)
            .with_context(|| format!("parsing {}", crate::config::redact_url(url)))?;
        let pool = Pool::<PgConnection>::new(
            options,
            Some(Arc::new(|conn: &mut PgConnection| {
                Box::pin(async move {
                    // Generic plans only. Under the default (`auto`) Postgres compares
                    // a statement's generic plan with the custom plans of its first
                    // executions and keeps that choice; made on a young table, it kept
                    // planning a `userName eq` on every execution after the statistics were
                    // there (~60% of the settled rate until a restart, issue 21). scimd's
                    // statements are shaped for their indexes (unique keys, fenced
                    // primary-key reads), so a generic plan is right for them, and ANALYZE
                    // invalidates it when the statistics change. A SET, not a startup
                    // option: connection poolers such as PgBouncer refuse those.
                    conn.execute("SET plan_cache_mode = force_generic_plan")
                        .await
                        .map(|_| ())
                })
            })),
            max_connections,
        );
        let mut conn = pool
            .acquire()
            .await
            .with_context(|| format!("connecting to {}", crate::config::redact_url(url)))?;
        sqlx::migrate!("./migrations/postgres")
            .run_direct(&mut *conn)
            .await
            .context("migrating the database")?;
        conn.finish();
        Ok(Self {
            pool,
            url: url.to_owned(),
            planner: planner::Planner::new(),
        })
    }

    async fn conn(&self) -> StoreResult<Conn<PgConnection>> {
        Ok(self.pool.acquire().await?)
    }

    /// Moves `last_used_at` of `table`'s rows (keyed by realm_id and id) forward to the
    /// (realm id, id, when) of `uses`: one statement for the whole batch, never backward.
    async fn record_uses(
        &self,
        table: &'static str,
        uses: &[(String, String, String)],
    ) -> StoreResult<()> {
        let mut realms = Vec::with_capacity(uses.len());
        let mut ids = Vec::with_capacity(uses.len());
        let mut ats = Vec::with_capacity(uses.len());
        for (realm, id, at) in uses {
            if let (Some(realm), Some(id)) = (uid(realm), uid(id)) {
                realms.push(realm);
                ids.push(id);
                ats.push(instant(at)?);
            }
        }
        if ids.is_empty() {
            return Ok(());
        }
        let mut conn = self.conn().await?;
        sqlx::query(&format!(
            "UPDATE {table} t SET last_used_at = u.at \
             FROM unnest($1::uuid[], $2::uuid[], $3::timestamptz[]) AS u(realm_id, id, at) \
             WHERE t.realm_id = u.realm_id AND t.id = u.id \
             AND (t.last_used_at IS NULL OR t.last_used_at < u.at)"
        ))
        .bind(&realms)
        .bind(&ids)
        .bind(&ats)
        .execute(&mut *conn)
        .await?;
        conn.finish();
        Ok(())
    }
}

/// In a transaction about to add a row to `table` for a realm: locks the realm's row (so two
/// requests cannot both count below the limit and both add one; a row lock fires no
/// trigger), then counts. NotFound without the realm, Conflict at `max`.
async fn room_in_realm(
    tx: &mut PgConnection,
    table: &'static str,
    realm: Uuid,
    max: usize,
) -> StoreResult<()> {
    let locked: Option<(Uuid,)> = sqlx::query_as("SELECT id FROM realms WHERE id = $1 FOR UPDATE")
        .bind(realm)
        .fetch_optional(&mut *tx)
        .await?;
    if locked.is_none() {
        return Err(StoreError::NotFound);
    }
    let held: i64 =
        sqlx::query_scalar(&format!("SELECT count(*) FROM {table} WHERE realm_id = $1"))
            .bind(realm)
            .fetch_one(&mut *tx)
            .await?;
    if held as usize >= max {
        return Err(StoreError::Conflict);
    }
    Ok(())
}

fn get<'r, T>(row: &'r PgRow, col: &str) -> Result<T, StoreError>
where
    T: sqlx::Decode<'r, sqlx::Postgres> + sqlx::Type<sqlx::Postgres>,
{
    row.try_get(col).map_err(StoreError::Other)
}

/// An id as the database holds it. Only the canonical text form names a stored resource (ids
/// are case-exact, and scimd writes them lowercase), so any other text names nothing.
fn uid(s: &str) -> Option<Uuid> {
    Uuid::parse_str(s).ok().filter(|u| {
        let mut buf = Uuid::encode_buffer();
        u.hyphenated().encode_lower(&mut buf) == s
    })
}

/// An id the store itself issued (realm, token): not canonical means the caller is confused.
fn own_uid(s: &str) -> StoreResult<Uuid> {
    uid(s).ok_or_else(|| StoreError::Corrupt(format!("not an id scimd issued: {s}")))
}

/// A page's cursor as an id; `Err` when it names no id, which starts nowhere: an empty page,
/// not an error.
fn id_cursor(page: &super::Page) -> Result<Option<Uuid>, ()> {
    match page.after.as_deref() {
        None => Ok(None),
        Some(a) => uid(a).map(Some).ok_or(()),
    }
}

/// Every id of `ids` that can name a stored row.
fn uids(ids: &[String]) -> Vec<Uuid> {
    ids.iter().filter_map(|s| uid(s)).collect()
}

fn instant(s: &str) -> StoreResult<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(s)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|e| StoreError::Corrupt(format!("not an RFC 3339 instant ({e}): {s}")))
}

fn opt_instant(s: Option<&str>) -> StoreResult<Option<DateTime<Utc>>> {
    s.map(instant).transpose()
}

fn get_id(row: &PgRow, col: &str) -> StoreResult<String> {
    Ok(get::<Uuid>(row, col)?.to_string())
}

fn get_instant(row: &PgRow, col: &str) -> StoreResult<String> {
    Ok(crate::clock::format(get::<DateTime<Utc>>(row, col)?))
}

fn get_opt_instant(row: &PgRow, col: &str) -> StoreResult<Option<String>> {
    Ok(get::<Option<DateTime<Utc>>>(row, col)?.map(crate::clock::format))
}

#[async_trait::async_trait]
impl super::System for PgStore {
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
        // Insert-if-absent, then read what won: every replica ends up with the first value.
        let mut conn = self.conn().await?;
        let value: String = sqlx::query_scalar(
            "WITH ins AS (INSERT INTO settings (name, value) VALUES ($1, $2) \
             ON CONFLICT DO NOTHING RETURNING value) \
             SELECT value FROM ins UNION ALL SELECT value FROM settings WHERE name = $1 LIMIT 1",
        )
        .bind(name)
        .bind(super::sql::fresh_secret())
        .fetch_one(&mut *conn)
        .await?;
        conn.finish();
        super::sql::decode_secret(name, &value)
    }
}
