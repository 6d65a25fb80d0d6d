//! A realm's HTTP Basic credentials.

use sqlx::postgres::PgRow;

use super::{
    get, get_id, get_instant, get_opt_instant, instant, own_uid, room_in_realm, uid, PgStore,
};
use crate::store::sql::parse_scopes;
use crate::store::{BasicCredential, BasicCredentials, PasswordKind, StoreError, StoreResult};

const COLS: &str = "realm_id, id, username, password_hash, hash_kind, scopes, description, \
    created_at, created_by, expires_at, last_used_at";

fn from_row(row: &PgRow) -> StoreResult<BasicCredential> {
    let kind: String = get(row, "hash_kind")?;
    Ok(BasicCredential {
        id: get_id(row, "id")?,
        realm_id: get_id(row, "realm_id")?,
        username: get(row, "username")?,
        password_hash: get(row, "password_hash")?,
        kind: PasswordKind::parse(&kind)
            .ok_or_else(|| StoreError::Corrupt(format!("unknown password hash kind '{kind}'")))?,
        scopes: parse_scopes(&get::<String>(row, "scopes")?),
        description: get(row, "description")?,
        created_at: get_instant(row, "created_at")?,
        created_by: get(row, "created_by")?,
        expires_at: get_opt_instant(row, "expires_at")?,
        last_used_at: get_opt_instant(row, "last_used_at")?,
    })
}

#[async_trait::async_trait]
impl BasicCredentials for PgStore {
    async fn insert_basic(&self, c: &BasicCredential, max: usize) -> StoreResult<()> {
        let realm = own_uid(&c.realm_id)?;
        let expires = c.expires_at.as_deref().map(instant).transpose()?;
        let mut conn = self.conn().await?;
        let mut tx = conn.begin().await?;
        if let Err(e) = room_in_realm(&mut tx, "basic_credentials", realm, max).await {
            tx.rollback().await?;
            conn.finish();
            return Err(e);
        }
        sqlx::query(
            "INSERT INTO basic_credentials (realm_id, id, username, password_hash, hash_kind, \
             scopes, description, created_at, created_by, expires_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
        )
        .bind(realm)
        .bind(own_uid(&c.id)?)
        .bind(&c.username)
        .bind(&c.password_hash)
        .bind(c.kind.as_str())
        .bind(c.scopes.join(" "))
        .bind(&c.description)
        .bind(instant(&c.created_at)?)
        .bind(&c.created_by)
        .bind(expires)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        conn.finish();
        Ok(())
    }

    async fn list_basic(&self, realm_id: &str) -> StoreResult<Vec<BasicCredential>> {
        let mut conn = self.conn().await?;
        let rows = sqlx::query(&format!(
            "SELECT {COLS} FROM basic_credentials WHERE realm_id = $1 ORDER BY id"
        ))
        .bind(own_uid(realm_id)?)
        .fetch_all(&mut *conn)
        .await?;
        conn.finish();
        rows.iter().map(from_row).collect()
    }

    async fn get_basic(&self, realm_id: &str, id: &str) -> StoreResult<Option<BasicCredential>> {
        let Some(id) = uid(id) else {
            return Ok(None);
        };
        let mut conn = self.conn().await?;
        let row = sqlx::query(&format!(
            "SELECT {COLS} FROM basic_credentials WHERE realm_id = $1 AND id = $2"
        ))
        .bind(own_uid(realm_id)?)
        .bind(id)
        .fetch_optional(&mut *conn)
        .await?;
        conn.finish();
        row.as_ref().map(from_row).transpose()
    }

    async fn delete_basic(&self, realm_id: &str, id: &str) -> StoreResult<bool> {
        let Some(id) = uid(id) else {
            return Ok(false);
        };
        let mut conn = self.conn().await?;
        let done = sqlx::query("DELETE FROM basic_credentials WHERE realm_id = $1 AND id = $2")
            .bind(own_uid(realm_id)?)
            .bind(id)
            .execute(&mut *conn)
            .await?;
        conn.finish();
        Ok(done.rows_affected() > 0)
    }

    async fn find_basic(
        &self,
        realm_id: &str,
        username: &str,
    ) -> StoreResult<Option<BasicCredential>> {
        let mut conn = self.conn().await?;
        let row = sqlx::query(&format!(
            "SELECT {COLS} FROM basic_credentials WHERE realm_id = $1 AND username = $2"
        ))
        .bind(own_uid(realm_id)?)
        .bind(username)
        .fetch_optional(&mut *conn)
        .await?;
        conn.finish();
        row.as_ref().map(from_row).transpose()
    }

    async fn record_basic_use(&self, uses: &[(String, String, String)]) -> StoreResult<()> {
        self.record_uses("basic_credentials", uses).await
    }
}
