//! Admin tokens: the admin API's credentials, global or limited to one tenant, and checking
//! one a request presents.

use serde_json::{json, Value};
use subtle::ConstantTimeEq;

use super::input::{self, object};
use super::view::AdminTokenView;
use super::{
    listed, Actor, AdminError, AdminResult, AdminService, Listed, PageRequest, ADMIN_SCOPE,
    ADMIN_TOKEN_PREFIX,
};
use crate::service::auth::{hash_secret, mint_secret_with, SCIM_READ_SCOPE, SCIM_SCOPE};
use crate::store::{AdminToken, Store};

const CREATE_FIELDS: &[&str] = &[
    "name",
    "description",
    "scopes",
    "expires_in_days",
    "expires_at",
];
const READ_ONLY: &[&str] = &[
    "id",
    "tenant_id",
    "status",
    "created_at",
    "created_by",
    "last_used_at",
];
const ADMIN_SCOPES: &[&str] = &[ADMIN_SCOPE, SCIM_SCOPE, SCIM_READ_SCOPE];
/// A use is written at most this often per token: the admin API stays one write per change,
/// not one per read.
const USE_RESOLUTION_MS: i64 = 60_000;

fn no_admin_token(id: &str) -> AdminError {
    AdminError::NotFound(format!("there is no admin token '{id}' here"))
}

fn target(tenant: Option<&str>, id: &str) -> String {
    match tenant {
        Some(t) => format!("tenants/{t}/admin-tokens/{id}"),
        None => format!("admin-tokens/{id}"),
    }
}

impl AdminService {
    /// Global tokens need a global admin; a tenant's, an admin of that tenant (or global).
    async fn admin_token_scope(&self, actor: &Actor, tenant: Option<&str>) -> AdminResult<()> {
        match tenant {
            None => actor.require_global("managing global admin tokens"),
            Some(t) => {
                actor.see(t)?;
                self.tenant_exists(t).await
            }
        }
    }

    pub async fn list_admin_tokens(
        &self,
        actor: &Actor,
        tenant: Option<&str>,
        req: &PageRequest,
    ) -> AdminResult<Listed<AdminTokenView>> {
        self.admin_token_scope(actor, tenant).await?;
        let (page, limit) = req.page()?;
        let rows = self.store.page_admin_tokens(tenant, &page).await?;
        let now = self.now();
        Ok(listed(
            rows,
            limit,
            |t| t.id.clone(),
            |t| AdminTokenView::new(t, &now),
        ))
    }

    async fn admin_token_in(&self, tenant: Option<&str>, id: &str) -> AdminResult<AdminToken> {
        match self.store.get_admin_token(id).await? {
            Some(t) if t.revoked_at.is_none() && t.tenant.as_deref() == tenant => Ok(t),
            _ => Err(no_admin_token(id)),
        }
    }

    pub async fn get_admin_token(
        &self,
        actor: &Actor,
        tenant: Option<&str>,
        id: &str,
    ) -> AdminResult<AdminTokenView> {
        self.admin_token_scope(actor, tenant).await?;
        let t = self.admin_token_in(tenant, id).await?;
        Ok(AdminTokenView::new(t, &self.now()))
    }

    pub async fn create_admin_token(
        &self,
        actor: &Actor,
        tenant: Option<&str>,
        body: Value,
    ) -> AdminResult<AdminTokenView> {
        self.admin_token_scope(actor, tenant).await?;
        let map = object(body, CREATE_FIELDS, READ_ONLY)?;
        let mut scopes = input::scopes(&map, ADMIN_SCOPES, &[ADMIN_SCOPE])?;
        if !scopes.iter().any(|s| s == ADMIN_SCOPE) {
            scopes.insert(0, ADMIN_SCOPE.to_owned());
        }
        let minted = mint_secret_with(ADMIN_TOKEN_PREFIX);
        let token = AdminToken {
            id: uuid::Uuid::now_v7().to_string(),
            tenant: tenant.map(str::to_owned),
            name: input::token_name(&map, true)?.unwrap_or_default(),
            description: input::description(&map)?.unwrap_or_default(),
            token_hash: minted.hash,
            scopes,
            created_at: self.now(),
            created_by: actor.id.clone(),
            expires_at: input::expiry(&map, self.clock.now())?.map(crate::clock::format),
            revoked_at: None,
            last_used_at: None,
        };
        self.store.insert_admin_token(&token).await?;
        let detail =
            json!({"name": token.name, "scopes": token.scopes, "expires_at": token.expires_at});
        self.audit(
            actor,
            tenant,
            "admin_token.create",
            target(tenant, &token.id),
            detail,
        )
        .await;
        let mut view = AdminTokenView::new(token, &self.now());
        view.token_value = Some(minted.secret);
        Ok(view)
    }

    pub async fn revoke_admin_token(
        &self,
        actor: &Actor,
        tenant: Option<&str>,
        id: &str,
    ) -> AdminResult<()> {
        self.admin_token_scope(actor, tenant).await?;
        self.admin_token_in(tenant, id).await?;
        if !self.store.revoke_admin_token(id, &self.now()).await? {
            return Err(no_admin_token(id));
        }
        self.audit(
            actor,
            tenant,
            "admin_token.revoke",
            target(tenant, id),
            json!({}),
        )
        .await;
        Ok(())
    }

    /// The admin token a request presents, checked: known, unrevoked, unexpired, with the
    /// admin scope. Anything else is 401, and says only which of those it was.
    pub async fn authenticate_admin(
        &self,
        bearer: Option<&str>,
        address: Option<String>,
    ) -> AdminResult<(Actor, AdminToken)> {
        let secret = bearer.ok_or_else(|| {
            AdminError::Unauthorized(
                "the admin API needs an admin token: send 'Authorization: Bearer scimd_admin_...'"
                    .into(),
            )
        })?;
        let t = check_admin_secret(self.store.as_ref(), &self.now(), secret).await?;
        if !t.scopes.iter().any(|s| s == ADMIN_SCOPE) {
            return Err(AdminError::Forbidden(format!(
                "admin token '{}' lacks the '{ADMIN_SCOPE}' scope",
                t.id
            )));
        }
        self.note_admin_use(&t).await;
        let actor = Actor {
            id: format!("admin-token:{}", t.id),
            tenant: t.tenant.clone(),
            address,
            request_id: None,
        };
        Ok((actor, t))
    }

    async fn note_admin_use(&self, t: &AdminToken) {
        let now = self.clock.now();
        let recent = t
            .last_used_at
            .as_deref()
            .and_then(|s| chrono::DateTime::parse_from_rfc3339(s).ok())
            .is_some_and(|at| (now.timestamp_millis() - at.timestamp_millis()) < USE_RESOLUTION_MS);
        if recent {
            return;
        }
        if let Err(e) = self
            .store
            .record_admin_token_use(&t.id, &crate::clock::format(now))
            .await
        {
            tracing::warn!(error = %e, "recording an admin token's last use failed");
        }
    }
}

/// The live admin token this secret is: known, unrevoked, unexpired at `now`.
pub async fn check_admin_secret(
    store: &dyn Store,
    now: &str,
    secret: &str,
) -> AdminResult<AdminToken> {
    let invalid = || {
        AdminError::Unauthorized(
            "the bearer token is not a valid admin token (SCIM tokens do not reach the admin API)"
                .into(),
        )
    };
    if !secret.starts_with(ADMIN_TOKEN_PREFIX) {
        return Err(invalid());
    }
    let hash = hash_secret(secret);
    let t = store.find_admin_token(&hash).await?.ok_or_else(invalid)?;
    // Found by hash; compared again in constant time so timing says nothing either way.
    if !bool::from(hash.as_bytes().ct_eq(t.token_hash.as_bytes())) {
        return Err(invalid());
    }
    if t.revoked_at.is_some() {
        return Err(AdminError::Unauthorized(
            "the admin token has been revoked".into(),
        ));
    }
    if t.expires_at.as_deref().is_some_and(|e| e <= now) {
        return Err(AdminError::Unauthorized(
            "the admin token has expired".into(),
        ));
    }
    Ok(t)
}
