//! Operator use cases: tenants, realms, their SCIM tokens, admin tokens and the audit record,
//! for the admin API and the CLI alike, and the first-start bootstrap.

pub mod admin_tokens;
pub mod basic;
mod cli;
pub mod clients;
pub mod error;
pub mod events;
pub mod federated;
pub mod input;
mod realms;
mod tenants;
mod tokens;
pub mod trusted;
pub mod view;
pub mod webhooks;

use std::sync::Arc;

use base64::Engine;
use serde_json::Value;

pub use error::{AdminError, AdminResult};
pub use view::Listed;

use crate::clock::Clock;
use crate::service::auth_cache::AuthCache;
use crate::store::{AuditEvent, Page, Realm, Store, TokenInfo};

pub const DEFAULT_TENANT: &str = "default";
pub const DEFAULT_REALM: &str = "default";
/// Admin tokens say what they are, so a secret scanner (or a person) can tell them from SCIM
/// tokens.
pub const ADMIN_TOKEN_PREFIX: &str = "scimd_admin_";
pub const ADMIN_SCOPE: &str = "admin";

const DEFAULT_PAGE: u32 = 50;
const MAX_PAGE: u32 = 200;

/// A token as created: its secret is here, and nowhere else, ever again.
pub struct CreatedToken {
    pub info: TokenInfo,
    pub secret: String,
}

/// Who is acting, for permission checks and the audit record.
#[derive(Debug, Clone)]
pub struct Actor {
    /// `admin-token:<id>` or `cli`.
    pub id: String,
    /// The tenant an admin token is limited to; `None` for a global admin.
    pub tenant: Option<String>,
    /// The client's address, when the request came over the network.
    pub address: Option<String>,
    /// The request's `X-Request-Id`, recorded with what it changes.
    pub request_id: Option<String>,
}

impl Actor {
    /// The CLI on a host that reaches the database: a global admin.
    pub fn cli() -> Self {
        Actor {
            id: "cli".into(),
            tenant: None,
            address: None,
            request_id: None,
        }
    }

    /// Another tenant is invisible to a tenant admin: 404, exactly as if it did not exist, so
    /// its name does not leak.
    fn see(&self, tenant: &str) -> AdminResult<()> {
        match &self.tenant {
            Some(own) if own != tenant => Err(no_tenant(tenant)),
            _ => Ok(()),
        }
    }

    fn require_global(&self, what: &str) -> AdminResult<()> {
        if self.tenant.is_some() {
            return Err(AdminError::Forbidden(format!(
                "{what} needs a global admin token; this one is limited to tenant '{}'",
                self.tenant.as_deref().unwrap_or_default()
            )));
        }
        Ok(())
    }
}

fn no_tenant(tenant: &str) -> AdminError {
    AdminError::NotFound(format!("there is no tenant '{tenant}'"))
}

fn no_realm(tenant: &str, realm: &str) -> AdminError {
    AdminError::NotFound(format!("there is no realm '{realm}' in tenant '{tenant}'"))
}

/// A list request as the caller sent it.
#[derive(Debug, Clone, Default)]
pub struct PageRequest {
    pub limit: Option<u32>,
    pub cursor: Option<String>,
    pub name: Option<String>,
}

impl PageRequest {
    /// The store's page, asking for one row more than the page so the next cursor is known.
    fn page(&self) -> AdminResult<(Page, usize)> {
        let limit = self.limit.unwrap_or(DEFAULT_PAGE);
        if !(1..=MAX_PAGE).contains(&limit) {
            return Err(AdminError::invalid(
                "limit",
                format!("limit must be between 1 and {MAX_PAGE}"),
            ));
        }
        let after = self.cursor.as_deref().map(decode_cursor).transpose()?;
        let page = Page {
            after,
            limit: limit + 1,
            name: self.name.clone(),
        };
        Ok((page, limit as usize))
    }
}

fn decode_cursor(c: &str) -> AdminResult<String> {
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(c)
        .ok()
        .and_then(|b| String::from_utf8(b).ok())
        .ok_or_else(|| AdminError::invalid("cursor", "cursor is not one this server gave out"))
}

/// Cuts a page of `limit` from rows fetched with one extra, and names the next page's start.
fn listed<R, T>(
    mut rows: Vec<R>,
    limit: usize,
    key: impl Fn(&R) -> String,
    view: impl Fn(R) -> T,
) -> Listed<T> {
    let next_cursor = (rows.len() > limit).then(|| {
        rows.truncate(limit);
        let last = rows.last().map(&key).unwrap_or_default();
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(last)
    });
    Listed {
        items: rows.into_iter().map(view).collect(),
        next_cursor,
    }
}

pub struct AdminService {
    store: Arc<dyn Store>,
    clock: Arc<dyn Clock>,
    /// The SCIM side's token cache in this process, voided on every admin write: the
    /// database's change notice reaches it a moment later, and a token revoked here must
    /// stop working on the very next request, not after that moment.
    auth_cache: Arc<AuthCache>,
    /// Raised by every SCIM write (here, or announced by another server): wakes the feed's
    /// waiting readers.
    events_written: Arc<crate::service::event_signal::EventSignal>,
    /// Webhook sending: its keys seal new secrets, its guard checks URLs, redelivery sends.
    webhooks: Arc<crate::service::webhooks::Dispatch>,
}

impl AdminService {
    pub fn new(store: Arc<dyn Store>, clock: Arc<dyn Clock>) -> Self {
        let events_written: Arc<crate::service::event_signal::EventSignal> = Arc::default();
        let webhooks = crate::service::webhooks::dispatch(
            store.clone(),
            clock.clone(),
            crate::service::webhooks::Settings::default(),
            events_written.clone(),
        );
        Self {
            store,
            clock,
            auth_cache: Arc::default(),
            events_written,
            webhooks,
        }
    }

    /// Shares the server's webhook sender.
    pub fn with_webhooks(mut self, webhooks: Arc<crate::service::webhooks::Dispatch>) -> Self {
        self.webhooks = webhooks;
        self
    }

    /// Shares the signal the SCIM writes of this process raise.
    pub fn with_event_signal(
        mut self,
        signal: Arc<crate::service::event_signal::EventSignal>,
    ) -> Self {
        self.events_written = signal;
        self
    }

    /// Shares the token cache the server's SCIM requests read.
    pub fn with_auth_cache(mut self, cache: Arc<AuthCache>) -> Self {
        self.auth_cache = cache;
        self
    }

    fn now(&self) -> String {
        self.clock.now_text()
    }

    /// A realm the actor may administer.
    async fn realm_of(&self, actor: &Actor, tenant: &str, realm: &str) -> AdminResult<Realm> {
        actor.see(tenant)?;
        self.store
            .find_realm(tenant, realm)
            .await?
            .ok_or_else(|| no_realm(tenant, realm))
    }

    /// Records an admin action. It has already happened: a failure to record it is logged
    /// loudly, not turned into a failed response for a change that was made.
    async fn audit(
        &self,
        actor: &Actor,
        tenant: Option<&str>,
        action: &str,
        target: String,
        detail: Value,
    ) {
        // Every admin write is audited right after it commits, so this is the one place
        // that catches them all.
        self.auth_cache.changed();
        let event = AuditEvent {
            id: uuid::Uuid::now_v7().to_string(),
            tenant: tenant.map(str::to_owned),
            at: self.now(),
            actor: actor.id.clone(),
            action: action.to_owned(),
            target,
            address: actor.address.clone(),
            detail,
        };
        if let Err(e) = self.store.append_audit(&event).await {
            tracing::error!(error = %e, action, target = %event.target, "recording an admin action failed");
        }
        self.log_realm_action(actor, &event).await;
    }

    /// An admin action on a realm (or on its credentials and webhooks) also goes to the
    /// realm's event log, for its feed and webhooks. Tenant-wide and global actions are in
    /// the audit record only.
    async fn log_realm_action(&self, actor: &Actor, event: &AuditEvent) {
        let Some(subject) = crate::store::Subject::of_action(&event.action) else {
            return;
        };
        let parts: Vec<&str> = event.target.split('/').collect();
        let ["tenants", tenant, "realms", realm, rest @ ..] = parts.as_slice() else {
            return;
        };
        let realm_id = match self.store.find_realm(tenant, realm).await {
            Ok(Some(r)) => r.id,
            // Deleted (realm.delete): its log went with it.
            Ok(None) => return,
            Err(e) => {
                tracing::error!(error = %e, action = %event.action, "recording an admin action in the realm's event log failed");
                return;
            }
        };
        let resource_id = match subject {
            crate::store::Subject::Realm => Some((*realm).to_owned()),
            _ => rest.get(1).map(|s| (*s).to_owned()),
        };
        let changed = match &event.detail {
            Value::Object(m) => m.keys().cloned().collect(),
            _ => Vec::new(),
        };
        let entry = crate::store::NewLogEntry {
            realm_id,
            at: event.at.clone(),
            actor: event.actor.clone(),
            request_id: actor.request_id.clone(),
            operation: crate::store::EventOp::Admin,
            resource_type: subject,
            resource_id,
            changed,
            action: event.action.clone(),
            target: Some(event.target.clone()),
            detail: event.detail.clone(),
        };
        match self.store.append_event(&entry).await {
            Ok(()) => self.events_written.wrote(),
            Err(e) => {
                tracing::error!(error = %e, action = %event.action, "recording an admin action in the realm's event log failed")
            }
        }
    }

    /// A tenant's audit record (or, `None`, the global one), newest first.
    pub async fn audit_log(
        &self,
        actor: &Actor,
        tenant: Option<&str>,
        req: &PageRequest,
    ) -> AdminResult<Listed<AuditEvent>> {
        match tenant {
            Some(t) => {
                actor.see(t)?;
                self.tenant_exists(t).await?;
            }
            None => actor.require_global("the global audit record")?,
        }
        let (page, limit) = req.page()?;
        let rows = self.store.page_audit(tenant, &page).await?;
        Ok(listed(rows, limit, |e| e.id.clone(), |e| e))
    }

    async fn tenant_exists(&self, tenant: &str) -> AdminResult<()> {
        match self.store.get_tenant(tenant).await? {
            Some(_) => Ok(()),
            None => Err(no_tenant(tenant)),
        }
    }
}
