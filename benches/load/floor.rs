//! The floor under S2: the cheapest GET by id an axum + sqlx server can serve on this machine,
//! so loadbench can say how much of a GET's cost is scimd and how much is the stack.
//!
//! It does what every such server must and nothing else: parse the request, take a pooled
//! connection, run one prepared primary-key SELECT, send the stored JSON back as it is. No
//! token, no realm, no rendering, no logging. The pool never pings (scimd's does not either,
//! where sqlx's would cost a round trip per request).
//!
//! FLOOR_DATABASE_URL (a loaded scimd database), FLOOR_LISTEN (default 127.0.0.1:18090),
//! FLOOR_POOL (connections, default 16: scimd's default). Any path ending in an id is a GET of
//! that resource, so loadbench's `get` scenario drives it unchanged.

use std::sync::{Arc, Mutex, OnceLock};

use axum::extract::{Path, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use sqlx::{Connection, PgConnection};
use tokio::sync::Semaphore;

#[derive(Clone)]
struct Pool {
    idle: Arc<Mutex<Vec<PgConnection>>>,
    permits: Arc<Semaphore>,
}

/// scimd's row shape, like the loader block at the top of loadbench.py: update both together
/// when the schema changes. The primary-key read scimd makes for GET /Users/{id} (realm and
/// id, both `uuid`).
const SQL: &str = "SELECT CAST(data AS TEXT) FROM resources WHERE realm_id = $1 AND id = $2";

/// The default realm, read once at start.
static REALM: OnceLock<uuid::Uuid> = OnceLock::new();

/// A connection taken from the pool. One dropped before its statement completed (the client
/// went away mid-request) may still have the answer coming: it is drained before reuse.
struct Taken {
    conn: Option<PgConnection>,
    pool: Pool,
    done: bool,
}

impl Drop for Taken {
    fn drop(&mut self) {
        let Some(mut conn) = self.conn.take() else {
            return;
        };
        let pool = self.pool.clone();
        if self.done {
            pool.put_back(conn);
        } else {
            tokio::spawn(async move {
                if conn.ping().await.is_ok() {
                    pool.put_back(conn);
                } else if let Ok(fresh) = reconnect().await {
                    pool.put_back(fresh);
                }
            });
        }
    }
}

impl Pool {
    fn put_back(&self, conn: PgConnection) {
        if let Ok(mut idle) = self.idle.lock() {
            idle.push(conn);
        }
        self.permits.add_permits(1);
    }
}

async fn reconnect() -> Result<PgConnection, sqlx::Error> {
    PgConnection::connect(&env("FLOOR_DATABASE_URL", "")).await
}

async fn resource(State(pool): State<Pool>, Path(path): Path<String>) -> Response {
    let id = path.rsplit('/').next().unwrap_or_default();
    let Ok(permit) = pool.permits.acquire().await else {
        return StatusCode::SERVICE_UNAVAILABLE.into_response();
    };
    // The permit goes back with the connection, not when this handler ends.
    permit.forget();
    let mut taken = Taken {
        conn: pool.idle.lock().ok().and_then(|mut idle| idle.pop()),
        pool: pool.clone(),
        done: false,
    };
    let Some(conn) = taken.conn.as_mut() else {
        return StatusCode::SERVICE_UNAVAILABLE.into_response();
    };
    let (Some(realm), Ok(id)) = (REALM.get(), uuid::Uuid::parse_str(id)) else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let row = sqlx::query_scalar::<_, String>(SQL)
        .bind(realm)
        .bind(id)
        .fetch_optional(conn)
        .await;
    taken.done = true;
    match row {
        Ok(Some(body)) => ([(header::CONTENT_TYPE, "application/scim+json")], body).into_response(),
        Ok(None) => StatusCode::NOT_FOUND.into_response(),
        Err(e) => {
            eprintln!("floor: {e}");
            StatusCode::INTERNAL_SERVER_ERROR.into_response()
        }
    }
}

fn env(name: &str, default: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| default.to_owned())
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let url = std::env::var("FLOOR_DATABASE_URL").map_err(|_| "FLOOR_DATABASE_URL is not set")?;
    let size: usize = env("FLOOR_POOL", "16").parse()?;
    let mut idle = Vec::with_capacity(size);
    for _ in 0..size {
        idle.push(PgConnection::connect(&url).await?);
    }
    let realm: uuid::Uuid =
        sqlx::query_scalar("SELECT id FROM realms WHERE tenant = 'default' AND name = 'default'")
            .fetch_one(&mut idle[0])
            .await?;
    let _ = REALM.set(realm);
    let pool = Pool {
        idle: Arc::new(Mutex::new(idle)),
        permits: Arc::new(Semaphore::new(size)),
    };
    let app = Router::new()
        .route("/{*path}", get(resource))
        .with_state(pool);
    let listener = tokio::net::TcpListener::bind(env("FLOOR_LISTEN", "127.0.0.1:18090")).await?;
    axum::serve(listener, app).await?;
    Ok(())
}
