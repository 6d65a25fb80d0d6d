//! scimd: a standalone, multi-tenant SCIM 2.0 service provider.
#![forbid(unsafe_code)]

/// Server assembly, startup and graceful shutdown.
#[cfg(feature = "server")]
pub mod app;
/// Command-line interface: serve, healthcheck and admin commands.
#[cfg(feature = "server")]
pub mod cli;
/// Timestamps in the one format scimd stores.
pub mod clock;
/// Configuration from file and environment.
#[cfg(feature = "server")]
pub mod config;
/// The HTTP edge (axum).
#[cfg(feature = "server")]
pub mod http;
/// The SCIM protocol, pure.
pub mod scim;
/// Use cases; the only callers of the store.
pub mod service;
/// Persistence (sqlx, PostgreSQL and SQLite).
pub mod store;
/// Logging setup.
#[cfg(feature = "server")]
pub mod telemetry;
