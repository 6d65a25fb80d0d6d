//! Users and Groups: one table, membership rows beside it.

use serde_json::{Map, Value};
use sqlx::any::AnyRow;
use sqlx::{Any, AnyConnection, Row, Transaction};

use super::filter::{compile, Bind};
use super::sort::{key_expr, order_by, seek_condition};
use super::{get, placeholders, Dialect, SqlStore};
use crate::store::query::{Literal, SortKind};
use crate::store::{
    DirectGroup, GroupRow, Kind, ListPage, ListQuery, MemberChange, MemberRow, NewResource,
    ReplaceResource, StoreError, StoreResult, StoredResource,
};

/// Rows per multi-row INSERT or IN list: far below both backends' bound-parameter limits.
const CHUNK: usize = 500;

fn cols(d: Dialect) -> String {
    format!(
        "id, kind, external_id, {}, version, created, last_modified",
        d.data_col()
    )
}

/// totalResults of a list as a scalar subquery: unfiltered, the trigger-maintained counts
/// (`$1` realm, `$2` kind, as in every list's WHERE); filtered, a real count.
fn total_sql(q: &ListQuery, where_sql: &str) -> String {
    if q.filter.is_none() {
        "(SELECT CAST(COALESCE(SUM(n), 0) AS BIGINT) FROM resource_counts \
         WHERE realm_id = $1 AND kind = $2)"
            .to_owned()
    } else {
        format!("(SELECT COUNT(*) FROM resources WHERE {where_sql})")
    }
}

fn resource_from_row(row: &AnyRow) -> StoreResult<StoredResource> {
    let kind: String = get(row, "kind")?;
    let kind = Kind::parse(&kind)
        .ok_or_else(|| StoreError::Corrupt(format!("unknown resource kind {kind}")))?;
    let data: String = get(row, "data")?;
    let data: Map<String, Value> = serde_json::from_str(&data)
        .map_err(|e| StoreError::Corrupt(format!("resource data is not a JSON object: {e}")))?;
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
fn direct_groups_from_row(row: &AnyRow, kind: Kind) -> StoreResult<Option<Vec<DirectGroup>>> {
    if kind != Kind::User {
        return Ok(None);
    }
    let Ok(text) = row.try_get::<Option<String>, _>("direct_groups") else {
        return Ok(None);
    };
    let Some(text) = text else {
        return Ok(Some(Vec::new()));
    };
    let items: Vec<(String, String, Value)> = serde_json::from_str(&text)
        .map_err(|e| StoreError::Corrupt(format!("a user's direct groups: {e}")))?;
    Ok(Some(
        items
            .into_iter()
            .map(|(group_id, display, nested)| DirectGroup {
                group_id,
                display,
                // Postgres answers a boolean, SQLite 0 or 1.
                nested: nested.as_bool() == Some(true) || nested.as_i64() == Some(1),
            })
            .collect(),
    ))
}

/// A column telling whether a resource has membership rows: one index probe, cheaper than
/// the membership query it lets the caller skip. `LIMIT 1 OFFSET 0` keeps Postgres from
/// turning the EXISTS into a hashed subplan: for a page it estimated every row of the table as
/// callers and hashed the whole members table instead (~50 ms a page with a 100k-member group).
const RELATED_COL: &str = "CAST(CASE WHEN kind = 'User' \
     THEN EXISTS (SELECT 1 FROM members m WHERE m.member_id = resources.id LIMIT 1 OFFSET 0) \
     ELSE EXISTS (SELECT 1 FROM members m WHERE m.group_id = resources.id LIMIT 1 OFFSET 0) \
     END AS INTEGER) AS related";

/// For a read of one resource, what rendering needs to know of memberships, with the row so
/// the usual GET is one round trip: `related`, whether a group has members, and
/// `direct_groups`, a user's direct groups as JSON `[[id, name, nested], ...]` (NULL or `[]`
/// for none; `nested`: that group is itself a member, so the user has indirect groups to look
/// up). Not for list pages: with the aggregate in the select list Postgres stopped reusing the
/// filtered page's generic plan and planned every execution (a `userName eq` filter fell from
/// ~10,300 to ~4,700 req/s); a page keeps `related` and one membership query for all its rows.
fn membership_cols(d: Dialect) -> &'static str {
    match d {
        Dialect::Postgres => {
            "CAST(CASE WHEN kind = 'Group' THEN EXISTS (SELECT 1 FROM members m \
             WHERE m.group_id = resources.id LIMIT 1 OFFSET 0) END AS INTEGER) AS related, \
             CASE WHEN kind = 'User' AND EXISTS (SELECT 1 FROM members m \
             WHERE m.member_id = resources.id LIMIT 1 OFFSET 0) \
             THEN (SELECT CAST(json_agg(json_build_array(m.group_id, \
             g.name, EXISTS (SELECT 1 FROM members p WHERE p.member_id = m.group_id \
             LIMIT 1 OFFSET 0))) AS TEXT) \
             FROM members m JOIN resources g ON g.id = m.group_id \
             WHERE m.member_id = resources.id) END AS direct_groups"
        }
        Dialect::Sqlite => {
            "CAST(CASE WHEN kind = 'Group' THEN EXISTS (SELECT 1 FROM members m \
             WHERE m.group_id = resources.id) END AS INTEGER) AS related, \
             CASE WHEN kind = 'User' THEN (SELECT json_group_array(json_array(m.group_id, \
             g.name, EXISTS (SELECT 1 FROM members p WHERE p.member_id = m.group_id))) \
             FROM members m JOIN resources g ON g.id = m.group_id \
             WHERE m.member_id = resources.id) END AS direct_groups"
        }
    }
}

/// Folds a name for the case-insensitive uniqueness index. Done here, not in SQL, so both
/// backends fold Unicode the same way.
pub(crate) fn fold(s: &str) -> String {
    s.to_lowercase()
}

impl SqlStore {
    pub(super) async fn insert_resource_impl(&self, r: NewResource) -> StoreResult<StoredResource> {
        let d = self.dialect;
        let data = Value::Object(r.data.clone()).to_string();
        let insert = format!(
            "INSERT INTO resources (id, realm_id, kind, name, name_ci, external_id, data, \
             password_hash, version, created, last_modified) \
             VALUES ($1, $2, $3, $4, $5, $6, {}, $8, 1, $9, $9)",
            d.json_param(7)
        );
        let folded = fold(&r.name);
        let query = sqlx::query(&insert)
            .bind(&r.id)
            .bind(&r.realm_id)
            .bind(r.kind.name())
            .bind(&r.name)
            .bind(&folded)
            .bind(&r.external_id)
            .bind(&data)
            .bind(&r.password_hash)
            .bind(&r.now);
        let mut conn = self.conn().await?;
        if r.members.is_empty() {
            // One statement is its own transaction: BEGIN and COMMIT would be two more round
            // trips for nothing.
            query
                .execute(&mut *conn)
                .await
                .map_err(StoreError::from_sqlx)?;
            conn.finish();
        } else {
            let mut tx = conn.begin().await.map_err(StoreError::from_sqlx)?;
            query
                .execute(&mut *tx)
                .await
                .map_err(StoreError::from_sqlx)?;
            add_members(&mut tx, &r.realm_id, &r.id, &r.members).await?;
            tx.commit().await.map_err(StoreError::from_sqlx)?;
            conn.finish();
        }
        Ok(StoredResource {
            id: r.id,
            kind: r.kind,
            external_id: r.external_id,
            data: r.data,
            version: 1,
            created: r.now.clone(),
            last_modified: r.now,
            related: Some(!r.members.is_empty()),
            direct_groups: None,
        })
    }

    pub(super) async fn get_resource_impl(
        &self,
        realm_id: &str,
        kind: Kind,
        id: &str,
    ) -> StoreResult<Option<StoredResource>> {
        let mut conn = self.conn().await?;
        let row = sqlx::query(&format!(
            "SELECT {}, {} FROM resources WHERE id = $1 AND realm_id = $2 AND kind = $3",
            cols(self.dialect),
            membership_cols(self.dialect)
        ))
        .bind(id)
        .bind(realm_id)
        .bind(kind.name())
        .fetch_optional(&mut *conn)
        .await
        .map_err(StoreError::from_sqlx)?;
        conn.finish();
        row.as_ref().map(resource_from_row).transpose()
    }

    pub(super) async fn replace_resource_impl(
        &self,
        u: ReplaceResource,
    ) -> StoreResult<StoredResource> {
        let d = self.dialect;
        let data = Value::Object(u.data).to_string();
        // The version check is part of the write itself: no read-then-write race.
        let sql = format!(
            "UPDATE resources SET name = $1, name_ci = $2, external_id = $3, data = {}, \
             password_hash = COALESCE($5, password_hash), version = version + 1, \
             last_modified = $6 \
             WHERE id = $7 AND realm_id = $8 AND kind = $9 AND ($10 < 0 OR version = $10) \
             RETURNING {}",
            d.json_param(4),
            cols(d)
        );
        let folded = fold(&u.name);
        let update = sqlx::query(&sql)
            .bind(&u.name)
            .bind(&folded)
            .bind(&u.external_id)
            .bind(&data)
            .bind(&u.password_hash)
            .bind(&u.now)
            .bind(&u.id)
            .bind(&u.realm_id)
            .bind(u.kind.name())
            .bind(u.expected_version.unwrap_or(-1));
        let mut conn = self.conn().await?;
        if u.members.is_none() && u.member_change.is_none() {
            // One statement is its own transaction (no BEGIN and COMMIT round trips).
            let row = update
                .fetch_optional(&mut *conn)
                .await
                .map_err(StoreError::from_sqlx)?;
            let Some(row) = row else {
                let e = self
                    .missing_or_stale(&mut conn, &u.realm_id, u.kind, &u.id)
                    .await;
                conn.finish();
                return Err(e);
            };
            conn.finish();
            return resource_from_row(&row);
        }
        let mut tx = conn.begin().await.map_err(StoreError::from_sqlx)?;
        let row = update
            .fetch_optional(&mut *tx)
            .await
            .map_err(StoreError::from_sqlx)?;
        let Some(row) = row else {
            return Err(self
                .missing_or_stale(&mut tx, &u.realm_id, u.kind, &u.id)
                .await);
        };
        let stored = resource_from_row(&row)?;
        if let Some(members) = &u.members {
            set_members(&mut tx, self.dialect, &u.realm_id, &u.id, members).await?;
        }
        if let Some(change) = &u.member_change {
            apply_member_change(&mut tx, self.dialect, &u.realm_id, &u.id, change).await?;
        }
        tx.commit().await.map_err(StoreError::from_sqlx)?;
        conn.finish();
        Ok(stored)
    }

    pub(super) async fn change_members_impl(
        &self,
        realm_id: &str,
        group_id: &str,
        change: MemberChange,
        expected_version: Option<i64>,
        now: &str,
    ) -> StoreResult<StoredResource> {
        let mut conn = self.conn().await?;
        let mut tx = conn.begin().await.map_err(StoreError::from_sqlx)?;
        // The version bump comes first: it takes the group's row lock (and SQLite's write
        // lock), so concurrent membership changes to one group queue here instead of racing.
        let row = sqlx::query(&format!(
            "UPDATE resources SET version = version + 1, last_modified = $1 \
             WHERE id = $2 AND realm_id = $3 AND kind = 'Group' AND ($4 < 0 OR version = $4) \
             RETURNING {}",
            cols(self.dialect)
        ))
        .bind(now)
        .bind(group_id)
        .bind(realm_id)
        .bind(expected_version.unwrap_or(-1))
        .fetch_optional(&mut *tx)
        .await
        .map_err(StoreError::from_sqlx)?;
        let Some(row) = row else {
            return Err(self
                .missing_or_stale(&mut tx, realm_id, Kind::Group, group_id)
                .await);
        };
        let stored = resource_from_row(&row)?;
        apply_member_change(&mut tx, self.dialect, realm_id, group_id, &change).await?;
        tx.commit().await.map_err(StoreError::from_sqlx)?;
        conn.finish();
        Ok(stored)
    }

    pub(super) async fn has_more_members_than_impl(
        &self,
        group_id: &str,
        n: u64,
    ) -> StoreResult<bool> {
        // The ORDER BY names the primary key so the probe walks its index: without it, for a
        // group holding most of the table Postgres chose a sequential scan that read other
        // groups' rows first.
        let mut conn = self.conn().await?;
        let row = sqlx::query(
            "SELECT member_id FROM members WHERE group_id = $1 \
                 ORDER BY group_id, member_id LIMIT 1 OFFSET $2",
        )
        .bind(group_id)
        .bind(n as i64)
        .fetch_optional(&mut *conn)
        .await
        .map_err(StoreError::from_sqlx)?;
        conn.finish();
        Ok(row.is_some())
    }

    /// After a conditional write matched nothing: was the row gone, or its version moved on?
    async fn missing_or_stale(
        &self,
        conn: &mut AnyConnection,
        realm_id: &str,
        kind: Kind,
        id: &str,
    ) -> StoreError {
        let exists =
            sqlx::query("SELECT 1 FROM resources WHERE id = $1 AND realm_id = $2 AND kind = $3")
                .bind(id)
                .bind(realm_id)
                .bind(kind.name())
                .fetch_optional(&mut *conn)
                .await;
        match exists {
            Ok(Some(_)) => StoreError::VersionMismatch,
            Ok(None) => StoreError::NotFound,
            Err(e) => StoreError::from_sqlx(e),
        }
    }

    pub(super) async fn delete_resource_impl(
        &self,
        realm_id: &str,
        kind: Kind,
        id: &str,
        expected_version: Option<i64>,
    ) -> StoreResult<()> {
        let mut conn = self.conn().await?;
        let mut tx = conn.begin().await.map_err(StoreError::from_sqlx)?;
        let done = sqlx::query(
            "DELETE FROM resources WHERE id = $1 AND realm_id = $2 AND kind = $3 \
             AND ($4 < 0 OR version = $4)",
        )
        .bind(id)
        .bind(realm_id)
        .bind(kind.name())
        .bind(expected_version.unwrap_or(-1))
        .execute(&mut *tx)
        .await
        .map_err(StoreError::from_sqlx)?;
        if done.rows_affected() == 0 {
            return Err(self.missing_or_stale(&mut tx, realm_id, kind, id).await);
        }
        // Memberships in both directions go in the same transaction. The foreign keys would
        // cascade too; saying it here keeps that true whatever a SQLite connection's pragmas.
        sqlx::query("DELETE FROM members WHERE group_id = $1 OR member_id = $1")
            .bind(id)
            .execute(&mut *tx)
            .await
            .map_err(StoreError::from_sqlx)?;
        tx.commit().await.map_err(StoreError::from_sqlx)?;
        conn.finish();
        Ok(())
    }

    /// The WHERE clause (and its binds) of a list query, without the seek.
    fn list_where(&self, realm_id: &str, kind: Kind, q: &ListQuery) -> (String, Vec<Bind>) {
        let mut binds = vec![
            Bind::Str(realm_id.to_owned()),
            Bind::Str(kind.name().to_owned()),
        ];
        let mut where_sql = "realm_id = $1 AND kind = $2".to_owned();
        if let Some(f) = &q.filter {
            let sql = compile(f, self.dialect, &mut binds);
            where_sql.push_str(" AND (");
            where_sql.push_str(&sql);
            where_sql.push(')');
        }
        (where_sql, binds)
    }

    /// The page query of a list: filter, seek, order and limit, with its binds (LIMIT and
    /// OFFSET last).
    fn page_query(&self, realm_id: &str, kind: Kind, q: &ListQuery) -> (String, Vec<Bind>) {
        let d = self.dialect;
        let (mut where_sql, mut binds) = self.list_where(realm_id, kind, q);
        let count_where = where_sql.clone();
        let backward = q.seek.as_ref().is_some_and(|s| s.backward);
        if let Some(seek) = &q.seek {
            let cond = seek_condition(d, q.sort.as_ref(), seek, &mut binds);
            where_sql.push_str(" AND ");
            where_sql.push_str(&cond);
        }
        let key_col = match &q.sort {
            Some(sort) => format!(", {} AS sort_key", key_expr(d, sort)),
            None => String::new(),
        };
        let n = binds.len();
        binds.push(Bind::I64(i64::from(q.limit)));
        let limit_offset = if q.seek.is_some() {
            format!("LIMIT ${}", n + 1)
        } else {
            binds.push(Bind::I64(q.offset as i64));
            format!("LIMIT ${} OFFSET ${}", n + 1, n + 2)
        };
        // The filter's binds come first and keep their numbers, so the count subquery can
        // reuse them: totalResults rides on the page query instead of a second round trip.
        let total = total_sql(q, &count_where);
        let order = order_by(d, q.sort.as_ref(), backward);
        let sql = if q.seek.is_none() && q.offset > 0 {
            // Deferred join: the OFFSET walks an index-only scan of ids (sort indexes carry
            // the key and id), and only the page's rows are read from the table. Skipping
            // 500,000 rows this way reads no row data; the plain OFFSET fetched every one.
            format!(
                "SELECT {}{key_col}, {total} AS total_n, {RELATED_COL} FROM resources WHERE id IN \
                 (SELECT id FROM resources WHERE {where_sql} ORDER BY {order} {limit_offset}) \
                 ORDER BY {order}",
                cols(d),
            )
        } else {
            format!(
                "SELECT {}{key_col}, {total} AS total_n, {RELATED_COL} \
                 FROM resources WHERE {where_sql} ORDER BY {order} {limit_offset}",
                cols(d),
            )
        };
        (sql, binds)
    }

    /// Postgres's plan for a list page (tests assert the indexes it uses).
    pub async fn explain_list(
        &self,
        realm_id: &str,
        kind: Kind,
        q: &ListQuery,
    ) -> StoreResult<String> {
        let (sql, binds) = self.page_query(realm_id, kind, q);
        let mut conn = self.conn().await?;
        if self.dialect == Dialect::Postgres {
            // On a small test table a sequential scan is cheapest; forbid it to see whether an
            // index can serve the query at all.
            sqlx::query("SET enable_seqscan = off")
                .execute(&mut *conn)
                .await
                .map_err(StoreError::from_sqlx)?;
        }
        let explain = match self.dialect {
            Dialect::Postgres => format!("EXPLAIN {sql}"),
            Dialect::Sqlite => format!("EXPLAIN QUERY PLAN {sql}"),
        };
        let mut query = sqlx::query(&explain);
        for b in &binds {
            query = b.bind(query);
        }
        let rows = query
            .fetch_all(&mut *conn)
            .await
            .map_err(StoreError::from_sqlx)?;
        if self.dialect == Dialect::Postgres {
            let _ = sqlx::query("RESET enable_seqscan")
                .execute(&mut *conn)
                .await;
        }
        let mut plan = String::new();
        for row in &rows {
            let line: String = match self.dialect {
                Dialect::Postgres => get(row, "QUERY PLAN")?,
                Dialect::Sqlite => get(row, "detail")?,
            };
            plan.push_str(&line);
            plan.push('\n');
        }
        Ok(plan)
    }

    pub(super) async fn list_resources_impl(
        &self,
        realm_id: &str,
        kind: Kind,
        q: &ListQuery,
    ) -> StoreResult<ListPage> {
        let count = |where_sql: String, binds: Vec<Bind>| async move {
            let count_sql = format!("SELECT {} AS n", total_sql(q, &where_sql));
            let mut count_q = sqlx::query(&count_sql);
            for b in &binds {
                count_q = b.bind(count_q);
            }
            let mut conn = self.conn().await?;
            let row = count_q
                .fetch_one(&mut *conn)
                .await
                .map_err(StoreError::from_sqlx)?;
            conn.finish();
            Ok::<u64, StoreError>(get::<i64>(&row, "n")? as u64)
        };
        if q.limit == 0 {
            let (where_sql, binds) = self.list_where(realm_id, kind, q);
            return Ok(ListPage {
                total: count(where_sql, binds).await?,
                ..ListPage::default()
            });
        }
        let backward = q.seek.as_ref().is_some_and(|s| s.backward);
        let (page_sql, binds) = self.page_query(realm_id, kind, q);
        let mut page_q = sqlx::query(&page_sql);
        for b in &binds {
            page_q = b.bind(page_q);
        }
        let mut conn = self.conn().await?;
        let mut rows = page_q
            .fetch_all(&mut *conn)
            .await
            .map_err(StoreError::from_sqlx)?;
        conn.finish();
        // The page query carries totalResults (one round trip); an empty page has no row to
        // carry it, so only then is it counted on its own.
        let total = match rows.first() {
            Some(row) => get::<i64>(row, "total_n")? as u64,
            None if q.seek.is_none() && q.offset == 0 => 0,
            None => {
                let (where_sql, binds) = self.list_where(realm_id, kind, q);
                count(where_sql, binds).await?
            }
        };
        if backward {
            rows.reverse();
        }
        let mut items = Vec::with_capacity(rows.len());
        let mut keys = Vec::with_capacity(rows.len());
        for row in &rows {
            items.push(resource_from_row(row)?);
            keys.push(match &q.sort {
                None => None,
                Some(sort) => match sort.kind {
                    SortKind::Text => get::<Option<String>>(row, "sort_key")?.map(Literal::String),
                    SortKind::Number => get::<Option<f64>>(row, "sort_key")?.map(Literal::Number),
                },
            });
        }
        Ok(ListPage { total, items, keys })
    }

    pub(super) async fn secret_impl(&self, name: &str) -> StoreResult<Vec<u8>> {
        use base64::Engine;
        use rand::RngCore;
        let mut fresh = [0u8; 32];
        rand::rngs::OsRng.fill_bytes(&mut fresh);
        let encoded = base64::engine::general_purpose::STANDARD.encode(fresh);
        // Insert-if-absent then read: every replica ends up with the first value written.
        let mut conn = self.conn().await?;
        sqlx::query("INSERT INTO settings (name, value) VALUES ($1, $2) ON CONFLICT DO NOTHING")
            .bind(name)
            .bind(&encoded)
            .execute(&mut *conn)
            .await
            .map_err(StoreError::from_sqlx)?;
        conn.finish();
        let mut conn = self.conn().await?;
        let row = sqlx::query("SELECT value FROM settings WHERE name = $1")
            .bind(name)
            .fetch_one(&mut *conn)
            .await
            .map_err(StoreError::from_sqlx)?;
        conn.finish();
        let value: String = get(&row, "value")?;
        base64::engine::general_purpose::STANDARD
            .decode(value)
            .map_err(|e| StoreError::Corrupt(format!("setting {name} is not base64: {e}")))
    }

    pub(super) async fn members_of_impl(
        &self,
        group_ids: &[String],
    ) -> StoreResult<Vec<MemberRow>> {
        let mut out = Vec::new();
        for chunk in group_ids.chunks(CHUNK) {
            let sql = format!(
                "SELECT m.group_id, m.member_id, r.kind, r.name FROM members m \
                 JOIN resources r ON r.id = m.member_id \
                 WHERE m.group_id IN ({}) ORDER BY m.group_id, m.member_id",
                placeholders(1, chunk.len())
            );
            let mut conn = self.conn().await?;
            let mut q = sqlx::query(&sql);
            for id in chunk {
                q = q.bind(id);
            }
            let rows = q
                .fetch_all(&mut *conn)
                .await
                .map_err(StoreError::from_sqlx)?;
            conn.finish();
            for row in rows {
                let kind: String = get(&row, "kind")?;
                out.push(MemberRow {
                    group_id: get(&row, "group_id")?,
                    member_id: get(&row, "member_id")?,
                    member_kind: Kind::parse(&kind)
                        .ok_or_else(|| StoreError::Corrupt(format!("unknown kind {kind}")))?,
                    display: get(&row, "name")?,
                });
            }
        }
        Ok(out)
    }

    pub(super) async fn groups_of_impl(&self, member_ids: &[String]) -> StoreResult<Vec<GroupRow>> {
        let direct = self.parent_groups(member_ids).await?;
        self.expand_groups(direct).await
    }

    /// Direct memberships (member, group) completed with the groups containing those groups, level by level, each an index probe per id.
    /// One recursive CTE did this in a single statement, but Postgres cannot estimate a
    /// recursion: it planned sorts and a hash of the whole resources table, ~15 ms for a page
    /// of 100 users in one group (more as the directory grows).
    pub(super) async fn expand_groups(
        &self,
        direct: Vec<(String, DirectGroup)>,
    ) -> StoreResult<Vec<GroupRow>> {
        use std::collections::{BTreeMap, BTreeSet, HashMap};
        let mut names: HashMap<String, String> = HashMap::new();
        let mut parents: HashMap<String, Vec<String>> = HashMap::new();
        let mut by_member: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
        for (child, g) in &direct {
            names.insert(g.group_id.clone(), g.display.clone());
            by_member
                .entry(child.as_str())
                .or_default()
                .push(g.group_id.as_str());
        }
        // Walk up from the direct groups that are themselves members (most are not, and
        // asking about the others would be a round trip that finds nothing); `seen` ends the
        // walk even if a cycle slipped in.
        let mut seen: BTreeSet<String> = direct.iter().map(|(_, g)| g.group_id.clone()).collect();
        let mut frontier: BTreeSet<String> = direct
            .iter()
            .filter(|(_, g)| g.nested)
            .map(|(_, g)| g.group_id.clone())
            .collect();
        while !frontier.is_empty() {
            let asked: Vec<String> = std::mem::take(&mut frontier).into_iter().collect();
            for (child, g) in self.parent_groups(&asked).await? {
                names.insert(g.group_id.clone(), g.display);
                parents.entry(child).or_default().push(g.group_id.clone());
                if seen.insert(g.group_id.clone()) && g.nested {
                    frontier.insert(g.group_id);
                }
            }
        }
        let mut out = Vec::new();
        for (member, groups) in by_member {
            let direct_set: BTreeSet<&str> = groups.iter().copied().collect();
            let mut all: BTreeSet<&str> = direct_set.clone();
            let mut stack: Vec<&str> = groups.clone();
            while let Some(g) = stack.pop() {
                for p in parents.get(g).map(Vec::as_slice).unwrap_or_default() {
                    if all.insert(p.as_str()) {
                        stack.push(p.as_str());
                    }
                }
            }
            let mut rows: Vec<GroupRow> = all
                .into_iter()
                .map(|g| GroupRow {
                    member_id: member.to_owned(),
                    group_id: g.to_owned(),
                    display: names.get(g).cloned().unwrap_or_default(),
                    direct: direct_set.contains(g),
                })
                .collect();
            rows.sort_by(|a, b| (&a.display, &a.group_id).cmp(&(&b.display, &b.group_id)));
            out.extend(rows);
        }
        Ok(out)
    }

    /// (member, group) for every group directly containing one of `ids`.
    async fn parent_groups(&self, ids: &[String]) -> StoreResult<Vec<(String, DirectGroup)>> {
        let mut out = Vec::new();
        for chunk in ids.chunks(CHUNK) {
            let sql = format!(
                "SELECT m.member_id, m.group_id, r.name, \
                 CAST(EXISTS (SELECT 1 FROM members p WHERE p.member_id = m.group_id \
                 LIMIT 1 OFFSET 0) AS INTEGER) AS nested \
                 FROM members m \
                 JOIN resources r ON r.id = m.group_id WHERE m.member_id IN ({})",
                placeholders(1, chunk.len())
            );
            let mut conn = self.conn().await?;
            let mut q = sqlx::query(&sql);
            for id in chunk {
                q = q.bind(id);
            }
            let rows = q
                .fetch_all(&mut *conn)
                .await
                .map_err(StoreError::from_sqlx)?;
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

/// Makes the membership exactly `members`, computing the difference in the database: rows not
/// in the list are deleted, missing ones inserted, the rest left alone.
async fn set_members(
    tx: &mut Transaction<'_, Any>,
    d: Dialect,
    realm_id: &str,
    group_id: &str,
    members: &[String],
) -> StoreResult<()> {
    if members.is_empty() {
        sqlx::query("DELETE FROM members WHERE group_id = $1")
            .bind(group_id)
            .execute(&mut **tx)
            .await
            .map_err(StoreError::from_sqlx)?;
        return Ok(());
    }
    // The list goes in as one JSON array parameter, however long it is.
    let list = match d {
        Dialect::Postgres => "SELECT jsonb_array_elements_text(CAST($2 AS jsonb))",
        Dialect::Sqlite => "SELECT value FROM json_each($2)",
    };
    let ids = serde_json::to_string(members).unwrap_or_else(|_| "[]".into());
    sqlx::query(&format!(
        "DELETE FROM members WHERE group_id = $1 AND member_id NOT IN ({list})"
    ))
    .bind(group_id)
    .bind(&ids)
    .execute(&mut **tx)
    .await
    .map_err(StoreError::from_sqlx)?;
    add_members(tx, realm_id, group_id, members).await
}

async fn apply_member_change(
    tx: &mut Transaction<'_, Any>,
    d: Dialect,
    realm_id: &str,
    group_id: &str,
    change: &MemberChange,
) -> StoreResult<()> {
    if change.clear {
        // A replace: the new list is `add`, computed against the current rows.
        return set_members(tx, d, realm_id, group_id, &change.add).await;
    }
    if !change.must_be_users.is_empty() {
        let found = kinds_of(tx, realm_id, &change.must_be_users).await?;
        let users: Vec<&str> = found
            .iter()
            .filter(|(_, kind)| kind == "User")
            .map(|(id, _)| id.as_str())
            .collect();
        let bad: Vec<String> = change
            .must_be_users
            .iter()
            .filter(|id| !users.contains(&id.as_str()))
            .cloned()
            .collect();
        if !bad.is_empty() {
            return Err(StoreError::UnknownMembers(bad));
        }
    }
    for chunk in change.remove.chunks(CHUNK) {
        let sql = format!(
            "DELETE FROM members WHERE group_id = $1 AND member_id IN ({})",
            placeholders(2, chunk.len())
        );
        let mut q = sqlx::query(&sql).bind(group_id);
        for id in chunk {
            q = q.bind(id);
        }
        q.execute(&mut **tx).await.map_err(StoreError::from_sqlx)?;
    }
    if !change.add.is_empty() {
        add_members(tx, realm_id, group_id, &change.add).await?;
    }
    Ok(())
}

/// (id, kind) of those of `ids` that are resources of the realm.
async fn kinds_of(
    tx: &mut Transaction<'_, Any>,
    realm_id: &str,
    ids: &[String],
) -> StoreResult<Vec<(String, String)>> {
    let mut found: Vec<(String, String)> = Vec::with_capacity(ids.len());
    for chunk in ids.chunks(CHUNK) {
        let sql = format!(
            "SELECT id, kind FROM resources WHERE realm_id = $1 AND id IN ({})",
            placeholders(2, chunk.len())
        );
        let mut q = sqlx::query(&sql).bind(realm_id);
        for id in chunk {
            q = q.bind(id);
        }
        for row in q
            .fetch_all(&mut **tx)
            .await
            .map_err(StoreError::from_sqlx)?
        {
            found.push((get(&row, "id")?, get(&row, "kind")?));
        }
    }
    Ok(found)
}

/// Adds members after checking they exist in the realm and that no group would contain itself.
async fn add_members(
    tx: &mut Transaction<'_, Any>,
    realm_id: &str,
    group_id: &str,
    members: &[String],
) -> StoreResult<()> {
    let found = kinds_of(tx, realm_id, members).await?;
    let missing: Vec<String> = members
        .iter()
        .filter(|m| !found.iter().any(|(id, _)| id == *m))
        .cloned()
        .collect();
    if !missing.is_empty() {
        return Err(StoreError::UnknownMembers(missing));
    }
    for (id, kind) in &found {
        if kind != "Group" {
            continue;
        }
        if id == group_id {
            return Err(StoreError::MembershipCycle(id.clone()));
        }
        // Adding group `id` under `group_id` closes a loop if `group_id` is already below `id`.
        let cycle = sqlx::query(
            "WITH RECURSIVE down(id) AS ( \
               SELECT member_id FROM members WHERE group_id = $1 \
               UNION SELECT m.member_id FROM members m JOIN down ON m.group_id = down.id \
             ) SELECT 1 FROM down WHERE id = $2",
        )
        .bind(id)
        .bind(group_id)
        .fetch_optional(&mut **tx)
        .await
        .map_err(StoreError::from_sqlx)?;
        if cycle.is_some() {
            return Err(StoreError::MembershipCycle(id.clone()));
        }
    }
    for chunk in members.chunks(CHUNK) {
        let values: Vec<String> = (0..chunk.len())
            .map(|i| format!("($1, ${})", i + 2))
            .collect();
        let sql = format!(
            "INSERT INTO members (group_id, member_id) VALUES {} ON CONFLICT DO NOTHING",
            values.join(", ")
        );
        let mut q = sqlx::query(&sql).bind(group_id);
        for id in chunk {
            q = q.bind(id);
        }
        q.execute(&mut **tx).await.map_err(StoreError::from_sqlx)?;
    }
    Ok(())
}
