//! Records as the store reads and writes them.

use serde_json::{Map, Value};

pub use crate::scim::discovery::AuthMethod;
pub use crate::scim::schema::ResourceKind as Kind;

#[derive(Debug, Clone, serde::Serialize)]
pub struct Tenant {
    pub name: String,
    pub display_name: String,
    pub description: String,
    pub created_at: String,
    pub updated_at: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum RealmState {
    Enabled,
    Paused,
    Disabled,
}

impl RealmState {
    pub fn as_str(self) -> &'static str {
        match self {
            RealmState::Enabled => "enabled",
            RealmState::Paused => "paused",
            RealmState::Disabled => "disabled",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s.to_ascii_lowercase().as_str() {
            "enabled" => Some(RealmState::Enabled),
            "paused" => Some(RealmState::Paused),
            "disabled" => Some(RealmState::Disabled),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, serde::Serialize)]
pub struct Realm {
    pub id: String,
    pub tenant: String,
    pub name: String,
    pub state: RealmState,
    /// How callers may authenticate to its SCIM endpoints, in `AuthMethod::ALL` order.
    pub auth_methods: Vec<AuthMethod>,
    /// How long its event log keeps events.
    pub retention: Retention,
    pub display_name: String,
    pub description: String,
    pub created_at: String,
    pub updated_at: String,
}

/// How long a realm keeps its events: pruned once older than `days` or beyond the newest
/// `count`, whichever comes first; `None` is no limit of that kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct Retention {
    pub days: Option<u32>,
    pub count: Option<u64>,
}

impl Retention {
    /// What a new realm keeps.
    pub const DEFAULT_DAYS: u32 = 90;
}

impl Default for Retention {
    fn default() -> Self {
        Retention {
            days: Some(Self::DEFAULT_DAYS),
            count: None,
        }
    }
}

/// A token to create: the hash of its secret, never the secret.
#[derive(Debug, Clone)]
pub struct NewToken {
    pub id: String,
    pub realm_id: String,
    pub name: String,
    pub token_hash: String,
    pub scopes: Vec<String>,
    pub description: String,
    pub created_by: String,
    pub created_at: String,
    pub expires_at: Option<String>,
}

impl NewToken {
    /// The token as stored the moment it is created: never used, not revoked.
    pub fn issued(self) -> TokenInfo {
        TokenInfo {
            id: self.id,
            realm_id: self.realm_id,
            name: self.name,
            token_hash: self.token_hash,
            scopes: self.scopes,
            description: self.description,
            created_by: self.created_by,
            created_at: self.created_at,
            expires_at: self.expires_at,
            revoked_at: None,
            last_used_at: None,
            replaced_by: None,
        }
    }
}

#[derive(Debug, Clone, serde::Serialize)]
pub struct TokenInfo {
    pub id: String,
    pub realm_id: String,
    pub name: String,
    #[serde(skip)]
    pub token_hash: String,
    pub scopes: Vec<String>,
    pub description: String,
    pub created_by: String,
    pub created_at: String,
    pub expires_at: Option<String>,
    pub revoked_at: Option<String>,
    pub last_used_at: Option<String>,
    /// The token a rotation made to succeed this one.
    pub replaced_by: Option<String>,
}

/// An admin-API credential: `tenant` None is a global admin.
#[derive(Debug, Clone)]
pub struct AdminToken {
    pub id: String,
    pub tenant: Option<String>,
    pub name: String,
    pub description: String,
    pub token_hash: String,
    pub scopes: Vec<String>,
    pub created_at: String,
    pub created_by: String,
    pub expires_at: Option<String>,
    pub revoked_at: Option<String>,
    pub last_used_at: Option<String>,
}

/// Fields an update may change; `None` keeps the stored value.
#[derive(Debug, Clone, Default)]
pub struct Changes {
    pub display_name: Option<String>,
    pub description: Option<String>,
    /// Tokens: their name. Ignored elsewhere.
    pub name: Option<String>,
    /// Realms: their state. Ignored elsewhere.
    pub state: Option<RealmState>,
    /// Realms: their authentication methods. Ignored elsewhere.
    pub auth_methods: Option<Vec<AuthMethod>>,
    /// Realms: their event retention by age (`Some(None)`: no age limit). Ignored elsewhere.
    pub retention_days: Option<Option<u32>>,
    /// Realms: their event retention by count (`Some(None)`: no count limit).
    pub retention_count: Option<Option<u64>>,
}

/// One page of a control-plane list, in id order after `after`.
#[derive(Debug, Clone, Default)]
pub struct Page {
    pub after: Option<String>,
    pub limit: u32,
    /// Only records with exactly this name.
    pub name: Option<String>,
}

/// What deleting a realm or a tenant found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Deletion {
    Deleted,
    NotFound,
    /// Refused (no `force`): it still holds this many users and groups.
    Holds {
        users: u64,
        groups: u64,
    },
}

/// One admin action, as recorded.
#[derive(Debug, Clone, serde::Serialize)]
pub struct AuditEvent {
    pub id: String,
    pub tenant: Option<String>,
    pub at: String,
    pub actor: String,
    pub action: String,
    pub target: String,
    pub address: Option<String>,
    pub detail: Value,
}

#[derive(Debug, Clone)]
pub struct NewResource {
    pub id: String,
    pub realm_id: String,
    pub kind: Kind,
    pub name: String,
    pub external_id: Option<String>,
    pub data: Map<String, Value>,
    pub password_hash: Option<String>,
    pub members: Vec<String>,
    pub now: String,
    /// Recorded in the event log with the write (`None`: internal writes, recorded nowhere).
    pub event: Option<NewEvent>,
}

#[derive(Debug, Clone)]
pub struct ReplaceResource {
    pub realm_id: String,
    pub kind: Kind,
    pub id: String,
    pub name: String,
    pub external_id: Option<String>,
    pub data: Map<String, Value>,
    /// `None` keeps the stored hash: clients do not echo a write-only password back.
    pub password_hash: Option<String>,
    /// `None` leaves membership untouched.
    pub members: Option<Vec<String>>,
    /// A delta applied to the membership rows after `members` (if any).
    pub member_change: Option<MemberChange>,
    pub expected_version: Option<i64>,
    pub now: String,
    pub event: Option<NewEvent>,
}

#[derive(Debug, Clone)]
pub struct StoredResource {
    pub id: String,
    pub kind: Kind,
    pub external_id: Option<String>,
    pub data: Map<String, Value>,
    pub version: i64,
    pub created: String,
    pub last_modified: String,
    /// Whether it has any membership rows (a user in a group, a group with a member), when
    /// the read that produced it could tell; `None` means unknown. Lets rendering skip the
    /// membership query for the usual user who is in no group.
    pub related: Option<bool>,
    /// A user's direct groups, when the read that produced it fetched them with the row (one
    /// round trip for the usual GET); `None` means not fetched.
    pub direct_groups: Option<Vec<DirectGroup>>,
}

/// A group that directly contains a resource.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DirectGroup {
    pub group_id: String,
    pub display: String,
    /// Whether the group is itself a member of a group (its own groups are then indirect
    /// groups of the resource).
    pub nested: bool,
}

#[derive(Debug, Clone)]
pub struct MemberRow {
    pub group_id: String,
    pub member_id: String,
    pub member_kind: Kind,
    pub display: String,
}

#[derive(Debug, Clone)]
pub struct GroupRow {
    pub member_id: String,
    pub group_id: String,
    pub display: String,
    pub direct: bool,
}

/// Membership rows to change, without reading the others.
#[derive(Debug, Clone, Default)]
pub struct MemberChange {
    /// Delete every membership row of the group first.
    pub clear: bool,
    pub add: Vec<String>,
    pub remove: Vec<String>,
    /// Ids that must name users of the realm although they end up removed: changes taken
    /// together, one adding a member and a later one removing it, still owe the first its
    /// check. (A group there would have owed a cycle check too, so it fails the write.)
    pub must_be_users: Vec<String>,
}

/// An OAuth 2.0 client of a realm (RFC 6749 §4.4): its id is the `client_id` it sends.
#[derive(Debug, Clone)]
pub struct OAuthClient {
    pub id: String,
    pub realm_id: String,
    pub name: String,
    pub description: String,
    /// The most an access token issued to it may carry.
    pub scopes: Vec<String>,
    pub enabled: bool,
    /// Seconds an access token issued to it lives.
    pub token_lifetime: i64,
    pub created_at: String,
    pub created_by: String,
    pub updated_at: String,
}

/// A client's secret: its hash, never the secret.
#[derive(Debug, Clone)]
pub struct ClientSecret {
    pub id: String,
    pub realm_id: String,
    pub client_id: String,
    pub secret_hash: String,
    pub description: String,
    pub created_at: String,
    pub created_by: String,
    pub expires_at: Option<String>,
    pub revoked_at: Option<String>,
    pub last_used_at: Option<String>,
}

impl ClientSecret {
    /// Neither revoked nor expired at `now`.
    pub fn live(&self, now: &str) -> bool {
        self.revoked_at.is_none() && self.expires_at.as_deref().is_none_or(|e| e > now)
    }
}

/// A federated credential of a client (workload identity federation, RFC 7523): a JWT its
/// issuer signed, with this subject and audience, authenticates the client instead of a
/// secret. The keys come from `jwks_url`, or from the issuer's OpenID discovery without it.
#[derive(Debug, Clone)]
pub struct FederatedCredential {
    pub id: String,
    pub realm_id: String,
    pub client_id: String,
    pub name: String,
    pub issuer: String,
    pub subject: String,
    pub audience: String,
    pub jwks_url: Option<String>,
    pub created_at: String,
    pub created_by: String,
    pub last_used_at: Option<String>,
}

/// What authenticated the client an access token is issued to, whose last use is recorded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IssuedWith {
    /// The id of one of its secrets.
    Secret(String),
    /// The id of one of its federated credentials.
    Federated(String),
}

/// Changes to a client; `None` leaves a field as it is.
#[derive(Debug, Clone, Default)]
pub struct ClientChanges {
    pub name: Option<String>,
    pub description: Option<String>,
    pub scopes: Option<Vec<String>>,
    pub enabled: Option<bool>,
    pub token_lifetime: Option<i64>,
}

impl ClientChanges {
    /// Whether access tokens already issued would carry more than the client now may: they
    /// are revoked with the change.
    pub fn narrows(&self) -> bool {
        self.scopes.is_some() || self.enabled == Some(false)
    }
}

/// An external issuer a realm trusts directly (JWT bearer): `Authorization: Bearer <JWT>`
/// signed by one of its keys, with this issuer and audience (and subject, when set), is a
/// caller of the realm. Its scopes are fixed, or read from a claim of the JWT.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrustedIssuer {
    pub id: String,
    pub realm_id: String,
    pub name: String,
    pub issuer: String,
    pub audience: String,
    /// None: any subject the issuer signs for this audience.
    pub subject: Option<String>,
    /// None: the keys come from the issuer's OpenID discovery document.
    pub jwks_url: Option<String>,
    /// Granted to every token when `scope_claim` is None.
    pub scopes: Vec<String>,
    /// A claim (`roles`, `scp`, `groups`) whose values are mapped to scopes by `scope_values`.
    pub scope_claim: Option<String>,
    /// Claim value → SCIM scope.
    pub scope_values: std::collections::BTreeMap<String, String>,
    pub enabled: bool,
    pub created_at: String,
    pub created_by: String,
    pub updated_at: String,
    pub last_used_at: Option<String>,
}

/// How a Basic credential's password is kept: a generated one (256 random bits) as SHA-256,
/// one a person chose as Argon2id.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PasswordKind {
    Generated,
    Chosen,
}

impl PasswordKind {
    pub fn as_str(self) -> &'static str {
        match self {
            PasswordKind::Generated => "sha256",
            PasswordKind::Chosen => "argon2id",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "sha256" => Some(PasswordKind::Generated),
            "argon2id" => Some(PasswordKind::Chosen),
            _ => None,
        }
    }
}

/// An HTTP Basic credential of a realm (RFC 7617), for identity providers that offer only
/// Basic: a username and a password kept hashed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BasicCredential {
    pub id: String,
    pub realm_id: String,
    pub username: String,
    pub password_hash: String,
    pub kind: PasswordKind,
    pub scopes: Vec<String>,
    pub description: String,
    pub created_at: String,
    pub created_by: String,
    pub expires_at: Option<String>,
    pub last_used_at: Option<String>,
}

/// What a write records of itself in the event log, beside what the store knows (realm,
/// resource type and id, the version written, when): written in the write's own transaction.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NewEvent {
    /// Who: `token:<id>`, `oauth-client:<id>`, `basic:<id>`, `jwt:<issuer id>`,
    /// `admin-token:<id>`, `cli`.
    pub actor: String,
    pub request_id: Option<String>,
    pub operation: EventOp,
    /// The names of the attributes that changed (extension attributes as `urn:...:name`).
    pub changed: Vec<String>,
    /// Members added to / removed from a group by this change; `None`: not a membership
    /// delta (a group PUT replaces the list and says only that `members` changed).
    pub members_added: Option<Vec<String>>,
    pub members_removed: Option<Vec<String>>,
}

impl NewEvent {
    /// The event of a group that lost `member` because the member was deleted: a membership
    /// change by the same actor and request.
    pub fn left_group(&self, member: &str) -> NewEvent {
        NewEvent {
            actor: self.actor.clone(),
            request_id: self.request_id.clone(),
            operation: EventOp::Patch,
            changed: vec!["members".into()],
            members_added: Some(Vec::new()),
            members_removed: Some(vec![member.to_owned()]),
        }
    }
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum EventOp {
    #[default]
    Create,
    Replace,
    Patch,
    Delete,
    /// An admin API (or CLI) action on the realm or one of its credentials or webhooks.
    Admin,
    /// A credential refused at the realm's SCIM endpoints.
    Denied,
}

impl EventOp {
    pub const ALL: [EventOp; 6] = [
        EventOp::Create,
        EventOp::Replace,
        EventOp::Patch,
        EventOp::Delete,
        EventOp::Admin,
        EventOp::Denied,
    ];

    pub fn name(self) -> &'static str {
        match self {
            EventOp::Create => "create",
            EventOp::Replace => "replace",
            EventOp::Patch => "patch",
            EventOp::Delete => "delete",
            EventOp::Admin => "admin",
            EventOp::Denied => "denied",
        }
    }

    pub fn parse(s: &str) -> Option<EventOp> {
        EventOp::ALL.into_iter().find(|o| o.name() == s)
    }
}

/// A place in a realm's event log: events are ordered by (`major`, `seq`). On PostgreSQL
/// `major` is the writing transaction's id, so that the order is one no later commit can
/// insert into; on SQLite, whose commits are serial, it is 0.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord)]
pub struct EventPos {
    pub major: u64,
    pub seq: i64,
}

impl EventPos {
    /// The text form readers hold: `major.seq`.
    pub fn parse(s: &str) -> Option<EventPos> {
        let (major, seq) = s.split_once('.')?;
        let all_digits = |t: &str| !t.is_empty() && t.bytes().all(|b| b.is_ascii_digit());
        if !all_digits(major) || !all_digits(seq) {
            return None;
        }
        Some(EventPos {
            major: major.parse().ok()?,
            seq: seq.parse().ok()?,
        })
    }
}

impl std::fmt::Display for EventPos {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}.{}", self.major, self.seq)
    }
}

/// What an event is about: a user or group (SCIM writes), or what an admin action touched,
/// or the credential a denial refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Subject {
    User,
    Group,
    Realm,
    Token,
    OAuthClient,
    BasicCredential,
    TrustedIssuer,
    Webhook,
    Credential,
}

impl Subject {
    pub const ALL: [Subject; 9] = [
        Subject::User,
        Subject::Group,
        Subject::Realm,
        Subject::Token,
        Subject::OAuthClient,
        Subject::BasicCredential,
        Subject::TrustedIssuer,
        Subject::Webhook,
        Subject::Credential,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Subject::User => "User",
            Subject::Group => "Group",
            Subject::Realm => "Realm",
            Subject::Token => "Token",
            Subject::OAuthClient => "OAuthClient",
            Subject::BasicCredential => "BasicCredential",
            Subject::TrustedIssuer => "TrustedIssuer",
            Subject::Webhook => "Webhook",
            Subject::Credential => "Credential",
        }
    }

    pub fn parse(s: &str) -> Option<Subject> {
        Subject::ALL.into_iter().find(|k| k.name() == s)
    }

    /// What an audit action (`token.rotate`, `oauth_client.secret.create`) is about, when it
    /// is about something in a realm.
    pub fn of_action(action: &str) -> Option<Subject> {
        match action.split('.').next()? {
            "realm" => Some(Subject::Realm),
            "token" => Some(Subject::Token),
            "oauth_client" => Some(Subject::OAuthClient),
            "basic_credential" => Some(Subject::BasicCredential),
            "trusted_issuer" => Some(Subject::TrustedIssuer),
            "webhook" => Some(Subject::Webhook),
            _ => None,
        }
    }
}

impl From<Kind> for Subject {
    fn from(k: Kind) -> Self {
        match k {
            Kind::User => Subject::User,
            Kind::Group => Subject::Group,
        }
    }
}

/// One recorded change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Event {
    pub pos: EventPos,
    pub at: String,
    pub actor: String,
    pub request_id: Option<String>,
    pub operation: EventOp,
    pub resource_type: Subject,
    /// The user's or group's id; for an admin action, the id of what it touched (a realm:
    /// its name); none for a denial.
    pub resource_id: Option<String>,
    /// The version the change wrote (a delete: the version deleted).
    pub version: Option<i64>,
    pub changed: Vec<String>,
    pub members_added: Option<Vec<String>>,
    pub members_removed: Option<Vec<String>>,
    /// Admin actions: the action (`token.rotate`); denials: `scim.auth.denied`.
    pub action: Option<String>,
    /// Admin actions: what it touched as a path (`tenants/t/realms/r/tokens/<id>`).
    pub target: Option<String>,
    /// Admin actions and denials: what the audit record says of them (never a secret).
    pub detail: Option<Value>,
}

/// An event that is not a SCIM write: an admin action or a denial, appended on its own.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewLogEntry {
    pub realm_id: String,
    pub at: String,
    pub actor: String,
    pub request_id: Option<String>,
    pub operation: EventOp,
    pub resource_type: Subject,
    pub resource_id: Option<String>,
    pub changed: Vec<String>,
    pub action: String,
    pub target: Option<String>,
    pub detail: Value,
}

/// Which events a reader wants: after `after` (none: from the oldest kept), at most `limit`.
#[derive(Debug, Clone, Default)]
pub struct EventQuery {
    pub after: Option<EventPos>,
    pub limit: u32,
    /// Only events about these (empty: all).
    pub resource_types: Vec<Subject>,
    /// Only events of these operations (empty: all).
    pub operations: Vec<EventOp>,
}

impl EventQuery {
    /// Events a filtered read looks at, at most, to find `limit` that match: a reader
    /// filtering for something rare still gets an answer (and a cursor past what it skipped)
    /// in bounded time.
    pub const MAX_SCAN: u32 = 5000;

    pub fn filtered(&self) -> bool {
        !self.resource_types.is_empty() || !self.operations.is_empty()
    }

    /// How many events, in order, the store reads for this query.
    pub fn scan(&self) -> u32 {
        if self.filtered() {
            Self::MAX_SCAN.max(self.limit)
        } else {
            self.limit
        }
    }

    pub fn matches(&self, e: &Event) -> bool {
        (self.resource_types.is_empty() || self.resource_types.contains(&e.resource_type))
            && (self.operations.is_empty() || self.operations.contains(&e.operation))
    }

    /// The page that `scanned` (the events after `after`, in order, at most `scan()` of
    /// them) gives: the first `limit` that match, and how far a reader has looked.
    pub fn page(&self, scanned: Vec<Event>) -> EventPage {
        let mut events = Vec::new();
        let mut scanned_to = None;
        for e in scanned {
            if events.len() as u32 >= self.limit {
                break;
            }
            scanned_to = Some(e.pos);
            if self.matches(&e) {
                events.push(e);
            }
        }
        EventPage { events, scanned_to }
    }
}

/// A read of the feed: the events, and the position of the last event looked at (the last
/// one returned, or past events a filter passed over), from which a reader goes on.
#[derive(Debug, Clone, Default)]
pub struct EventPage {
    pub events: Vec<Event>,
    pub scanned_to: Option<EventPos>,
}

/// A realm's webhook subscription: where its events are sent, signed with a secret the store
/// only ever holds sealed (encrypted under the server's key-encryption key).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Webhook {
    pub id: String,
    pub realm_id: String,
    /// The realm's tenant and name (neither ever changes).
    pub tenant: String,
    pub realm: String,
    pub url: String,
    pub description: Option<String>,
    /// `user.create`, `group.*`, `*`: which events it receives.
    pub event_types: Vec<String>,
    pub enabled: bool,
    /// The sealed signing secret.
    pub secret: String,
    /// The sealed secret it replaced, still signing (beside the new one) until
    /// `previous_until`.
    pub previous_secret: Option<String>,
    pub previous_until: Option<String>,
    /// Delivery state: see `WebhookProgress`.
    pub delivered: EventPos,
    pub attempts: i32,
    pub next_attempt_at: String,
    pub failing_since: Option<String>,
    pub failure: Option<String>,
    pub last_success_at: Option<String>,
    pub created_at: String,
    pub created_by: String,
    pub updated_at: String,
}

/// What a delivering server writes back about a webhook it holds the lease of.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebhookProgress {
    /// Every event up to here was delivered (or was not one it wants).
    pub delivered: EventPos,
    /// Failed attempts at the event after `delivered`, in a row.
    pub attempts: i32,
    pub next_attempt_at: String,
    /// When the current run of failures began.
    pub failing_since: Option<String>,
    /// Set: retries have run out; nothing more is sent until an admin resumes it.
    pub failure: Option<String>,
    pub last_success_at: Option<String>,
    /// `Some`: the lease runs on until then (more to send); `None`: it is given up.
    pub lease_until: Option<String>,
}

/// One attempt to send an event to a webhook.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delivery {
    pub id: String,
    pub realm_id: String,
    pub webhook_id: String,
    pub event_id: String,
    pub event_type: String,
    /// 1 for the first try of an event; redeliveries an admin asks for count on.
    pub attempt: i32,
    pub at: String,
    pub status_code: Option<i32>,
    pub latency_ms: i64,
    pub error: Option<String>,
    pub manual: bool,
}
