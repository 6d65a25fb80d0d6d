//! The capability traits every store implements, and `Store`, all of them together.

use async_trait::async_trait;

use super::*;

pub type StoreResult<T> = Result<T, StoreError>;

/// What every store is: the capabilities below together. Services hold an `Arc<dyn Store>`
/// and their functions name the capability they use.
pub trait Store:
    System
    + Tenancy
    + Tokens
    + Resources
    + Membership
    + Control
    + OAuthClients
    + Federation
    + TrustedIssuers
    + BasicCredentials
    + Events
    + Webhooks
{
}

impl<T> Store for T where
    T: System
        + Tenancy
        + Tokens
        + Resources
        + Membership
        + Control
        + OAuthClients
        + Federation
        + TrustedIssuers
        + BasicCredentials
        + Events
        + Webhooks
        + ?Sized
{
}

/// The database itself.
#[async_trait]
pub trait System: Send + Sync + 'static {
    /// Connections open in the pool, and how many of them are idle.
    fn pool_stats(&self) -> (u32, usize);
    /// Succeeds when the database answers a trivial query.
    async fn ping(&self) -> StoreResult<()>;
    /// Refuses new work and closes idle connections (at shutdown).
    async fn close(&self);
    /// A server-wide secret by name, created at random on first use (shared by replicas).
    async fn secret(&self, name: &str) -> StoreResult<Vec<u8>>;
}

/// Tenants and their realms.
#[async_trait]
pub trait Tenancy: Send + Sync + 'static {
    async fn create_tenant(&self, name: &str) -> StoreResult<Tenant>;
    async fn list_tenants(&self) -> StoreResult<Vec<Tenant>>;
    async fn create_realm(&self, tenant: &str, name: &str) -> StoreResult<Realm>;
    async fn list_realms(&self, tenant: Option<&str>) -> StoreResult<Vec<Realm>>;
    async fn find_realm(&self, tenant: &str, name: &str) -> StoreResult<Option<Realm>>;
    async fn set_realm_state(
        &self,
        tenant: &str,
        name: &str,
        state: RealmState,
    ) -> StoreResult<Realm>;
    /// Creates tenant, realm and token in one transaction when the database has no tenant yet;
    /// returns false (and changes nothing) otherwise, so only the first start prints a token.
    async fn bootstrap(&self, tenant: &str, realm: &str, token: NewToken) -> StoreResult<bool>;
}

/// Bearer tokens, and who may call a realm.
#[async_trait]
pub trait Tokens: Send + Sync + 'static {
    async fn create_token(&self, token: NewToken) -> StoreResult<TokenInfo>;
    async fn list_tokens(&self, realm_id: &str) -> StoreResult<Vec<TokenInfo>>;
    async fn revoke_token(&self, realm_id: &str, token_id: &str) -> StoreResult<bool>;
    /// Resolves a realm by path and, in the same round trip, the token with this hash in it.
    async fn authenticate(
        &self,
        tenant: &str,
        realm: &str,
        token_hash: Option<&str>,
    ) -> StoreResult<Option<(Realm, Option<TokenInfo>)>>;
    /// Notices of changes to realms and tokens by anyone, where the database can push them
    /// (PostgreSQL); `None` where it cannot, and then nothing about them may be cached.
    async fn auth_feed(&self) -> StoreResult<Option<Box<dyn AuthFeed>>>;
    /// (realm id, token id, when) of recent uses.
    async fn record_token_use(&self, uses: &[(String, String, String)]) -> StoreResult<()>;
}

/// Users and Groups as documents.
#[async_trait]
pub trait Resources: Send + Sync + 'static {
    async fn insert_resource(&self, new: NewResource) -> StoreResult<StoredResource>;
    async fn get_resource(
        &self,
        realm_id: &str,
        kind: Kind,
        id: &str,
    ) -> StoreResult<Option<StoredResource>>;
    /// Replaces attributes (and members, when given) if the version still matches.
    async fn replace_resource(&self, update: ReplaceResource) -> StoreResult<StoredResource>;
    async fn delete_resource(
        &self,
        realm_id: &str,
        kind: Kind,
        id: &str,
        expected_version: Option<i64>,
        event: Option<NewEvent>,
    ) -> StoreResult<()>;
    async fn list_resources(
        &self,
        realm_id: &str,
        kind: Kind,
        query: &ListQuery,
    ) -> StoreResult<ListPage>;
}

/// The event log: every change of a user or group, recorded by the write that made it.
#[async_trait]
pub trait Events: Send + Sync + 'static {
    /// The realm's events after `q.after`, oldest first, at most `q.limit`. Only events
    /// nothing can ever appear before: a reader that goes on from the last one returned
    /// misses none (PostgreSQL holds back events of transactions younger than the oldest one
    /// still running, until it ends).
    async fn read_events(&self, realm_id: &str, q: &EventQuery) -> StoreResult<EventPage>;
    /// Tells the other servers on this database that events were written (PostgreSQL:
    /// NOTIFY, sent outside the writes' transactions; SQLite: nothing, one server).
    async fn announce_events(&self) -> StoreResult<()>;
    /// Notices of other servers' `announce_events`; `None` where there are none.
    async fn event_notices(&self) -> StoreResult<Option<Box<dyn AuthFeed>>>;
    /// Appends an event that is no SCIM write (an admin action, a denial) on its own; nothing
    /// when the realm is gone.
    async fn append_event(&self, entry: &NewLogEntry) -> StoreResult<()>;
    /// The position of the last event pruned from the realm, if any was.
    async fn events_pruned_through(&self, realm_id: &str) -> StoreResult<Option<EventPos>>;
    /// The newest event that is not among the realm's newest `keep` (`None`: it holds no
    /// more than `keep`). Reads up to `keep` index entries: once per pruning round.
    async fn event_beyond(&self, realm_id: &str, keep: u64) -> StoreResult<Option<EventPos>>;
    /// Prunes up to `batch` of the realm's oldest events, in log order, while each is older
    /// than `older_than` or at or before `through`, in one short transaction that also moves
    /// the realm's prune mark. Only final events (see `read_events`) are pruned, so nothing can
    /// appear before the mark later. Returns how many it deleted; safe to run on several
    /// servers at once (what one deleted, the other finds gone).
    async fn prune_events(
        &self,
        realm_id: &str,
        older_than: Option<&str>,
        through: Option<EventPos>,
        batch: u32,
    ) -> StoreResult<u64>;
}

/// Group membership, direct and nested.
/// Webhook subscriptions, their delivery state and the record of their deliveries. Delivery
/// work is shared between servers by a lease on each webhook: whoever holds it alone sends,
/// and what it sent counts only once it writes its progress back.
#[async_trait]
pub trait Webhooks: Send + Sync + 'static {
    /// Adds a webhook; NotFound without the realm, Conflict when the realm holds `max`.
    async fn insert_webhook(&self, webhook: &Webhook, max: usize) -> StoreResult<()>;
    async fn get_webhook(&self, realm_id: &str, id: &str) -> StoreResult<Option<Webhook>>;
    async fn list_webhooks(&self, realm_id: &str) -> StoreResult<Vec<Webhook>>;
    /// Every realm's webhooks (to seal their secrets again after a key rotation).
    async fn all_webhooks(&self) -> StoreResult<Vec<Webhook>>;
    /// Writes what an admin may change (url, description, event types, enabled, secrets),
    /// leaving the delivery state alone. NotFound when it is gone.
    async fn update_webhook(&self, webhook: &Webhook) -> StoreResult<()>;
    /// Clears a failing webhook's failure so that delivery resumes where it stopped.
    async fn resume_webhook(&self, realm_id: &str, id: &str, now: &str) -> StoreResult<bool>;
    async fn delete_webhook(&self, realm_id: &str, id: &str) -> StoreResult<bool>;
    /// The last event of the realm that no later commit can precede: where a new webhook
    /// starts, so that it sends what happens from now on.
    async fn events_end(&self, realm_id: &str) -> StoreResult<EventPos>;
    async fn get_event(&self, realm_id: &str, pos: EventPos) -> StoreResult<Option<Event>>;
    /// Leases up to `limit` webhooks that are enabled, not failing, due at `now`, not leased
    /// by another server, and have events after their position, to `owner` until `until`.
    async fn claim_webhooks(
        &self,
        owner: &str,
        now: &str,
        until: &str,
        limit: usize,
    ) -> StoreResult<Vec<Webhook>>;
    /// Writes a leased webhook's progress; false when `owner` no longer holds the lease
    /// (expired and taken by another server, or the webhook deleted): it must stop sending.
    async fn webhook_progress(
        &self,
        realm_id: &str,
        id: &str,
        owner: &str,
        progress: &WebhookProgress,
    ) -> StoreResult<bool>;
    /// Records a delivery, keeping only the webhook's `keep` most recent.
    async fn record_delivery(&self, delivery: &Delivery, keep: usize) -> StoreResult<()>;
    /// The webhook's deliveries, newest first.
    async fn list_deliveries(
        &self,
        realm_id: &str,
        webhook_id: &str,
        limit: usize,
    ) -> StoreResult<Vec<Delivery>>;
    async fn get_delivery(
        &self,
        realm_id: &str,
        webhook_id: &str,
        id: &str,
    ) -> StoreResult<Option<Delivery>>;
}

#[async_trait]
pub trait Membership: Send + Sync + 'static {
    /// Applies a membership delta and bumps the group's version, without reading or rewriting
    /// its attributes or its other members.
    /// `events`: one per request the change carries (a batch of coalesced requests records
    /// each), all with the version the change wrote.
    async fn change_members(
        &self,
        realm_id: &str,
        group_id: &str,
        change: MemberChange,
        expected_version: Option<i64>,
        now: &str,
        events: Vec<NewEvent>,
    ) -> StoreResult<StoredResource>;
    /// Whether the group has more than `n` direct members (a bounded probe, not a count).
    async fn has_more_members_than(
        &self,
        realm_id: &str,
        group_id: &str,
        n: u64,
    ) -> StoreResult<bool>;
    /// Direct members of the given groups, with their kind and display name.
    async fn members_of(&self, realm_id: &str, group_ids: &[String])
        -> StoreResult<Vec<MemberRow>>;
    /// Direct and indirect groups of the given resources.
    async fn groups_of(&self, realm_id: &str, member_ids: &[String]) -> StoreResult<Vec<GroupRow>>;
    /// The same, for resources whose direct groups are already known (read with the row),
    /// given as (member, group) pairs: only groups that are themselves members are asked
    /// about.
    async fn groups_from_direct(
        &self,
        realm_id: &str,
        direct: Vec<(String, DirectGroup)>,
    ) -> StoreResult<Vec<GroupRow>>;
}

/// The control plane's records as the admin API manages them: tenants and realms by page,
/// their descriptions and deletion, token rotation, admin tokens, and the audit record.
#[async_trait]
pub trait Control: Send + Sync + 'static {
    async fn get_tenant(&self, name: &str) -> StoreResult<Option<Tenant>>;
    /// Tenants in name order after `page.after`; `only` restricts to one tenant.
    async fn page_tenants(&self, page: &Page, only: Option<&str>) -> StoreResult<Vec<Tenant>>;
    /// Inserts the tenant with its description (Conflict if the name is taken).
    async fn insert_tenant(&self, tenant: &Tenant) -> StoreResult<()>;
    async fn update_tenant(&self, name: &str, changes: &Changes, now: &str) -> StoreResult<Tenant>;
    /// Deletes the tenant with its realms, their data and tokens, in one transaction; without
    /// `force`, a tenant whose realms hold users or groups is left as it is.
    async fn delete_tenant(&self, name: &str, force: bool) -> StoreResult<Deletion>;
    /// A tenant's realms in name order after `page.after`.
    async fn page_realms(&self, tenant: &str, page: &Page) -> StoreResult<Vec<Realm>>;
    /// Inserts the realm (NotFound without its tenant, Conflict if the name is taken).
    async fn insert_realm(&self, realm: &Realm) -> StoreResult<()>;
    async fn update_realm(
        &self,
        tenant: &str,
        name: &str,
        changes: &Changes,
        now: &str,
    ) -> StoreResult<Realm>;
    /// Deletes the realm with its users, groups and tokens in one transaction; without
    /// `force`, a realm holding users or groups is left as it is.
    async fn delete_realm(&self, tenant: &str, name: &str, force: bool) -> StoreResult<Deletion>;
    /// (users, groups) in the realm.
    async fn realm_counts(&self, realm_id: &str) -> StoreResult<(u64, u64)>;
    /// A realm's token by id, revoked or not.
    async fn get_token(&self, realm_id: &str, id: &str) -> StoreResult<Option<TokenInfo>>;
    /// A realm's tokens that are not revoked, in id (creation) order after `page.after`.
    async fn page_tokens(&self, realm_id: &str, page: &Page) -> StoreResult<Vec<TokenInfo>>;
    /// Changes a live token's name or description (NotFound when revoked or unknown).
    async fn update_token(
        &self,
        realm_id: &str,
        id: &str,
        changes: &Changes,
    ) -> StoreResult<TokenInfo>;
    /// In one transaction: inserts `new` and marks `old_id` as replaced by it, expiring at
    /// `old_expires_at`. NotFound when the old token is revoked or unknown; Conflict when it
    /// was already rotated.
    async fn rotate_token(
        &self,
        realm_id: &str,
        old_id: &str,
        new: NewToken,
        old_expires_at: &str,
    ) -> StoreResult<TokenInfo>;
    async fn insert_admin_token(&self, token: &AdminToken) -> StoreResult<()>;
    /// Admin tokens that are not revoked, in id order after `page.after`: the global ones
    /// (`tenant` None) or one tenant's.
    async fn page_admin_tokens(
        &self,
        tenant: Option<&str>,
        page: &Page,
    ) -> StoreResult<Vec<AdminToken>>;
    async fn get_admin_token(&self, id: &str) -> StoreResult<Option<AdminToken>>;
    async fn find_admin_token(&self, token_hash: &str) -> StoreResult<Option<AdminToken>>;
    /// False when it was unknown or already revoked.
    async fn revoke_admin_token(&self, id: &str, now: &str) -> StoreResult<bool>;
    async fn record_admin_token_use(&self, id: &str, at: &str) -> StoreResult<()>;
    async fn append_audit(&self, event: &AuditEvent) -> StoreResult<()>;
    /// A tenant's audit events (None: the global ones), newest first, before `page.after`.
    async fn page_audit(&self, tenant: Option<&str>, page: &Page) -> StoreResult<Vec<AuditEvent>>;
}

/// OAuth 2.0 clients of a realm, their secrets, and the access tokens issued to them (rows
/// of `tokens` that name their client, so a SCIM request finds them as it finds any token).
#[async_trait]
pub trait OAuthClients: Send + Sync + 'static {
    /// Inserts the client and, when given, its first secret, in one transaction (Conflict
    /// when the realm has a client of that name).
    async fn insert_client(
        &self,
        client: &OAuthClient,
        first_secret: Option<&ClientSecret>,
    ) -> StoreResult<()>;
    async fn get_client(&self, realm_id: &str, id: &str) -> StoreResult<Option<OAuthClient>>;
    /// A realm's clients in id (creation) order after `page.after`.
    async fn page_clients(&self, realm_id: &str, page: &Page) -> StoreResult<Vec<OAuthClient>>;
    /// Applies the changes; when they narrow what the client may do (`narrows`), every live
    /// access token issued to it is revoked in the same transaction.
    async fn update_client(
        &self,
        realm_id: &str,
        id: &str,
        changes: &ClientChanges,
        now: &str,
    ) -> StoreResult<OAuthClient>;
    /// Deletes the client with its secrets and access tokens; false when there was none.
    async fn delete_client(&self, realm_id: &str, id: &str) -> StoreResult<bool>;
    /// Adds a secret unless the client already has `max_live` live ones at `now` (Conflict);
    /// NotFound without the client.
    async fn insert_client_secret(
        &self,
        secret: &ClientSecret,
        max_live: usize,
        now: &str,
    ) -> StoreResult<()>;
    /// A client's secrets, revoked ones too, in creation order.
    async fn list_client_secrets(
        &self,
        realm_id: &str,
        client_id: &str,
    ) -> StoreResult<Vec<ClientSecret>>;
    /// False when unknown or already revoked.
    async fn revoke_client_secret(
        &self,
        realm_id: &str,
        client_id: &str,
        id: &str,
        now: &str,
    ) -> StoreResult<bool>;
    /// The client and its secret with this hash, whatever their state.
    async fn find_client_secret(
        &self,
        realm_id: &str,
        client_id: &str,
        secret_hash: &str,
    ) -> StoreResult<Option<(OAuthClient, ClientSecret)>>;
    /// Stores an access token issued to `client_id`, records the last use of the credential
    /// it authenticated with, and drops the client's access tokens that expired before
    /// `token.created_at`.
    async fn issue_access_token(
        &self,
        token: &NewToken,
        client_id: &str,
        with: &IssuedWith,
    ) -> StoreResult<()>;
}

/// Federated credentials of OAuth clients (workload identity federation), and the one-time
/// assertion ids the token endpoint has seen.
#[async_trait]
pub trait Federation: Send + Sync + 'static {
    /// Adds the credential unless its client already has `max` (Conflict) or one with the
    /// same issuer, subject and audience (Conflict); NotFound without the client.
    async fn insert_federated(
        &self,
        credential: &FederatedCredential,
        max: usize,
    ) -> StoreResult<()>;
    /// A client's federated credentials in creation order.
    async fn list_federated(
        &self,
        realm_id: &str,
        client_id: &str,
    ) -> StoreResult<Vec<FederatedCredential>>;
    /// False when the client has no such credential.
    async fn delete_federated(
        &self,
        realm_id: &str,
        client_id: &str,
        id: &str,
    ) -> StoreResult<bool>;
    /// The realm's credentials for this issuer and subject, each with its client.
    async fn find_federated(
        &self,
        realm_id: &str,
        issuer: &str,
        subject: &str,
    ) -> StoreResult<Vec<(OAuthClient, FederatedCredential)>>;
    /// Records a one-time assertion id until `expires_at`; false when it is recorded already
    /// and not yet expired at `now` (a replay). Drops the realm's expired ones.
    async fn claim_assertion(
        &self,
        realm_id: &str,
        key: &str,
        expires_at: &str,
        now: &str,
    ) -> StoreResult<bool>;
}

/// External issuers a realm trusts directly (JWT bearer tokens on the SCIM endpoints).
#[async_trait]
pub trait TrustedIssuers: Send + Sync + 'static {
    /// Adds the issuer unless the realm already has `max` (Conflict) or one of that name
    /// (Conflict); NotFound without the realm.
    async fn insert_trusted_issuer(&self, issuer: &TrustedIssuer, max: usize) -> StoreResult<()>;
    async fn get_trusted_issuer(
        &self,
        realm_id: &str,
        id: &str,
    ) -> StoreResult<Option<TrustedIssuer>>;
    /// A realm's trusted issuers in id (creation) order.
    async fn list_trusted_issuers(&self, realm_id: &str) -> StoreResult<Vec<TrustedIssuer>>;
    /// Writes every changeable field of `issuer` (NotFound when unknown, Conflict when the
    /// name is taken).
    async fn update_trusted_issuer(&self, issuer: &TrustedIssuer) -> StoreResult<()>;
    /// False when there was none.
    async fn delete_trusted_issuer(&self, realm_id: &str, id: &str) -> StoreResult<bool>;
    /// The realm's enabled trusted issuers with this `iss`.
    async fn find_trusted_issuers(
        &self,
        realm_id: &str,
        issuer: &str,
    ) -> StoreResult<Vec<TrustedIssuer>>;
    /// (realm id, issuer id, when) of recent uses.
    async fn record_trusted_issuer_use(&self, uses: &[(String, String, String)])
        -> StoreResult<()>;
}

/// A realm's HTTP Basic credentials.
#[async_trait]
pub trait BasicCredentials: Send + Sync + 'static {
    /// Adds the credential unless the realm already has `max` (Conflict) or one with that
    /// username (Conflict); NotFound without the realm.
    async fn insert_basic(&self, credential: &BasicCredential, max: usize) -> StoreResult<()>;
    /// A realm's Basic credentials in id (creation) order.
    async fn list_basic(&self, realm_id: &str) -> StoreResult<Vec<BasicCredential>>;
    async fn get_basic(&self, realm_id: &str, id: &str) -> StoreResult<Option<BasicCredential>>;
    /// False when there was none.
    async fn delete_basic(&self, realm_id: &str, id: &str) -> StoreResult<bool>;
    /// The realm's credential with this username.
    async fn find_basic(
        &self,
        realm_id: &str,
        username: &str,
    ) -> StoreResult<Option<BasicCredential>>;
    /// (realm id, credential id, when) of recent uses.
    async fn record_basic_use(&self, uses: &[(String, String, String)]) -> StoreResult<()>;
}

/// A live subscription to changes of realms and tokens.
#[async_trait]
pub trait AuthFeed: Send {
    /// Resolves at the next change. An error means the feed is broken and changes may have
    /// been missed: drop it and open a new one.
    async fn changed(&mut self) -> StoreResult<()>;
}
