//! Who may call a realm's SCIM endpoints: realm lookup, bearer-token checks, realm state, and
//! last-use bookkeeping that costs no write per request.

use std::collections::HashMap;
use std::hash::{BuildHasher, BuildHasherDefault, DefaultHasher};
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use base64::Engine;
use rand::RngCore;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use super::admin::admin_tokens::check_admin_secret;
use super::admin::{AdminError, ADMIN_TOKEN_PREFIX};
use super::auth_cache::AuthCache;
use super::bearer_jwt::{looks_like_jwt, JwtBearer};
use super::error::{ServiceError, ServiceResult};
use super::failures::FailureLimit;
use super::jwks::KeySets;
use super::password;
use crate::clock::Clock;
use crate::scim::ScimError;
use crate::store::{
    AuditEvent, AuthMethod, PasswordKind, Realm, RealmState, Store, StoreError, TokenInfo,
};

pub const SCIM_SCOPE: &str = "scim:all";
/// Reads only: GET, `.search` and discovery, for applications that read the directory.
pub const SCIM_READ_SCOPE: &str = "scim:read";
/// Reading the realm's change feed (and nothing else).
pub const EVENTS_READ_SCOPE: &str = "events:read";
const TOKEN_PREFIX: &str = "scimd_";
/// The window the failure limits count in (`auth_failures_per_minute`).
const FAILURE_WINDOW: Duration = Duration::from_secs(60);
/// A wrong password for a Basic credential that exists (the one refusal counted per name).
const BASIC_PASSWORD: &str = "basic_password";
/// Characters of a Basic username kept in an audit record.
const MAX_AUDITED_NAME: usize = 128;
/// `created_by` of an access token the realm's token endpoint issued to an OAuth client.
pub const OAUTH_ISSUED: &str = "oauth-client:";

/// An authenticated caller of one realm. Shared, not copied: the cache, the request's
/// extensions and its handlers all hold the same realm and token.
#[derive(Debug, Clone)]
pub struct Principal {
    pub realm: Arc<Realm>,
    /// `None` for anonymous discovery reads.
    pub token: Option<Arc<TokenInfo>>,
    /// Which kind of credential `token` stands for.
    pub via: Via,
}

/// How a caller authenticated: what the event log's `actor` says it was.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Via {
    Token,
    OAuth,
    Basic,
    Jwt,
    Admin,
}

impl Principal {
    pub fn token_id(&self) -> Option<&str> {
        self.token.as_ref().map(|t| t.id.as_str())
    }

    /// `token:<id>`, `oauth-client:<client id>`, `basic:<id>`, `jwt:<trusted issuer id>`,
    /// `admin-token:<id>`, or `anonymous`: never a secret.
    pub fn actor(&self) -> String {
        let Some(t) = &self.token else {
            return "anonymous".into();
        };
        match self.via {
            // An access token's creator is its client: `oauth-client:<id>`.
            Via::OAuth => t.created_by.clone(),
            Via::Token => format!("token:{}", t.id),
            Via::Basic => format!("basic:{}", t.id),
            Via::Jwt => format!("jwt:{}", t.id),
            Via::Admin => format!("admin-token:{}", t.id),
        }
    }
}

/// A freshly minted secret: shown once, then only its hash exists.
pub struct MintedSecret {
    pub secret: String,
    pub hash: String,
}

pub fn mint_secret() -> MintedSecret {
    mint_secret_with(TOKEN_PREFIX)
}

/// A secret that starts with `prefix` (what kind of token it is), then 256 random bits.
pub fn mint_secret_with(prefix: &str) -> MintedSecret {
    let mut bytes = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    let secret = format!(
        "{prefix}{}",
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
    );
    let hash = hash_secret(&secret);
    MintedSecret { secret, hash }
}

/// SHA-256 suits a 256-bit random secret: there is nothing to brute-force, and lookups stay
/// cheap. (Passwords, which people choose, get Argon2 instead.)
pub fn hash_secret(secret: &str) -> String {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let digest = Sha256::digest(secret.as_bytes());
    let mut out = String::with_capacity(digest.len() * 2);
    for b in digest {
        out.push(HEX[usize::from(b >> 4)] as char);
        out.push(HEX[usize::from(b & 0xf)] as char);
    }
    out
}

/// Shards of the usage map: requests with different tokens take different locks.
const USAGE_SHARDS: usize = 16;

/// Token last-use times, kept in memory and written in batches by `flush`. Every
/// authenticated request notes its token, so the note must not serialize requests: a known
/// token's note is an atomic maximum under a shared (read) lock of one shard; only a token's
/// first use after a flush takes that shard's write lock.
pub struct UsageTracker {
    /// By token id: the last use in milliseconds since the epoch.
    shards: [RwLock<HashMap<String, LastUse>>; USAGE_SHARDS],
}

impl Default for UsageTracker {
    fn default() -> Self {
        Self {
            shards: std::array::from_fn(|_| RwLock::default()),
        }
    }
}

/// Which table a used credential's last use goes to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Used {
    Token,
    /// A trusted issuer (JWT bearer).
    Issuer,
    Basic,
}

/// A token's last use, with the realm it belongs to (its key leads with the realm).
#[derive(Debug)]
struct LastUse {
    realm_id: String,
    kind: Used,
    at: AtomicI64,
}

/// What one drain of the tracker holds: (realm id, id, last use).
#[derive(Debug, Default)]
struct Drained {
    tokens: Vec<(String, String, String)>,
    issuers: Vec<(String, String, String)>,
    basic: Vec<(String, String, String)>,
}

impl UsageTracker {
    pub fn note(&self, realm_id: &str, token_id: &str) {
        self.note_use(realm_id, token_id, Used::Token)
    }

    /// A Basic credential was used.
    pub fn note_basic(&self, realm_id: &str, credential_id: &str) {
        self.note_use(realm_id, credential_id, Used::Basic)
    }

    /// A JWT bearer token of a trusted issuer was used: the issuer's last use moves.
    pub fn note_issuer(&self, realm_id: &str, issuer_id: &str) {
        self.note_use(realm_id, issuer_id, Used::Issuer)
    }

    fn note_use(&self, realm_id: &str, token_id: &str, kind: Used) {
        let now = chrono::Utc::now().timestamp_millis();
        let shard = &self.shards[shard_of(token_id)];
        if let Ok(known) = shard.read() {
            if let Some(used) = known.get(token_id) {
                used.at.fetch_max(now, Ordering::Relaxed);
                return;
            }
        }
        if let Ok(mut all) = shard.write() {
            let used = all.entry(token_id.to_owned()).or_insert_with(|| LastUse {
                realm_id: realm_id.to_owned(),
                kind,
                at: AtomicI64::new(0),
            });
            used.at.fetch_max(now, Ordering::Relaxed);
        }
    }

    /// Every token used since the last drain (realm, token, last use); the tracker starts
    /// over.
    fn drain(&self) -> Drained {
        let mut batch = Drained::default();
        for shard in &self.shards {
            let taken = match shard.write() {
                Ok(mut all) => std::mem::take(&mut *all),
                Err(_) => continue,
            };
            for (id, used) in taken {
                let Some(at) = chrono::DateTime::from_timestamp_millis(used.at.into_inner()) else {
                    continue;
                };
                let row = (used.realm_id, id, crate::clock::format(at));
                match used.kind {
                    Used::Token => batch.tokens.push(row),
                    Used::Issuer => batch.issuers.push(row),
                    Used::Basic => batch.basic.push(row),
                }
            }
        }
        batch
    }

    pub async fn flush(&self, store: &dyn Store) -> Result<(), StoreError> {
        let batch = self.drain();
        if !batch.tokens.is_empty() {
            store.record_token_use(&batch.tokens).await?;
        }
        if !batch.issuers.is_empty() {
            store.record_trusted_issuer_use(&batch.issuers).await?;
        }
        if !batch.basic.is_empty() {
            store.record_basic_use(&batch.basic).await?;
        }
        Ok(())
    }
}

fn shard_of(token_id: &str) -> usize {
    // A fixed hasher: the shard only spreads tokens, it guards nothing.
    let hash = BuildHasherDefault::<DefaultHasher>::default().hash_one(token_id);
    (hash % USAGE_SHARDS as u64) as usize
}

/// What a request presented in its `Authorization` header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Credential {
    /// RFC 6750: a realm token (or an admin token).
    Bearer(String),
    /// RFC 7617, for identity providers that offer only Basic (Okta, PingFederate,
    /// SailPoint): one of the realm's Basic credentials; or, where the username is no Basic
    /// credential's, a realm token as the password under the token's name.
    Basic { username: String, password: String },
    /// A scheme we read but could not decode (Basic that is not base64 of `user:password`).
    Malformed,
}

pub struct AuthService {
    store: Arc<dyn Store>,
    usage: Arc<UsageTracker>,
    clock: Arc<dyn Clock>,
    jwt: JwtBearer,
    pub cache: Arc<AuthCache>,
    /// Refused credentials per (realm, address).
    failures: FailureLimit,
    /// Wrong passwords per (realm, Basic username): a chosen password is the one guessable
    /// secret here, and each wrong one costs an Argon2 run.
    basic_failures: FailureLimit,
    /// Raised when a denial is recorded in a realm's event log.
    events: Arc<super::event_signal::EventSignal>,
}

/// What a request is about to do, for the scope it needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Intent {
    /// GET, `.search`, discovery: `scim:read` or `scim:all`.
    Read,
    /// Anything that changes data: `scim:all`.
    Write,
    /// The realm's change feed: `events:read` only (a provisioning credential does not read
    /// the feed unless it was given that scope too).
    Events,
}

/// One request's authentication: which realm, for what, and whether its caller is being held
/// back for refused credentials (then only what the cache already vouches for is served).
struct Attempt<'a> {
    tenant: &'a str,
    realm: &'a str,
    intent: Intent,
    wait: Option<Duration>,
}

impl Attempt<'_> {
    /// Called before anything costly (a database read, a hash, a signature): a caller held
    /// back gets no more tries.
    fn admit(&self) -> ServiceResult<()> {
        match self.wait {
            Some(wait) => {
                auth_failure("too_many_failures");
                Err(ServiceError::TooManyFailures(wait))
            }
            None => Ok(()),
        }
    }
}

impl AuthService {
    pub fn new(
        store: Arc<dyn Store>,
        usage: Arc<UsageTracker>,
        clock: Arc<dyn Clock>,
        keys: Arc<KeySets>,
    ) -> Self {
        Self {
            jwt: JwtBearer::new(store.clone(), keys),
            store,
            usage,
            clock,
            cache: Arc::default(),
            failures: FailureLimit::new(0, FAILURE_WINDOW),
            basic_failures: FailureLimit::new(0, FAILURE_WINDOW),
            events: Arc::default(),
        }
    }

    /// Shares the signal that wakes the server's feed readers and webhook sender.
    pub fn with_event_signal(mut self, signal: Arc<super::event_signal::EventSignal>) -> Self {
        self.events = signal;
        self
    }

    /// Refused credentials allowed a minute per realm and address, and wrong passwords per
    /// realm and Basic username (0: no limit). Without this call there is none.
    pub fn with_failure_limits(mut self, per_address: u32, per_username: u32) -> Self {
        self.failures = FailureLimit::new(per_address, FAILURE_WINDOW);
        self.basic_failures = FailureLimit::new(per_username, FAILURE_WINDOW);
        self
    }

    /// The realm and, when a hash is given, the token with it: from the cache when it can
    /// vouch for them, else from the store (remembered for next time when allowed).
    async fn lookup(
        &self,
        at: &Attempt<'_>,
        hash: Option<&str>,
    ) -> ServiceResult<Option<(Arc<Realm>, Option<Arc<TokenInfo>>)>> {
        if let Some(h) = hash {
            if let Some((r, t)) = self.cache.get(at.tenant, at.realm, h) {
                return Ok(Some((r, Some(t))));
            }
        }
        at.admit()?;
        let ticket = self.cache.ticket();
        let found = self
            .store
            .authenticate(at.tenant, at.realm, hash)
            .await
            .map_err(|e| ServiceError::from_store(e, "realm"))?;
        let Some((r, t)) = found else {
            return Ok(None);
        };
        let (r, t) = (Arc::new(r), t.map(Arc::new));
        if let (Some(ticket), Some(t)) = (ticket, &t) {
            self.cache.put(ticket, &r, t);
        }
        Ok(Some((r, t)))
    }

    /// `lookup`, with an unknown realm told as 404.
    async fn realm_and_token(
        &self,
        at: &Attempt<'_>,
        hash: Option<&str>,
    ) -> ServiceResult<(Arc<Realm>, Option<Arc<TokenInfo>>)> {
        let (tenant, realm) = (at.tenant, at.realm);
        // No tenant or realm name holds NUL, and PostgreSQL refuses to compare text with one.
        let found = if tenant.contains('\0') || realm.contains('\0') {
            None
        } else {
            self.lookup(at, hash).await?
        };
        found.ok_or_else(|| {
            auth_failure("unknown_realm");
            ScimError::not_found(format!("there is no realm '{realm}' in tenant '{tenant}'")).into()
        })
    }

    /// Resolves the realm and checks the credential. `token_required == false` lets
    /// anonymous callers through (discovery), but a credential that is sent must still be
    /// valid. Refused credentials are counted per (realm, address) and per Basic username
    /// and audited; past the limit the caller gets 429 until its window ends, except for
    /// credentials the cache already vouches for (so a guesser on the same address as the
    /// identity provider cannot lock the provider out where the cache is live).
    pub async fn authorize(
        &self,
        tenant: &str,
        realm: &str,
        credential: Option<&Credential>,
        token_required: bool,
        intent: Intent,
        caller: Caller<'_>,
    ) -> ServiceResult<Principal> {
        let address = caller.address;
        let Some(cred) = credential else {
            let at = Attempt {
                tenant,
                realm,
                intent,
                wait: None,
            };
            return self.check(&at, None, token_required).await;
        };
        let place = format!("{tenant}\0{realm}");
        let by_address = format!("{place}\0{}", address.unwrap_or("-"));
        let by_user = match cred {
            Credential::Basic { username, .. } => Some(format!("{place}\0{username}")),
            _ => None,
        };
        let now = Instant::now();
        let wait = self.failures.blocked(&by_address, now).or_else(|| {
            by_user
                .as_deref()
                .and_then(|k| self.basic_failures.blocked(k, now))
        });
        let at = Attempt {
            tenant,
            realm,
            intent,
            wait,
        };
        let result = self.check(&at, Some(cred), token_required).await;
        if let Err(ServiceError::Refused { reason, .. }) = &result {
            self.failures.fail(&by_address, now);
            // Only a real credential's username is counted: a flood of made-up names would
            // only fill the table.
            if *reason == BASIC_PASSWORD {
                if let Some(k) = &by_user {
                    self.basic_failures.fail(k, now);
                }
            }
            self.record_refusal(tenant, realm, cred, reason, caller)
                .await;
        }
        result
    }

    async fn check(
        &self,
        at: &Attempt<'_>,
        credential: Option<&Credential>,
        token_required: bool,
    ) -> ServiceResult<Principal> {
        let secret = match credential {
            None => None,
            Some(Credential::Bearer(s)) if s.starts_with(ADMIN_TOKEN_PREFIX) => {
                return self.authorize_admin(at, s).await;
            }
            Some(Credential::Bearer(s)) if looks_like_jwt(s) => {
                return self.authorize_jwt(at, s).await;
            }
            Some(Credential::Bearer(s)) => Some(s.as_str()),
            Some(Credential::Basic { username, password }) => {
                return self.authorize_basic(at, username, password).await;
            }
            // Said nothing we could read: as wrong as a wrong token, and told the same way
            // (once the realm is known to exist: refusals are counted per realm).
            Some(Credential::Malformed) => {
                self.realm_and_token(at, None).await?;
                return Err(invalid_token());
            }
        };
        let hash = secret.map(hash_secret);
        let (realm, token) = self.realm_and_token(at, hash.as_deref()).await?;
        let mut via = Via::Token;
        let token = match (hash, token) {
            (None, _) if !token_required => None,
            (None, _) => {
                return Err(unauthorized(
                    "missing_token",
                    "this endpoint needs a bearer token: send 'Authorization: Bearer <token>'",
                ))
            }
            (Some(_), None) => return Err(invalid_token()),
            (Some(hash), Some(t)) => {
                let method = if t.created_by.starts_with(OAUTH_ISSUED) {
                    via = Via::OAuth;
                    AuthMethod::OAuth
                } else {
                    AuthMethod::Token
                };
                check_method(&realm, method)?;
                check_token(&hash, &t, &self.clock.now_text(), at.intent)?;
                self.usage.note(&t.realm_id, &t.id);
                Some(t)
            }
        };
        check_state(&realm)?;
        Ok(Principal { realm, token, via })
    }

    /// A JWT bearer token from one of the realm's trusted issuers. A JWT once verified is
    /// remembered by its hash like any token (while the cache can hear of changes to the
    /// issuer), so the signature is checked once per token, not once per request.
    async fn authorize_jwt(&self, at: &Attempt<'_>, jwt: &str) -> ServiceResult<Principal> {
        let hash = hash_secret(jwt);
        let now = self.clock.now_text();
        if let Some((r, t)) = self.cache.get(at.tenant, at.realm, &hash) {
            check_method(&r, AuthMethod::Jwt)?;
            check_token(&hash, &t, &now, at.intent)?;
            check_state(&r)?;
            self.usage.note_issuer(&r.id, &t.id);
            return Ok(Principal {
                realm: r,
                token: Some(t),
                via: Via::Jwt,
            });
        }
        let ticket = self.cache.ticket();
        let (found, _) = self.realm_and_token(at, None).await?;
        check_method(&found, AuthMethod::Jwt)?;
        let unix = self.clock.now().timestamp();
        let verified = self
            .jwt
            .verify(&found, jwt, &hash, unix)
            .await
            .map_err(|e| ServiceError::from_store(e, "trusted issuer"))?;
        let token = match verified {
            Ok((token, _)) => Arc::new(token),
            Err(why) => {
                tracing::info!(tenant = at.tenant, realm = %found.name, reason = %why,
                    "a JWT bearer token was refused");
                return Err(refused("jwt_refused"));
            }
        };
        check_token(&hash, &token, &now, at.intent)?;
        check_state(&found)?;
        if let Some(ticket) = ticket {
            self.cache.put(ticket, &found, &token);
        }
        self.usage.note_issuer(&found.id, &token.id);
        Ok(Principal {
            realm: found,
            token: Some(token),
            via: Via::Jwt,
        })
    }

    /// HTTP Basic: one of the realm's Basic credentials, or the older form, a realm token as
    /// the password under the token's name. The older form is the token path with a name
    /// check, so it is tried first and costs what a bearer token costs (nothing on a cache
    /// hit); the Basic credentials are read only when no token matched. A verified Basic
    /// password is remembered like a token, by the hash of username and password, so a
    /// chosen password costs Argon2 once, not once per request (where the cache can hear of
    /// the credential's deletion).
    async fn authorize_basic(
        &self,
        at: &Attempt<'_>,
        username: &str,
        password: &str,
    ) -> ServiceResult<Principal> {
        let key = hash_secret(&format!("basic\0{username}\0{password}"));
        let now = self.clock.now_text();
        if let Some((r, t)) = self.cache.get(at.tenant, at.realm, &key) {
            check_method(&r, AuthMethod::Basic)?;
            check_token(&key, &t, &now, at.intent)?;
            check_state(&r)?;
            self.usage.note_basic(&r.id, &t.id);
            return Ok(Principal {
                realm: r,
                token: Some(t),
                via: Via::Basic,
            });
        }
        let hash = hash_secret(password);
        // Taken before either read: a credential deleted between them is not remembered.
        let ticket = self.cache.ticket();
        let (found, token) = self.realm_and_token(at, Some(&hash)).await?;
        // Before any password is checked: Argon2 is not paid for a method that is off.
        check_method(&found, AuthMethod::Basic)?;
        if let Some(t) = token {
            // A password given under another token's name is refused like a wrong password,
            // in the same time.
            if !bool::from(username.as_bytes().ct_eq(t.name.as_bytes())) {
                return Err(invalid_token());
            }
            check_token(&hash, &t, &now, at.intent)?;
            check_state(&found)?;
            self.usage.note(&t.realm_id, &t.id);
            return Ok(Principal {
                realm: found,
                token: Some(t),
                via: Via::Token,
            });
        }
        let Some(c) = self
            .store
            .find_basic(&found.id, username)
            .await
            .map_err(|e| ServiceError::from_store(e, "Basic credential"))?
        else {
            return Err(invalid_token());
        };
        let matched = match c.kind {
            PasswordKind::Generated => {
                bool::from(hash.as_bytes().ct_eq(c.password_hash.as_bytes()))
            }
            PasswordKind::Chosen => password::verify(password, &c.password_hash).await?,
        };
        if !matched {
            return Err(refused(BASIC_PASSWORD));
        }
        let token = Arc::new(TokenInfo {
            id: c.id,
            realm_id: found.id.clone(),
            name: c.username,
            token_hash: key.clone(),
            scopes: c.scopes,
            description: c.description,
            created_by: c.created_by,
            created_at: c.created_at,
            expires_at: c.expires_at,
            revoked_at: None,
            last_used_at: c.last_used_at,
            replaced_by: None,
        });
        check_token(&key, &token, &now, at.intent)?;
        check_state(&found)?;
        if let Some(ticket) = ticket {
            self.cache.put(ticket, &found, &token);
        }
        self.usage.note_basic(&found.id, &token.id);
        Ok(Principal {
            realm: found,
            token: Some(token),
            via: Via::Basic,
        })
    }

    /// An admin token on SCIM data: only with a SCIM scope, and only on the realms of the
    /// tenants it administers (others are 404, as on the admin API).
    async fn authorize_admin(&self, at: &Attempt<'_>, secret: &str) -> ServiceResult<Principal> {
        at.admit()?;
        let now = self.clock.now_text();
        let t = match check_admin_secret(self.store.as_ref(), &now, secret).await {
            Ok(t) => t,
            Err(AdminError::Unauthorized(detail)) => {
                // Refusals are counted per realm, so only a realm that exists gets one.
                self.realm_and_token(at, None).await?;
                return Err(unauthorized("invalid_token", &detail));
            }
            Err(AdminError::Unavailable(e)) => return Err(ServiceError::Unavailable(e)),
            Err(e) => return Err(ServiceError::Internal(anyhow::anyhow!(e))),
        };
        let visible = t.tenant.as_deref().is_none_or(|own| own == at.tenant);
        let (found, _) = if visible {
            self.realm_and_token(at, None).await?
        } else {
            let (tenant, realm) = (at.tenant, at.realm);
            auth_failure("unknown_realm");
            return Err(ScimError::not_found(format!(
                "there is no realm '{realm}' in tenant '{tenant}'"
            ))
            .into());
        };
        if !t
            .scopes
            .iter()
            .any(|s| s == SCIM_SCOPE || s == SCIM_READ_SCOPE)
        {
            auth_failure("admin_token");
            return Err(ScimError::new(
                403,
                None,
                "this is an admin token: SCIM data needs a SCIM token of the realm, or an admin \
                 token with the 'scim:all' or 'scim:read' scope",
            )
            .into());
        }
        check_scope(&t.scopes, at.intent)?;
        check_state(&found)?;
        let token = TokenInfo {
            id: t.id,
            realm_id: found.id.clone(),
            name: t.name,
            token_hash: String::new(),
            scopes: t.scopes,
            description: t.description,
            created_by: t.created_by,
            created_at: t.created_at,
            expires_at: t.expires_at,
            revoked_at: None,
            last_used_at: t.last_used_at,
            replaced_by: None,
        };
        Ok(Principal {
            realm: found,
            token: Some(Arc::new(token)),
            via: Via::Admin,
        })
    }

    /// An audit record of a refused credential, naming what kind it was and never any of
    /// its secret. The failure limit bounds how many a caller can cause.
    async fn record_refusal(
        &self,
        tenant: &str,
        realm: &str,
        cred: &Credential,
        reason: &str,
        caller: Caller<'_>,
    ) {
        let address = caller.address;
        let actor = match cred {
            Credential::Bearer(s) if s.starts_with(ADMIN_TOKEN_PREFIX) => "admin-token".into(),
            Credential::Bearer(s) if looks_like_jwt(s) => "jwt-bearer".into(),
            Credential::Bearer(_) => "bearer-token".into(),
            Credential::Basic { username, .. } => {
                let name: String = username.chars().take(MAX_AUDITED_NAME).collect();
                format!("basic:{name}")
            }
            Credential::Malformed => "malformed".into(),
        };
        let event = AuditEvent {
            id: uuid::Uuid::now_v7().to_string(),
            tenant: Some(tenant.to_owned()),
            at: self.clock.now_text(),
            actor,
            action: "scim.auth.denied".into(),
            target: format!("tenants/{tenant}/realms/{realm}/scim/v2"),
            address: address.map(str::to_owned),
            detail: serde_json::json!({ "reason": reason }),
        };
        if let Err(e) = self.store.append_audit(&event).await {
            tracing::error!(error = %e, "recording a refused SCIM credential failed");
        }
        // And in the realm's event log, when there is such a realm: a name made up by the
        // caller has no log to fill.
        let realm_id = match self.store.find_realm(tenant, realm).await {
            Ok(Some(r)) => r.id,
            Ok(None) => return,
            Err(e) => {
                tracing::error!(error = %e, "recording a refused SCIM credential in the realm's event log failed");
                return;
            }
        };
        let mut detail = event.detail;
        detail["credential"] = serde_json::Value::String(event.actor.clone());
        if let Some(a) = &event.address {
            detail["address"] = serde_json::Value::String(a.clone());
        }
        let entry = crate::store::NewLogEntry {
            realm_id,
            at: event.at,
            actor: event.actor,
            request_id: caller.request_id.map(str::to_owned),
            operation: crate::store::EventOp::Denied,
            resource_type: crate::store::Subject::Credential,
            resource_id: None,
            changed: Vec::new(),
            action: event.action,
            target: None,
            detail,
        };
        match self.store.append_event(&entry).await {
            Ok(()) => self.events.wrote(),
            Err(e) => {
                tracing::error!(error = %e, "recording a refused SCIM credential in the realm's event log failed")
            }
        }
    }
}

/// Where a request came from, for the record of a refusal: the client's address and the
/// request's `X-Request-Id`.
#[derive(Debug, Clone, Copy, Default)]
pub struct Caller<'a> {
    pub address: Option<&'a str>,
    pub request_id: Option<&'a str>,
}

/// A token found for the hash sent is still refused when revoked, expired or lacking scope.
fn check_token(hash: &str, t: &TokenInfo, now: &str, intent: Intent) -> ServiceResult<()> {
    // The lookup was by hash; comparing again in constant time keeps timing from saying
    // anything even if the index ever changed.
    if !bool::from(hash.as_bytes().ct_eq(t.token_hash.as_bytes())) {
        return Err(invalid_token());
    }
    // Revoked and expired are told apart in the metrics only: RFC 6750 says no more than
    // `invalid_token` to the caller, who may not be the token's owner.
    if t.revoked_at.is_some() {
        return Err(refused("revoked"));
    }
    if let Some(exp) = &t.expires_at {
        if exp.as_str() <= now {
            return Err(refused("expired"));
        }
    }
    check_scope(&t.scopes, intent)
}

/// A credential of a kind the realm does not accept is refused for that, whatever it is: the
/// realm's discovery says which kinds it takes.
fn check_method(realm: &Realm, method: AuthMethod) -> ServiceResult<()> {
    if realm.auth_methods.contains(&method) {
        return Ok(());
    }
    let takes: Vec<&str> = realm.auth_methods.iter().map(|m| m.as_str()).collect();
    Err(unauthorized(
        "method_disabled",
        &format!(
            "realm '{}' does not accept {} (its auth_methods are {}; /ServiceProviderConfig \
             lists them)",
            realm.name,
            method.title(),
            takes.join(", ")
        ),
    ))
}

/// `scim:all` allows everything; `scim:read` allows reads.
fn check_scope(scopes: &[String], intent: Intent) -> ServiceResult<()> {
    let has = |want: &str| scopes.iter().any(|s| s == want);
    let allowed = match intent {
        Intent::Events => has(EVENTS_READ_SCOPE),
        Intent::Read => has(SCIM_SCOPE) || has(SCIM_READ_SCOPE),
        Intent::Write => has(SCIM_SCOPE),
    };
    if allowed {
        return Ok(());
    }
    auth_failure("insufficient_scope");
    let detail = if intent == Intent::Events {
        format!("reading the change feed needs a credential with the '{EVENTS_READ_SCOPE}' scope (or an admin token)")
    } else if has(EVENTS_READ_SCOPE) && !has(SCIM_READ_SCOPE) && !has(SCIM_SCOPE) {
        format!("the bearer token may only read the change feed (scope '{EVENTS_READ_SCOPE}'); SCIM data needs '{SCIM_READ_SCOPE}' or '{SCIM_SCOPE}'")
    } else if has(SCIM_READ_SCOPE) {
        format!("the bearer token may only read (scope '{SCIM_READ_SCOPE}'); changes need a token with the '{SCIM_SCOPE}' scope")
    } else {
        format!("the bearer token lacks the '{SCIM_SCOPE}' scope")
    };
    Err(ServiceError::InsufficientScope(ScimError::new(
        403, None, detail,
    )))
}

/// Only an enabled realm serves; a paused one says how to resume it.
fn check_state(realm: &Realm) -> ServiceResult<()> {
    let (reason, detail) = match realm.state {
        RealmState::Enabled => return Ok(()),
        RealmState::Paused => (
            "realm_paused",
            format!(
                "SCIM provisioning is paused for realm '{}' of tenant '{}'; its data and \
                 tokens are kept. An operator resumes it with 'scimd realm set-state \
                 --tenant {} --realm {} enabled'",
                realm.name, realm.tenant, realm.tenant, realm.name
            ),
        ),
        RealmState::Disabled => (
            "realm_disabled",
            format!(
                "SCIM provisioning is disabled for realm '{}' of tenant '{}'",
                realm.name, realm.tenant
            ),
        ),
    };
    auth_failure(reason);
    Err(ScimError::new(403, None, detail).into())
}

fn invalid_token() -> ServiceError {
    refused("invalid_token")
}

/// A credential refused for `reason` (counted), told to the caller in the same words
/// whatever the reason.
fn refused(reason: &'static str) -> ServiceError {
    unauthorized(reason, "the bearer token is not valid for this realm")
}

fn unauthorized(reason: &'static str, detail: &str) -> ServiceError {
    auth_failure(reason);
    ServiceError::Refused {
        reason,
        error: ScimError::new(401, None, detail),
    }
}

fn auth_failure(reason: &'static str) {
    metrics::counter!("scimd_auth_failures_total", "reason" => reason).increment(1);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn minted_secrets_are_unique_prefixed_and_hash_stably() {
        let a = mint_secret();
        let b = mint_secret();
        assert_ne!(a.secret, b.secret);
        assert!(a.secret.starts_with(TOKEN_PREFIX));
        assert!(a.secret.len() > 40);
        assert_eq!(hash_secret(&a.secret), a.hash);
        assert_ne!(a.hash, a.secret);
    }

    #[test]
    fn usage_keeps_each_tokens_last_use_from_every_thread_and_starts_over_after_a_drain() {
        let usage = Arc::new(UsageTracker::default());
        let before = crate::clock::now();
        let threads: Vec<_> = (0..4)
            .map(|i| {
                let usage = usage.clone();
                std::thread::spawn(move || {
                    for n in 0..1000 {
                        usage.note("realm", &format!("token-{}", (i + n) % 40));
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
        let mut batch = usage.drain().tokens;
        batch.sort();
        assert_eq!(batch.len(), 40, "each token once");
        assert!(batch.iter().all(|(_, _, at)| *at >= before), "{batch:?}");
        assert_eq!(batch[0].1, "token-0");
        assert!(batch.iter().all(|(realm, _, _)| realm == "realm"));
        assert!(usage.drain().tokens.is_empty(), "nothing used since");
        usage.note("realm", "token-7");
        usage.note_issuer("realm", "issuer-1");
        let d = usage.drain();
        assert_eq!(d.tokens.len(), 1);
        assert_eq!(d.issuers[0].1, "issuer-1", "issuers apart from tokens");
    }
}
