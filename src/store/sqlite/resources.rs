//! Users and Groups: one table, membership rows beside it.

use serde_json::Value;
use sqlx::sqlite::SqliteRow;
use sqlx::{Row, Sqlite, SqliteConnection, Transaction};

use super::{events, get, SqliteStore};
use crate::store::sql::page::{carried_total, page_from_rows, Lists};
use crate::store::sql::{
    bind_all, fold, parse_data, parse_direct_groups, parse_kind, placeholders, Bind, Dialect, CHUNK,
};
use crate::store::{
    DirectGroup, GroupRow, Kind, ListPage, ListQuery, MemberChange, MemberRow, Membership,
    NewEvent, NewResource, ReplaceResource, Resources, StoreError, StoreResult, StoredResource,
};

const D: Dialect = Dialect::Sqlite;

const COLS: &str = "id, kind, external_id, data, version, created, last_modified";

fn resource_from_row(row: &SqliteRow) -> StoreResult<StoredResource> {
    let kind = parse_kind(&get::<String>(row, "kind")?)?;
    let data = parse_data(&get::<String>(row, "data")?)?;
    let direct_groups = direct_groups_from_row(row, kind)?;
    Ok(StoredResource {
        id: get(row, "id")?,
        kind,
        external_id: get(row, "external_id")?,
        data,
        version: get(row, "version")?,
        created: get(row, "created")?,
        last_modified: get(row, "last_modified")?,
        related: match &direct_groups {
            Some(groups) => Some(!groups.is_empty()),
            None => row.try_get::<i64, _>("related").ok().map(|n| n != 0),
        },
        direct_groups,
    })
}

/// A user's direct groups from the `direct_groups` column ([[id, name, nested], ...], NULL for
/// none); `None` for a group or a read without the column.
fn direct_groups_from_row(row: &SqliteRow, kind: Kind) -> StoreResult<Option<Vec<DirectGroup>>> {
    if kind != Kind::User {
        return Ok(None);
    }
    let Ok(text) = row.try_get::<Option<String>, _>("direct_groups") else {
        return Ok(None);
    };
    Ok(Some(parse_direct_groups(text.as_deref())?))
}

/// A column telling whether a resource has membership rows: one index probe, cheaper than
/// the membership query it lets the caller skip.
const RELATED_COL: &str = "CAST(CASE WHEN kind = 'User' \
     THEN EXISTS (SELECT 1 FROM members m \
     WHERE m.realm_id = resources.realm_id AND m.member_id = resources.id) \
     ELSE EXISTS (SELECT 1 FROM members m \
     WHERE m.realm_id = resources.realm_id AND m.group_id = resources.id) \
     END AS INTEGER) AS related";

/// For a read of one resource, what rendering needs to know of memberships, with the row so
/// the usual GET is one round trip: `related`, whether a group has members, and
/// `direct_groups`, a user's direct groups as JSON `[[id, name, nested], ...]` (`nested`: that
/// group is itself a member, so the user has indirect groups to look up).
const MEMBERSHIP_COLS: &str = "CAST(CASE WHEN kind = 'Group' THEN EXISTS (SELECT 1 FROM members m \
     WHERE m.realm_id = resources.realm_id AND m.group_id = resources.id) END AS INTEGER) \
     AS related, \
     CASE WHEN kind = 'User' THEN (SELECT json_group_array(json_array(m.group_id, g.name, \
     EXISTS (SELECT 1 FROM members p WHERE p.realm_id = m.realm_id AND p.member_id = m.group_id))) \
     FROM members m JOIN resources g ON g.realm_id = m.realm_id AND g.id = m.group_id \
     WHERE m.realm_id = resources.realm_id AND m.member_id = resources.id) END AS direct_groups";

const LISTS: Lists = Lists {
    dialect: D,
    realm_param: "$1",
    cols: COLS,
    related: RELATED_COL,
};

impl SqliteStore {
    /// SQLite's plan for a list page (tests assert the indexes it uses).
    pub async fn explain_list(
        &self,
        realm_id: &str,
        kind: Kind,
        q: &ListQuery,
    ) -> StoreResult<String> {
        let (sql, binds) = LISTS.page_query(realm_id, kind, q);
        let explain = format!("EXPLAIN QUERY PLAN {sql}");
        let mut conn = self.conn().await?;
        let rows = bind_all(sqlx::query(&explain), &binds)
            .fetch_all(&mut *conn)
            .await?;
        conn.finish();
        let mut plan = String::new();
        for row in &rows {
            plan.push_str(&get::<String>(row, "detail")?);
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
        let mut out = Vec::new();
        for chunk in ids.chunks(CHUNK) {
            let sql = format!(
                "SELECT m.member_id, m.group_id, r.name, \
                 CAST(EXISTS (SELECT 1 FROM members p WHERE p.realm_id = m.realm_id \
                 AND p.member_id = m.group_id) AS INTEGER) AS nested \
                 FROM members m JOIN resources r ON r.realm_id = m.realm_id AND r.id = m.group_id \
                 WHERE m.realm_id = $1 AND m.member_id IN ({})",
                placeholders(2, chunk.len())
            );
            let mut q = sqlx::query(&sql).bind(realm_id);
            for id in chunk {
                q = q.bind(id);
            }
            let mut conn = self.conn().await?;
            let rows = q.fetch_all(&mut *conn).await?;
            conn.finish();
            for row in rows {
                out.push((
                    get(&row, "member_id")?,
                    DirectGroup {
                        group_id: get(&row, "group_id")?,
                        display: get(&row, "name")?,
                        nested: get::<i64>(&row, "nested")? != 0,
                    },
                ));
            }
        }
        Ok(out)
    }
}

/// After a conditional write matched nothing: was the row gone, or its version moved on?
async fn missing_or_stale(
    conn: &mut SqliteConnection,
    realm_id: &str,
    kind: Kind,
    id: &str,
) -> StoreError {
    let exists =
        sqlx::query("SELECT 1 FROM resources WHERE realm_id = $1 AND id = $2 AND kind = $3")
            .bind(realm_id)
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

#[async_trait::async_trait]
impl Resources for SqliteStore {
    async fn insert_resource(&self, r: NewResource) -> StoreResult<StoredResource> {
        let data = Value::Object(r.data.clone()).to_string();
        let query = sqlx::query(
            "INSERT INTO resources (id, realm_id, kind, name, name_ci, external_id, data, \
             password_hash, version, created, last_modified) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 1, $9, $9)",
        )
        .bind(&r.id)
        .bind(&r.realm_id)
        .bind(r.kind.name())
        .bind(&r.name)
        .bind(fold(&r.name))
        .bind(&r.external_id)
        .bind(&data)
        .bind(&r.password_hash)
        .bind(&r.now);
        let mut conn = self.conn().await?;
        if r.members.is_empty() && r.event.is_none() {
            // One statement is its own transaction.
            query.execute(&mut *conn).await?;
        } else {
            let mut tx = conn.begin().await?;
            query.execute(&mut *tx).await?;
            add_members(&mut tx, &r.realm_id, &r.id, &r.members).await?;
            let e = r.event.as_slice();
            events::insert(&mut tx, &r.realm_id, r.kind, &r.id, Some(1), &r.now, e).await?;
            tx.commit().await?;
        }
        conn.finish();
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
        let mut conn = self.conn().await?;
        let row = sqlx::query(&format!(
            "SELECT {COLS}, {MEMBERSHIP_COLS} FROM resources \
             WHERE realm_id = $1 AND id = $2 AND kind = $3"
        ))
        .bind(realm_id)
        .bind(id)
        .bind(kind.name())
        .fetch_optional(&mut *conn)
        .await?;
        conn.finish();
        row.as_ref().map(resource_from_row).transpose()
    }

    async fn replace_resource(&self, u: ReplaceResource) -> StoreResult<StoredResource> {
        let data = Value::Object(u.data).to_string();
        // The version check is part of the write itself: no read-then-write race.
        let sql = format!(
            "UPDATE resources SET name = $1, name_ci = $2, external_id = $3, data = $4, \
             password_hash = COALESCE($5, password_hash), version = version + 1, \
             last_modified = $6 \
             WHERE realm_id = $7 AND id = $8 AND kind = $9 AND ($10 < 0 OR version = $10) \
             RETURNING {COLS}"
        );
        let update = sqlx::query(&sql)
            .bind(&u.name)
            .bind(fold(&u.name))
            .bind(&u.external_id)
            .bind(&data)
            .bind(&u.password_hash)
            .bind(&u.now)
            .bind(&u.realm_id)
            .bind(&u.id)
            .bind(u.kind.name())
            .bind(u.expected_version.unwrap_or(-1));
        let mut conn = self.conn().await?;
        if u.members.is_none() && u.member_change.is_none() && u.event.is_none() {
            let row = update.fetch_optional(&mut *conn).await?;
            let Some(row) = row else {
                let e = missing_or_stale(&mut conn, &u.realm_id, u.kind, &u.id).await;
                conn.finish();
                return Err(e);
            };
            conn.finish();
            return resource_from_row(&row);
        }
        let mut tx = conn.begin().await?;
        let Some(row) = update.fetch_optional(&mut *tx).await? else {
            return Err(missing_or_stale(&mut tx, &u.realm_id, u.kind, &u.id).await);
        };
        let stored = resource_from_row(&row)?;
        if let Some(members) = &u.members {
            set_members(&mut tx, &u.realm_id, &u.id, members).await?;
        }
        if let Some(change) = &u.member_change {
            apply_member_change(&mut tx, &u.realm_id, &u.id, change).await?;
        }
        let (e, version) = (u.event.as_slice(), Some(stored.version));
        events::insert(&mut tx, &u.realm_id, u.kind, &u.id, version, &u.now, e).await?;
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
        let mut conn = self.conn().await?;
        let mut tx = conn.begin().await?;
        let (e, at) = (event.as_slice(), crate::clock::now());
        // The groups it was a member of lose it: each gets a new version and its own event.
        // (One writer at a time: no membership can be added meanwhile.) Read before the row goes,
        // since a foreign key cascade would take the rows with it.
        let groups: Vec<String> = sqlx::query_scalar(
            "DELETE FROM members WHERE realm_id = $1 AND member_id = $2 RETURNING group_id",
        )
        .bind(realm_id)
        .bind(id)
        .fetch_all(&mut *tx)
        .await?;
        let left: Vec<NewEvent> = event.iter().map(|e| e.left_group(id)).collect();
        for group in &groups {
            let v: i64 = sqlx::query_scalar(
                "UPDATE resources SET version = version + 1, last_modified = $3 \
                 WHERE realm_id = $1 AND id = $2 RETURNING version",
            )
            .bind(realm_id)
            .bind(group)
            .bind(&at)
            .fetch_one(&mut *tx)
            .await?;
            events::insert(&mut tx, realm_id, Kind::Group, group, Some(v), &at, &left).await?;
        }
        let version: Option<i64> = sqlx::query_scalar(
            "DELETE FROM resources WHERE realm_id = $1 AND id = $2 AND kind = $3 \
             AND ($4 < 0 OR version = $4) RETURNING version",
        )
        .bind(realm_id)
        .bind(id)
        .bind(kind.name())
        .bind(expected_version.unwrap_or(-1))
        .fetch_optional(&mut *tx)
        .await?;
        let Some(version) = version else {
            return Err(missing_or_stale(&mut tx, realm_id, kind, id).await);
        };
        events::insert(&mut tx, realm_id, kind, id, Some(version), &at, e).await?;
        // Its own members go in the same transaction. The foreign keys would cascade too;
        // saying it here keeps that true whatever a connection's pragmas.
        sqlx::query("DELETE FROM members WHERE realm_id = $1 AND group_id = $2")
            .bind(realm_id)
            .bind(id)
            .execute(&mut *tx)
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
impl Membership for SqliteStore {
    async fn change_members(
        &self,
        realm_id: &str,
        group_id: &str,
        change: MemberChange,
        expected_version: Option<i64>,
        now: &str,
        events: Vec<NewEvent>,
    ) -> StoreResult<StoredResource> {
        let mut conn = self.conn().await?;
        let mut tx = conn.begin().await?;
        // The version bump comes first: it takes SQLite's write lock, so concurrent
        // membership changes to one group queue here instead of racing.
        let row = sqlx::query(&format!(
            "UPDATE resources SET version = version + 1, last_modified = $1 \
             WHERE realm_id = $2 AND id = $3 AND kind = 'Group' AND ($4 < 0 OR version = $4) \
             RETURNING {COLS}"
        ))
        .bind(now)
        .bind(realm_id)
        .bind(group_id)
        .bind(expected_version.unwrap_or(-1))
        .fetch_optional(&mut *tx)
        .await?;
        let Some(row) = row else {
            return Err(missing_or_stale(&mut tx, realm_id, Kind::Group, group_id).await);
        };
        let stored = resource_from_row(&row)?;
        apply_member_change(&mut tx, realm_id, group_id, &change).await?;
        let version = Some(stored.version);
        events::insert(
            &mut tx,
            realm_id,
            Kind::Group,
            group_id,
            version,
            now,
            &events,
        )
        .await?;
        tx.commit().await?;
        conn.finish();
        Ok(stored)
    }

    async fn has_more_members_than(
        &self,
        realm_id: &str,
        group_id: &str,
        n: u64,
    ) -> StoreResult<bool> {
        let mut conn = self.conn().await?;
        let row = sqlx::query(
            "SELECT member_id FROM members WHERE realm_id = $1 AND group_id = $2 \
             ORDER BY realm_id, group_id, member_id LIMIT 1 OFFSET $3",
        )
        .bind(realm_id)
        .bind(group_id)
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
        let mut out = Vec::new();
        for chunk in group_ids.chunks(CHUNK) {
            let sql = format!(
                "SELECT m.group_id, m.member_id, r.kind, r.name FROM members m \
                 JOIN resources r ON r.realm_id = m.realm_id AND r.id = m.member_id \
                 WHERE m.realm_id = $1 AND m.group_id IN ({}) ORDER BY m.group_id, m.member_id",
                placeholders(2, chunk.len())
            );
            let mut q = sqlx::query(&sql).bind(realm_id);
            for id in chunk {
                q = q.bind(id);
            }
            let mut conn = self.conn().await?;
            let rows = q.fetch_all(&mut *conn).await?;
            conn.finish();
            for row in rows {
                out.push(MemberRow {
                    group_id: get(&row, "group_id")?,
                    member_id: get(&row, "member_id")?,
                    member_kind: parse_kind(&get::<String>(&row, "kind")?)?,
                    display: get(&row, "name")?,
                });
            }
        }
        Ok(out)
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
    tx: &mut Transaction<'_, Sqlite>,
    realm_id: &str,
    group_id: &str,
    members: &[String],
) -> StoreResult<()> {
    // The list goes in as one JSON array parameter, however long it is.
    let ids = serde_json::to_string(members).unwrap_or_else(|_| "[]".into());
    sqlx::query(
        "DELETE FROM members WHERE realm_id = $1 AND group_id = $2 \
         AND member_id NOT IN (SELECT value FROM json_each($3))",
    )
    .bind(realm_id)
    .bind(group_id)
    .bind(&ids)
    .execute(&mut **tx)
    .await?;
    if members.is_empty() {
        return Ok(());
    }
    add_members(tx, realm_id, group_id, members).await
}

async fn apply_member_change(
    tx: &mut Transaction<'_, Sqlite>,
    realm_id: &str,
    group_id: &str,
    change: &MemberChange,
) -> StoreResult<()> {
    if change.clear {
        // A replace: the new list is `add`, computed against the current rows.
        return set_members(tx, realm_id, group_id, &change.add).await;
    }
    if !change.must_be_users.is_empty() {
        let found = kinds_of(tx, realm_id, &change.must_be_users).await?;
        crate::store::sql::groups::require_users(&change.must_be_users, &found)?;
    }
    for chunk in change.remove.chunks(CHUNK) {
        let sql = format!(
            "DELETE FROM members WHERE realm_id = $1 AND group_id = $2 AND member_id IN ({})",
            placeholders(3, chunk.len())
        );
        let mut q = sqlx::query(&sql).bind(realm_id).bind(group_id);
        for id in chunk {
            q = q.bind(id);
        }
        q.execute(&mut **tx).await?;
    }
    if !change.add.is_empty() {
        add_members(tx, realm_id, group_id, &change.add).await?;
    }
    Ok(())
}

/// (id, kind) of those of `ids` that are resources of the realm.
async fn kinds_of(
    tx: &mut Transaction<'_, Sqlite>,
    realm_id: &str,
    ids: &[String],
) -> StoreResult<Vec<(String, Kind)>> {
    let mut found = Vec::with_capacity(ids.len());
    for chunk in ids.chunks(CHUNK) {
        let sql = format!(
            "SELECT id, kind FROM resources WHERE realm_id = $1 AND id IN ({})",
            placeholders(2, chunk.len())
        );
        let mut q = sqlx::query(&sql).bind(realm_id);
        for id in chunk {
            q = q.bind(id);
        }
        for row in q.fetch_all(&mut **tx).await? {
            found.push((get(&row, "id")?, parse_kind(&get::<String>(&row, "kind")?)?));
        }
    }
    Ok(found)
}

/// Adds members after checking they exist in the realm and that no group would contain itself.
async fn add_members(
    tx: &mut Transaction<'_, Sqlite>,
    realm_id: &str,
    group_id: &str,
    members: &[String],
) -> StoreResult<()> {
    let found = kinds_of(tx, realm_id, members).await?;
    let groups = crate::store::sql::groups::require_known(members, &found, group_id)?;
    if !groups.is_empty() {
        // Adding groups under `group_id` closes a loop if one of them is `group_id` or one of
        // its ancestors: one walk up from `group_id`, through groups only (a group's
        // ancestors are few, where walking down would visit every member below).
        let sql = "WITH RECURSIVE up(id) AS ( \
               SELECT $2 \
               UNION SELECT m.group_id FROM members m JOIN up ON m.member_id = up.id \
               WHERE m.realm_id = $1 \
             ) SELECT id FROM up WHERE id IN (SELECT value FROM json_each($3)) LIMIT 1";
        let list = serde_json::to_string(&groups).unwrap_or_else(|_| "[]".into());
        let cycle = sqlx::query_scalar::<_, String>(sql)
            .bind(realm_id)
            .bind(group_id)
            .bind(list)
            .fetch_optional(&mut **tx)
            .await?;
        if let Some(id) = cycle {
            return Err(StoreError::MembershipCycle(id));
        }
    }
    for chunk in members.chunks(CHUNK) {
        let values: Vec<String> = (0..chunk.len())
            .map(|i| format!("($1, $2, ${})", i + 3))
            .collect();
        let sql = format!(
            "INSERT INTO members (realm_id, group_id, member_id) VALUES {} ON CONFLICT DO NOTHING",
            values.join(", ")
        );
        let mut q = sqlx::query(&sql).bind(realm_id).bind(group_id);
        for id in chunk {
            q = q.bind(id);
        }
        q.execute(&mut **tx).await?;
    }
    Ok(())
}
