//! The event log's read side, measured (not a test, not part of CI): run it through
//! `scripts/eventbench.sh`, which starts a throwaway PostgreSQL 15 cluster and sets
//! `SCIMD_BENCH_POSTGRES_URL`. Two in-process servers share the database. It prints:
//!
//! * long-poll wake-up: a reader waits (`wait=30`) on server A while a user is created on A
//!   (same server) or on B (another server: the wake-up travels as a database notice); the
//!   figure is the time from the write being sent to the reader's answer, p50 / p99 / max,
//!   beside the write's own time to its 201 (the reader is often answered first);
//! * feed throughput: N events (default 100,000) written straight into the log in one
//!   transaction, then read by one consumer from the start with `limit=1000`: events/s;
//! * webhook throughput: a webhook on a local receiver that answers 204, then N/10 events:
//!   events/s delivered (each is sent, answered and recorded before the next);
//! * pruning: a realm holding M events (default 1,000,000) older than its retention is pruned
//!   while a writer creates users in it one after another: events/s pruned, and the writer's
//!   p50 / p99 before and during the pruning.
//!
//! Knobs: SCIMD_BENCH_EVENTS (default 100000), SCIMD_BENCH_WAKE_SAMPLES (default 100),
//! SCIMD_BENCH_PRUNE_EVENTS (default 1000000).

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{ensure, Context};
use scimd::config::Config;
use scimd::service::admin::AdminService;
use serde_json::{json, Value};
use sqlx::postgres::PgPool;

const KEY: &str = "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=";
const FEED: &str = "/v1/tenants/default/realms/default/events";

struct Server {
    origin: String,
    shutdown: tokio::sync::oneshot::Sender<()>,
    task: tokio::task::JoinHandle<anyhow::Result<()>>,
}

async fn start(url: &str) -> anyhow::Result<Server> {
    let cfg = Config {
        database_url: url.to_owned(),
        database_max_connections: 16,
        rate_limit_token_per_second: 0,
        rate_limit_realm_per_second: 0,
        metrics_listen: String::new(),
        secret_key: KEY.into(),
        webhook_allow_private: "127.0.0.1".into(),
        log_level: "warn".into(),
        // The pruning figure is taken by hand, below.
        event_prune_interval_seconds: 0,
        ..Config::default()
    };
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let origin = format!("http://{}", listener.local_addr()?);
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(scimd::app::serve(cfg, listener, async move {
        let _ = rx.await;
    }));
    let http = reqwest::Client::new();
    for _ in 0..100 {
        if http
            .get(format!("{origin}/readyz"))
            .send()
            .await
            .is_ok_and(|r| r.status().is_success())
        {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    Ok(Server {
        origin,
        shutdown: tx,
        task,
    })
}

fn pct(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i]
}

async fn wake_latency(
    http: &reqwest::Client,
    reader: &Server,
    writer: &Server,
    token: &str,
    admin: &str,
    samples: usize,
    label: &str,
) -> anyhow::Result<(Vec<f64>, Vec<f64>)> {
    let end: Value = http
        .get(format!("{}{FEED}?limit=1000", reader.origin))
        .bearer_auth(admin)
        .send()
        .await?
        .json()
        .await?;
    let mut cursor = end["next_cursor"].as_str().unwrap_or("0.0").to_owned();
    // Drain to the end of the log first.
    loop {
        let page: Value = http
            .get(format!("{}{FEED}?limit=1000&after={cursor}", reader.origin))
            .bearer_auth(admin)
            .send()
            .await?
            .json()
            .await?;
        let n = page["items"].as_array().map_or(0, Vec::len);
        cursor = page["next_cursor"].as_str().unwrap_or(&cursor).to_owned();
        if n == 0 {
            break;
        }
    }
    let mut out = Vec::with_capacity(samples);
    let mut writes = Vec::with_capacity(samples);
    for i in 0..samples {
        let url = format!("{}{FEED}?wait=30&after={cursor}", reader.origin);
        let req = http.get(url).bearer_auth(admin);
        let waiting = tokio::spawn(async move {
            let r = req.send().await?;
            let at = Instant::now();
            anyhow::Ok((at, r.json::<Value>().await?))
        });
        // Let the reader's request arrive and start waiting.
        tokio::time::sleep(Duration::from_millis(30)).await;
        let sent = Instant::now();
        let r = http
            .post(format!(
                "{}/v1/tenants/default/realms/default/scim/v2/Users",
                writer.origin
            ))
            .bearer_auth(token)
            .header("content-type", "application/scim+json")
            .body(
                json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
                       "userName": format!("wake.{label}.{i}")})
                .to_string(),
            )
            .send()
            .await?;
        ensure!(r.status().as_u16() == 201, "POST answered {}", r.status());
        writes.push(sent.elapsed().as_secs_f64() * 1000.0);
        let (at, page) = waiting.await??;
        let got = page["items"].as_array().map_or(0, Vec::len);
        ensure!(got >= 1, "the waiting reader was answered with nothing");
        cursor = page["next_cursor"].as_str().unwrap_or(&cursor).to_owned();
        out.push(at.saturating_duration_since(sent).as_secs_f64() * 1000.0);
    }
    out.sort_by(|a, b| a.total_cmp(b));
    writes.sort_by(|a, b| a.total_cmp(b));
    Ok((out, writes))
}

async fn insert_events(db: &PgPool, n: i64) -> anyhow::Result<Duration> {
    insert_events_into(db, "default", n, 0).await
}

/// `n` events in one transaction, written `days_ago` days ago.
async fn insert_events_into(
    db: &PgPool,
    realm: &str,
    n: i64,
    days_ago: i32,
) -> anyhow::Result<Duration> {
    let realm: String = sqlx::query_scalar(
        "SELECT CAST(id AS text) FROM realms WHERE tenant = 'default' AND name = $1",
    )
    .bind(realm)
    .fetch_one(db)
    .await?;
    let t = Instant::now();
    sqlx::query(
        "INSERT INTO events (realm_id, at, actor, request_id, operation, resource_type, \
         resource_id, version, changed) \
         SELECT CAST($1 AS uuid), now() - make_interval(days => $3), 'bench', NULL, 'patch', 'User', gen_random_uuid(), \
         g, ARRAY['active', 'name.givenName'] FROM generate_series(1, $2) AS g",
    )
    .bind(&realm)
    .bind(n)
    .bind(days_ago)
    .execute(db)
    .await?;
    Ok(t.elapsed())
}

/// Reads the feed from `after` to its end, and on until it has shown `want` events: an event
/// shows only once every transaction older than its own has ended, so a page can come back
/// empty for a moment while a background write is in flight.
async fn read_all(
    http: &reqwest::Client,
    s: &Server,
    admin: &str,
    after: &str,
    want: usize,
) -> anyhow::Result<(usize, Duration)> {
    let t = Instant::now();
    let mut cursor = after.to_owned();
    let mut total = 0;
    loop {
        let r = http
            .get(format!("{}{FEED}?limit=1000&after={cursor}", s.origin))
            .bearer_auth(admin)
            .send()
            .await?;
        let status = r.status();
        let page: Value = r.json().await?;
        ensure!(status.is_success(), "reading the feed: {status} {page}");
        let n = page["items"].as_array().map_or(0, Vec::len);
        if n == 0 {
            if total >= want || t.elapsed() > Duration::from_secs(30) {
                break;
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
            continue;
        }
        total += n;
        cursor = page["next_cursor"]
            .as_str()
            .context("next_cursor")?
            .to_owned();
    }
    Ok((total, t.elapsed()))
}

async fn receiver() -> anyhow::Result<(String, Arc<AtomicUsize>)> {
    let count = Arc::new(AtomicUsize::new(0));
    let c = count.clone();
    let app = axum::Router::new().route(
        "/hook",
        axum::routing::post(move || {
            let c = c.clone();
            async move {
                c.fetch_add(1, Ordering::SeqCst);
                axum::http::StatusCode::NO_CONTENT
            }
        }),
    );
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let url = format!("http://{}/hook", l.local_addr()?);
    tokio::spawn(async move {
        let _ = axum::serve(l, app).await;
    });
    Ok((url, count))
}

fn env(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    // `cargo bench` passes --bench; `cargo test --all-targets` runs this binary without it,
    // and a benchmark that needs its own Postgres has nothing to check there.
    if !std::env::args().any(|a| a == "--bench") {
        eprintln!("events benchmark: run it with scripts/eventbench.sh (cargo bench); skipped");
        return Ok(());
    }
    let url = std::env::var("SCIMD_BENCH_POSTGRES_URL")
        .context("SCIMD_BENCH_POSTGRES_URL (scripts/eventbench.sh sets it)")?;
    let events = env("SCIMD_BENCH_EVENTS", 100_000);
    let samples = env("SCIMD_BENCH_WAKE_SAMPLES", 100);
    let a = start(&url).await?;
    let b = start(&url).await?;
    let store = scimd::app::open_store(&Config {
        database_url: url.clone(),
        ..Config::default()
    })
    .await?;
    let admin_svc = AdminService::new(store.clone(), Arc::new(scimd::clock::SystemClock));
    let token = admin_svc
        .create_token("default", "default", "bench", None)
        .await?
        .secret;
    let admin = admin_svc
        .create_admin_token_cli(None, "bench", None)
        .await?
        .secret;
    let http = reqwest::Client::new();
    let db = PgPool::connect(&url).await?;

    println!("long-poll wake-up, write sent -> waiting reader answered ({samples} samples):");
    for (name, writer, label) in [("same server", &a, "a"), ("other server", &b, "b")] {
        let (l, w) = wake_latency(&http, &a, writer, &token, &admin, samples, label).await?;
        println!(
            "  {name:<13} p50 {:6.1} ms   p99 {:6.1} ms   max {:6.1} ms   (the write's own 201: p50 {:.1} ms)",
            pct(&l, 0.5),
            pct(&l, 0.99),
            l.last().copied().unwrap_or(f64::NAN),
            pct(&w, 0.5),
        );
    }

    let before = read_all(&http, &a, &admin, "0.0", 0).await?.0;
    let load = insert_events(&db, events as i64).await?;
    let (n, took) = read_all(&http, &a, &admin, "0.0", before + events).await?;
    if n < before + events {
        // Printed, not fatal: the other figures still come, and this line says loudly that
        // the feed showed fewer events than the log holds.
        println!(
            "feed: WARNING read {n} events, expected at least {} ({before} before, {events} added)",
            before + events
        );
    }
    println!(
        "feed: {n} events read by one consumer (limit=1000) in {:.2} s: {:.0} events/s \
         (the {events} were written in {:.2} s)",
        took.as_secs_f64(),
        n as f64 / took.as_secs_f64(),
        load.as_secs_f64()
    );

    let hooks = (events / 10).max(1000);
    let (hook_url, received) = receiver().await?;
    let r = http
        .post(format!(
            "{}/v1/tenants/default/realms/default/webhooks",
            a.origin
        ))
        .bearer_auth(&admin)
        .json(&json!({"url": hook_url}))
        .send()
        .await?;
    ensure!(
        r.status().as_u16() == 201,
        "creating the webhook: {}",
        r.text().await?
    );
    insert_events(&db, hooks as i64).await?;
    let t = Instant::now();
    while received.load(Ordering::SeqCst) < hooks {
        ensure!(
            t.elapsed() < Duration::from_secs(600),
            "webhook delivery stalled at {}",
            received.load(Ordering::SeqCst)
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let took = t.elapsed();
    println!(
        "webhook: {hooks} events delivered to one local receiver in {:.2} s: {:.0} events/s \
         (in order, each answered and recorded before the next; two servers sharing the work)",
        took.as_secs_f64(),
        hooks as f64 / took.as_secs_f64()
    );

    prune(&http, &a, &admin_svc, &db, store.clone()).await?;

    for s in [a, b] {
        let _ = s.shutdown.send(());
        let _ = s.task.await;
    }
    Ok(())
}

/// Creates users in `realm` on `server` one after another until `stop`; each one's latency.
async fn write_until(
    http: reqwest::Client,
    origin: String,
    token: String,
    label: &'static str,
    stop: Arc<std::sync::atomic::AtomicBool>,
) -> anyhow::Result<Vec<f64>> {
    let mut out = Vec::new();
    let mut i = 0;
    while !stop.load(Ordering::SeqCst) {
        let t = Instant::now();
        let r = http
            .post(format!(
                "{origin}/v1/tenants/default/realms/prunebench/scim/v2/Users"
            ))
            .bearer_auth(&token)
            .header("content-type", "application/scim+json")
            .body(json!({"userName": format!("{label}.{i}")}).to_string())
            .send()
            .await?;
        ensure!(r.status().as_u16() == 201, "POST answered {}", r.status());
        out.push(t.elapsed().as_secs_f64() * 1000.0);
        i += 1;
    }
    out.sort_by(|a, b| a.total_cmp(b));
    Ok(out)
}

async fn prune(
    http: &reqwest::Client,
    server: &Server,
    admin: &AdminService,
    db: &PgPool,
    store: Arc<dyn scimd::store::Store>,
) -> anyhow::Result<()> {
    let events = env("SCIMD_BENCH_PRUNE_EVENTS", 1_000_000);
    admin.create_realm("default", "prunebench").await?;
    let token = admin
        .create_token("default", "prunebench", "bench", None)
        .await?
        .secret;
    let load = insert_events_into(db, "prunebench", events as i64, 100).await?;
    // Pruning takes the oldest events in log order and stops at the first one still kept;
    // the realm's own creation events come first in that order, so they are made as old as
    // the loaded ones (a real log's times follow its order).
    sqlx::query(
        "UPDATE events SET at = now() - make_interval(days => 100) WHERE realm_id = \
         (SELECT id FROM realms WHERE tenant = 'default' AND name = 'prunebench')",
    )
    .execute(db)
    .await?;
    sqlx::query("ANALYZE events").execute(db).await?;
    let realm = store
        .find_realm("default", "prunebench")
        .await?
        .context("the realm just made")?;

    let baseline = {
        let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let w = tokio::spawn(write_until(
            http.clone(),
            server.origin.clone(),
            token.clone(),
            "before",
            stop.clone(),
        ));
        tokio::time::sleep(Duration::from_secs(3)).await;
        stop.store(true, Ordering::SeqCst);
        w.await??
    };
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let w = tokio::spawn(write_until(
        http.clone(),
        server.origin.clone(),
        token,
        "during",
        stop.clone(),
    ));
    let pruner =
        scimd::service::event_retention::Pruner::new(store, Arc::new(scimd::clock::SystemClock));
    let t = Instant::now();
    let pruned = pruner.prune_realm(&realm).await?;
    let took = t.elapsed();
    stop.store(true, Ordering::SeqCst);
    let during = w.await??;
    ensure!(pruned as usize >= events, "pruned {pruned} of {events}");
    println!(
        "pruning: {pruned} events past a 90-day retention pruned in {:.1} s: {:.0} events/s \
         (batches of {}; the {events} were written in {:.1} s)",
        took.as_secs_f64(),
        pruned as f64 / took.as_secs_f64(),
        scimd::service::event_retention::DEFAULT_BATCH,
        load.as_secs_f64()
    );
    println!(
        "  a writer creating users in the same realm: before p50 {:.1} ms p99 {:.1} ms ({} writes); \
         during p50 {:.1} ms p99 {:.1} ms max {:.1} ms ({} writes)",
        pct(&baseline, 0.5),
        pct(&baseline, 0.99),
        baseline.len(),
        pct(&during, 0.5),
        pct(&during, 0.99),
        during.last().copied().unwrap_or(f64::NAN),
        during.len()
    );
    Ok(())
}
