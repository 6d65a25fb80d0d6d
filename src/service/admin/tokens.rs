//! A realm's SCIM tokens: issue, list, describe, rotate with a grace period, revoke.

use chrono::{DateTime, Duration, Utc};
use serde_json::{json, Map, Value};

use super::input::{self, object};
use super::view::{TokenStatus, TokenView};
use super::{listed, Actor, AdminError, AdminResult, AdminService, Listed, PageRequest};
use crate::service::auth::{mint_secret, EVENTS_READ_SCOPE, SCIM_READ_SCOPE, SCIM_SCOPE};
use crate::store::{NewToken, Page, Realm, StoreError, TokenInfo};

const CREATE_FIELDS: &[&str] = &[
    "name",
    "description",
    "scopes",
    "expires_in_days",
    "expires_at",
];
const UPDATE_FIELDS: &[&str] = &["name", "description"];
const ROTATE_FIELDS: &[&str] = &["grace_period_seconds", "expires_in_days", "expires_at"];
const READ_ONLY: &[&str] = &[
    "id",
    "tenant_id",
    "realm_id",
    "scopes",
    "status",
    "replaced_by",
    "created_at",
    "created_by",
    "expires_at",
    "expires_in_days",
    "last_used_at",
    "token_value",
];
pub const SCIM_SCOPES: &[&str] = &[SCIM_SCOPE, SCIM_READ_SCOPE, EVENTS_READ_SCOPE];

fn no_token(realm: &Realm, id: &str) -> AdminError {
    AdminError::NotFound(format!(
        "realm '{}' of tenant '{}' has no token '{id}'",
        realm.name, realm.tenant
    ))
}

fn target(realm: &Realm, id: &str) -> String {
    format!("tenants/{}/realms/{}/tokens/{id}", realm.tenant, realm.name)
}

impl AdminService {
    pub async fn list_tokens_page(
        &self,
        actor: &Actor,
        tenant: &str,
        realm: &str,
        req: &PageRequest,
    ) -> AdminResult<Listed<TokenView>> {
        let realm = self.realm_of(actor, tenant, realm).await?;
        let (page, limit) = req.page()?;
        let rows = self.store.page_tokens(&realm.id, &page).await?;
        let now = self.now();
        Ok(listed(
            rows,
            limit,
            |t| t.id.clone(),
            |t| TokenView::new(t, &realm, &now),
        ))
    }

    /// A live (not revoked) token of the realm.
    async fn live_token(&self, realm: &Realm, id: &str) -> AdminResult<TokenInfo> {
        match self.store.get_token(&realm.id, id).await? {
            Some(t) if t.revoked_at.is_none() => Ok(t),
            _ => Err(no_token(realm, id)),
        }
    }

    pub async fn get_token(
        &self,
        actor: &Actor,
        tenant: &str,
        realm: &str,
        id: &str,
    ) -> AdminResult<TokenView> {
        let realm = self.realm_of(actor, tenant, realm).await?;
        let t = self.live_token(&realm, id).await?;
        Ok(TokenView::new(t, &realm, &self.now()))
    }

    pub async fn create_token_from(
        &self,
        actor: &Actor,
        tenant: &str,
        realm: &str,
        body: Value,
    ) -> AdminResult<TokenView> {
        let realm = self.realm_of(actor, tenant, realm).await?;
        let map = object(body, CREATE_FIELDS, READ_ONLY)?;
        let name = input::token_name(&map, true)?.unwrap_or_default();
        let new = NewToken {
            id: uuid::Uuid::now_v7().to_string(),
            realm_id: realm.id.clone(),
            name,
            token_hash: String::new(),
            scopes: input::scopes(&map, SCIM_SCOPES, &[SCIM_SCOPE])?,
            description: input::description(&map)?.unwrap_or_default(),
            created_by: actor.id.clone(),
            created_at: self.now(),
            expires_at: input::expiry(&map, self.clock.now())?.map(crate::clock::format),
        };
        self.issue_token(actor, &realm, new).await
    }

    /// Stores a new token (its hash) and returns it with its secret, once.
    pub(super) async fn issue_token(
        &self,
        actor: &Actor,
        realm: &Realm,
        mut new: NewToken,
    ) -> AdminResult<TokenView> {
        self.refuse_live_name(realm, &new.name, None).await?;
        let minted = mint_secret();
        new.token_hash = minted.hash;
        let detail = json!({"name": new.name, "scopes": new.scopes, "expires_at": new.expires_at});
        let info = self.store.create_token(new).await?;
        self.audit(
            actor,
            Some(&realm.tenant),
            "token.create",
            target(realm, &info.id),
            detail,
        )
        .await;
        let mut view = TokenView::new(info, realm, &self.now());
        view.token_value = Some(minted.secret);
        Ok(view)
    }

    /// A second live token of one name would leave an operator guessing which the identity
    /// provider holds: names are unique among the realm's active tokens (one rotating out
    /// may share its successor's).
    async fn refuse_live_name(
        &self,
        realm: &Realm,
        name: &str,
        except: Option<&str>,
    ) -> AdminResult<()> {
        let page = Page {
            after: None,
            limit: 1000,
            name: Some(name.to_owned()),
        };
        let now = self.now();
        let taken = self
            .store
            .page_tokens(&realm.id, &page)
            .await?
            .into_iter()
            .find(|t| {
                TokenStatus::of(t, &now) == TokenStatus::Active && Some(t.id.as_str()) != except
            });
        match taken {
            Some(t) => Err(AdminError::Conflict {
                detail: format!(
                    "realm '{}' already has an active token named '{name}'",
                    realm.name
                ),
                existing_id: t.id,
            }),
            None => Ok(()),
        }
    }

    pub async fn update_token(
        &self,
        actor: &Actor,
        tenant: &str,
        realm: &str,
        id: &str,
        body: Value,
    ) -> AdminResult<TokenView> {
        let realm = self.realm_of(actor, tenant, realm).await?;
        let map = object(body, UPDATE_FIELDS, READ_ONLY)?;
        let changes = input::changes(&map, true)?;
        if let Some(name) = &changes.name {
            self.live_token(&realm, id).await?;
            self.refuse_live_name(&realm, name, Some(id)).await?;
        }
        let t = match self.store.update_token(&realm.id, id, &changes).await {
            Err(StoreError::NotFound) => return Err(no_token(&realm, id)),
            r => r?,
        };
        self.audit(
            actor,
            Some(tenant),
            "token.update",
            target(&realm, id),
            Value::Object(map),
        )
        .await;
        Ok(TokenView::new(t, &realm, &self.now()))
    }

    pub async fn revoke_token_by(
        &self,
        actor: &Actor,
        tenant: &str,
        realm: &str,
        id: &str,
    ) -> AdminResult<()> {
        let realm = self.realm_of(actor, tenant, realm).await?;
        if !self.store.revoke_token(&realm.id, id).await? {
            return Err(no_token(&realm, id));
        }
        self.audit(
            actor,
            Some(tenant),
            "token.revoke",
            target(&realm, id),
            json!({}),
        )
        .await;
        Ok(())
    }

    /// A successor with the old token's name, description and scopes (and lifetime, unless
    /// the body gives one); the old token keeps working until the grace period ends.
    pub async fn rotate_token(
        &self,
        actor: &Actor,
        tenant: &str,
        realm: &str,
        id: &str,
        body: Value,
    ) -> AdminResult<TokenView> {
        let realm = self.realm_of(actor, tenant, realm).await?;
        let map = object(body, ROTATE_FIELDS, &[])?;
        let grace = input::grace_seconds(&map)?;
        let old = self.live_token(&realm, id).await?;
        if let Some(next) = &old.replaced_by {
            return Err(rotated_already(id, next));
        }
        let now = self.clock.now();
        let new = self.successor(actor, &old, &map, now)?;
        let old_expires = old_expiry(&old, now + Duration::seconds(grace));
        let minted = mint_secret();
        let new = NewToken {
            token_hash: minted.hash,
            ..new
        };
        let info = match self
            .store
            .rotate_token(&realm.id, id, new, &old_expires)
            .await
        {
            Err(StoreError::NotFound) => return Err(no_token(&realm, id)),
            Err(StoreError::Conflict) => return Err(rotated_already(id, "another token")),
            r => r?,
        };
        let detail = json!({"replaced_by": info.id, "old_expires_at": old_expires});
        self.audit(
            actor,
            Some(tenant),
            "token.rotate",
            target(&realm, id),
            detail,
        )
        .await;
        let mut view = TokenView::new(info, &realm, &self.now());
        view.token_value = Some(minted.secret);
        Ok(view)
    }

    fn successor(
        &self,
        actor: &Actor,
        old: &TokenInfo,
        map: &Map<String, Value>,
        now: DateTime<Utc>,
    ) -> AdminResult<NewToken> {
        let expires_at = match input::expiry(map, now)? {
            Some(t) => Some(t),
            None => lifetime(old).map(|d| now + d),
        };
        Ok(NewToken {
            id: uuid::Uuid::now_v7().to_string(),
            realm_id: old.realm_id.clone(),
            name: old.name.clone(),
            token_hash: String::new(),
            scopes: old.scopes.clone(),
            description: old.description.clone(),
            created_by: actor.id.clone(),
            created_at: crate::clock::format(now),
            expires_at: expires_at.map(crate::clock::format),
        })
    }
}

fn rotated_already(id: &str, next: &str) -> AdminError {
    AdminError::Conflict {
        detail: format!("token '{id}' was already rotated; rotate its successor '{next}' instead"),
        existing_id: next.to_owned(),
    }
}

/// How long the token was issued for, if it expires.
fn lifetime(t: &TokenInfo) -> Option<Duration> {
    let parse = |s: &str| {
        DateTime::parse_from_rfc3339(s)
            .ok()
            .map(|d| d.with_timezone(&Utc))
    };
    Some(parse(t.expires_at.as_deref()?)? - parse(&t.created_at)?)
}

/// The old token lives until the grace period ends, or its own expiry if that is sooner.
fn old_expiry(old: &TokenInfo, grace_end: DateTime<Utc>) -> String {
    let grace_end = crate::clock::format(grace_end);
    match &old.expires_at {
        Some(e) if *e < grace_end => e.clone(),
        _ => grace_end,
    }
}
