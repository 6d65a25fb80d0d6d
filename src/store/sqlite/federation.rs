//! Federated credentials of OAuth clients, and the one-time assertion ids already seen.

use sqlx::sqlite::SqliteRow;

use super::oauth::{client_from_row, CLIENT_COLS};
use super::{get, SqliteStore};
use crate::store::{FederatedCredential, Federation, OAuthClient, StoreError, StoreResult};

const COLS: &str = "f.realm_id AS f_realm_id, f.client_id AS f_client_id, f.id AS f_id, \
    f.name AS f_name, f.issuer AS f_issuer, f.subject AS f_subject, f.audience AS f_audience, \
    f.jwks_url AS f_jwks_url, f.created_at AS f_created_at, f.created_by AS f_created_by, \
    f.last_used_at AS f_last_used_at";

fn from_row(row: &SqliteRow) -> StoreResult<FederatedCredential> {
    Ok(FederatedCredential {
        id: get(row, "f_id")?,
        realm_id: get(row, "f_realm_id")?,
        client_id: get(row, "f_client_id")?,
        name: get(row, "f_name")?,
        issuer: get(row, "f_issuer")?,
        subject: get(row, "f_subject")?,
        audience: get(row, "f_audience")?,
        jwks_url: get(row, "f_jwks_url")?,
        created_at: get(row, "f_created_at")?,
        created_by: get(row, "f_created_by")?,
        last_used_at: get(row, "f_last_used_at")?,
    })
}

#[async_trait::async_trait]
impl Federation for SqliteStore {
    async fn insert_federated(&self, f: &FederatedCredential, max: usize) -> StoreResult<()> {
        let mut conn = self.conn().await?;
        let mut tx = conn.begin().await?;
        // A write that changes nothing takes the lock first, so two requests cannot both
        // count below the limit and both add one.
        let claimed = sqlx::query(
            "UPDATE oauth_clients SET updated_at = updated_at WHERE realm_id = $1 AND id = $2",
        )
        .bind(&f.realm_id)
        .bind(&f.client_id)
        .execute(&mut *tx)
        .await?;
        if claimed.rows_affected() == 0 {
            tx.rollback().await?;
            conn.finish();
            return Err(StoreError::NotFound);
        }
        let held: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM oauth_federated_credentials \
             WHERE realm_id = $1 AND client_id = $2",
        )
        .bind(&f.realm_id)
        .bind(&f.client_id)
        .fetch_one(&mut *tx)
        .await?;
        if held as usize >= max {
            tx.rollback().await?;
            conn.finish();
            return Err(StoreError::Conflict);
        }
        sqlx::query(
            "INSERT INTO oauth_federated_credentials (realm_id, client_id, id, name, issuer, \
             subject, audience, jwks_url, created_at, created_by) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
        )
        .bind(&f.realm_id)
        .bind(&f.client_id)
        .bind(&f.id)
        .bind(&f.name)
        .bind(&f.issuer)
        .bind(&f.subject)
        .bind(&f.audience)
        .bind(&f.jwks_url)
        .bind(&f.created_at)
        .bind(&f.created_by)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        conn.finish();
        Ok(())
    }

    async fn list_federated(
        &self,
        realm_id: &str,
        client_id: &str,
    ) -> StoreResult<Vec<FederatedCredential>> {
        let mut conn = self.conn().await?;
        let rows = sqlx::query(&format!(
            "SELECT {COLS} FROM oauth_federated_credentials f \
             WHERE f.realm_id = $1 AND f.client_id = $2 ORDER BY f.id"
        ))
        .bind(realm_id)
        .bind(client_id)
        .fetch_all(&mut *conn)
        .await?;
        conn.finish();
        rows.iter().map(from_row).collect()
    }

    async fn delete_federated(
        &self,
        realm_id: &str,
        client_id: &str,
        id: &str,
    ) -> StoreResult<bool> {
        let mut conn = self.conn().await?;
        let done = sqlx::query(
            "DELETE FROM oauth_federated_credentials \
             WHERE realm_id = $1 AND client_id = $2 AND id = $3",
        )
        .bind(realm_id)
        .bind(client_id)
        .bind(id)
        .execute(&mut *conn)
        .await?;
        conn.finish();
        Ok(done.rows_affected() > 0)
    }

    async fn find_federated(
        &self,
        realm_id: &str,
        issuer: &str,
        subject: &str,
    ) -> StoreResult<Vec<(OAuthClient, FederatedCredential)>> {
        let mut conn = self.conn().await?;
        let rows = sqlx::query(&format!(
            "SELECT {CLIENT_COLS}, {COLS} FROM oauth_federated_credentials f \
             JOIN oauth_clients c ON c.realm_id = f.realm_id AND c.id = f.client_id \
             WHERE f.realm_id = $1 AND f.issuer = $2 AND f.subject = $3 ORDER BY f.id LIMIT 50"
        ))
        .bind(realm_id)
        .bind(issuer)
        .bind(subject)
        .fetch_all(&mut *conn)
        .await?;
        conn.finish();
        rows.iter()
            .map(|r| Ok((client_from_row(r)?, from_row(r)?)))
            .collect()
    }

    async fn claim_assertion(
        &self,
        realm_id: &str,
        key: &str,
        expires_at: &str,
        now: &str,
    ) -> StoreResult<bool> {
        let mut conn = self.conn().await?;
        let mut tx = conn.begin().await?;
        sqlx::query("DELETE FROM oauth_assertion_ids WHERE realm_id = $1 AND expires_at <= $2")
            .bind(realm_id)
            .bind(now)
            .execute(&mut *tx)
            .await?;
        let done = sqlx::query(
            "INSERT INTO oauth_assertion_ids (realm_id, assertion_key, expires_at) \
             VALUES ($1, $2, $3) ON CONFLICT DO NOTHING",
        )
        .bind(realm_id)
        .bind(key)
        .bind(expires_at)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        conn.finish();
        Ok(done.rows_affected() > 0)
    }
}
