//! Operator use cases: tenants, realms and their tokens, and the first-start bootstrap.

use std::sync::Arc;

use anyhow::{anyhow, bail, Context};

use super::auth::{mint_secret, SCIM_SCOPE};
use crate::store::{NewToken, Realm, RealmState, Store, StoreError, Tenant, TokenInfo};

pub const DEFAULT_TENANT: &str = "default";
pub const DEFAULT_REALM: &str = "default";

/// A token as created: its secret is here, and nowhere else, ever again.
pub struct CreatedToken {
    pub info: TokenInfo,
    pub secret: String,
}

pub struct AdminService {
    store: Arc<dyn Store>,
}

/// Tenant and realm names appear in URLs: keep them to a URL-safe alphabet.
fn check_name(what: &str, name: &str) -> anyhow::Result<()> {
    let ok = !name.is_empty()
        && name.len() <= 64
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_' || c == '.');
    if !ok {
        bail!("{what} name '{name}' must be 1-64 characters of a-z, A-Z, 0-9, '-', '_' or '.'");
    }
    Ok(())
}

impl AdminService {
    pub fn new(store: Arc<dyn Store>) -> Self {
        Self { store }
    }

    pub async fn create_tenant(&self, name: &str) -> anyhow::Result<Tenant> {
        check_name("tenant", name)?;
        self.store.create_tenant(name).await.map_err(|e| match e {
            StoreError::Conflict => anyhow!("tenant '{name}' already exists"),
            e => anyhow!(e).context("creating the tenant"),
        })
    }

    pub async fn list_tenants(&self) -> anyhow::Result<Vec<Tenant>> {
        Ok(self.store.list_tenants().await?)
    }

    pub async fn create_realm(&self, tenant: &str, name: &str) -> anyhow::Result<Realm> {
        check_name("realm", name)?;
        self.store
            .create_realm(tenant, name)
            .await
            .map_err(|e| match e {
                StoreError::NotFound => anyhow!("there is no tenant '{tenant}'"),
                StoreError::Conflict => anyhow!("tenant '{tenant}' already has a realm '{name}'"),
                e => anyhow!(e).context("creating the realm"),
            })
    }

    pub async fn list_realms(&self, tenant: Option<&str>) -> anyhow::Result<Vec<Realm>> {
        Ok(self.store.list_realms(tenant).await?)
    }

    pub async fn set_realm_state(
        &self,
        tenant: &str,
        name: &str,
        state: RealmState,
    ) -> anyhow::Result<Realm> {
        self.store
            .set_realm_state(tenant, name, state)
            .await
            .map_err(|e| match e {
                StoreError::NotFound => anyhow!("there is no realm '{name}' in tenant '{tenant}'"),
                e => anyhow!(e),
            })
    }

    async fn realm(&self, tenant: &str, name: &str) -> anyhow::Result<Realm> {
        self.store
            .find_realm(tenant, name)
            .await?
            .ok_or_else(|| anyhow!("there is no realm '{name}' in tenant '{tenant}'"))
    }

    /// Creates the default tenant and realm when the database has no tenant at all, with a
    /// first token; returns that token only when this call created them.
    pub async fn bootstrap(&self) -> anyhow::Result<Option<CreatedToken>> {
        let minted = mint_secret();
        let token = new_token("bootstrap", String::new(), minted.hash, None);
        let created = self
            .store
            .bootstrap(DEFAULT_TENANT, DEFAULT_REALM, token.clone())
            .await
            .context("creating the default tenant and realm")?;
        if !created {
            return Ok(None);
        }
        let realm = self.realm(DEFAULT_TENANT, DEFAULT_REALM).await?;
        Ok(Some(CreatedToken {
            info: TokenInfo {
                id: token.id,
                realm_id: realm.id,
                name: token.name,
                token_hash: token.token_hash,
                scopes: token.scopes,
                created_at: token.created_at,
                expires_at: None,
                revoked_at: None,
                last_used_at: None,
            },
            secret: minted.secret,
        }))
    }

    pub async fn create_token(
        &self,
        tenant: &str,
        realm: &str,
        name: &str,
        expires_in_days: Option<u32>,
    ) -> anyhow::Result<CreatedToken> {
        if name.trim().is_empty() {
            bail!("a token needs a name, e.g. --name okta-provisioning");
        }
        let realm = match self.store.find_realm(tenant, realm).await? {
            Some(r) => r,
            // The documented first step on an empty database is `token create` for the
            // default realm: let it create that realm rather than fail.
            None if tenant == DEFAULT_TENANT && realm == DEFAULT_REALM => {
                if let Some(t) = self.bootstrap().await? {
                    self.store
                        .revoke_token(&t.info.realm_id, &t.info.id)
                        .await?;
                }
                self.realm(tenant, realm).await?
            }
            None => bail!("there is no realm '{realm}' in tenant '{tenant}'"),
        };
        let expires_at = match expires_in_days {
            None | Some(0) => None,
            Some(d) => Some(crate::clock::format(
                chrono::Utc::now() + chrono::Duration::days(i64::from(d)),
            )),
        };
        let minted = mint_secret();
        let token = new_token(name, realm.id, minted.hash, expires_at);
        let info = self.store.create_token(token).await?;
        Ok(CreatedToken {
            info,
            secret: minted.secret,
        })
    }

    pub async fn list_tokens(&self, tenant: &str, realm: &str) -> anyhow::Result<Vec<TokenInfo>> {
        let realm = self.realm(tenant, realm).await?;
        Ok(self.store.list_tokens(&realm.id).await?)
    }

    pub async fn revoke_token(&self, tenant: &str, realm: &str, id: &str) -> anyhow::Result<()> {
        let realm = self.realm(tenant, realm).await?;
        if !self.store.revoke_token(&realm.id, id).await? {
            bail!("realm '{}' has no live token with id '{id}'", realm.name);
        }
        Ok(())
    }
}

fn new_token(name: &str, realm_id: String, hash: String, expires_at: Option<String>) -> NewToken {
    NewToken {
        id: uuid::Uuid::now_v7().to_string(),
        realm_id,
        name: name.to_owned(),
        token_hash: hash,
        scopes: vec![SCIM_SCOPE.to_owned()],
        created_at: crate::clock::now(),
        expires_at,
    }
}
