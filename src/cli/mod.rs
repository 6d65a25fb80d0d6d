//! The command line: `serve` (the default), `healthcheck`, and the tenant/realm/token admin
//! commands, which work directly on the configured database.

use std::io::Write;
use std::path::PathBuf;

use anyhow::Context;
use clap::{Args, Parser, Subcommand};

mod credentials;

use credentials::{BasicCredentialCmd, TrustedIssuerCmd};

use std::sync::Arc;

use crate::clock::SystemClock;
use crate::config::Config;
use crate::service::admin::view::TokenStatus;
use crate::service::admin::{Actor, AdminService, PageRequest, DEFAULT_REALM, DEFAULT_TENANT};
use crate::store::RealmState;

#[derive(Parser, Debug)]
#[command(
    name = "scimd",
    version,
    about = "A multi-tenant SCIM 2.0 service provider"
)]
pub struct Cli {
    /// Configuration file (default: config/scimd.toml when present; env: SCIMD_CONFIG).
    #[arg(long, global = true)]
    pub config: Option<PathBuf>,
    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Run the server (the default command).
    Serve,
    /// Exit 0 when the server on the configured address answers /readyz (for container
    /// HEALTHCHECKs: no curl needed).
    Healthcheck,
    /// Manage tenants.
    #[command(subcommand)]
    Tenant(TenantCmd),
    /// Manage realms: one SCIM directory each, with its own base URL and tokens.
    #[command(subcommand)]
    Realm(RealmCmd),
    /// Manage bearer tokens of a realm.
    #[command(subcommand)]
    Token(TokenCmd),
    /// Manage admin tokens: the admin API's credentials, global or for one tenant.
    #[command(subcommand)]
    AdminToken(AdminTokenCmd),
    /// Manage a realm's OAuth 2.0 clients (client credentials) and their secrets.
    #[command(subcommand)]
    OauthClient(OAuthClientCmd),
    /// Manage a realm's HTTP Basic credentials (username and password).
    #[command(subcommand)]
    BasicCredential(BasicCredentialCmd),
    /// Manage a realm's trusted issuers, whose JWTs are accepted as bearer tokens.
    #[command(subcommand)]
    TrustedIssuer(TrustedIssuerCmd),
}

#[derive(Subcommand, Debug)]
pub enum OAuthClientCmd {
    /// Create a client with its first secret; prints the client id on stderr and the secret
    /// once, on stdout.
    Create {
        #[command(flatten)]
        at: RealmRef,
        #[arg(long)]
        name: String,
        /// The most its access tokens may carry: scim:all (default) or scim:read.
        #[arg(long = "scope")]
        scopes: Vec<String>,
        /// Seconds an access token lives (300 to 86400; default 3600).
        #[arg(long)]
        token_lifetime_seconds: Option<u32>,
    },
    /// List a realm's clients and their secrets (never the secrets' values).
    List {
        #[command(flatten)]
        at: RealmRef,
    },
    /// Enable a client again.
    Enable {
        #[command(flatten)]
        at: RealmRef,
        id: String,
    },
    /// Disable a client: its access tokens stop working at once, and it gets no new ones.
    Disable {
        #[command(flatten)]
        at: RealmRef,
        id: String,
    },
    /// Delete a client with its secrets and access tokens.
    Delete {
        #[command(flatten)]
        at: RealmRef,
        id: String,
    },
    /// Add a secret to a client (at most five live); prints it once, on stdout.
    AddSecret {
        #[command(flatten)]
        at: RealmRef,
        id: String,
        /// Days until the secret expires (default: never).
        #[arg(long)]
        expires_in_days: Option<u32>,
    },
    /// Revoke one secret of a client.
    RevokeSecret {
        #[command(flatten)]
        at: RealmRef,
        id: String,
        secret_id: String,
    },
}

#[derive(Subcommand, Debug)]
pub enum AdminTokenCmd {
    /// Create an admin token (global unless --tenant); prints the secret once, on stdout.
    Create {
        #[arg(long)]
        name: String,
        /// Limit the token to this tenant's realms and tokens.
        #[arg(long)]
        tenant: Option<String>,
        /// Days until the token expires (default: never).
        #[arg(long)]
        expires_in_days: Option<u32>,
    },
    /// List live admin tokens (the global ones, or one tenant's).
    List {
        #[arg(long)]
        tenant: Option<String>,
    },
    /// Revoke an admin token by id; it stops working at once.
    Revoke {
        /// The id shown by `admin-token list`.
        id: String,
    },
}

#[derive(Subcommand, Debug)]
pub enum TenantCmd {
    /// Create a tenant.
    Create {
        #[arg(long)]
        name: String,
    },
    /// List tenants.
    List,
}

#[derive(Args, Debug)]
pub struct RealmRef {
    #[arg(long, default_value = DEFAULT_TENANT)]
    pub tenant: String,
    #[arg(long, default_value = DEFAULT_REALM)]
    pub realm: String,
}

#[derive(Subcommand, Debug)]
pub enum RealmCmd {
    /// Create a realm in a tenant.
    Create {
        #[arg(long)]
        tenant: String,
        #[arg(long)]
        name: String,
    },
    /// List realms (of one tenant, or all).
    List {
        #[arg(long)]
        tenant: Option<String>,
    },
    /// Set a realm's state: enabled, paused (SCIM answers 403, data and tokens kept) or
    /// disabled.
    SetState {
        #[command(flatten)]
        at: RealmRef,
        /// enabled | paused | disabled
        state: String,
    },
    /// Set which credentials a realm accepts on SCIM: any of token, basic, oauth, jwt (its
    /// /ServiceProviderConfig lists them, the first as primary).
    SetAuthMethods {
        #[command(flatten)]
        at: RealmRef,
        #[arg(required = true)]
        methods: Vec<String>,
    },
}

#[derive(Subcommand, Debug)]
pub enum TokenCmd {
    /// Create a token with the scim:all scope; prints the secret once, on stdout.
    Create {
        #[command(flatten)]
        at: RealmRef,
        #[arg(long)]
        name: String,
        /// Days until the token expires (default: never).
        #[arg(long)]
        expires_in_days: Option<u32>,
    },
    /// List a realm's tokens (never their secrets).
    List {
        #[command(flatten)]
        at: RealmRef,
    },
    /// Revoke a token by id; it stops working at once (running servers hear of it through
    /// the database within milliseconds).
    Revoke {
        #[command(flatten)]
        at: RealmRef,
        /// The token id shown by `token list`.
        id: String,
    },
}

pub async fn run(cli: Cli) -> anyhow::Result<()> {
    let cfg = Config::load(cli.config.as_deref())?;
    match cli.command.unwrap_or(Command::Serve) {
        Command::Serve => {
            crate::telemetry::init(&cfg.log_format, &cfg.log_level);
            tracing::info!(config = ?cfg, "starting scimd");
            let listener = tokio::net::TcpListener::bind(cfg.listen)
                .await
                .with_context(|| format!("binding {}", cfg.listen))?;
            crate::app::serve(cfg, listener, crate::app::shutdown_signal()).await
        }
        Command::Healthcheck => healthcheck(&cfg).await,
        cmd => {
            crate::telemetry::init(&cfg.log_format, "warn");
            let store = crate::app::open_store(&cfg).await?;
            let admin = AdminService::new(store.clone(), Arc::new(SystemClock));
            let res = admin_command(&admin, cmd).await;
            store.close().await;
            res
        }
    }
}

async fn admin_command(admin: &AdminService, cmd: Command) -> anyhow::Result<()> {
    let mut out = std::io::stdout().lock();
    match cmd {
        Command::Tenant(TenantCmd::Create { name }) => {
            let t = admin.create_tenant(&name).await?;
            writeln!(out, "created tenant {}", t.name)?;
        }
        Command::Tenant(TenantCmd::List) => {
            writeln!(out, "{:<24} CREATED", "NAME")?;
            for t in admin.list_tenants().await? {
                writeln!(out, "{:<24} {}", t.name, t.created_at)?;
            }
        }
        Command::Realm(RealmCmd::Create { tenant, name }) => {
            let r = admin.create_realm(&tenant, &name).await?;
            writeln!(
                out,
                "created realm {} in tenant {}; SCIM base path /v1/tenants/{}/realms/{}/scim/v2",
                r.name, r.tenant, r.tenant, r.name
            )?;
        }
        Command::Realm(RealmCmd::List { tenant }) => {
            writeln!(
                out,
                "{:<20} {:<20} {:<9} {:<24} AUTH METHODS",
                "TENANT", "REALM", "STATE", "CREATED"
            )?;
            for r in admin.list_realms(tenant.as_deref()).await? {
                let methods: Vec<&str> = r.auth_methods.iter().map(|m| m.as_str()).collect();
                writeln!(
                    out,
                    "{:<20} {:<20} {:<9} {:<24} {}",
                    r.tenant,
                    r.name,
                    r.state.as_str(),
                    r.created_at,
                    methods.join(" ")
                )?;
            }
        }
        Command::Realm(RealmCmd::SetState { at, state }) => {
            let st = RealmState::parse(&state).with_context(|| {
                format!("unknown state '{state}': use enabled, paused or disabled")
            })?;
            let r = admin.set_realm_state(&at.tenant, &at.realm, st).await?;
            writeln!(
                out,
                "realm {} of tenant {} is now {}",
                r.name,
                r.tenant,
                r.state.as_str()
            )?;
        }
        Command::Token(TokenCmd::Create {
            at,
            name,
            expires_in_days,
        }) => {
            let t = admin
                .create_token(&at.tenant, &at.realm, &name, expires_in_days)
                .await?;
            // The secret alone on stdout, so scripts can capture it; the rest on stderr.
            eprintln!(
                "created token {} ('{}') for realm {}/{}, scopes {}, expires {}.\n\
                 The secret below is shown once; only its hash is stored.",
                t.info.id,
                t.info.name,
                at.tenant,
                at.realm,
                t.info.scopes.join(" "),
                t.info.expires_at.as_deref().unwrap_or("never")
            );
            writeln!(out, "{}", t.secret)?;
        }
        Command::Token(TokenCmd::List { at }) => {
            writeln!(
                out,
                "{:<36} {:<20} {:<9} {:<24} {:<24} {:<24} SCOPES",
                "ID", "NAME", "STATUS", "CREATED", "EXPIRES", "LAST USED"
            )?;
            let now = crate::clock::now();
            for t in admin.list_tokens(&at.tenant, &at.realm).await? {
                let status = serde_json::to_value(TokenStatus::of(&t, &now))?;
                let status = status.as_str().unwrap_or_default().to_owned();
                writeln!(
                    out,
                    "{:<36} {:<20} {:<9} {:<24} {:<24} {:<24} {}",
                    t.id,
                    t.name,
                    status,
                    t.created_at,
                    t.expires_at.as_deref().unwrap_or("never"),
                    t.last_used_at.as_deref().unwrap_or("never"),
                    t.scopes.join(" ")
                )?;
            }
        }
        Command::Token(TokenCmd::Revoke { at, id }) => {
            admin.revoke_token(&at.tenant, &at.realm, &id).await?;
            writeln!(out, "revoked token {id}")?;
        }
        Command::AdminToken(cmd) => admin_token_command(admin, cmd, &mut out).await?,
        Command::OauthClient(cmd) => oauth_client_command(admin, cmd, &mut out).await?,
        Command::BasicCredential(cmd) => {
            credentials::basic_credential_command(admin, cmd, &mut out).await?
        }
        Command::TrustedIssuer(cmd) => {
            credentials::trusted_issuer_command(admin, cmd, &mut out).await?
        }
        Command::Realm(RealmCmd::SetAuthMethods { at, methods }) => {
            let body = serde_json::json!({ "auth_methods": methods });
            let r = admin
                .update_realm(&Actor::cli(), &at.tenant, &at.realm, body, "")
                .await?;
            writeln!(
                out,
                "realm {} of tenant {} now accepts {}",
                at.realm,
                at.tenant,
                r.auth_methods
                    .iter()
                    .map(|m| m.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            )?;
        }
        Command::Serve | Command::Healthcheck => unreachable!("handled by run"),
    }
    Ok(())
}

async fn admin_token_command(
    admin: &AdminService,
    cmd: AdminTokenCmd,
    out: &mut impl Write,
) -> anyhow::Result<()> {
    match cmd {
        AdminTokenCmd::Create {
            name,
            tenant,
            expires_in_days,
        } => {
            let t = admin
                .create_admin_token_cli(tenant.as_deref(), &name, expires_in_days)
                .await?;
            eprintln!(
                "created admin token {} ('{}') for {}, expires {}.\n\
                 The secret below is shown once; only its hash is stored.",
                t.info.id,
                t.info.name,
                tenant.map_or("every tenant".to_owned(), |t| format!("tenant '{t}'")),
                t.info.expires_at.as_deref().unwrap_or("never")
            );
            writeln!(out, "{}", t.secret)?;
        }
        AdminTokenCmd::List { tenant } => {
            writeln!(
                out,
                "{:<36} {:<20} {:<8} {:<24} {:<24} {:<24} SCOPES",
                "ID", "NAME", "STATUS", "CREATED", "EXPIRES", "LAST USED"
            )?;
            for t in admin.list_admin_tokens_cli(tenant.as_deref()).await? {
                let status = serde_json::to_value(t.status)?;
                writeln!(
                    out,
                    "{:<36} {:<20} {:<8} {:<24} {:<24} {:<24} {}",
                    t.id,
                    t.name,
                    status.as_str().unwrap_or_default(),
                    t.created_at,
                    t.expires_at.as_deref().unwrap_or("never"),
                    t.last_used_at.as_deref().unwrap_or("never"),
                    t.scopes.join(" ")
                )?;
            }
        }
        AdminTokenCmd::Revoke { id } => {
            admin.revoke_admin_token_cli(&id).await?;
            writeln!(out, "revoked admin token {id}")?;
        }
    }
    Ok(())
}

async fn oauth_client_command(
    admin: &AdminService,
    cmd: OAuthClientCmd,
    out: &mut impl Write,
) -> anyhow::Result<()> {
    let cli = Actor::cli();
    match cmd {
        OAuthClientCmd::Create {
            at,
            name,
            scopes,
            token_lifetime_seconds,
        } => {
            let mut body = serde_json::json!({"name": name});
            if !scopes.is_empty() {
                body["scopes"] = serde_json::json!(scopes);
            }
            if let Some(s) = token_lifetime_seconds {
                body["token_lifetime_seconds"] = serde_json::json!(s);
            }
            let c = admin
                .create_client_from(&cli, &at.tenant, &at.realm, body, "")
                .await?;
            eprintln!(
                "created OAuth client '{}' in realm {}/{}, scopes {}.\n\
                 client_id:      {}\n\
                 token endpoint: <your public URL>{}\n\
                 The client secret below is shown once; only its hash is stored.",
                c.name,
                at.tenant,
                at.realm,
                c.scopes.join(" "),
                c.client_id,
                c.token_endpoint
            );
            writeln!(out, "{}", c.client_secret.unwrap_or_default())?;
        }
        OAuthClientCmd::List { at } => {
            let mut cursor = None;
            writeln!(
                out,
                "{:<36} {:<20} {:<8} {:<8} {:<20} SECRETS (id status last-used)",
                "CLIENT ID", "NAME", "ENABLED", "LIFETIME", "SCOPES"
            )?;
            loop {
                let req = PageRequest {
                    limit: Some(200),
                    cursor,
                    name: None,
                };
                let page = admin
                    .list_clients_page(&cli, &at.tenant, &at.realm, &req, "")
                    .await?;
                for c in page.items {
                    let secrets: Vec<String> = c
                        .secrets
                        .iter()
                        .map(|s| {
                            let status = serde_json::to_value(s.status).unwrap_or_default();
                            format!(
                                "{} {} {}",
                                s.id,
                                status.as_str().unwrap_or_default(),
                                s.last_used_at.as_deref().unwrap_or("never")
                            )
                        })
                        .collect();
                    writeln!(
                        out,
                        "{:<36} {:<20} {:<8} {:<8} {:<20} {}",
                        c.client_id,
                        c.name,
                        c.enabled,
                        c.token_lifetime_seconds,
                        c.scopes.join(" "),
                        secrets.join("; ")
                    )?;
                }
                match page.next_cursor {
                    Some(next) => cursor = Some(next),
                    None => break,
                }
            }
        }
        OAuthClientCmd::Enable { at, id } => {
            let body = serde_json::json!({"enabled": true});
            admin
                .update_client(&cli, &at.tenant, &at.realm, &id, body, "")
                .await?;
            writeln!(out, "enabled OAuth client {id}")?;
        }
        OAuthClientCmd::Disable { at, id } => {
            let body = serde_json::json!({"enabled": false});
            admin
                .update_client(&cli, &at.tenant, &at.realm, &id, body, "")
                .await?;
            writeln!(
                out,
                "disabled OAuth client {id}; its access tokens no longer work"
            )?;
        }
        OAuthClientCmd::Delete { at, id } => {
            admin
                .delete_client(&cli, &at.tenant, &at.realm, &id)
                .await?;
            writeln!(out, "deleted OAuth client {id}")?;
        }
        OAuthClientCmd::AddSecret {
            at,
            id,
            expires_in_days,
        } => {
            let body = match expires_in_days {
                Some(d) => serde_json::json!({"expires_in_days": d}),
                None => serde_json::json!({}),
            };
            let s = admin
                .create_client_secret(&cli, &at.tenant, &at.realm, &id, body)
                .await?;
            eprintln!(
                "added secret {} to OAuth client {id}, expires {}.\n\
                 The secret below is shown once; only its hash is stored.",
                s.id,
                s.expires_at.as_deref().unwrap_or("never")
            );
            writeln!(out, "{}", s.client_secret.unwrap_or_default())?;
        }
        OAuthClientCmd::RevokeSecret { at, id, secret_id } => {
            admin
                .revoke_client_secret(&cli, &at.tenant, &at.realm, &id, &secret_id)
                .await?;
            writeln!(out, "revoked secret {secret_id} of OAuth client {id}")?;
        }
    }
    Ok(())
}

/// A plain HTTP/1.1 GET of /readyz over TCP: the container image needs no curl.
async fn healthcheck(cfg: &Config) -> anyhow::Result<()> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut addr = cfg.listen;
    if addr.ip().is_unspecified() {
        addr.set_ip(std::net::Ipv4Addr::LOCALHOST.into());
    }
    let check = async {
        let mut s = tokio::net::TcpStream::connect(addr).await?;
        s.write_all(b"GET /readyz HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
            .await?;
        let mut buf = Vec::new();
        s.read_to_end(&mut buf).await?;
        Ok::<_, std::io::Error>(buf)
    };
    let buf = tokio::time::timeout(std::time::Duration::from_secs(5), check)
        .await
        .context("healthcheck timed out")?
        .with_context(|| format!("connecting to {addr}"))?;
    let head = String::from_utf8_lossy(&buf);
    anyhow::ensure!(
        head.starts_with("HTTP/1.1 200"),
        "not ready: {}",
        head.lines().next().unwrap_or("no response")
    );
    println!("ready");
    Ok(())
}
