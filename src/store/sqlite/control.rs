//! The control plane's records: tenants and realms by page, their descriptions and deletion,
//! token rotation, admin tokens and the audit record.

use sqlx::sqlite::SqliteRow;
use sqlx::SqliteConnection;

use super::tenancy::{realm_from_row, tenant_from_row, REALM_COLS, TENANT_COLS};
use super::tokens::{insert_token, token_from_row};
use super::{get, SqliteStore};
use crate::store::sql::{methods_text, parse_scopes, TOKEN_COLS};
use crate::store::{
    AdminToken, AuditEvent, Changes, Control, Deletion, NewToken, Page, Realm, StoreError,
    StoreResult, Tenant, TokenInfo,
};

const ADMIN_COLS: &str = "id, tenant, name, description, token_hash, scopes, created_at, \
    created_by, expires_at, revoked_at, last_used_at";

const AUDIT_COLS: &str = "id, tenant, at, actor, action, target, address, detail";

fn admin_from_row(row: &SqliteRow) -> StoreResult<AdminToken> {
    Ok(AdminToken {
        id: get(row, "id")?,
        tenant: get(row, "tenant")?,
        name: get(row, "name")?,
        description: get(row, "description")?,
        token_hash: get(row, "token_hash")?,
        scopes: parse_scopes(&get::<String>(row, "scopes")?),
        created_at: get(row, "created_at")?,
        created_by: get(row, "created_by")?,
        expires_at: get(row, "expires_at")?,
        revoked_at: get(row, "revoked_at")?,
        last_used_at: get(row, "last_used_at")?,
    })
}

fn audit_from_row(row: &SqliteRow) -> StoreResult<AuditEvent> {
    let detail: String = get(row, "detail")?;
    Ok(AuditEvent {
        id: get(row, "id")?,
        tenant: get(row, "tenant")?,
        at: get(row, "at")?,
        actor: get(row, "actor")?,
        action: get(row, "action")?,
        target: get(row, "target")?,
        address: get(row, "address")?,
        detail: serde_json::from_str(&detail)
            .map_err(|e| StoreError::Corrupt(format!("audit event detail: {e}")))?,
    })
}

/// `AND cond` when its value is given, else a test of the (NULL) parameter that is always
/// true: SQLite plans a statement without looking at its values, so `$n IS NULL OR cond`
/// would keep it from seeking an index. The parameter appears either way, so the numbers of
/// the others stay put.
fn and_if(given: bool, cond: &str, param: &str) -> String {
    if given {
        format!("AND {cond}")
    } else {
        format!("AND {param} IS NULL")
    }
}

/// The condition on `tenant` ($1): None is the global records.
fn tenant_is(tenant: Option<&str>) -> &'static str {
    match tenant {
        Some(_) => "tenant = $1",
        None => "tenant IS NULL AND $1 IS NULL",
    }
}

/// A page's cursor over uuid ids in their stored (lowercase) form; `Err` when it names no
/// id, which starts nowhere: an empty page, as on Postgres.
fn id_cursor(page: &Page) -> Result<Option<String>, ()> {
    match page.after.as_deref() {
        None => Ok(None),
        Some(a) => uuid::Uuid::parse_str(a)
            .map(|u| Some(u.to_string()))
            .map_err(|_| ()),
    }
}

/// (users, groups) from rows of (kind, n).
fn tally(rows: &[SqliteRow]) -> StoreResult<(u64, u64)> {
    let (mut users, mut groups) = (0, 0);
    for row in rows {
        let n = get::<i64>(row, "n")?.max(0) as u64;
        match get::<String>(row, "kind")?.as_str() {
            "User" => users = n,
            _ => groups = n,
        }
    }
    Ok((users, groups))
}

/// Deletes a tenant or a realm after the holds check, in one transaction. `claim_sql` is a
/// write that changes nothing, so SQLite takes its write lock before the count (nothing can
/// be created in it meanwhile) and says whether the row exists; `realms_where` selects its
/// realms (`r`), and `delete_sql` removes it. All three take `args` as $1, $2. The foreign
/// keys cascade to realms, resources, members, tokens and admin tokens.
async fn delete_holding(
    store: &SqliteStore,
    claim_sql: &str,
    realms_where: &str,
    delete_sql: &str,
    args: &[&str],
    force: bool,
) -> StoreResult<Deletion> {
    let mut conn = store.conn().await?;
    let mut tx = conn.begin().await?;
    let claimed = bind_each(sqlx::query(claim_sql), args)
        .execute(&mut *tx)
        .await?;
    if claimed.rows_affected() == 0 {
        tx.rollback().await?;
        conn.finish();
        return Ok(Deletion::NotFound);
    }
    // The resources themselves, not resource_counts: this decides whether data is lost.
    let count_sql = format!(
        "SELECT kind, count(*) AS n FROM resources \
         WHERE realm_id IN (SELECT r.id FROM realms r WHERE {realms_where}) GROUP BY kind"
    );
    let rows = bind_each(sqlx::query(&count_sql), args)
        .fetch_all(&mut *tx)
        .await?;
    let (users, groups) = tally(&rows)?;
    if (users > 0 || groups > 0) && !force {
        tx.rollback().await?;
        conn.finish();
        return Ok(Deletion::Holds { users, groups });
    }
    bind_each(sqlx::query(delete_sql), args)
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    conn.finish();
    Ok(Deletion::Deleted)
}

type Query<'q> = sqlx::query::Query<'q, sqlx::Sqlite, sqlx::sqlite::SqliteArguments<'q>>;

fn bind_each<'q>(mut q: Query<'q>, args: &[&'q str]) -> Query<'q> {
    for a in args {
        q = q.bind(*a);
    }
    q
}

/// Whether the token `id` was already rotated (Some(true)), is live (Some(false)), or is
/// revoked or unknown (None).
async fn token_replaced(
    conn: &mut SqliteConnection,
    realm_id: &str,
    id: &str,
) -> StoreResult<Option<bool>> {
    let row: Option<(Option<String>,)> = sqlx::query_as(
        "SELECT replaced_by FROM tokens WHERE realm_id = $1 AND id = $2 AND client_id IS NULL AND revoked_at IS NULL",
    )
    .bind(realm_id)
    .bind(id)
    .fetch_optional(conn)
    .await?;
    Ok(row.map(|(replaced_by,)| replaced_by.is_some()))
}

#[async_trait::async_trait]
impl Control for SqliteStore {
    async fn get_tenant(&self, name: &str) -> StoreResult<Option<Tenant>> {
        let mut conn = self.conn().await?;
        let row = sqlx::query(&format!(
            "SELECT {TENANT_COLS} FROM tenants WHERE name = $1"
        ))
        .bind(name)
        .fetch_optional(&mut *conn)
        .await?;
        conn.finish();
        row.as_ref().map(tenant_from_row).transpose()
    }

    async fn page_tenants(&self, page: &Page, only: Option<&str>) -> StoreResult<Vec<Tenant>> {
        let sql = format!(
            "SELECT {TENANT_COLS} FROM tenants WHERE 1 = 1 {} {} {} ORDER BY name LIMIT $4",
            and_if(page.after.is_some(), "name > $1", "$1"),
            and_if(page.name.is_some(), "name = $2", "$2"),
            and_if(only.is_some(), "name = $3", "$3"),
        );
        let mut conn = self.conn().await?;
        let rows = sqlx::query(&sql)
            .bind(page.after.as_deref())
            .bind(page.name.as_deref())
            .bind(only)
            .bind(i64::from(page.limit))
            .fetch_all(&mut *conn)
            .await?;
        conn.finish();
        rows.iter().map(tenant_from_row).collect()
    }

    async fn insert_tenant(&self, t: &Tenant) -> StoreResult<()> {
        let mut conn = self.conn().await?;
        sqlx::query(
            "INSERT INTO tenants (name, display_name, description, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(&t.name)
        .bind(&t.display_name)
        .bind(&t.description)
        .bind(&t.created_at)
        .bind(&t.updated_at)
        .execute(&mut *conn)
        .await?;
        conn.finish();
        Ok(())
    }

    async fn update_tenant(&self, name: &str, c: &Changes, now: &str) -> StoreResult<Tenant> {
        let mut conn = self.conn().await?;
        let row = sqlx::query(&format!(
            "UPDATE tenants SET display_name = coalesce($2, display_name), \
             description = coalesce($3, description), updated_at = $4 WHERE name = $1 \
             RETURNING {TENANT_COLS}"
        ))
        .bind(name)
        .bind(c.display_name.as_deref())
        .bind(c.description.as_deref())
        .bind(now)
        .fetch_optional(&mut *conn)
        .await?;
        conn.finish();
        row.as_ref()
            .map(tenant_from_row)
            .transpose()?
            .ok_or(StoreError::NotFound)
    }

    async fn delete_tenant(&self, name: &str, force: bool) -> StoreResult<Deletion> {
        delete_holding(
            self,
            "UPDATE tenants SET updated_at = updated_at WHERE name = $1",
            "r.tenant = $1",
            "DELETE FROM tenants WHERE name = $1",
            &[name],
            force,
        )
        .await
    }

    async fn page_realms(&self, tenant: &str, page: &Page) -> StoreResult<Vec<Realm>> {
        let sql = format!(
            "SELECT {REALM_COLS} FROM realms WHERE tenant = $1 {} {} ORDER BY name LIMIT $4",
            and_if(page.after.is_some(), "name > $2", "$2"),
            and_if(page.name.is_some(), "name = $3", "$3"),
        );
        let mut conn = self.conn().await?;
        let rows = sqlx::query(&sql)
            .bind(tenant)
            .bind(page.after.as_deref())
            .bind(page.name.as_deref())
            .bind(i64::from(page.limit))
            .fetch_all(&mut *conn)
            .await?;
        conn.finish();
        rows.iter().map(realm_from_row).collect()
    }

    async fn insert_realm(&self, r: &Realm) -> StoreResult<()> {
        // The tenant's existence is checked by the insert itself: no row, no realm.
        let mut conn = self.conn().await?;
        let done = sqlx::query(
            "INSERT INTO realms (id, tenant, name, state, display_name, description, \
             created_at, updated_at, auth_methods, event_retention_days, event_retention_count) \
             SELECT $1, name, $3, $4, $5, $6, $7, $8, $9, $10, $11 FROM tenants WHERE name = $2",
        )
        .bind(&r.id)
        .bind(&r.tenant)
        .bind(&r.name)
        .bind(r.state.as_str())
        .bind(&r.display_name)
        .bind(&r.description)
        .bind(&r.created_at)
        .bind(&r.updated_at)
        .bind(methods_text(&r.auth_methods))
        .bind(r.retention.days.map(i64::from))
        .bind(r.retention.count.map(|c| c as i64))
        .execute(&mut *conn)
        .await?;
        conn.finish();
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound);
        }
        Ok(())
    }

    async fn update_realm(
        &self,
        tenant: &str,
        name: &str,
        c: &Changes,
        now: &str,
    ) -> StoreResult<Realm> {
        let mut conn = self.conn().await?;
        let row = sqlx::query(&format!(
            "UPDATE realms SET display_name = coalesce($3, display_name), \
             description = coalesce($4, description), state = coalesce($5, state), \
             auth_methods = coalesce($7, auth_methods), \
             event_retention_days = CASE WHEN $8 THEN $9 ELSE event_retention_days END, \
             event_retention_count = CASE WHEN $10 THEN $11 ELSE event_retention_count END, \
             updated_at = $6 WHERE tenant = $1 AND name = $2 RETURNING {REALM_COLS}"
        ))
        .bind(tenant)
        .bind(name)
        .bind(c.display_name.as_deref())
        .bind(c.description.as_deref())
        .bind(c.state.map(|s| s.as_str()))
        .bind(now)
        .bind(c.auth_methods.as_deref().map(methods_text))
        .bind(c.retention_days.is_some())
        .bind(c.retention_days.flatten().map(i64::from))
        .bind(c.retention_count.is_some())
        .bind(c.retention_count.flatten().map(|n| n as i64))
        .fetch_optional(&mut *conn)
        .await?;
        conn.finish();
        row.as_ref()
            .map(realm_from_row)
            .transpose()?
            .ok_or(StoreError::NotFound)
    }

    async fn delete_realm(&self, tenant: &str, name: &str, force: bool) -> StoreResult<Deletion> {
        delete_holding(
            self,
            "UPDATE realms SET updated_at = updated_at WHERE tenant = $1 AND name = $2",
            "r.tenant = $1 AND r.name = $2",
            "DELETE FROM realms WHERE tenant = $1 AND name = $2",
            &[tenant, name],
            force,
        )
        .await
    }

    async fn realm_counts(&self, realm_id: &str) -> StoreResult<(u64, u64)> {
        // The counts the triggers keep, as for totalResults: no scan of a large realm.
        let mut conn = self.conn().await?;
        let rows = sqlx::query(
            "SELECT kind, sum(n) AS n FROM resource_counts WHERE realm_id = $1 GROUP BY kind",
        )
        .bind(realm_id)
        .fetch_all(&mut *conn)
        .await?;
        conn.finish();
        tally(&rows)
    }

    async fn get_token(&self, realm_id: &str, id: &str) -> StoreResult<Option<TokenInfo>> {
        let mut conn = self.conn().await?;
        let row = sqlx::query(&format!(
            "SELECT {TOKEN_COLS} FROM tokens t WHERE t.realm_id = $1 AND t.id = $2 AND t.client_id IS NULL"
        ))
        .bind(realm_id)
        .bind(id)
        .fetch_optional(&mut *conn)
        .await?;
        conn.finish();
        row.as_ref().map(token_from_row).transpose()
    }

    async fn page_tokens(&self, realm_id: &str, page: &Page) -> StoreResult<Vec<TokenInfo>> {
        let Ok(after) = id_cursor(page) else {
            return Ok(Vec::new());
        };
        let sql = format!(
            "SELECT {TOKEN_COLS} FROM tokens t WHERE t.realm_id = $1 AND t.client_id IS NULL AND t.revoked_at IS NULL \
             {} {} ORDER BY t.id LIMIT $4",
            and_if(after.is_some(), "t.id > $2", "$2"),
            and_if(page.name.is_some(), "t.name = $3", "$3"),
        );
        let mut conn = self.conn().await?;
        let rows = sqlx::query(&sql)
            .bind(realm_id)
            .bind(after)
            .bind(page.name.as_deref())
            .bind(i64::from(page.limit))
            .fetch_all(&mut *conn)
            .await?;
        conn.finish();
        rows.iter().map(token_from_row).collect()
    }

    async fn update_token(&self, realm_id: &str, id: &str, c: &Changes) -> StoreResult<TokenInfo> {
        // RETURNING names no table alias, and token_from_row reads `t.` columns: the row is
        // read back in the same transaction, after the update has taken the write lock.
        let mut conn = self.conn().await?;
        let mut tx = conn.begin().await?;
        let done = sqlx::query(
            "UPDATE tokens SET name = coalesce($3, name), description = coalesce($4, description) \
             WHERE realm_id = $1 AND id = $2 AND client_id IS NULL AND revoked_at IS NULL",
        )
        .bind(realm_id)
        .bind(id)
        .bind(c.name.as_deref())
        .bind(c.description.as_deref())
        .execute(&mut *tx)
        .await?;
        if done.rows_affected() == 0 {
            tx.rollback().await?;
            conn.finish();
            return Err(StoreError::NotFound);
        }
        let row = sqlx::query(&format!(
            "SELECT {TOKEN_COLS} FROM tokens t WHERE t.realm_id = $1 AND t.id = $2 AND t.client_id IS NULL"
        ))
        .bind(realm_id)
        .bind(id)
        .fetch_one(&mut *tx)
        .await?;
        tx.commit().await?;
        conn.finish();
        token_from_row(&row)
    }

    async fn rotate_token(
        &self,
        realm_id: &str,
        old_id: &str,
        new: NewToken,
        old_expires_at: &str,
    ) -> StoreResult<TokenInfo> {
        let mut conn = self.conn().await?;
        let mut tx = conn.begin().await?;
        // The mark comes first: it takes the write lock, and only one rotation can make it.
        let marked = sqlx::query(
            "UPDATE tokens SET replaced_by = $3, expires_at = $4 WHERE realm_id = $1 \
             AND id = $2 AND client_id IS NULL AND revoked_at IS NULL AND replaced_by IS NULL",
        )
        .bind(realm_id)
        .bind(old_id)
        .bind(&new.id)
        .bind(old_expires_at)
        .execute(&mut *tx)
        .await?;
        if marked.rows_affected() == 0 {
            let replaced = token_replaced(&mut tx, realm_id, old_id).await?;
            tx.rollback().await?;
            conn.finish();
            return Err(match replaced {
                Some(_) => StoreError::Conflict,
                None => StoreError::NotFound,
            });
        }
        insert_token(&mut tx, &new, None).await?;
        tx.commit().await?;
        conn.finish();
        Ok(new.issued())
    }

    async fn insert_admin_token(&self, t: &AdminToken) -> StoreResult<()> {
        let mut conn = self.conn().await?;
        sqlx::query(&format!(
            "INSERT INTO admin_tokens ({ADMIN_COLS}) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)"
        ))
        .bind(&t.id)
        .bind(t.tenant.as_deref())
        .bind(&t.name)
        .bind(&t.description)
        .bind(&t.token_hash)
        .bind(t.scopes.join(" "))
        .bind(&t.created_at)
        .bind(&t.created_by)
        .bind(t.expires_at.as_deref())
        .bind(t.revoked_at.as_deref())
        .bind(t.last_used_at.as_deref())
        .execute(&mut *conn)
        .await?;
        conn.finish();
        Ok(())
    }

    async fn page_admin_tokens(
        &self,
        tenant: Option<&str>,
        page: &Page,
    ) -> StoreResult<Vec<AdminToken>> {
        let Ok(after) = id_cursor(page) else {
            return Ok(Vec::new());
        };
        let sql = format!(
            "SELECT {ADMIN_COLS} FROM admin_tokens WHERE {} AND revoked_at IS NULL {} {} \
             ORDER BY id LIMIT $4",
            tenant_is(tenant),
            and_if(after.is_some(), "id > $2", "$2"),
            and_if(page.name.is_some(), "name = $3", "$3"),
        );
        let mut conn = self.conn().await?;
        let rows = sqlx::query(&sql)
            .bind(tenant)
            .bind(after)
            .bind(page.name.as_deref())
            .bind(i64::from(page.limit))
            .fetch_all(&mut *conn)
            .await?;
        conn.finish();
        rows.iter().map(admin_from_row).collect()
    }

    async fn get_admin_token(&self, id: &str) -> StoreResult<Option<AdminToken>> {
        let mut conn = self.conn().await?;
        let row = sqlx::query(&format!(
            "SELECT {ADMIN_COLS} FROM admin_tokens WHERE id = $1"
        ))
        .bind(id)
        .fetch_optional(&mut *conn)
        .await?;
        conn.finish();
        row.as_ref().map(admin_from_row).transpose()
    }

    async fn find_admin_token(&self, token_hash: &str) -> StoreResult<Option<AdminToken>> {
        let mut conn = self.conn().await?;
        let row = sqlx::query(&format!(
            "SELECT {ADMIN_COLS} FROM admin_tokens WHERE token_hash = $1"
        ))
        .bind(token_hash)
        .fetch_optional(&mut *conn)
        .await?;
        conn.finish();
        row.as_ref().map(admin_from_row).transpose()
    }

    async fn revoke_admin_token(&self, id: &str, now: &str) -> StoreResult<bool> {
        let mut conn = self.conn().await?;
        let done = sqlx::query(
            "UPDATE admin_tokens SET revoked_at = $2 WHERE id = $1 AND revoked_at IS NULL",
        )
        .bind(id)
        .bind(now)
        .execute(&mut *conn)
        .await?;
        conn.finish();
        Ok(done.rows_affected() > 0)
    }

    async fn record_admin_token_use(&self, id: &str, at: &str) -> StoreResult<()> {
        // Fixed-width timestamps compare as text; a late, older use never moves it back.
        let mut conn = self.conn().await?;
        sqlx::query(
            "UPDATE admin_tokens SET last_used_at = $2 WHERE id = $1 \
             AND (last_used_at IS NULL OR last_used_at < $2)",
        )
        .bind(id)
        .bind(at)
        .execute(&mut *conn)
        .await?;
        conn.finish();
        Ok(())
    }

    async fn append_audit(&self, e: &AuditEvent) -> StoreResult<()> {
        let mut conn = self.conn().await?;
        sqlx::query(&format!(
            "INSERT INTO audit_events ({AUDIT_COLS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)"
        ))
        .bind(&e.id)
        .bind(e.tenant.as_deref())
        .bind(&e.at)
        .bind(&e.actor)
        .bind(&e.action)
        .bind(&e.target)
        .bind(e.address.as_deref())
        .bind(e.detail.to_string())
        .execute(&mut *conn)
        .await?;
        conn.finish();
        Ok(())
    }

    async fn page_audit(&self, tenant: Option<&str>, page: &Page) -> StoreResult<Vec<AuditEvent>> {
        // Newest first: uuid v7 ids in text order are in time order.
        let Ok(before) = id_cursor(page) else {
            return Ok(Vec::new());
        };
        let sql = format!(
            "SELECT {AUDIT_COLS} FROM audit_events WHERE {} {} ORDER BY id DESC LIMIT $3",
            tenant_is(tenant),
            and_if(before.is_some(), "id < $2", "$2"),
        );
        let mut conn = self.conn().await?;
        let rows = sqlx::query(&sql)
            .bind(tenant)
            .bind(before)
            .bind(i64::from(page.limit))
            .fetch_all(&mut *conn)
            .await?;
        conn.finish();
        rows.iter().map(audit_from_row).collect()
    }
}

#[cfg(test)]
mod tests {
    use serde_json::Map;

    use super::*;
    use crate::store::{Kind, NewResource, RealmState, Resources, Tenancy, Tokens};

    async fn store() -> SqliteStore {
        SqliteStore::connect("sqlite::memory:", 1).await.unwrap()
    }

    fn page(after: Option<&str>, limit: u32) -> Page {
        Page {
            after: after.map(str::to_owned),
            limit,
            name: None,
        }
    }

    fn token(realm_id: &str, name: &str) -> NewToken {
        let id = uuid::Uuid::now_v7().to_string();
        NewToken {
            token_hash: format!("hash-{id}"),
            id,
            realm_id: realm_id.to_owned(),
            name: name.to_owned(),
            scopes: vec!["scim:read".into()],
            description: "d".into(),
            created_by: "test".into(),
            created_at: crate::clock::now(),
            expires_at: None,
        }
    }

    async fn add_user(s: &SqliteStore, realm_id: &str, name: &str) {
        s.insert_resource(NewResource {
            id: uuid::Uuid::now_v7().to_string(),
            realm_id: realm_id.to_owned(),
            kind: Kind::User,
            name: name.to_owned(),
            external_id: None,
            data: Map::new(),
            password_hash: None,
            members: Vec::new(),
            now: crate::clock::now(),
            event: None,
        })
        .await
        .unwrap();
    }

    #[tokio::test]
    async fn tenants_page_update_and_conflict() {
        let s = store().await;
        for n in ["a", "b", "c"] {
            s.create_tenant(n).await.unwrap();
        }
        assert!(matches!(
            s.create_tenant("b").await,
            Err(StoreError::Conflict)
        ));
        let names = |v: Vec<Tenant>| v.into_iter().map(|t| t.name).collect::<Vec<_>>();
        assert_eq!(
            names(s.page_tenants(&page(Some("a"), 5), None).await.unwrap()),
            ["b", "c"]
        );
        assert_eq!(
            names(s.page_tenants(&page(None, 5), Some("c")).await.unwrap()),
            ["c"]
        );
        let changes = Changes {
            description: Some("new".into()),
            ..Changes::default()
        };
        let t = s
            .update_tenant("a", &changes, "2030-01-01T00:00:00.000Z")
            .await
            .unwrap();
        assert_eq!(
            (t.display_name.as_str(), t.description.as_str()),
            ("a", "new")
        );
        assert_eq!(t.updated_at, "2030-01-01T00:00:00.000Z");
        assert!(matches!(
            s.update_tenant("zz", &changes, "x").await,
            Err(StoreError::NotFound)
        ));
    }

    #[tokio::test]
    async fn deletion_holds_then_cascades() {
        let s = store().await;
        s.create_tenant("t").await.unwrap();
        let r = s.create_realm("t", "r").await.unwrap();
        assert!(matches!(
            s.create_realm("t", "r").await,
            Err(StoreError::Conflict)
        ));
        assert!(matches!(
            s.create_realm("u", "r").await,
            Err(StoreError::NotFound)
        ));
        add_user(&s, &r.id, "alice").await;
        s.create_token(token(&r.id, "k")).await.unwrap();
        assert_eq!(s.realm_counts(&r.id).await.unwrap(), (1, 0));
        let held = Deletion::Holds {
            users: 1,
            groups: 0,
        };
        assert_eq!(s.delete_tenant("t", false).await.unwrap(), held);
        assert_eq!(s.delete_realm("t", "r", false).await.unwrap(), held);
        assert_eq!(s.delete_tenant("t", true).await.unwrap(), Deletion::Deleted);
        assert_eq!(
            s.delete_tenant("t", true).await.unwrap(),
            Deletion::NotFound
        );
        let mut conn = s.conn().await.unwrap();
        for table in ["realms", "resources", "tokens", "resource_counts"] {
            let n: i64 = sqlx::query_scalar(&format!("SELECT count(*) FROM {table}"))
                .fetch_one(&mut *conn)
                .await
                .unwrap();
            assert_eq!(n, 0, "{table}");
        }
        conn.finish();
    }

    #[tokio::test]
    async fn realm_update_and_delete() {
        let s = store().await;
        s.create_tenant("t").await.unwrap();
        s.create_realm("t", "r").await.unwrap();
        let changes = Changes {
            display_name: Some("R".into()),
            state: Some(RealmState::Paused),
            ..Changes::default()
        };
        let r = s
            .update_realm("t", "r", &changes, "2030-01-01T00:00:00.000Z")
            .await
            .unwrap();
        assert_eq!(
            (r.display_name.as_str(), r.state),
            ("R", RealmState::Paused)
        );
        let found = s.page_realms("t", &page(None, 5)).await.unwrap();
        assert_eq!(found[0].updated_at, "2030-01-01T00:00:00.000Z");
        assert_eq!(
            s.delete_realm("t", "r", false).await.unwrap(),
            Deletion::Deleted
        );
        assert_eq!(
            s.delete_realm("t", "r", false).await.unwrap(),
            Deletion::NotFound
        );
    }

    #[tokio::test]
    async fn rotation_once_then_conflict() {
        let s = store().await;
        s.create_tenant("t").await.unwrap();
        let r = s.create_realm("t", "r").await.unwrap();
        let old = s.create_token(token(&r.id, "k")).await.unwrap();
        let later = "2031-01-01T00:00:00.000Z";
        let new = s
            .rotate_token(&r.id, &old.id, token(&r.id, "k"), later)
            .await
            .unwrap();
        let stored = s.get_token(&r.id, &old.id).await.unwrap().unwrap();
        assert_eq!(stored.replaced_by.as_deref(), Some(new.id.as_str()));
        assert_eq!(stored.expires_at.as_deref(), Some(later));
        let again = s
            .rotate_token(&r.id, &old.id, token(&r.id, "k"), later)
            .await;
        assert!(matches!(again, Err(StoreError::Conflict)));
        s.revoke_token(&r.id, &new.id).await.unwrap();
        let revoked = s
            .rotate_token(&r.id, &new.id, token(&r.id, "k"), later)
            .await;
        assert!(matches!(revoked, Err(StoreError::NotFound)));
        let live = s.page_tokens(&r.id, &page(None, 10)).await.unwrap();
        assert_eq!(live.iter().map(|t| &t.id).collect::<Vec<_>>(), [&old.id]);
        let renamed = Changes {
            name: Some("k2".into()),
            ..Changes::default()
        };
        let t = s.update_token(&r.id, &old.id, &renamed).await.unwrap();
        assert_eq!((t.name.as_str(), t.description.as_str()), ("k2", "d"));
        let gone = s.update_token(&r.id, &new.id, &renamed).await;
        assert!(matches!(gone, Err(StoreError::NotFound)));
    }

    fn admin(tenant: Option<&str>) -> AdminToken {
        let id = uuid::Uuid::now_v7().to_string();
        AdminToken {
            token_hash: format!("hash-{id}"),
            id,
            tenant: tenant.map(str::to_owned),
            name: "a".into(),
            description: String::new(),
            scopes: vec!["admin:read".into(), "admin:write".into()],
            created_at: crate::clock::now(),
            created_by: "test".into(),
            expires_at: None,
            revoked_at: None,
            last_used_at: None,
        }
    }

    #[tokio::test]
    async fn admin_tokens_by_tenant() {
        let s = store().await;
        s.create_tenant("t").await.unwrap();
        let (global, own) = (admin(None), admin(Some("t")));
        s.insert_admin_token(&global).await.unwrap();
        s.insert_admin_token(&own).await.unwrap();
        let ids = |v: Vec<AdminToken>| v.into_iter().map(|t| t.id).collect::<Vec<_>>();
        let p = page(None, 10);
        assert_eq!(
            ids(s.page_admin_tokens(None, &p).await.unwrap()),
            [global.id.as_str()]
        );
        assert_eq!(
            ids(s.page_admin_tokens(Some("t"), &p).await.unwrap()),
            [own.id.as_str()]
        );
        let found = s.find_admin_token(&own.token_hash).await.unwrap().unwrap();
        assert_eq!(found.scopes, own.scopes);
        s.record_admin_token_use(&own.id, "2030-01-02T00:00:00.000Z")
            .await
            .unwrap();
        s.record_admin_token_use(&own.id, "2030-01-01T00:00:00.000Z")
            .await
            .unwrap();
        let used = s
            .get_admin_token(&own.id)
            .await
            .unwrap()
            .unwrap()
            .last_used_at;
        assert_eq!(used.as_deref(), Some("2030-01-02T00:00:00.000Z"));
        assert!(s.revoke_admin_token(&own.id, "now").await.unwrap());
        assert!(!s.revoke_admin_token(&own.id, "now").await.unwrap());
        assert!(s.page_admin_tokens(Some("t"), &p).await.unwrap().is_empty());
        assert!(s.get_admin_token(&own.id).await.unwrap().is_some());
        s.delete_tenant("t", false).await.unwrap();
        assert!(s.get_admin_token(&own.id).await.unwrap().is_none());
    }

    #[tokio::test]
    async fn audit_newest_first() {
        let s = store().await;
        let mut ids = Vec::new();
        for n in 0..3 {
            let e = AuditEvent {
                id: uuid::Uuid::now_v7().to_string(),
                tenant: (n != 1).then(|| "t".to_owned()),
                at: crate::clock::now(),
                actor: "me".into(),
                action: "tenant.create".into(),
                target: "t".into(),
                address: None,
                detail: serde_json::json!({ "n": n }),
            };
            s.append_audit(&e).await.unwrap();
            ids.push(e.id);
        }
        let got = s.page_audit(Some("t"), &page(None, 10)).await.unwrap();
        assert_eq!(
            got.iter().map(|e| &e.id).collect::<Vec<_>>(),
            [&ids[2], &ids[0]]
        );
        assert_eq!(got[0].detail, serde_json::json!({ "n": 2 }));
        let older = s
            .page_audit(Some("t"), &page(Some(&ids[2]), 10))
            .await
            .unwrap();
        assert_eq!(older.len(), 1);
        let global = s.page_audit(None, &page(None, 10)).await.unwrap();
        assert_eq!(global.iter().map(|e| &e.id).collect::<Vec<_>>(), [&ids[1]]);
    }
}
