//! A realm's HTTP Basic credentials (RFC 7617), for identity providers that offer only
//! Basic: a username and a password, generated and shown once (kept as SHA-256), or chosen by
//! the operator (kept as Argon2id). Deleting one is its revocation.

use serde::Serialize;
use serde_json::{json, Value};

use super::input::{self, check_text, object};
use super::tokens::SCIM_SCOPES;
use super::{Actor, AdminError, AdminResult, AdminService, Listed};
use crate::service::auth::{mint_secret_with, SCIM_SCOPE};
use crate::service::password;
use crate::store::{BasicCredential, PasswordKind, Realm, StoreError};

/// Enough for every identity provider and a rotation each.
pub const MAX_BASIC_CREDENTIALS: usize = 20;
/// Generated passwords say what they are, as every scimd secret does.
pub const BASIC_PASSWORD_PREFIX: &str = "scimd_basic_";
/// A chosen password shorter than this is a guessable one.
const MIN_CHOSEN: usize = 16;
const MAX_CHOSEN: usize = 256;
const MAX_USERNAME: usize = 200;
const FIELDS: &[&str] = &[
    "username",
    "password",
    "scopes",
    "description",
    "expires_in_days",
    "expires_at",
];
const READ_ONLY: &[&str] = &[
    "id",
    "password_kind",
    "status",
    "created_at",
    "created_by",
    "last_used_at",
];

#[derive(Debug, Serialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum BasicStatus {
    Active,
    Expired,
}

#[derive(Debug, Serialize)]
pub struct BasicCredentialView {
    pub id: String,
    pub username: String,
    pub scopes: Vec<String>,
    pub description: String,
    /// `generated` (scimd made it) or `chosen` (the operator gave it).
    pub password_kind: &'static str,
    pub status: BasicStatus,
    pub created_at: String,
    pub created_by: String,
    pub expires_at: Option<String>,
    pub last_used_at: Option<String>,
    /// A generated password: in the response that created it, and nowhere else ever.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub password: Option<String>,
}

impl BasicCredentialView {
    fn new(c: BasicCredential, now: &str) -> Self {
        BasicCredentialView {
            status: if c.expires_at.as_deref().is_some_and(|e| e <= now) {
                BasicStatus::Expired
            } else {
                BasicStatus::Active
            },
            password_kind: match c.kind {
                PasswordKind::Generated => "generated",
                PasswordKind::Chosen => "chosen",
            },
            id: c.id,
            username: c.username,
            scopes: c.scopes,
            description: c.description,
            created_at: c.created_at,
            created_by: c.created_by,
            expires_at: c.expires_at,
            last_used_at: c.last_used_at,
            password: None,
        }
    }
}

fn no_credential(realm: &Realm, id: &str) -> AdminError {
    AdminError::NotFound(format!(
        "realm '{}' of tenant '{}' has no Basic credential '{id}'",
        realm.name, realm.tenant
    ))
}

fn target(realm: &Realm, id: &str) -> String {
    format!(
        "tenants/{}/realms/{}/basic-credentials/{id}",
        realm.tenant, realm.name
    )
}

/// RFC 7617 §2: the user-id cannot hold a colon (the first one ends it).
fn username(map: &serde_json::Map<String, Value>) -> AdminResult<String> {
    let name = input::opt_str(map, "username")?.ok_or_else(|| {
        AdminError::invalid(
            "username",
            "username is required: what the identity provider sends as the Basic user",
        )
    })?;
    check_text("username", &name, MAX_USERNAME, false)?;
    if name.contains(':') {
        return Err(AdminError::invalid(
            "username",
            "a Basic username cannot contain ':' (RFC 7617: the first colon ends it)",
        ));
    }
    if name.trim() != name {
        return Err(AdminError::invalid(
            "username",
            "username has leading or trailing spaces, which identity providers often trim",
        ));
    }
    Ok(name)
}

fn chosen_password(map: &serde_json::Map<String, Value>) -> AdminResult<Option<String>> {
    let Some(p) = input::opt_str(map, "password")? else {
        return Ok(None);
    };
    let chars = p.chars().count();
    if !(MIN_CHOSEN..=MAX_CHOSEN).contains(&chars) {
        return Err(AdminError::invalid(
            "password",
            format!(
                "a chosen password has {MIN_CHOSEN} to {MAX_CHOSEN} characters (this one has \
                 {chars}); or omit password and scimd generates one"
            ),
        ));
    }
    if p.chars().any(char::is_control) {
        return Err(AdminError::invalid(
            "password",
            "the password holds a control character, which no identity provider can send",
        ));
    }
    Ok(Some(p))
}

impl AdminService {
    pub async fn list_basic_credentials(
        &self,
        actor: &Actor,
        tenant: &str,
        realm: &str,
    ) -> AdminResult<Listed<BasicCredentialView>> {
        let realm = self.realm_of(actor, tenant, realm).await?;
        let rows = self.store.list_basic(&realm.id).await?;
        let now = self.now();
        // At most MAX_BASIC_CREDENTIALS: one page holds them all.
        Ok(Listed {
            items: rows
                .into_iter()
                .map(|c| BasicCredentialView::new(c, &now))
                .collect(),
            next_cursor: None,
        })
    }

    pub async fn get_basic_credential(
        &self,
        actor: &Actor,
        tenant: &str,
        realm: &str,
        id: &str,
    ) -> AdminResult<BasicCredentialView> {
        let realm = self.realm_of(actor, tenant, realm).await?;
        let c = self
            .store
            .get_basic(&realm.id, id)
            .await?
            .ok_or_else(|| no_credential(&realm, id))?;
        Ok(BasicCredentialView::new(c, &self.now()))
    }

    pub async fn create_basic_credential(
        &self,
        actor: &Actor,
        tenant: &str,
        realm: &str,
        body: Value,
    ) -> AdminResult<BasicCredentialView> {
        let realm = self.realm_of(actor, tenant, realm).await?;
        let map = object(body, FIELDS, READ_ONLY)?;
        let username = username(&map)?;
        let chosen = chosen_password(&map)?;
        let scopes = input::scopes(&map, SCIM_SCOPES, &[SCIM_SCOPE])?;
        let description = input::description(&map)?.unwrap_or_default();
        let expires_at = input::expiry(&map, self.clock.now())?.map(crate::clock::format);
        // Checked before Argon2 is paid for.
        if self.store.find_basic(&realm.id, &username).await?.is_some() {
            return Err(self.username_taken(&realm, &username).await?);
        }
        let (kind, hash, shown) = match chosen {
            Some(p) => (
                PasswordKind::Chosen,
                password::hash(Some(p))
                    .await
                    .map_err(|e| AdminError::Internal(anyhow::anyhow!("hashing: {e:?}")))?
                    .unwrap_or_default(),
                None,
            ),
            None => {
                let minted = mint_secret_with(BASIC_PASSWORD_PREFIX);
                (PasswordKind::Generated, minted.hash, Some(minted.secret))
            }
        };
        let c = BasicCredential {
            id: uuid::Uuid::now_v7().to_string(),
            realm_id: realm.id.clone(),
            username,
            password_hash: hash,
            kind,
            scopes,
            description,
            created_at: self.now(),
            created_by: actor.id.clone(),
            expires_at,
            last_used_at: None,
        };
        match self.store.insert_basic(&c, MAX_BASIC_CREDENTIALS).await {
            Err(StoreError::Conflict) => {
                return Err(self.username_taken(&realm, &c.username).await?)
            }
            r => r?,
        }
        self.audit(
            actor,
            Some(&realm.tenant),
            "basic_credential.create",
            target(&realm, &c.id),
            json!({"username": c.username, "scopes": c.scopes, "expires_at": c.expires_at,
                "password_kind": c.kind.as_str()}),
        )
        .await;
        let mut view = BasicCredentialView::new(c, &self.now());
        view.password = shown;
        Ok(view)
    }

    /// A conflict: the username is taken, or the realm holds its maximum.
    async fn username_taken(&self, realm: &Realm, username: &str) -> AdminResult<AdminError> {
        Ok(match self.store.find_basic(&realm.id, username).await? {
            Some(same) => AdminError::Conflict {
                detail: format!(
                    "the realm already has a Basic credential for username '{username}'; \
                     delete it first to replace it, or choose another username to rotate \
                     without downtime"
                ),
                existing_id: same.id,
            },
            None => AdminError::Conflict {
                detail: format!(
                    "realm '{}' already has {MAX_BASIC_CREDENTIALS} Basic credentials; delete \
                     one it no longer uses first",
                    realm.name
                ),
                existing_id: realm.name.clone(),
            },
        })
    }

    pub async fn delete_basic_credential(
        &self,
        actor: &Actor,
        tenant: &str,
        realm: &str,
        id: &str,
    ) -> AdminResult<()> {
        let realm = self.realm_of(actor, tenant, realm).await?;
        if !self.store.delete_basic(&realm.id, id).await? {
            return Err(no_credential(&realm, id));
        }
        self.audit(
            actor,
            Some(tenant),
            "basic_credential.delete",
            target(&realm, id),
            json!({}),
        )
        .await;
        Ok(())
    }
}
