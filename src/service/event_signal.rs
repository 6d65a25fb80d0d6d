//! Who is told that events were written: waiting feed readers and the webhook sender of this
//! server at once, and (through the database's change notices, on PostgreSQL) every other
//! server on the same database a moment later.

use std::pin::pin;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::futures::Notified;
use tokio::sync::Notify;

use crate::store::Store;

/// Writes this close together are announced to other servers once.
const COALESCE: Duration = Duration::from_millis(10);
const RETRY_MIN: Duration = Duration::from_millis(200);
const RETRY_MAX: Duration = Duration::from_secs(10);

#[derive(Default)]
pub struct EventSignal {
    /// This server's own writes: to be announced.
    local: Notify,
    /// Any server's writes: what waiters wait on.
    any: Notify,
}

impl EventSignal {
    /// This server wrote events.
    pub fn wrote(&self) {
        self.local.notify_waiters();
        self.any.notify_waiters();
    }

    /// Another server wrote events, or something here wants the waiters to look again.
    pub fn heard(&self) {
        self.any.notify_waiters();
    }

    /// Resolves at the next `wrote` or `heard` after this call, even if polled later.
    pub fn notified(&self) -> Notified<'_> {
        self.any.notified()
    }

    /// Relays between this server and the others for the server's lifetime: announces this
    /// server's writes (outside their transactions, coalesced) and wakes the waiters here on
    /// the others'. Returns at once on a store without notices (SQLite: one server).
    pub async fn relay(self: Arc<Self>, store: Arc<dyn Store>) {
        let announcer = {
            let me = self.clone();
            let store = store.clone();
            tokio::spawn(async move { me.announce(store).await })
        };
        self.listen(store).await;
        announcer.abort();
    }

    async fn announce(&self, store: Arc<dyn Store>) {
        let mut next = pin!(self.local.notified());
        next.as_mut().enable();
        loop {
            next.as_mut().await;
            // Registered before the announcement: a write made while it is sent is announced
            // by the next round.
            next.set(self.local.notified());
            next.as_mut().enable();
            if let Err(e) = store.announce_events().await {
                tracing::debug!(error = %e, "announcing events to other servers failed");
            }
            tokio::time::sleep(COALESCE).await;
        }
    }

    async fn listen(&self, store: Arc<dyn Store>) {
        let mut wait = RETRY_MIN;
        loop {
            match store.event_notices().await {
                Ok(None) => return,
                Ok(Some(mut feed)) => {
                    wait = RETRY_MIN;
                    // Whatever was announced while no one listened: look again.
                    self.heard();
                    let err = loop {
                        match feed.changed().await {
                            Ok(()) => self.heard(),
                            Err(e) => break e,
                        }
                    };
                    tracing::warn!(error = %err, "the event notice feed broke; other servers' \
                        writes are seen by polling until it is back");
                }
                Err(e) => tracing::warn!(error = %e, "opening the event notice feed failed"),
            }
            tokio::time::sleep(wait).await;
            wait = (wait * 2).min(RETRY_MAX);
        }
    }
}
