//! Membership changes to one group, coalesced. Every change bumps the group's version, so
//! changes to one group serialize on its row lock, held until the commit is flushed to disk:
//! an identity provider pushing a large group with many parallel PATCHes got one fsync per
//! member, one after another. Here the changes that arrive while a group's write is in flight
//! wait for it, then go in together as one transaction, applied in arrival order (the last
//! word on a member wins) — one version bump and one commit for all of them. Each request
//! still answers only after the transaction holding its change has committed, with the
//! group as that transaction left it.
//!
//! A batch the store refuses (an unknown member, a cycle, a group deleted meanwhile) is
//! retried one change at a time, so a bad request fails alone. Changes with If-Match or that
//! replace the whole list don't come here: they stand alone by nature.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use tokio::sync::oneshot;

use crate::store::{MemberChange, MemberRow, NewEvent, Store, StoreError, StoredResource};

/// A written group, with its members as the batch left them when there are few enough to
/// list: read once per batch rather than once per request.
#[derive(Clone)]
pub struct Written {
    /// Shared by every request of the batch: each renders it by reference.
    pub stored: Arc<StoredResource>,
    pub members: Members,
}

#[derive(Clone)]
pub enum Members {
    /// Every direct member.
    Listed(Arc<Vec<MemberRow>>),
    /// More than the response limit.
    TooMany,
    /// Not read (the read failed): the caller reads them itself.
    Unread,
}

type Reply = oneshot::Sender<Result<Written, StoreError>>;
/// Changes waiting for a group's next batch, each with its event and where its answer goes.
type Waiting = Vec<(MemberChange, NewEvent, Reply)>;

#[derive(Default)]
pub struct MemberBatcher {
    /// Groups with a write in flight, and the changes waiting for the next one.
    groups: Mutex<HashMap<(String, String), Waiting>>,
}

impl MemberBatcher {
    /// Applies `change` to the group, alone or with changes that arrived beside it.
    pub async fn apply(
        self: &Arc<Self>,
        store: &Arc<dyn Store>,
        realm_id: &str,
        group_id: &str,
        change: MemberChange,
        event: NewEvent,
    ) -> Result<Written, StoreError> {
        let (tx, rx) = oneshot::channel();
        let key = (realm_id.to_owned(), group_id.to_owned());
        if let Some(entry) = self.join(key, (change, event, tx)) {
            // The writes run in a task of their own: a caller that gives up (a timeout, a
            // closed connection) must not strand the changes queued behind it.
            let store = store.clone();
            tokio::spawn(entry.run(store));
        }
        rx.await.unwrap_or_else(|_| {
            Err(StoreError::Corrupt(
                "the membership write was abandoned: the server is stopping, or the batch \
                 this change was queued in failed unexpectedly; retry it"
                    .into(),
            ))
        })
    }

    /// Queues `change` behind the group's write in flight, or, when there is none, makes
    /// this request the group's writer: the returned entry holds its first batch.
    fn join(
        self: &Arc<Self>,
        key: (String, String),
        change: (MemberChange, NewEvent, Reply),
    ) -> Option<InFlight> {
        let mut groups = self.lock();
        if let Some(waiting) = groups.get_mut(&key) {
            waiting.push(change);
            return None;
        }
        groups.insert(key.clone(), Vec::new());
        Some(InFlight {
            batcher: self.clone(),
            key,
            first: vec![change],
            finished: false,
        })
    }

    /// The changes queued for the group's next batch; none left ends its entry.
    fn next_batch(&self, key: &(String, String)) -> Option<Waiting> {
        let mut groups = self.lock();
        let waiting = groups.get_mut(key)?;
        if waiting.is_empty() {
            groups.remove(key);
            return None;
        }
        Some(std::mem::take(waiting))
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<(String, String), Waiting>> {
        // A panic elsewhere never leaves the map half-changed: each use is one map operation.
        self.groups.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// A group's write in flight: owns the group's entry in the batcher until it ends.
struct InFlight {
    batcher: Arc<MemberBatcher>,
    key: (String, String),
    first: Waiting,
    /// Set when `next_batch` removed the entry itself (under the lock, so that no change
    /// slips in between the last batch and the removal).
    finished: bool,
}

impl InFlight {
    /// Writes batches for the group until nobody is waiting.
    async fn run(mut self, store: Arc<dyn Store>) {
        let mut batch = std::mem::take(&mut self.first);
        loop {
            write(store.as_ref(), &self.key.0, &self.key.1, batch).await;
            match self.batcher.next_batch(&self.key) {
                Some(next) => batch = next,
                None => {
                    self.finished = true;
                    return;
                }
            }
        }
    }
}

impl Drop for InFlight {
    /// A writer that panicked (or whose task was dropped) would otherwise leave the entry
    /// behind, and every later change to the group would queue for a writer that no longer
    /// exists, answered only by the request timeout. Removing it drops the queued changes'
    /// reply senders, so their requests answer at once, and the next change starts afresh.
    fn drop(&mut self) {
        if !self.finished {
            self.batcher.lock().remove(&self.key);
        }
    }
}

async fn write(store: &dyn Store, realm_id: &str, group_id: &str, batch: Waiting) {
    let now = crate::clock::now();
    if batch.len() > 1 {
        let combined = combine(batch.iter().map(|(c, _, _)| c));
        // One event per request, all in the batch's transaction, with its version.
        let events = batch.iter().map(|(_, e, _)| e.clone()).collect();
        if let Ok(stored) = store
            .change_members(realm_id, group_id, combined, None, &now, events)
            .await
        {
            let written = Written {
                members: members_now(store, realm_id, group_id).await,
                stored: Arc::new(stored),
            };
            for (_, _, reply) in batch {
                let _ = reply.send(Ok(written.clone()));
            }
            return;
        }
        // Refused as a whole: each on its own, so only the bad ones fail.
    }
    for (change, event, reply) in batch {
        let r = match store
            .change_members(realm_id, group_id, change, None, &now, vec![event])
            .await
        {
            Ok(stored) => Ok(Written {
                members: members_now(store, realm_id, group_id).await,
                stored: Arc::new(stored),
            }),
            Err(e) => Err(e),
        };
        let _ = reply.send(r);
    }
}

async fn members_now(store: &dyn Store, realm_id: &str, group_id: &str) -> Members {
    let limit = super::resources::RESPONSE_MEMBER_LIMIT;
    match store.has_more_members_than(realm_id, group_id, limit).await {
        Ok(true) => Members::TooMany,
        Ok(false) => match store.members_of(realm_id, &[group_id.to_owned()]).await {
            Ok(rows) => Members::Listed(Arc::new(rows)),
            Err(_) => Members::Unread,
        },
        Err(_) => Members::Unread,
    }
}

/// The changes as one, in order: a member's last add or remove decides.
fn combine<'a>(changes: impl Iterator<Item = &'a MemberChange>) -> MemberChange {
    let mut state: HashMap<&'a str, bool> = HashMap::new();
    let mut order: Vec<&'a str> = Vec::new();
    let mut added: std::collections::HashSet<&'a str> = std::collections::HashSet::new();
    for c in changes {
        added.extend(c.add.iter().map(String::as_str));
        for (ids, present) in [(&c.remove, false), (&c.add, true)] {
            for id in ids {
                if state.insert(id.as_str(), present).is_none() {
                    order.push(id.as_str());
                }
            }
        }
    }
    let mut out = MemberChange::default();
    for id in order {
        if state[id] {
            out.add.push(id.to_owned());
        } else {
            out.remove.push(id.to_owned());
            if added.contains(id) {
                out.must_be_users.push(id.to_owned());
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::time::Duration;

    use serde_json::json;
    use tokio::sync::Notify;

    use super::*;
    use crate::service::fake::{stored, FakeStore};
    use crate::store::Kind;

    fn change(add: &[&str], remove: &[&str]) -> MemberChange {
        MemberChange {
            clear: false,
            add: add.iter().map(|s| s.to_string()).collect(),
            remove: remove.iter().map(|s| s.to_string()).collect(),
            must_be_users: Vec::new(),
        }
    }

    #[test]
    fn the_last_word_on_a_member_wins() {
        let c = combine(
            [
                change(&["a", "b"], &[]),
                change(&[], &["a", "c"]),
                change(&["c"], &["d"]),
            ]
            .iter(),
        );
        assert_eq!(c.add, vec!["b", "c"]);
        assert_eq!(c.remove, vec!["a", "d"]);
        assert_eq!(c.must_be_users, vec!["a"]);
        assert!(!c.clear);
    }

    #[test]
    fn add_then_remove_of_the_same_member_leaves_it_out() {
        let c = combine([change(&["x"], &[]), change(&[], &["x"])].iter());
        assert!(c.add.is_empty());
        assert_eq!(c.remove, vec!["x"]);
        // The add still owes its check that "x" is a user here.
        assert_eq!(c.must_be_users, vec!["x"]);
    }

    /// A store whose first membership write panics once a test lets it go on, and whose
    /// later writes succeed.
    fn store_panicking_once(entered: Arc<Notify>, release: Arc<Notify>) -> Arc<dyn Store> {
        let calls = Arc::new(AtomicUsize::new(0));
        FakeStore {
            change_members: Some(Box::new(move |_| {
                let n = calls.fetch_add(1, Ordering::SeqCst) as i64;
                let (entered, release) = (entered.clone(), release.clone());
                Box::pin(async move {
                    if n == 0 {
                        entered.notify_one();
                        release.notified().await;
                        panic!("injected fault: the store panicked inside a membership batch");
                    }
                    Ok(stored(Kind::Group, "g", 2 + n, json!({"displayName": "g"})))
                })
            })),
            ..Default::default()
        }
        .shared()
    }

    fn spawn_apply(
        batcher: &Arc<MemberBatcher>,
        store: &Arc<dyn Store>,
        add: &'static str,
    ) -> tokio::task::JoinHandle<Result<Written, StoreError>> {
        let (batcher, store) = (batcher.clone(), store.clone());
        tokio::spawn(async move {
            batcher
                .apply(&store, "r", "g", change(&[add], &[]), NewEvent::default())
                .await
        })
    }

    #[tokio::test]
    async fn a_panic_inside_a_batch_leaves_the_group_writable_at_once() {
        let (entered, release) = (Arc::new(Notify::new()), Arc::new(Notify::new()));
        let store = store_panicking_once(entered.clone(), release.clone());
        let batcher = Arc::new(MemberBatcher::default());
        let first = spawn_apply(&batcher, &store, "a");
        entered.notified().await;
        // A second change queues behind the write that is about to panic.
        let queued = spawn_apply(&batcher, &store, "b");
        let key = ("r".to_owned(), "g".to_owned());
        while batcher.lock().get(&key).map_or(0, Vec::len) == 0 {
            tokio::task::yield_now().await;
        }
        release.notify_one();
        // Only a bound for a hang: both answer as soon as the writer is gone.
        let hang = Duration::from_secs(10);
        let first = tokio::time::timeout(hang, first)
            .await
            .expect("the batch's request answers");
        assert!(first.unwrap().is_err());
        let queued = tokio::time::timeout(hang, queued)
            .await
            .expect("the queued one answers");
        assert!(queued.unwrap().is_err());
        assert!(batcher.lock().is_empty(), "the group's entry is gone");
        // The next change to the group is written, not queued for the dead writer.
        let next = tokio::time::timeout(hang, spawn_apply(&batcher, &store, "c"))
            .await
            .expect("the next change is written");
        assert_eq!(next.unwrap().unwrap().stored.version, 3);
    }
}
