//! Faults at the edges of a request: a database that drops its connections, and answers given
//! before the request body was read. scripts/fault.sh covers the rest (PostgreSQL stopped
//! under load, kill -9 under concurrent writers) with real processes.

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::json;
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;

use crate::both_backends;
use crate::helpers::{addr, read_response, send, until_status, Backend, TestApp};

both_backends!(
    an_answer_given_before_the_body_was_read_says_connection_close,
    a_request_whose_body_was_read_keeps_its_connection_open,
);

const SCIM_ERROR: &str = "urn:ietf:params:scim:api:messages:2.0:Error";
const PATIENCE: Duration = Duration::from_secs(10);

fn says_close(head: &str) -> bool {
    head.lines().any(|l| l.trim() == "connection: close")
}

/// The realm, the token and the concurrency cap are all decided from the headers. Answered
/// then, the body is left unread and hyper drops the connection; without `Connection: close`
/// a client reusing it sees its next request fail (found by scripts/fault.sh: a POST right
/// after a 503 got a reset while PostgreSQL was down).
async fn an_answer_given_before_the_body_was_read_says_connection_close(app: &TestApp) {
    let body = json!({"userName": "never-read"}).to_string();
    let cases = [
        ("/v1/tenants/nope/realms/nope/scim/v2/Users", "", 404),
        (
            "/v1/tenants/default/realms/default/scim/v2/Users",
            "Authorization: Bearer scimd_not-a-real-token\r\n",
            401,
        ),
    ];
    for (path, auth, want) in cases {
        let mut stream = TcpStream::connect(addr(app)).await.unwrap();
        // The head only: the body is announced and never sent, so it cannot have been read.
        let head = format!(
            "POST {path} HTTP/1.1\r\nHost: x\r\n{auth}Content-Type: application/scim+json\r\n\
             Content-Length: {}\r\n\r\n",
            body.len()
        );
        stream.write_all(head.as_bytes()).await.unwrap();
        let (status, head, json) = tokio::time::timeout(PATIENCE, read_response(&mut stream))
            .await
            .expect("an answer without the body");
        assert_eq!(status, want, "{path}: {json}");
        assert_eq!(json["schemas"], json!([SCIM_ERROR]), "{path}");
        assert!(says_close(&head), "{path}: no Connection: close in\n{head}");
    }
}

async fn a_request_whose_body_was_read_keeps_its_connection_open(app: &TestApp) {
    let mut stream = TcpStream::connect(addr(app)).await.unwrap();
    for i in 0..2 {
        let body = json!({"userName": format!("kept-{i}")}).to_string();
        let req = format!(
            "POST /scim/v2/Users HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {}\r\n\
             Content-Type: application/scim+json\r\nContent-Length: {}\r\n\r\n{body}",
            app.token,
            body.len()
        );
        stream.write_all(req.as_bytes()).await.unwrap();
        let (status, head, json) = tokio::time::timeout(PATIENCE, read_response(&mut stream))
            .await
            .expect("an answer on the same connection");
        assert_eq!(status, 201, "request {i}: {json}");
        assert!(!says_close(&head), "request {i}:\n{head}");
    }
}

/// PostgreSQL ends every session of scimd's database (as a restart or failover does): the
/// requests that meet a dead connection get 503 with a SCIM Error and Retry-After, never a 500
/// or internal text, and the pool reconnects by itself. (SQLite has no connection to lose.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sessions_ended_by_postgres_give_503_with_a_scim_error_then_recover_by_themselves() {
    let Some(app) = TestApp::spawn(Backend::Postgres).await else {
        return;
    };
    let id = app.user("survivor").await;
    sqlx::any::install_default_drivers();
    let mut admin = <sqlx::AnyConnection as sqlx::Connection>::connect(&app.database_url)
        .await
        .unwrap();
    let mut unavailable = 0;
    // The pool pings a connection idle for 5 s before use, and would then find it dead and
    // quietly open another; a request just before the kill keeps them fresh, and a few rounds
    // leave nothing to luck.
    for round in 0..5 {
        let r = app.get(&format!("/Users/{id}")).await;
        assert_eq!(r.status, StatusCode::OK, "round {round}: {}", r.body);
        let ended: Vec<(bool,)> = sqlx::query_as(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
             WHERE datname = current_database() AND pid <> pg_backend_pid()",
        )
        .fetch_all(&mut admin)
        .await
        .unwrap();
        assert!(!ended.is_empty(), "scimd held no sessions");
        tokio::time::sleep(Duration::from_millis(100)).await;
        let r = app.get(&format!("/Users/{id}")).await;
        match r.status {
            StatusCode::OK => {}
            StatusCode::SERVICE_UNAVAILABLE => {
                unavailable += 1;
                assert_eq!(r.body["schemas"], json!([SCIM_ERROR]), "{}", r.body);
                assert_eq!(r.body["status"], "503");
                let detail = r.body["detail"].as_str().unwrap();
                assert!(detail.contains("database is unavailable"), "{detail}");
                assert!(
                    !detail.contains("terminat") && !detail.contains("error"),
                    "internal text sent: {detail}"
                );
                assert!(r.header("retry-after").is_some());
            }
            other => panic!("round {round}: {other} {}", r.body),
        }
        let r = until_status(StatusCode::OK, || {
            app.client
                .get(format!("{}/Users/{id}", app.base))
                .bearer_auth(&app.token)
        })
        .await;
        assert_eq!(r.status, StatusCode::OK, "no recovery: {}", r.body);
    }
    assert!(unavailable > 0, "no request met a dead connection");
    // Writes work again too, through the same server.
    let r = send(
        app.client
            .post(format!("{}/Users", app.base))
            .bearer_auth(&app.token)
            .body(json!({"userName": "after"}).to_string()),
    )
    .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    app.stop().await;
}
