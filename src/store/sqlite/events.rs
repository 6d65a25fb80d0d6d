//! The event log on SQLite: rows written inside the change's transaction, numbered there
//! (the realm's greatest `seq` plus one) so that, writers being serial, seq order is commit
//! order.

use sqlx::sqlite::SqliteRow;
use sqlx::SqliteConnection;

use super::{get, SqliteStore};
use crate::store::{
    Event, EventOp, EventPage, EventPos, EventQuery, Events, Kind, NewEvent, NewLogEntry,
    StoreError, StoreResult, Subject,
};

/// What a read of events selects, for `event_from_row`.
pub(super) const READ_COLUMNS: &str = "seq, at, actor, request_id, operation, resource_type, \
     resource_id, version, changed, members_added, members_removed, action, target, detail";

/// The next event's number in the realm: after every event kept and every event pruned.
const NEXT_SEQ: &str = "COALESCE((SELECT MAX(seq) FROM events WHERE realm_id = $1), \
     (SELECT seq FROM event_marks WHERE realm_id = $1), 0) + 1";

fn json_list(v: &[String]) -> String {
    serde_json::to_string(v).unwrap_or_else(|_| "[]".into())
}

/// Records `events` for one written resource inside the caller's transaction, in order.
pub(super) async fn insert(
    conn: &mut SqliteConnection,
    realm_id: &str,
    kind: Kind,
    id: &str,
    version: Option<i64>,
    at: &str,
    events: &[NewEvent],
) -> StoreResult<()> {
    for e in events {
        sqlx::query(&format!(
            "INSERT INTO events (realm_id, seq, at, actor, request_id, operation, \
                 resource_type, resource_id, version, changed, members_added, members_removed) \
                 VALUES ($1, {NEXT_SEQ}, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)"
        ))
        .bind(realm_id)
        .bind(at)
        .bind(&e.actor)
        .bind(&e.request_id)
        .bind(e.operation.name())
        .bind(kind.name())
        .bind(id)
        .bind(version)
        .bind(json_list(&e.changed))
        .bind(e.members_added.as_deref().map(json_list))
        .bind(e.members_removed.as_deref().map(json_list))
        .execute(&mut *conn)
        .await?;
    }
    Ok(())
}

fn strings(row: &SqliteRow, col: &str) -> StoreResult<Option<Vec<String>>> {
    get::<Option<String>>(row, col)?
        .map(|t| {
            serde_json::from_str(&t)
                .map_err(|e| StoreError::Corrupt(format!("events.{col} is not a JSON list: {e}")))
        })
        .transpose()
}

pub(super) fn event_from_row(row: &SqliteRow) -> StoreResult<Event> {
    let operation: String = get(row, "operation")?;
    let subject: String = get(row, "resource_type")?;
    let detail = get::<Option<String>>(row, "detail")?
        .map(|t| {
            serde_json::from_str(&t)
                .map_err(|e| StoreError::Corrupt(format!("events.detail is not JSON: {e}")))
        })
        .transpose()?;
    Ok(Event {
        pos: EventPos {
            major: 0,
            seq: get(row, "seq")?,
        },
        at: get(row, "at")?,
        actor: get(row, "actor")?,
        request_id: get(row, "request_id")?,
        operation: EventOp::parse(&operation)
            .ok_or_else(|| StoreError::Corrupt(format!("unknown event operation {operation}")))?,
        resource_type: Subject::parse(&subject)
            .ok_or_else(|| StoreError::Corrupt(format!("unknown event subject {subject}")))?,
        resource_id: get(row, "resource_id")?,
        version: get(row, "version")?,
        changed: strings(row, "changed")?.unwrap_or_default(),
        members_added: strings(row, "members_added")?,
        members_removed: strings(row, "members_removed")?,
        action: get(row, "action")?,
        target: get(row, "target")?,
        detail,
    })
}

#[async_trait::async_trait]
impl Events for SqliteStore {
    async fn announce_events(&self) -> StoreResult<()> {
        Ok(())
    }

    async fn event_notices(&self) -> StoreResult<Option<Box<dyn crate::store::AuthFeed>>> {
        Ok(None)
    }

    async fn append_event(&self, e: &NewLogEntry) -> StoreResult<()> {
        let mut conn = self.conn().await?;
        // One statement: the number is taken and the row written under the write lock.
        sqlx::query(&format!(
            "INSERT INTO events (realm_id, seq, at, actor, request_id, operation, \
             resource_type, resource_id, changed, action, target, detail) \
             SELECT $1, {NEXT_SEQ}, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11 \
             WHERE EXISTS (SELECT 1 FROM realms WHERE id = $1)"
        ))
        .bind(&e.realm_id)
        .bind(&e.at)
        .bind(&e.actor)
        .bind(&e.request_id)
        .bind(e.operation.name())
        .bind(e.resource_type.name())
        .bind(&e.resource_id)
        .bind(json_list(&e.changed))
        .bind(&e.action)
        .bind(&e.target)
        .bind(e.detail.to_string())
        .execute(&mut *conn)
        .await?;
        conn.finish();
        Ok(())
    }

    async fn events_pruned_through(&self, realm_id: &str) -> StoreResult<Option<EventPos>> {
        let mut conn = self.conn().await?;
        let seq: Option<i64> =
            sqlx::query_scalar("SELECT seq FROM event_marks WHERE realm_id = $1")
                .bind(realm_id)
                .fetch_optional(&mut *conn)
                .await?;
        conn.finish();
        Ok(seq.map(|seq| EventPos { major: 0, seq }))
    }

    async fn event_beyond(&self, realm_id: &str, keep: u64) -> StoreResult<Option<EventPos>> {
        let mut conn = self.conn().await?;
        let seq: Option<i64> = sqlx::query_scalar(
            "SELECT seq FROM events WHERE realm_id = $1 ORDER BY seq DESC LIMIT 1 OFFSET $2",
        )
        .bind(realm_id)
        .bind(i64::try_from(keep).unwrap_or(i64::MAX))
        .fetch_optional(&mut *conn)
        .await?;
        conn.finish();
        Ok(seq.map(|seq| EventPos { major: 0, seq }))
    }

    async fn prune_events(
        &self,
        realm_id: &str,
        older_than: Option<&str>,
        through: Option<EventPos>,
        batch: u32,
    ) -> StoreResult<u64> {
        let through = through.filter(|p| p.major == 0).map(|p| p.seq);
        let mut conn = self.conn().await?;
        // Instants are stored in one fixed-width UTC form, so text order is time order. The
        // head is read before the write transaction: committed events never change, and a
        // transaction that starts by writing never has to upgrade a read lock.
        let head = sqlx::query(
            "SELECT seq, (($3 IS NOT NULL AND at < $3) OR ($4 IS NOT NULL AND seq <= $4)) \
             AS prunable FROM events WHERE realm_id = $1 ORDER BY seq LIMIT $2",
        )
        .bind(realm_id)
        .bind(i64::from(batch))
        .bind(older_than)
        .bind(through)
        .fetch_all(&mut *conn)
        .await?;
        let mut last = None;
        for row in &head {
            if !get::<bool>(row, "prunable")? {
                break;
            }
            last = Some(get::<i64>(row, "seq")?);
        }
        let Some(last) = last else {
            conn.finish();
            return Ok(0);
        };
        let mut tx = conn.begin().await?;
        let deleted = sqlx::query("DELETE FROM events WHERE realm_id = $1 AND seq <= $2")
            .bind(realm_id)
            .bind(last)
            .execute(&mut *tx)
            .await?
            .rows_affected();
        sqlx::query(
            "INSERT INTO event_marks (realm_id, seq, pruned, pruned_at) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (realm_id) DO UPDATE SET seq = max(event_marks.seq, excluded.seq), \
             pruned = event_marks.pruned + excluded.pruned, pruned_at = excluded.pruned_at",
        )
        .bind(realm_id)
        .bind(last)
        .bind(deleted as i64)
        .bind(crate::clock::now())
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        conn.finish();
        Ok(deleted)
    }

    async fn read_events(&self, realm_id: &str, q: &EventQuery) -> StoreResult<EventPage> {
        let after = q.after.unwrap_or_default();
        // A position from PostgreSQL (major > 0) names nothing here: from the start would
        // replay everything, so nothing after it is the honest answer.
        if after.major != 0 {
            return Ok(EventPage::default());
        }
        let mut conn = self.conn().await?;
        let rows = sqlx::query(&format!(
            "SELECT {READ_COLUMNS} FROM events WHERE realm_id = $1 AND seq > $2 \
             ORDER BY seq LIMIT $3"
        ))
        .bind(realm_id)
        .bind(after.seq)
        .bind(i64::from(q.scan()))
        .fetch_all(&mut *conn)
        .await?;
        conn.finish();
        let scanned = rows
            .iter()
            .map(event_from_row)
            .collect::<StoreResult<_>>()?;
        Ok(q.page(scanned))
    }
}
