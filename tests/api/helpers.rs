//! Test harness: a real scimd on a port-0 listener, over SQLite or a fresh Postgres database.

use std::sync::Arc;

use reqwest::{Method, StatusCode};
use serde_json::Value;
use tokio::sync::oneshot;

use scimd::clock::ManualClock;
use scimd::config::Config;
use scimd::service::admin::AdminService;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// Postgres is tested whenever `SCIMD_TEST_POSTGRES_URL` is set (scripts/test.sh sets it);
/// in CI its absence is a failure, not a skip.
pub fn postgres_admin_url() -> Option<String> {
    match std::env::var("SCIMD_TEST_POSTGRES_URL") {
        Ok(u) if !u.is_empty() => Some(u),
        _ => {
            assert!(
                std::env::var("CI").is_err(),
                "CI must test Postgres: run the tests through scripts/test.sh"
            );
            eprintln!("SCIMD_TEST_POSTGRES_URL unset: skipping the Postgres run of this test");
            None
        }
    }
}

pub struct TestApp {
    pub metrics_origin: String,
    pub origin: String,
    pub base: String,
    pub token: String,
    pub client: reqwest::Client,
    pub database_url: String,
    pub admin: AdminService,
    /// A global admin token (the admin API's credential).
    pub admin_token: String,
    /// The server's clock: `clock.advance(..)` moves token expiry and grace periods along.
    pub clock: Arc<ManualClock>,
    shutdown: Option<oneshot::Sender<()>>,
    server: Option<tokio::task::JoinHandle<anyhow::Result<()>>>,
    _dir: tempfile::TempDir,
}

pub struct Resp {
    pub status: StatusCode,
    pub headers: reqwest::header::HeaderMap,
    pub body: Value,
}

impl Resp {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

/// An empty database of `backend` (a file in `dir`, or a new database on the test cluster).
pub async fn fresh_database(backend: Backend, dir: &tempfile::TempDir) -> Option<String> {
    match backend {
        Backend::Sqlite => Some(format!(
            "sqlite://{}?mode=rwc",
            dir.path().join("scimd.db").display()
        )),
        Backend::Postgres => {
            let admin_url = postgres_admin_url()?;
            sqlx::any::install_default_drivers();
            let name = format!("t_{}", uuid::Uuid::new_v4().simple());
            let mut conn = <sqlx::AnyConnection as sqlx::Connection>::connect(&admin_url)
                .await
                .expect("connect to the test cluster");
            sqlx::query(&format!("CREATE DATABASE {name}"))
                .execute(&mut conn)
                .await
                .expect("create test database");
            let (prefix, _) = admin_url.rsplit_once('/').expect("url has a database");
            Some(format!("{prefix}/{name}"))
        }
    }
}

impl TestApp {
    pub async fn spawn(backend: Backend) -> Option<TestApp> {
        Self::spawn_with(backend, |_| {}).await
    }

    pub async fn spawn_with(backend: Backend, tweak: impl FnOnce(&mut Config)) -> Option<TestApp> {
        let dir = tempfile::tempdir().expect("tempdir");
        let database_url = fresh_database(backend, &dir).await?;
        let mut cfg = Config {
            database_url: database_url.clone(),
            database_max_connections: 8,
            shutdown_grace_seconds: 5,
            // Tests send bursts far above an identity provider's rate; the rate-limit test
            // turns limits back on.
            rate_limit_token_per_second: 0,
            rate_limit_realm_per_second: 0,
            ..Config::default()
        };
        tweak(&mut cfg);
        let metrics_listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let metrics_origin = format!("http://{}", metrics_listener.local_addr().unwrap());
        let store = scimd::app::open_store(&cfg).await.expect("open store");
        let clock = Arc::new(ManualClock::default());
        let admin = AdminService::new(store as Arc<dyn scimd::store::Store>, clock.clone());
        let token = admin
            .create_token("default", "default", "tests", None)
            .await
            .expect("create token")
            .secret;
        let admin_token = admin
            .create_admin_token_cli(None, "tests", None)
            .await
            .expect("create admin token")
            .secret;

        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (tx, rx) = oneshot::channel::<()>();
        let server = tokio::spawn(scimd::app::serve_with_clock(
            cfg,
            listener,
            Some(metrics_listener),
            clock.clone(),
            async move {
                let _ = rx.await;
            },
        ));
        let origin = format!("http://{addr}");
        Some(TestApp {
            metrics_origin,
            base: format!("{origin}/v1/tenants/default/realms/default/scim/v2"),
            origin,
            token,
            client: reqwest::Client::new(),
            database_url,
            admin,
            admin_token,
            clock,
            shutdown: Some(tx),
            server: Some(server),
            _dir: dir,
        })
    }

    /// A request to `path` under the realm's base URL (or an absolute URL), with the token.
    pub async fn call(&self, method: Method, path: &str, body: Option<Value>) -> Resp {
        self.call_with(method, path, body, &[]).await
    }

    pub async fn call_with(
        &self,
        method: Method,
        path: &str,
        body: Option<Value>,
        headers: &[(&str, &str)],
    ) -> Resp {
        let url = if path.starts_with("http") {
            path.to_owned()
        } else {
            format!("{}{path}", self.base)
        };
        let mut req = self.client.request(method, url).bearer_auth(&self.token);
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        if let Some(b) = body {
            req = req
                .header("content-type", "application/scim+json")
                .body(b.to_string());
        }
        send(req).await
    }

    /// An admin-API call: `path` from the origin (`/v1/tenants/...`), with `token` (an admin
    /// token, a SCIM token, or "" for none) and a JSON body.
    pub async fn admin_as(
        &self,
        token: &str,
        method: Method,
        path: &str,
        body: Option<Value>,
    ) -> Resp {
        let mut req = self
            .client
            .request(method, format!("{}{path}", self.origin));
        if !token.is_empty() {
            req = req.bearer_auth(token);
        }
        if let Some(b) = body {
            req = req
                .header("content-type", "application/json")
                .body(b.to_string());
        }
        send(req).await
    }

    /// An admin-API call with the global admin token.
    pub async fn admin_call(&self, method: Method, path: &str, body: Option<Value>) -> Resp {
        self.admin_as(&self.admin_token, method, path, body).await
    }

    pub async fn get(&self, path: &str) -> Resp {
        self.call(Method::GET, path, None).await
    }

    pub async fn post(&self, path: &str, body: Value) -> Resp {
        self.call(Method::POST, path, Some(body)).await
    }

    pub async fn put(&self, path: &str, body: Value) -> Resp {
        self.call(Method::PUT, path, Some(body)).await
    }

    pub async fn delete(&self, path: &str) -> Resp {
        self.call(Method::DELETE, path, None).await
    }

    /// Creates a user and returns its id.
    pub async fn user(&self, user_name: &str) -> String {
        let r = self
            .post("/Users", serde_json::json!({"userName": user_name}))
            .await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
        r.body["id"].as_str().unwrap().to_owned()
    }

    pub async fn group(&self, name: &str, members: &[&str]) -> String {
        let members: Vec<Value> = members
            .iter()
            .map(|m| serde_json::json!({"value": m}))
            .collect();
        let r = self
            .post(
                "/Groups",
                serde_json::json!({"displayName": name, "members": members}),
            )
            .await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
        r.body["id"].as_str().unwrap().to_owned()
    }

    /// Stops the server gracefully; the admin service (and the database) stay usable.
    pub async fn stop(mut self) -> (AdminService, tempfile::TempDir) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(s) = self.server.take() {
            s.await.expect("server task").expect("server exits cleanly");
        }
        (self.admin, self._dir)
    }
}

/// Sends `req()` until it answers `want` (or 10 s pass) and returns the last answer. A
/// running server on PostgreSQL hears of realm and token changes made elsewhere (another
/// process, the CLI, SQL) through the database's change notices, a moment after the change
/// commits; on SQLite it reads them on every request.
pub async fn until_status(want: StatusCode, req: impl Fn() -> reqwest::RequestBuilder) -> Resp {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let r = send(req()).await;
        if r.status == want || std::time::Instant::now() >= deadline {
            return r;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
}

pub async fn send(req: reqwest::RequestBuilder) -> Resp {
    let resp = req.send().await.expect("request");
    let status = resp.status();
    let headers = resp.headers().clone();
    let text = resp.text().await.expect("body");
    let body = if text.is_empty() {
        Value::Null
    } else {
        serde_json::from_str(&text).unwrap_or(Value::String(text))
    };
    Resp {
        status,
        headers,
        body,
    }
}

/// A second scimd process-equivalent on the same database: another server with its own pool,
/// as a second replica would have.
pub struct Peer {
    pub base: String,
    shutdown: oneshot::Sender<()>,
    server: tokio::task::JoinHandle<anyhow::Result<()>>,
}

impl Peer {
    pub async fn stop(self) {
        let _ = self.shutdown.send(());
        self.server
            .await
            .expect("peer task")
            .expect("peer exits cleanly");
    }
}

impl TestApp {
    pub async fn peer(&self) -> Peer {
        self.peer_with(|_| {}).await
    }

    /// A second server on the same database, its config changed by `tweak`.
    pub async fn peer_with(&self, tweak: impl FnOnce(&mut Config)) -> Peer {
        let mut cfg = Config {
            database_url: self.database_url.clone(),
            database_max_connections: 8,
            shutdown_grace_seconds: 5,
            rate_limit_token_per_second: 0,
            rate_limit_realm_per_second: 0,
            ..Config::default()
        };
        tweak(&mut cfg);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (tx, rx) = oneshot::channel::<()>();
        let server = tokio::spawn(scimd::app::serve_with_metrics(
            cfg,
            listener,
            None,
            async move {
                let _ = rx.await;
            },
        ));
        Peer {
            base: format!("http://{addr}/v1/tenants/default/realms/default/scim/v2"),
            shutdown: tx,
            server,
        }
    }
}

/// Runs a test body against both backends on a server built with `tweak`.
#[macro_export]
macro_rules! both_backends_with {
    ($tweak:ident => $($name:ident),* $(,)?) => {
        $(
            mod $name {
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn sqlite() {
                    if let Some(app) = $crate::helpers::TestApp::spawn_with(
                        $crate::helpers::Backend::Sqlite, super::$tweak).await {
                        super::$name(&app).await;
                        app.stop().await;
                    }
                }
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn postgres() {
                    if let Some(app) = $crate::helpers::TestApp::spawn_with(
                        $crate::helpers::Backend::Postgres, super::$tweak).await {
                        super::$name(&app).await;
                        app.stop().await;
                    }
                }
            }
        )*
    };
}

/// Runs a test body against both backends.
#[macro_export]
macro_rules! both_backends {
    ($($name:ident),* $(,)?) => {
        $(
            mod $name {
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn sqlite() {
                    if let Some(app) = $crate::helpers::TestApp::spawn($crate::helpers::Backend::Sqlite).await {
                        super::$name(&app).await;
                        app.stop().await;
                    }
                }
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn postgres() {
                    if let Some(app) = $crate::helpers::TestApp::spawn($crate::helpers::Backend::Postgres).await {
                        super::$name(&app).await;
                        app.stop().await;
                    }
                }
            }
        )*
    };
}

/// The host:port the app listens on, for tests that speak raw HTTP over a socket.
pub fn addr(app: &TestApp) -> String {
    app.origin.trim_start_matches("http://").to_owned()
}

/// Reads one HTTP/1.1 response from `stream`: the status, the head lower-cased, and a body of
/// `Content-Length` bytes parsed as JSON (`Null` when it is not JSON).
pub async fn read_response(
    stream: &mut (impl tokio::io::AsyncReadExt + Unpin),
) -> (u16, String, Value) {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 8192];
    let head_end = loop {
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break i + 4;
        }
        let n = stream.read(&mut chunk).await.expect("read response");
        assert!(n > 0, "connection closed before a response: {buf:?}");
        buf.extend_from_slice(&chunk[..n]);
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).to_ascii_lowercase();
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .expect("status line");
    let length = head
        .lines()
        .find_map(|l| l.strip_prefix("content-length:")?.trim().parse().ok())
        .unwrap_or(0);
    while buf.len() < head_end + length {
        let n = stream.read(&mut chunk).await.expect("read body");
        if n == 0 {
            break;
        }
        buf.extend_from_slice(&chunk[..n]);
    }
    let body = serde_json::from_slice(&buf[head_end..]).unwrap_or(Value::Null);
    (status, head, body)
}
