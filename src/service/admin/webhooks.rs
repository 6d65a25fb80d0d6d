//! A realm's webhook subscriptions: create (the signing secret shown once), list, change,
//! rotate the secret with an overlap, resume after failing, the recent deliveries, and
//! redelivery of one of them.

use serde::Serialize;
use serde_json::{json, Map, Value};

use super::clients::enabled;
use super::input::{self, object};
use super::{Actor, AdminError, AdminResult, AdminService, Listed};
use crate::service::webhooks::seal::SealError;
use crate::service::webhooks::{sign, valid_pattern};
use crate::store::{Delivery, EventPos, Realm, StoreError, Webhook};

/// Enough for every application that follows a realm, few enough to send to promptly.
pub const MAX_WEBHOOKS: usize = 20;
const MAX_URL: usize = 2048;
const MAX_EVENT_TYPES: usize = 20;
pub const DEFAULT_OVERLAP_SECONDS: i64 = 24 * 3600;
const MAX_OVERLAP_SECONDS: i64 = 30 * 24 * 3600;
const DEFAULT_DELIVERIES: usize = 50;
const FIELDS: &[&str] = &["url", "description", "event_types", "enabled"];
const READ_ONLY: &[&str] = &[
    "id",
    "secret",
    "status",
    "failure",
    "delivered_through",
    "attempts",
    "next_attempt_at",
    "failing_since",
    "last_success_at",
    "previous_secret_valid_until",
    "created_at",
    "created_by",
    "updated_at",
];

#[derive(Debug, Serialize)]
pub struct WebhookView {
    pub id: String,
    pub url: String,
    pub description: Option<String>,
    pub event_types: Vec<String>,
    pub enabled: bool,
    /// `active`, `retrying` (the last attempt failed; another is due at `next_attempt_at`),
    /// `failing` (retries ran out: see `failure`, then resume) or `disabled`.
    pub status: &'static str,
    pub failure: Option<String>,
    /// The last event sent (or passed over as not wanted): delivery goes on after it.
    pub delivered_through: String,
    pub attempts: i32,
    pub next_attempt_at: Option<String>,
    pub failing_since: Option<String>,
    pub last_success_at: Option<String>,
    /// Until then deliveries carry a second signature, made with the secret replaced by the
    /// last rotation.
    pub previous_secret_valid_until: Option<String>,
    pub created_at: String,
    pub created_by: String,
    pub updated_at: String,
}

impl From<Webhook> for WebhookView {
    fn from(w: Webhook) -> Self {
        let status = if w.failure.is_some() {
            "failing"
        } else if !w.enabled {
            "disabled"
        } else if w.attempts > 0 {
            "retrying"
        } else {
            "active"
        };
        WebhookView {
            status,
            next_attempt_at: (w.attempts > 0 && w.failure.is_none()).then_some(w.next_attempt_at),
            id: w.id,
            url: w.url,
            description: w.description,
            event_types: w.event_types,
            enabled: w.enabled,
            failure: w.failure,
            delivered_through: w.delivered.to_string(),
            attempts: w.attempts,
            failing_since: w.failing_since,
            last_success_at: w.last_success_at,
            previous_secret_valid_until: w.previous_until,
            created_at: w.created_at,
            created_by: w.created_by,
            updated_at: w.updated_at,
        }
    }
}

/// A webhook as created, or after a rotation: its signing secret is here and nowhere else.
#[derive(Debug, Serialize)]
pub struct WebhookWithSecret {
    #[serde(flatten)]
    pub webhook: WebhookView,
    pub secret: String,
}

#[derive(Debug, Serialize)]
pub struct DeliveryView {
    pub id: String,
    pub event_id: String,
    pub event_type: String,
    pub attempt: i32,
    pub at: String,
    /// The receiver's status code; null when it gave none (no connection, no answer).
    pub status_code: Option<i32>,
    pub latency_ms: i64,
    pub ok: bool,
    pub error: Option<String>,
    /// Asked for through the admin API rather than made by the sender.
    pub manual: bool,
}

impl From<Delivery> for DeliveryView {
    fn from(d: Delivery) -> Self {
        DeliveryView {
            ok: d.error.is_none(),
            id: d.id,
            event_id: d.event_id,
            event_type: d.event_type,
            attempt: d.attempt,
            at: d.at,
            status_code: d.status_code,
            latency_ms: d.latency_ms,
            error: d.error,
            manual: d.manual,
        }
    }
}

fn no_webhook(realm: &Realm, id: &str) -> AdminError {
    AdminError::NotFound(format!(
        "realm '{}' of tenant '{}' has no webhook '{id}'",
        realm.name, realm.tenant
    ))
}

fn target(realm: &Realm, id: &str) -> String {
    format!(
        "tenants/{}/realms/{}/webhooks/{id}",
        realm.tenant, realm.name
    )
}

fn sealing(e: SealError) -> AdminError {
    match e {
        SealError::NoKey => AdminError::NotConfigured(
            "webhook signing secrets are kept encrypted, and this server has no \
             key-encryption key: set secret_key (SCIMD_SECRET_KEY) or secret_key_file"
                .into(),
        ),
        e => AdminError::Internal(anyhow::Error::new(e)),
    }
}

fn event_types(map: &Map<String, Value>) -> AdminResult<Option<Vec<String>>> {
    let Some(types) = input::opt_strings(map, "event_types")? else {
        return Ok(None);
    };
    if types.is_empty() || types.len() > MAX_EVENT_TYPES {
        return Err(AdminError::invalid(
            "event_types",
            format!("event_types names 1 to {MAX_EVENT_TYPES} event types"),
        ));
    }
    if let Some(bad) = types.iter().find(|t| !valid_pattern(t)) {
        return Err(AdminError::invalid(
            "event_types",
            format!(
                "'{bad}' is not an event type: use <resource>.<operation> with resource user \
                 or group and operation create, replace, patch or delete, either part * \
                 (user.*, *.delete); admin.* or admin.<action> (admin.token.rotate) for admin \
                 actions on the realm; auth.denied for refused credentials; or * for all"
            ),
        ));
    }
    let mut types = types;
    types.sort();
    types.dedup();
    Ok(Some(types))
}

impl AdminService {
    fn webhook_url(&self, map: &Map<String, Value>) -> AdminResult<Option<String>> {
        let Some(url) = input::opt_str(map, "url")? else {
            return Ok(None);
        };
        input::check_text("url", &url, MAX_URL, false)?;
        self.webhooks
            .policy()
            .check_url(&url)
            .map_err(|e| AdminError::invalid("url", e))?;
        Ok(Some(url))
    }

    async fn webhook_of(&self, realm: &Realm, id: &str) -> AdminResult<Webhook> {
        self.store
            .get_webhook(&realm.id, id)
            .await?
            .ok_or_else(|| no_webhook(realm, id))
    }

    fn seal_new_secret(&self, webhook_id: &str) -> AdminResult<(String, String)> {
        let secret = sign::new_secret();
        let sealed = self
            .webhooks
            .keys()
            .seal(secret.as_bytes(), webhook_id)
            .map_err(sealing)?;
        Ok((secret, sealed))
    }

    pub async fn list_webhooks(
        &self,
        actor: &Actor,
        tenant: &str,
        realm: &str,
    ) -> AdminResult<Listed<WebhookView>> {
        let realm = self.realm_of(actor, tenant, realm).await?;
        let rows = self.store.list_webhooks(&realm.id).await?;
        // At most MAX_WEBHOOKS: one page holds them all.
        Ok(Listed {
            items: rows.into_iter().map(Into::into).collect(),
            next_cursor: None,
        })
    }

    pub async fn get_webhook(
        &self,
        actor: &Actor,
        tenant: &str,
        realm: &str,
        id: &str,
    ) -> AdminResult<WebhookView> {
        let realm = self.realm_of(actor, tenant, realm).await?;
        Ok(self.webhook_of(&realm, id).await?.into())
    }

    /// A new webhook receives what happens from now on: it starts at the end of the log.
    pub async fn create_webhook(
        &self,
        actor: &Actor,
        tenant: &str,
        realm: &str,
        body: Value,
    ) -> AdminResult<WebhookWithSecret> {
        let realm = self.realm_of(actor, tenant, realm).await?;
        let map = object(body, FIELDS, READ_ONLY)?;
        let url = self.webhook_url(&map)?.ok_or_else(|| {
            AdminError::invalid("url", "url is required: where the events are POSTed")
        })?;
        let description = input::description(&map)?;
        let types = event_types(&map)?.unwrap_or_else(|| vec!["group.*".into(), "user.*".into()]);
        let enabled = enabled(&map)?.unwrap_or(true);
        let id = uuid::Uuid::now_v7().to_string();
        let (secret, sealed) = self.seal_new_secret(&id)?;
        let now = self.now();
        let w = Webhook {
            id: id.clone(),
            realm_id: realm.id.clone(),
            tenant: realm.tenant.clone(),
            realm: realm.name.clone(),
            url,
            description,
            event_types: types,
            enabled,
            secret: sealed,
            previous_secret: None,
            previous_until: None,
            delivered: self.store.events_end(&realm.id).await?,
            attempts: 0,
            next_attempt_at: now.clone(),
            failing_since: None,
            failure: None,
            last_success_at: None,
            created_at: now.clone(),
            created_by: actor.id.clone(),
            updated_at: now,
        };
        match self.store.insert_webhook(&w, MAX_WEBHOOKS).await {
            Err(StoreError::Conflict) => {
                return Err(AdminError::Conflict {
                    detail: format!(
                        "realm '{}' already has {MAX_WEBHOOKS} webhooks; delete one it no \
                         longer uses first",
                        realm.name
                    ),
                    existing_id: realm.name.clone(),
                })
            }
            Err(StoreError::NotFound) => return Err(super::no_realm(tenant, &realm.name)),
            r => r?,
        }
        self.audit(
            actor,
            Some(&realm.tenant),
            "webhook.create",
            target(&realm, &id),
            json!({"url": w.url, "event_types": w.event_types, "enabled": w.enabled}),
        )
        .await;
        Ok(WebhookWithSecret {
            webhook: w.into(),
            secret,
        })
    }

    pub async fn update_webhook(
        &self,
        actor: &Actor,
        tenant: &str,
        realm: &str,
        id: &str,
        body: Value,
    ) -> AdminResult<WebhookView> {
        let realm = self.realm_of(actor, tenant, realm).await?;
        let map = object(body, FIELDS, READ_ONLY)?;
        let mut w = self.webhook_of(&realm, id).await?;
        if let Some(url) = self.webhook_url(&map)? {
            w.url = url;
        }
        if map.contains_key("description") {
            w.description = input::description(&map)?;
        }
        if let Some(types) = event_types(&map)? {
            w.event_types = types;
        }
        if let Some(e) = enabled(&map)? {
            w.enabled = e;
        }
        w.updated_at = self.now();
        match self.store.update_webhook(&w).await {
            Err(StoreError::NotFound) => return Err(no_webhook(&realm, id)),
            r => r?,
        }
        self.audit(
            actor,
            Some(&realm.tenant),
            "webhook.update",
            target(&realm, id),
            Value::Object(map),
        )
        .await;
        self.webhooks.poke();
        Ok(w.into())
    }

    pub async fn delete_webhook(
        &self,
        actor: &Actor,
        tenant: &str,
        realm: &str,
        id: &str,
    ) -> AdminResult<()> {
        let realm = self.realm_of(actor, tenant, realm).await?;
        if !self.store.delete_webhook(&realm.id, id).await? {
            return Err(no_webhook(&realm, id));
        }
        self.audit(
            actor,
            Some(&realm.tenant),
            "webhook.delete",
            target(&realm, id),
            json!({}),
        )
        .await;
        Ok(())
    }

    /// A new signing secret; the old one keeps signing beside it (a second signature on every
    /// delivery) for `overlap_seconds`, so receivers can switch without missing a message.
    pub async fn rotate_webhook_secret(
        &self,
        actor: &Actor,
        tenant: &str,
        realm: &str,
        id: &str,
        body: Value,
    ) -> AdminResult<WebhookWithSecret> {
        let realm = self.realm_of(actor, tenant, realm).await?;
        let map = object(body, &["overlap_seconds"], &[])?;
        let overlap = input::opt_int(&map, "overlap_seconds")?.unwrap_or(DEFAULT_OVERLAP_SECONDS);
        if !(0..=MAX_OVERLAP_SECONDS).contains(&overlap) {
            return Err(AdminError::invalid(
                "overlap_seconds",
                format!("overlap_seconds is 0 to {MAX_OVERLAP_SECONDS} (30 days)"),
            ));
        }
        let mut w = self.webhook_of(&realm, id).await?;
        let (secret, sealed) = self.seal_new_secret(id)?;
        let now = self.clock.now();
        if overlap > 0 {
            w.previous_secret = Some(std::mem::replace(&mut w.secret, sealed));
            w.previous_until = Some(crate::clock::format(
                now + chrono::Duration::seconds(overlap),
            ));
        } else {
            w.secret = sealed;
            w.previous_secret = None;
            w.previous_until = None;
        }
        w.updated_at = crate::clock::format(now);
        match self.store.update_webhook(&w).await {
            Err(StoreError::NotFound) => return Err(no_webhook(&realm, id)),
            r => r?,
        }
        self.audit(
            actor,
            Some(&realm.tenant),
            "webhook.rotate_secret",
            target(&realm, id),
            json!({"overlap_seconds": overlap}),
        )
        .await;
        Ok(WebhookWithSecret {
            webhook: w.into(),
            secret,
        })
    }

    /// A failing webhook sends again, from the event it stopped at.
    pub async fn resume_webhook(
        &self,
        actor: &Actor,
        tenant: &str,
        realm: &str,
        id: &str,
    ) -> AdminResult<WebhookView> {
        let realm = self.realm_of(actor, tenant, realm).await?;
        if !self
            .store
            .resume_webhook(&realm.id, id, &self.now())
            .await?
        {
            return Err(no_webhook(&realm, id));
        }
        self.audit(
            actor,
            Some(&realm.tenant),
            "webhook.resume",
            target(&realm, id),
            json!({}),
        )
        .await;
        self.webhooks.poke();
        Ok(self.webhook_of(&realm, id).await?.into())
    }

    pub async fn list_deliveries(
        &self,
        actor: &Actor,
        tenant: &str,
        realm: &str,
        id: &str,
        limit: Option<u32>,
    ) -> AdminResult<Listed<DeliveryView>> {
        let realm = self.realm_of(actor, tenant, realm).await?;
        let w = self.webhook_of(&realm, id).await?;
        let limit = limit.map(|l| l as usize).unwrap_or(DEFAULT_DELIVERIES);
        let keep = crate::service::webhooks::KEEP_DELIVERIES;
        if !(1..=keep).contains(&limit) {
            return Err(AdminError::invalid(
                "limit",
                format!("limit must be between 1 and {keep} (the deliveries kept)"),
            ));
        }
        let rows = self.store.list_deliveries(&realm.id, &w.id, limit).await?;
        Ok(Listed {
            items: rows.into_iter().map(Into::into).collect(),
            next_cursor: None,
        })
    }

    /// Sends a delivery's event again, now, with the current secrets, and answers with the
    /// new attempt. The webhook's own position is not moved: this is in addition to it.
    pub async fn redeliver(
        &self,
        actor: &Actor,
        tenant: &str,
        realm: &str,
        id: &str,
        delivery: &str,
    ) -> AdminResult<DeliveryView> {
        let realm = self.realm_of(actor, tenant, realm).await?;
        let w = self.webhook_of(&realm, id).await?;
        let no_delivery = || {
            AdminError::NotFound(format!(
                "webhook '{id}' has no delivery '{delivery}' (only the last {} are kept)",
                crate::service::webhooks::KEEP_DELIVERIES
            ))
        };
        let d = self
            .store
            .get_delivery(&realm.id, &w.id, delivery)
            .await?
            .ok_or_else(no_delivery)?;
        let pos = EventPos::parse(&d.event_id).ok_or_else(no_delivery)?;
        let event = self.store.get_event(&realm.id, pos).await?.ok_or_else(|| {
            AdminError::NotFound(format!(
                "event {} of delivery '{delivery}' is no longer in the log",
                d.event_id
            ))
        })?;
        let secrets = self
            .webhooks
            .secrets(&w, self.clock.now())
            .map_err(sealing)?;
        let outcome = self.webhooks.send(&w, &secrets, &event).await;
        let done = self
            .webhooks
            .record(&w, &event, d.attempt + 1, true, &outcome)
            .await;
        self.audit(
            actor,
            Some(&realm.tenant),
            "webhook.redeliver",
            target(&realm, id),
            json!({"delivery": delivery, "event_id": d.event_id, "status_code": outcome.status}),
        )
        .await;
        Ok(done.into())
    }
}
