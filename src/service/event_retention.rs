//! Event retention: each realm's log is pruned in the background, from its oldest event, of
//! what its retention (days and/or count) no longer keeps. Small batches, each its own short
//! transaction with a pause between, so writers appending to the same log never wait long.

use std::sync::Arc;
use std::time::Duration;

use crate::clock::Clock;
use crate::store::{Realm, Store, StoreResult};

/// Events deleted per transaction.
pub const DEFAULT_BATCH: u32 = 1000;
/// Between two batches of one realm: room for the writers.
const PAUSE: Duration = Duration::from_millis(5);

pub struct Pruner {
    store: Arc<dyn Store>,
    clock: Arc<dyn Clock>,
    batch: u32,
}

impl Pruner {
    pub fn new(store: Arc<dyn Store>, clock: Arc<dyn Clock>) -> Self {
        Pruner {
            store,
            clock,
            batch: DEFAULT_BATCH,
        }
    }

    pub fn with_batch(mut self, batch: u32) -> Self {
        self.batch = batch.max(1);
        self
    }

    /// Prunes every realm every `every`, for the server's lifetime.
    pub async fn run(self: Arc<Self>, every: Duration) {
        let mut tick = tokio::time::interval(every);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            match self.round().await {
                Ok(0) => {}
                Ok(n) => tracing::info!(events = n, "pruned events past their realm's retention"),
                Err(e) => tracing::warn!(error = %e, "pruning events failed; trying again later"),
            }
        }
    }

    /// One pass over every realm; how many events it pruned.
    pub async fn round(&self) -> StoreResult<u64> {
        let mut total = 0;
        for realm in self.store.list_realms(None).await? {
            total += self.prune_realm(&realm).await?;
        }
        Ok(total)
    }

    /// Prunes one realm down to its retention.
    pub async fn prune_realm(&self, realm: &Realm) -> StoreResult<u64> {
        let keep = realm.retention;
        if keep.days.is_none() && keep.count.is_none() {
            return Ok(0);
        }
        let older_than = keep
            .days
            .map(|d| crate::clock::format(self.clock.now() - chrono::Duration::days(i64::from(d))));
        // The count boundary is found once per round: events written meanwhile only push it
        // further, and the next round catches up.
        let through = match keep.count {
            Some(n) => self.store.event_beyond(&realm.id, n).await?,
            None => None,
        };
        if older_than.is_none() && through.is_none() {
            return Ok(0);
        }
        let mut total = 0;
        loop {
            let n = self
                .store
                .prune_events(&realm.id, older_than.as_deref(), through, self.batch)
                .await?;
            total += n;
            if n < u64::from(self.batch) {
                return Ok(total);
            }
            tokio::time::sleep(PAUSE).await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::ManualClock;
    use crate::store::{EventOp, EventQuery, Kind, NewEvent, NewResource, Retention};

    async fn add_user(store: &dyn Store, clock: &ManualClock, realm: &Realm, name: &str) {
        let new = NewResource {
            id: uuid::Uuid::now_v7().to_string(),
            realm_id: realm.id.clone(),
            kind: Kind::User,
            name: name.to_owned(),
            external_id: None,
            data: serde_json::Map::new(),
            password_hash: None,
            members: Vec::new(),
            now: clock.now_text(),
            event: Some(NewEvent {
                actor: "cli".into(),
                request_id: None,
                operation: EventOp::Create,
                changed: vec!["userName".into()],
                members_added: None,
                members_removed: None,
            }),
        };
        store.insert_resource(new).await.unwrap();
    }

    async fn realm_with_events(n: usize) -> (Arc<dyn Store>, Arc<ManualClock>, Realm) {
        let store = crate::store::open("sqlite::memory:", 1).await.unwrap();
        let clock = Arc::new(ManualClock::default());
        store.create_tenant("t").await.unwrap();
        let realm = store.create_realm("t", "r").await.unwrap();
        for i in 0..n {
            add_user(store.as_ref(), &clock, &realm, &format!("u{i}")).await;
        }
        (store, clock, realm)
    }

    async fn seqs(store: &dyn Store, realm: &Realm) -> Vec<i64> {
        let q = EventQuery {
            limit: 1000,
            ..EventQuery::default()
        };
        let events = store.read_events(&realm.id, &q).await.unwrap().events;
        events.iter().map(|e| e.pos.seq).collect()
    }

    #[tokio::test]
    async fn a_count_limit_keeps_the_newest_events_and_marks_how_far_it_pruned() {
        let (store, clock, mut realm) = realm_with_events(25).await;
        realm.retention = Retention {
            days: None,
            count: Some(10),
        };
        let pruner = Pruner::new(store.clone(), clock).with_batch(4);
        assert_eq!(pruner.prune_realm(&realm).await.unwrap(), 15);
        assert_eq!(
            seqs(store.as_ref(), &realm).await,
            (16..=25).collect::<Vec<_>>()
        );
        let mark = store.events_pruned_through(&realm.id).await.unwrap();
        assert_eq!(mark.map(|m| m.seq), Some(15));
        assert_eq!(pruner.prune_realm(&realm).await.unwrap(), 0);
    }

    #[tokio::test]
    async fn an_age_limit_prunes_what_is_older_and_numbering_goes_on_after_the_mark() {
        let (store, clock, mut realm) = realm_with_events(3).await;
        realm.retention = Retention {
            days: Some(1),
            count: None,
        };
        let pruner = Pruner::new(store.clone(), clock.clone());
        assert_eq!(
            pruner.prune_realm(&realm).await.unwrap(),
            0,
            "nothing is a day old"
        );
        clock.advance(chrono::Duration::hours(25));
        assert_eq!(pruner.prune_realm(&realm).await.unwrap(), 3);
        assert!(seqs(store.as_ref(), &realm).await.is_empty());
        // The log is empty; the next event still comes after everything pruned, or a reader
        // holding cursor 3 would never see it.
        add_user(store.as_ref(), &clock, &realm, "late").await;
        assert_eq!(seqs(store.as_ref(), &realm).await, vec![4]);
    }

    #[tokio::test]
    async fn a_realm_without_retention_is_left_alone() {
        let (store, clock, mut realm) = realm_with_events(3).await;
        realm.retention = Retention {
            days: None,
            count: None,
        };
        clock.advance(chrono::Duration::days(10_000));
        let pruner = Pruner::new(store.clone(), clock);
        assert_eq!(pruner.prune_realm(&realm).await.unwrap(), 0);
        assert_eq!(seqs(store.as_ref(), &realm).await.len(), 3);
    }
}
