//! Request extractors: the SCIM JSON body, query parameters, bearer token and preconditions.

use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::Arc;

use axum::extract::{FromRequest, FromRequestParts, RawPathParams, Request};
use axum::http::request::Parts;
use axum::http::{header, HeaderMap};
use serde_json::Value;

use super::error::ApiError;
use super::state::AppState;
use crate::scim::ScimError;
use crate::service::auth::Credential;
use crate::service::resources::ListParams;

/// A JSON body, whatever the Content-Type (StrongDM sends none, COMPAT 1), bounded by the
/// configured size.
pub struct ScimBody(pub Value);

impl FromRequest<AppState> for ScimBody {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &AppState) -> Result<Self, Self::Rejection> {
        let limit = state.max_body_bytes as usize;
        let too_large = || {
            ScimError::new(
                413,
                None,
                format!("the request body exceeds the {limit}-byte limit"),
            )
        };
        let progress = req.extensions().get::<BodyProgress>().cloned();
        if let Some(p) = &progress {
            p.0.store(BodyProgress::READING, Ordering::Relaxed);
        }
        let bytes = axum::body::to_bytes(req.into_body(), limit)
            .await
            .map_err(|_| too_large())?;
        if let Some(p) = &progress {
            p.0.store(BodyProgress::DONE, Ordering::Relaxed);
        }
        if bytes.iter().all(u8::is_ascii_whitespace) {
            return Err(
                ScimError::invalid_syntax("the request body is empty; send a JSON object").into(),
            );
        }
        let value: Value = serde_json::from_slice(&bytes).map_err(|e| {
            let detail = if e.to_string().starts_with("recursion limit exceeded") {
                format!(
                    "the request body nests arrays or objects more than 128 levels deep (at \
                     line {} column {}); no SCIM resource is that deep",
                    e.line(),
                    e.column()
                )
            } else {
                format!("the request body is not valid JSON: {e}")
            };
            ScimError::invalid_syntax(detail)
        })?;
        refuse_nul(&value)?;
        Ok(ScimBody(value))
    }
}

/// Whether the handler has begun and finished reading the request body, so that the request
/// deadline can tell a client that never finished sending (408) from a slow server (503).
#[derive(Clone, Default)]
pub struct BodyProgress(pub Arc<AtomicU8>);

impl BodyProgress {
    pub const READING: u8 = 1;
    pub const DONE: u8 = 2;

    pub fn still_reading(&self) -> bool {
        self.0.load(Ordering::Relaxed) == Self::READING
    }

    pub fn read_whole(&self) -> bool {
        self.0.load(Ordering::Relaxed) == Self::DONE
    }
}

/// NUL (U+0000) is refused in every string and key of a body: PostgreSQL cannot store it in
/// text or jsonb, so it would be stored on one backend and an internal error on the other, and
/// no SCIM value needs it.
fn refuse_nul(body: &Value) -> Result<(), ScimError> {
    // serde_json bounds the nesting (128 levels), so the stack stays small.
    let mut stack: Vec<(&str, &Value)> = vec![("", body)];
    while let Some((name, v)) = stack.pop() {
        let bad = match v {
            Value::String(s) => s.contains('\0').then_some(name),
            Value::Array(items) => {
                stack.extend(items.iter().map(|i| (name, i)));
                None
            }
            Value::Object(map) => {
                for (k, v) in map {
                    if k.contains('\0') {
                        return Err(ScimError::invalid_value(
                            "an attribute name in the request body contains a NUL character \
                             (U+0000), which SCIM names never hold",
                        ));
                    }
                    stack.push((k.as_str(), v));
                }
                None
            }
            _ => None,
        };
        if let Some(name) = bad {
            return Err(ScimError::invalid_value(format!(
                "the value of \"{name}\" contains a NUL character (U+0000), which scimd does \
                 not store; remove it"
            )));
        }
    }
    Ok(())
}

/// Percent-decodes a query-string component (`+` is a space), refusing what does not decode to
/// UTF-8: `%FF` replaced by U+FFFD would quietly search for another value.
fn decode_query_component(raw: &str) -> Option<String> {
    let spaced = raw.replace('+', " ");
    percent_encoding::percent_decode_str(&spaced)
        .decode_utf8()
        .ok()
        .map(|c| c.into_owned())
}

/// The list and projection parameters (RFC 7644 §3.4.2, §3.9; RFC 9865), named alike in a query
/// string and in a SearchRequest body. Handlers read them and /openapi.json documents them
/// through this one list.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Param {
    Filter,
    SortBy,
    SortOrder,
    StartIndex,
    Count,
    Cursor,
    Attributes,
    ExcludedAttributes,
}

impl Param {
    pub const LIST: [Param; 8] = [
        Param::Filter,
        Param::SortBy,
        Param::SortOrder,
        Param::StartIndex,
        Param::Count,
        Param::Cursor,
        Param::Attributes,
        Param::ExcludedAttributes,
    ];
    pub const PROJECTION: [Param; 2] = [Param::Attributes, Param::ExcludedAttributes];

    pub fn name(self) -> &'static str {
        match self {
            Param::Filter => "filter",
            Param::SortBy => "sortBy",
            Param::SortOrder => "sortOrder",
            Param::StartIndex => "startIndex",
            Param::Count => "count",
            Param::Cursor => "cursor",
            Param::Attributes => "attributes",
            Param::ExcludedAttributes => "excludedAttributes",
        }
    }

    /// Fills list parameters from any source of named values (a query string, a SearchRequest).
    pub fn list_params(value: impl Fn(Param) -> Option<String>) -> ListParams {
        ListParams {
            filter: value(Param::Filter),
            start_index: value(Param::StartIndex),
            count: value(Param::Count),
            attributes: value(Param::Attributes),
            excluded_attributes: value(Param::ExcludedAttributes),
            sort_by: value(Param::SortBy),
            sort_order: value(Param::SortOrder),
            cursor: value(Param::Cursor),
        }
    }
}

/// Query parameters, names matched case-insensitively, `+` and `%XX` decoded.
pub struct QueryParams(pub Vec<(String, String)>);

impl QueryParams {
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    pub fn param(&self, p: Param) -> Option<&str> {
        self.get(p.name())
    }
}

impl<S: Send + Sync> FromRequestParts<S> for QueryParams {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        let q = parts.uri.query().unwrap_or_default();
        let mut out = Vec::new();
        for pair in q.split('&').filter(|p| !p.is_empty()) {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            let name = decode_query_component(k).ok_or_else(|| {
                ScimError::invalid_value("a query parameter name is not UTF-8 once percent-decoded")
            })?;
            let value = decode_query_component(v).ok_or_else(|| {
                let detail = format!(
                    "the query parameter \"{name}\" is not UTF-8 once percent-decoded; \
                     percent-encode the UTF-8 bytes of its text"
                );
                if name.eq_ignore_ascii_case(Param::Filter.name()) {
                    ScimError::invalid_filter(detail)
                } else {
                    ScimError::invalid_value(detail)
                }
            })?;
            out.push((name, value));
        }
        Ok(QueryParams(out))
    }
}

/// The `{id}` path segment of a route, percent-decoded. Not UTF-8 is a SCIM 400 (axum's own
/// rejection is plain text); an id holding NUL names nothing (ids are the server's, and
/// PostgreSQL cannot even compare text holding NUL), so it is a 404 without a lookup.
pub struct ResourceId(pub String);

impl<S: Send + Sync> FromRequestParts<S> for ResourceId {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let params = RawPathParams::from_request_parts(parts, state)
            .await
            .map_err(|_| {
                ScimError::invalid_value(
                    "the id in the path is not UTF-8 once percent-decoded; ids are the strings \
                     the server assigned",
                )
            })?;
        let id = params
            .iter()
            .find(|(k, _)| *k == "id")
            .map(|(_, v)| v.to_owned())
            .unwrap_or_default();
        if id.contains('\0') {
            return Err(ScimError::not_found(format!(
                "nothing has the id {id:?}: ids never contain NUL (U+0000)"
            ))
            .into());
        }
        Ok(ResourceId(id))
    }
}

/// The credential in `Authorization`: Bearer or Basic; another scheme counts as none sent.
pub fn credential(headers: &HeaderMap) -> Option<Credential> {
    let v = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, rest) = v.trim().split_once(' ')?;
    let rest = rest.trim();
    if rest.is_empty() {
        return None;
    }
    if scheme.eq_ignore_ascii_case("bearer") {
        return Some(Credential::Bearer(rest.to_owned()));
    }
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    use base64::Engine;
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(rest)
        .ok()
        .and_then(|b| String::from_utf8(b).ok());
    // RFC 7617 §2: the user-id cannot hold a colon, the password may.
    Some(match decoded.as_deref().and_then(|d| d.split_once(':')) {
        Some((user, pass)) if !user.is_empty() && !pass.is_empty() => Credential::Basic {
            username: user.to_owned(),
            password: pass.to_owned(),
        },
        _ => Credential::Malformed,
    })
}

pub fn bearer(headers: &HeaderMap) -> Option<&str> {
    let v = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = v.trim().split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| token.trim())
        .filter(|t| !t.is_empty())
}

/// What an `If-Match` / `If-None-Match` header asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Precondition {
    None,
    Any,
    /// Versions named by the header; a tag we could not have issued parses to `-1`, which
    /// matches nothing.
    Versions(Vec<i64>),
}

impl Precondition {
    pub fn from_header(headers: &HeaderMap, name: header::HeaderName) -> Self {
        let Some(v) = headers.get(name).and_then(|v| v.to_str().ok()) else {
            return Precondition::None;
        };
        if v.trim() == "*" {
            return Precondition::Any;
        }
        Precondition::Versions(
            v.split(',')
                .map(|t| {
                    let t = t.trim();
                    let t = t.strip_prefix("W/").unwrap_or(t);
                    t.trim_matches('"').parse::<i64>().unwrap_or(-1)
                })
                .collect(),
        )
    }

    /// The version a conditional write must find, when the header names exactly one.
    pub fn expected_version(&self) -> Option<i64> {
        match self {
            Precondition::Versions(v) if v.len() == 1 => v.first().copied(),
            _ => None,
        }
    }

    pub fn matches(&self, version: i64) -> bool {
        match self {
            Precondition::None => false,
            Precondition::Any => true,
            Precondition::Versions(v) => v.contains(&version),
        }
    }
}
