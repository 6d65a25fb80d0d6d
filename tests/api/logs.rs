//! Logs: one JSON line per request with its context, and never a secret.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

use serde_json::{json, Value};

use crate::helpers::send;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn json_logs_carry_request_context_and_no_secret_ever_appears() {
    let dir = tempfile::tempdir().unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let db = format!("sqlite://{}?mode=rwc", dir.path().join("l.db").display());
    let mut child = Command::new(env!("CARGO_BIN_EXE_scimd"))
        .arg("serve")
        .env("SCIMD_DATABASE_URL", &db)
        .env("SCIMD_LISTEN", format!("127.0.0.1:{port}"))
        .env("SCIMD_METRICS_LISTEN", "127.0.0.1:0")
        .env("SCIMD_LOG_FORMAT", "json")
        .env_remove("RUST_LOG")
        .current_dir(dir.path())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // The bootstrap token is printed once on stdout: the one place a secret may appear.
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let mut token = String::new();
    let mut line = String::new();
    while stdout.read_line(&mut line).unwrap() > 0 {
        if line.trim().starts_with("scimd_") {
            token = line.trim().to_owned();
            break;
        }
        line.clear();
    }
    assert!(token.starts_with("scimd_"), "no bootstrap token printed");
    let base = format!("http://127.0.0.1:{port}/v1/tenants/default/realms/default/scim/v2");
    let client = reqwest::Client::new();
    let password = "Sup3r-Secret-Passw0rd!";
    let r = send(
        client
            .post(format!("{base}/Users"))
            .bearer_auth(&token)
            .body(json!({"userName": "logged", "password": password}).to_string()),
    )
    .await;
    assert_eq!(r.status, 201);
    let id = r.body["id"].as_str().unwrap().to_owned();
    let r = send(
        client
            .patch(format!("{base}/Users/{id}"))
            .bearer_auth(&token)
            .body(
                json!({"Operations": [{"op": "replace", "path": "password", "value": password}]})
                    .to_string(),
            ),
    )
    .await;
    assert_eq!(r.status, 200);
    let wrong = "scimd_this-is-a-wrong-token-value";
    let r = send(client.get(format!("{base}/Users")).bearer_auth(wrong)).await;
    assert_eq!(r.status, 401);

    // Stop it and read everything it logged.
    let _ = Command::new("kill")
        .arg("-TERM")
        .arg(child.id().to_string())
        .status();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "scimd exits 0 on SIGTERM");
    let logs = String::from_utf8_lossy(&out.stderr);
    for secret in [token.as_str(), password, wrong] {
        assert!(!logs.contains(secret), "a secret appeared in the logs");
    }
    let lines: Vec<Value> = logs
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect();
    let served = lines
        .iter()
        .find(|l| l["message"] == "served" && l["status"] == 201)
        .unwrap_or_else(|| panic!("no request line: {logs}"));
    let span = &served["span"];
    assert_eq!(span["tenant"], "default");
    assert_eq!(span["realm"], "default");
    assert!(span["token_id"].is_string());
    assert!(span["request_id"].is_string());
    assert_eq!(
        span["route"],
        "/v1/tenants/{tenant}/realms/{realm}/scim/v2/Users"
    );
    assert!(served["latency_ms"].is_number());
}
