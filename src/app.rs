//! Assembles and runs the server: store, services, router, background tasks, shutdown.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use tokio::net::TcpListener;
use tower::Layer;

use crate::clock::{Clock, SystemClock};
use crate::config::Config;
use crate::http::state::AppState;
use crate::scim::filter::FilterLimits;
use crate::scim::list::PageLimits;
use crate::service::{webhooks, Limits, Services};
use crate::store::Store;

/// Connects to (and migrates) the configured database.
pub async fn open_store(cfg: &Config) -> anyhow::Result<Arc<dyn Store>> {
    crate::store::open(&cfg.database_url, cfg.database_max_connections).await
}

/// How webhooks are sent and their secrets sealed, from the config.
pub fn webhook_settings(cfg: &Config) -> anyhow::Result<webhooks::Settings> {
    Ok(webhooks::Settings {
        keys: webhooks::keys::keyring(
            &cfg.secret_key,
            &cfg.secret_key_file,
            &cfg.secret_keys_previous,
            &cfg.database_url,
        )?,
        policy: webhooks::AddressPolicy::parse(&cfg.webhook_allow_private)
            .map_err(|e| anyhow::anyhow!("webhook_allow_private: {e}"))?,
        timeout: Duration::from_secs(cfg.webhook_timeout_seconds),
        concurrency: cfg.webhook_concurrency,
    })
}

pub fn services(
    cfg: &Config,
    store: Arc<dyn Store>,
    clock: Arc<dyn Clock>,
) -> anyhow::Result<Services> {
    Ok(Services::new(
        store,
        Limits {
            page: PageLimits {
                default_count: cfg.default_page_size,
                max_count: cfg.max_page_size,
            },
            filter: FilterLimits {
                max_length: cfg.filter_max_length,
                max_depth: cfg.filter_max_depth,
            },
            max_body_bytes: cfg.max_body_bytes,
            max_patch_operations: cfg.patch_max_operations,
            cursor_timeout_secs: cfg.cursor_timeout_seconds,
            auth_failures_per_minute: cfg.auth_failures_per_minute,
            basic_failures_per_minute: cfg.basic_failures_per_minute,
        },
        clock,
        webhook_settings(cfg)?,
    ))
}

/// Serves on `listener` until `shutdown` resolves, then lets in-flight requests finish (up to
/// the configured grace period). Tests pass a port-0 listener and their own shutdown.
pub async fn serve(
    cfg: Config,
    listener: TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let metrics = if cfg.metrics_listen.is_empty() {
        None
    } else {
        Some(
            TcpListener::bind(&cfg.metrics_listen)
                .await
                .with_context(|| format!("binding the metrics listener {}", cfg.metrics_listen))?,
        )
    };
    serve_with_metrics(cfg, listener, metrics, shutdown).await
}

/// `serve` with the metrics listener bound by the caller (tests bind port 0 for both).
pub async fn serve_with_metrics(
    cfg: Config,
    listener: TcpListener,
    metrics_listener: Option<TcpListener>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    serve_with_clock(
        cfg,
        listener,
        metrics_listener,
        Arc::new(SystemClock),
        shutdown,
    )
    .await
}

/// `serve_with_metrics` on the given clock (tests move it to expire tokens without waiting).
pub async fn serve_with_clock(
    cfg: Config,
    listener: TcpListener,
    metrics_listener: Option<TcpListener>,
    clock: Arc<dyn Clock>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let store = open_store(&cfg).await?;
    let services = Arc::new(services(&cfg, store.clone(), clock)?);
    match webhooks::keys::reseal(store.as_ref(), services.webhooks.keys()).await {
        Ok(0) => {}
        Ok(n) => tracing::info!(
            webhooks = n,
            "sealed webhook secrets again under the current key-encryption key"
        ),
        Err(e) => tracing::warn!(error = format!("{e:#}"), "sealing webhook secrets under the current key failed; the earlier keys are still needed"),
    }
    let sender = tokio::spawn(services.webhooks.clone().run());
    let relay = tokio::spawn(services.events.clone().relay(services.store.clone()));
    let pruner = (cfg.event_prune_interval_seconds > 0).then(|| {
        let every = Duration::from_secs(cfg.event_prune_interval_seconds);
        tokio::spawn(services.pruner.clone().run(every))
    });
    if let Some((scim, admin)) = services.admin.bootstrap().await? {
        print_bootstrap(&cfg, listener.local_addr()?, &scim.secret, &admin.secret);
    }

    let flusher = {
        let services = services.clone();
        let every = Duration::from_secs(cfg.token_usage_flush_seconds.max(1));
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(every);
            tick.tick().await;
            loop {
                tick.tick().await;
                if let Err(e) = services.usage.flush(services.store.as_ref()).await {
                    tracing::warn!(error = %e, "recording token last use failed");
                }
            }
        })
    };

    let auth_feed = tokio::spawn(services.auth.cache.clone().follow(services.store.clone()));

    crate::http::metrics::handle();
    let state = AppState {
        services: services.clone(),
        public_url: cfg.public_url.clone().into(),
        trusted_proxies: cfg.trusted_proxy_nets()?.into(),
        max_body_bytes: cfg.max_body_bytes,
        discovery_requires_auth: cfg.discovery_requires_auth,
        limits: Arc::new(crate::http::limits::Limits::new(
            crate::http::limits::LimitConfig {
                token_per_second: cfg.rate_limit_token_per_second,
                token_burst: cfg.rate_limit_token_burst,
                realm_per_second: cfg.rate_limit_realm_per_second,
                realm_burst: cfg.rate_limit_realm_burst,
                max_concurrent_requests: cfg.max_concurrent_requests,
                request_timeout: Duration::from_secs(cfg.request_timeout_seconds),
            },
        )),
        metrics: metrics_listener.is_some(),
    };
    let metrics_task = if let Some(l) = metrics_listener {
        tracing::info!(addr = %l.local_addr()?, "metrics listening");
        let router = crate::http::metrics_router(state.clone());
        Some(tokio::spawn(async move {
            let _ = axum::serve(l, router).await;
        }))
    } else {
        None
    };
    // Histogram samples pile up in the recorder until something drains them; a scrape does,
    // and so does this, so memory stays flat however rarely (or never) /metrics is scraped.
    let metrics_upkeep = state.metrics.then(|| {
        tokio::spawn(async {
            let mut tick = tokio::time::interval(Duration::from_secs(5));
            loop {
                tick.tick().await;
                crate::http::metrics::handle().run_upkeep();
            }
        })
    });
    let app = tower::util::MapRequestLayer::new(crate::http::normalize_path)
        .layer(crate::http::router(state));
    tracing::info!(addr = %listener.local_addr()?, "scimd listening");

    let grace = Duration::from_secs(cfg.shutdown_grace_seconds);
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let server = axum::serve(
        listener,
        // The peer address decides whether forwarded headers are believed.
        axum::ServiceExt::<axum::extract::Request>::into_make_service_with_connect_info::<
            std::net::SocketAddr,
        >(app),
    )
    .with_graceful_shutdown(async move {
        shutdown.await;
        let _ = stop_tx.send(());
    });
    let server = tokio::spawn(async move { server.await });
    let mut server = server;
    tokio::select! {
        res = &mut server => { res.context("server task")?.context("serving")?; }
        _ = async {
            let _ = stop_rx.await;
            tracing::info!("shutting down: waiting for in-flight requests");
            tokio::time::sleep(grace).await;
        } => {
            tracing::warn!("grace period over; abandoning requests still running");
            server.abort();
        }
    }
    flusher.abort();
    auth_feed.abort();
    // A delivery cut off here is sent again: its event is not marked delivered until the
    // receiver has answered, and its lease runs out for whoever comes next.
    sender.abort();
    relay.abort();
    for t in [metrics_task, metrics_upkeep, pruner].into_iter().flatten() {
        t.abort();
    }
    if let Err(e) = services.usage.flush(services.store.as_ref()).await {
        tracing::warn!(error = %e, "recording token last use at shutdown failed");
    }
    store.close().await;
    tracing::info!("scimd stopped");
    Ok(())
}

fn print_bootstrap(cfg: &Config, addr: std::net::SocketAddr, secret: &str, admin: &str) {
    let origin = if cfg.public_url.is_empty() {
        let host = if addr.ip().is_unspecified() {
            format!("127.0.0.1:{}", addr.port())
        } else {
            addr.to_string()
        };
        format!("http://{host}")
    } else {
        cfg.public_url.trim_end_matches('/').to_owned()
    };
    let base = format!("{origin}/v1/tenants/default/realms/default/scim/v2");
    // Printed, not logged: this is the one time the secret is shown, and log pipelines must
    // never carry it.
    println!(
        "\n\
         ================================================================================\n\
         scimd created tenant 'default' with realm 'default' and this bootstrap token.\n\
         It is shown ONCE; store it now (only its hash is kept):\n\n\
         \x20   {secret}\n\n\
         SCIM base URL: {base}\n\
         Try it:\n\n\
         \x20   curl -H 'Authorization: Bearer {secret}' {base}/Users\n\n\
         And this global admin token, for the admin API (tenants, realms, tokens), also\n\
         shown ONCE:\n\n\
         \x20   {admin}\n\n\
         \x20   curl -H 'Authorization: Bearer {admin}' {origin}/v1/tenants\n\n\
         More tokens: scimd token create --tenant default --realm default --name <name>\n\
         ================================================================================\n"
    );
}

/// Resolves on SIGTERM or SIGINT.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = term => {},
    }
}
