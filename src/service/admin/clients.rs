//! A realm's OAuth 2.0 clients (client credentials, RFC 6749 §4.4): create one with its first
//! secret, change its scopes, lifetime or state, add and revoke secrets (up to five live at
//! once, so rotation needs no downtime), delete it.

use serde_json::{json, Map, Value};

use super::input::{self, object};
use super::tokens::SCIM_SCOPES;
use super::view::{ClientSecretView, ClientView};
use super::{listed, Actor, AdminError, AdminResult, AdminService, Listed, PageRequest};
use crate::service::auth::{mint_secret_with, SCIM_SCOPE};
use crate::store::{ClientChanges, ClientSecret, OAuthClient, Page, Realm, StoreError};

/// Client secrets say what they are, for secret scanners and people.
pub const CLIENT_SECRET_PREFIX: &str = "scimd_cs_";
/// Live secrets a client may hold at once: enough to rotate, few enough to keep track of.
pub const MAX_LIVE_SECRETS: usize = 5;
pub const DEFAULT_TOKEN_LIFETIME: i64 = 3600;
pub const MIN_TOKEN_LIFETIME: i64 = 300;
pub const MAX_TOKEN_LIFETIME: i64 = 86_400;

const CREATE_FIELDS: &[&str] = &[
    "name",
    "description",
    "scopes",
    "enabled",
    "token_lifetime_seconds",
    "secret_description",
    "secret_expires_in_days",
    "issue_secret",
];
const UPDATE_FIELDS: &[&str] = &[
    "name",
    "description",
    "scopes",
    "enabled",
    "token_lifetime_seconds",
];
const SECRET_FIELDS: &[&str] = &["description", "expires_in_days", "expires_at"];
const READ_ONLY: &[&str] = &[
    "id",
    "client_id",
    "tenant_id",
    "realm_id",
    "token_endpoint",
    "created_at",
    "created_by",
    "updated_at",
    "secrets",
    "federated_credentials",
    "client_secret",
];

pub(super) fn no_client(realm: &Realm, id: &str) -> AdminError {
    AdminError::NotFound(format!(
        "realm '{}' of tenant '{}' has no OAuth client '{id}'",
        realm.name, realm.tenant
    ))
}

pub(super) fn target(realm: &Realm, id: &str) -> String {
    format!(
        "tenants/{}/realms/{}/oauth-clients/{id}",
        realm.tenant, realm.name
    )
}

fn lifetime(map: &Map<String, Value>) -> AdminResult<Option<i64>> {
    let v = input::opt_int(map, "token_lifetime_seconds")?;
    if let Some(s) = v {
        if !(MIN_TOKEN_LIFETIME..=MAX_TOKEN_LIFETIME).contains(&s) {
            return Err(AdminError::invalid(
                "token_lifetime_seconds",
                format!(
                    "token_lifetime_seconds must be between {MIN_TOKEN_LIFETIME} (5 minutes) \
                     and {MAX_TOKEN_LIFETIME} (24 hours)"
                ),
            ));
        }
    }
    Ok(v)
}

pub(super) fn enabled(map: &Map<String, Value>) -> AdminResult<Option<bool>> {
    match map.get("enabled") {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Bool(b)) => Ok(Some(*b)),
        Some(_) => Err(AdminError::invalid(
            "enabled",
            "enabled must be true or false",
        )),
    }
}

impl AdminService {
    async fn client_view(
        &self,
        c: OAuthClient,
        realm: &Realm,
        origin: &str,
    ) -> AdminResult<ClientView> {
        let secrets = self.store.list_client_secrets(&realm.id, &c.id).await?;
        let federated = self.store.list_federated(&realm.id, &c.id).await?;
        Ok(ClientView::new(
            c,
            realm,
            secrets,
            federated,
            origin,
            &self.now(),
        ))
    }

    async fn client_of(&self, realm: &Realm, id: &str) -> AdminResult<OAuthClient> {
        self.store
            .get_client(&realm.id, id)
            .await?
            .ok_or_else(|| no_client(realm, id))
    }

    pub async fn list_clients_page(
        &self,
        actor: &Actor,
        tenant: &str,
        realm: &str,
        req: &PageRequest,
        origin: &str,
    ) -> AdminResult<Listed<ClientView>> {
        let realm = self.realm_of(actor, tenant, realm).await?;
        let (page, limit) = req.page()?;
        let rows = self.store.page_clients(&realm.id, &page).await?;
        let page = listed(rows, limit, |c| c.id.clone(), |c| c);
        let mut items = Vec::with_capacity(page.items.len());
        for c in page.items {
            items.push(self.client_view(c, &realm, origin).await?);
        }
        Ok(Listed {
            items,
            next_cursor: page.next_cursor,
        })
    }

    pub async fn get_client(
        &self,
        actor: &Actor,
        tenant: &str,
        realm: &str,
        id: &str,
        origin: &str,
    ) -> AdminResult<ClientView> {
        let realm = self.realm_of(actor, tenant, realm).await?;
        let c = self.client_of(&realm, id).await?;
        self.client_view(c, &realm, origin).await
    }

    /// Refuses a name another client of the realm has, naming that client.
    async fn refuse_taken_name(&self, realm: &Realm, name: &str, except: &str) -> AdminResult<()> {
        let page = Page {
            after: None,
            limit: 2,
            name: Some(name.to_owned()),
        };
        match self
            .store
            .page_clients(&realm.id, &page)
            .await?
            .into_iter()
            .find(|c| c.id != except)
        {
            Some(c) => Err(AdminError::Conflict {
                detail: format!(
                    "realm '{}' already has an OAuth client named '{name}'",
                    realm.name
                ),
                existing_id: c.id,
            }),
            None => Ok(()),
        }
    }

    /// Creates the client with its first secret, whose value is in this response only.
    pub async fn create_client_from(
        &self,
        actor: &Actor,
        tenant: &str,
        realm: &str,
        body: Value,
        origin: &str,
    ) -> AdminResult<ClientView> {
        let realm = self.realm_of(actor, tenant, realm).await?;
        let map = object(body, CREATE_FIELDS, READ_ONLY)?;
        let name = input::token_name(&map, true)?.unwrap_or_default();
        let now = self.clock.now();
        let secret_expiry = {
            let mut m = Map::new();
            if let Some(d) = map.get("secret_expires_in_days") {
                m.insert("expires_in_days".into(), d.clone());
            }
            input::expiry(&m, now).map_err(|_| {
                AdminError::invalid(
                    "secret_expires_in_days",
                    "secret_expires_in_days must be a whole number of days from 1 to 3650",
                )
            })?
        };
        let secret_description = input::opt_str(&map, "secret_description")?.unwrap_or_default();
        let client = OAuthClient {
            id: uuid::Uuid::now_v7().to_string(),
            realm_id: realm.id.clone(),
            name,
            description: input::description(&map)?.unwrap_or_default(),
            scopes: input::scopes(&map, SCIM_SCOPES, &[SCIM_SCOPE])?,
            enabled: enabled(&map)?.unwrap_or(true),
            token_lifetime: lifetime(&map)?.unwrap_or(DEFAULT_TOKEN_LIFETIME),
            created_at: self.now(),
            created_by: actor.id.clone(),
            updated_at: self.now(),
        };
        self.refuse_taken_name(&realm, &client.name, "").await?;
        // A client that authenticates by federated credential needs no secret at all.
        let issue_secret = match map.get("issue_secret") {
            None | Some(Value::Null) => true,
            Some(Value::Bool(b)) => *b,
            Some(_) => {
                return Err(AdminError::invalid(
                    "issue_secret",
                    "issue_secret must be true or false",
                ))
            }
        };
        let minted = issue_secret.then(|| mint_secret_with(CLIENT_SECRET_PREFIX));
        let secret = minted.as_ref().map(|m| ClientSecret {
            id: uuid::Uuid::now_v7().to_string(),
            realm_id: realm.id.clone(),
            client_id: client.id.clone(),
            secret_hash: m.hash.clone(),
            description: secret_description,
            created_at: self.now(),
            created_by: actor.id.clone(),
            expires_at: secret_expiry.map(crate::clock::format),
            revoked_at: None,
            last_used_at: None,
        });
        match self.store.insert_client(&client, secret.as_ref()).await {
            // Another request took the name between the check and the insert.
            Err(StoreError::Conflict) => {
                self.refuse_taken_name(&realm, &client.name, "").await?;
                return Err(AdminError::Internal(anyhow::anyhow!(
                    "inserting an OAuth client conflicted, and no client has its name"
                )));
            }
            r => r?,
        }
        let detail = json!({"name": client.name, "scopes": client.scopes,
            "token_lifetime_seconds": client.token_lifetime,
            "secret_id": secret.as_ref().map(|s| s.id.clone())});
        self.audit(
            actor,
            Some(&realm.tenant),
            "oauth_client.create",
            target(&realm, &client.id),
            detail,
        )
        .await;
        let mut view = ClientView::new(
            client,
            &realm,
            secret.into_iter().collect(),
            Vec::new(),
            origin,
            &self.now(),
        );
        if let Some(m) = minted {
            view.client_secret = Some(m.secret.clone());
            if let Some(s) = view.secrets.first_mut() {
                s.client_secret = Some(m.secret);
            }
        }
        Ok(view)
    }

    /// Narrowing a client (fewer scopes, disabled) revokes the access tokens it holds.
    pub async fn update_client(
        &self,
        actor: &Actor,
        tenant: &str,
        realm: &str,
        id: &str,
        body: Value,
        origin: &str,
    ) -> AdminResult<ClientView> {
        let realm = self.realm_of(actor, tenant, realm).await?;
        let map = object(body, UPDATE_FIELDS, READ_ONLY)?;
        let changes = ClientChanges {
            name: input::token_name(&map, false)?,
            description: input::description(&map)?,
            scopes: if map.contains_key("scopes") {
                Some(input::scopes(&map, SCIM_SCOPES, &[SCIM_SCOPE])?)
            } else {
                None
            },
            enabled: enabled(&map)?,
            token_lifetime: lifetime(&map)?,
        };
        if let Some(name) = &changes.name {
            self.client_of(&realm, id).await?;
            self.refuse_taken_name(&realm, name, id).await?;
        }
        let c = match self
            .store
            .update_client(&realm.id, id, &changes, &self.now())
            .await
        {
            Err(StoreError::NotFound) => return Err(no_client(&realm, id)),
            Err(StoreError::Conflict) => {
                let name = changes.name.as_deref().unwrap_or_default();
                self.refuse_taken_name(&realm, name, id).await?;
                return Err(AdminError::Internal(anyhow::anyhow!(
                    "renaming an OAuth client conflicted, and no other client has the name"
                )));
            }
            r => r?,
        };
        self.audit(
            actor,
            Some(tenant),
            "oauth_client.update",
            target(&realm, id),
            Value::Object(map),
        )
        .await;
        self.client_view(c, &realm, origin).await
    }

    pub async fn delete_client(
        &self,
        actor: &Actor,
        tenant: &str,
        realm: &str,
        id: &str,
    ) -> AdminResult<()> {
        let realm = self.realm_of(actor, tenant, realm).await?;
        if !self.store.delete_client(&realm.id, id).await? {
            return Err(no_client(&realm, id));
        }
        self.audit(
            actor,
            Some(tenant),
            "oauth_client.delete",
            target(&realm, id),
            json!({}),
        )
        .await;
        Ok(())
    }

    /// A new secret beside the client's others; its value is in this response only.
    pub async fn create_client_secret(
        &self,
        actor: &Actor,
        tenant: &str,
        realm: &str,
        id: &str,
        body: Value,
    ) -> AdminResult<ClientSecretView> {
        let realm = self.realm_of(actor, tenant, realm).await?;
        let map = object(body, SECRET_FIELDS, &["id", "status", "client_secret"])?;
        let minted = mint_secret_with(CLIENT_SECRET_PREFIX);
        let secret = ClientSecret {
            id: uuid::Uuid::now_v7().to_string(),
            realm_id: realm.id.clone(),
            client_id: id.to_owned(),
            secret_hash: minted.hash,
            description: input::description(&map)?.unwrap_or_default(),
            created_at: self.now(),
            created_by: actor.id.clone(),
            expires_at: input::expiry(&map, self.clock.now())?.map(crate::clock::format),
            revoked_at: None,
            last_used_at: None,
        };
        match self
            .store
            .insert_client_secret(&secret, MAX_LIVE_SECRETS, &self.now())
            .await
        {
            Err(StoreError::NotFound) => return Err(no_client(&realm, id)),
            Err(StoreError::Conflict) => {
                return Err(AdminError::Conflict {
                    detail: format!(
                        "OAuth client '{id}' already has {MAX_LIVE_SECRETS} live secrets; \
                         revoke one it no longer uses first"
                    ),
                    existing_id: id.to_owned(),
                })
            }
            r => r?,
        }
        self.audit(
            actor,
            Some(tenant),
            "oauth_client.secret.create",
            format!("{}/secrets/{}", target(&realm, id), secret.id),
            json!({"expires_at": secret.expires_at}),
        )
        .await;
        let mut view = ClientSecretView::new(secret, &self.now());
        view.client_secret = Some(minted.secret);
        Ok(view)
    }

    /// Access tokens already issued with the secret live out their (short) lifetime; disable
    /// the client to end them at once.
    pub async fn revoke_client_secret(
        &self,
        actor: &Actor,
        tenant: &str,
        realm: &str,
        id: &str,
        secret_id: &str,
    ) -> AdminResult<()> {
        let realm = self.realm_of(actor, tenant, realm).await?;
        if !self
            .store
            .revoke_client_secret(&realm.id, id, secret_id, &self.now())
            .await?
        {
            self.client_of(&realm, id).await?;
            return Err(AdminError::NotFound(format!(
                "OAuth client '{id}' has no live secret '{secret_id}'"
            )));
        }
        self.audit(
            actor,
            Some(tenant),
            "oauth_client.secret.revoke",
            format!("{}/secrets/{secret_id}", target(&realm, id)),
            json!({}),
        )
        .await;
        Ok(())
    }
}
