//! The event log on PostgreSQL: rows written by the change's own statement or transaction,
//! read in (txid, seq) order up to the oldest transaction still running.

use chrono::{DateTime, Utc};
use sqlx::postgres::PgRow;
use sqlx::PgConnection;
use uuid::Uuid;

use super::{get, get_instant, uid, PgStore};
use crate::store::sql::parse_kind;
use crate::store::{
    Event, EventOp, EventPos, EventQuery, Events, Kind, NewEvent, StoreError, StoreResult,
};

const EVENT_COLUMNS: &str = "realm_id, at, actor, request_id, operation, resource_type, \
     resource_id, version, changed, members_added, members_removed";

fn json_list(v: &[String]) -> String {
    serde_json::to_string(v).unwrap_or_else(|_| "[]".into())
}

/// The event columns after `realm_id, at`, as text for the statement to cast.
struct EventText {
    actor: String,
    request_id: Option<String>,
    operation: &'static str,
    changed: String,
    added: Option<String>,
    removed: Option<String>,
}

impl From<&NewEvent> for EventText {
    fn from(e: &NewEvent) -> Self {
        EventText {
            actor: e.actor.clone(),
            request_id: e.request_id.clone(),
            operation: e.operation.name(),
            changed: json_list(&e.changed),
            added: e.members_added.as_deref().map(json_list),
            removed: e.members_removed.as_deref().map(json_list),
        }
    }
}

/// `INSERT INTO events ... SELECT ... FROM w`: the event of the row a data-modifying CTE `w`
/// wrote (its `realm_id`, `id` and `version`), in the same statement. Parameters from
/// `$first`: at, actor, request_id, operation, resource_type, changed, added, removed.
pub(super) fn insert_from_cte(first: usize) -> String {
    let p = |i: usize| format!("${}", first + i);
    format!(
        "INSERT INTO events ({EVENT_COLUMNS}) SELECT w.realm_id, {}, {}, {}, {}, {}, w.id, \
         w.version, CAST({} AS jsonb), CAST({} AS jsonb), CAST({} AS jsonb) FROM w",
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

/// Binds what `insert_from_cte` names, in its order.
pub(super) fn bind_cte_event<'q>(
    q: sqlx::query::Query<'q, sqlx::Postgres, sqlx::postgres::PgArguments>,
    at: DateTime<Utc>,
    kind: Kind,
    e: &NewEvent,
) -> sqlx::query::Query<'q, sqlx::Postgres, sqlx::postgres::PgArguments> {
    let t = EventText::from(e);
    q.bind(at)
        .bind(t.actor)
        .bind(t.request_id)
        .bind(t.operation)
        .bind(kind.name())
        .bind(t.changed)
        .bind(t.added)
        .bind(t.removed)
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
    let texts: Vec<EventText> = events.iter().map(EventText::from).collect();
    let col = |f: fn(&EventText) -> Option<String>| texts.iter().map(f).collect::<Vec<_>>();
    sqlx::query(&format!(
        "INSERT INTO events ({EVENT_COLUMNS}) \
         SELECT $1, $2, e.actor, e.request_id, e.operation, $3, $4, $5, \
         CAST(e.changed AS jsonb), CAST(e.added AS jsonb), CAST(e.removed AS jsonb) \
         FROM UNNEST($6::text[], $7::text[], $8::text[], $9::text[], $10::text[], $11::text[]) \
         WITH ORDINALITY AS e(actor, request_id, operation, changed, added, removed, n) \
         ORDER BY e.n"
    ))
    .bind(realm)
    .bind(at)
    .bind(kind.name())
    .bind(id)
    .bind(version)
    .bind(col(|t| Some(t.actor.clone())))
    .bind(col(|t| t.request_id.clone()))
    .bind(col(|t| Some(t.operation.to_owned())))
    .bind(col(|t| Some(t.changed.clone())))
    .bind(col(|t| t.added.clone()))
    .bind(col(|t| t.removed.clone()))
    .execute(&mut *conn)
    .await?;
    Ok(())
}

fn strings(row: &PgRow, col: &str) -> StoreResult<Option<Vec<String>>> {
    get::<Option<String>>(row, col)?
        .map(|t| {
            serde_json::from_str(&t)
                .map_err(|e| StoreError::Corrupt(format!("events.{col} is not a JSON list: {e}")))
        })
        .transpose()
}

fn event_from_row(row: &PgRow) -> StoreResult<Event> {
    let txid: String = get(row, "txid")?;
    let operation: String = get(row, "operation")?;
    Ok(Event {
        pos: EventPos {
            major: txid
                .parse()
                .map_err(|_| StoreError::Corrupt(format!("events.txid is not a number: {txid}")))?,
            seq: get(row, "seq")?,
        },
        at: get_instant(row, "at")?,
        actor: get(row, "actor")?,
        request_id: get(row, "request_id")?,
        operation: EventOp::parse(&operation)
            .ok_or_else(|| StoreError::Corrupt(format!("unknown event operation {operation}")))?,
        resource_type: parse_kind(&get::<String>(row, "resource_type")?)?,
        resource_id: get::<Uuid>(row, "resource_id")?.to_string(),
        version: get(row, "version")?,
        changed: strings(row, "changed")?.unwrap_or_default(),
        members_added: strings(row, "members_added")?,
        members_removed: strings(row, "members_removed")?,
    })
}

/// Below which transaction id every event is final, in the reading statement's own snapshot:
/// the oldest transaction still running that could write here, else the snapshot's xmax. Every
/// transaction older than it has ended, so no event can later appear before what the read
/// returns. A running transaction that pg_stat_activity shows in another database cannot
/// write events here and holds nothing back (the snapshot's own xmin is cluster-wide: a long
/// write in another database would stall the feed); one it does not show (finished since, or
/// a prepared transaction) does, to be safe.
const HORIZON: &str = "snap AS MATERIALIZED (SELECT pg_current_snapshot() AS s), \
     horizon AS (SELECT COALESCE((SELECT min(x) FROM snap, pg_snapshot_xip(snap.s) AS x \
     WHERE NOT EXISTS (SELECT 1 FROM pg_stat_activity a WHERE a.backend_xid = xid(x) \
     AND a.datid IS NOT NULL AND a.datname IS DISTINCT FROM current_database())), \
     (SELECT pg_snapshot_xmax(s) FROM snap)) AS h)";

#[async_trait::async_trait]
impl Events for PgStore {
    async fn read_events(&self, realm_id: &str, q: &EventQuery) -> StoreResult<Vec<Event>> {
        let Some(realm) = uid(realm_id) else {
            return Ok(Vec::new());
        };
        let after = q.after.unwrap_or_default();
        let mut conn = self.conn().await?;
        let rows = sqlx::query(&format!(
            "WITH {HORIZON} \
             SELECT txid::text AS txid, seq, at, actor, request_id, operation, resource_type, \
             resource_id, version, changed::text AS changed, \
             members_added::text AS members_added, members_removed::text AS members_removed \
             FROM events, horizon WHERE realm_id = $1 AND (txid, seq) > (CAST($2 AS xid8), $3) \
             AND txid < horizon.h \
             AND (CAST($4 AS text) IS NULL OR resource_type = $4) \
             AND (CAST($5 AS text) IS NULL OR operation = $5) \
             ORDER BY txid, seq LIMIT $6"
        ))
        .bind(realm)
        .bind(after.major.to_string())
        .bind(after.seq)
        .bind(q.resource_type.map(|k| k.name()))
        .bind(q.operation.map(EventOp::name))
        .bind(i64::from(q.limit))
        .fetch_all(&mut *conn)
        .await?;
        conn.finish();
        rows.iter().map(event_from_row).collect()
    }
}
