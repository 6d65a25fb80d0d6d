//! Webhook subscriptions on PostgreSQL. Servers share the delivery work by leasing webhooks
//! with `FOR UPDATE SKIP LOCKED`: two claiming at once never take the same one, and neither
//! waits for the other.

use sqlx::postgres::PgRow;

use super::events::{event_from_row, HORIZON};
use super::{get, get_id, get_instant, get_opt_instant, instant, opt_instant, own_uid, uid};
use super::{room_in_realm, PgStore};
use crate::store::{
    Delivery, Event, EventPos, StoreError, StoreResult, Webhook, WebhookProgress, Webhooks,
};

const COLS: &str = "realm_id, id, tenant, realm, url, description, event_types, enabled, secret, \
    previous_secret, previous_until, delivered_major, delivered_seq, attempts, \
    next_attempt_at, failing_since, failure, last_success_at, created_at, created_by, updated_at";

fn major(v: i64) -> StoreResult<u64> {
    u64::try_from(v).map_err(|_| StoreError::Corrupt(format!("negative event position {v}")))
}

fn from_row(row: &PgRow) -> StoreResult<Webhook> {
    Ok(Webhook {
        id: get_id(row, "id")?,
        realm_id: get_id(row, "realm_id")?,
        tenant: get(row, "tenant")?,
        realm: get(row, "realm")?,
        url: get(row, "url")?,
        description: get(row, "description")?,
        event_types: get::<String>(row, "event_types")?
            .split_whitespace()
            .map(str::to_owned)
            .collect(),
        enabled: get(row, "enabled")?,
        secret: get(row, "secret")?,
        previous_secret: get(row, "previous_secret")?,
        previous_until: get_opt_instant(row, "previous_until")?,
        delivered: EventPos {
            major: major(get(row, "delivered_major")?)?,
            seq: get(row, "delivered_seq")?,
        },
        attempts: get(row, "attempts")?,
        next_attempt_at: get_instant(row, "next_attempt_at")?,
        failing_since: get_opt_instant(row, "failing_since")?,
        failure: get(row, "failure")?,
        last_success_at: get_opt_instant(row, "last_success_at")?,
        created_at: get_instant(row, "created_at")?,
        created_by: get(row, "created_by")?,
        updated_at: get_instant(row, "updated_at")?,
    })
}

fn delivery_from_row(row: &PgRow) -> StoreResult<Delivery> {
    Ok(Delivery {
        id: get_id(row, "id")?,
        realm_id: get_id(row, "realm_id")?,
        webhook_id: get_id(row, "webhook_id")?,
        event_id: get(row, "event_id")?,
        event_type: get(row, "event_type")?,
        attempt: get(row, "attempt")?,
        at: get_instant(row, "at")?,
        status_code: get(row, "status_code")?,
        latency_ms: get(row, "latency_ms")?,
        error: get(row, "error")?,
        manual: get(row, "manual")?,
    })
}

fn pos_major(p: EventPos) -> StoreResult<i64> {
    i64::try_from(p.major)
        .map_err(|_| StoreError::Corrupt(format!("event position out of range: {p}")))
}

#[async_trait::async_trait]
impl Webhooks for PgStore {
    async fn insert_webhook(&self, w: &Webhook, max: usize) -> StoreResult<()> {
        let realm = own_uid(&w.realm_id)?;
        let mut conn = self.conn().await?;
        let mut tx = conn.begin().await?;
        if let Err(e) = room_in_realm(&mut tx, "webhooks", realm, max).await {
            tx.rollback().await?;
            conn.finish();
            return Err(e);
        }
        sqlx::query(
            "INSERT INTO webhooks (realm_id, id, url, description, event_types, enabled, secret, \
             delivered_major, delivered_seq, next_attempt_at, created_at, created_by, updated_at, \
             tenant, realm) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)",
        )
        .bind(realm)
        .bind(own_uid(&w.id)?)
        .bind(&w.url)
        .bind(&w.description)
        .bind(w.event_types.join(" "))
        .bind(w.enabled)
        .bind(&w.secret)
        .bind(pos_major(w.delivered)?)
        .bind(w.delivered.seq)
        .bind(instant(&w.next_attempt_at)?)
        .bind(instant(&w.created_at)?)
        .bind(&w.created_by)
        .bind(instant(&w.updated_at)?)
        .bind(&w.tenant)
        .bind(&w.realm)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        conn.finish();
        Ok(())
    }

    async fn get_webhook(&self, realm_id: &str, id: &str) -> StoreResult<Option<Webhook>> {
        let (Some(realm), Some(id)) = (uid(realm_id), uid(id)) else {
            return Ok(None);
        };
        let mut conn = self.conn().await?;
        let row = sqlx::query(&format!(
            "SELECT {COLS} FROM webhooks WHERE realm_id = $1 AND id = $2"
        ))
        .bind(realm)
        .bind(id)
        .fetch_optional(&mut *conn)
        .await?;
        conn.finish();
        row.as_ref().map(from_row).transpose()
    }

    async fn list_webhooks(&self, realm_id: &str) -> StoreResult<Vec<Webhook>> {
        let Some(realm) = uid(realm_id) else {
            return Ok(Vec::new());
        };
        let mut conn = self.conn().await?;
        let rows = sqlx::query(&format!(
            "SELECT {COLS} FROM webhooks WHERE realm_id = $1 ORDER BY id"
        ))
        .bind(realm)
        .fetch_all(&mut *conn)
        .await?;
        conn.finish();
        rows.iter().map(from_row).collect()
    }

    async fn all_webhooks(&self) -> StoreResult<Vec<Webhook>> {
        let mut conn = self.conn().await?;
        let rows = sqlx::query(&format!("SELECT {COLS} FROM webhooks ORDER BY id"))
            .fetch_all(&mut *conn)
            .await?;
        conn.finish();
        rows.iter().map(from_row).collect()
    }

    async fn update_webhook(&self, w: &Webhook) -> StoreResult<()> {
        let mut conn = self.conn().await?;
        let done = sqlx::query(
            "UPDATE webhooks SET url = $3, description = $4, event_types = $5, enabled = $6, \
             secret = $7, previous_secret = $8, previous_until = $9, updated_at = $10 \
             WHERE realm_id = $1 AND id = $2",
        )
        .bind(own_uid(&w.realm_id)?)
        .bind(own_uid(&w.id)?)
        .bind(&w.url)
        .bind(&w.description)
        .bind(w.event_types.join(" "))
        .bind(w.enabled)
        .bind(&w.secret)
        .bind(&w.previous_secret)
        .bind(opt_instant(w.previous_until.as_deref())?)
        .bind(instant(&w.updated_at)?)
        .execute(&mut *conn)
        .await?;
        conn.finish();
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound);
        }
        Ok(())
    }

    async fn resume_webhook(&self, realm_id: &str, id: &str, now: &str) -> StoreResult<bool> {
        let (Some(realm), Some(id)) = (uid(realm_id), uid(id)) else {
            return Ok(false);
        };
        let mut conn = self.conn().await?;
        let done = sqlx::query(
            "UPDATE webhooks SET failure = NULL, failing_since = NULL, attempts = 0, \
             next_attempt_at = $3, updated_at = $3 WHERE realm_id = $1 AND id = $2",
        )
        .bind(realm)
        .bind(id)
        .bind(instant(now)?)
        .execute(&mut *conn)
        .await?;
        conn.finish();
        Ok(done.rows_affected() > 0)
    }

    async fn delete_webhook(&self, realm_id: &str, id: &str) -> StoreResult<bool> {
        let (Some(realm), Some(id)) = (uid(realm_id), uid(id)) else {
            return Ok(false);
        };
        let mut conn = self.conn().await?;
        let done = sqlx::query("DELETE FROM webhooks WHERE realm_id = $1 AND id = $2")
            .bind(realm)
            .bind(id)
            .execute(&mut *conn)
            .await?;
        conn.finish();
        Ok(done.rows_affected() > 0)
    }

    async fn events_end(&self, realm_id: &str) -> StoreResult<EventPos> {
        let realm = own_uid(realm_id)?;
        let mut conn = self.conn().await?;
        // Below the horizon every event is final; the last of them is where "from now on"
        // begins. Anything at or past the horizon is still to come and will be sent.
        let row: Option<(String, i64)> = sqlx::query_as(&format!(
            "WITH {HORIZON} SELECT txid::text, seq FROM events, horizon \
             WHERE realm_id = $1 AND txid < horizon.h ORDER BY txid DESC, seq DESC LIMIT 1"
        ))
        .bind(realm)
        .fetch_optional(&mut *conn)
        .await?;
        conn.finish();
        match row {
            None => Ok(EventPos::default()),
            Some((txid, seq)) => Ok(EventPos {
                major: txid
                    .parse()
                    .map_err(|_| StoreError::Corrupt(format!("events.txid: {txid}")))?,
                seq,
            }),
        }
    }

    async fn get_event(&self, realm_id: &str, pos: EventPos) -> StoreResult<Option<Event>> {
        let Some(realm) = uid(realm_id) else {
            return Ok(None);
        };
        let mut conn = self.conn().await?;
        let row = sqlx::query(&format!(
            "SELECT {} FROM events WHERE realm_id = $1 AND txid = CAST($2 AS xid8) AND seq = $3",
            super::events::READ_COLUMNS
        ))
        .bind(realm)
        .bind(pos.major.to_string())
        .bind(pos.seq)
        .fetch_optional(&mut *conn)
        .await?;
        conn.finish();
        row.as_ref().map(event_from_row).transpose()
    }

    async fn claim_webhooks(
        &self,
        owner: &str,
        now: &str,
        until: &str,
        limit: usize,
    ) -> StoreResult<Vec<Webhook>> {
        let mut conn = self.conn().await?;
        let rows = sqlx::query(&format!(
            "WITH due AS (SELECT w.realm_id, w.id FROM webhooks w \
               WHERE w.enabled AND w.failure IS NULL AND w.next_attempt_at <= $2 \
               AND (w.lease_until IS NULL OR w.lease_until < $2) \
               AND EXISTS (SELECT 1 FROM events e WHERE e.realm_id = w.realm_id \
                 AND (e.txid, e.seq) > (CAST(CAST(w.delivered_major AS text) AS xid8), \
                 w.delivered_seq)) \
               ORDER BY w.next_attempt_at LIMIT $4 FOR UPDATE OF w SKIP LOCKED) \
             UPDATE webhooks SET lease_owner = $1, lease_until = $3 FROM due \
             WHERE webhooks.realm_id = due.realm_id AND webhooks.id = due.id RETURNING {}",
            COLS.split(", ")
                .map(|c| format!("webhooks.{c}"))
                .collect::<Vec<_>>()
                .join(", ")
        ))
        .bind(owner)
        .bind(instant(now)?)
        .bind(instant(until)?)
        .bind(limit as i64)
        .fetch_all(&mut *conn)
        .await?;
        conn.finish();
        rows.iter().map(from_row).collect()
    }

    async fn webhook_progress(
        &self,
        realm_id: &str,
        id: &str,
        owner: &str,
        p: &WebhookProgress,
    ) -> StoreResult<bool> {
        let id = own_uid(id)?;
        let mut conn = self.conn().await?;
        let done = sqlx::query(
            "UPDATE webhooks SET delivered_major = $3, delivered_seq = $4, attempts = $5, \
             next_attempt_at = $6, failing_since = $7, failure = $8, last_success_at = $9, \
             lease_until = $10, lease_owner = CASE WHEN $10 IS NULL THEN NULL ELSE $2 END \
             WHERE id = $1 AND lease_owner = $2 AND realm_id = $11",
        )
        .bind(id)
        .bind(owner)
        .bind(pos_major(p.delivered)?)
        .bind(p.delivered.seq)
        .bind(p.attempts)
        .bind(instant(&p.next_attempt_at)?)
        .bind(opt_instant(p.failing_since.as_deref())?)
        .bind(&p.failure)
        .bind(opt_instant(p.last_success_at.as_deref())?)
        .bind(opt_instant(p.lease_until.as_deref())?)
        .bind(own_uid(realm_id)?)
        .execute(&mut *conn)
        .await?;
        conn.finish();
        Ok(done.rows_affected() > 0)
    }

    async fn record_delivery(&self, d: &Delivery, keep: usize) -> StoreResult<()> {
        let webhook = own_uid(&d.webhook_id)?;
        let realm = own_uid(&d.realm_id)?;
        let mut conn = self.conn().await?;
        let inserted = sqlx::query(
            "INSERT INTO webhook_deliveries (webhook_id, id, event_id, event_type, attempt, at, \
             status_code, latency_ms, error, manual, realm_id) \
             SELECT $1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11 \
             WHERE EXISTS (SELECT 1 FROM webhooks WHERE realm_id = $11 AND id = $1)",
        )
        .bind(webhook)
        .bind(own_uid(&d.id)?)
        .bind(&d.event_id)
        .bind(&d.event_type)
        .bind(d.attempt)
        .bind(instant(&d.at)?)
        .bind(d.status_code)
        .bind(d.latency_ms)
        .bind(&d.error)
        .bind(d.manual)
        .bind(realm)
        .execute(&mut *conn)
        .await;
        match inserted {
            // Deleted meanwhile: there is nothing to keep a record for.
            Err(sqlx::Error::Database(db)) if db.is_foreign_key_violation() => {
                conn.finish();
                return Ok(());
            }
            r => {
                r?;
            }
        }
        // Ids are UUIDv7: their order is the order they were made in.
        sqlx::query(
            "DELETE FROM webhook_deliveries WHERE realm_id = $3 AND webhook_id = $1 AND id < \
             (SELECT id FROM webhook_deliveries WHERE realm_id = $3 AND webhook_id = $1 \
              ORDER BY id DESC OFFSET $2 LIMIT 1)",
        )
        .bind(webhook)
        .bind(keep.saturating_sub(1) as i64)
        .bind(realm)
        .execute(&mut *conn)
        .await?;
        conn.finish();
        Ok(())
    }

    async fn list_deliveries(
        &self,
        realm_id: &str,
        webhook_id: &str,
        limit: usize,
    ) -> StoreResult<Vec<Delivery>> {
        let (Some(realm), Some(webhook)) = (uid(realm_id), uid(webhook_id)) else {
            return Ok(Vec::new());
        };
        let mut conn = self.conn().await?;
        let rows = sqlx::query(
            "SELECT * FROM webhook_deliveries WHERE realm_id = $3 AND webhook_id = $1 \
             ORDER BY id DESC LIMIT $2",
        )
        .bind(webhook)
        .bind(limit as i64)
        .bind(realm)
        .fetch_all(&mut *conn)
        .await?;
        conn.finish();
        rows.iter().map(delivery_from_row).collect()
    }

    async fn get_delivery(
        &self,
        realm_id: &str,
        webhook_id: &str,
        id: &str,
    ) -> StoreResult<Option<Delivery>> {
        let (Some(realm), Some(webhook), Some(id)) = (uid(realm_id), uid(webhook_id), uid(id))
        else {
            return Ok(None);
        };
        let mut conn = self.conn().await?;
        let row = sqlx::query(
            "SELECT * FROM webhook_deliveries WHERE realm_id = $3 AND webhook_id = $1 AND id = $2",
        )
        .bind(webhook)
        .bind(id)
        .bind(realm)
        .fetch_optional(&mut *conn)
        .await?;
        conn.finish();
        row.as_ref().map(delivery_from_row).transpose()
    }
}
