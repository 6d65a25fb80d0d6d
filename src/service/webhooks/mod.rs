//! Webhooks: a realm's events sent to subscribers' URLs, in order, at least once, signed in
//! the Standard Webhooks format, the work shared between servers by leases in the store.

mod deliver;
pub mod guard;
pub mod keys;
pub mod seal;
pub mod sign;

use std::sync::Arc;
use std::time::Duration;

use serde::Serialize;

use crate::clock::Clock;
use crate::service::admin::events::EventView;
use crate::store::{Event, Store};

pub use deliver::{Dispatch, Outcome, KEEP_DELIVERIES};
pub use guard::AddressPolicy;
pub use seal::Keyring;

/// The resource part of an event type, as webhooks name it.
const RESOURCES: [&str; 2] = ["user", "group"];

/// How webhooks are sent, from the server's config.
pub struct Settings {
    pub keys: Keyring,
    pub policy: AddressPolicy,
    /// How long a receiver has to answer.
    pub timeout: Duration,
    /// Webhooks this server sends to at once.
    pub concurrency: usize,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            keys: Keyring::default(),
            policy: AddressPolicy::default(),
            timeout: Duration::from_secs(10),
            concurrency: 16,
        }
    }
}

/// `user.create`, `group.patch`: an event's type as a webhook receives it.
pub fn event_type(e: &Event) -> String {
    format!(
        "{}.{}",
        e.resource_type.name().to_ascii_lowercase(),
        e.operation.name()
    )
}

/// Whether `pattern` is one a subscription may name: `*`, `<resource>.<operation>`, either
/// part `*`.
pub fn valid_pattern(pattern: &str) -> bool {
    if pattern == "*" {
        return true;
    }
    let Some((res, op)) = pattern.split_once('.') else {
        return false;
    };
    (res == "*" || RESOURCES.contains(&res))
        && (op == "*" || crate::store::EventOp::parse(op).is_some())
}

/// Whether a subscription to `patterns` receives an event of type `ty`.
pub fn wants(patterns: &[String], ty: &str) -> bool {
    let (res, op) = ty.split_once('.').unwrap_or((ty, ""));
    patterns.iter().any(|p| {
        p == "*"
            || p.split_once('.')
                .is_some_and(|(pr, po)| (pr == "*" || pr == res) && (po == "*" || po == op))
    })
}

/// The body a receiver gets: Standard Webhooks' `type`, `timestamp` and `data`.
#[derive(Serialize)]
pub struct Payload {
    #[serde(rename = "type")]
    pub kind: String,
    pub timestamp: String,
    pub data: PayloadData,
}

#[derive(Serialize)]
pub struct PayloadData {
    pub tenant: String,
    pub realm: String,
    #[serde(flatten)]
    pub event: EventView,
}

/// The message id of an event: the same on every attempt and redelivery, so a receiver can
/// drop what it already has.
pub fn message_id(realm_id: &str, e: &Event) -> String {
    format!(
        "evt_{}_{}_{}",
        realm_id.replace('-', ""),
        e.pos.major,
        e.pos.seq
    )
}

/// Builds the dispatcher the admin API and the background sender share.
pub fn dispatch(
    store: Arc<dyn Store>,
    clock: Arc<dyn Clock>,
    settings: Settings,
    wake: Arc<crate::service::event_signal::EventSignal>,
) -> Arc<Dispatch> {
    Arc::new(Dispatch::new(store, clock, settings, wake))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn patterns_choose_events() {
        assert!(wants(&p(&["*"]), "user.create"));
        assert!(wants(&p(&["user.*"]), "user.delete"));
        assert!(!wants(&p(&["user.*"]), "group.delete"));
        assert!(wants(&p(&["*.delete"]), "group.delete"));
        assert!(wants(&p(&["group.patch", "user.create"]), "user.create"));
        assert!(!wants(&p(&["group.patch"]), "group.replace"));
        assert!(!wants(&[], "user.create"));
        for ok in ["*", "user.*", "*.patch", "group.delete", "*.*"] {
            assert!(valid_pattern(ok), "{ok}");
        }
        for bad in ["users.create", "user.update", "user", "user.create.x", ""] {
            assert!(!valid_pattern(bad), "{bad}");
        }
    }
}
