//! The event log on PostgreSQL: rows written by the change's own statement or transaction,
//! read in (txid, seq) order up to the oldest transaction still running.

use chrono::{DateTime, Utc};
use sqlx::postgres::PgRow;
use sqlx::PgConnection;
use uuid::Uuid;

use super::{get, get_instant, instant, opt_instant, uid, PgStore};
use crate::store::{
    Event, EventOp, EventPage, EventPos, EventQuery, Events, Kind, NewEvent, NewLogEntry,
    StoreError, StoreResult, Subject,
};

const EVENT_COLUMNS: &str = "realm_id, at, actor, request_id, operation, resource_type, \
     resource_id, version, changed, members_added, members_removed";

/// `INSERT INTO events ... SELECT ... FROM w`: the event of the row a data-modifying CTE `w`
/// wrote (its `realm_id`, `id` and `version`), in the same statement. Parameters from
/// `$first`: at, actor, request_id, operation, resource_type, changed, added, removed.
pub(super) fn insert_from_cte(first: usize) -> String {
    let p = |i: usize| format!("${}", first + i);
    format!(
        "INSERT INTO events ({EVENT_COLUMNS}) SELECT w.realm_id, {}, {}, {}, {}, {}, w.id, \
         w.version, {}, {}, {} FROM w",
        p(0),
        p(1),
        p(2),
        p(3),
        p(4),
        p(5),
        p(6),
        p(7)
    )
}

/// What a read of events selects, for `event_from_row`.
pub(super) const READ_COLUMNS: &str = "txid::text AS txid, seq, at, actor, request_id, \
     operation, resource_type, resource_id, version, changed, members_added, members_removed, \
     action, target, detail";

type PgQuery<'q> = sqlx::query::Query<'q, sqlx::Postgres, sqlx::postgres::PgArguments>;

/// Binds what `insert_from_cte` names, in its order.
pub(super) fn bind_cte_event<'q>(
    q: PgQuery<'q>,
    at: DateTime<Utc>,
    kind: Kind,
    e: &NewEvent,
) -> PgQuery<'q> {
    q.bind(at)
        .bind(e.actor.clone())
        .bind(e.request_id.clone())
        .bind(e.operation.name())
        .bind(kind.name())
        .bind(e.changed.clone())
        .bind(e.members_added.clone())
        .bind(e.members_removed.clone())
}

/// `INSERT INTO events ... FROM w, UNNEST(...)`: several events of the row a CTE `w` wrote
/// (a batch of membership changes), in order. Each event's lists travel as JSON text, since
/// UNNEST flattens arrays of arrays. Parameters from `$first`: at, resource_type, then the
/// six columns of `bind_cte_events`.
pub(super) fn insert_many_from_cte(first: usize) -> String {
    let p = |i: usize| format!("${}", first + i);
    let array =
        |col: &str| format!("ARRAY(SELECT jsonb_array_elements_text(CAST(e.{col} AS jsonb)))");
    let nullable = |col: &str| {
        format!(
            "CASE WHEN e.{col} IS NULL THEN NULL ELSE {} END",
            array(col)
        )
    };
    format!(
        "INSERT INTO events ({EVENT_COLUMNS}) \
         SELECT w.realm_id, {}, e.actor, e.request_id, e.operation, {}, w.id, w.version, \
         {}, {}, {} FROM w, UNNEST(CAST({} AS text[]), CAST({} AS text[]), CAST({} AS text[]), \
         CAST({} AS text[]), CAST({} AS text[]), CAST({} AS text[])) WITH ORDINALITY \
         AS e(actor, request_id, operation, changed, added, removed, n) ORDER BY e.n",
        p(0),
        p(1),
        array("changed"),
        nullable("added"),
        nullable("removed"),
        p(2),
        p(3),
        p(4),
        p(5),
        p(6),
        p(7)
    )
}

fn json_list(v: &[String]) -> String {
    serde_json::to_string(v).unwrap_or_else(|_| "[]".into())
}

/// Binds what `insert_many_from_cte` names, in its order.
pub(super) fn bind_cte_events<'q>(
    q: PgQuery<'q>,
    at: DateTime<Utc>,
    kind: Kind,
    events: &[NewEvent],
) -> PgQuery<'q> {
    let col = |f: &dyn Fn(&NewEvent) -> Option<String>| events.iter().map(f).collect::<Vec<_>>();
    q.bind(at)
        .bind(kind.name())
        .bind(col(&|e| Some(e.actor.clone())))
        .bind(col(&|e| e.request_id.clone()))
        .bind(col(&|e| Some(e.operation.name().to_owned())))
        .bind(col(&|e| Some(json_list(&e.changed))))
        .bind(col(&|e| e.members_added.as_deref().map(json_list)))
        .bind(col(&|e| e.members_removed.as_deref().map(json_list)))
}

/// Records `events` for one written resource inside the caller's transaction, in order.
pub(super) async fn insert(
    conn: &mut PgConnection,
    realm: Uuid,
    kind: Kind,
    id: Uuid,
    version: Option<i64>,
    at: DateTime<Utc>,
    events: &[NewEvent],
) -> StoreResult<()> {
    if events.is_empty() {
        return Ok(());
    }
    let sql = format!(
        "WITH w AS (SELECT CAST($9 AS uuid) AS realm_id, CAST($10 AS uuid) AS id, \
         CAST($11 AS bigint) AS version) {}",
        insert_many_from_cte(1)
    );
    bind_cte_events(sqlx::query(&sql), at, kind, events)
        .bind(realm)
        .bind(id)
        .bind(version)
        .execute(&mut *conn)
        .await?;
    Ok(())
}

fn pos_from_row(row: &PgRow) -> StoreResult<EventPos> {
    let txid: String = get(row, "txid")?;
    Ok(EventPos {
        major: txid
            .parse()
            .map_err(|_| StoreError::Corrupt(format!("events.txid is not a number: {txid}")))?,
        seq: get(row, "seq")?,
    })
}

fn strings(row: &PgRow, col: &str) -> StoreResult<Option<Vec<String>>> {
    get::<Option<Vec<String>>>(row, col)
}

pub(super) fn event_from_row(row: &PgRow) -> StoreResult<Event> {
    let operation: String = get(row, "operation")?;
    let subject: String = get(row, "resource_type")?;
    Ok(Event {
        pos: pos_from_row(row)?,
        at: get_instant(row, "at")?,
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
        detail: get(row, "detail")?,
    })
}

/// Below which transaction id every event is final, in the reading statement's own snapshot:
/// the oldest transaction still running that could write here, else the snapshot's xmax. Every
/// transaction older than it has ended, so no event can later appear before what the read
/// returns. A running transaction that pg_stat_activity shows in another database cannot
/// write events here and holds nothing back (the snapshot's own xmin is cluster-wide: a long
/// write in another database would stall the feed); one it does not show (finished since, or
/// a prepared transaction) does, to be safe.
pub(super) const HORIZON: &str = "snap AS MATERIALIZED (SELECT pg_current_snapshot() AS s), \
     horizon AS (SELECT COALESCE((SELECT min(x) FROM snap, pg_snapshot_xip(snap.s) AS x \
     WHERE NOT EXISTS (SELECT 1 FROM pg_stat_activity a WHERE a.backend_xid = xid(x) \
     AND a.datid IS NOT NULL AND a.datname IS DISTINCT FROM current_database())), \
     (SELECT pg_snapshot_xmax(s) FROM snap)) AS h)";

#[async_trait::async_trait]
impl Events for PgStore {
    async fn announce_events(&self) -> StoreResult<()> {
        let mut conn = self.conn().await?;
        sqlx::query("SELECT pg_notify($1, '')")
            .bind(super::feed::EVENTS_CHANNEL)
            .execute(&mut *conn)
            .await?;
        conn.finish();
        Ok(())
    }

    async fn event_notices(&self) -> StoreResult<Option<Box<dyn crate::store::AuthFeed>>> {
        Ok(Some(self.open_feed(super::feed::EVENTS_CHANNEL).await?))
    }

    async fn append_event(&self, e: &NewLogEntry) -> StoreResult<()> {
        let Some(realm) = uid(&e.realm_id) else {
            return Err(StoreError::NotFound);
        };
        let mut conn = self.conn().await?;
        sqlx::query(
            "INSERT INTO events (realm_id, at, actor, request_id, operation, resource_type, \
             resource_id, changed, action, target, detail) \
             SELECT $1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11 \
             WHERE EXISTS (SELECT 1 FROM realms WHERE id = $1)",
        )
        .bind(realm)
        .bind(instant(&e.at)?)
        .bind(&e.actor)
        .bind(&e.request_id)
        .bind(e.operation.name())
        .bind(e.resource_type.name())
        .bind(&e.resource_id)
        .bind(&e.changed)
        .bind(&e.action)
        .bind(&e.target)
        .bind(&e.detail)
        .execute(&mut *conn)
        .await?;
        conn.finish();
        Ok(())
    }

    async fn events_pruned_through(&self, realm_id: &str) -> StoreResult<Option<EventPos>> {
        let Some(realm) = uid(realm_id) else {
            return Ok(None);
        };
        let mut conn = self.conn().await?;
        let row =
            sqlx::query("SELECT txid::text AS txid, seq FROM event_marks WHERE realm_id = $1")
                .bind(realm)
                .fetch_optional(&mut *conn)
                .await?;
        conn.finish();
        row.as_ref().map(pos_from_row).transpose()
    }

    async fn event_beyond(&self, realm_id: &str, keep: u64) -> StoreResult<Option<EventPos>> {
        let Some(realm) = uid(realm_id) else {
            return Ok(None);
        };
        let mut conn = self.conn().await?;
        let row = sqlx::query(
            "SELECT txid::text AS txid, seq FROM events WHERE realm_id = $1 \
             ORDER BY txid DESC, seq DESC OFFSET $2 LIMIT 1",
        )
        .bind(realm)
        .bind(i64::try_from(keep).unwrap_or(i64::MAX))
        .fetch_optional(&mut *conn)
        .await?;
        conn.finish();
        row.as_ref().map(pos_from_row).transpose()
    }

    async fn prune_events(
        &self,
        realm_id: &str,
        older_than: Option<&str>,
        through: Option<EventPos>,
        batch: u32,
    ) -> StoreResult<u64> {
        let Some(realm) = uid(realm_id) else {
            return Ok(0);
        };
        let older_than = opt_instant(older_than)?;
        let through = through.map(|p| (p.major.to_string(), p.seq));
        let mut conn = self.conn().await?;
        // The head of the log, final events only, each marked prunable or not; the prefix of
        // prunable ones goes. Read outside the deleting transaction: final rows do not change.
        let head = sqlx::query(&format!(
            "WITH {HORIZON} SELECT txid::text AS txid, seq, \
             ((CAST($3 AS timestamptz) IS NOT NULL AND at < $3) \
              OR (CAST($4 AS text) IS NOT NULL AND (txid, seq) <= (CAST($4 AS xid8), $5))) AS prunable \
             FROM events, horizon WHERE realm_id = $1 AND txid < horizon.h \
             ORDER BY txid, seq LIMIT $2"
        ))
        .bind(realm)
        .bind(i64::from(batch))
        .bind(older_than)
        .bind(through.as_ref().map(|t| t.0.clone()))
        .bind(through.as_ref().map(|t| t.1))
        .fetch_all(&mut *conn)
        .await?;
        let mut last = None;
        for row in &head {
            if !get::<bool>(row, "prunable")? {
                break;
            }
            last = Some(pos_from_row(row)?);
        }
        let Some(last) = last else {
            conn.finish();
            return Ok(0);
        };
        let mut tx = conn.begin().await?;
        let deleted = sqlx::query(
            "DELETE FROM events WHERE realm_id = $1 AND (txid, seq) <= (CAST($2 AS xid8), $3)",
        )
        .bind(realm)
        .bind(last.major.to_string())
        .bind(last.seq)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        // Several servers may prune at once: the mark only moves forward.
        sqlx::query(
            "INSERT INTO event_marks (realm_id, txid, seq, pruned, pruned_at) \
             VALUES ($1, CAST($2 AS xid8), $3, $4, $5) ON CONFLICT (realm_id) DO UPDATE SET \
             txid = CASE WHEN (excluded.txid, excluded.seq) > (event_marks.txid, event_marks.seq) \
                    THEN excluded.txid ELSE event_marks.txid END, \
             seq = CASE WHEN (excluded.txid, excluded.seq) > (event_marks.txid, event_marks.seq) \
                   THEN excluded.seq ELSE event_marks.seq END, \
             pruned = event_marks.pruned + excluded.pruned, pruned_at = excluded.pruned_at",
        )
        .bind(realm)
        .bind(last.major.to_string())
        .bind(last.seq)
        .bind(deleted as i64)
        .bind(instant(&crate::clock::now())?)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        conn.finish();
        Ok(deleted)
    }

    async fn read_events(&self, realm_id: &str, q: &EventQuery) -> StoreResult<EventPage> {
        let Some(realm) = uid(realm_id) else {
            return Ok(EventPage::default());
        };
        let after = q.after.unwrap_or_default();
        let mut conn = self.conn().await?;
        let rows = sqlx::query(&format!(
            "WITH {HORIZON} \
             SELECT {READ_COLUMNS} FROM events, horizon WHERE realm_id = $1 AND (txid, seq) > (CAST($2 AS xid8), $3) \
             AND txid < horizon.h \
             ORDER BY txid, seq LIMIT $4"
        ))
        .bind(realm)
        .bind(after.major.to_string())
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
