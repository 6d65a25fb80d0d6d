//! Request limits at the edge: rate limits per token and per realm, a cap on concurrent
//! requests, and a deadline per request. Each answers with a SCIM Error, never a hung or
//! empty response. Limits live in this process: every replica enforces its own share.

use std::num::NonZeroU32;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::{Request, State};
use axum::http::{header, HeaderValue};
use axum::middleware::Next;
use axum::response::Response;
use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use tokio::sync::Semaphore;

use super::error::error_response;
use super::extract::BodyProgress;
use super::state::AppState;
use crate::scim::ScimError;

#[derive(Debug, Clone, Copy)]
pub struct LimitConfig {
    pub token_per_second: u32,
    pub token_burst: u32,
    pub realm_per_second: u32,
    pub realm_burst: u32,
    pub max_concurrent_requests: usize,
    pub request_timeout: Duration,
}

pub struct Limits {
    /// Keyed by a hash of the token's / realm's id, so that a check allocates no copy of the
    /// id. Ids are the server's own (UUIDs), so no client can choose two that share a bucket.
    per_token: Option<DefaultKeyedRateLimiter<u64>>,
    per_realm: Option<DefaultKeyedRateLimiter<u64>>,
    in_flight: Arc<Semaphore>,
    pub request_timeout: Duration,
    /// Made once: building governor's clock calibrates the TSC (cpuid and all), which cost
    /// 6% of a GET's CPU when it was made per request.
    clock: DefaultClock,
}

fn limiter(per_second: u32, burst: u32) -> Option<DefaultKeyedRateLimiter<u64>> {
    let rate = NonZeroU32::new(per_second)?;
    let burst = NonZeroU32::new(burst.max(per_second)).unwrap_or(rate);
    Some(RateLimiter::keyed(
        Quota::per_second(rate).allow_burst(burst),
    ))
}

impl Limits {
    pub fn new(c: LimitConfig) -> Self {
        Self {
            per_token: limiter(c.token_per_second, c.token_burst),
            per_realm: limiter(c.realm_per_second, c.realm_burst),
            in_flight: Arc::new(Semaphore::new(c.max_concurrent_requests.max(1))),
            request_timeout: c.request_timeout,
            clock: DefaultClock::default(),
        }
    }

    /// `Err(seconds to wait)` when the token's or the realm's rate is exceeded.
    pub fn check_rate(&self, realm_id: &str, token_id: Option<&str>) -> Result<(), u64> {
        if self.per_token.is_none() && self.per_realm.is_none() {
            return Ok(());
        }
        let wait = |l: &DefaultKeyedRateLimiter<u64>, id: &str| {
            l.check_key(&key(id))
                .map_err(|not_until| not_until.wait_time_from(self.clock.now()))
        };
        let mut worst = Duration::ZERO;
        if let (Some(l), Some(t)) = (&self.per_token, token_id) {
            if let Err(w) = wait(l, t) {
                worst = worst.max(w);
            }
        }
        if let Some(l) = &self.per_realm {
            if let Err(w) = wait(l, realm_id) {
                worst = worst.max(w);
            }
        }
        if worst.is_zero() {
            Ok(())
        } else {
            Err(worst.as_secs() + 1)
        }
    }
}

fn key(id: &str) -> u64 {
    use std::hash::{BuildHasher, BuildHasherDefault, DefaultHasher};
    BuildHasherDefault::<DefaultHasher>::default().hash_one(id)
}

pub fn too_many_requests(retry_after: u64) -> Response {
    metrics::counter!("scimd_rate_limited_total").increment(1);
    let mut resp = error_response(&ScimError::new(
        429,
        None,
        format!("rate limit exceeded for this token or realm; retry after {retry_after} s"),
    ));
    if let Ok(v) = HeaderValue::from_str(&retry_after.to_string()) {
        resp.headers_mut().insert(header::RETRY_AFTER, v);
    }
    resp
}

/// Caps concurrent requests (503 beyond, without queueing) and bounds each request's time.
pub async fn guard(State(state): State<AppState>, req: Request, next: Next) -> Response {
    // HTTP/2 streams end on their own; its responses may not carry Connection.
    let has_body = req.version() < axum::http::Version::HTTP_2 && declares_body(req.headers());
    let body = BodyProgress::default();
    let mut resp = limited(&state, req, next, body.clone()).await;
    // Answered before its body was read (a 401, 404, 429 or 503 decided from the headers, a
    // 413): hyper then drops the connection unless the rest of the body happens to be in its
    // buffer already, and says nothing, so the client's next request on it fails with a reset
    // (seen under load while the database was down). Saying so lets the client reconnect.
    if has_body && !body.read_whole() {
        resp.headers_mut()
            .insert(header::CONNECTION, HeaderValue::from_static("close"));
    }
    resp
}

fn declares_body(headers: &axum::http::HeaderMap) -> bool {
    headers.contains_key(header::TRANSFER_ENCODING)
        || headers
            .get(header::CONTENT_LENGTH)
            .is_some_and(|v| v.as_bytes() != b"0")
}

async fn limited(state: &AppState, mut req: Request, next: Next, body: BodyProgress) -> Response {
    let Ok(_permit) = state.limits.in_flight.clone().try_acquire_owned() else {
        let mut resp = error_response(&ScimError::new(
            503,
            None,
            "the server is at its limit of concurrent requests; retry shortly",
        ));
        resp.headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
        return resp;
    };
    let timeout = state.limits.request_timeout;
    req.extensions_mut().insert(body.clone());
    match tokio::time::timeout(timeout, next.run(req)).await {
        Ok(resp) => resp,
        // The client, not the server, is what is slow: it never finished sending the body.
        Err(_) if body.still_reading() => {
            tracing::info!(timeout_s = timeout.as_secs_f64(), "request body timed out");
            error_response(&ScimError::new(
                408,
                None,
                format!(
                    "the request body did not arrive within {} s; send it whole, promptly",
                    timeout.as_secs_f64()
                ),
            ))
        }
        Err(_) => {
            tracing::warn!(timeout_s = timeout.as_secs_f64(), "request timed out");
            error_response(&ScimError::new(
                503,
                None,
                format!(
                    "the request did not complete within {} s and was abandoned; nothing of \
                     it was committed unless its write had already finished",
                    timeout.as_secs_f64()
                ),
            ))
        }
    }
}
