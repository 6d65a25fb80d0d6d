//! Tenants and realms.

use sqlx::sqlite::SqliteRow;

use super::{get, SqliteStore};
use crate::store::sql::parse_state;
use crate::store::{NewToken, Realm, RealmState, StoreError, StoreResult, Tenancy, Tenant};

pub(super) fn realm_from_row(row: &SqliteRow) -> StoreResult<Realm> {
    let state: String = get(row, "state")?;
    Ok(Realm {
        id: get(row, "id")?,
        tenant: get(row, "tenant")?,
        name: get(row, "name")?,
        state: parse_state(&state)?,
        created_at: get(row, "created_at")?,
    })
}

#[async_trait::async_trait]
impl Tenancy for SqliteStore {
    async fn create_tenant(&self, name: &str) -> StoreResult<Tenant> {
        let now = crate::clock::now();
        let mut conn = self.conn().await?;
        sqlx::query("INSERT INTO tenants (name, created_at) VALUES ($1, $2)")
            .bind(name)
            .bind(&now)
            .execute(&mut *conn)
            .await?;
        conn.finish();
        Ok(Tenant {
            name: name.to_owned(),
            created_at: now,
        })
    }

    async fn list_tenants(&self) -> StoreResult<Vec<Tenant>> {
        let mut conn = self.conn().await?;
        let rows = sqlx::query("SELECT name, created_at FROM tenants ORDER BY name")
            .fetch_all(&mut *conn)
            .await?;
        conn.finish();
        rows.iter()
            .map(|r| {
                Ok(Tenant {
                    name: get(r, "name")?,
                    created_at: get(r, "created_at")?,
                })
            })
            .collect()
    }

    async fn create_realm(&self, tenant: &str, name: &str) -> StoreResult<Realm> {
        let mut conn = self.conn().await?;
        let exists = sqlx::query("SELECT 1 FROM tenants WHERE name = $1")
            .bind(tenant)
            .fetch_optional(&mut *conn)
            .await?;
        conn.finish();
        if exists.is_none() {
            return Err(StoreError::NotFound);
        }
        let realm = Realm {
            id: uuid::Uuid::now_v7().to_string(),
            tenant: tenant.to_owned(),
            name: name.to_owned(),
            state: RealmState::Enabled,
            created_at: crate::clock::now(),
        };
        let mut conn = self.conn().await?;
        sqlx::query(
            "INSERT INTO realms (id, tenant, name, state, created_at) VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(&realm.id)
        .bind(&realm.tenant)
        .bind(&realm.name)
        .bind(realm.state.as_str())
        .bind(&realm.created_at)
        .execute(&mut *conn)
        .await?;
        conn.finish();
        Ok(realm)
    }

    async fn list_realms(&self, tenant: Option<&str>) -> StoreResult<Vec<Realm>> {
        let mut conn = self.conn().await?;
        let rows =
            match tenant {
                Some(t) => {
                    sqlx::query(
                        "SELECT id, tenant, name, state, created_at FROM realms WHERE tenant = $1 \
                     ORDER BY tenant, name",
                    )
                    .bind(t)
                    .fetch_all(&mut *conn)
                    .await
                }
                None => sqlx::query(
                    "SELECT id, tenant, name, state, created_at FROM realms ORDER BY tenant, name",
                )
                .fetch_all(&mut *conn)
                .await,
            }?;
        conn.finish();
        rows.iter().map(realm_from_row).collect()
    }

    async fn find_realm(&self, tenant: &str, name: &str) -> StoreResult<Option<Realm>> {
        let mut conn = self.conn().await?;
        let row = sqlx::query(
            "SELECT id, tenant, name, state, created_at FROM realms WHERE tenant = $1 AND name = $2",
        )
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
        let done = sqlx::query("UPDATE realms SET state = $1 WHERE tenant = $2 AND name = $3")
            .bind(state.as_str())
            .bind(tenant)
            .bind(name)
            .execute(&mut *conn)
            .await?;
        conn.finish();
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound);
        }
        self.find_realm(tenant, name)
            .await?
            .ok_or(StoreError::NotFound)
    }

    async fn bootstrap(&self, tenant: &str, realm: &str, mut token: NewToken) -> StoreResult<bool> {
        let mut conn = self.conn().await?;
        let mut tx = conn.begin().await?;
        let now = crate::clock::now();
        // The insert comes first so SQLite takes its write lock before the emptiness check.
        let inserted = sqlx::query(
            "INSERT INTO tenants (name, created_at) SELECT $1, $2 \
             WHERE NOT EXISTS (SELECT 1 FROM tenants)",
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
            "INSERT INTO realms (id, tenant, name, state, created_at) \
             VALUES ($1, $2, $3, 'enabled', $4)",
        )
        .bind(&realm_id)
        .bind(tenant)
        .bind(realm)
        .bind(&now)
        .execute(&mut *tx)
        .await?;
        token.realm_id = realm_id;
        super::tokens::insert_token(&mut tx, &token).await?;
        tx.commit().await?;
        conn.finish();
        Ok(true)
    }
}
