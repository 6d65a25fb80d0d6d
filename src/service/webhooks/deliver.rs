//! Sending: the background loop that leases webhooks with events to send and sends them,
//! one webhook per task (a slow receiver holds up nobody else), in event order, each event
//! until the receiver takes it (2xx) or retries have run for a day.

use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use rand::Rng;
use tokio::task::JoinSet;

use super::guard::{AddressPolicy, GuardedResolver};
use super::seal::{Keyring, SealError};
use super::{event_type, message_id, sign, wants, Payload, PayloadData, Settings};
use crate::clock::{self, Clock};
use crate::service::admin::events::EventView;
use crate::service::event_signal::EventSignal;
use crate::store::{Delivery, Event, EventQuery, Store, StoreResult, Webhook, WebhookProgress};

/// How long failures of one event are retried before the webhook is marked failing.
pub const RETRY_FOR: chrono::Duration = chrono::Duration::hours(24);
/// The longest pause between two attempts.
const MAX_BACKOFF_SECS: f64 = 3600.0;
/// How often the loop looks for work besides being woken by writes (this server's, and other
/// servers' through the database's notices): retries falling due are found this way.
const TICK: Duration = Duration::from_secs(1);
/// Deliveries kept per webhook for the admin API.
pub const KEEP_DELIVERIES: usize = 100;
/// Events read from the log at a time.
const BATCH: u32 = 100;

/// What came of one attempt.
#[derive(Debug, Clone)]
pub struct Outcome {
    pub status: Option<u16>,
    pub latency_ms: i64,
    pub error: Option<String>,
}

impl Outcome {
    pub fn ok(&self) -> bool {
        self.error.is_none()
    }
}

pub struct Dispatch {
    store: Arc<dyn Store>,
    clock: Arc<dyn Clock>,
    keys: Keyring,
    policy: Arc<AddressPolicy>,
    http: reqwest::Client,
    timeout: Duration,
    concurrency: usize,
    /// This server, as the holder of leases.
    owner: String,
    wake: Arc<EventSignal>,
}

/// The pause before attempt `attempts + 1`: doubling from one second, at most an hour, with
/// jitter (half to all of it) so that receivers coming back are not hit by every sender at
/// once.
fn backoff(attempts: i32) -> chrono::Duration {
    let full = 2f64.powi(attempts.clamp(1, 30) - 1).min(MAX_BACKOFF_SECS);
    let secs = full * rand::thread_rng().gen_range(0.5..=1.0);
    chrono::Duration::milliseconds((secs * 1000.0) as i64)
}

/// An error and its causes, one line: reqwest's top level says little ("error sending
/// request"), the reason is further down.
fn describe(e: &reqwest::Error) -> String {
    if e.is_timeout() {
        return "the receiver did not answer in time".into();
    }
    let mut parts = Vec::new();
    let mut cur: Option<&dyn std::error::Error> = Some(e);
    while let Some(err) = cur {
        let text = err.to_string();
        if !parts.iter().any(|p: &String| p.contains(&text)) {
            parts.push(text);
        }
        cur = err.source();
    }
    // reqwest names the URL in its message; the admin API shows the URL already.
    parts
        .into_iter()
        .map(|p| match p.find(" for url (") {
            Some(i) => p[..i].to_owned(),
            None => p,
        })
        .collect::<Vec<_>>()
        .join(": ")
}

impl Dispatch {
    pub fn new(
        store: Arc<dyn Store>,
        clock: Arc<dyn Clock>,
        settings: Settings,
        wake: Arc<EventSignal>,
    ) -> Self {
        let policy = Arc::new(settings.policy);
        let http = reqwest::Client::builder()
            .timeout(settings.timeout)
            .connect_timeout(settings.timeout)
            // A redirect could lead anywhere, the policy's checks included: not followed.
            .redirect(reqwest::redirect::Policy::none())
            .dns_resolver(Arc::new(GuardedResolver(policy.clone())))
            .user_agent(concat!("scimd/", env!("CARGO_PKG_VERSION"), " (webhooks)"))
            .build()
            .expect("an HTTP client with rustls builds");
        Dispatch {
            store,
            clock,
            keys: settings.keys,
            policy,
            http,
            timeout: settings.timeout,
            concurrency: settings.concurrency.max(1),
            owner: uuid::Uuid::new_v4().to_string(),
            wake,
        }
    }

    pub fn keys(&self) -> &Keyring {
        &self.keys
    }

    pub fn policy(&self) -> &AddressPolicy {
        &self.policy
    }

    /// Wakes the loop: a webhook was created or resumed.
    pub fn poke(&self) {
        self.wake.heard();
    }

    /// A lease outlives any one attempt (and the writes around it) by far, so it only runs
    /// out when its holder died; then another server takes over within this long.
    fn lease(&self) -> chrono::Duration {
        chrono::Duration::from_std(self.timeout * 2).unwrap_or(chrono::Duration::seconds(60))
            + chrono::Duration::seconds(5)
    }

    /// The secrets that sign for `w` now: its own, and the one it replaced while that still
    /// overlaps.
    pub fn secrets(&self, w: &Webhook, now: DateTime<Utc>) -> Result<Vec<String>, SealError> {
        let open = |s: &str| {
            self.keys
                .open(s, &w.id)
                .map(|b| String::from_utf8_lossy(&b).into_owned())
        };
        let mut out = vec![open(&w.secret)?];
        if let (Some(prev), Some(until)) = (&w.previous_secret, &w.previous_until) {
            let live = DateTime::parse_from_rfc3339(until).is_ok_and(|u| u > now);
            if live {
                out.push(open(prev)?);
            }
        }
        Ok(out)
    }

    /// The secrets to sign with for `w`; `None` (with the reason written back) when this
    /// server cannot sign for it.
    async fn signing(
        &self,
        w: &Webhook,
        p: &mut WebhookProgress,
    ) -> StoreResult<Option<Vec<String>>> {
        match self.secrets(w, self.clock.now()) {
            Ok(s) => Ok(Some(s)),
            Err(SealError::Damaged) => {
                // Nothing can be signed, by this server or any other: it stops here, saying
                // why, until an admin rotates the secret and resumes it.
                p.failure = Some(format!(
                    "the signing secret cannot be opened: {}; rotate it, then resume",
                    SealError::Damaged
                ));
                self.store
                    .webhook_progress(&w.realm_id, &w.id, &self.owner, p)
                    .await?;
                Ok(None)
            }
            Err(e) => {
                // This server lacks the key; another may have it. Left for them (or for this
                // one once its config is fixed), loudly.
                tracing::error!(error = %e, webhook = %w.id, "cannot sign for a webhook: this server does not have the key-encryption key its secret was sealed under");
                p.next_attempt_at = clock::format(self.clock.now() + chrono::Duration::seconds(60));
                self.store
                    .webhook_progress(&w.realm_id, &w.id, &self.owner, p)
                    .await?;
                Ok(None)
            }
        }
    }

    /// Sends one event to `w`, signed with `secrets`.
    pub async fn send(&self, w: &Webhook, secrets: &[String], e: &Event) -> Outcome {
        let started = Instant::now();
        let fail = |error: String| Outcome {
            status: None,
            latency_ms: started.elapsed().as_millis() as i64,
            error: Some(error),
        };
        // An address written in the URL is never resolved, so the resolver's check does not
        // see it; the config may also have changed since the webhook was saved.
        if let Err(e) = self.policy.check_url(&w.url) {
            return fail(e);
        }
        let payload = Payload {
            kind: event_type(e),
            timestamp: e.at.clone(),
            data: PayloadData {
                tenant: w.tenant.clone(),
                realm: w.realm.clone(),
                event: EventView::from(e.clone()),
            },
        };
        let body = match serde_json::to_vec(&payload) {
            Ok(b) => b,
            Err(err) => return fail(format!("the event could not be encoded: {err}")),
        };
        let id = message_id(&w.realm_id, e);
        let ts = self.clock.now().timestamp();
        let signatures: Vec<String> = secrets
            .iter()
            .filter_map(|s| sign::signature(s, &id, ts, &body))
            .collect();
        let sent = self
            .http
            .post(&w.url)
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .header("webhook-id", &id)
            .header("webhook-timestamp", ts.to_string())
            .header("webhook-signature", signatures.join(" "))
            .body(body)
            .send()
            .await;
        let latency_ms = started.elapsed().as_millis() as i64;
        match sent {
            Err(err) => Outcome {
                status: None,
                latency_ms,
                error: Some(describe(&err)),
            },
            Ok(resp) => {
                let status = resp.status();
                let error = if status.is_success() {
                    None
                } else if status.is_redirection() {
                    Some(format!(
                        "the receiver answered {} (redirects are not followed: give the final URL)",
                        status.as_u16()
                    ))
                } else {
                    Some(format!("the receiver answered {}", status.as_u16()))
                };
                Outcome {
                    status: Some(status.as_u16()),
                    latency_ms,
                    error,
                }
            }
        }
    }

    /// Records an attempt; the record is for people, so a failure to write it is logged, not
    /// fatal to the delivery.
    pub async fn record(
        &self,
        w: &Webhook,
        e: &Event,
        attempt: i32,
        manual: bool,
        o: &Outcome,
    ) -> Delivery {
        let d = Delivery {
            id: uuid::Uuid::now_v7().to_string(),
            realm_id: w.realm_id.clone(),
            webhook_id: w.id.clone(),
            event_id: e.pos.to_string(),
            event_type: event_type(e),
            attempt,
            at: self.clock.now_text(),
            status_code: o.status.map(i32::from),
            latency_ms: o.latency_ms,
            error: o.error.clone(),
            manual,
        };
        if let Err(err) = self.store.record_delivery(&d, KEEP_DELIVERIES).await {
            tracing::warn!(error = %err, webhook = %w.id, "recording a webhook delivery failed");
        }
        d
    }

    /// The sending loop, for the server's lifetime.
    pub async fn run(self: Arc<Self>) {
        if !self.keys.can_seal() {
            // Without a key no secret opens: leave the sending to servers that have one.
            tracing::info!("no key-encryption key: this server sends no webhooks");
            return;
        }
        let mut tasks = JoinSet::new();
        loop {
            let woken = self.wake.notified();
            while tasks.try_join_next().is_some() {}
            let room = self.concurrency.saturating_sub(tasks.len());
            if room > 0 {
                let now = self.clock.now();
                let until = clock::format(now + self.lease());
                match self
                    .store
                    .claim_webhooks(&self.owner, &clock::format(now), &until, room)
                    .await
                {
                    Ok(claimed) => {
                        for w in claimed {
                            let me = self.clone();
                            tasks.spawn(async move {
                                let id = w.id.clone();
                                if let Err(e) = me.serve(w).await {
                                    tracing::warn!(error = %e, webhook = %id, "sending webhook events failed");
                                }
                            });
                        }
                    }
                    Err(e) => tracing::warn!(error = %e, "looking for webhook work failed"),
                }
            }
            tokio::select! {
                _ = woken => {}
                _ = tokio::time::sleep(TICK) => {}
                Some(_) = tasks.join_next(), if !tasks.is_empty() => {}
            }
        }
    }

    /// Sends what `w` (leased to this server) has pending, until it is all sent, an attempt
    /// fails, or the lease is lost.
    async fn serve(&self, mut w: Webhook) -> StoreResult<()> {
        let mut p = WebhookProgress {
            delivered: w.delivered,
            attempts: w.attempts,
            next_attempt_at: w.next_attempt_at.clone(),
            failing_since: w.failing_since.clone(),
            failure: None,
            last_success_at: w.last_success_at.clone(),
            lease_until: None,
        };
        loop {
            let q = EventQuery {
                after: Some(p.delivered),
                limit: BATCH,
                resource_types: Vec::new(),
                operations: Vec::new(),
            };
            let events = self.store.read_events(&w.realm_id, &q).await?.events;
            if events.is_empty() {
                break;
            }
            // Read again after the events: a rotation, new URL, new patterns or pause that
            // committed before any of these events applies to it.
            w = match self.store.get_webhook(&w.realm_id, &w.id).await? {
                Some(now) if now.enabled => now,
                Some(_) => {
                    // Paused: give the lease back so that resuming starts at once.
                    p.lease_until = None;
                    self.store
                        .webhook_progress(&w.realm_id, &w.id, &self.owner, &p)
                        .await?;
                    return Ok(());
                }
                None => return Ok(()),
            };
            let Some(secrets) = self.signing(&w, &mut p).await? else {
                return Ok(());
            };
            for e in &events {
                if !wants(&w.event_types, &event_type(e)) {
                    p.delivered = e.pos;
                    continue;
                }
                let outcome = self.send(&w, &secrets, e).await;
                self.record(&w, e, p.attempts + 1, false, &outcome).await;
                let now = self.clock.now();
                if !outcome.ok() {
                    p.attempts += 1;
                    let since = p.failing_since.get_or_insert_with(|| clock::format(now));
                    let failing_for = DateTime::parse_from_rfc3339(since)
                        .map(|s| now - s.with_timezone(&Utc))
                        .unwrap_or_default();
                    if failing_for >= RETRY_FOR {
                        p.failure = Some(format!(
                            "every attempt for {} hours failed; the last: {}",
                            RETRY_FOR.num_hours(),
                            outcome.error.unwrap_or_default()
                        ));
                    }
                    p.next_attempt_at = clock::format(now + backoff(p.attempts));
                    p.lease_until = None;
                    self.store
                        .webhook_progress(&w.realm_id, &w.id, &self.owner, &p)
                        .await?;
                    return Ok(());
                }
                p.delivered = e.pos;
                p.attempts = 0;
                p.failing_since = None;
                p.last_success_at = Some(clock::format(now));
                p.lease_until = Some(clock::format(now + self.lease()));
                if !self
                    .store
                    .webhook_progress(&w.realm_id, &w.id, &self.owner, &p)
                    .await?
                {
                    // Deleted, or the lease passed to another server: it carries on.
                    return Ok(());
                }
            }
            p.lease_until = Some(clock::format(self.clock.now() + self.lease()));
            if !self
                .store
                .webhook_progress(&w.realm_id, &w.id, &self.owner, &p)
                .await?
            {
                return Ok(());
            }
        }
        p.lease_until = None;
        p.next_attempt_at = self.clock.now_text();
        self.store
            .webhook_progress(&w.realm_id, &w.id, &self.owner, &p)
            .await?;
        Ok(())
    }
}
