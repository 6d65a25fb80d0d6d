//! A realm's trusted issuers (JWT bearer): whose JWTs the realm's SCIM endpoints accept as
//! bearer tokens, for which audience (and subject), with which scopes. Entra's own access
//! token for its provisioning service is a preset: its tenant id fills in the rest.

use std::collections::BTreeMap;

use serde::Serialize;
use serde_json::{json, Map, Value};

use super::clients::enabled;
use super::federated::{claim, entra_tenant_id, MAX_CLAIM};
use super::input::{self, check_text, object};
use super::tokens::SCIM_SCOPES;
use super::{Actor, AdminError, AdminResult, AdminService, Listed};
use crate::service::auth::SCIM_SCOPE;
use crate::service::jwks::check_url;
use crate::store::{Realm, StoreError, TrustedIssuer};

/// Enough for every identity provider a realm is fed by, few enough to audit.
pub const MAX_TRUSTED_ISSUERS: usize = 20;
/// The application id of Microsoft's provisioning service: the audience of the token Entra
/// sends a SCIM app when it authenticates with its own token.
pub const ENTRA_PROVISIONING_AUDIENCE: &str = "8adf8e6e-67b2-4cf2-a259-e3dc5476c621";
const MAX_MAPPINGS: usize = 50;
const FIELDS: &[&str] = &[
    "name",
    "preset",
    "entra_tenant_id",
    "issuer",
    "audience",
    "subject",
    "jwks_url",
    "scopes",
    "scope_claim",
    "scope_values",
    "enabled",
];
const UPDATE_FIELDS: &[&str] = &[
    "name",
    "audience",
    "subject",
    "jwks_url",
    "scopes",
    "scope_claim",
    "scope_values",
    "enabled",
];
const READ_ONLY: &[&str] = &[
    "id",
    "created_at",
    "created_by",
    "updated_at",
    "last_used_at",
];

#[derive(Debug, Serialize)]
pub struct TrustedIssuerView {
    pub id: String,
    pub name: String,
    pub issuer: String,
    pub audience: String,
    pub subject: Option<String>,
    /// None: the keys come from the issuer's OpenID discovery document.
    pub jwks_url: Option<String>,
    /// Granted to every JWT when `scope_claim` is null.
    pub scopes: Vec<String>,
    pub scope_claim: Option<String>,
    pub scope_values: BTreeMap<String, String>,
    pub enabled: bool,
    pub created_at: String,
    pub created_by: String,
    pub updated_at: String,
    pub last_used_at: Option<String>,
}

impl From<TrustedIssuer> for TrustedIssuerView {
    fn from(t: TrustedIssuer) -> Self {
        TrustedIssuerView {
            id: t.id,
            name: t.name,
            issuer: t.issuer,
            audience: t.audience,
            subject: t.subject,
            jwks_url: t.jwks_url,
            scopes: if t.scope_claim.is_some() {
                Vec::new()
            } else {
                t.scopes
            },
            scope_claim: t.scope_claim,
            scope_values: t.scope_values,
            enabled: t.enabled,
            created_at: t.created_at,
            created_by: t.created_by,
            updated_at: t.updated_at,
            last_used_at: t.last_used_at,
        }
    }
}

fn no_issuer(realm: &Realm, id: &str) -> AdminError {
    AdminError::NotFound(format!(
        "realm '{}' of tenant '{}' has no trusted issuer '{id}'",
        realm.name, realm.tenant
    ))
}

fn target(realm: &Realm, id: &str) -> String {
    format!(
        "tenants/{}/realms/{}/trusted-issuers/{id}",
        realm.tenant, realm.name
    )
}

/// Whether the body sets `field`, to a value or to null (which clears it).
fn sets(map: &Map<String, Value>, field: &str) -> bool {
    map.contains_key(field)
}

fn check_keys(t: &TrustedIssuer) -> AdminResult<()> {
    match &t.jwks_url {
        Some(u) => check_url(u).map_err(|e| AdminError::invalid("jwks_url", e)),
        // Discovery lives under the issuer, so the issuer must be fetchable.
        None => check_url(&t.issuer).map_err(|e| {
            AdminError::invalid(
                "issuer",
                format!("{e}; or give jwks_url, where the issuer's keys are"),
            )
        }),
    }
}

/// Issuer, audience and key location: given, or Entra's for its tenant id.
fn identity(map: &Map<String, Value>) -> AdminResult<(String, String, Option<String>)> {
    let preset = input::opt_str(map, "preset")?;
    let issuer = claim(map, "issuer")?;
    let audience = claim(map, "audience")?;
    let jwks_url = claim(map, "jwks_url")?;
    match preset.as_deref() {
        None => {
            if map.contains_key("entra_tenant_id") {
                return Err(AdminError::invalid(
                    "entra_tenant_id",
                    "entra_tenant_id goes with \"preset\": \"entra\"",
                ));
            }
            let issuer = issuer.ok_or_else(|| {
                AdminError::invalid("issuer", "issuer is required (or \"preset\": \"entra\")")
            })?;
            let audience = audience.ok_or_else(|| {
                AdminError::invalid(
                    "audience",
                    "audience is required: the aud the issuer's tokens for scimd carry",
                )
            })?;
            Ok((issuer, audience, jwks_url))
        }
        Some("entra") => {
            if issuer.is_some() || jwks_url.is_some() {
                return Err(AdminError::invalid(
                    "preset",
                    "the entra preset sets issuer and jwks_url from entra_tenant_id; omit them",
                ));
            }
            let tid = entra_tenant_id(map)?;
            // Entra's provisioning service sends a v1 token: its issuer is sts.windows.net.
            Ok((
                format!("https://sts.windows.net/{tid}/"),
                audience.unwrap_or_else(|| ENTRA_PROVISIONING_AUDIENCE.to_owned()),
                Some(format!(
                    "https://login.microsoftonline.com/{tid}/discovery/keys"
                )),
            ))
        }
        Some(other) => Err(AdminError::invalid(
            "preset",
            format!("unknown preset '{other}'; the one preset is \"entra\""),
        )),
    }
}

fn scope_values(map: &Map<String, Value>) -> AdminResult<Option<BTreeMap<String, String>>> {
    let bad = |detail: String| AdminError::invalid("scope_values", detail);
    match map.get("scope_values") {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Object(m)) => {
            if m.len() > MAX_MAPPINGS {
                return Err(bad(format!(
                    "scope_values maps at most {MAX_MAPPINGS} claim values"
                )));
            }
            let mut out = BTreeMap::new();
            for (k, v) in m {
                check_text("scope_values", k, MAX_CLAIM, false)?;
                let Some(scope) = v.as_str().filter(|s| SCIM_SCOPES.contains(s)) else {
                    return Err(bad(format!(
                        "scope_values maps a claim value to a scope ({}); '{k}' maps to {v}",
                        SCIM_SCOPES.join(" or ")
                    )));
                };
                out.insert(k.clone(), scope.to_owned());
            }
            Ok(Some(out))
        }
        Some(_) => Err(bad(
            "scope_values must be an object of claim value → scope, for example \
             {\"SCIM.Provisioner\": \"scim:all\"}"
                .into(),
        )),
    }
}

/// Applies the scope fields of `map` to `t`: fixed `scopes`, or `scope_claim` with
/// `scope_values`, never both; then checks the result is whole.
fn apply_scopes(t: &mut TrustedIssuer, map: &Map<String, Value>) -> AdminResult<()> {
    if sets(map, "scopes") && map.get("scopes") != Some(&Value::Null) {
        t.scopes = input::scopes(map, SCIM_SCOPES, &[SCIM_SCOPE])?;
        if !sets(map, "scope_claim") {
            // Fixed scopes given alone replace a mapping.
            t.scope_claim = None;
            t.scope_values.clear();
        }
    }
    if sets(map, "scope_claim") {
        let had = t.scope_claim.is_some();
        t.scope_claim = claim(map, "scope_claim")?;
        if had && t.scope_claim.is_none() {
            // Dropping the mapping must not quietly grant what was stored before it.
            if !sets(map, "scopes") || map.get("scopes") == Some(&Value::Null) {
                return Err(AdminError::invalid(
                    "scopes",
                    "without scope_claim every token gets the same scopes: name them in \
                     scopes",
                ));
            }
            t.scope_values.clear();
        }
    }
    if let Some(v) = scope_values(map)? {
        t.scope_values = v;
    }
    if t.scope_claim.is_some() {
        if sets(map, "scopes") && map.get("scopes") != Some(&Value::Null) {
            return Err(AdminError::invalid(
                "scopes",
                "give scopes (the same for every token) or scope_claim with scope_values \
                 (read from each token), not both",
            ));
        }
        if t.scope_values.is_empty() {
            return Err(AdminError::invalid(
                "scope_values",
                "scope_claim needs scope_values: which of the claim's values grant which \
                 scope, for example {\"SCIM.Provisioner\": \"scim:all\"}",
            ));
        }
    } else if !t.scope_values.is_empty() && sets(map, "scope_values") {
        return Err(AdminError::invalid(
            "scope_claim",
            "scope_values goes with scope_claim: the claim whose values they map",
        ));
    }
    Ok(())
}

impl AdminService {
    async fn issuer_of(&self, realm: &Realm, id: &str) -> AdminResult<TrustedIssuer> {
        self.store
            .get_trusted_issuer(&realm.id, id)
            .await?
            .ok_or_else(|| no_issuer(realm, id))
    }

    pub async fn list_trusted_issuers(
        &self,
        actor: &Actor,
        tenant: &str,
        realm: &str,
    ) -> AdminResult<Listed<TrustedIssuerView>> {
        let realm = self.realm_of(actor, tenant, realm).await?;
        let rows = self.store.list_trusted_issuers(&realm.id).await?;
        // At most MAX_TRUSTED_ISSUERS: one page holds them all.
        Ok(Listed {
            items: rows.into_iter().map(Into::into).collect(),
            next_cursor: None,
        })
    }

    pub async fn get_trusted_issuer(
        &self,
        actor: &Actor,
        tenant: &str,
        realm: &str,
        id: &str,
    ) -> AdminResult<TrustedIssuerView> {
        let realm = self.realm_of(actor, tenant, realm).await?;
        Ok(self.issuer_of(&realm, id).await?.into())
    }

    pub async fn create_trusted_issuer(
        &self,
        actor: &Actor,
        tenant: &str,
        realm: &str,
        body: Value,
    ) -> AdminResult<TrustedIssuerView> {
        let realm = self.realm_of(actor, tenant, realm).await?;
        let map = object(body, FIELDS, READ_ONLY)?;
        let (issuer, audience, jwks_url) = identity(&map)?;
        let now = self.now();
        let name = input::opt_str(&map, "name")?.ok_or_else(|| {
            AdminError::invalid("name", "name is required: what this issuer is, to people")
        })?;
        check_text("name", &name, 200, false)?;
        let mut t = TrustedIssuer {
            id: uuid::Uuid::now_v7().to_string(),
            realm_id: realm.id.clone(),
            name,
            issuer,
            audience,
            subject: claim(&map, "subject")?,
            jwks_url,
            scopes: vec![SCIM_SCOPE.to_owned()],
            scope_claim: None,
            scope_values: BTreeMap::new(),
            enabled: enabled(&map)?.unwrap_or(true),
            created_at: now.clone(),
            created_by: actor.id.clone(),
            updated_at: now,
            last_used_at: None,
        };
        apply_scopes(&mut t, &map)?;
        check_keys(&t)?;
        match self
            .store
            .insert_trusted_issuer(&t, MAX_TRUSTED_ISSUERS)
            .await
        {
            Err(StoreError::Conflict) => return Err(self.issuer_conflict(&realm, &t).await?),
            r => r?,
        }
        self.audit(
            actor,
            Some(&realm.tenant),
            "trusted_issuer.create",
            target(&realm, &t.id),
            json!({"issuer": t.issuer, "audience": t.audience, "subject": t.subject,
                "jwks_url": t.jwks_url, "enabled": t.enabled}),
        )
        .await;
        Ok(t.into())
    }

    async fn issuer_conflict(&self, realm: &Realm, t: &TrustedIssuer) -> AdminResult<AdminError> {
        let held = self.store.list_trusted_issuers(&realm.id).await?;
        Ok(
            match held.iter().find(|h| h.name == t.name && h.id != t.id) {
                Some(same) => AdminError::Conflict {
                    detail: format!("the realm already has a trusted issuer named '{}'", t.name),
                    existing_id: same.id.clone(),
                },
                None => AdminError::Conflict {
                    detail: format!(
                        "realm '{}' already trusts {MAX_TRUSTED_ISSUERS} issuers; delete one it \
                     no longer uses first",
                        realm.name
                    ),
                    existing_id: realm.name.clone(),
                },
            },
        )
    }

    /// Changes what the body names. The issuer itself is fixed: a different issuer is a
    /// different trust, created anew.
    pub async fn update_trusted_issuer(
        &self,
        actor: &Actor,
        tenant: &str,
        realm: &str,
        id: &str,
        body: Value,
    ) -> AdminResult<TrustedIssuerView> {
        let realm = self.realm_of(actor, tenant, realm).await?;
        let mut read_only = READ_ONLY.to_vec();
        read_only.extend(["issuer", "preset", "entra_tenant_id"]);
        let map = object(body, UPDATE_FIELDS, &read_only)?;
        let mut t = self.issuer_of(&realm, id).await?;
        if let Some(name) = input::opt_str(&map, "name")? {
            check_text("name", &name, 200, false)?;
            t.name = name;
        }
        if sets(&map, "audience") {
            t.audience = claim(&map, "audience")?.ok_or_else(|| {
                AdminError::invalid("audience", "audience cannot be cleared, only changed")
            })?;
        }
        if sets(&map, "subject") {
            t.subject = claim(&map, "subject")?;
        }
        if sets(&map, "jwks_url") {
            t.jwks_url = claim(&map, "jwks_url")?;
        }
        if let Some(e) = enabled(&map)? {
            t.enabled = e;
        }
        apply_scopes(&mut t, &map)?;
        check_keys(&t)?;
        t.updated_at = self.now();
        match self.store.update_trusted_issuer(&t).await {
            Err(StoreError::NotFound) => return Err(no_issuer(&realm, id)),
            Err(StoreError::Conflict) => return Err(self.issuer_conflict(&realm, &t).await?),
            r => r?,
        }
        self.audit(
            actor,
            Some(&realm.tenant),
            "trusted_issuer.update",
            target(&realm, id),
            Value::Object(map),
        )
        .await;
        Ok(t.into())
    }

    pub async fn delete_trusted_issuer(
        &self,
        actor: &Actor,
        tenant: &str,
        realm: &str,
        id: &str,
    ) -> AdminResult<()> {
        let realm = self.realm_of(actor, tenant, realm).await?;
        if !self.store.delete_trusted_issuer(&realm.id, id).await? {
            return Err(no_issuer(&realm, id));
        }
        self.audit(
            actor,
            Some(tenant),
            "trusted_issuer.delete",
            target(&realm, id),
            json!({}),
        )
        .await;
        Ok(())
    }
}
