//! OAuth clients, their secrets, and the access tokens issued to them.

use sqlx::postgres::PgRow;
use sqlx::PgConnection;
use uuid::Uuid;

use super::{
    get, get_id, get_instant, get_opt_instant, id_cursor, instant, opt_instant, own_uid, uid,
    PgStore,
};
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

pub(super) fn client_from_row(row: &PgRow) -> StoreResult<OAuthClient> {
    Ok(OAuthClient {
        id: get_id(row, "c_id")?,
        realm_id: get_id(row, "c_realm_id")?,
        name: get(row, "c_name")?,
        description: get(row, "c_description")?,
        scopes: parse_scopes(&get::<String>(row, "c_scopes")?),
        enabled: get(row, "c_enabled")?,
        token_lifetime: i64::from(get::<i32>(row, "c_token_lifetime")?),
        created_at: get_instant(row, "c_created_at")?,
        created_by: get(row, "c_created_by")?,
        updated_at: get_instant(row, "c_updated_at")?,
    })
}

fn secret_from_row(row: &PgRow) -> StoreResult<ClientSecret> {
    Ok(ClientSecret {
        id: get_id(row, "s_id")?,
        realm_id: get_id(row, "s_realm_id")?,
        client_id: get_id(row, "s_client_id")?,
        secret_hash: get(row, "s_hash")?,
        description: get(row, "s_description")?,
        created_at: get_instant(row, "s_created_at")?,
        created_by: get(row, "s_created_by")?,
        expires_at: get_opt_instant(row, "s_expires_at")?,
        revoked_at: get_opt_instant(row, "s_revoked_at")?,
        last_used_at: get_opt_instant(row, "s_last_used_at")?,
    })
}

async fn insert_secret(conn: &mut PgConnection, s: &ClientSecret) -> StoreResult<()> {
    sqlx::query(
        "INSERT INTO oauth_client_secrets (realm_id, client_id, id, secret_hash, description, \
         created_at, created_by, expires_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
    )
    .bind(own_uid(&s.realm_id)?)
    .bind(own_uid(&s.client_id)?)
    .bind(own_uid(&s.id)?)
    .bind(&s.secret_hash)
    .bind(&s.description)
    .bind(instant(&s.created_at)?)
    .bind(&s.created_by)
    .bind(opt_instant(s.expires_at.as_deref())?)
    .execute(conn)
    .await?;
    Ok(())
}

async fn read_client(
    conn: &mut PgConnection,
    realm_id: &str,
    id: &str,
) -> StoreResult<Option<OAuthClient>> {
    let (Some(realm_id), Some(id)) = (uid(realm_id), uid(id)) else {
        return Ok(None);
    };
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
impl OAuthClients for PgStore {
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
        .bind(own_uid(&c.realm_id)?)
        .bind(own_uid(&c.id)?)
        .bind(&c.name)
        .bind(&c.description)
        .bind(c.scopes.join(" "))
        .bind(c.enabled)
        .bind(lifetime(c.token_lifetime)?)
        .bind(instant(&c.created_at)?)
        .bind(&c.created_by)
        .bind(instant(&c.updated_at)?)
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
        let Some(realm) = uid(realm_id) else {
            return Ok(Vec::new());
        };
        let Ok(after) = id_cursor(page) else {
            return Ok(Vec::new());
        };
        let mut conn = self.conn().await?;
        let rows = sqlx::query(&format!(
            "SELECT {CLIENT_COLS} FROM oauth_clients c WHERE c.realm_id = $1 \
             AND ($2::uuid IS NULL OR c.id > $2) AND ($3::text IS NULL OR c.name = $3) \
             ORDER BY c.id LIMIT $4"
        ))
        .bind(realm)
        .bind(after)
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
        let (Some(realm), Some(id)) = (uid(realm_id), uid(id)) else {
            return Err(StoreError::NotFound);
        };
        let now = instant(now)?;
        let mut conn = self.conn().await?;
        let mut tx = conn.begin().await?;
        let row = sqlx::query(&format!(
            "UPDATE oauth_clients c SET name = coalesce($3, name), \
             description = coalesce($4, description), scopes = coalesce($5, scopes), \
             enabled = coalesce($6, enabled), token_lifetime = coalesce($7, token_lifetime), \
             updated_at = $8 WHERE c.realm_id = $1 AND c.id = $2 RETURNING {CLIENT_COLS}"
        ))
        .bind(realm)
        .bind(id)
        .bind(ch.name.as_deref())
        .bind(ch.description.as_deref())
        .bind(ch.scopes.as_ref().map(|s| s.join(" ")))
        .bind(ch.enabled)
        .bind(ch.token_lifetime.map(lifetime).transpose()?)
        .bind(now)
        .fetch_optional(&mut *tx)
        .await?;
        let Some(row) = row else {
            tx.rollback().await?;
            conn.finish();
            return Err(StoreError::NotFound);
        };
        if ch.narrows() {
            // The tokens triggers tell every server to forget what it cached of them.
            sqlx::query(
                "UPDATE tokens SET revoked_at = $3 \
                 WHERE realm_id = $1 AND client_id = $2 AND revoked_at IS NULL",
            )
            .bind(realm)
            .bind(id)
            .bind(now)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        conn.finish();
        client_from_row(&row)
    }

    async fn delete_client(&self, realm_id: &str, id: &str) -> StoreResult<bool> {
        let (Some(realm), Some(id)) = (uid(realm_id), uid(id)) else {
            return Ok(false);
        };
        // Secrets and access tokens go with it by foreign key.
        let mut conn = self.conn().await?;
        let done = sqlx::query("DELETE FROM oauth_clients WHERE realm_id = $1 AND id = $2")
            .bind(realm)
            .bind(id)
            .execute(&mut *conn)
            .await?;
        conn.finish();
        Ok(done.rows_affected() > 0)
    }

    async fn insert_client_secret(
        &self,
        s: &ClientSecret,
        max_live: usize,
        now: &str,
    ) -> StoreResult<()> {
        let realm = own_uid(&s.realm_id)?;
        let Some(client) = uid(&s.client_id) else {
            return Err(StoreError::NotFound);
        };
        let mut conn = self.conn().await?;
        let mut tx = conn.begin().await?;
        // The client's row is locked first, so two requests cannot both count four live
        // secrets and add a fifth and a sixth.
        let locked: Option<(Uuid,)> = sqlx::query_as(
            "SELECT id FROM oauth_clients WHERE realm_id = $1 AND id = $2 FOR UPDATE",
        )
        .bind(realm)
        .bind(client)
        .fetch_optional(&mut *tx)
        .await?;
        if locked.is_none() {
            tx.rollback().await?;
            conn.finish();
            return Err(StoreError::NotFound);
        }
        let live: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM oauth_client_secrets WHERE realm_id = $1 AND client_id = $2 \
             AND revoked_at IS NULL AND (expires_at IS NULL OR expires_at > $3)",
        )
        .bind(realm)
        .bind(client)
        .bind(instant(now)?)
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
        let (Some(realm), Some(client)) = (uid(realm_id), uid(client_id)) else {
            return Ok(Vec::new());
        };
        let mut conn = self.conn().await?;
        let rows = sqlx::query(&format!(
            "SELECT {SECRET_COLS} FROM oauth_client_secrets s \
             WHERE s.realm_id = $1 AND s.client_id = $2 ORDER BY s.id"
        ))
        .bind(realm)
        .bind(client)
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
        let (Some(realm), Some(client), Some(id)) = (uid(realm_id), uid(client_id), uid(id)) else {
            return Ok(false);
        };
        let mut conn = self.conn().await?;
        let done = sqlx::query(
            "UPDATE oauth_client_secrets SET revoked_at = $4 \
             WHERE realm_id = $1 AND client_id = $2 AND id = $3 AND revoked_at IS NULL",
        )
        .bind(realm)
        .bind(client)
        .bind(id)
        .bind(instant(now)?)
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
        let (Some(realm), Some(client)) = (uid(realm_id), uid(client_id)) else {
            return Ok(None);
        };
        let mut conn = self.conn().await?;
        let row = sqlx::query(&format!(
            "SELECT {CLIENT_COLS}, {SECRET_COLS} FROM oauth_client_secrets s \
             JOIN oauth_clients c ON c.realm_id = s.realm_id AND c.id = s.client_id \
             WHERE s.realm_id = $1 AND s.secret_hash = $3 AND s.client_id = $2"
        ))
        .bind(realm)
        .bind(client)
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
        let realm = own_uid(&t.realm_id)?;
        let client = own_uid(client_id)?;
        let at = instant(&t.created_at)?;
        let mut conn = self.conn().await?;
        let mut tx = conn.begin().await?;
        let (table, used) = last_use(with);
        sqlx::query(&format!(
            "UPDATE {table} SET last_used_at = $4 \
             WHERE realm_id = $1 AND client_id = $2 AND id = $3"
        ))
        .bind(realm)
        .bind(client)
        .bind(own_uid(used)?)
        .bind(at)
        .execute(&mut *tx)
        .await?;
        // Only when there is something to drop: a DELETE announces itself to every server
        // (the tokens triggers), and each would forget its whole cache.
        let stale: Option<(Uuid,)> = sqlx::query_as(
            "SELECT id FROM tokens WHERE realm_id = $1 AND client_id = $2 AND expires_at < $3 \
             LIMIT 1",
        )
        .bind(realm)
        .bind(client)
        .bind(at)
        .fetch_optional(&mut *tx)
        .await?;
        if stale.is_some() {
            sqlx::query(
                "DELETE FROM tokens WHERE realm_id = $1 AND client_id = $2 AND expires_at < $3",
            )
            .bind(realm)
            .bind(client)
            .bind(at)
            .execute(&mut *tx)
            .await?;
        }
        super::tokens::insert_token(&mut tx, t, Some(client)).await?;
        tx.commit().await?;
        conn.finish();
        Ok(())
    }
}

/// Lifetimes are bounded by the service (at most a day), so they fit a column of `integer`.
fn lifetime(secs: i64) -> StoreResult<i32> {
    i32::try_from(secs).map_err(|_| StoreError::Corrupt(format!("token lifetime {secs}s")))
}

/// The table and id of the credential whose last use an issued token records.
fn last_use(with: &IssuedWith) -> (&'static str, &str) {
    match with {
        IssuedWith::Secret(id) => ("oauth_client_secrets", id),
        IssuedWith::Federated(id) => ("oauth_federated_credentials", id),
    }
}
