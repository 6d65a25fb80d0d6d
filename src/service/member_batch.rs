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

use crate::store::{MemberChange, MemberRow, Store, StoreError, StoredResource};

/// A written group, with its members as the batch left them when there are few enough to
/// list: read once per batch rather than once per request.
#[derive(Clone)]
pub struct Written {
    pub stored: StoredResource,
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
/// Changes waiting for a group's next batch, each with where its answer goes.
type Waiting = Vec<(MemberChange, Reply)>;

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
    ) -> Result<Written, StoreError> {
        let (tx, rx) = oneshot::channel();
        let key = (realm_id.to_owned(), group_id.to_owned());
        let lead = {
            let mut groups = self.groups.lock().unwrap_or_else(|p| p.into_inner());
            match groups.get_mut(&key) {
                Some(waiting) => {
                    waiting.push((change, tx));
                    None
                }
                None => {
                    groups.insert(key.clone(), Vec::new());
                    Some((change, tx))
                }
            }
        };
        if let Some(first) = lead {
            // The writes run in a task of their own: a caller that gives up (a timeout, a
            // closed connection) must not strand the changes queued behind it.
            let this = self.clone();
            let store = store.clone();
            tokio::spawn(async move { this.run(store, key, vec![first]).await });
        }
        rx.await.unwrap_or_else(|_| {
            Err(StoreError::Corrupt(
                "the membership write was abandoned (the server is stopping)".into(),
            ))
        })
    }

    /// Writes batches for one group until nobody is waiting.
    async fn run(&self, store: Arc<dyn Store>, key: (String, String), mut batch: Waiting) {
        loop {
            write(store.as_ref(), &key.0, &key.1, batch).await;
            let mut groups = self.groups.lock().unwrap_or_else(|p| p.into_inner());
            let Some(waiting) = groups.get_mut(&key) else {
                return;
            };
            if waiting.is_empty() {
                groups.remove(&key);
                return;
            }
            batch = std::mem::take(waiting);
        }
    }
}

async fn write(
    store: &dyn Store,
    realm_id: &str,
    group_id: &str,
    batch: Vec<(MemberChange, Reply)>,
) {
    let now = crate::clock::now();
    if batch.len() > 1 {
        let combined = combine(batch.iter().map(|(c, _)| c));
        if let Ok(stored) = store
            .change_members(realm_id, group_id, combined, None, &now)
            .await
        {
            let written = Written {
                members: members_now(store, realm_id, group_id).await,
                stored,
            };
            for (_, reply) in batch {
                let _ = reply.send(Ok(written.clone()));
            }
            return;
        }
        // Refused as a whole: each on its own, so only the bad ones fail.
    }
    for (change, reply) in batch {
        let r = match store
            .change_members(realm_id, group_id, change, None, &now)
            .await
        {
            Ok(stored) => Ok(Written {
                members: members_now(store, realm_id, group_id).await,
                stored,
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
    use super::*;

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
}
