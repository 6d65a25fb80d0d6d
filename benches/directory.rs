//! Directory-scale latency benchmark (not a test, not part of CI): scimd on PostgreSQL with a
//! large directory, measured through its HTTP API.
//!
//! Run it through `scripts/bench.sh`, which starts a throwaway PostgreSQL 15 cluster and sets
//! `SCIMD_BENCH_POSTGRES_URL`. It prints p50 / p99 latencies for:
//!
//! * (A) the query engine over N users (default 1,000,000): lookups by userName and by work
//!   email, a `sw` prefix search, sorted and unsorted index paging (page 1 and the middle
//!   page), and RFC 9865 cursor paging (first page, a full walk with count=1000, and pages
//!   deep in the list reached by following those cursors);
//! * (B) membership PATCHes on groups of 10, 1,000, 10,000 and 100,000 members, and
//!   `replace members` with a 10,000-member list.
//!
//! Users are bulk-loaded with one `INSERT ... SELECT ... FROM generate_series` per batch, in
//! the row shape scimd itself writes; a user created through the API is compared with the
//! generator's row for the same number first, so the load is what the server would have
//! written. Latencies are client-side (reqwest over loopback to an in-process server), one
//! request at a time.
//!
//! Knobs (environment, or `-- --users N --samples N --only query,cursor,members`):
//!   SCIMD_BENCH_POSTGRES_URL   database to use; must hold no resources (required)
//!   SCIMD_BENCH_USERS          users to load (default 1000000)
//!   SCIMD_BENCH_SAMPLES        samples per query scenario (default 200); membership
//!                              scenarios take half of it (default 100)
//!   SCIMD_BENCH_REPLACE_SAMPLES  samples of `replace members` with 10,000 (default 5)
//!   SCIMD_BENCH_BUDGET_SECS    wall-clock cap per scenario; sampling stops early (and the
//!                              table says how many samples were taken) (default 180)
//!   SCIMD_BENCH_WALK_BUDGET_SECS  cap on the full cursor walk (default 3600)
//!   SCIMD_BENCH_ONLY           comma-separated parts to run: query, cursor, members

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, ensure, Context};
use percent_encoding::{utf8_percent_encode, NON_ALPHANUMERIC};
use rand::seq::SliceRandom;
use rand::Rng;
use serde_json::{json, Value};
use sqlx::postgres::{PgPool, PgPoolOptions};
use sqlx::Row;

use scimd::config::Config;
use scimd::service::admin::AdminService;

/// Rows per bulk INSERT: one progress line each.
const LOAD_BATCH: i64 = 50_000;

/// The generated user number `g`, as the columns scimd writes (shared with loadbench.py).
/// `$1` is `g` in the probe query; in the bulk load the same text runs LATERAL over
/// `generate_series`.
const USER_COLUMNS: &str = include_str!("sql/user_row.postgres.sql");

struct Opts {
    url: String,
    users: i64,
    samples: usize,
    replace_samples: usize,
    budget: Duration,
    walk_budget: Duration,
    only: Vec<String>,
}

fn env_num<T: std::str::FromStr>(name: &str, default: T) -> anyhow::Result<T> {
    match std::env::var(name) {
        Ok(v) if !v.trim().is_empty() => v
            .trim()
            .replace('_', "")
            .parse()
            .map_err(|_| anyhow::anyhow!("{name}={v} is not a number")),
        _ => Ok(default),
    }
}

fn parts(s: &str) -> Vec<String> {
    s.split(',')
        .map(|p| p.trim().to_ascii_lowercase())
        .filter(|p| !p.is_empty())
        .collect()
}

impl Opts {
    fn runs(&self, part: &str) -> bool {
        self.only.is_empty() || self.only.iter().any(|p| p == part)
    }
}

fn opts() -> anyhow::Result<Opts> {
    let url = std::env::var("SCIMD_BENCH_POSTGRES_URL").unwrap_or_default();
    if url.is_empty() {
        bail!(
            "SCIMD_BENCH_POSTGRES_URL is not set. Run the benchmark through scripts/bench.sh, \
             which starts a throwaway PostgreSQL cluster for it."
        );
    }
    let mut o = Opts {
        url,
        users: env_num("SCIMD_BENCH_USERS", 1_000_000)?,
        samples: env_num("SCIMD_BENCH_SAMPLES", 200)?,
        replace_samples: env_num("SCIMD_BENCH_REPLACE_SAMPLES", 5)?,
        budget: Duration::from_secs(env_num("SCIMD_BENCH_BUDGET_SECS", 180)?),
        walk_budget: Duration::from_secs(env_num("SCIMD_BENCH_WALK_BUDGET_SECS", 3600)?),
        only: parts(&std::env::var("SCIMD_BENCH_ONLY").unwrap_or_default()),
    };
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        let mut val = |what: &str| {
            args.next()
                .ok_or_else(|| anyhow::anyhow!("{what} needs a value"))
        };
        match a.as_str() {
            // cargo bench passes --bench to every bench binary.
            "--bench" => {}
            "--users" => o.users = val("--users")?.replace('_', "").parse()?,
            "--samples" => o.samples = val("--samples")?.parse()?,
            "--only" => o.only = parts(&val("--only")?),
            other => bail!(
                "unknown argument {other} (known: --users N --samples N --only query,cursor,members)"
            ),
        }
    }
    ensure!(o.users >= 5_000, "use at least 5000 users");
    ensure!(o.samples >= 2, "use at least 2 samples");
    for p in &o.only {
        ensure!(
            ["query", "cursor", "members"].contains(&p.as_str()),
            "--only takes a comma-separated list of query, cursor, members"
        );
    }
    Ok(o)
}

// --- results -----------------------------------------------------------------------------

struct Row_ {
    section: &'static str,
    name: String,
    samples: Vec<f64>,
    errors: usize,
    note: String,
}

#[derive(Default)]
struct Report {
    rows: Vec<Row_>,
}

fn percentile(sorted: &[f64], q: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    // Nearest rank.
    let rank = (q * sorted.len() as f64).ceil().max(1.0) as usize;
    sorted[rank.min(sorted.len()) - 1]
}

impl Report {
    fn add(
        &mut self,
        section: &'static str,
        name: impl Into<String>,
        samples: Vec<f64>,
        note: impl Into<String>,
    ) {
        self.add_with_errors(section, name, samples, 0, note)
    }

    fn add_with_errors(
        &mut self,
        section: &'static str,
        name: impl Into<String>,
        samples: Vec<f64>,
        errors: usize,
        note: impl Into<String>,
    ) {
        let row = Row_ {
            section,
            name: name.into(),
            samples,
            errors,
            note: note.into(),
        };
        println!("  -> {}", Self::line(&row, 0));
        self.rows.push(row);
    }

    fn line(r: &Row_, width: usize) -> String {
        let mut s = r.samples.clone();
        s.sort_by(|a, b| a.total_cmp(b));
        let mut line = format!(
            "{:<width$} | {:>7} | {:>9.2} | {:>9.2} | {:>9.2}",
            r.name,
            s.len(),
            percentile(&s, 0.50),
            percentile(&s, 0.99),
            s.last().copied().unwrap_or(f64::NAN),
        );
        if r.errors > 0 {
            line.push_str(&format!(" | {} ERRORS", r.errors));
        }
        if !r.note.is_empty() {
            line.push_str(&format!("  ({})", r.note));
        }
        line
    }

    fn print(&self) {
        let width = self
            .rows
            .iter()
            .map(|r| r.name.len())
            .max()
            .unwrap_or(10)
            .max(8);
        let header = format!(
            "{:<width$} | {:>7} | {:>9} | {:>9} | {:>9}",
            "scenario", "samples", "p50 ms", "p99 ms", "max ms"
        );
        let mut section = "";
        println!("\n{header}");
        println!("{}", "-".repeat(header.len()));
        for r in &self.rows {
            if r.section != section {
                section = r.section;
                println!("[{section}]");
            }
            println!("{}", Self::line(r, width));
        }
    }
}

// --- HTTP --------------------------------------------------------------------------------

struct Api {
    client: reqwest::Client,
    base: String,
    token: String,
}

fn enc(s: &str) -> String {
    utf8_percent_encode(s, NON_ALPHANUMERIC).to_string()
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

impl Api {
    /// Sends one request; returns (status, body, elapsed ms). The body is read in full
    /// inside the timed span, as a client would.
    async fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<&Value>,
    ) -> anyhow::Result<(u16, Value, f64)> {
        let mut req = self
            .client
            .request(method, format!("{}{path}", self.base))
            .bearer_auth(&self.token);
        let payload = body.map(|b| b.to_string());
        if let Some(p) = payload {
            req = req.header("content-type", "application/scim+json").body(p);
        }
        let t = Instant::now();
        let resp = req.send().await.context("sending request")?;
        let status = resp.status().as_u16();
        let bytes = resp.bytes().await.context("reading response")?;
        let elapsed = ms(t.elapsed());
        let v = if bytes.is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(&bytes)
                .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into_owned()))
        };
        Ok((status, v, elapsed))
    }

    async fn ok(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<&Value>,
    ) -> anyhow::Result<(Value, f64)> {
        let (status, v, t) = self.call(method.clone(), path, body).await?;
        ensure!(
            (200..300).contains(&status),
            "{method} {path} answered {status}: {}",
            truncate(&v.to_string(), 600)
        );
        Ok((v, t))
    }

    async fn patch(&self, path: &str, ops: Value) -> anyhow::Result<f64> {
        let body = json!({
            "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
            "Operations": ops,
        });
        Ok(self.ok(reqwest::Method::PATCH, path, Some(&body)).await?.1)
    }
}

fn truncate(s: &str, n: usize) -> String {
    if s.len() <= n {
        s.to_owned()
    } else {
        let mut end = n;
        while !s.is_char_boundary(end) {
            end -= 1;
        }
        format!("{}…", &s[..end])
    }
}

/// Runs `f` for each target, sequentially, until the targets or the time budget run out.
/// `f` returns the request latency in ms, or an error that counts as a failed sample.
async fn sample<T, F, Fut>(budget: Duration, targets: &[T], mut f: F) -> (Vec<f64>, usize, bool)
where
    F: FnMut(&T) -> Fut,
    Fut: std::future::Future<Output = anyhow::Result<f64>>,
{
    let start = Instant::now();
    let mut out = Vec::with_capacity(targets.len());
    let mut errors = 0;
    let mut cut = false;
    for (i, t) in targets.iter().enumerate() {
        if i >= 2 && start.elapsed() > budget {
            cut = true;
            break;
        }
        match f(t).await {
            Ok(v) => out.push(v),
            Err(e) => {
                errors += 1;
                if errors <= 3 {
                    eprintln!("     sample failed: {e:#}");
                }
            }
        }
    }
    (out, errors, cut)
}

fn budget_note(cut: bool, budget: Duration) -> String {
    if cut {
        format!("stopped at the {}s budget", budget.as_secs())
    } else {
        String::new()
    }
}

// --- machine facts -----------------------------------------------------------------------

fn machine_facts() -> String {
    let cpus = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(0);
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let model = cpuinfo
        .lines()
        .find(|l| l.starts_with("model name"))
        .and_then(|l| l.split_once(':'))
        .map(|(_, m)| m.trim().to_owned())
        .unwrap_or_else(|| "unknown CPU".into());
    let meminfo = std::fs::read_to_string("/proc/meminfo").unwrap_or_default();
    let mem_gib = meminfo
        .lines()
        .find(|l| l.starts_with("MemTotal:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|kb| kb.parse::<f64>().ok())
        .map(|kb| kb / 1024.0 / 1024.0)
        .unwrap_or(f64::NAN);
    format!("nproc {cpus} ({model}), memory {mem_gib:.1} GiB")
}

/// The 1/5/15-minute load averages: the machine may be shared, and other work skews latency.
fn loadavg() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .map(|l| l.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|| "unknown".into())
}

// --- setup -------------------------------------------------------------------------------

struct Server {
    api: Api,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    task: tokio::task::JoinHandle<anyhow::Result<()>>,
}

async fn start_server(url: &str) -> anyhow::Result<Server> {
    let cfg = Config {
        database_url: url.to_owned(),
        database_max_connections: 16,
        shutdown_grace_seconds: 5,
        // One client sending back to back is not what the rate limits are for; and slow
        // requests are measured, not cut off at the default 30 s deadline.
        rate_limit_token_per_second: 0,
        rate_limit_realm_per_second: 0,
        request_timeout_seconds: 600,
        ..Config::default()
    };
    // Migrates; then the default tenant, realm and a token, as the tests do.
    let store = scimd::app::open_store(&cfg)
        .await
        .context("opening the store")?;
    let admin = AdminService::new(
        store as Arc<dyn scimd::store::Store>,
        Arc::new(scimd::clock::SystemClock),
    );
    let token = admin
        .create_token("default", "default", "bench", None)
        .await
        .context("creating a token")?
        .secret;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(scimd::app::serve(cfg, listener, async move {
        let _ = rx.await;
    }));
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(600))
        .build()?;
    Ok(Server {
        api: Api {
            client,
            base: format!("http://{addr}/v1/tenants/default/realms/default/scim/v2"),
            token,
        },
        shutdown: Some(tx),
        task,
    })
}

async fn realm_id(db: &PgPool) -> anyhow::Result<String> {
    Ok(sqlx::query_scalar(
        "SELECT CAST(id AS text) FROM realms WHERE tenant = 'default' AND name = 'default'",
    )
    .fetch_one(db)
    .await?)
}

async fn load_users(db: &PgPool, realm: &str, users: i64) -> anyhow::Result<Duration> {
    println!("\n== Loading {users} users (INSERT ... SELECT FROM generate_series, {LOAD_BATCH} rows per statement)");
    let sql = format!(
        "INSERT INTO resources (id, realm_id, kind, name, name_ci, external_id, data, \
         password_hash, version, created, last_modified) \
         SELECT gen_random_uuid(), CAST($1 AS uuid), 'User', u.user_name, lower(u.user_name), \
                u.external_id, u.data, NULL, 1, u.ts, u.ts \
         FROM generate_series($2::bigint, $3::bigint) AS s(g), LATERAL ({USER_COLUMNS}) u"
    );
    let start = Instant::now();
    let mut done = 0i64;
    while done < users {
        let hi = (done + LOAD_BATCH).min(users);
        sqlx::query(&sql)
            .bind(realm)
            .bind(done + 1)
            .bind(hi)
            .execute(db)
            .await
            .with_context(|| format!("loading users {}..{hi}", done + 1))?;
        done = hi;
        let el = start.elapsed().as_secs_f64();
        println!(
            "   {done:>9} / {users} users  {el:>7.1} s elapsed  {:>8.0} rows/s",
            done as f64 / el
        );
    }
    let inserted = start.elapsed();
    let t = Instant::now();
    // A bulk-loaded table is what autovacuum would visit next; do it now so plans and the
    // visibility map are those of a settled table, not of a half-vacuumed one mid-run.
    sqlx::query("VACUUM (ANALYZE) resources")
        .execute(db)
        .await?;
    println!(
        "   inserted in {:.1} s; VACUUM (ANALYZE) resources took {:.1} s",
        inserted.as_secs_f64(),
        t.elapsed().as_secs_f64()
    );
    Ok(inserted)
}

/// The generator's row for `g`, created through the API and compared with what the generator
/// writes; then a few bulk-loaded users read back through the API.
async fn verify_load(db: &PgPool, api: &Api, users: i64) -> anyhow::Result<()> {
    let g = users + 1;
    let row = sqlx::query(&format!(
        "SELECT u.user_name, u.external_id, u.data::text AS data FROM (SELECT $1::bigint AS g) s, \
         LATERAL ({USER_COLUMNS}) u"
    ))
    .bind(g)
    .fetch_one(db)
    .await?;
    let generated: String = row.get("data");
    let mut body: Value = serde_json::from_str(&generated)?;
    body["schemas"] = json!(["urn:ietf:params:scim:schemas:core:2.0:User"]);
    body["externalId"] = Value::String(row.get("external_id"));
    let (created, _) = api.ok(reqwest::Method::POST, "/Users", Some(&body)).await?;
    let id = created["id"]
        .as_str()
        .context("created user has no id")?
        .to_owned();
    let stored = sqlx::query(
        "SELECT data = $2::jsonb AS same, data::text AS data, name, name_ci, external_id, \
                version, to_char(created AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"') \
                AS created, kind FROM resources WHERE id = CAST($1 AS uuid)",
    )
    .bind(&id)
    .bind(&generated)
    .fetch_one(db)
    .await?;
    let same: bool = stored.get("same");
    let stored_data: String = stored.get("data");
    ensure!(
        same,
        "the generator's row differs from what scimd writes for the same user:\n  scimd:     {stored_data}\n  generator: {generated}"
    );
    let created_ts: String = stored.get("created");
    ensure!(
        created_ts.len() == "2026-11-23T20:34:39.123Z".len() && created_ts.ends_with('Z'),
        "unexpected timestamp shape {created_ts}"
    );
    ensure!(stored.get::<String, _>("name") == row.get::<String, _>("user_name"));
    ensure!(stored.get::<String, _>("name_ci") == row.get::<String, _>("user_name").to_lowercase());
    ensure!(stored.get::<i64, _>("version") == 1);
    api.ok(reqwest::Method::DELETE, &format!("/Users/{id}"), None)
        .await?;
    println!(
        "   probe: a user created through the API is stored exactly as the generator writes it"
    );

    let picks = sqlx::query(
        "SELECT CAST(id AS text) AS id, name, external_id, data->'emails'->0->>'value' AS work \
         FROM resources \
         WHERE kind = 'User' ORDER BY random() LIMIT 5",
    )
    .fetch_all(db)
    .await?;
    for p in picks {
        let id: String = p.get("id");
        let (u, _) = api
            .ok(reqwest::Method::GET, &format!("/Users/{id}"), None)
            .await?;
        ensure!(
            u["userName"] == Value::String(p.get("name")),
            "GET {id}: {u}"
        );
        ensure!(
            u["externalId"] == Value::String(p.get("external_id")),
            "GET {id}: {u}"
        );
        ensure!(
            u["emails"][0]["value"] == Value::String(p.get("work")),
            "GET {id}: {u}"
        );
        ensure!(u["emails"][0]["type"] == "work", "GET {id}: {u}");
        ensure!(
            u["meta"]["version"].is_string() || u["meta"].is_object(),
            "GET {id}: {u}"
        );
    }
    let (list, _) = api.ok(reqwest::Method::GET, "/Users?count=1", None).await?;
    ensure!(
        list["totalResults"] == json!(users),
        "GET /Users totalResults {} but {users} users were loaded",
        list["totalResults"]
    );
    println!("   5 random loaded users read back through the API; totalResults = {users}");
    Ok(())
}

// --- (A) query engine --------------------------------------------------------------------

fn list_check(v: &Value, want_items: Option<usize>, want_total: Option<i64>) -> anyhow::Result<()> {
    let items = v["Resources"].as_array().map(Vec::len).unwrap_or(0);
    if let Some(n) = want_items {
        ensure!(
            items == n,
            "expected {n} resources, got {items}: {}",
            truncate(&v.to_string(), 300)
        );
    }
    if let Some(t) = want_total {
        ensure!(
            v["totalResults"] == json!(t),
            "expected totalResults {t}, got {}",
            v["totalResults"]
        );
    }
    Ok(())
}

async fn bench_queries(o: &Opts, db: &PgPool, api: &Api, rep: &mut Report) -> anyhow::Result<()> {
    const S: &str = "A. query engine";
    let n = o.users;
    println!(
        "\n== (A) Query engine over {n} users, {} samples per scenario (load average {})",
        o.samples,
        loadavg()
    );
    let targets = sqlx::query(
        "SELECT CAST(id AS text) AS id, name, data->'emails'->0->>'value' AS work FROM resources \
         WHERE kind = 'User' ORDER BY random() LIMIT $1",
    )
    .bind(o.samples as i64)
    .fetch_all(db)
    .await?;
    let targets: Vec<(String, String, String)> = targets
        .iter()
        .map(|r| (r.get("id"), r.get("name"), r.get("work")))
        .collect();

    let (s, e, cut) = sample(o.budget, &targets, |(id, name, _)| {
        let path = format!("/Users/{id}");
        let name = name.clone();
        async move {
            let (v, t) = api.ok(reqwest::Method::GET, &path, None).await?;
            ensure!(v["userName"] == Value::String(name));
            Ok(t)
        }
    })
    .await;
    rep.add_with_errors(
        S,
        "GET /Users/{id} (baseline)",
        s,
        e,
        budget_note(cut, o.budget),
    );

    let (s, e, cut) = sample(o.budget, &targets, |(_, name, _)| {
        let path = format!("/Users?filter={}", enc(&format!("userName eq \"{name}\"")));
        async move {
            let (v, t) = api.ok(reqwest::Method::GET, &path, None).await?;
            list_check(&v, Some(1), Some(1))?;
            Ok(t)
        }
    })
    .await;
    rep.add_with_errors(
        S,
        "filter userName eq <existing>",
        s,
        e,
        budget_note(cut, o.budget),
    );

    let (s, e, cut) = sample(o.budget, &targets, |(_, _, work)| {
        let path = format!(
            "/Users?filter={}",
            enc(&format!("emails[type eq \"work\"].value eq \"{work}\""))
        );
        async move {
            let (v, t) = api.ok(reqwest::Method::GET, &path, None).await?;
            list_check(&v, Some(1), Some(1))?;
            Ok(t)
        }
    })
    .await;
    rep.add_with_errors(
        S,
        "filter emails[type eq \"work\"].value eq <existing>",
        s,
        e,
        budget_note(cut, o.budget),
    );

    let matched = std::cell::RefCell::new(Vec::new());
    let (s, e, cut) = sample(o.budget, &targets, |(_, name, _)| {
        let prefix: String = name.chars().take(4).collect();
        let path = format!(
            "/Users?filter={}&count=10",
            enc(&format!("userName sw \"{prefix}\""))
        );
        let matched = &matched;
        async move {
            let (v, t) = api.ok(reqwest::Method::GET, &path, None).await?;
            let total = v["totalResults"].as_i64().unwrap_or(0);
            ensure!(total >= 1, "no match for {prefix}");
            matched.borrow_mut().push(total);
            Ok(t)
        }
    })
    .await;
    let mut matched = matched.into_inner();
    matched.sort();
    let note = format!(
        "matches per prefix: median {}, max {}{}",
        matched.get(matched.len() / 2).copied().unwrap_or(0),
        matched.last().copied().unwrap_or(0),
        if cut {
            format!("; stopped at the {}s budget", o.budget.as_secs())
        } else {
            String::new()
        }
    );
    rep.add_with_errors(
        S,
        "filter userName sw <random 4-char prefix> count=10",
        s,
        e,
        note,
    );

    // Index paging: page 1 and the middle page (page 5,000 of 10,000 at 1M users).
    let mid_start = (n / 2 / 100 - 1) * 100 + 1;
    let mid_page = mid_start / 100 + 1;
    let reps: Vec<usize> = (0..o.samples).collect();
    for (label, path, items) in [
        (
            "sorted page 1: sortBy=userName count=100 startIndex=1".to_owned(),
            "/Users?sortBy=userName&count=100&startIndex=1".to_owned(),
            100usize,
        ),
        (
            format!("sorted page {mid_page}: sortBy=userName count=100 startIndex={mid_start}"),
            format!("/Users?sortBy=userName&count=100&startIndex={mid_start}"),
            100,
        ),
        (
            "unsorted page 1: count=100 startIndex=1".to_owned(),
            "/Users?count=100&startIndex=1".to_owned(),
            100,
        ),
        (
            format!("unsorted page {mid_page}: count=100 startIndex={mid_start}"),
            format!("/Users?count=100&startIndex={mid_start}"),
            100,
        ),
        (
            "cursor first page: cursor= sortBy=userName count=100".to_owned(),
            "/Users?cursor=&sortBy=userName&count=100".to_owned(),
            100,
        ),
    ] {
        let (s, e, cut) = sample(o.budget, &reps, |_| {
            let path = path.clone();
            async move {
                let (v, t) = api.ok(reqwest::Method::GET, &path, None).await?;
                list_check(&v, Some(items), Some(n))?;
                Ok(t)
            }
        })
        .await;
        rep.add_with_errors(S, label, s, e, budget_note(cut, o.budget));
    }

    // Every list response carries totalResults: how much of a page's latency is the count?
    let realm = realm_id(db).await?;
    let reps20: Vec<usize> = (0..20).collect();
    let (s, e, _) = sample(o.budget, &reps20, |_| {
        let realm = realm.clone();
        async move {
            let t = Instant::now();
            let c: i64 = sqlx::query_scalar(
                "SELECT COUNT(*) AS n FROM resources WHERE realm_id = CAST($1 AS uuid) AND kind = $2",
            )
            .bind(&realm)
            .bind("User")
            .fetch_one(db)
            .await?;
            ensure!(c == n);
            Ok(ms(t.elapsed()))
        }
    })
    .await;
    rep.add_with_errors(
        S,
        "  (direct SQL, no API) COUNT(*) of the realm's users",
        s,
        e,
        "what every unfiltered list pays for totalResults",
    );

    Ok(())
}

/// RFC 9865 cursors: a walk over the whole list with count=1000 (the largest page), following
/// nextCursor, then count=100 pages reached from cursors the walk met in the middle of the
/// list and in its last tenth (cursors are signed: the only honest way to one is paging).
async fn bench_cursors(o: &Opts, api: &Api, rep: &mut Report) -> anyhow::Result<()> {
    const S: &str = "A. query engine";
    let n = o.users;
    println!(
        "\n== (A) Cursor walk over {n} users: sortBy=userName count=1000, every page (load average {})",
        loadavg()
    );
    let start = Instant::now();
    let mut walk = Vec::new();
    let mut mid: Vec<(i64, String)> = Vec::new();
    let mut end: Vec<(i64, String)> = Vec::new();
    let mut seen = 0i64;
    let mut path = "/Users?cursor=&sortBy=userName&count=1000".to_owned();
    let mut walk_cut = false;
    let mut last_name = String::new();
    let (mid_lo, mid_hi) = (n / 2 - n / 50, n / 2 + n / 50);
    loop {
        let (v, t) = api.ok(reqwest::Method::GET, &path, None).await?;
        walk.push(t);
        let items = v["Resources"].as_array().cloned().unwrap_or_default();
        ensure!(
            v["totalResults"] == json!(n),
            "walk: totalResults {}",
            v["totalResults"]
        );
        for r in &items {
            let name = r["userName"].as_str().unwrap_or_default().to_lowercase();
            ensure!(
                name > last_name,
                "cursor walk out of order at {seen}: {name} after {last_name}"
            );
            last_name = name;
        }
        seen += items.len() as i64;
        if walk.len() % 50 == 0 {
            let mut recent = walk[walk.len() - 50..].to_vec();
            recent.sort_by(|a, b| a.total_cmp(b));
            println!(
                "     {:>4} pages, {seen:>7} users, {:>5.0} s; last 50 pages p50 {:.0} ms (load average {})",
                walk.len(),
                start.elapsed().as_secs_f64(),
                percentile(&recent, 0.5),
                loadavg()
            );
        }
        let Some(next) = v["nextCursor"].as_str() else {
            break;
        };
        if (mid_lo..=mid_hi).contains(&seen) {
            mid.push((seen, next.to_owned()));
        }
        if seen >= n - n / 10 {
            end.push((seen, next.to_owned()));
        }
        path = format!("/Users?cursor={}&sortBy=userName&count=1000", enc(next));
        if start.elapsed() > o.walk_budget {
            walk_cut = true;
            break;
        }
    }
    let walk_secs = start.elapsed().as_secs_f64();
    if !walk_cut {
        ensure!(seen == n, "cursor walk saw {seen} users, expected {n}");
    }
    // The walk's pages by depth: the first and the last 100.
    let k = 100.min(walk.len());
    let first: Vec<f64> = walk[..k].to_vec();
    let last: Vec<f64> = walk[walk.len() - k..].to_vec();
    rep.add(
        S,
        "cursor walk, every page: sortBy=userName count=1000",
        walk,
        format!(
            "{seen} users in {walk_secs:.0} s{}",
            if walk_cut {
                format!("; STOPPED at the {} s walk budget", o.walk_budget.as_secs())
            } else {
                String::new()
            }
        ),
    );
    rep.add(S, "  cursor walk, its first 100 pages", first, "");
    rep.add(S, "  cursor walk, its last 100 pages", last, "");

    for (label, band) in [
        ("cursor page from the middle: count=100, ~50% deep", mid),
        ("cursor page near the end: count=100, 90%+ deep", end),
    ] {
        if band.is_empty() {
            println!("   no cursors collected for \"{label}\"; skipped");
            continue;
        }
        let mut rng = rand::thread_rng();
        let picks: Vec<(i64, String)> = (0..o.samples)
            .map(|_| band[rng.gen_range(0..band.len())].clone())
            .collect();
        let (lo, hi) = (band[0].0, band[band.len() - 1].0);
        let (s, e, cut) = sample(o.budget, &picks, |(_, c)| {
            let path = format!("/Users?cursor={}&sortBy=userName&count=100", enc(c));
            async move {
                let (v, t) = api.ok(reqwest::Method::GET, &path, None).await?;
                list_check(&v, Some(100), Some(n))?;
                Ok(t)
            }
        })
        .await;
        rep.add_with_errors(
            S,
            label,
            s,
            e,
            format!(
                "cursors the walk met after users {lo}..{hi}, picked at random{}",
                if cut {
                    format!("; stopped at the {}s budget", o.budget.as_secs())
                } else {
                    String::new()
                }
            ),
        );
    }
    Ok(())
}

// --- (B) membership ----------------------------------------------------------------------

async fn create_group(api: &Api, name: &str) -> anyhow::Result<String> {
    let (g, _) = api
        .ok(
            reqwest::Method::POST,
            "/Groups",
            Some(&json!({
                "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"],
                "displayName": name,
            })),
        )
        .await?;
    Ok(g["id"].as_str().context("group id")?.to_owned())
}

async fn load_members(db: &PgPool, group: &str, ids: &[String]) -> anyhow::Result<()> {
    for chunk in ids.chunks(50_000) {
        sqlx::query(
            "INSERT INTO members (realm_id, group_id, member_id) \
             SELECT realm_id, id, unnest($2::uuid[]) FROM resources WHERE id = CAST($1 AS uuid)",
        )
        .bind(group)
        .bind(chunk)
        .execute(db)
        .await?;
    }
    Ok(())
}

async fn member_count(db: &PgPool, group: &str) -> anyhow::Result<i64> {
    Ok(
        sqlx::query_scalar("SELECT count(*) FROM members WHERE group_id = CAST($1 AS uuid)")
            .bind(group)
            .fetch_one(db)
            .await?,
    )
}

/// PATCH answers with the group; when it has at most 1,000 members (after the change) the
/// response lists them all.
fn member_note(size: usize, cut: bool, budget: Duration) -> String {
    let mut n = String::new();
    if size <= 1000 {
        n.push_str("response lists all members");
    }
    let b = budget_note(cut, budget);
    if !b.is_empty() {
        if !n.is_empty() {
            n.push_str("; ");
        }
        n.push_str(&b);
    }
    n
}

fn add_ops(id: &str) -> Value {
    json!([{"op": "add", "path": "members", "value": [{"value": id}]}])
}

fn remove_filter_ops(id: &str) -> Value {
    json!([{"op": "remove", "path": format!("members[value eq \"{id}\"]")}])
}

fn remove_entra_ops(id: &str) -> Value {
    json!([{"op": "remove", "path": "members", "value": [{"value": id}]}])
}

fn replace_ops(ids: &[String]) -> Value {
    let v: Vec<Value> = ids.iter().map(|i| json!({"value": i})).collect();
    json!([{"op": "replace", "path": "members", "value": v}])
}

async fn bench_members(o: &Opts, db: &PgPool, api: &Api, rep: &mut Report) -> anyhow::Result<()> {
    const S: &str = "B. membership";
    let samples = (o.samples / 2).max(2);
    println!(
        "\n== (B) Membership PATCH, {samples} samples per scenario (load average {})",
        loadavg()
    );
    let ids: Vec<String> = sqlx::query_scalar(
        "SELECT CAST(id AS text) FROM resources WHERE kind = 'User' ORDER BY id",
    )
    .fetch_all(db)
    .await?;
    ensure!(ids.len() as i64 >= 5_000, "too few users");
    // Members come from the front of the id order; users added come from the last 1,000,
    // which no group holds.
    let tail = &ids[ids.len() - 1000..];
    let cap = ids.len() - 2000;
    let mut rng = rand::thread_rng();
    let mut sizes: Vec<usize> = [10usize, 1_000, 10_000, 100_000]
        .iter()
        .map(|&s| s.min(cap))
        .collect();
    sizes.dedup();
    let mut groups = Vec::new();
    for &size in &sizes {
        let gid = create_group(api, &format!("bench-{size}")).await?;
        let t = Instant::now();
        load_members(db, &gid, &ids[..size]).await?;
        println!(
            "   group bench-{size}: {size} members inserted in {:.1} s",
            t.elapsed().as_secs_f64()
        );
        groups.push((size, gid));
    }
    sqlx::query("ANALYZE members").execute(db).await?;
    for (size, gid) in &groups {
        ensure!(member_count(db, gid).await? == *size as i64);
        if *size <= 1000 {
            let (g, _) = api
                .ok(
                    reqwest::Method::GET,
                    &format!("/Groups/{gid}?attributes=members"),
                    None,
                )
                .await?;
            let got = g["members"].as_array().map(Vec::len).unwrap_or(0);
            ensure!(got == *size, "GET group bench-{size} shows {got} members");
        }
    }
    println!("   member counts verified (through the API for groups of up to 1,000)");

    for (gi, (size, gid)) in groups.iter().enumerate() {
        let path = format!("/Groups/{gid}");
        // Each measured change is undone (untimed, through the API) so every sample sees a
        // group of `size` members.
        let adds: Vec<String> = tail
            .iter()
            .cycle()
            .skip(gi * 200)
            .take(samples)
            .cloned()
            .collect();
        let (s, e, cut) = sample(o.budget, &adds, |id| {
            let path = path.clone();
            let id = id.clone();
            async move {
                let t = api.patch(&path, add_ops(&id)).await?;
                api.patch(&path, remove_entra_ops(&id)).await?;
                Ok(t)
            }
        })
        .await;
        rep.add_with_errors(
            S,
            format!("{size:>7} members: add 1 member"),
            s,
            e,
            member_note(size + 1, cut, o.budget),
        );

        let mut victims: Vec<String> = ids[..*size].to_vec();
        victims.shuffle(&mut rng);
        let victims: Vec<String> = victims.into_iter().cycle().take(samples * 2).collect();
        let (first, second) = victims.split_at(samples);
        let (s, e, cut) = sample(o.budget, first, |id| {
            let path = path.clone();
            let id = id.clone();
            async move {
                let t = api.patch(&path, remove_filter_ops(&id)).await?;
                api.patch(&path, add_ops(&id)).await?;
                Ok(t)
            }
        })
        .await;
        rep.add_with_errors(
            S,
            format!("{size:>7} members: remove members[value eq \"id\"]"),
            s,
            e,
            member_note(size - 1, cut, o.budget),
        );
        let (s, e, cut) = sample(o.budget, second, |id| {
            let path = path.clone();
            let id = id.clone();
            async move {
                let t = api.patch(&path, remove_entra_ops(&id)).await?;
                api.patch(&path, add_ops(&id)).await?;
                Ok(t)
            }
        })
        .await;
        rep.add_with_errors(
            S,
            format!("{size:>7} members: remove (Entra: path members, value [id])"),
            s,
            e,
            member_note(size - 1, cut, o.budget),
        );
        let now = member_count(db, gid).await?;
        ensure!(
            now == *size as i64,
            "group bench-{size} has {now} members after the runs"
        );
    }

    // replace members with a 10,000-member list, alternating two disjoint lists so each
    // sample removes 10,000 rows and adds 10,000.
    let r = 10_000usize.min(ids.len() / 2);
    let list_a = &ids[..r];
    let list_b = &ids[r..2 * r];
    let gid = create_group(api, "bench-replace").await?;
    load_members(db, &gid, list_a).await?;
    sqlx::query("ANALYZE members").execute(db).await?;
    let path = format!("/Groups/{gid}");
    let reps: Vec<usize> = (0..o.replace_samples.max(1)).collect();
    let body_kib = replace_ops(list_b).to_string().len() / 1024;
    let (s, e, cut) = sample(o.budget, &reps, |i| {
        let path = path.clone();
        let list = if i % 2 == 0 { list_b } else { list_a };
        async move { api.patch(&path, replace_ops(list)).await }
    })
    .await;
    let now = member_count(db, &gid).await?;
    ensure!(
        now == r as i64,
        "bench-replace has {now} members, expected {r}"
    );
    rep.add_with_errors(
        S,
        format!("replace members: {r} -> {r} (disjoint lists)"),
        s,
        e,
        format!(
            "body {body_kib} KiB{}",
            if cut {
                format!("; stopped at the {}s budget", o.budget.as_secs())
            } else {
                String::new()
            }
        ),
    );

    // Once, on the largest group: replace its members with a 10,000 list.
    if let Some((size, gid)) = groups.last() {
        if *size > r {
            let t = api
                .patch(&format!("/Groups/{gid}"), replace_ops(list_b))
                .await?;
            let now = member_count(db, gid).await?;
            ensure!(
                now == r as i64,
                "bench-{size} has {now} members after replace"
            );
            rep.add(
                S,
                format!("replace members: {size} -> {r}"),
                vec![t],
                "one sample: it shrinks the group",
            );
        }
    }
    Ok(())
}

// --- main --------------------------------------------------------------------------------

async fn run(o: Opts) -> anyhow::Result<()> {
    println!("scimd directory benchmark");
    println!(
        "  date:     {}",
        chrono::Utc::now().format("%Y-%m-%d %H:%M:%S UTC")
    );
    println!("  machine:  {}", machine_facts());
    println!("  load average at start: {}", loadavg());
    let db = PgPoolOptions::new()
        .max_connections(2)
        .connect(&o.url)
        .await
        .context("connecting to SCIMD_BENCH_POSTGRES_URL")?;
    let version: String = sqlx::query_scalar("SELECT version()")
        .fetch_one(&db)
        .await?;
    let settings: Vec<(String, String)> = sqlx::query_as(
        "SELECT name, setting || COALESCE(unit, '') FROM pg_settings WHERE name IN \
         ('shared_buffers', 'fsync', 'synchronous_commit', 'work_mem', 'effective_cache_size', \
          'max_parallel_workers_per_gather') ORDER BY name",
    )
    .fetch_all(&db)
    .await?;
    println!("  database: {version}");
    println!(
        "            {}",
        settings
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join(" ")
    );
    println!(
        "  users:    {}   samples: {} (membership {})   budget per scenario: {} s",
        o.users,
        o.samples,
        (o.samples / 2).max(2),
        o.budget.as_secs()
    );
    println!(
        "  server:   in-process, rate limits off, request deadline 600 s (default 30 s), \
         16 database connections"
    );

    let server = start_server(&o.url).await?;
    let api = &server.api;
    let existing: i64 = sqlx::query_scalar("SELECT count(*) FROM resources")
        .fetch_one(&db)
        .await?;
    ensure!(
        existing == 0,
        "the benchmark database already holds {existing} resources; it needs an empty one \
         (scripts/bench.sh makes a fresh cluster every run)"
    );
    let realm = realm_id(&db).await?;
    let total = Instant::now();
    let loaded = load_users(&db, &realm, o.users).await?;
    verify_load(&db, api, o.users).await?;

    let mut rep = Report::default();
    rep.add(
        "load",
        format!("bulk load {} users (INSERT ... SELECT)", o.users),
        vec![ms(loaded)],
        format!("{:.0} rows/s", o.users as f64 / loaded.as_secs_f64()),
    );
    if o.runs("query") {
        bench_queries(&o, &db, api, &mut rep).await?;
    }
    if o.runs("cursor") {
        bench_cursors(&o, api, &mut rep).await?;
    }
    if o.runs("members") {
        bench_members(&o, &db, api, &mut rep).await?;
    }

    let size: String =
        sqlx::query_scalar("SELECT pg_size_pretty(pg_database_size(current_database()))")
            .fetch_one(&db)
            .await?;
    println!(
        "\n== Results ({} users; database {size}; whole run {:.0} s; latencies are client-side over loopback, one request at a time)",
        o.users,
        total.elapsed().as_secs_f64()
    );
    println!("load average at the end: {}", loadavg());
    rep.print();

    let Server { shutdown, task, .. } = server;
    if let Some(tx) = shutdown {
        let _ = tx.send(());
    }
    let _ = tokio::time::timeout(Duration::from_secs(10), task).await;
    Ok(())
}

fn main() {
    // `cargo bench` passes --bench; `cargo test --all-targets` runs this binary without it, and
    // a benchmark that needs a loaded Postgres has nothing to check there.
    if !std::env::args().any(|a| a == "--bench") {
        eprintln!("directory benchmark: run it with scripts/bench.sh (cargo bench); skipped");
        return;
    }
    let o = match opts() {
        Ok(o) => o,
        Err(e) => {
            eprintln!("error: {e:#}");
            std::process::exit(2);
        }
    };
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");
    if let Err(e) = rt.block_on(run(o)) {
        eprintln!("error: {e:#}");
        std::process::exit(1);
    }
}
