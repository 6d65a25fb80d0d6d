//! Change notices: realms and tokens (the channel the triggers of migration 0005 NOTIFY), and
//! other servers' event writes.

use sqlx::postgres::PgListener;

use super::PgStore;
use crate::store::{AuthFeed, StoreError, StoreResult};

pub(super) const AUTH_CHANNEL: &str = "scimd_auth";
/// Servers announce their event writes here (the change feed and webhooks listen).
pub(super) const EVENTS_CHANNEL: &str = "scimd_events";

struct PgAuthFeed {
    listener: PgListener,
}

#[async_trait::async_trait]
impl AuthFeed for PgAuthFeed {
    async fn changed(&mut self) -> StoreResult<()> {
        match self.listener.try_recv().await {
            Ok(Some(_)) => Ok(()),
            // The connection dropped: whatever was said meanwhile is lost, so the feed is
            // over (the caller opens a new one and starts from nothing).
            Ok(None) => Err(StoreError::Corrupt(
                "the change feed's connection was lost".into(),
            )),
            Err(e) => Err(StoreError::Other(e)),
        }
    }
}

impl PgStore {
    pub(super) async fn open_feed(&self, channel: &str) -> StoreResult<Box<dyn AuthFeed>> {
        // Its own connection, outside the pool: it sits in LISTEN for the server's lifetime.
        let mut listener = PgListener::connect(&self.url)
            .await
            .map_err(StoreError::Other)?;
        // Returns once the server has registered the LISTEN: every change committed after
        // this point is heard.
        listener.listen(channel).await.map_err(StoreError::Other)?;
        Ok(Box::new(PgAuthFeed { listener }))
    }
}
