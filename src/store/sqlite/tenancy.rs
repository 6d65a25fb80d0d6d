//! Tenants and realms.

use sqlx::sqlite::SqliteRow;

use super::{get, SqliteStore};
use crate::store::sql::{parse_methods, parse_state};
use crate::store::{
    AuthMethod, NewToken, Realm, RealmState, Retention, StoreError, StoreResult, Tenancy, Tenant,
};

pub(super) const TENANT_COLS: &str = "name, display_name, description, created_at, updated_at";
/// Unqualified: SQLite's UPDATE ... RETURNING names no table alias.
pub(super) const REALM_COLS: &str =
    "id, tenant, name, state, auth_methods, event_retention_days, event_retention_count, \
     display_name, description, created_at, updated_at";
/// The same, qualified, for reads that join realms (`r`) to another table.
pub(super) const JOINED_REALM_COLS: &str = "r.id, r.tenant, r.name, r.state, r.auth_methods, \
    r.event_retention_days, r.event_retention_count, r.display_name, r.description, r.created_at, r.updated_at";

/// `updated_at`, or `created_at` for a row written without it (the column admits NULL: SQLite
/// cannot add a NOT NULL column without a default).
fn updated_at(row: &SqliteRow, created_at: &str) -> StoreResult<String> {
    let updated: Option<String> = get(row, "updated_at")?;
    Ok(updated.unwrap_or_else(|| created_at.to_owned()))
}

pub(super) fn tenant_from_row(row: &SqliteRow) -> StoreResult<Tenant> {
    let created_at: String = get(row, "created_at")?;
    Ok(Tenant {
        name: get(row, "name")?,
        display_name: get(row, "display_name")?,
        description: get(row, "description")?,
        updated_at: updated_at(row, &created_at)?,
        created_at,
    })
}

pub(super) fn realm_from_row(row: &SqliteRow) -> StoreResult<Realm> {
    let state: String = get(row, "state")?;
    let created_at: String = get(row, "created_at")?;
    Ok(Realm {
        id: get(row, "id")?,
        tenant: get(row, "tenant")?,
        name: get(row, "name")?,
        state: parse_state(&state)?,
        auth_methods: parse_methods(&get::<String>(row, "auth_methods")?)?,
        retention: Retention {
            days: get::<Option<i64>>(row, "event_retention_days")?.map(|d| d.max(1) as u32),
            count: get::<Option<i64>>(row, "event_retention_count")?.map(|c| c.max(1) as u64),
        },
        display_name: get(row, "display_name")?,
        description: get(row, "description")?,
        updated_at: updated_at(row, &created_at)?,
        created_at,
    })
}

#[async_trait::async_trait]
impl Tenancy for SqliteStore {
    async fn create_tenant(&self, name: &str) -> StoreResult<Tenant> {
        let now = crate::clock::now();
        // A tenant made without a description is displayed by its name.
        let tenant = Tenant {
            name: name.to_owned(),
            display_name: name.to_owned(),
            description: String::new(),
            created_at: now.clone(),
            updated_at: now,
        };
        crate::store::Control::insert_tenant(self, &tenant).await?;
        Ok(tenant)
    }

    async fn list_tenants(&self) -> StoreResult<Vec<Tenant>> {
        let mut conn = self.conn().await?;
        let rows = sqlx::query(&format!("SELECT {TENANT_COLS} FROM tenants ORDER BY name"))
            .fetch_all(&mut *conn)
            .await?;
        conn.finish();
        rows.iter().map(tenant_from_row).collect()
    }

    async fn create_realm(&self, tenant: &str, name: &str) -> StoreResult<Realm> {
        let now = crate::clock::now();
        let realm = Realm {
            id: uuid::Uuid::now_v7().to_string(),
            tenant: tenant.to_owned(),
            name: name.to_owned(),
            state: RealmState::Enabled,
            auth_methods: AuthMethod::ALL.to_vec(),
            retention: Retention::default(),
            display_name: name.to_owned(),
            description: String::new(),
            created_at: now.clone(),
            updated_at: now,
        };
        crate::store::Control::insert_realm(self, &realm).await?;
        Ok(realm)
    }

    async fn list_realms(&self, tenant: Option<&str>) -> StoreResult<Vec<Realm>> {
        // SQLite plans a statement without looking at its values: `$1 IS NULL OR ...` would
        // lose the (tenant, name) index.
        let filter = if tenant.is_some() {
            "tenant = $1"
        } else {
            "$1 IS NULL"
        };
        let mut conn = self.conn().await?;
        let rows = sqlx::query(&format!(
            "SELECT {REALM_COLS} FROM realms WHERE {filter} ORDER BY tenant, name"
        ))
        .bind(tenant)
        .fetch_all(&mut *conn)
        .await?;
        conn.finish();
        rows.iter().map(realm_from_row).collect()
    }

    async fn find_realm(&self, tenant: &str, name: &str) -> StoreResult<Option<Realm>> {
        let mut conn = self.conn().await?;
        let row = sqlx::query(&format!(
            "SELECT {REALM_COLS} FROM realms WHERE tenant = $1 AND name = $2"
        ))
        .bind(tenant)
        .bind(name)
        .fetch_optional(&mut *conn)
        .await?;
        conn.finish();
        row.as_ref().map(realm_from_row).transpose()
    }

    async fn set_realm_state(
        &self,
        tenant: &str,
        name: &str,
        state: RealmState,
    ) -> StoreResult<Realm> {
        let mut conn = self.conn().await?;
        let row = sqlx::query(&format!(
            "UPDATE realms SET state = $1, updated_at = $2 WHERE tenant = $3 AND name = $4 \
             RETURNING {REALM_COLS}"
        ))
        .bind(state.as_str())
        .bind(crate::clock::now())
        .bind(tenant)
        .bind(name)
        .fetch_optional(&mut *conn)
        .await?;
        conn.finish();
        row.as_ref()
            .map(realm_from_row)
            .transpose()?
            .ok_or(StoreError::NotFound)
    }

    async fn bootstrap(&self, tenant: &str, realm: &str, mut token: NewToken) -> StoreResult<bool> {
        let mut conn = self.conn().await?;
        let mut tx = conn.begin().await?;
        let now = crate::clock::now();
        // The insert comes first so SQLite takes its write lock before the emptiness check.
        let inserted = sqlx::query(
            "INSERT INTO tenants (name, display_name, created_at, updated_at) \
             SELECT $1, $1, $2, $2 WHERE NOT EXISTS (SELECT 1 FROM tenants)",
        )
        .bind(tenant)
        .bind(&now)
        .execute(&mut *tx)
        .await?;
        if inserted.rows_affected() == 0 {
            tx.rollback().await?;
            return Ok(false);
        }
        let realm_id = uuid::Uuid::now_v7().to_string();
        sqlx::query(
            "INSERT INTO realms (id, tenant, name, state, display_name, created_at, updated_at) \
             VALUES ($1, $2, $3, 'enabled', $3, $4, $4)",
        )
        .bind(&realm_id)
        .bind(tenant)
        .bind(realm)
        .bind(&now)
        .execute(&mut *tx)
        .await?;
        token.realm_id = realm_id;
        super::tokens::insert_token(&mut tx, &token, None).await?;
        tx.commit().await?;
        conn.finish();
        Ok(true)
    }
}
