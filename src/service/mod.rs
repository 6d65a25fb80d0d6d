//! Use cases: the only callers of the store. The HTTP layer and the CLI go through here.

pub mod admin;
pub mod auth;
pub mod auth_cache;
pub mod error;
pub mod filter;
pub mod member_batch;
pub mod password;
pub mod resources;
pub mod sort;

use std::sync::Arc;

use crate::scim::discovery::Capabilities;
use crate::scim::filter::FilterLimits;
use crate::scim::list::PageLimits;
use crate::store::Store;

pub use error::{ServiceError, ServiceResult};

/// Everything a request handler may call.
pub struct Services {
    pub store: Arc<dyn Store>,
    pub auth: auth::AuthService,
    pub admin: admin::AdminService,
    pub resources: resources::ResourceService,
    pub usage: Arc<auth::UsageTracker>,
    pub capabilities: Capabilities,
}

pub struct Limits {
    pub page: PageLimits,
    pub filter: FilterLimits,
    pub max_body_bytes: u64,
    pub max_patch_operations: usize,
    pub cursor_timeout_secs: u64,
}

impl Services {
    pub fn new(store: Arc<dyn Store>, limits: Limits) -> Self {
        let usage = Arc::new(auth::UsageTracker::default());
        let capabilities = Capabilities {
            patch: true,
            bulk: false,
            filter: true,
            filter_max_results: limits.page.max_count,
            change_password: true,
            sort: true,
            cursor_timeout_secs: limits.cursor_timeout_secs,
            etag: true,
            max_payload_bytes: limits.max_body_bytes,
            default_page_size: limits.page.default_count,
            max_page_size: limits.page.max_count,
            documentation_uri: None,
        };
        Self {
            auth: auth::AuthService::new(store.clone(), usage.clone()),
            admin: admin::AdminService::new(store.clone()),
            resources: resources::ResourceService::new(
                store.clone(),
                limits.page,
                limits.filter,
                limits.max_patch_operations,
                limits.cursor_timeout_secs as i64,
            ),
            store,
            usage,
            capabilities,
        }
    }
}
