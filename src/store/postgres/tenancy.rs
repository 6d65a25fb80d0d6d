//! Tenants and realms.

use sqlx::postgres::PgRow;

use super::{get, get_id, get_instant, instant, PgStore};
use crate::store::sql::{parse_methods, parse_state};
use crate::store::{
    AuthMethod, NewToken, Realm, RealmState, Retention, StoreError, StoreResult, Tenancy, Tenant,
};

pub(super) const REALM_COLS: &str = "r.id, r.tenant, r.name, r.state, r.auth_methods, \
    r.event_retention_days, r.event_retention_count, r.display_name, r.description, r.created_at, r.updated_at";
pub(super) const TENANT_COLS: &str = "name, display_name, description, created_at, updated_at";

pub(super) fn tenant_from_row(row: &PgRow) -> StoreResult<Tenant> {
    Ok(Tenant {
        name: get(row, "name")?,
        display_name: get(row, "display_name")?,
        description: get(row, "description")?,
        created_at: get_instant(row, "created_at")?,
        updated_at: get_instant(row, "updated_at")?,
    })
}

pub(super) fn realm_from_row(row: &PgRow) -> StoreResult<Realm> {
    Ok(Realm {
        id: get_id(row, "id")?,
        tenant: get(row, "tenant")?,
        name: get(row, "name")?,
        state: parse_state(&get::<String>(row, "state")?)?,
        auth_methods: parse_methods(&get::<String>(row, "auth_methods")?)?,
        retention: Retention {
            days: get::<Option<i32>>(row, "event_retention_days")?.map(|d| d.max(1) as u32),
            count: get::<Option<i64>>(row, "event_retention_count")?.map(|c| c.max(1) as u64),
        },
        display_name: get(row, "display_name")?,
        description: get(row, "description")?,
        created_at: get_instant(row, "created_at")?,
        updated_at: get_instant(row, "updated_at")?,
    })
}

#[async_trait::async_trait]
impl Tenancy for PgStore {
    async fn create_tenant(&self, name: &str) -> StoreResult<Tenant> {
        let now = crate::clock::now();
        let mut conn = self.conn().await?;
        sqlx::query(
            "INSERT INTO tenants (name, display_name, created_at, updated_at) \
             VALUES ($1, $1, $2, $2)",
        )
        .bind(name)
        .bind(instant(&now)?)
        .execute(&mut *conn)
        .await?;
        conn.finish();
        Ok(Tenant {
            name: name.to_owned(),
            display_name: name.to_owned(),
            description: String::new(),
            created_at: now.clone(),
            updated_at: now,
        })
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
        let mut conn = self.conn().await?;
        let rows = sqlx::query(&format!(
            "SELECT {REALM_COLS} FROM realms r WHERE ($1::text IS NULL OR r.tenant = $1) \
             ORDER BY r.tenant, r.name"
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
            "SELECT {REALM_COLS} FROM realms r WHERE r.tenant = $1 AND r.name = $2"
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
            "UPDATE realms r SET state = $1 WHERE r.tenant = $2 AND r.name = $3 \
             RETURNING {REALM_COLS}"
        ))
        .bind(state.as_str())
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
        let now = instant(&crate::clock::now())?;
        let inserted = sqlx::query(
            "INSERT INTO tenants (name, display_name, created_at, updated_at) \
             SELECT $1, $1, $2, $2 WHERE NOT EXISTS (SELECT 1 FROM tenants)",
        )
        .bind(tenant)
        .bind(now)
        .execute(&mut *tx)
        .await?;
        if inserted.rows_affected() == 0 {
            tx.rollback().await?;
            conn.finish();
            return Ok(false);
        }
        let realm_id = uuid::Uuid::now_v7();
        sqlx::query(
            "INSERT INTO realms (id, tenant, name, state, display_name, created_at, updated_at) \
             VALUES ($1, $2, $3, 'enabled', $3, $4, $4)",
        )
        .bind(realm_id)
        .bind(tenant)
        .bind(realm)
        .bind(now)
        .execute(&mut *tx)
        .await?;
        token.realm_id = realm_id.to_string();
        super::tokens::insert_token(&mut tx, &token, None).await?;
        tx.commit().await?;
        conn.finish();
        Ok(true)
    }
}
