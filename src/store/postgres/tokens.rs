//! Bearer tokens: stored by hash, looked up together with their realm in one query.

use sqlx::postgres::PgRow;
use sqlx::PgConnection;
use uuid::Uuid;

use super::tenancy::{realm_from_row, REALM_COLS};
use super::{get, get_id, get_instant, get_opt_instant, instant, opt_instant, own_uid, PgStore};
use crate::store::sql::{parse_scopes, TOKEN_COLS};
use crate::store::{AuthFeed, NewToken, Realm, StoreResult, TokenInfo, Tokens};

/// `client`: the OAuth client an access token was issued to (deleted with it).
pub(super) async fn insert_token(
    conn: &mut PgConnection,
    t: &NewToken,
    client: Option<Uuid>,
) -> StoreResult<()> {
    sqlx::query(
        "INSERT INTO tokens (realm_id, id, name, token_hash, scopes, created_at, expires_at, \
         description, created_by, client_id) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
    )
    .bind(own_uid(&t.realm_id)?)
    .bind(own_uid(&t.id)?)
    .bind(&t.name)
    .bind(&t.token_hash)
    .bind(t.scopes.join(" "))
    .bind(instant(&t.created_at)?)
    .bind(opt_instant(t.expires_at.as_deref())?)
    .bind(&t.description)
    .bind(&t.created_by)
    .bind(client)
    .execute(conn)
    .await?;
    Ok(())
}

pub(super) fn token_from_row(row: &PgRow) -> StoreResult<TokenInfo> {
    Ok(TokenInfo {
        id: get_id(row, "t_id")?,
        realm_id: get_id(row, "t_realm_id")?,
        name: get(row, "t_name")?,
        token_hash: get(row, "t_hash")?,
        scopes: parse_scopes(&get::<String>(row, "t_scopes")?),
        created_at: get_instant(row, "t_created_at")?,
        expires_at: get_opt_instant(row, "t_expires_at")?,
        revoked_at: get_opt_instant(row, "t_revoked_at")?,
        last_used_at: get_opt_instant(row, "t_last_used_at")?,
        description: get(row, "t_description")?,
        created_by: get(row, "t_created_by")?,
        replaced_by: get::<Option<Uuid>>(row, "t_replaced_by")?.map(|u| u.to_string()),
    })
}

#[async_trait::async_trait]
impl Tokens for PgStore {
    async fn create_token(&self, t: NewToken) -> StoreResult<TokenInfo> {
        let mut conn = self.conn().await?;
        insert_token(&mut conn, &t, None).await?;
        conn.finish();
        Ok(t.issued())
    }

    async fn list_tokens(&self, realm_id: &str) -> StoreResult<Vec<TokenInfo>> {
        let Some(realm) = super::uid(realm_id) else {
            return Ok(Vec::new());
        };
        let mut conn = self.conn().await?;
        let rows = sqlx::query(&format!(
            "SELECT {TOKEN_COLS} FROM tokens t WHERE t.realm_id = $1 AND t.client_id IS NULL ORDER BY t.created_at, t.id"
        ))
        .bind(realm)
        .fetch_all(&mut *conn)
        .await?;
        conn.finish();
        rows.iter().map(token_from_row).collect()
    }

    async fn revoke_token(&self, realm_id: &str, token_id: &str) -> StoreResult<bool> {
        let (Some(realm), Some(token)) = (super::uid(realm_id), super::uid(token_id)) else {
            return Ok(false);
        };
        let mut conn = self.conn().await?;
        let done = sqlx::query(
            "UPDATE tokens SET revoked_at = $1 \
             WHERE realm_id = $2 AND id = $3 AND client_id IS NULL AND revoked_at IS NULL",
        )
        .bind(instant(&crate::clock::now())?)
        .bind(realm)
        .bind(token)
        .execute(&mut *conn)
        .await?;
        conn.finish();
        Ok(done.rows_affected() > 0)
    }

    async fn authenticate(
        &self,
        tenant: &str,
        realm: &str,
        token_hash: Option<&str>,
    ) -> StoreResult<Option<(Realm, Option<TokenInfo>)>> {
        // A LEFT JOIN so one round trip tells "no such realm" (404) from "bad token" (401).
        let mut conn = self.conn().await?;
        let row = sqlx::query(&format!(
            "SELECT {REALM_COLS}, {TOKEN_COLS} \
             FROM realms r LEFT JOIN tokens t ON t.realm_id = r.id AND t.token_hash = $3 \
             WHERE r.tenant = $1 AND r.name = $2"
        ))
        .bind(tenant)
        .bind(realm)
        .bind(token_hash.unwrap_or(""))
        .fetch_optional(&mut *conn)
        .await?;
        conn.finish();
        let Some(row) = row else {
            return Ok(None);
        };
        let realm = realm_from_row(&row)?;
        let token = match get::<Option<Uuid>>(&row, "t_id")? {
            Some(_) => Some(token_from_row(&row)?),
            None => None,
        };
        Ok(Some((realm, token)))
    }

    async fn auth_feed(&self) -> StoreResult<Option<Box<dyn AuthFeed>>> {
        Ok(Some(self.open_feed(super::feed::AUTH_CHANNEL).await?))
    }

    async fn record_token_use(&self, uses: &[(String, String, String)]) -> StoreResult<()> {
        self.record_uses("tokens", uses).await
    }
}
