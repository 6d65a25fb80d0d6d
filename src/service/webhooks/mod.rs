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
use crate::store::{Event, EventOp, Store, Subject};

pub use deliver::{Dispatch, Outcome, KEEP_DELIVERIES};
pub use guard::AddressPolicy;
pub use seal::Keyring;

/// The resource part of an event type, as webhooks name it.
const RESOURCES: [&str; 2] = ["user", "group"];
/// The operations of SCIM writes.
const SCIM_OPS: [EventOp; 4] = [
    EventOp::Create,
    EventOp::Replace,
    EventOp::Patch,
    EventOp::Delete,
];

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

/// An event's type as a webhook receives it: `user.create`, `group.patch` for SCIM writes,
/// `admin.<action>` (`admin.token.rotate`) for admin actions, `auth.denied` for denials.
pub fn event_type(e: &Event) -> String {
    match e.operation {
        EventOp::Admin => format!("admin.{}", e.action.as_deref().unwrap_or("unknown")),
        EventOp::Denied => "auth.denied".into(),
        op => format!(
            "{}.{}",
            e.resource_type.name().to_ascii_lowercase(),
            op.name()
        ),
    }
}

/// Whether `pattern` is one a subscription may name: `*`; `<resource>.<operation>` of SCIM
/// writes, either part `*`; `admin.*` or `admin.<action>`; `auth.*` or `auth.denied`.
pub fn valid_pattern(pattern: &str) -> bool {
    if pattern == "*" {
        return true;
    }
    let Some((res, op)) = pattern.split_once('.') else {
        return false;
    };
    match res {
        "admin" => op == "*" || (Subject::of_action(op).is_some() && op.contains('.')),
        "auth" => op == "*" || op == "denied",
        _ => {
            (res == "*" || RESOURCES.contains(&res))
                && (op == "*" || EventOp::parse(op).is_some_and(|o| SCIM_OPS.contains(&o)))
        }
    }
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
        assert!(wants(&p(&["admin.*"]), "admin.token.rotate"));
        assert!(wants(&p(&["admin.token.rotate"]), "admin.token.rotate"));
        assert!(!wants(&p(&["admin.token.create"]), "admin.token.rotate"));
        assert!(!wants(&p(&["*.create"]), "admin.token.create"));
        assert!(wants(&p(&["auth.*"]), "auth.denied"));
        assert!(!wants(&p(&["user.*", "group.*"]), "auth.denied"));
        for ok in [
            "*",
            "user.*",
            "*.patch",
            "group.delete",
            "*.*",
            "admin.*",
            "admin.webhook.rotate_secret",
            "auth.denied",
        ] {
            assert!(valid_pattern(ok), "{ok}");
        }
        for bad in [
            "users.create",
            "user.update",
            "user",
            "user.create.x",
            "",
            "user.admin",
            "*.denied",
            "admin.tenant.create",
            "admin.token",
            "auth.granted",
        ] {
            assert!(!valid_pattern(bad), "{bad}");
        }
    }
}
