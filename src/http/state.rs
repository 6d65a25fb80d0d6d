//! Shared state of the HTTP layer.

use std::sync::Arc;

use crate::service::Services;

#[derive(Clone)]
pub struct AppState {
    pub services: Arc<Services>,
    /// Public origin (scheme://host[:port]) for `meta.location`; empty: from request headers.
    pub public_url: Arc<str>,
    /// Peers whose X-Forwarded-Host / -Proto are believed (`trusted_proxies`).
    pub trusted_proxies: Arc<[ipnet::IpNet]>,
    pub max_body_bytes: u64,
    pub discovery_requires_auth: bool,
    pub limits: Arc<super::limits::Limits>,
    /// Whether a metrics listener serves /metrics. Without one nobody can read per-request
    /// metrics, so they are not recorded (a histogram keeps every sample until it is read).
    pub metrics: bool,
}
