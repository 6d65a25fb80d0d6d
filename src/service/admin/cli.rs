//! The CLI's entry points: the same use cases as the admin API, as the global actor `cli`,
//! with errors as text for a terminal.

use anyhow::{anyhow, Context};
use serde_json::{json, Map};

use super::view::AdminTokenView;
use super::{Actor, AdminError, AdminService, CreatedToken, PageRequest, ADMIN_TOKEN_PREFIX};
use super::{DEFAULT_REALM, DEFAULT_TENANT};
use crate::service::auth::{mint_secret, SCIM_SCOPE};
use crate::store::{AdminToken, Changes, NewToken, Realm, RealmState, Tenant, TokenInfo};

/// An admin token as created, with its secret (shown once).
pub struct CreatedAdminToken {
    pub info: AdminTokenView,
    pub secret: String,
}

fn text(e: AdminError) -> anyhow::Error {
    match e {
        AdminError::Internal(e) => e,
        e => anyhow!(e),
    }
}

impl AdminService {
    pub async fn create_tenant(&self, name: &str) -> anyhow::Result<Tenant> {
        super::input::check_id("tenant", name).map_err(text)?;
        self.insert_tenant(&Actor::cli(), name.to_owned(), &Map::new())
            .await
            .map_err(text)?;
        self.store
            .get_tenant(name)
            .await?
            .ok_or_else(|| anyhow!("tenant '{name}' vanished as it was created"))
    }

    pub async fn list_tenants(&self) -> anyhow::Result<Vec<Tenant>> {
        Ok(self.store.list_tenants().await?)
    }

    pub async fn create_realm(&self, tenant: &str, name: &str) -> anyhow::Result<Realm> {
        super::input::check_id("realm", name).map_err(text)?;
        self.insert_realm(&Actor::cli(), tenant, name.to_owned(), &Map::new())
            .await
            .map_err(text)
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
        let changes = Changes {
            state: Some(state),
            ..Changes::default()
        };
        self.change_realm(
            &Actor::cli(),
            tenant,
            name,
            &changes,
            json!({"state": state}),
        )
        .await
        .map_err(text)
    }

    /// Creates the default tenant and realm when the database has no tenant at all, with a
    /// first SCIM token and a first global admin token; returns them only when this call
    /// created them.
    pub async fn bootstrap(&self) -> anyhow::Result<Option<(CreatedToken, CreatedAdminToken)>> {
        let minted = mint_secret();
        let token = NewToken {
            id: uuid::Uuid::now_v7().to_string(),
            realm_id: String::new(),
            name: "bootstrap".into(),
            token_hash: minted.hash,
            scopes: vec![SCIM_SCOPE.to_owned()],
            description: "created at the first start".into(),
            created_by: "bootstrap".into(),
            created_at: self.now(),
            expires_at: None,
        };
        let created = self
            .store
            .bootstrap(DEFAULT_TENANT, DEFAULT_REALM, token.clone())
            .await
            .context("creating the default tenant and realm")?;
        if !created {
            return Ok(None);
        }
        let realm = self
            .store
            .find_realm(DEFAULT_TENANT, DEFAULT_REALM)
            .await?
            .ok_or_else(|| anyhow!("the default realm vanished as it was created"))?;
        let admin = self
            .create_admin_token_cli(None, "bootstrap", None)
            .await
            .context("creating the first admin token")?;
        let scim = CreatedToken {
            info: NewToken {
                realm_id: realm.id,
                ..token
            }
            .issued(),
            secret: minted.secret,
        };
        Ok(Some((scim, admin)))
    }

    pub async fn create_token(
        &self,
        tenant: &str,
        realm: &str,
        name: &str,
        expires_in_days: Option<u32>,
    ) -> anyhow::Result<CreatedToken> {
        if self.store.find_realm(tenant, realm).await?.is_none()
            && tenant == DEFAULT_TENANT
            && realm == DEFAULT_REALM
        {
            // The documented first step on an empty database is `token create` for the
            // default realm: let it create that realm rather than fail.
            if let Some((t, a)) = self.bootstrap().await? {
                self.store
                    .revoke_token(&t.info.realm_id, &t.info.id)
                    .await?;
                self.store
                    .revoke_admin_token(&a.info.id, &self.now())
                    .await?;
            }
        }
        let mut body = json!({"name": name});
        if let Some(d) = expires_in_days.filter(|d| *d > 0) {
            body["expires_in_days"] = json!(d);
        }
        let view = self
            .create_token_from(&Actor::cli(), tenant, realm, body)
            .await
            .map_err(text)?;
        let realm = self
            .store
            .find_realm(tenant, realm)
            .await?
            .ok_or_else(|| anyhow!("the realm vanished as the token was created"))?;
        let info = self
            .store
            .get_token(&realm.id, &view.id)
            .await?
            .ok_or_else(|| anyhow!("the token vanished as it was created"))?;
        let secret = view.token_value.unwrap_or_default();
        Ok(CreatedToken { info, secret })
    }

    pub async fn list_tokens(&self, tenant: &str, realm: &str) -> anyhow::Result<Vec<TokenInfo>> {
        let realm = self
            .realm_of(&Actor::cli(), tenant, realm)
            .await
            .map_err(text)?;
        Ok(self.store.list_tokens(&realm.id).await?)
    }

    pub async fn revoke_token(&self, tenant: &str, realm: &str, id: &str) -> anyhow::Result<()> {
        self.revoke_token_by(&Actor::cli(), tenant, realm, id)
            .await
            .map_err(text)
    }

    pub async fn create_admin_token_cli(
        &self,
        tenant: Option<&str>,
        name: &str,
        expires_in_days: Option<u32>,
    ) -> anyhow::Result<CreatedAdminToken> {
        let mut body = json!({"name": name});
        if let Some(d) = expires_in_days.filter(|d| *d > 0) {
            body["expires_in_days"] = json!(d);
        }
        let mut info = self
            .create_admin_token(&Actor::cli(), tenant, body)
            .await
            .map_err(text)?;
        let secret = info.token_value.take().unwrap_or_default();
        debug_assert!(secret.starts_with(ADMIN_TOKEN_PREFIX));
        Ok(CreatedAdminToken { info, secret })
    }

    /// Every live admin token: the global ones, or one tenant's.
    pub async fn list_admin_tokens_cli(
        &self,
        tenant: Option<&str>,
    ) -> anyhow::Result<Vec<AdminTokenView>> {
        let mut all = Vec::new();
        let mut req = PageRequest {
            limit: Some(200),
            ..PageRequest::default()
        };
        loop {
            let page = self
                .list_admin_tokens(&Actor::cli(), tenant, &req)
                .await
                .map_err(text)?;
            all.extend(page.items);
            match page.next_cursor {
                Some(c) => req.cursor = Some(c),
                None => return Ok(all),
            }
        }
    }

    /// Revokes an admin token by id, global or of any tenant.
    pub async fn revoke_admin_token_cli(&self, id: &str) -> anyhow::Result<()> {
        let t: AdminToken = self
            .store
            .get_admin_token(id)
            .await?
            .filter(|t| t.revoked_at.is_none())
            .ok_or_else(|| anyhow!("there is no live admin token '{id}'"))?;
        self.revoke_admin_token(&Actor::cli(), t.tenant.as_deref(), id)
            .await
            .map_err(text)
    }
}
