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

use std::sync::{Arc, Mutex};

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

const SQL: &str = "SELECT CAST(data AS TEXT) FROM resources WHERE id = $1";

async fn resource(State(pool): State<Pool>, Path(path): Path<String>) -> Response {
    let id = path.rsplit('/').next().unwrap_or_default();
    let Ok(_permit) = pool.permits.acquire().await else {
        return StatusCode::SERVICE_UNAVAILABLE.into_response();
    };
    let Some(mut conn) = pool.idle.lock().ok().and_then(|mut idle| idle.pop()) else {
        return StatusCode::SERVICE_UNAVAILABLE.into_response();
    };
    let row = sqlx::query_scalar::<_, String>(SQL)
        .bind(id)
        .fetch_optional(&mut conn)
        .await;
    if let Ok(mut idle) = pool.idle.lock() {
        idle.push(conn);
    }
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
