//! What the two SQL stores share: the filter and sort compilers (one walk of the query, with
//! the few expressions that differ per engine chosen by `Dialect`), bound values, and the
//! small helpers both use. Neither store's SQL statements live here.

pub(crate) mod filter;
pub(crate) mod groups;
pub(crate) mod page;
pub(crate) mod sort;

use sqlx::query::Query;
use sqlx::{Database, Encode, Type};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    Postgres,
    Sqlite,
}

/// Rows per multi-row INSERT or IN list: far below both engines' bound-parameter limits.
pub(crate) const CHUNK: usize = 500;

/// A value bound to a compiled filter or seek.
#[derive(Debug, Clone)]
pub(crate) enum Bind {
    Str(String),
    F64(f64),
}

impl Bind {
    pub(crate) fn bind<'q, DB>(
        &self,
        q: Query<'q, DB, <DB as Database>::Arguments<'q>>,
    ) -> Query<'q, DB, <DB as Database>::Arguments<'q>>
    where
        DB: Database,
        String: Encode<'q, DB> + Type<DB>,
        f64: Encode<'q, DB> + Type<DB>,
    {
        match self {
            Bind::Str(s) => q.bind(s.clone()),
            Bind::F64(f) => q.bind(*f),
        }
    }
}

/// Binds every value in order.
pub(crate) fn bind_all<'q, DB>(
    mut q: Query<'q, DB, <DB as Database>::Arguments<'q>>,
    binds: &[Bind],
) -> Query<'q, DB, <DB as Database>::Arguments<'q>>
where
    DB: Database,
    String: Encode<'q, DB> + Type<DB>,
    f64: Encode<'q, DB> + Type<DB>,
{
    for b in binds {
        q = b.bind(q);
    }
    q
}

/// A token's columns, as both stores' token reads name them (`t` the tokens table).
pub(crate) const TOKEN_COLS: &str = "t.id AS t_id, t.realm_id AS t_realm_id, t.name AS t_name, \
    t.token_hash AS t_hash, t.scopes AS t_scopes, t.created_at AS t_created_at, \
    t.expires_at AS t_expires_at, t.revoked_at AS t_revoked_at, t.last_used_at AS t_last_used_at, \
    t.description AS t_description, t.created_by AS t_created_by, t.replaced_by AS t_replaced_by";

/// A token's scopes as stored: one space-separated column.
pub(crate) fn parse_scopes(scopes: &str) -> Vec<String> {
    scopes.split_whitespace().map(str::to_owned).collect()
}

/// A trusted issuer's claim-value-to-scope map as stored: a JSON object.
pub(crate) fn parse_values(
    text: &str,
) -> super::StoreResult<std::collections::BTreeMap<String, String>> {
    serde_json::from_str(text).map_err(|e| {
        super::StoreError::Corrupt(format!("trusted issuer scope_values ({e}): {text}"))
    })
}

pub(crate) fn values_text(t: &super::TrustedIssuer) -> String {
    serde_json::to_string(&t.scope_values).unwrap_or_else(|_| "{}".into())
}

/// `$start, $start+1, ...` for an IN list.
pub(crate) fn placeholders(start: usize, n: usize) -> String {
    (start..start + n)
        .map(|i| format!("${i}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Folds a name for the case-insensitive uniqueness index: the protocol's one folding rule,
/// applied in Rust rather than SQL so both engines fold Unicode the same way.
pub(crate) fn fold(s: &str) -> String {
    crate::scim::fold(s)
}

/// A user's direct groups as the stores read them with the row: JSON `[[id, name, nested],
/// ...]` (NULL for none).
pub(crate) fn parse_direct_groups(
    text: Option<&str>,
) -> Result<Vec<super::DirectGroup>, super::StoreError> {
    let Some(text) = text else {
        return Ok(Vec::new());
    };
    let items: Vec<(String, String, serde_json::Value)> = serde_json::from_str(text)
        .map_err(|e| super::StoreError::Corrupt(format!("a user's direct groups: {e}")))?;
    Ok(items
        .into_iter()
        .map(|(group_id, display, nested)| super::DirectGroup {
            group_id,
            display,
            // Postgres answers a boolean, SQLite 0 or 1.
            nested: nested.as_bool() == Some(true) || nested.as_i64() == Some(1),
        })
        .collect())
}

/// A stored document back as a JSON object.
pub(crate) fn parse_data(
    text: &str,
) -> Result<serde_json::Map<String, serde_json::Value>, super::StoreError> {
    serde_json::from_str(text)
        .map_err(|e| super::StoreError::Corrupt(format!("resource data is not a JSON object: {e}")))
}

pub(crate) fn parse_kind(kind: &str) -> Result<super::Kind, super::StoreError> {
    super::Kind::parse(kind)
        .ok_or_else(|| super::StoreError::Corrupt(format!("unknown resource kind {kind}")))
}

/// A realm's authentication methods as stored: their names, space-separated.
pub(crate) fn parse_methods(text: &str) -> Result<Vec<super::AuthMethod>, super::StoreError> {
    let mut out = text
        .split_whitespace()
        .map(|m| {
            super::AuthMethod::parse(m).ok_or_else(|| {
                super::StoreError::Corrupt(format!("unknown authentication method {m}"))
            })
        })
        .collect::<Result<Vec<_>, _>>()?;
    out.sort();
    out.dedup();
    Ok(out)
}

pub(crate) fn methods_text(methods: &[super::AuthMethod]) -> String {
    methods
        .iter()
        .map(|m| m.as_str())
        .collect::<Vec<_>>()
        .join(" ")
}

pub(crate) fn parse_state(state: &str) -> Result<super::RealmState, super::StoreError> {
    super::RealmState::parse(state)
        .ok_or_else(|| super::StoreError::Corrupt(format!("unknown realm state {state}")))
}

/// A fresh random server secret, base64, and its decoding.
pub(crate) fn fresh_secret() -> String {
    use base64::Engine;
    use rand::RngCore;
    let mut fresh = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut fresh);
    base64::engine::general_purpose::STANDARD.encode(fresh)
}

pub(crate) fn decode_secret(name: &str, value: &str) -> Result<Vec<u8>, super::StoreError> {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD
        .decode(value)
        .map_err(|e| super::StoreError::Corrupt(format!("setting {name} is not base64: {e}")))
}
