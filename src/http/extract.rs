//! Request extractors: the SCIM JSON body, query parameters, bearer token and preconditions.

use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{header, HeaderMap};
use serde_json::Value;

use super::error::ApiError;
use super::state::AppState;
use crate::scim::ScimError;
use crate::service::resources::ListParams;

/// A JSON body, whatever the Content-Type (StrongDM sends none, COMPAT 1), bounded by the
/// configured size.
pub struct ScimBody(pub Value);

impl FromRequest<AppState> for ScimBody {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &AppState) -> Result<Self, Self::Rejection> {
        let limit = state.max_body_bytes as usize;
        let bytes = axum::body::to_bytes(req.into_body(), limit)
            .await
            .map_err(|_| {
                ScimError::new(
                    413,
                    None,
                    format!("the request body exceeds the {limit}-byte limit"),
                )
            })?;
        if bytes.iter().all(u8::is_ascii_whitespace) {
            return Err(
                ScimError::invalid_syntax("the request body is empty; send a JSON object").into(),
            );
        }
        serde_json::from_slice(&bytes).map(ScimBody).map_err(|e| {
            ScimError::invalid_syntax(format!("the request body is not valid JSON: {e}")).into()
        })
    }
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
        Ok(QueryParams(
            form_urlencoded::parse(q.as_bytes())
                .map(|(k, v)| (k.into_owned(), v.into_owned()))
                .collect(),
        ))
    }
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
