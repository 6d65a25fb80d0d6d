//! The control plane's records: tenants and realms by page, their descriptions and deletion,
//! token rotation, admin tokens and the audit record.

use serde_json::Value;
use sqlx::postgres::PgRow;
use sqlx::PgConnection;
use uuid::Uuid;

use super::tenancy::{realm_from_row, tenant_from_row, REALM_COLS, TENANT_COLS};
use super::tokens::{insert_token, token_from_row};
use super::{
    get, get_id, get_instant, get_opt_instant, id_cursor, instant, opt_instant, own_uid, uid,
    PgStore,
};
use crate::store::sql::{methods_text, parse_scopes, TOKEN_COLS};
use crate::store::{
    AdminToken, AuditEvent, Changes, Control, Deletion, NewToken, Page, Realm, StoreError,
    StoreResult, Tenant, TokenInfo,
};

const ADMIN_COLS: &str = "id, tenant, name, description, token_hash, scopes, created_at, \
    created_by, expires_at, revoked_at, last_used_at";

fn admin_from_row(row: &PgRow) -> StoreResult<AdminToken> {
    Ok(AdminToken {
        id: get_id(row, "id")?,
        tenant: get(row, "tenant")?,
        name: get(row, "name")?,
        description: get(row, "description")?,
        token_hash: get(row, "token_hash")?,
        scopes: parse_scopes(&get::<String>(row, "scopes")?),
        created_at: get_instant(row, "created_at")?,
        created_by: get(row, "created_by")?,
        expires_at: get_opt_instant(row, "expires_at")?,
        revoked_at: get_opt_instant(row, "revoked_at")?,
        last_used_at: get_opt_instant(row, "last_used_at")?,
    })
}

fn audit_from_row(row: &PgRow) -> StoreResult<AuditEvent> {
    Ok(AuditEvent {
        id: get_id(row, "id")?,
        tenant: get(row, "tenant")?,
        at: get_instant(row, "at")?,
        actor: get(row, "actor")?,
        action: get(row, "action")?,
        target: get(row, "target")?,
        address: get(row, "address")?,
        detail: get::<Value>(row, "detail")?,
    })
}

/// The condition on `tenant` ($1) as the (tenant, id) index can serve it: NULL is the
/// global records. ($1 is bound either way, so the parameter numbers stay put.)
fn tenant_is(tenant: Option<&str>) -> &'static str {
    match tenant {
        Some(_) => "tenant = $1",
        None => "tenant IS NULL AND $1::text IS NULL",
    }
}

/// (users, groups) in the realms the condition selects (`$1` bound by the caller).
async fn counts(conn: &mut PgConnection, realms_where: &str, arg: &str) -> StoreResult<(u64, u64)> {
    let rows = sqlx::query(&format!(
        "SELECT c.kind, sum(c.n)::bigint AS n FROM resource_counts c \
         WHERE c.realm_id IN (SELECT r.id FROM realms r WHERE {realms_where}) GROUP BY c.kind"
    ))
    .bind(arg)
    .fetch_all(conn)
    .await?;
    let (mut users, mut groups) = (0, 0);
    for row in rows {
        let n = get::<i64>(&row, "n")?.max(0) as u64;
        match get::<String>(&row, "kind")?.as_str() {
            "User" => users = n,
            _ => groups = n,
        }
    }
    Ok((users, groups))
}

/// Deletes what `delete_sql` names ($1 and, for a realm, $2) after the holds check, in one
/// transaction; the foreign keys cascade to realms, resources, members and tokens.
async fn delete_holding(
    store: &PgStore,
    lock_sql: &str,
    counts_where: &str,
    delete_sql: &str,
    args: (&str, Option<&str>),
    force: bool,
) -> StoreResult<Deletion> {
    let mut conn = store.conn().await?;
    let mut tx = conn.begin().await?;
    // Lock the row first, so a concurrent create in it waits for the outcome.
    let mut lock = sqlx::query(lock_sql).bind(args.0);
    if let Some(a) = args.1 {
        lock = lock.bind(a);
    }
    let Some(row) = lock.fetch_optional(&mut *tx).await? else {
        tx.rollback().await?;
        conn.finish();
        return Ok(Deletion::NotFound);
    };
    let key: String = match args.1 {
        Some(_) => get::<Uuid>(&row, "id")?.to_string(),
        None => args.0.to_owned(),
    };
    let (users, groups) = counts(&mut tx, counts_where, &key).await?;
    if (users > 0 || groups > 0) && !force {
        tx.rollback().await?;
        conn.finish();
        return Ok(Deletion::Holds { users, groups });
    }
    let mut del = sqlx::query(delete_sql).bind(args.0);
    if let Some(a) = args.1 {
        del = del.bind(a);
    }
    del.execute(&mut *tx).await?;
    tx.commit().await?;
    conn.finish();
    Ok(Deletion::Deleted)
}

#[async_trait::async_trait]
impl Control for PgStore {
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
        let mut conn = self.conn().await?;
        let rows = sqlx::query(&format!(
            "SELECT {TENANT_COLS} FROM tenants WHERE ($1::text IS NULL OR name > $1) \
             AND ($2::text IS NULL OR name = $2) AND ($3::text IS NULL OR name = $3) \
             ORDER BY name LIMIT $4"
        ))
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
        .bind(instant(&t.created_at)?)
        .bind(instant(&t.updated_at)?)
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
        .bind(instant(now)?)
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
            "SELECT name FROM tenants WHERE name = $1 FOR UPDATE",
            "r.tenant = $1",
            "DELETE FROM tenants WHERE name = $1",
            (name, None),
            force,
        )
        .await
    }

    async fn page_realms(&self, tenant: &str, page: &Page) -> StoreResult<Vec<Realm>> {
        let mut conn = self.conn().await?;
        let rows = sqlx::query(&format!(
            "SELECT {REALM_COLS} FROM realms r WHERE r.tenant = $1 \
             AND ($2::text IS NULL OR r.name > $2) AND ($3::text IS NULL OR r.name = $3) \
             ORDER BY r.name LIMIT $4"
        ))
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
        .bind(own_uid(&r.id)?)
        .bind(&r.tenant)
        .bind(&r.name)
        .bind(r.state.as_str())
        .bind(&r.display_name)
        .bind(&r.description)
        .bind(instant(&r.created_at)?)
        .bind(instant(&r.updated_at)?)
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
            "UPDATE realms r SET display_name = coalesce($3, display_name), \
             description = coalesce($4, description), state = coalesce($5, state), \
             auth_methods = coalesce($7, auth_methods), \
             event_retention_days = CASE WHEN $8 THEN $9 ELSE event_retention_days END, \
             event_retention_count = CASE WHEN $10 THEN $11 ELSE event_retention_count END, \
             updated_at = $6 WHERE r.tenant = $1 AND r.name = $2 RETURNING {REALM_COLS}"
        ))
        .bind(tenant)
        .bind(name)
        .bind(c.display_name.as_deref())
        .bind(c.description.as_deref())
        .bind(c.state.map(|s| s.as_str()))
        .bind(instant(now)?)
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
            "SELECT id FROM realms WHERE tenant = $1 AND name = $2 FOR UPDATE",
            "r.id = $1::uuid",
            "DELETE FROM realms WHERE tenant = $1 AND name = $2",
            (tenant, Some(name)),
            force,
        )
        .await
    }

    async fn realm_counts(&self, realm_id: &str) -> StoreResult<(u64, u64)> {
        let mut conn = self.conn().await?;
        let c = counts(&mut conn, "r.id = $1::uuid", realm_id).await?;
        conn.finish();
        Ok(c)
    }

    async fn get_token(&self, realm_id: &str, id: &str) -> StoreResult<Option<TokenInfo>> {
        let (Some(realm), Some(id)) = (uid(realm_id), uid(id)) else {
            return Ok(None);
        };
        let mut conn = self.conn().await?;
        let row = sqlx::query(&format!(
            "SELECT {TOKEN_COLS} FROM tokens t WHERE t.realm_id = $1 AND t.id = $2 AND t.client_id IS NULL"
        ))
        .bind(realm)
        .bind(id)
        .fetch_optional(&mut *conn)
        .await?;
        conn.finish();
        row.as_ref().map(token_from_row).transpose()
    }

    async fn page_tokens(&self, realm_id: &str, page: &Page) -> StoreResult<Vec<TokenInfo>> {
        let Some(realm) = uid(realm_id) else {
            return Ok(Vec::new());
        };
        let Ok(after) = id_cursor(page) else {
            return Ok(Vec::new());
        };
        let mut conn = self.conn().await?;
        let rows = sqlx::query(&format!(
            "SELECT {TOKEN_COLS} FROM tokens t WHERE t.realm_id = $1 AND t.client_id IS NULL AND t.revoked_at IS NULL \
             AND ($2::uuid IS NULL OR t.id > $2) AND ($3::text IS NULL OR t.name = $3) \
             ORDER BY t.id LIMIT $4"
        ))
        .bind(realm)
        .bind(after)
        .bind(page.name.as_deref())
        .bind(i64::from(page.limit))
        .fetch_all(&mut *conn)
        .await?;
        conn.finish();
        rows.iter().map(token_from_row).collect()
    }

    async fn update_token(&self, realm_id: &str, id: &str, c: &Changes) -> StoreResult<TokenInfo> {
        let (Some(realm), Some(id)) = (uid(realm_id), uid(id)) else {
            return Err(StoreError::NotFound);
        };
        let mut conn = self.conn().await?;
        let row = sqlx::query(&format!(
            "UPDATE tokens t SET name = coalesce($3, name), \
             description = coalesce($4, description) \
             WHERE t.realm_id = $1 AND t.id = $2 AND t.client_id IS NULL AND t.revoked_at IS NULL RETURNING {TOKEN_COLS}"
        ))
        .bind(realm)
        .bind(id)
        .bind(c.name.as_deref())
        .bind(c.description.as_deref())
        .fetch_optional(&mut *conn)
        .await?;
        conn.finish();
        row.as_ref()
            .map(token_from_row)
            .transpose()?
            .ok_or(StoreError::NotFound)
    }

    async fn rotate_token(
        &self,
        realm_id: &str,
        old_id: &str,
        new: NewToken,
        old_expires_at: &str,
    ) -> StoreResult<TokenInfo> {
        let (Some(realm), Some(old)) = (uid(realm_id), uid(old_id)) else {
            return Err(StoreError::NotFound);
        };
        let mut conn = self.conn().await?;
        let mut tx = conn.begin().await?;
        let marked = sqlx::query(
            "UPDATE tokens SET replaced_by = $3, expires_at = $4 WHERE realm_id = $1 \
             AND id = $2 AND client_id IS NULL AND revoked_at IS NULL AND replaced_by IS NULL",
        )
        .bind(realm)
        .bind(old)
        .bind(own_uid(&new.id)?)
        .bind(instant(old_expires_at)?)
        .execute(&mut *tx)
        .await?;
        if marked.rows_affected() == 0 {
            let live: Option<(Option<Uuid>,)> = sqlx::query_as(
                "SELECT replaced_by FROM tokens WHERE realm_id = $1 AND id = $2 \
                 AND revoked_at IS NULL",
            )
            .bind(realm)
            .bind(old)
            .fetch_optional(&mut *tx)
            .await?;
            tx.rollback().await?;
            conn.finish();
            return Err(match live {
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
        .bind(own_uid(&t.id)?)
        .bind(t.tenant.as_deref())
        .bind(&t.name)
        .bind(&t.description)
        .bind(&t.token_hash)
        .bind(t.scopes.join(" "))
        .bind(instant(&t.created_at)?)
        .bind(&t.created_by)
        .bind(opt_instant(t.expires_at.as_deref())?)
        .bind(opt_instant(t.revoked_at.as_deref())?)
        .bind(opt_instant(t.last_used_at.as_deref())?)
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
        let after = match page.after.as_deref() {
            Some(a) => match uid(a) {
                Some(u) => Some(u),
                None => return Ok(Vec::new()),
            },
            None => None,
        };
        let mut conn = self.conn().await?;
        let rows = sqlx::query(&format!(
            "SELECT {ADMIN_COLS} FROM admin_tokens WHERE {} \
             AND revoked_at IS NULL AND ($2::uuid IS NULL OR id > $2) \
             AND ($3::text IS NULL OR name = $3) ORDER BY id LIMIT $4",
            tenant_is(tenant)
        ))
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
        let Some(id) = uid(id) else {
            return Ok(None);
        };
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
        let Some(id) = uid(id) else {
            return Ok(false);
        };
        let mut conn = self.conn().await?;
        let done = sqlx::query(
            "UPDATE admin_tokens SET revoked_at = $2 WHERE id = $1 AND revoked_at IS NULL",
        )
        .bind(id)
        .bind(instant(now)?)
        .execute(&mut *conn)
        .await?;
        conn.finish();
        Ok(done.rows_affected() > 0)
    }

    async fn record_admin_token_use(&self, id: &str, at: &str) -> StoreResult<()> {
        let Some(id) = uid(id) else {
            return Ok(());
        };
        let mut conn = self.conn().await?;
        sqlx::query(
            "UPDATE admin_tokens SET last_used_at = $2 WHERE id = $1 \
             AND (last_used_at IS NULL OR last_used_at < $2)",
        )
        .bind(id)
        .bind(instant(at)?)
        .execute(&mut *conn)
        .await?;
        conn.finish();
        Ok(())
    }

    async fn append_audit(&self, e: &AuditEvent) -> StoreResult<()> {
        let mut conn = self.conn().await?;
        sqlx::query(
            "INSERT INTO audit_events (id, tenant, at, actor, action, target, address, detail) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        )
        .bind(own_uid(&e.id)?)
        .bind(e.tenant.as_deref())
        .bind(instant(&e.at)?)
        .bind(&e.actor)
        .bind(&e.action)
        .bind(&e.target)
        .bind(e.address.as_deref())
        .bind(&e.detail)
        .execute(&mut *conn)
        .await?;
        conn.finish();
        Ok(())
    }

    async fn page_audit(&self, tenant: Option<&str>, page: &Page) -> StoreResult<Vec<AuditEvent>> {
        let before = match page.after.as_deref() {
            Some(a) => match uid(a) {
                Some(u) => Some(u),
                None => return Ok(Vec::new()),
            },
            None => None,
        };
        let mut conn = self.conn().await?;
        let rows = sqlx::query(&format!(
            "SELECT id, tenant, at, actor, action, target, address, detail FROM audit_events \
             WHERE {} AND ($2::uuid IS NULL OR id < $2) ORDER BY id DESC LIMIT $3",
            tenant_is(tenant)
        ))
        .bind(tenant)
        .bind(before)
        .bind(i64::from(page.limit))
        .fetch_all(&mut *conn)
        .await?;
        conn.finish();
        rows.iter().map(audit_from_row).collect()
    }
}
