//! Webhook subscriptions on SQLite. Writers are serial here, so a claim (one UPDATE) cannot
//! race another: the lease alone keeps two servers from sending for the same webhook.

use sqlx::sqlite::SqliteRow;

use super::events::event_from_row;
use super::{get, room_in_realm, SqliteStore};
use crate::store::{
    Delivery, Event, EventPos, StoreError, StoreResult, Webhook, WebhookProgress, Webhooks,
};

const COLS: &str = "realm_id, id, tenant, realm, url, description, event_types, enabled, secret, \
    previous_secret, previous_until, delivered_major, delivered_seq, attempts, \
    next_attempt_at, failing_since, failure, last_success_at, created_at, created_by, updated_at";

fn from_row(row: &SqliteRow) -> StoreResult<Webhook> {
    let major: i64 = get(row, "delivered_major")?;
    Ok(Webhook {
        id: get(row, "id")?,
        realm_id: get(row, "realm_id")?,
        tenant: get(row, "tenant")?,
        realm: get(row, "realm")?,
        url: get(row, "url")?,
        description: get(row, "description")?,
        event_types: get::<String>(row, "event_types")?
            .split_whitespace()
            .map(str::to_owned)
            .collect(),
        enabled: get::<i64>(row, "enabled")? != 0,
        secret: get(row, "secret")?,
        previous_secret: get(row, "previous_secret")?,
        previous_until: get(row, "previous_until")?,
        delivered: EventPos {
            major: u64::try_from(major)
                .map_err(|_| StoreError::Corrupt(format!("negative event position {major}")))?,
            seq: get(row, "delivered_seq")?,
        },
        attempts: get(row, "attempts")?,
        next_attempt_at: get(row, "next_attempt_at")?,
        failing_since: get(row, "failing_since")?,
        failure: get(row, "failure")?,
        last_success_at: get(row, "last_success_at")?,
        created_at: get(row, "created_at")?,
        created_by: get(row, "created_by")?,
        updated_at: get(row, "updated_at")?,
    })
}

fn delivery_from_row(row: &SqliteRow) -> StoreResult<Delivery> {
    Ok(Delivery {
        id: get(row, "id")?,
        realm_id: get(row, "realm_id")?,
        webhook_id: get(row, "webhook_id")?,
        event_id: get(row, "event_id")?,
        event_type: get(row, "event_type")?,
        attempt: get(row, "attempt")?,
        at: get(row, "at")?,
        status_code: get(row, "status_code")?,
        latency_ms: get(row, "latency_ms")?,
        error: get(row, "error")?,
        manual: get::<i64>(row, "manual")? != 0,
    })
}

#[async_trait::async_trait]
impl Webhooks for SqliteStore {
    async fn insert_webhook(&self, w: &Webhook, max: usize) -> StoreResult<()> {
        let mut conn = self.conn().await?;
        let mut tx = conn.begin().await?;
        if let Err(e) = room_in_realm(&mut tx, "webhooks", &w.realm_id, max).await {
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
        .bind(&w.realm_id)
        .bind(&w.id)
        .bind(&w.url)
        .bind(&w.description)
        .bind(w.event_types.join(" "))
        .bind(w.enabled)
        .bind(&w.secret)
        .bind(w.delivered.major as i64)
        .bind(w.delivered.seq)
        .bind(&w.next_attempt_at)
        .bind(&w.created_at)
        .bind(&w.created_by)
        .bind(&w.updated_at)
        .bind(&w.tenant)
        .bind(&w.realm)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        conn.finish();
        Ok(())
    }

    async fn get_webhook(&self, realm_id: &str, id: &str) -> StoreResult<Option<Webhook>> {
        let mut conn = self.conn().await?;
        let row = sqlx::query(&format!(
            "SELECT {COLS} FROM webhooks WHERE realm_id = $1 AND id = $2"
        ))
        .bind(realm_id)
        .bind(id)
        .fetch_optional(&mut *conn)
        .await?;
        conn.finish();
        row.as_ref().map(from_row).transpose()
    }

    async fn list_webhooks(&self, realm_id: &str) -> StoreResult<Vec<Webhook>> {
        let mut conn = self.conn().await?;
        let rows = sqlx::query(&format!(
            "SELECT {COLS} FROM webhooks WHERE realm_id = $1 ORDER BY id"
        ))
        .bind(realm_id)
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
        .bind(&w.realm_id)
        .bind(&w.id)
        .bind(&w.url)
        .bind(&w.description)
        .bind(w.event_types.join(" "))
        .bind(w.enabled)
        .bind(&w.secret)
        .bind(&w.previous_secret)
        .bind(&w.previous_until)
        .bind(&w.updated_at)
        .execute(&mut *conn)
        .await?;
        conn.finish();
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound);
        }
        Ok(())
    }

    async fn resume_webhook(&self, realm_id: &str, id: &str, now: &str) -> StoreResult<bool> {
        let mut conn = self.conn().await?;
        let done = sqlx::query(
            "UPDATE webhooks SET failure = NULL, failing_since = NULL, attempts = 0, \
             next_attempt_at = $3, updated_at = $3 WHERE realm_id = $1 AND id = $2",
        )
        .bind(realm_id)
        .bind(id)
        .bind(now)
        .execute(&mut *conn)
        .await?;
        conn.finish();
        Ok(done.rows_affected() > 0)
    }

    async fn delete_webhook(&self, realm_id: &str, id: &str) -> StoreResult<bool> {
        let mut conn = self.conn().await?;
        let done = sqlx::query("DELETE FROM webhooks WHERE realm_id = $1 AND id = $2")
            .bind(realm_id)
            .bind(id)
            .execute(&mut *conn)
            .await?;
        conn.finish();
        Ok(done.rows_affected() > 0)
    }

    async fn events_end(&self, realm_id: &str) -> StoreResult<EventPos> {
        let mut conn = self.conn().await?;
        let seq: Option<i64> = sqlx::query_scalar(
            "SELECT COALESCE((SELECT MAX(seq) FROM events WHERE realm_id = $1), \
                 (SELECT seq FROM event_marks WHERE realm_id = $1))",
        )
        .bind(realm_id)
        .fetch_one(&mut *conn)
        .await?;
        conn.finish();
        Ok(EventPos {
            major: 0,
            seq: seq.unwrap_or(0),
        })
    }

    async fn get_event(&self, realm_id: &str, pos: EventPos) -> StoreResult<Option<Event>> {
        if pos.major != 0 {
            return Ok(None);
        }
        let mut conn = self.conn().await?;
        let row = sqlx::query(&format!(
            "SELECT {} FROM events WHERE realm_id = $1 AND seq = $2",
            super::events::READ_COLUMNS
        ))
        .bind(realm_id)
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
            "UPDATE webhooks SET lease_owner = $1, lease_until = $3 WHERE id IN \
             (SELECT w.id FROM webhooks w WHERE w.enabled AND w.failure IS NULL \
              AND w.next_attempt_at <= $2 AND (w.lease_until IS NULL OR w.lease_until < $2) \
              AND EXISTS (SELECT 1 FROM events e WHERE e.realm_id = w.realm_id \
                AND e.seq > w.delivered_seq) \
              ORDER BY w.next_attempt_at LIMIT $4) RETURNING {COLS}"
        ))
        .bind(owner)
        .bind(now)
        .bind(until)
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
        let mut conn = self.conn().await?;
        let done = sqlx::query(
            "UPDATE webhooks SET delivered_major = $3, delivered_seq = $4, attempts = $5, \
             next_attempt_at = $6, failing_since = $7, failure = $8, last_success_at = $9, \
             lease_until = $10, lease_owner = CASE WHEN $10 IS NULL THEN NULL ELSE $2 END \
             WHERE id = $1 AND lease_owner = $2 AND realm_id = $11",
        )
        .bind(id)
        .bind(owner)
        .bind(p.delivered.major as i64)
        .bind(p.delivered.seq)
        .bind(p.attempts)
        .bind(&p.next_attempt_at)
        .bind(&p.failing_since)
        .bind(&p.failure)
        .bind(&p.last_success_at)
        .bind(&p.lease_until)
        .bind(realm_id)
        .execute(&mut *conn)
        .await?;
        conn.finish();
        Ok(done.rows_affected() > 0)
    }

    async fn record_delivery(&self, d: &Delivery, keep: usize) -> StoreResult<()> {
        let mut conn = self.conn().await?;
        let mut tx = conn.begin().await?;
        sqlx::query(
            "INSERT INTO webhook_deliveries (webhook_id, id, event_id, event_type, attempt, at, \
             status_code, latency_ms, error, manual, realm_id) \
             SELECT $1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11 \
             WHERE EXISTS (SELECT 1 FROM webhooks WHERE realm_id = $11 AND id = $1)",
        )
        .bind(&d.webhook_id)
        .bind(&d.id)
        .bind(&d.event_id)
        .bind(&d.event_type)
        .bind(d.attempt)
        .bind(&d.at)
        .bind(d.status_code)
        .bind(d.latency_ms)
        .bind(&d.error)
        .bind(d.manual)
        .bind(&d.realm_id)
        .execute(&mut *tx)
        .await?;
        // Ids are UUIDv7: their text order is the order they were made in.
        sqlx::query(
            "DELETE FROM webhook_deliveries WHERE realm_id = $3 AND webhook_id = $1 AND id < \
             (SELECT id FROM webhook_deliveries WHERE realm_id = $3 AND webhook_id = $1 \
              ORDER BY id DESC LIMIT 1 OFFSET $2)",
        )
        .bind(&d.webhook_id)
        .bind(keep.saturating_sub(1) as i64)
        .bind(&d.realm_id)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        conn.finish();
        Ok(())
    }

    async fn list_deliveries(
        &self,
        realm_id: &str,
        webhook_id: &str,
        limit: usize,
    ) -> StoreResult<Vec<Delivery>> {
        let mut conn = self.conn().await?;
        let rows = sqlx::query(
            "SELECT * FROM webhook_deliveries WHERE realm_id = $3 AND webhook_id = $1 \
             ORDER BY id DESC LIMIT $2",
        )
        .bind(webhook_id)
        .bind(limit as i64)
        .bind(realm_id)
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
        let mut conn = self.conn().await?;
        let row = sqlx::query(
            "SELECT * FROM webhook_deliveries WHERE realm_id = $3 AND webhook_id = $1 AND id = $2",
        )
        .bind(webhook_id)
        .bind(id)
        .bind(realm_id)
        .fetch_optional(&mut *conn)
        .await?;
        conn.finish();
        row.as_ref().map(delivery_from_row).transpose()
    }
}
