//! A realm's OAuth 2.0 token endpoint (client credentials) and its authorization server
//! metadata (RFC 8414). Errors are RFC 6749 §5.2 JSON, not SCIM errors: OAuth clients read
//! `error` and `error_description`.

use axum::extract::{RawPathParams, Request, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::{json, Value};

use super::realm::{client_address, origin};
use super::state::AppState;
use crate::service::auth::{Credential, SCIM_READ_SCOPE, SCIM_SCOPE};
use crate::service::oauth::{ClientAuthMethod, ClientCredential, OAuthError, TokenRequest};

pub const TOKEN: &str = "/v1/tenants/{tenant}/realms/{realm}/oauth2/token";
pub const METADATA: &str =
    "/v1/tenants/{tenant}/realms/{realm}/.well-known/oauth-authorization-server";
/// RFC 8414 §3: the well-known segment goes between the host and the issuer's path.
pub const METADATA_RFC8414: &str =
    "/.well-known/oauth-authorization-server/v1/tenants/{tenant}/realms/{realm}";
/// A token request is a handful of short fields.
const MAX_FORM_BYTES: usize = 16 * 1024;
const ASSERTION_TYPE: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

pub fn router() -> Router<AppState> {
    Router::new()
        .route(TOKEN, post(token).fallback(token_method))
        .route(METADATA, get(metadata))
        .route(METADATA_RFC8414, get(metadata))
}

/// An RFC 6749 §5.2 error response.
#[derive(Debug)]
struct Failure {
    status: StatusCode,
    error: &'static str,
    description: String,
    challenge: bool,
    retry_after: Option<u64>,
}

impl Failure {
    fn new(status: StatusCode, error: &'static str, description: impl Into<String>) -> Self {
        Failure {
            status,
            error,
            description: description.into(),
            challenge: false,
            retry_after: None,
        }
    }

    fn invalid_request(description: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "invalid_request", description)
    }
}

impl IntoResponse for Failure {
    fn into_response(self) -> Response {
        let body = json!({"error": self.error, "error_description": self.description});
        let mut resp = (self.status, Json(body)).into_response();
        let h = resp.headers_mut();
        no_store(h);
        if self.challenge {
            h.insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Basic realm=\"scimd\", charset=\"UTF-8\""),
            );
        }
        if let Some(secs) = self.retry_after {
            h.insert(header::RETRY_AFTER, HeaderValue::from(secs.max(1)));
        }
        resp
    }
}

/// RFC 6749 §5.1: token responses, and their errors, are never cached.
fn no_store(h: &mut HeaderMap) {
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
}

impl From<OAuthError> for Failure {
    fn from(e: OAuthError) -> Self {
        match e {
            OAuthError::InvalidRequest(d) => Failure::invalid_request(d),
            OAuthError::InvalidClient { detail, method } => Failure {
                challenge: matches!(method, Some(ClientAuthMethod::Basic) | None),
                ..Failure::new(StatusCode::UNAUTHORIZED, "invalid_client", detail)
            },
            OAuthError::UnsupportedGrantType(d) => {
                Failure::new(StatusCode::BAD_REQUEST, "unsupported_grant_type", d)
            }
            OAuthError::InvalidScope(d) => {
                Failure::new(StatusCode::BAD_REQUEST, "invalid_scope", d)
            }
            OAuthError::NoRealm(d) => Failure::new(StatusCode::NOT_FOUND, "invalid_request", d),
            OAuthError::NotEnabled(d) => {
                Failure::new(StatusCode::BAD_REQUEST, "unauthorized_client", d)
            }
            OAuthError::TooManyFailures(wait) => Failure {
                retry_after: Some(wait.as_secs_f64().ceil() as u64),
                ..Failure::new(
                    StatusCode::TOO_MANY_REQUESTS,
                    "invalid_client",
                    "too many failed client authentications from this address or for this \
                     client; wait for Retry-After seconds",
                )
            },
            OAuthError::Unavailable(e) => {
                tracing::warn!(error = %e, "token endpoint: database unavailable");
                Failure::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "temporarily_unavailable",
                    "the database is unavailable; retry shortly",
                )
            }
            OAuthError::Internal(e) => {
                tracing::error!(error = %e, "token endpoint failed");
                Failure::new(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "server_error",
                    "the server failed to issue a token; the cause is logged",
                )
            }
        }
    }
}

fn realm_of(params: &RawPathParams) -> (String, String) {
    let mut tenant = String::new();
    let mut realm = String::new();
    for (k, v) in params {
        match k {
            "tenant" => tenant = v.to_owned(),
            "realm" => realm = v.to_owned(),
            _ => {}
        }
    }
    (tenant, realm)
}

/// `application/x-www-form-urlencoded` fields; a repeated one is an error (RFC 6749 §3.2),
/// an empty one is as if omitted.
fn form(body: &[u8]) -> Result<Vec<(String, String)>, Failure> {
    let mut fields: Vec<(String, String)> = Vec::new();
    for (k, v) in form_urlencoded::parse(body) {
        if fields.iter().any(|(seen, _)| *seen == k) {
            return Err(Failure::invalid_request(format!(
                "the parameter '{k}' is given more than once"
            )));
        }
        fields.push((k.into_owned(), v.into_owned()));
    }
    fields.retain(|(_, v)| !v.is_empty());
    Ok(fields)
}

fn field<'a>(fields: &'a [(String, String)], name: &str) -> Option<&'a str> {
    fields
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

/// RFC 6749 §2.3.1: the client id and secret are form-encoded before they go into Basic.
fn form_decoded(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < bytes.len() => match (hex(bytes[i + 1]), hex(bytes[i + 2])) {
                (Some(hi), Some(lo)) => {
                    out.push(hi << 4 | lo);
                    i += 2;
                }
                _ => out.push(b'%'),
            },
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn hex(b: u8) -> Option<u8> {
    (b as char).to_digit(16).map(|d| d as u8)
}

/// (client id, secret) from `Authorization: Basic`; Err when the header is there but is not
/// a Basic credential we can read.
fn basic_client(headers: &HeaderMap) -> Result<Option<(String, String)>, Failure> {
    if !headers.contains_key(header::AUTHORIZATION) {
        return Ok(None);
    }
    let bad = || Failure {
        challenge: true,
        ..Failure::new(
            StatusCode::UNAUTHORIZED,
            "invalid_client",
            "the Authorization header is not HTTP Basic with client_id:client_secret",
        )
    };
    // The SCIM endpoints' reading of Basic (RFC 7617), then RFC 6749 §2.3.1's form decoding.
    let (id, secret) = match super::extract::credential(headers) {
        Some(Credential::Basic { username, password }) => (username, password),
        _ => return Err(bad()),
    };
    let (id, secret) = (form_decoded(&id), form_decoded(&secret));
    if id.is_empty() || secret.is_empty() {
        return Err(bad());
    }
    Ok(Some((id, secret)))
}

/// What the form and the headers say about the client, by RFC 6749 §2.3's rules.
fn token_request(
    headers: &HeaderMap,
    fields: &[(String, String)],
    address: Option<String>,
) -> Result<TokenRequest, Failure> {
    let post_id = field(fields, "client_id");
    let post_secret = field(fields, "client_secret");
    let assertion_type = field(fields, "client_assertion_type");
    let assertion = field(fields, "client_assertion");
    if assertion_type.is_some() || assertion.is_some() {
        if assertion_type != Some(ASSERTION_TYPE) {
            return Err(Failure::invalid_request(format!(
                "client_assertion_type must be {ASSERTION_TYPE} (RFC 7523) with a \
                 client_assertion"
            )));
        }
        let Some(assertion) = assertion else {
            return Err(Failure::invalid_request(
                "client_assertion is required with client_assertion_type",
            ));
        };
        if post_secret.is_some() || headers.contains_key(header::AUTHORIZATION) {
            return Err(Failure::invalid_request(
                "the client authenticated twice (a client assertion and a secret); use one \
                 method",
            ));
        }
        return Ok(TokenRequest {
            grant_type: field(fields, "grant_type").map(str::to_owned),
            scope: field(fields, "scope").map(str::to_owned),
            client_id: post_id.map(str::to_owned),
            credential: ClientCredential::Assertion(assertion.to_owned()),
            method: ClientAuthMethod::Assertion,
            address,
        });
    }
    let (client_id, client_secret, method) = match basic_client(headers)? {
        Some((id, secret)) => {
            if post_secret.is_some() {
                return Err(Failure::invalid_request(
                    "the client authenticated twice (Authorization header and client_secret); \
                     use one method",
                ));
            }
            if post_id.is_some_and(|p| p != id) {
                return Err(Failure::invalid_request(
                    "client_id in the form is not the client in the Authorization header",
                ));
            }
            (id, secret, ClientAuthMethod::Basic)
        }
        None => match (post_id, post_secret) {
            (Some(id), Some(secret)) => (id.to_owned(), secret.to_owned(), ClientAuthMethod::Post),
            (Some(_), None) => {
                return Err(Failure::new(
                    StatusCode::UNAUTHORIZED,
                    "invalid_client",
                    "client_secret is required: scimd's clients are confidential",
                ))
            }
            _ => {
                return Err(Failure {
                    challenge: true,
                    ..Failure::new(
                        StatusCode::UNAUTHORIZED,
                        "invalid_client",
                        "no client authentication: send client_id and client_secret as HTTP \
                         Basic or in the form",
                    )
                })
            }
        },
    };
    Ok(TokenRequest {
        grant_type: field(fields, "grant_type").map(str::to_owned),
        scope: field(fields, "scope").map(str::to_owned),
        client_id: Some(client_id),
        credential: ClientCredential::Secret(client_secret),
        method,
        address,
    })
}

async fn token(State(state): State<AppState>, params: RawPathParams, req: Request) -> Response {
    match issue(&state, &params, req).await {
        Ok(r) => r,
        Err(f) => f.into_response(),
    }
}

async fn issue(
    state: &AppState,
    params: &RawPathParams,
    req: Request,
) -> Result<Response, Failure> {
    let (tenant, realm) = realm_of(params);
    let address = client_address(state, &req);
    let form_type = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|v| {
            v.trim()
                .eq_ignore_ascii_case("application/x-www-form-urlencoded")
        });
    if !form_type {
        return Err(Failure::invalid_request(
            "the token request must be application/x-www-form-urlencoded (RFC 6749 §4.4.2)",
        ));
    }
    let (parts, body) = req.into_parts();
    let body = axum::body::to_bytes(body, MAX_FORM_BYTES)
        .await
        .map_err(|_| {
            Failure::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                "invalid_request",
                format!("the token request is larger than {MAX_FORM_BYTES} bytes"),
            )
        })?;
    let fields = form(&body)?;
    let request = token_request(&parts.headers, &fields, address)?;
    let issued = state.services.oauth.token(&tenant, &realm, request).await?;
    let mut resp = Json(json!({
        "access_token": issued.access_token,
        "token_type": "Bearer",
        "expires_in": issued.expires_in,
        "scope": issued.scope,
    }))
    .into_response();
    no_store(resp.headers_mut());
    Ok(resp)
}

async fn token_method() -> Response {
    let mut r = Failure::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "invalid_request",
        "the token endpoint takes POST only",
    )
    .into_response();
    r.headers_mut()
        .insert(header::ALLOW, HeaderValue::from_static("POST"));
    r
}

async fn metadata(State(state): State<AppState>, params: RawPathParams, req: Request) -> Response {
    let (tenant, realm) = realm_of(&params);
    match state.services.oauth.realm(&tenant, &realm).await {
        Ok(_) => {}
        // No authorization server here: as absent as a realm that is not there.
        Err(OAuthError::NotEnabled(d)) => {
            return Failure::new(StatusCode::NOT_FOUND, "invalid_request", d).into_response()
        }
        Err(e) => return Failure::from(e).into_response(),
    }
    let issuer = format!(
        "{}/v1/tenants/{tenant}/realms/{realm}",
        origin(&state, &req)
    );
    let doc: Value = json!({
        "issuer": issuer,
        "token_endpoint": format!("{issuer}/oauth2/token"),
        "token_endpoint_auth_methods_supported":
            ["client_secret_basic", "client_secret_post", "private_key_jwt"],
        "token_endpoint_auth_signing_alg_values_supported": ["RS256", "ES256"],
        "grant_types_supported": ["client_credentials"],
        "scopes_supported": [SCIM_SCOPE, SCIM_READ_SCOPE],
        "response_types_supported": [],
    });
    Json(doc).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn basic_client_credentials_are_form_decoded() {
        assert_eq!(form_decoded("a%3Ab+c%2"), "a:b c%2");
        assert_eq!(form_decoded("scimd_cs_x-y_z"), "scimd_cs_x-y_z");
        assert_eq!(form_decoded("%zz%"), "%zz%");
    }

    #[test]
    fn a_repeated_parameter_is_refused_and_an_empty_one_is_omitted() {
        assert!(form(b"grant_type=a&grant_type=b").is_err());
        let f = form(b"grant_type=client_credentials&scope=").unwrap();
        assert_eq!(field(&f, "grant_type"), Some("client_credentials"));
        assert_eq!(field(&f, "scope"), None);
    }
}
