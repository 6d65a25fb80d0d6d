//! Issuers a realm trusts directly for JWT bearer tokens.

use sqlx::postgres::PgRow;

use super::{
    get, get_id, get_instant, get_opt_instant, instant, own_uid, room_in_realm, uid, PgStore,
};
use crate::store::sql::{parse_scopes, parse_values, values_text};
use crate::store::{StoreError, StoreResult, TrustedIssuer, TrustedIssuers};

const COLS: &str = "realm_id, id, name, issuer, audience, subject, jwks_url, scopes, \
    scope_claim, scope_values::text AS scope_values, enabled, created_at, created_by, \
    updated_at, last_used_at";

fn from_row(row: &PgRow) -> StoreResult<TrustedIssuer> {
    Ok(TrustedIssuer {
        id: get_id(row, "id")?,
        realm_id: get_id(row, "realm_id")?,
        name: get(row, "name")?,
        issuer: get(row, "issuer")?,
        audience: get(row, "audience")?,
        subject: get(row, "subject")?,
        jwks_url: get(row, "jwks_url")?,
        scopes: parse_scopes(&get::<String>(row, "scopes")?),
        scope_claim: get(row, "scope_claim")?,
        scope_values: parse_values(&get::<String>(row, "scope_values")?)?,
        enabled: get(row, "enabled")?,
        created_at: get_instant(row, "created_at")?,
        created_by: get(row, "created_by")?,
        updated_at: get_instant(row, "updated_at")?,
        last_used_at: get_opt_instant(row, "last_used_at")?,
    })
}

#[async_trait::async_trait]
impl TrustedIssuers for PgStore {
    async fn insert_trusted_issuer(&self, t: &TrustedIssuer, max: usize) -> StoreResult<()> {
        let realm = own_uid(&t.realm_id)?;
        let mut conn = self.conn().await?;
        let mut tx = conn.begin().await?;
        if let Err(e) = room_in_realm(&mut tx, "trusted_issuers", realm, max).await {
            tx.rollback().await?;
            conn.finish();
            return Err(e);
        }
        sqlx::query(
            "INSERT INTO trusted_issuers (realm_id, id, name, issuer, audience, subject, \
             jwks_url, scopes, scope_claim, scope_values, enabled, created_at, created_by, \
             updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10::jsonb, $11, $12, $13, $14)",
        )
        .bind(realm)
        .bind(own_uid(&t.id)?)
        .bind(&t.name)
        .bind(&t.issuer)
        .bind(&t.audience)
        .bind(&t.subject)
        .bind(&t.jwks_url)
        .bind(t.scopes.join(" "))
        .bind(&t.scope_claim)
        .bind(values_text(t))
        .bind(t.enabled)
        .bind(instant(&t.created_at)?)
        .bind(&t.created_by)
        .bind(instant(&t.updated_at)?)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        conn.finish();
        Ok(())
    }

    async fn get_trusted_issuer(
        &self,
        realm_id: &str,
        id: &str,
    ) -> StoreResult<Option<TrustedIssuer>> {
        let Some(id) = uid(id) else {
            return Ok(None);
        };
        let mut conn = self.conn().await?;
        let row = sqlx::query(&format!(
            "SELECT {COLS} FROM trusted_issuers WHERE realm_id = $1 AND id = $2"
        ))
        .bind(own_uid(realm_id)?)
        .bind(id)
        .fetch_optional(&mut *conn)
        .await?;
        conn.finish();
        row.as_ref().map(from_row).transpose()
    }

    async fn list_trusted_issuers(&self, realm_id: &str) -> StoreResult<Vec<TrustedIssuer>> {
        let mut conn = self.conn().await?;
        let rows = sqlx::query(&format!(
            "SELECT {COLS} FROM trusted_issuers WHERE realm_id = $1 ORDER BY id"
        ))
        .bind(own_uid(realm_id)?)
        .fetch_all(&mut *conn)
        .await?;
        conn.finish();
        rows.iter().map(from_row).collect()
    }

    async fn update_trusted_issuer(&self, t: &TrustedIssuer) -> StoreResult<()> {
        let Some(id) = uid(&t.id) else {
            return Err(StoreError::NotFound);
        };
        let mut conn = self.conn().await?;
        let done = sqlx::query(
            "UPDATE trusted_issuers SET name = $3, issuer = $4, audience = $5, subject = $6, \
             jwks_url = $7, scopes = $8, scope_claim = $9, scope_values = $10::jsonb, \
             enabled = $11, updated_at = $12 WHERE realm_id = $1 AND id = $2",
        )
        .bind(own_uid(&t.realm_id)?)
        .bind(id)
        .bind(&t.name)
        .bind(&t.issuer)
        .bind(&t.audience)
        .bind(&t.subject)
        .bind(&t.jwks_url)
        .bind(t.scopes.join(" "))
        .bind(&t.scope_claim)
        .bind(values_text(t))
        .bind(t.enabled)
        .bind(instant(&t.updated_at)?)
        .execute(&mut *conn)
        .await?;
        conn.finish();
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound);
        }
        Ok(())
    }

    async fn delete_trusted_issuer(&self, realm_id: &str, id: &str) -> StoreResult<bool> {
        let Some(id) = uid(id) else {
            return Ok(false);
        };
        let mut conn = self.conn().await?;
        let done = sqlx::query("DELETE FROM trusted_issuers WHERE realm_id = $1 AND id = $2")
            .bind(own_uid(realm_id)?)
            .bind(id)
            .execute(&mut *conn)
            .await?;
        conn.finish();
        Ok(done.rows_affected() > 0)
    }

    async fn find_trusted_issuers(
        &self,
        realm_id: &str,
        issuer: &str,
    ) -> StoreResult<Vec<TrustedIssuer>> {
        let mut conn = self.conn().await?;
        let rows = sqlx::query(&format!(
            "SELECT {COLS} FROM trusted_issuers \
             WHERE realm_id = $1 AND issuer = $2 AND enabled ORDER BY id LIMIT 50"
        ))
        .bind(own_uid(realm_id)?)
        .bind(issuer)
        .fetch_all(&mut *conn)
        .await?;
        conn.finish();
        rows.iter().map(from_row).collect()
    }

    async fn record_trusted_issuer_use(
        &self,
        uses: &[(String, String, String)],
    ) -> StoreResult<()> {
        self.record_uses("trusted_issuers", uses).await
    }
}
