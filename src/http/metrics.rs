//! Prometheus metrics: the recorder, the per-request middleware, and the /metrics handler
//! served on its own listener so it is not exposed with the API.

use std::sync::OnceLock;
use std::time::Instant;

use axum::extract::{MatchedPath, Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};

use super::state::AppState;

/// One recorder per process: tests start many servers in one process, and a metrics
/// recorder can be installed only once.
pub fn handle() -> &'static PrometheusHandle {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    HANDLE.get_or_init(|| {
        PrometheusBuilder::new()
            .set_buckets_for_metric(
                Matcher::Full("scimd_http_request_duration_seconds".into()),
                &[
                    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
                ],
            )
            .expect("static buckets are valid")
            .install_recorder()
            .expect("the metrics recorder is installed once")
    })
}

/// Counts and times every request by route template, method and status, when a metrics
/// listener can serve them; names the route in the request's log span either way.
pub async fn observe(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map(|p| p.as_str())
        .unwrap_or("unmatched");
    tracing::Span::current().record("route", route);
    if !state.metrics {
        return next.run(req).await;
    }
    let start = Instant::now();
    let method = req.method().as_str().to_owned();
    let route = route.to_owned();
    let resp = next.run(req).await;
    let status = resp.status().as_u16().to_string();
    let labels = [("route", route), ("method", method), ("status", status)];
    metrics::counter!("scimd_http_requests_total", &labels).increment(1);
    metrics::histogram!("scimd_http_request_duration_seconds", &labels[..2])
        .record(start.elapsed().as_secs_f64());
    resp
}

pub async fn render(State(state): State<AppState>) -> Response {
    let (size, idle) = state.services.store.pool_stats();
    metrics::gauge!("scimd_db_pool_connections", "state" => "idle").set(idle as f64);
    metrics::gauge!("scimd_db_pool_connections", "state" => "in_use")
        .set((size as usize).saturating_sub(idle) as f64);
    (
        [(
            axum::http::header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        handle().render(),
    )
        .into_response()
}
