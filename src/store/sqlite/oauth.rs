//! OAuth clients, their secrets, and the access tokens issued to them.

use sqlx::sqlite::SqliteRow;
use sqlx::SqliteConnection;

use super::{get, SqliteStore};
use crate::store::sql::parse_scopes;
use crate::store::{
    ClientChanges, ClientSecret, IssuedWith, NewToken, OAuthClient, OAuthClients, Page, StoreError,
    StoreResult,
};

pub(super) const CLIENT_COLS: &str = "c.realm_id AS c_realm_id, c.id AS c_id, c.name AS c_name, \
    c.description AS c_description, c.scopes AS c_scopes, c.enabled AS c_enabled, \
    c.token_lifetime AS c_token_lifetime, c.created_at AS c_created_at, \
    c.created_by AS c_created_by, c.updated_at AS c_updated_at";

const SECRET_COLS: &str = "s.realm_id AS s_realm_id, s.client_id AS s_client_id, s.id AS s_id, \
    s.secret_hash AS s_hash, s.description AS s_description, s.created_at AS s_created_at, \
    s.created_by AS s_created_by, s.expires_at AS s_expires_at, s.revoked_at AS s_revoked_at, \
    s.last_used_at AS s_last_used_at";

pub(super) fn client_from_row(row: &SqliteRow) -> StoreResult<OAuthClient> {
    Ok(OAuthClient {
        id: get(row, "c_id")?,
        realm_id: get(row, "c_realm_id")?,
        name: get(row, "c_name")?,
        description: get(row, "c_description")?,
        scopes: parse_scopes(&get::<String>(row, "c_scopes")?),
        enabled: get::<i64>(row, "c_enabled")? != 0,
        token_lifetime: get(row, "c_token_lifetime")?,
        created_at: get(row, "c_created_at")?,
        created_by: get(row, "c_created_by")?,
        updated_at: get(row, "c_updated_at")?,
    })
}

fn secret_from_row(row: &SqliteRow) -> StoreResult<ClientSecret> {
    Ok(ClientSecret {
        id: get(row, "s_id")?,
        realm_id: get(row, "s_realm_id")?,
        client_id: get(row, "s_client_id")?,
        secret_hash: get(row, "s_hash")?,
        description: get(row, "s_description")?,
        created_at: get(row, "s_created_at")?,
        created_by: get(row, "s_created_by")?,
        expires_at: get(row, "s_expires_at")?,
        revoked_at: get(row, "s_revoked_at")?,
        last_used_at: get(row, "s_last_used_at")?,
    })
}

async fn insert_secret(conn: &mut SqliteConnection, s: &ClientSecret) -> StoreResult<()> {
    sqlx::query(
        "INSERT INTO oauth_client_secrets (realm_id, client_id, id, secret_hash, description, \
         created_at, created_by, expires_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
    )
    .bind(&s.realm_id)
    .bind(&s.client_id)
    .bind(&s.id)
    .bind(&s.secret_hash)
    .bind(&s.description)
    .bind(&s.created_at)
    .bind(&s.created_by)
    .bind(&s.expires_at)
    .execute(conn)
    .await?;
    Ok(())
}

async fn read_client(
    conn: &mut SqliteConnection,
    realm_id: &str,
    id: &str,
) -> StoreResult<Option<OAuthClient>> {
    let row = sqlx::query(&format!(
        "SELECT {CLIENT_COLS} FROM oauth_clients c WHERE c.realm_id = $1 AND c.id = $2"
    ))
    .bind(realm_id)
    .bind(id)
    .fetch_optional(conn)
    .await?;
    row.as_ref().map(client_from_row).transpose()
}

#[async_trait::async_trait]
impl OAuthClients for SqliteStore {
    async fn insert_client(
        &self,
        c: &OAuthClient,
        first: Option<&ClientSecret>,
    ) -> StoreResult<()> {
        let mut conn = self.conn().await?;
        let mut tx = conn.begin().await?;
        sqlx::query(
            "INSERT INTO oauth_clients (realm_id, id, name, description, scopes, enabled, \
             token_lifetime, created_at, created_by, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
        )
        .bind(&c.realm_id)
        .bind(&c.id)
        .bind(&c.name)
        .bind(&c.description)
        .bind(c.scopes.join(" "))
        .bind(i64::from(c.enabled))
        .bind(c.token_lifetime)
        .bind(&c.created_at)
        .bind(&c.created_by)
        .bind(&c.updated_at)
        .execute(&mut *tx)
        .await?;
        if let Some(s) = first {
            insert_secret(&mut tx, s).await?;
        }
        tx.commit().await?;
        conn.finish();
        Ok(())
    }

    async fn get_client(&self, realm_id: &str, id: &str) -> StoreResult<Option<OAuthClient>> {
        let mut conn = self.conn().await?;
        let c = read_client(&mut conn, realm_id, id).await?;
        conn.finish();
        Ok(c)
    }

    async fn page_clients(&self, realm_id: &str, page: &Page) -> StoreResult<Vec<OAuthClient>> {
        let mut conn = self.conn().await?;
        let rows = sqlx::query(&format!(
            "SELECT {CLIENT_COLS} FROM oauth_clients c WHERE c.realm_id = $1 \
             AND ($2 IS NULL OR c.id > $2) AND ($3 IS NULL OR c.name = $3) \
             ORDER BY c.id LIMIT $4"
        ))
        .bind(realm_id)
        .bind(page.after.as_deref())
        .bind(page.name.as_deref())
        .bind(i64::from(page.limit))
        .fetch_all(&mut *conn)
        .await?;
        conn.finish();
        rows.iter().map(client_from_row).collect()
    }

    async fn update_client(
        &self,
        realm_id: &str,
        id: &str,
        ch: &ClientChanges,
        now: &str,
    ) -> StoreResult<OAuthClient> {
        let mut conn = self.conn().await?;
        let mut tx = conn.begin().await?;
        let done = sqlx::query(
            "UPDATE oauth_clients SET name = coalesce($3, name), \
             description = coalesce($4, description), scopes = coalesce($5, scopes), \
             enabled = coalesce($6, enabled), token_lifetime = coalesce($7, token_lifetime), \
             updated_at = $8 WHERE realm_id = $1 AND id = $2",
        )
        .bind(realm_id)
        .bind(id)
        .bind(ch.name.as_deref())
        .bind(ch.description.as_deref())
        .bind(ch.scopes.as_ref().map(|s| s.join(" ")))
        .bind(ch.enabled.map(i64::from))
        .bind(ch.token_lifetime)
        .bind(now)
        .execute(&mut *tx)
        .await?;
        if done.rows_affected() == 0 {
            tx.rollback().await?;
            conn.finish();
            return Err(StoreError::NotFound);
        }
        if ch.narrows() {
            sqlx::query(
                "UPDATE tokens SET revoked_at = $3 \
                 WHERE realm_id = $1 AND client_id = $2 AND revoked_at IS NULL",
            )
            .bind(realm_id)
            .bind(id)
            .bind(now)
            .execute(&mut *tx)
            .await?;
        }
        let c = read_client(&mut tx, realm_id, id)
            .await?
            .ok_or(StoreError::NotFound)?;
        tx.commit().await?;
        conn.finish();
        Ok(c)
    }

    async fn delete_client(&self, realm_id: &str, id: &str) -> StoreResult<bool> {
        let mut conn = self.conn().await?;
        let mut tx = conn.begin().await?;
        // The client first: it takes the write lock. Its secrets go by foreign key; its
        // access tokens have none (see the migration), so they go by name.
        let done = sqlx::query("DELETE FROM oauth_clients WHERE realm_id = $1 AND id = $2")
            .bind(realm_id)
            .bind(id)
            .execute(&mut *tx)
            .await?;
        sqlx::query("DELETE FROM tokens WHERE realm_id = $1 AND client_id = $2")
            .bind(realm_id)
            .bind(id)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        conn.finish();
        Ok(done.rows_affected() > 0)
    }

    async fn insert_client_secret(
        &self,
        s: &ClientSecret,
        max_live: usize,
        now: &str,
    ) -> StoreResult<()> {
        let mut conn = self.conn().await?;
        let mut tx = conn.begin().await?;
        // A write that changes nothing takes the lock first, so two requests cannot both
        // count four live secrets and add a fifth and a sixth.
        let claimed = sqlx::query(
            "UPDATE oauth_clients SET updated_at = updated_at WHERE realm_id = $1 AND id = $2",
        )
        .bind(&s.realm_id)
        .bind(&s.client_id)
        .execute(&mut *tx)
        .await?;
        if claimed.rows_affected() == 0 {
            tx.rollback().await?;
            conn.finish();
            return Err(StoreError::NotFound);
        }
        let live: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM oauth_client_secrets WHERE realm_id = $1 AND client_id = $2 \
             AND revoked_at IS NULL AND (expires_at IS NULL OR expires_at > $3)",
        )
        .bind(&s.realm_id)
        .bind(&s.client_id)
        .bind(now)
        .fetch_one(&mut *tx)
        .await?;
        if live as usize >= max_live {
            tx.rollback().await?;
            conn.finish();
            return Err(StoreError::Conflict);
        }
        insert_secret(&mut tx, s).await?;
        tx.commit().await?;
        conn.finish();
        Ok(())
    }

    async fn list_client_secrets(
        &self,
        realm_id: &str,
        client_id: &str,
    ) -> StoreResult<Vec<ClientSecret>> {
        let mut conn = self.conn().await?;
        let rows = sqlx::query(&format!(
            "SELECT {SECRET_COLS} FROM oauth_client_secrets s \
             WHERE s.realm_id = $1 AND s.client_id = $2 ORDER BY s.id"
        ))
        .bind(realm_id)
        .bind(client_id)
        .fetch_all(&mut *conn)
        .await?;
        conn.finish();
        rows.iter().map(secret_from_row).collect()
    }

    async fn revoke_client_secret(
        &self,
        realm_id: &str,
        client_id: &str,
        id: &str,
        now: &str,
    ) -> StoreResult<bool> {
        let mut conn = self.conn().await?;
        let done = sqlx::query(
            "UPDATE oauth_client_secrets SET revoked_at = $4 \
             WHERE realm_id = $1 AND client_id = $2 AND id = $3 AND revoked_at IS NULL",
        )
        .bind(realm_id)
        .bind(client_id)
        .bind(id)
        .bind(now)
        .execute(&mut *conn)
        .await?;
        conn.finish();
        Ok(done.rows_affected() > 0)
    }

    async fn find_client_secret(
        &self,
        realm_id: &str,
        client_id: &str,
        secret_hash: &str,
    ) -> StoreResult<Option<(OAuthClient, ClientSecret)>> {
        let mut conn = self.conn().await?;
        let row = sqlx::query(&format!(
            "SELECT {CLIENT_COLS}, {SECRET_COLS} FROM oauth_client_secrets s \
             JOIN oauth_clients c ON c.realm_id = s.realm_id AND c.id = s.client_id \
             WHERE s.realm_id = $1 AND s.secret_hash = $3 AND s.client_id = $2"
        ))
        .bind(realm_id)
        .bind(client_id)
        .bind(secret_hash)
        .fetch_optional(&mut *conn)
        .await?;
        conn.finish();
        match row {
            Some(r) => Ok(Some((client_from_row(&r)?, secret_from_row(&r)?))),
            None => Ok(None),
        }
    }

    async fn issue_access_token(
        &self,
        t: &NewToken,
        client_id: &str,
        with: &IssuedWith,
    ) -> StoreResult<()> {
        let mut conn = self.conn().await?;
        let mut tx = conn.begin().await?;
        let (table, used) = last_use(with);
        sqlx::query(&format!(
            "UPDATE {table} SET last_used_at = $4 \
             WHERE realm_id = $1 AND client_id = $2 AND id = $3"
        ))
        .bind(&t.realm_id)
        .bind(client_id)
        .bind(used)
        .bind(&t.created_at)
        .execute(&mut *tx)
        .await?;
        sqlx::query(
            "DELETE FROM tokens WHERE realm_id = $1 AND client_id = $2 AND expires_at < $3",
        )
        .bind(&t.realm_id)
        .bind(client_id)
        .bind(&t.created_at)
        .execute(&mut *tx)
        .await?;
        super::tokens::insert_token(&mut tx, t, Some(client_id)).await?;
        tx.commit().await?;
        conn.finish();
        Ok(())
    }
}

/// The table and id of the credential whose last use an issued token records.
fn last_use(with: &IssuedWith) -> (&'static str, &str) {
    match with {
        IssuedWith::Secret(id) => ("oauth_client_secrets", id),
        IssuedWith::Federated(id) => ("oauth_federated_credentials", id),
    }
}
