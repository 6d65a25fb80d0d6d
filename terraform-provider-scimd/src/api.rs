//! The admin API client: JSON over HTTP with an admin token, problem details as errors.

use std::fmt;
use std::time::Duration;

use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};
use reqwest::{Method, StatusCode};
use serde_json::Value;

/// What a path segment may hold unescaped: the unreserved characters of RFC 3986.
const SEGMENT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~');

/// Requests refused before they were processed (429, 503, no connection) are tried again
/// this many times in all; an apply should not fail because a replica was restarting.
const ATTEMPTS: u32 = 4;
const MAX_WAIT: Duration = Duration::from_secs(10);

/// `/v1/tenants/acme/realms/prod`-style paths from segments, each percent-encoded.
pub fn path(segments: &[&str]) -> String {
    segments.iter().fold(String::new(), |mut p, s| {
        p.push('/');
        p.extend(utf8_percent_encode(s, SEGMENT));
        p
    })
}

#[derive(Debug, Clone, PartialEq)]
pub enum ApiError {
    /// The server refused the request with an RFC 9457 problem detail.
    Problem {
        status: u16,
        title: String,
        detail: String,
        /// The request field the server names as the cause, if any.
        field: Option<String>,
        existing_id: Option<String>,
    },
    /// The request did not get an answer (connection refused, timeout, TLS).
    Transport(String),
    /// An answer that is neither success nor a problem detail (a proxy's error page).
    Unexpected { status: u16, body: String },
}

impl ApiError {
    /// The problem detail's own fields from a non-success answer.
    pub fn from_answer(status: u16, body: &str) -> ApiError {
        match serde_json::from_str::<Value>(body) {
            Ok(Value::Object(p)) if p.contains_key("detail") || p.contains_key("title") => {
                let text = |k: &str| p.get(k).and_then(Value::as_str).map(str::to_owned);
                ApiError::Problem {
                    status,
                    title: text("title").unwrap_or_default(),
                    detail: text("detail").unwrap_or_default(),
                    field: text("field"),
                    existing_id: text("existing_id"),
                }
            }
            _ => ApiError::Unexpected {
                status,
                body: body.chars().take(500).collect(),
            },
        }
    }

    pub fn status(&self) -> Option<u16> {
        match self {
            ApiError::Problem { status, .. } | ApiError::Unexpected { status, .. } => Some(*status),
            ApiError::Transport(_) => None,
        }
    }
}

impl fmt::Display for ApiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ApiError::Problem {
                status,
                title,
                detail,
                existing_id,
                ..
            } => {
                write!(f, "{status} {title}: {detail}")?;
                if let Some(id) = existing_id {
                    write!(f, " (existing id {id}; `terraform import` it to manage it)")?;
                }
                Ok(())
            }
            ApiError::Transport(e) => write!(f, "no answer from scimd: {e}"),
            ApiError::Unexpected { status, body } => {
                write!(f, "unexpected answer {status} from scimd: {body}")
            }
        }
    }
}

#[derive(Clone)]
pub struct Api {
    /// scheme://host[:port][/prefix], without a trailing slash.
    base: String,
    token: String,
    http: reqwest::Client,
}

impl fmt::Debug for Api {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Api")
            .field("base", &self.base)
            .field("token", &"<redacted>")
            .finish()
    }
}

impl Api {
    pub fn new(endpoint: &str, token: &str) -> Result<Api, String> {
        let base = endpoint.trim_end_matches('/').to_owned();
        if !(base.starts_with("http://") || base.starts_with("https://")) {
            return Err(format!(
                "endpoint must be an http:// or https:// URL (the server's origin), got {endpoint:?}"
            ));
        }
        let http = reqwest::Client::builder()
            .user_agent(concat!(
                "terraform-provider-scimd/",
                env!("CARGO_PKG_VERSION")
            ))
            .timeout(Duration::from_secs(60))
            .build()
            .map_err(|e| format!("cannot build the HTTP client: {e}"))?;
        Ok(Api {
            base,
            token: token.to_owned(),
            http,
        })
    }

    /// `None` when the object does not exist (any more).
    pub async fn get(&self, path: &str) -> Result<Option<Value>, ApiError> {
        match self.call(Method::GET, path, None).await {
            Ok(v) => Ok(Some(v)),
            Err(e) if e.status() == Some(404) => Ok(None),
            Err(e) => Err(e),
        }
    }

    pub async fn post(&self, path: &str, body: &Value) -> Result<Value, ApiError> {
        self.call(Method::POST, path, Some(body)).await
    }

    pub async fn patch(&self, path: &str, body: &Value) -> Result<Value, ApiError> {
        self.call(Method::PATCH, path, Some(body)).await
    }

    /// Deleting what is already gone is done, not an error.
    pub async fn delete(&self, path: &str) -> Result<(), ApiError> {
        match self.call(Method::DELETE, path, None).await {
            Ok(_) => Ok(()),
            Err(e) if e.status() == Some(404) => Ok(()),
            Err(e) => Err(e),
        }
    }

    async fn call(
        &self,
        method: Method,
        path: &str,
        body: Option<&Value>,
    ) -> Result<Value, ApiError> {
        let url = format!("{}{path}", self.base);
        let mut attempt = 1;
        loop {
            let mut req = self
                .http
                .request(method.clone(), &url)
                .bearer_auth(&self.token)
                .header("accept", "application/json");
            if let Some(b) = body {
                req = req.json(b);
            }
            let (status, wait, text) = match req.send().await {
                Ok(resp) => {
                    let status = resp.status();
                    let wait = retry_after(&resp);
                    let text = resp
                        .text()
                        .await
                        .map_err(|e| ApiError::Transport(e.to_string()))?;
                    (status, wait, text)
                }
                // Not connected means not sent: safe to try again, even a POST.
                Err(e) if e.is_connect() && attempt < ATTEMPTS => {
                    tokio::time::sleep(backoff(attempt)).await;
                    attempt += 1;
                    continue;
                }
                Err(e) => return Err(ApiError::Transport(e.to_string())),
            };
            if status.is_success() {
                if text.trim().is_empty() {
                    return Ok(Value::Null);
                }
                return serde_json::from_str(&text).map_err(|e| ApiError::Unexpected {
                    status: status.as_u16(),
                    body: format!("not JSON ({e})"),
                });
            }
            let refused_unprocessed = status == StatusCode::TOO_MANY_REQUESTS
                || status == StatusCode::SERVICE_UNAVAILABLE;
            if refused_unprocessed && attempt < ATTEMPTS {
                tokio::time::sleep(wait.unwrap_or_else(|| backoff(attempt)).min(MAX_WAIT)).await;
                attempt += 1;
                continue;
            }
            return Err(ApiError::from_answer(status.as_u16(), &text));
        }
    }
}

fn retry_after(resp: &reqwest::Response) -> Option<Duration> {
    let secs = resp
        .headers()
        .get("retry-after")?
        .to_str()
        .ok()?
        .trim()
        .parse()
        .ok()?;
    Some(Duration::from_secs(secs))
}

fn backoff(attempt: u32) -> Duration {
    Duration::from_millis(250 * 2u64.pow(attempt))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn path_segments_are_percent_encoded() {
        assert_eq!(path(&["v1", "tenants", "acme"]), "/v1/tenants/acme");
        assert_eq!(path(&["v1", "tenants", "a/b c"]), "/v1/tenants/a%2Fb%20c");
    }

    #[test]
    fn a_problem_detail_keeps_its_detail_field_and_existing_id() {
        let e = ApiError::from_answer(
            409,
            r#"{"type":"urn:scimd:problem:conflict","title":"Conflict","status":409,
               "detail":"a token named okta exists","field":"name","existing_id":"0190"}"#,
        );
        assert_eq!(
            e,
            ApiError::Problem {
                status: 409,
                title: "Conflict".into(),
                detail: "a token named okta exists".into(),
                field: Some("name".into()),
                existing_id: Some("0190".into()),
            }
        );
        assert!(e.to_string().contains("terraform import"));
    }

    #[test]
    fn a_non_json_error_page_is_shown_truncated() {
        let page = "<html>".to_owned() + &"x".repeat(2000);
        match ApiError::from_answer(502, &page) {
            ApiError::Unexpected { status, body } => {
                assert_eq!(status, 502);
                assert_eq!(body.chars().count(), 500);
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn an_endpoint_must_be_an_http_url() {
        assert!(Api::new("scimd.example.com", "t").is_err());
        let api = Api::new("https://scimd.example.com/", "secret-token").unwrap();
        let shown = format!("{api:?}");
        assert!(shown.contains("\"https://scimd.example.com\""), "{shown}");
        assert!(
            !shown.contains("secret-token"),
            "the token is never printed: {shown}"
        );
    }
}
