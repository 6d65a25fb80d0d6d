//! The black-box API suite: every test runs against SQLite and against Postgres.

mod helpers;
mod idp;

mod admin_api;
mod auth;
mod auth_failures;
mod auth_methods;
mod basic_credentials;
mod cli;
mod concurrency;
mod discovery;
mod events;
mod faults;
mod federation;
mod filter_property;
mod groups;
mod hostile;
mod http_edge;
mod indexes;
mod isolation;
mod limits;
mod logs;
mod oauth;
mod openapi;
mod paging;
mod patch;
mod patch_property;
mod realms;
mod replicas;
mod schema_keys;
mod search;
mod sort_fold;
mod trusted_issuers;
mod upgrade;
mod users;
mod webhooks;
