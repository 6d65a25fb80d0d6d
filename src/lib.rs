//! scimd: a standalone, multi-tenant SCIM 2.0 service provider.
#![forbid(unsafe_code)]

/// Server assembly, startup and graceful shutdown.
pub mod app;
/// Command-line interface: serve, healthcheck and admin commands.
pub mod cli;
/// Timestamps in the one format scimd stores.
pub mod clock;
/// Configuration from file and environment.
pub mod config;
/// The HTTP edge (axum).
pub mod http;
/// The SCIM protocol, pure.
pub mod scim;
/// Use cases; the only callers of the store.
pub mod service;
/// Persistence (sqlx, PostgreSQL and SQLite).
pub mod store;
/// Logging setup.
pub mod telemetry;
