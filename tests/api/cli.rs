//! The admin command line, run as a user would, against the server's database.

use std::process::Command;

use reqwest::StatusCode;

use crate::both_backends;
use crate::helpers::{send, until_status, TestApp};

both_backends!(
    admin_commands_manage_tenants_realms_and_tokens,
    oauth_client_commands_issue_credentials_that_get_tokens,
    credential_commands_manage_basic_credentials_issuers_and_auth_methods,
);

fn scimd(app: &TestApp, args: &[&str]) -> (bool, String, String) {
    scimd_with_stdin(app, args, "")
}

fn scimd_with_stdin(app: &TestApp, args: &[&str], stdin: &str) -> (bool, String, String) {
    use std::io::Write;
    let mut child = Command::new(env!("CARGO_BIN_EXE_scimd"))
        .args(args)
        .env("SCIMD_DATABASE_URL", &app.database_url)
        .env_remove("SCIMD_CONFIG")
        .current_dir(std::env::temp_dir())
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("run scimd");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(stdin.as_bytes())
        .unwrap();
    let out = child.wait_with_output().expect("run scimd");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

async fn admin_commands_manage_tenants_realms_and_tokens(app: &TestApp) {
    let (ok, _, err) = scimd(app, &["tenant", "create", "--name", "globex"]);
    assert!(ok, "{err}");
    let (ok, out, _) = scimd(app, &["tenant", "list"]);
    assert!(
        ok && out.contains("globex") && out.contains("default"),
        "{out}"
    );
    let (ok, _, err) = scimd(app, &["tenant", "create", "--name", "globex"]);
    assert!(!ok && err.contains("already exists"), "{err}");
    let (ok, _, err) = scimd(
        app,
        &["realm", "create", "--tenant", "globex", "--name", "eu"],
    );
    assert!(ok, "{err}");
    let (ok, out, _) = scimd(app, &["realm", "list", "--tenant", "globex"]);
    assert!(ok && out.contains("eu") && out.contains("enabled"), "{out}");

    let (ok, secret, err) = scimd(
        app,
        &[
            "token",
            "create",
            "--tenant",
            "globex",
            "--realm",
            "eu",
            "--name",
            "okta",
            "--expires-in-days",
            "90",
        ],
    );
    assert!(ok, "{err}");
    let secret = secret.trim().to_owned();
    assert_eq!(secret.lines().count(), 1);
    assert!(secret.starts_with("scimd_"));
    let base = format!("{}/v1/tenants/globex/realms/eu/scim/v2", app.origin);
    let r = send(app.client.get(format!("{base}/Users")).bearer_auth(&secret)).await;
    assert_eq!(r.status, StatusCode::OK);

    let (ok, listed, _) = scimd(
        app,
        &["token", "list", "--tenant", "globex", "--realm", "eu"],
    );
    assert!(
        ok && listed.contains("okta") && listed.contains("active"),
        "{listed}"
    );
    assert!(
        !listed.contains(&secret),
        "token list must never show a secret"
    );
    let id = listed
        .lines()
        .find(|l| l.contains("okta"))
        .and_then(|l| l.split_whitespace().next())
        .unwrap()
        .to_owned();

    let (ok, _, err) = scimd(
        app,
        &[
            "realm",
            "set-state",
            "--tenant",
            "globex",
            "--realm",
            "eu",
            "paused",
        ],
    );
    assert!(ok, "{err}");
    let users = format!("{base}/Users");
    let r = until_status(StatusCode::FORBIDDEN, || {
        app.client.get(&users).bearer_auth(&secret)
    })
    .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    scimd(
        app,
        &[
            "realm",
            "set-state",
            "--tenant",
            "globex",
            "--realm",
            "eu",
            "enabled",
        ],
    );

    let (ok, _, err) = scimd(
        app,
        &[
            "token", "revoke", "--tenant", "globex", "--realm", "eu", &id,
        ],
    );
    assert!(ok, "{err}");
    let r = until_status(StatusCode::UNAUTHORIZED, || {
        app.client.get(&users).bearer_auth(&secret)
    })
    .await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    let (_, listed, _) = scimd(
        app,
        &["token", "list", "--tenant", "globex", "--realm", "eu"],
    );
    assert!(listed.contains("revoked"), "{listed}");
}

/// A SQLite URL written without `?mode=rwc` creates its file and folders, as the default does.
#[test]
fn sqlite_url_without_a_mode_creates_the_database_and_its_folder() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("new/sub/scimd.db");
    for url in [
        format!("sqlite://{}", file.display()),
        format!("sqlite:{}.other", file.display()),
    ] {
        let out = Command::new(env!("CARGO_BIN_EXE_scimd"))
            .args(["tenant", "list"])
            .env("SCIMD_DATABASE_URL", &url)
            .env_remove("SCIMD_CONFIG")
            .current_dir(dir.path())
            .output()
            .expect("run scimd");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "{url}: {err}");
    }
    assert!(file.exists());
    assert!(dir.path().join("new/sub/scimd.db.other").exists());
}

/// What the CLI prints for a client gets an access token at the realm's token endpoint, and
/// `disable` ends it.
async fn oauth_client_commands_issue_credentials_that_get_tokens(app: &TestApp) {
    let (ok, secret, err) = scimd(
        app,
        &[
            "oauth-client",
            "create",
            "--name",
            "entra",
            "--scope",
            "scim:read",
        ],
    );
    assert!(ok, "{err}");
    let secret = secret.trim().to_owned();
    assert!(secret.starts_with("scimd_cs_"), "{secret}");
    let id = err
        .lines()
        .find_map(|l| l.strip_prefix("client_id:"))
        .map(|s| s.trim().to_owned())
        .unwrap_or_else(|| panic!("no client_id line in {err}"));
    let token_url = format!(
        "{}/v1/tenants/default/realms/default/oauth2/token",
        app.origin
    );
    let get_token = || async {
        send(
            app.client
                .post(&token_url)
                .basic_auth(&id, Some(&secret))
                .form(&[("grant_type", "client_credentials")]),
        )
        .await
    };
    let r = get_token().await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.body["scope"], "scim:read");
    let (ok, out, err) = scimd(app, &["oauth-client", "list"]);
    assert!(
        ok && out.contains(&id) && out.contains("entra"),
        "{out}{err}"
    );
    assert!(!out.contains(&secret));

    let (ok, second, err) = scimd(app, &["oauth-client", "add-secret", &id]);
    assert!(ok, "{err}");
    assert!(second.trim().starts_with("scimd_cs_"));
    let (ok, _, err) = scimd(app, &["oauth-client", "disable", &id]);
    assert!(ok, "{err}");
    let r = until_status(StatusCode::UNAUTHORIZED, || {
        app.client
            .post(&token_url)
            .basic_auth(&id, Some(&secret))
            .form(&[("grant_type", "client_credentials")])
    })
    .await;
    assert_eq!(r.body["error"], "invalid_client", "{}", r.body);
    let (ok, _, err) = scimd(app, &["oauth-client", "delete", &id]);
    assert!(ok, "{err}");
    let (ok, _, err) = scimd(app, &["oauth-client", "delete", &id]);
    assert!(!ok && err.contains("no OAuth client"), "{err}");
}

/// Basic credentials, trusted issuers and a realm's auth methods from the command line: what
/// it prints works on SCIM, what it deletes stops working, and a chosen password never needs
/// to be on the command line.
async fn credential_commands_manage_basic_credentials_issuers_and_auth_methods(app: &TestApp) {
    let users = format!("{}/Users", app.base);
    let (ok, generated, err) = scimd(app, &["basic-credential", "create", "--username", "okta"]);
    assert!(ok, "{err}");
    let generated = generated.trim().to_owned();
    assert!(generated.starts_with("scimd_basic_"), "{generated}");
    assert!(err.contains("shown once"), "{err}");
    let basic = |user: &str, pass: &str| app.client.get(&users).basic_auth(user, Some(pass));
    assert_eq!(send(basic("okta", &generated)).await.status, StatusCode::OK);

    let chosen = "a chosen password of some length";
    let (ok, printed, err) = scimd_with_stdin(
        app,
        &[
            "basic-credential",
            "create",
            "--username",
            "ping",
            "--password-stdin",
            "--scope",
            "scim:read",
        ],
        &format!("{chosen}\n"),
    );
    assert!(ok, "{err}");
    assert!(
        printed.trim().is_empty(),
        "a chosen password is not printed: {printed}"
    );
    assert_eq!(send(basic("ping", chosen)).await.status, StatusCode::OK);
    let (ok, _, err) = scimd_with_stdin(
        app,
        &[
            "basic-credential",
            "create",
            "--username",
            "short",
            "--password-stdin",
        ],
        "too short\n",
    );
    assert!(!ok && err.contains("password"), "{err}");

    let (ok, listed, _) = scimd(app, &["basic-credential", "list"]);
    assert!(ok, "{listed}");
    assert!(
        listed.contains("generated") && listed.contains("chosen"),
        "{listed}"
    );
    assert!(
        !listed.contains(&generated) && !listed.contains(chosen),
        "{listed}"
    );
    let okta_id = listed
        .lines()
        .find(|l| l.contains(" okta "))
        .and_then(|l| l.split_whitespace().next())
        .unwrap()
        .to_owned();
    let (ok, _, err) = scimd(app, &["basic-credential", "delete", &okta_id]);
    assert!(ok, "{err}");
    let r = until_status(StatusCode::UNAUTHORIZED, || basic("okta", &generated)).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{}", r.body);

    // Only tokens: Basic is refused however right the password, and the realm says so.
    let (ok, out, err) = scimd(app, &["realm", "set-auth-methods", "token"]);
    assert!(ok && out.contains("now accepts token"), "{out}{err}");
    let r = until_status(StatusCode::UNAUTHORIZED, || basic("ping", chosen)).await;
    assert!(
        r.body["detail"]
            .as_str()
            .unwrap()
            .contains("does not accept"),
        "{}",
        r.body
    );
    let (ok, out, _) = scimd(app, &["realm", "list", "--tenant", "default"]);
    assert!(ok && out.contains("AUTH METHODS"), "{out}");
    let (ok, _, err) = scimd(app, &["realm", "set-auth-methods", "token", "kerberos"]);
    assert!(!ok && err.contains("kerberos"), "{err}");
    let (ok, out, err) = scimd(app, &["realm", "set-auth-methods", "token", "basic"]);
    assert!(ok && out.contains("token, basic"), "{out}{err}");
    let r = until_status(StatusCode::OK, || basic("ping", chosen)).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);

    let tid = "72f988bf-86f1-41af-91ab-2d7cd011db47";
    let (ok, out, err) = scimd(
        app,
        &[
            "trusted-issuer",
            "create",
            "--name",
            "entra",
            "--preset",
            "entra",
            "--entra-tenant-id",
            tid,
        ],
    );
    assert!(ok, "{err}");
    assert!(
        out.contains(&format!("https://sts.windows.net/{tid}/")),
        "{out}"
    );
    let (ok, listed, _) = scimd(app, &["trusted-issuer", "list"]);
    assert!(
        ok && listed.contains("entra") && listed.contains("true"),
        "{listed}"
    );
    let id = listed
        .lines()
        .nth(1)
        .and_then(|l| l.split_whitespace().next())
        .unwrap()
        .to_owned();
    let (ok, _, err) = scimd(app, &["trusted-issuer", "disable", &id]);
    assert!(ok, "{err}");
    let (_, listed, _) = scimd(app, &["trusted-issuer", "list"]);
    assert!(listed.contains("false"), "{listed}");
    let (ok, _, err) = scimd(app, &["trusted-issuer", "delete", &id]);
    assert!(ok, "{err}");
    let (_, listed, _) = scimd(app, &["trusted-issuer", "list"]);
    assert_eq!(listed.lines().count(), 1, "only the header: {listed}");
    let (ok, _, err) = scimd(app, &["trusted-issuer", "delete", &id]);
    assert!(!ok && err.contains(&id), "{err}");

    // Each change is on record as the command line's.
    let audit = app
        .admin_call(reqwest::Method::GET, "/v1/tenants/default/audit", None)
        .await;
    let actions: Vec<&str> = audit.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["actor"] == "cli")
        .filter_map(|e| e["action"].as_str())
        .collect();
    for want in [
        "basic_credential.create",
        "basic_credential.delete",
        "realm.update",
        "trusted_issuer.create",
        "trusted_issuer.delete",
    ] {
        assert!(actions.contains(&want), "{want}: {actions:?}");
    }
}
