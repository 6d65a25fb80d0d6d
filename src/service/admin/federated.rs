//! Federated credentials of an OAuth client (workload identity federation): which issuer's
//! JWTs, with which subject and audience, authenticate the client instead of a secret.
//! Entra's shape is a preset: its tenant id fills in the issuer and the JWKS URL.

use serde::Serialize;
use serde_json::{json, Map, Value};

use super::clients::{no_client, target};
use super::input::{self, check_text, object};
use super::{Actor, AdminError, AdminResult, AdminService};
use crate::service::jwks::check_url;
use crate::store::{FederatedCredential, Realm, StoreError};

/// Enough for one per identity-provider tenant a client serves, few enough to audit.
pub const MAX_FEDERATED: usize = 20;
pub(super) const MAX_CLAIM: usize = 1024;
const FIELDS: &[&str] = &[
    "name",
    "preset",
    "entra_tenant_id",
    "issuer",
    "subject",
    "audience",
    "jwks_url",
];

#[derive(Debug, Serialize)]
pub struct FederatedView {
    pub id: String,
    pub name: String,
    pub issuer: String,
    pub subject: String,
    pub audience: String,
    /// None: the keys come from the issuer's OpenID discovery document.
    pub jwks_url: Option<String>,
    pub created_at: String,
    pub created_by: String,
    pub last_used_at: Option<String>,
}

impl From<FederatedCredential> for FederatedView {
    fn from(f: FederatedCredential) -> Self {
        FederatedView {
            id: f.id,
            name: f.name,
            issuer: f.issuer,
            subject: f.subject,
            audience: f.audience,
            jwks_url: f.jwks_url,
            created_at: f.created_at,
            created_by: f.created_by,
            last_used_at: f.last_used_at,
        }
    }
}

/// A claim compared exactly: no blank, no surrounding spaces.
pub(super) fn claim(map: &Map<String, Value>, field: &str) -> AdminResult<Option<String>> {
    let v = input::opt_str(map, field)?;
    if let Some(s) = &v {
        check_text(field, s, MAX_CLAIM, false)?;
        if s.trim() != s {
            return Err(AdminError::invalid(
                field,
                format!("{field} must not start or end with spaces: it is compared exactly"),
            ));
        }
    }
    Ok(v)
}

fn required(v: Option<String>, field: &str, why: &str) -> AdminResult<String> {
    v.ok_or_else(|| AdminError::invalid(field, format!("{field} is required{why}")))
}

/// The directory (tenant) id an `entra` preset names: a GUID.
pub(super) fn entra_tenant_id(map: &Map<String, Value>) -> AdminResult<String> {
    let tid = required(
        input::opt_str(map, "entra_tenant_id")?,
        "entra_tenant_id",
        " with the entra preset (the directory (tenant) id, a GUID)",
    )?;
    if uuid::Uuid::parse_str(&tid).is_err() {
        return Err(AdminError::invalid(
            "entra_tenant_id",
            format!("entra_tenant_id must be the directory (tenant) id, a GUID, not '{tid}'"),
        ));
    }
    Ok(tid)
}

/// Issuer and key location: given, or Entra's for its tenant id.
fn issuer_and_keys(map: &Map<String, Value>) -> AdminResult<(String, Option<String>)> {
    let preset = input::opt_str(map, "preset")?;
    let issuer = claim(map, "issuer")?;
    let jwks_url = claim(map, "jwks_url")?;
    match preset.as_deref() {
        None => {
            let issuer = required(issuer, "issuer", " (or \"preset\": \"entra\")")?;
            match &jwks_url {
                Some(u) => check_url(u).map_err(|e| AdminError::invalid("jwks_url", e))?,
                // Discovery lives under the issuer, so the issuer must be fetchable.
                None => check_url(&issuer).map_err(|e| {
                    AdminError::invalid(
                        "issuer",
                        format!("{e}; or give jwks_url, where the issuer's keys are"),
                    )
                })?,
            }
            Ok((issuer, jwks_url))
        }
        Some("entra") => {
            if issuer.is_some() || jwks_url.is_some() {
                return Err(AdminError::invalid(
                    "preset",
                    "the entra preset sets issuer and jwks_url from entra_tenant_id; omit them",
                ));
            }
            let tid = entra_tenant_id(map)?;
            Ok((
                format!("https://login.microsoftonline.com/{tid}/v2.0"),
                Some(format!(
                    "https://login.microsoftonline.com/{tid}/discovery/v2.0/keys"
                )),
            ))
        }
        Some(other) => Err(AdminError::invalid(
            "preset",
            format!("unknown preset '{other}'; the one preset is \"entra\""),
        )),
    }
}

impl AdminService {
    pub async fn create_federated(
        &self,
        actor: &Actor,
        tenant: &str,
        realm: &str,
        client_id: &str,
        body: Value,
    ) -> AdminResult<FederatedView> {
        let realm = self.realm_of(actor, tenant, realm).await?;
        let map = object(
            body,
            FIELDS,
            &["id", "created_at", "created_by", "last_used_at"],
        )?;
        if map.contains_key("entra_tenant_id") && map.get("preset").is_none() {
            return Err(AdminError::invalid(
                "entra_tenant_id",
                "entra_tenant_id goes with \"preset\": \"entra\"",
            ));
        }
        let (issuer, jwks_url) = issuer_and_keys(&map)?;
        let cred = FederatedCredential {
            id: uuid::Uuid::now_v7().to_string(),
            realm_id: realm.id.clone(),
            client_id: client_id.to_owned(),
            name: input::opt_str(&map, "name")?.unwrap_or_default(),
            issuer,
            subject: required(claim(&map, "subject")?, "subject", "")?,
            audience: required(claim(&map, "audience")?, "audience", "")?,
            jwks_url,
            created_at: self.now(),
            created_by: actor.id.clone(),
            last_used_at: None,
        };
        check_text("name", &cred.name, 200, true)?;
        match self.store.insert_federated(&cred, MAX_FEDERATED).await {
            Err(StoreError::NotFound) => return Err(no_client(&realm, client_id)),
            Err(StoreError::Conflict) => return Err(self.why_conflict(&realm, &cred).await?),
            r => r?,
        }
        self.audit(
            actor,
            Some(&realm.tenant),
            "oauth_client.federated.create",
            format!(
                "{}/federated-credentials/{}",
                target(&realm, client_id),
                cred.id
            ),
            json!({"issuer": cred.issuer, "subject": cred.subject, "audience": cred.audience,
                "jwks_url": cred.jwks_url}),
        )
        .await;
        Ok(cred.into())
    }

    /// A duplicate of one the client has, or one too many.
    async fn why_conflict(
        &self,
        realm: &Realm,
        cred: &FederatedCredential,
    ) -> AdminResult<AdminError> {
        let held = self
            .store
            .list_federated(&realm.id, &cred.client_id)
            .await?;
        Ok(
            match held.iter().find(|f| {
                (&f.issuer, &f.subject, &f.audience)
                    == (&cred.issuer, &cred.subject, &cred.audience)
            }) {
                Some(same) => AdminError::Conflict {
                    detail: "the client already has a federated credential with this issuer, \
                         subject and audience"
                        .into(),
                    existing_id: same.id.clone(),
                },
                None => AdminError::Conflict {
                    detail: format!(
                        "OAuth client '{}' already has {MAX_FEDERATED} federated credentials; \
                     delete one it no longer uses first",
                        cred.client_id
                    ),
                    existing_id: cred.client_id.clone(),
                },
            },
        )
    }

    pub async fn delete_federated(
        &self,
        actor: &Actor,
        tenant: &str,
        realm: &str,
        client_id: &str,
        id: &str,
    ) -> AdminResult<()> {
        let realm = self.realm_of(actor, tenant, realm).await?;
        if !self
            .store
            .delete_federated(&realm.id, client_id, id)
            .await?
        {
            if self.store.get_client(&realm.id, client_id).await?.is_none() {
                return Err(no_client(&realm, client_id));
            }
            return Err(AdminError::NotFound(format!(
                "OAuth client '{client_id}' has no federated credential '{id}'"
            )));
        }
        self.audit(
            actor,
            Some(tenant),
            "oauth_client.federated.delete",
            format!("{}/federated-credentials/{id}", target(&realm, client_id)),
            json!({}),
        )
        .await;
        Ok(())
    }
}
