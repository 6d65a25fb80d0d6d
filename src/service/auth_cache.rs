//! Who may call a realm, remembered between requests — but only while the store can tell us
//! the moment it changes (PostgreSQL's LISTEN/NOTIFY). Looking the token up cost a database
//! round trip per request, as much as the request's own work on a GET.
//!
//! Correctness rests on one rule: an entry counts only if no change notice arrived since
//! just before the database read that produced it. Each notice, and each loss or return of
//! the feed, bumps an epoch; entries carry the epoch read before their lookup. Without a feed
//! (SQLite, the CLI, a lost connection) nothing is cached and every request reads the
//! database, as before.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use crate::store::{Realm, Store, TokenInfo};

/// Bounds memory against many distinct valid tokens; past it the cache starts over.
const MAX_ENTRIES: usize = 10_000;
/// Belt and braces: a feed whose connection hangs without failing would go unnoticed, so
/// no entry outlives this.
const MAX_AGE: Duration = Duration::from_secs(60);
const RETRY_MIN: Duration = Duration::from_millis(250);
const RETRY_MAX: Duration = Duration::from_secs(30);

/// Shared with the requests it serves: a hit hands out the same realm and token, not copies.
struct Entry {
    realm: Arc<Realm>,
    token: Arc<TokenInfo>,
    epoch: u64,
    at: Instant,
}

#[derive(Default)]
pub struct AuthCache {
    epoch: AtomicU64,
    live: AtomicBool,
    /// By token hash: a token belongs to one realm.
    entries: RwLock<HashMap<String, Entry>>,
}

impl AuthCache {
    /// The realm and token last read for this token hash, if still good.
    pub fn get(
        &self,
        tenant: &str,
        realm: &str,
        token_hash: &str,
    ) -> Option<(Arc<Realm>, Arc<TokenInfo>)> {
        if !self.live.load(Ordering::Acquire) {
            return None;
        }
        let epoch = self.epoch.load(Ordering::Acquire);
        let entries = self.entries.read().ok()?;
        let e = entries.get(token_hash)?;
        (e.epoch == epoch
            && e.at.elapsed() < MAX_AGE
            && e.realm.tenant == tenant
            && e.realm.name == realm)
            .then(|| (e.realm.clone(), e.token.clone()))
    }

    /// Taken before a database lookup; `None` when its result may not be cached.
    pub fn ticket(&self) -> Option<u64> {
        let epoch = self.epoch.load(Ordering::Acquire);
        self.live.load(Ordering::Acquire).then_some(epoch)
    }

    /// Remembers a lookup made under `ticket`, unless something changed since.
    pub fn put(&self, ticket: u64, realm: &Arc<Realm>, token: &Arc<TokenInfo>) {
        let Ok(mut entries) = self.entries.write() else {
            return;
        };
        // Checked under the lock that `forget` takes too: a notice is either seen here or
        // clears this entry after.
        if !self.live.load(Ordering::Acquire) || self.epoch.load(Ordering::Acquire) != ticket {
            return;
        }
        if entries.len() >= MAX_ENTRIES {
            entries.clear();
        }
        entries.insert(
            token.token_hash.clone(),
            Entry {
                realm: realm.clone(),
                token: token.clone(),
                epoch: ticket,
                at: Instant::now(),
            },
        );
    }

    /// This process changed a realm or token itself: void everything now rather than when
    /// the change notice comes back from the database.
    pub fn changed(&self) {
        let live = self.live.load(Ordering::Acquire);
        self.forget(live);
    }

    /// Something changed (or may have): everything cached so far is void.
    fn forget(&self, live: bool) {
        let mut entries = self.entries.write().unwrap_or_else(|p| p.into_inner());
        self.epoch.fetch_add(1, Ordering::AcqRel);
        self.live.store(live, Ordering::Release);
        entries.clear();
    }

    /// Follows the store's change feed for as long as the server runs, reopening it when it
    /// breaks. Returns at once where the store has no feed (nothing is ever cached then).
    pub async fn follow(self: Arc<Self>, store: Arc<dyn Store>) {
        let mut wait = RETRY_MIN;
        loop {
            match store.auth_feed().await {
                Ok(None) => return,
                Ok(Some(mut feed)) => {
                    self.forget(true);
                    wait = RETRY_MIN;
                    let err = loop {
                        match feed.changed().await {
                            Ok(()) => self.forget(true),
                            Err(e) => break e,
                        }
                    };
                    self.forget(false);
                    tracing::warn!(error = %err, "the realm and token change feed broke; \
                        every request reads its token from the database until it is back");
                }
                Err(e) => {
                    tracing::warn!(error = %e, "opening the realm and token change feed failed")
                }
            }
            tokio::time::sleep(wait).await;
            wait = (wait * 2).min(RETRY_MAX);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::RealmState;

    fn realm() -> Arc<Realm> {
        Arc::new(Realm {
            id: "r1".into(),
            tenant: "t".into(),
            name: "default".into(),
            state: RealmState::Enabled,
            auth_methods: crate::store::AuthMethod::ALL.to_vec(),
            retention: crate::store::Retention::default(),
            display_name: String::new(),
            description: String::new(),
            created_at: "2026-01-01T00:00:00.000Z".into(),
            updated_at: "2026-01-01T00:00:00.000Z".into(),
        })
    }

    fn token() -> Arc<TokenInfo> {
        Arc::new(TokenInfo {
            id: "k1".into(),
            realm_id: "r1".into(),
            name: "idp".into(),
            token_hash: "h1".into(),
            scopes: vec!["scim:all".into()],
            description: String::new(),
            created_by: "cli".into(),
            created_at: "2026-01-01T00:00:00.000Z".into(),
            expires_at: None,
            revoked_at: None,
            last_used_at: None,
            replaced_by: None,
        })
    }

    #[test]
    fn nothing_is_cached_without_a_feed() {
        let c = AuthCache::default();
        assert_eq!(c.ticket(), None);
        c.put(0, &realm(), &token());
        assert!(c.get("t", "default", "h1").is_none());
    }

    #[test]
    fn a_lookup_is_served_until_a_change_notice_voids_it() {
        let c = AuthCache::default();
        c.forget(true);
        let t = c.ticket().unwrap();
        let (realm, token) = (realm(), token());
        c.put(t, &realm, &token);
        let (r, k) = c.get("t", "default", "h1").expect("cached");
        assert_eq!((r.id.as_str(), k.id.as_str()), ("r1", "k1"));
        // A hit hands out the cached realm and token themselves, not copies of them.
        assert!(Arc::ptr_eq(&r, &realm) && Arc::ptr_eq(&k, &token));
        // Same token presented to another realm: not this entry.
        assert!(c.get("t", "other", "h1").is_none());
        assert!(c.get("u", "default", "h1").is_none());
        c.forget(true);
        assert!(c.get("t", "default", "h1").is_none());
    }

    #[test]
    fn a_change_made_here_voids_the_cache_without_waiting_for_the_notice() {
        let c = AuthCache::default();
        c.forget(true);
        let t = c.ticket().unwrap();
        c.put(t, &realm(), &token());
        assert!(c.get("t", "default", "h1").is_some());
        c.changed();
        assert!(c.get("t", "default", "h1").is_none());
        // Still following the feed: the next lookup may be cached again.
        let t = c.ticket().expect("still live");
        c.put(t, &realm(), &token());
        assert!(c.get("t", "default", "h1").is_some());
        // A lookup started before the change may not be kept.
        c.changed();
        c.put(t, &realm(), &token());
        assert!(c.get("t", "default", "h1").is_none());
    }

    #[test]
    fn a_lookup_that_raced_a_change_is_not_kept() {
        let c = AuthCache::default();
        c.forget(true);
        let t = c.ticket().unwrap();
        // The notice lands while the database read is in flight.
        c.forget(true);
        c.put(t, &realm(), &token());
        assert!(c.get("t", "default", "h1").is_none());
    }

    #[test]
    fn losing_the_feed_voids_everything_and_stops_caching() {
        let c = AuthCache::default();
        c.forget(true);
        let t = c.ticket().unwrap();
        c.put(t, &realm(), &token());
        c.forget(false);
        assert!(c.get("t", "default", "h1").is_none());
        assert_eq!(c.ticket(), None);
    }
}
