//! The services together: what a request handler may call.

use std::sync::Arc;

use crate::clock::Clock;
use crate::scim::discovery::Capabilities;
use crate::scim::filter::FilterLimits;
use crate::scim::list::PageLimits;
use crate::store::Store;

pub use super::error::{ServiceError, ServiceResult};
use super::{admin, auth, oauth, resources, webhooks};

/// Everything a request handler may call.
pub struct Services {
    pub store: Arc<dyn Store>,
    pub auth: auth::AuthService,
    pub admin: admin::AdminService,
    pub oauth: oauth::OAuthService,
    pub resources: resources::ResourceService,
    pub usage: Arc<auth::UsageTracker>,
    pub capabilities: Capabilities,
    /// Sends webhooks; its loop is started by the server (`Dispatch::run`).
    pub webhooks: Arc<webhooks::Dispatch>,
    /// Raised by every SCIM write; relayed to and from other servers by `EventSignal::relay`.
    pub events: Arc<super::event_signal::EventSignal>,
    /// Prunes event logs to their retention; its loop is started by the server.
    pub pruner: Arc<super::event_retention::Pruner>,
}

pub struct Limits {
    pub page: PageLimits,
    pub filter: FilterLimits,
    pub max_body_bytes: u64,
    pub max_patch_operations: usize,
    pub cursor_timeout_secs: u64,
    /// Refused credentials per realm and address, and per Basic username, a minute.
    pub auth_failures_per_minute: u32,
    pub basic_failures_per_minute: u32,
}

impl Services {
    pub fn new(
        store: Arc<dyn Store>,
        limits: Limits,
        clock: Arc<dyn Clock>,
        hooks: webhooks::Settings,
    ) -> Self {
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
        // One key cache for client assertions and JWT bearer tokens: an issuer used for
        // both is fetched once.
        let keys = Arc::new(super::jwks::KeySets::new());
        let events_written = Arc::new(super::event_signal::EventSignal::default());
        let auth =
            auth::AuthService::new(store.clone(), usage.clone(), clock.clone(), keys.clone())
                .with_failure_limits(
                    limits.auth_failures_per_minute,
                    limits.basic_failures_per_minute,
                )
                .with_event_signal(events_written.clone());
        let webhooks =
            webhooks::dispatch(store.clone(), clock.clone(), hooks, events_written.clone());
        let admin = admin::AdminService::new(store.clone(), clock.clone())
            .with_auth_cache(auth.cache.clone())
            .with_event_signal(events_written.clone())
            .with_webhooks(webhooks.clone());
        let pruner = Arc::new(super::event_retention::Pruner::new(
            store.clone(),
            clock.clone(),
        ));
        let oauth = oauth::OAuthService::new(store.clone(), clock, keys);
        Self {
            oauth,
            auth,
            admin,
            resources: resources::ResourceService::new(
                store.clone(),
                limits.page,
                limits.filter,
                limits.max_patch_operations,
                limits.cursor_timeout_secs as i64,
            )
            .with_event_signal(events_written.clone()),
            store,
            usage,
            capabilities,
            webhooks,
            events: events_written,
            pruner,
        }
    }
}

/// A store for the service's unit tests: every method refuses unless a test gives it a body
/// through `FakeStore`'s hooks, so a test states exactly which store calls it expects.
#[cfg(test)]
pub(crate) mod fake {
    use std::sync::Arc;

    use async_trait::async_trait;

    use crate::store::*;

    pub type BoxFuture<T> = std::pin::Pin<Box<dyn std::future::Future<Output = T> + Send>>;
    pub type Hook<A, R> = Box<dyn Fn(A) -> BoxFuture<StoreResult<R>> + Send + Sync>;

    /// Hooks for the calls the service's tests make; an unset hook fails the call.
    #[derive(Default)]
    pub struct FakeStore {
        pub get_resource: Option<Hook<String, Option<StoredResource>>>,
        pub replace_resource: Option<Hook<ReplaceResource, StoredResource>>,
        pub change_members: Option<Hook<MemberChange, StoredResource>>,
    }

    /// A stored resource with `data`, at `version`.
    pub fn stored(kind: Kind, id: &str, version: i64, data: serde_json::Value) -> StoredResource {
        let serde_json::Value::Object(data) = data else {
            panic!("data is an object");
        };
        StoredResource {
            id: id.to_owned(),
            kind,
            external_id: None,
            data,
            version,
            created: "2026-01-01T00:00:00.000Z".into(),
            last_modified: "2026-01-01T00:00:00.000Z".into(),
            related: Some(false),
            direct_groups: None,
        }
    }

    fn unexpected<T>(call: &str) -> StoreResult<T> {
        Err(StoreError::Corrupt(format!(
            "the test did not expect {call}"
        )))
    }

    async fn call<A, R>(hook: &Option<Hook<A, R>>, arg: A, name: &str) -> StoreResult<R> {
        match hook {
            Some(h) => h(arg).await,
            None => unexpected(name),
        }
    }

    impl FakeStore {
        pub fn shared(self) -> Arc<dyn Store> {
            Arc::new(self)
        }
    }

    #[async_trait]
    impl System for FakeStore {
        async fn close(&self) {}
        fn pool_stats(&self) -> (u32, usize) {
            (0, 0)
        }
        async fn ping(&self) -> StoreResult<()> {
            unexpected("ping")
        }
        async fn secret(&self, _name: &str) -> StoreResult<Vec<u8>> {
            unexpected("secret")
        }
    }

    #[async_trait]
    impl Tenancy for FakeStore {
        async fn create_tenant(&self, _name: &str) -> StoreResult<Tenant> {
            unexpected("create_tenant")
        }
        async fn list_tenants(&self) -> StoreResult<Vec<Tenant>> {
            unexpected("list_tenants")
        }
        async fn create_realm(&self, _tenant: &str, _name: &str) -> StoreResult<Realm> {
            unexpected("create_realm")
        }
        async fn list_realms(&self, _tenant: Option<&str>) -> StoreResult<Vec<Realm>> {
            unexpected("list_realms")
        }
        async fn find_realm(&self, _tenant: &str, _name: &str) -> StoreResult<Option<Realm>> {
            unexpected("find_realm")
        }
        async fn set_realm_state(
            &self,
            _tenant: &str,
            _name: &str,
            _state: RealmState,
        ) -> StoreResult<Realm> {
            unexpected("set_realm_state")
        }
        async fn bootstrap(
            &self,
            _tenant: &str,
            _realm: &str,
            _token: NewToken,
        ) -> StoreResult<bool> {
            unexpected("bootstrap")
        }
    }

    #[async_trait]
    impl Tokens for FakeStore {
        async fn create_token(&self, _token: NewToken) -> StoreResult<TokenInfo> {
            unexpected("create_token")
        }
        async fn list_tokens(&self, _realm_id: &str) -> StoreResult<Vec<TokenInfo>> {
            unexpected("list_tokens")
        }
        async fn revoke_token(&self, _realm_id: &str, _token_id: &str) -> StoreResult<bool> {
            unexpected("revoke_token")
        }
        async fn authenticate(
            &self,
            _tenant: &str,
            _realm: &str,
            _token_hash: Option<&str>,
        ) -> StoreResult<Option<(Realm, Option<TokenInfo>)>> {
            unexpected("authenticate")
        }
        async fn auth_feed(&self) -> StoreResult<Option<Box<dyn AuthFeed>>> {
            unexpected("auth_feed")
        }
        async fn record_token_use(&self, _uses: &[(String, String, String)]) -> StoreResult<()> {
            unexpected("record_token_use")
        }
    }

    /// Nor are OAuth clients.
    #[async_trait]
    impl OAuthClients for FakeStore {
        async fn insert_client(
            &self,
            _: &OAuthClient,
            _: Option<&ClientSecret>,
        ) -> StoreResult<()> {
            unexpected("insert_client")
        }
        async fn get_client(&self, _: &str, _: &str) -> StoreResult<Option<OAuthClient>> {
            unexpected("get_client")
        }
        async fn page_clients(&self, _: &str, _: &Page) -> StoreResult<Vec<OAuthClient>> {
            unexpected("page_clients")
        }
        async fn update_client(
            &self,
            _: &str,
            _: &str,
            _: &ClientChanges,
            _: &str,
        ) -> StoreResult<OAuthClient> {
            unexpected("update_client")
        }
        async fn delete_client(&self, _: &str, _: &str) -> StoreResult<bool> {
            unexpected("delete_client")
        }
        async fn insert_client_secret(
            &self,
            _: &ClientSecret,
            _: usize,
            _: &str,
        ) -> StoreResult<()> {
            unexpected("insert_client_secret")
        }
        async fn list_client_secrets(&self, _: &str, _: &str) -> StoreResult<Vec<ClientSecret>> {
            unexpected("list_client_secrets")
        }
        async fn revoke_client_secret(
            &self,
            _: &str,
            _: &str,
            _: &str,
            _: &str,
        ) -> StoreResult<bool> {
            unexpected("revoke_client_secret")
        }
        async fn find_client_secret(
            &self,
            _: &str,
            _: &str,
            _: &str,
        ) -> StoreResult<Option<(OAuthClient, ClientSecret)>> {
            unexpected("find_client_secret")
        }
        async fn issue_access_token(
            &self,
            _: &NewToken,
            _: &str,
            _: &IssuedWith,
        ) -> StoreResult<()> {
            unexpected("issue_access_token")
        }
    }

    /// Nor is federation.
    #[async_trait]
    impl Federation for FakeStore {
        async fn insert_federated(&self, _: &FederatedCredential, _: usize) -> StoreResult<()> {
            unexpected("insert_federated")
        }
        async fn list_federated(&self, _: &str, _: &str) -> StoreResult<Vec<FederatedCredential>> {
            unexpected("list_federated")
        }
        async fn delete_federated(&self, _: &str, _: &str, _: &str) -> StoreResult<bool> {
            unexpected("delete_federated")
        }
        async fn find_federated(
            &self,
            _: &str,
            _: &str,
            _: &str,
        ) -> StoreResult<Vec<(OAuthClient, FederatedCredential)>> {
            unexpected("find_federated")
        }
        async fn claim_assertion(&self, _: &str, _: &str, _: &str, _: &str) -> StoreResult<bool> {
            unexpected("claim_assertion")
        }
    }

    /// Nor are trusted issuers.
    #[async_trait]
    impl TrustedIssuers for FakeStore {
        async fn insert_trusted_issuer(&self, _: &TrustedIssuer, _: usize) -> StoreResult<()> {
            unexpected("insert_trusted_issuer")
        }
        async fn get_trusted_issuer(&self, _: &str, _: &str) -> StoreResult<Option<TrustedIssuer>> {
            unexpected("get_trusted_issuer")
        }
        async fn list_trusted_issuers(&self, _: &str) -> StoreResult<Vec<TrustedIssuer>> {
            unexpected("list_trusted_issuers")
        }
        async fn update_trusted_issuer(&self, _: &TrustedIssuer) -> StoreResult<()> {
            unexpected("update_trusted_issuer")
        }
        async fn delete_trusted_issuer(&self, _: &str, _: &str) -> StoreResult<bool> {
            unexpected("delete_trusted_issuer")
        }
        async fn find_trusted_issuers(&self, _: &str, _: &str) -> StoreResult<Vec<TrustedIssuer>> {
            unexpected("find_trusted_issuers")
        }
        async fn record_trusted_issuer_use(
            &self,
            _: &[(String, String, String)],
        ) -> StoreResult<()> {
            unexpected("record_trusted_issuer_use")
        }
    }

    /// Nor are Basic credentials.
    #[async_trait]
    impl BasicCredentials for FakeStore {
        async fn insert_basic(&self, _: &BasicCredential, _: usize) -> StoreResult<()> {
            unexpected("insert_basic")
        }
        async fn list_basic(&self, _: &str) -> StoreResult<Vec<BasicCredential>> {
            unexpected("list_basic")
        }
        async fn get_basic(&self, _: &str, _: &str) -> StoreResult<Option<BasicCredential>> {
            unexpected("get_basic")
        }
        async fn delete_basic(&self, _: &str, _: &str) -> StoreResult<bool> {
            unexpected("delete_basic")
        }
        async fn find_basic(&self, _: &str, _: &str) -> StoreResult<Option<BasicCredential>> {
            unexpected("find_basic")
        }
        async fn record_basic_use(&self, _: &[(String, String, String)]) -> StoreResult<()> {
            unexpected("record_basic_use")
        }
    }

    /// The control plane is not what the service's unit tests are about: every call refuses.
    #[async_trait]
    impl Control for FakeStore {
        async fn get_tenant(&self, _: &str) -> StoreResult<Option<Tenant>> {
            unexpected("get_tenant")
        }
        async fn page_tenants(&self, _: &Page, _: Option<&str>) -> StoreResult<Vec<Tenant>> {
            unexpected("page_tenants")
        }
        async fn insert_tenant(&self, _: &Tenant) -> StoreResult<()> {
            unexpected("insert_tenant")
        }
        async fn update_tenant(&self, _: &str, _: &Changes, _: &str) -> StoreResult<Tenant> {
            unexpected("update_tenant")
        }
        async fn delete_tenant(&self, _: &str, _: bool) -> StoreResult<Deletion> {
            unexpected("delete_tenant")
        }
        async fn page_realms(&self, _: &str, _: &Page) -> StoreResult<Vec<Realm>> {
            unexpected("page_realms")
        }
        async fn insert_realm(&self, _: &Realm) -> StoreResult<()> {
            unexpected("insert_realm")
        }
        async fn update_realm(&self, _: &str, _: &str, _: &Changes, _: &str) -> StoreResult<Realm> {
            unexpected("update_realm")
        }
        async fn delete_realm(&self, _: &str, _: &str, _: bool) -> StoreResult<Deletion> {
            unexpected("delete_realm")
        }
        async fn realm_counts(&self, _: &str) -> StoreResult<(u64, u64)> {
            unexpected("realm_counts")
        }
        async fn get_token(&self, _: &str, _: &str) -> StoreResult<Option<TokenInfo>> {
            unexpected("get_token")
        }
        async fn page_tokens(&self, _: &str, _: &Page) -> StoreResult<Vec<TokenInfo>> {
            unexpected("page_tokens")
        }
        async fn update_token(&self, _: &str, _: &str, _: &Changes) -> StoreResult<TokenInfo> {
            unexpected("update_token")
        }
        async fn rotate_token(
            &self,
            _: &str,
            _: &str,
            _: NewToken,
            _: &str,
        ) -> StoreResult<TokenInfo> {
            unexpected("rotate_token")
        }
        async fn insert_admin_token(&self, _: &AdminToken) -> StoreResult<()> {
            unexpected("insert_admin_token")
        }
        async fn page_admin_tokens(
            &self,
            _: Option<&str>,
            _: &Page,
        ) -> StoreResult<Vec<AdminToken>> {
            unexpected("page_admin_tokens")
        }
        async fn get_admin_token(&self, _: &str) -> StoreResult<Option<AdminToken>> {
            unexpected("get_admin_token")
        }
        async fn find_admin_token(&self, _: &str) -> StoreResult<Option<AdminToken>> {
            unexpected("find_admin_token")
        }
        async fn revoke_admin_token(&self, _: &str, _: &str) -> StoreResult<bool> {
            unexpected("revoke_admin_token")
        }
        async fn record_admin_token_use(&self, _: &str, _: &str) -> StoreResult<()> {
            unexpected("record_admin_token_use")
        }
        async fn append_audit(&self, _: &AuditEvent) -> StoreResult<()> {
            unexpected("append_audit")
        }
        async fn page_audit(&self, _: Option<&str>, _: &Page) -> StoreResult<Vec<AuditEvent>> {
            unexpected("page_audit")
        }
    }

    #[async_trait]
    impl Resources for FakeStore {
        async fn insert_resource(&self, _new: NewResource) -> StoreResult<StoredResource> {
            unexpected("insert_resource")
        }
        async fn delete_resource(
            &self,
            _realm_id: &str,
            _kind: Kind,
            _id: &str,
            _expected_version: Option<i64>,
            _event: Option<NewEvent>,
        ) -> StoreResult<()> {
            unexpected("delete_resource")
        }
        async fn list_resources(
            &self,
            _realm_id: &str,
            _kind: Kind,
            _query: &ListQuery,
        ) -> StoreResult<ListPage> {
            unexpected("list_resources")
        }
        async fn get_resource(
            &self,
            _realm_id: &str,
            _kind: Kind,
            id: &str,
        ) -> StoreResult<Option<StoredResource>> {
            call(&self.get_resource, id.to_owned(), "get_resource").await
        }
        async fn replace_resource(&self, update: ReplaceResource) -> StoreResult<StoredResource> {
            call(&self.replace_resource, update, "replace_resource").await
        }
    }

    #[async_trait]
    impl Events for FakeStore {
        async fn read_events(&self, _realm_id: &str, _q: &EventQuery) -> StoreResult<EventPage> {
            unexpected("read_events")
        }
        async fn announce_events(&self) -> StoreResult<()> {
            unexpected("announce_events")
        }
        async fn event_notices(&self) -> StoreResult<Option<Box<dyn AuthFeed>>> {
            unexpected("event_notices")
        }
        async fn append_event(&self, _: &NewLogEntry) -> StoreResult<()> {
            unexpected("append_event")
        }
        async fn events_pruned_through(&self, _: &str) -> StoreResult<Option<EventPos>> {
            unexpected("events_pruned_through")
        }
        async fn event_beyond(&self, _: &str, _: u64) -> StoreResult<Option<EventPos>> {
            unexpected("event_beyond")
        }
        async fn prune_events(
            &self,
            _: &str,
            _: Option<&str>,
            _: Option<EventPos>,
            _: u32,
        ) -> StoreResult<u64> {
            unexpected("prune_events")
        }
    }

    #[async_trait]
    impl Webhooks for FakeStore {
        async fn insert_webhook(&self, _: &Webhook, _: usize) -> StoreResult<()> {
            unexpected("insert_webhook")
        }
        async fn get_webhook(&self, _: &str, _: &str) -> StoreResult<Option<Webhook>> {
            unexpected("get_webhook")
        }
        async fn list_webhooks(&self, _: &str) -> StoreResult<Vec<Webhook>> {
            unexpected("list_webhooks")
        }
        async fn all_webhooks(&self) -> StoreResult<Vec<Webhook>> {
            unexpected("all_webhooks")
        }
        async fn update_webhook(&self, _: &Webhook) -> StoreResult<()> {
            unexpected("update_webhook")
        }
        async fn resume_webhook(&self, _: &str, _: &str, _: &str) -> StoreResult<bool> {
            unexpected("resume_webhook")
        }
        async fn delete_webhook(&self, _: &str, _: &str) -> StoreResult<bool> {
            unexpected("delete_webhook")
        }
        async fn events_end(&self, _: &str) -> StoreResult<EventPos> {
            unexpected("events_end")
        }
        async fn get_event(&self, _: &str, _: EventPos) -> StoreResult<Option<Event>> {
            unexpected("get_event")
        }
        async fn claim_webhooks(
            &self,
            _: &str,
            _: &str,
            _: &str,
            _: usize,
        ) -> StoreResult<Vec<Webhook>> {
            unexpected("claim_webhooks")
        }
        async fn webhook_progress(
            &self,
            _: &str,
            _: &str,
            _: &str,
            _: &WebhookProgress,
        ) -> StoreResult<bool> {
            unexpected("webhook_progress")
        }
        async fn record_delivery(&self, _: &Delivery, _: usize) -> StoreResult<()> {
            unexpected("record_delivery")
        }
        async fn list_deliveries(&self, _: &str, _: &str, _: usize) -> StoreResult<Vec<Delivery>> {
            unexpected("list_deliveries")
        }
        async fn get_delivery(&self, _: &str, _: &str, _: &str) -> StoreResult<Option<Delivery>> {
            unexpected("get_delivery")
        }
    }

    #[async_trait]
    impl Membership for FakeStore {
        async fn groups_of(
            &self,
            _realm_id: &str,
            _member_ids: &[String],
        ) -> StoreResult<Vec<GroupRow>> {
            unexpected("groups_of")
        }
        async fn groups_from_direct(
            &self,
            _realm_id: &str,
            _direct: Vec<(String, DirectGroup)>,
        ) -> StoreResult<Vec<GroupRow>> {
            unexpected("groups_from_direct")
        }
        async fn change_members(
            &self,
            _realm_id: &str,
            _group_id: &str,
            change: MemberChange,
            _expected_version: Option<i64>,
            _now: &str,
            _events: Vec<NewEvent>,
        ) -> StoreResult<StoredResource> {
            call(&self.change_members, change, "change_members").await
        }
        async fn has_more_members_than(
            &self,
            _realm_id: &str,
            _group_id: &str,
            _n: u64,
        ) -> StoreResult<bool> {
            Ok(false)
        }
        async fn members_of(
            &self,
            _realm_id: &str,
            _group_ids: &[String],
        ) -> StoreResult<Vec<MemberRow>> {
            Ok(Vec::new())
        }
    }
}
