//! Use cases: the only callers of the store. The HTTP layer and the CLI go through here.
//! Without the `server` feature only the filter and sort lowering are built.

#[cfg(feature = "server")]
pub mod admin;
#[cfg(feature = "server")]
pub mod auth;
#[cfg(feature = "server")]
pub mod auth_cache;
#[cfg(feature = "server")]
pub mod bearer_jwt;
#[cfg(feature = "server")]
pub mod error;
/// Pruning each realm's event log to its retention.
#[cfg(feature = "server")]
pub mod event_retention;
/// Waking waiters on new events, here and on the other servers.
#[cfg(feature = "server")]
pub mod event_signal;
/// What each SCIM write records in the event log.
#[cfg(feature = "server")]
pub mod events;
#[cfg(feature = "server")]
pub mod failures;
pub mod filter;
#[cfg(feature = "server")]
pub mod jwks;
#[cfg(feature = "server")]
pub mod jwt;
#[cfg(feature = "server")]
pub mod member_batch;
#[cfg(feature = "server")]
pub mod oauth;
#[cfg(feature = "server")]
pub mod password;
#[cfg(feature = "server")]
pub mod resources;
#[cfg(feature = "server")]
mod services;
pub mod sort;
/// Webhook subscriptions' sending: signing, sealing, the address guard, the loop.
#[cfg(feature = "server")]
pub mod webhooks;

#[cfg(feature = "server")]
pub use services::*;
