//! Users and Groups: one table, membership rows beside it.

use serde_json::Value;
use sqlx::postgres::PgRow;
use sqlx::{PgConnection, Postgres, Row, Transaction};
use uuid::Uuid;

use chrono::{DateTime, Utc};

use super::{events, get, get_id, get_instant, instant, own_uid, uid, uids, PgStore};
use crate::store::sql::page::{carried_total, page_from_rows, Lists};
use crate::store::sql::{
    bind_all, fold, parse_data, parse_direct_groups, parse_kind, Bind, Dialect,
};
use crate::store::{
    DirectGroup, GroupRow, Kind, ListPage, ListQuery, MemberChange, MemberRow, Membership,
    NewEvent, NewResource, ReplaceResource, Resources, StoreError, StoreResult, StoredResource,
};

const D: Dialect = Dialect::Postgres;

const COLS: &str = "id, kind, external_id, data::text AS data, version, created, last_modified";

fn resource_from_row(row: &PgRow) -> StoreResult<StoredResource> {
    let kind = parse_kind(&get::<String>(row, "kind")?)?;
    let data = parse_data(&get::<String>(row, "data")?)?;
    let direct_groups = direct_groups_from_row(row, kind)?;
    Ok(StoredResource {
        id: get_id(row, "id")?,
        kind,
        external_id: get(row, "external_id")?,
        data,
        version: get(row, "version")?,
        created: get_instant(row, "created")?,
        last_modified: get_instant(row, "last_modified")?,
        related: match &direct_groups {
            Some(groups) => Some(!groups.is_empty()),
            None => row.try_get::<Option<bool>, _>("related").ok().flatten(),
        },
        direct_groups,
    })
}

/// A user's direct groups from the `direct_groups` column ([[id, name, nested], ...], NULL for
/// none); `None` for a group or a read without the column.
fn direct_groups_from_row(row: &PgRow, kind: Kind) -> StoreResult<Option<Vec<DirectGroup>>> {
    if kind != Kind::User {
        return Ok(None);
    }
    let Ok(text) = row.try_get::<Option<String>, _>("direct_groups") else {
        return Ok(None);
    };
    Ok(Some(parse_direct_groups(text.as_deref())?))
}

/// A column telling whether a resource has membership rows: one index probe, cheaper than
/// the membership query it lets the caller skip. `LIMIT 1 OFFSET 0` keeps Postgres from
/// turning the EXISTS into a hashed subplan: for a page it estimated every row of the table as
/// callers and hashed the whole members table instead (~50 ms a page with a 100k-member group).
const RELATED_COL: &str = "CASE WHEN kind = 'User' \
     THEN EXISTS (SELECT 1 FROM members m WHERE m.realm_id = resources.realm_id \
     AND m.member_id = resources.id LIMIT 1 OFFSET 0) \
     ELSE EXISTS (SELECT 1 FROM members m WHERE m.realm_id = resources.realm_id \
     AND m.group_id = resources.id LIMIT 1 OFFSET 0) END AS related";

/// For a read of one resource, what rendering needs to know of memberships, with the row so
/// the usual GET is one round trip: `related`, whether a group has members, and
/// `direct_groups`, a user's direct groups as JSON `[[id, name, nested], ...]` (NULL for none;
/// `nested`: that group is itself a member, so the user has indirect groups to look up). Not
/// for list pages: with the aggregate in the select list Postgres stopped reusing the filtered
/// page's generic plan and planned every execution (a `userName eq` filter fell from ~10,300
/// to ~4,700 req/s); a page keeps `related` and one membership query for all its rows.
const MEMBERSHIP_COLS: &str = "CASE WHEN kind = 'Group' THEN EXISTS (SELECT 1 FROM members m \
     WHERE m.realm_id = resources.realm_id AND m.group_id = resources.id LIMIT 1 OFFSET 0) \
     END AS related, \
     CASE WHEN kind = 'User' AND EXISTS (SELECT 1 FROM members m \
     WHERE m.realm_id = resources.realm_id AND m.member_id = resources.id LIMIT 1 OFFSET 0) \
     THEN (SELECT CAST(json_agg(json_build_array(m.group_id, g.name, \
     EXISTS (SELECT 1 FROM members p WHERE p.realm_id = m.realm_id \
     AND p.member_id = m.group_id LIMIT 1 OFFSET 0))) AS TEXT) \
     FROM members m JOIN resources g ON g.realm_id = m.realm_id AND g.id = m.group_id \
     WHERE m.realm_id = resources.realm_id AND m.member_id = resources.id) END AS direct_groups";

const LISTS: Lists = Lists {
    dialect: D,
    realm_param: "CAST($1 AS uuid)",
    cols: COLS,
    related: RELATED_COL,
};

impl PgStore {
    /// Postgres's plan for a list page (tests assert the indexes it uses).
    pub async fn explain_list(
        &self,
        realm_id: &str,
        kind: Kind,
        q: &ListQuery,
    ) -> StoreResult<String> {
        let (sql, binds) = LISTS.page_query(realm_id, kind, q);
        let mut conn = self.conn().await?;
        // On a small test table a sequential scan is cheapest; forbid it to see whether an
        // index can serve the query at all.
        sqlx::query("SET enable_seqscan = off")
            .execute(&mut *conn)
            .await?;
        let explain = format!("EXPLAIN {sql}");
        let rows = bind_all(sqlx::query(&explain), &binds)
            .fetch_all(&mut *conn)
            .await;
        let reset = sqlx::query("RESET enable_seqscan")
            .execute(&mut *conn)
            .await;
        let rows = rows?;
        reset?;
        conn.finish();
        let mut plan = String::new();
        for row in &rows {
            plan.push_str(&get::<String>(row, "QUERY PLAN")?);
            plan.push('\n');
        }
        Ok(plan)
    }

    async fn count(&self, q: &ListQuery, where_sql: &str, binds: &[Bind]) -> StoreResult<u64> {
        let sql = LISTS.count_query(q, where_sql);
        let mut conn = self.conn().await?;
        let row = bind_all(sqlx::query(&sql), binds)
            .fetch_one(&mut *conn)
            .await?;
        conn.finish();
        Ok(get::<i64>(&row, "n")? as u64)
    }

    /// (member, group) for every group directly containing one of `ids`.
    async fn parent_groups(
        &self,
        realm_id: &str,
        ids: &[String],
    ) -> StoreResult<Vec<(String, DirectGroup)>> {
        let (Some(realm), ids) = (uid(realm_id), uids(ids)) else {
            return Ok(Vec::new());
        };
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let mut conn = self.conn().await?;
        let rows = sqlx::query(
            "SELECT m.member_id, m.group_id, r.name, \
             EXISTS (SELECT 1 FROM members p WHERE p.realm_id = m.realm_id \
             AND p.member_id = m.group_id LIMIT 1 OFFSET 0) AS nested \
             FROM members m JOIN resources r ON r.realm_id = m.realm_id AND r.id = m.group_id \
             WHERE m.realm_id = $1 AND m.member_id = ANY($2)",
        )
        .bind(realm)
        .bind(&ids)
        .fetch_all(&mut *conn)
        .await?;
        conn.finish();
        rows.iter()
            .map(|row| {
                Ok((
                    get_id(row, "member_id")?,
                    DirectGroup {
                        group_id: get_id(row, "group_id")?,
                        display: get(row, "name")?,
                        nested: get(row, "nested")?,
                    },
                ))
            })
            .collect()
    }
}

/// After a conditional write matched nothing: was the row gone, or its version moved on?
async fn missing_or_stale(
    conn: &mut PgConnection,
    realm: Uuid,
    kind: Kind,
    id: Uuid,
) -> StoreError {
    let exists =
        sqlx::query("SELECT 1 FROM resources WHERE realm_id = $1 AND id = $2 AND kind = $3")
            .bind(realm)
            .bind(id)
            .bind(kind.name())
            .fetch_optional(&mut *conn)
            .await;
    match exists {
        Ok(Some(_)) => StoreError::VersionMismatch,
        Ok(None) => StoreError::NotFound,
        Err(e) => StoreError::from(e),
    }
}

/// The realm and resource a write names; `NotFound` when either cannot name a stored row.
fn keys(realm_id: &str, id: &str) -> StoreResult<(Uuid, Uuid)> {
    Ok((own_uid(realm_id)?, uid(id).ok_or(StoreError::NotFound)?))
}

#[async_trait::async_trait]
impl Resources for PgStore {
    async fn insert_resource(&self, r: NewResource) -> StoreResult<StoredResource> {
        let data = Value::Object(r.data.clone()).to_string();
        let (realm, id) = (own_uid(&r.realm_id)?, own_uid(&r.id)?);
        let at = instant(&r.now)?;
        const INSERT: &str = "INSERT INTO resources (id, realm_id, kind, name, name_ci, \
             external_id, data, password_hash, version, created, last_modified) \
             VALUES ($1, $2, $3, $4, $5, $6, CAST($7 AS jsonb), $8, 1, $9, $9)";
        // With the event in the same statement when there are no members: one statement is
        // its own transaction, and BEGIN and COMMIT would be two more round trips.
        let with_event = format!(
            "WITH w AS ({INSERT} RETURNING realm_id, id, version) {}",
            events::insert_from_cte(10)
        );
        let single = r.members.is_empty();
        let sql = match (&r.event, single) {
            (Some(_), true) => with_event.as_str(),
            _ => INSERT,
        };
        let mut query = sqlx::query(sql)
            .bind(id)
            .bind(realm)
            .bind(r.kind.name())
            .bind(&r.name)
            .bind(fold(&r.name))
            .bind(&r.external_id)
            .bind(&data)
            .bind(&r.password_hash)
            .bind(at);
        if let (Some(e), true) = (&r.event, single) {
            query = events::bind_cte_event(query, at, r.kind, e);
        }
        let mut conn = self.conn().await?;
        if single {
            query.execute(&mut *conn).await?;
        } else {
            let mut tx = conn.begin().await?;
            query.execute(&mut *tx).await?;
            add_members(&mut tx, realm, id, &r.members).await?;
            events::insert(&mut tx, realm, r.kind, id, Some(1), at, r.event.as_slice()).await?;
            tx.commit().await?;
            self.planner
                .members_added(&self.pool, r.members.len() as u64);
        }
        conn.finish();
        self.planner.resources_added(&self.pool, 1);
        Ok(StoredResource {
            related: Some(!r.members.is_empty()),
            id: r.id,
            kind: r.kind,
            external_id: r.external_id,
            data: r.data,
            version: 1,
            created: r.now.clone(),
            last_modified: r.now,
            direct_groups: None,
        })
    }

    async fn get_resource(
        &self,
        realm_id: &str,
        kind: Kind,
        id: &str,
    ) -> StoreResult<Option<StoredResource>> {
        let (Some(realm), Some(id)) = (uid(realm_id), uid(id)) else {
            return Ok(None);
        };
        let mut conn = self.conn().await?;
        // The primary key and nothing else decides which row: fenced by OFFSET 0, `kind`
        // cannot make another index that starts with (realm_id, kind) look as good to a
        // planner without statistics (a young realm), which read the whole realm through one.
        let row = sqlx::query(&format!(
            "SELECT {COLS}, {MEMBERSHIP_COLS} FROM \
             (SELECT * FROM resources WHERE realm_id = $1 AND id = $2 OFFSET 0) AS resources \
             WHERE kind = $3"
        ))
        .bind(realm)
        .bind(id)
        .bind(kind.name())
        .fetch_optional(&mut *conn)
        .await?;
        conn.finish();
        row.as_ref().map(resource_from_row).transpose()
    }

    async fn replace_resource(&self, u: ReplaceResource) -> StoreResult<StoredResource> {
        let (realm, id) = keys(&u.realm_id, &u.id)?;
        let data = Value::Object(u.data).to_string();
        let at = instant(&u.now)?;
        let single = u.members.is_none() && u.member_change.is_none();
        // The version check is part of the write itself: no read-then-write race.
        let update_sql = format!(
            "UPDATE resources SET name = $1, name_ci = $2, external_id = $3, \
             data = CAST($4 AS jsonb), password_hash = COALESCE($5, password_hash), \
             version = version + 1, last_modified = $6 \
             WHERE realm_id = $7 AND id = $8 AND kind = $9 AND ($10 < 0 OR version = $10) \
             RETURNING {COLS}"
        );
        // Alone, the event goes in the same statement (no BEGIN and COMMIT round trips).
        let sql = match (&u.event, single) {
            (Some(_), true) => format!(
                "WITH w AS ({update_sql}, realm_id), e AS ({}) SELECT * FROM w",
                events::insert_from_cte(11)
            ),
            _ => update_sql,
        };
        let mut update = sqlx::query(&sql)
            .bind(&u.name)
            .bind(fold(&u.name))
            .bind(&u.external_id)
            .bind(&data)
            .bind(&u.password_hash)
            .bind(at)
            .bind(realm)
            .bind(id)
            .bind(u.kind.name())
            .bind(u.expected_version.unwrap_or(-1));
        if let (Some(e), true) = (&u.event, single) {
            update = events::bind_cte_event(update, at, u.kind, e);
        }
        let mut conn = self.conn().await?;
        if single {
            // One statement is its own transaction (no BEGIN and COMMIT round trips).
            let Some(row) = update.fetch_optional(&mut *conn).await? else {
                let e = missing_or_stale(&mut conn, realm, u.kind, id).await;
                conn.finish();
                return Err(e);
            };
            conn.finish();
            return resource_from_row(&row);
        }
        let mut tx = conn.begin().await?;
        let Some(row) = update.fetch_optional(&mut *tx).await? else {
            return Err(missing_or_stale(&mut tx, realm, u.kind, id).await);
        };
        let stored = resource_from_row(&row)?;
        if let Some(members) = &u.members {
            set_members(&mut tx, realm, id, members).await?;
        }
        if let Some(change) = &u.member_change {
            apply_member_change(&mut tx, realm, id, change).await?;
        }
        let version = Some(stored.version);
        events::insert(&mut tx, realm, u.kind, id, version, at, u.event.as_slice()).await?;
        tx.commit().await?;
        conn.finish();
        Ok(stored)
    }

    async fn delete_resource(
        &self,
        realm_id: &str,
        kind: Kind,
        id: &str,
        expected_version: Option<i64>,
        event: Option<NewEvent>,
    ) -> StoreResult<()> {
        let (realm, id) = keys(realm_id, id)?;
        let mut conn = self.conn().await?;
        let mut tx = conn.begin().await?;
        // The groups it is a member of lose it: each gets a new version and its own event.
        // The row lock comes first, so that a membership being added meanwhile (its foreign
        // key check needs a lock this one excludes) either committed before and is seen here,
        // or fails after: none is dropped by the cascade without an event.
        let locked: Option<(i64, DateTime<Utc>)> = sqlx::query_as(
            "SELECT version, now() FROM resources WHERE realm_id = $1 AND id = $2 AND kind = $3 \
             FOR UPDATE",
        )
        .bind(realm)
        .bind(id)
        .bind(kind.name())
        .fetch_optional(&mut *tx)
        .await?;
        let at = match locked {
            Some((v, at)) if expected_version.is_none_or(|want| want == v) => at,
            _ => return Err(missing_or_stale(&mut tx, realm, kind, id).await),
        };
        if let Some(e) = &event {
            let sql = format!(
                "WITH w AS (UPDATE resources SET version = version + 1, last_modified = $1 \
                 WHERE realm_id = $9 AND kind = 'Group' AND id IN (SELECT group_id FROM members \
                 WHERE realm_id = $9 AND member_id = $10) RETURNING realm_id, id, version) {}",
                events::insert_from_cte(1)
            );
            events::bind_cte_event(
                sqlx::query(&sql),
                at,
                Kind::Group,
                &e.left_group(&id.to_string()),
            )
            .bind(realm)
            .bind(id)
            .execute(&mut *tx)
            .await?;
        }
        let deleted: Option<(i64, DateTime<Utc>)> = sqlx::query_as(
            "DELETE FROM resources WHERE realm_id = $1 AND id = $2 AND kind = $3 \
             AND ($4 < 0 OR version = $4) RETURNING version, now()",
        )
        .bind(realm)
        .bind(id)
        .bind(kind.name())
        .bind(expected_version.unwrap_or(-1))
        .fetch_optional(&mut *tx)
        .await?;
        let Some((version, at)) = deleted else {
            return Err(missing_or_stale(&mut tx, realm, kind, id).await);
        };
        // Memberships in both directions go with the row (its foreign keys cascade); the
        // commit makes the delete, theirs and the event one change.
        events::insert(
            &mut tx,
            realm,
            kind,
            id,
            Some(version),
            at,
            event.as_slice(),
        )
        .await?;
        tx.commit().await?;
        conn.finish();
        Ok(())
    }

    async fn list_resources(
        &self,
        realm_id: &str,
        kind: Kind,
        q: &ListQuery,
    ) -> StoreResult<ListPage> {
        if uid(realm_id).is_none() {
            return Ok(ListPage::default());
        }
        if q.limit == 0 {
            let (where_sql, binds) = LISTS.where_clause(realm_id, kind, q);
            return Ok(ListPage {
                total: self.count(q, &where_sql, &binds).await?,
                ..ListPage::default()
            });
        }
        let (page_sql, binds) = LISTS.page_query(realm_id, kind, q);
        let mut conn = self.conn().await?;
        let rows = bind_all(sqlx::query(&page_sql), &binds)
            .fetch_all(&mut *conn)
            .await?;
        conn.finish();
        let total = match carried_total(q, &rows)? {
            Some(total) => total,
            None => {
                let (where_sql, binds) = LISTS.where_clause(realm_id, kind, q);
                self.count(q, &where_sql, &binds).await?
            }
        };
        page_from_rows(q, rows, total, resource_from_row)
    }
}

#[async_trait::async_trait]
impl Membership for PgStore {
    async fn change_members(
        &self,
        realm_id: &str,
        group_id: &str,
        change: MemberChange,
        expected_version: Option<i64>,
        now: &str,
        events: Vec<NewEvent>,
    ) -> StoreResult<StoredResource> {
        let (realm, group) = keys(realm_id, group_id)?;
        let at = instant(now)?;
        let mut conn = self.conn().await?;
        let mut tx = conn.begin().await?;
        // The version bump comes first: it takes the group's row lock, so concurrent
        // membership changes to one group queue here instead of racing. The events go in the
        // same statement: the lock is held until the commit, so every round trip inside the
        // transaction is time every other change to the group waits.
        let bump = format!(
            "UPDATE resources SET version = version + 1, last_modified = $1 \
             WHERE realm_id = $2 AND id = $3 AND kind = 'Group' AND ($4 < 0 OR version = $4) \
             RETURNING {COLS}"
        );
        let sql = if events.is_empty() {
            bump
        } else {
            format!(
                "WITH w AS ({bump}, realm_id), e AS ({}) SELECT * FROM w",
                events::insert_many_from_cte(5)
            )
        };
        let mut query = sqlx::query(&sql)
            .bind(at)
            .bind(realm)
            .bind(group)
            .bind(expected_version.unwrap_or(-1));
        if !events.is_empty() {
            query = events::bind_cte_events(query, at, Kind::Group, &events);
        }
        let row = query.fetch_optional(&mut *tx).await?;
        let Some(row) = row else {
            return Err(missing_or_stale(&mut tx, realm, Kind::Group, group).await);
        };
        let stored = resource_from_row(&row)?;
        apply_member_change(&mut tx, realm, group, &change).await?;
        tx.commit().await?;
        conn.finish();
        self.planner
            .members_added(&self.pool, change.add.len() as u64);
        Ok(stored)
    }

    async fn has_more_members_than(
        &self,
        realm_id: &str,
        group_id: &str,
        n: u64,
    ) -> StoreResult<bool> {
        let (Some(realm), Some(group)) = (uid(realm_id), uid(group_id)) else {
            return Ok(false);
        };
        // The ORDER BY names the primary key so the probe walks its index: without it, for a
        // group holding most of the table Postgres chose a sequential scan that read other
        // groups' rows first.
        let mut conn = self.conn().await?;
        let row = sqlx::query(
            "SELECT member_id FROM members WHERE realm_id = $1 AND group_id = $2 \
             ORDER BY realm_id, group_id, member_id LIMIT 1 OFFSET $3",
        )
        .bind(realm)
        .bind(group)
        .bind(n as i64)
        .fetch_optional(&mut *conn)
        .await?;
        conn.finish();
        Ok(row.is_some())
    }

    async fn members_of(
        &self,
        realm_id: &str,
        group_ids: &[String],
    ) -> StoreResult<Vec<MemberRow>> {
        let (Some(realm), ids) = (uid(realm_id), uids(group_ids)) else {
            return Ok(Vec::new());
        };
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let mut conn = self.conn().await?;
        let rows = sqlx::query(
            "SELECT m.group_id, m.member_id, r.kind, r.name FROM members m \
             JOIN resources r ON r.realm_id = m.realm_id AND r.id = m.member_id \
             WHERE m.realm_id = $1 AND m.group_id = ANY($2) ORDER BY m.group_id, m.member_id",
        )
        .bind(realm)
        .bind(&ids)
        .fetch_all(&mut *conn)
        .await?;
        conn.finish();
        rows.iter()
            .map(|row| {
                Ok(MemberRow {
                    group_id: get_id(row, "group_id")?,
                    member_id: get_id(row, "member_id")?,
                    member_kind: parse_kind(&get::<String>(row, "kind")?)?,
                    display: get(row, "name")?,
                })
            })
            .collect()
    }

    async fn groups_of(&self, realm_id: &str, member_ids: &[String]) -> StoreResult<Vec<GroupRow>> {
        let direct = self.parent_groups(realm_id, member_ids).await?;
        self.groups_from_direct(realm_id, direct).await
    }

    async fn groups_from_direct(
        &self,
        realm_id: &str,
        direct: Vec<(String, DirectGroup)>,
    ) -> StoreResult<Vec<GroupRow>> {
        crate::store::sql::groups::expand(direct, |ids| async move {
            self.parent_groups(realm_id, &ids).await
        })
        .await
    }
}

/// Makes the membership exactly `members`, computing the difference in the database: rows not
/// in the list are deleted, missing ones inserted, the rest left alone.
async fn set_members(
    tx: &mut Transaction<'_, Postgres>,
    realm: Uuid,
    group: Uuid,
    members: &[String],
) -> StoreResult<()> {
    sqlx::query(
        "DELETE FROM members WHERE realm_id = $1 AND group_id = $2 AND member_id <> ALL($3)",
    )
    .bind(realm)
    .bind(group)
    .bind(uids(members))
    .execute(&mut **tx)
    .await?;
    if members.is_empty() {
        return Ok(());
    }
    add_members(tx, realm, group, members).await
}

async fn apply_member_change(
    tx: &mut Transaction<'_, Postgres>,
    realm: Uuid,
    group: Uuid,
    change: &MemberChange,
) -> StoreResult<()> {
    if change.clear {
        // A replace: the new list is `add`, computed against the current rows.
        return set_members(tx, realm, group, &change.add).await;
    }
    if !change.must_be_users.is_empty() {
        let found = kinds_of(tx, realm, &change.must_be_users).await?;
        crate::store::sql::groups::require_users(&change.must_be_users, &found)?;
    }
    if !change.remove.is_empty() {
        sqlx::query(
            "DELETE FROM members WHERE realm_id = $1 AND group_id = $2 AND member_id = ANY($3)",
        )
        .bind(realm)
        .bind(group)
        .bind(uids(&change.remove))
        .execute(&mut **tx)
        .await?;
    }
    if !change.add.is_empty() {
        add_members(tx, realm, group, &change.add).await?;
    }
    Ok(())
}

/// (id, kind) of those of `ids` that are resources of the realm.
async fn kinds_of(
    tx: &mut Transaction<'_, Postgres>,
    realm: Uuid,
    ids: &[String],
) -> StoreResult<Vec<(String, Kind)>> {
    let rows = sqlx::query("SELECT id, kind FROM resources WHERE realm_id = $1 AND id = ANY($2)")
        .bind(realm)
        .bind(uids(ids))
        .fetch_all(&mut **tx)
        .await?;
    rows.iter()
        .map(|row| {
            Ok((
                get_id(row, "id")?,
                parse_kind(&get::<String>(row, "kind")?)?,
            ))
        })
        .collect()
}

/// Adds members after checking they exist in the realm and that no group would contain itself.
async fn add_members(
    tx: &mut Transaction<'_, Postgres>,
    realm: Uuid,
    group: Uuid,
    members: &[String],
) -> StoreResult<()> {
    let found = kinds_of(tx, realm, members).await?;
    let groups = crate::store::sql::groups::require_known(members, &found, &group.to_string())?;
    if !groups.is_empty() {
        // Adding groups under `group` closes a loop if one of them is `group` or one of its
        // ancestors: one walk up from `group`, through groups only (a group's ancestors are
        // few, where walking down would visit every member below).
        let cycle: Option<Uuid> = sqlx::query_scalar(
            "WITH RECURSIVE up(id) AS ( \
               SELECT CAST($2 AS uuid) \
               UNION SELECT m.group_id FROM members m JOIN up ON m.member_id = up.id \
               WHERE m.realm_id = $1 \
             ) SELECT id FROM up WHERE id = ANY($3) LIMIT 1",
        )
        .bind(realm)
        .bind(group)
        .bind(uids(&groups))
        .fetch_optional(&mut **tx)
        .await?;
        if let Some(id) = cycle {
            return Err(StoreError::MembershipCycle(id.to_string()));
        }
    }
    sqlx::query(
        "INSERT INTO members (realm_id, group_id, member_id) \
         SELECT $1, $2, unnest($3::uuid[]) ON CONFLICT DO NOTHING",
    )
    .bind(realm)
    .bind(group)
    .bind(uids(members))
    .execute(&mut **tx)
    .await?;
    Ok(())
}
