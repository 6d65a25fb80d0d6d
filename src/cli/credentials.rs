//! `scimd basic-credential` and `scimd trusted-issuer`: a realm's other credentials, through
//! the same admin service (checks, audit) the admin API uses.

use std::io::{BufRead, Write};

use anyhow::Context;
use clap::Subcommand;
use serde_json::{json, Value};

use super::RealmRef;
use crate::service::admin::{Actor, AdminService};

#[derive(Subcommand, Debug)]
pub enum BasicCredentialCmd {
    /// Create a Basic credential. Without --password-stdin scimd generates the password and
    /// prints it once, on stdout.
    Create {
        #[command(flatten)]
        at: RealmRef,
        #[arg(long)]
        username: String,
        /// Read a chosen password (16 to 256 characters) from the first line of stdin, so it
        /// is never in the process list or shell history. Kept as Argon2id.
        #[arg(long)]
        password_stdin: bool,
        /// scim:all (default) or scim:read.
        #[arg(long = "scope")]
        scopes: Vec<String>,
        #[arg(long)]
        description: Option<String>,
        /// Days until the credential expires (default: never).
        #[arg(long)]
        expires_in_days: Option<u32>,
    },
    /// List a realm's Basic credentials (never a password).
    List {
        #[command(flatten)]
        at: RealmRef,
    },
    /// Delete (revoke) a Basic credential: refused at once on every server.
    Delete {
        #[command(flatten)]
        at: RealmRef,
        id: String,
    },
}

#[derive(Subcommand, Debug)]
pub enum TrustedIssuerCmd {
    /// Trust an issuer's JWTs as bearer tokens: `--preset entra --entra-tenant-id ID` for
    /// Microsoft Entra's provisioning service, or `--issuer` and `--audience` for any other.
    Create {
        #[command(flatten)]
        at: RealmRef,
        #[arg(long)]
        name: String,
        /// entra
        #[arg(long)]
        preset: Option<String>,
        #[arg(long)]
        entra_tenant_id: Option<String>,
        #[arg(long)]
        issuer: Option<String>,
        #[arg(long)]
        audience: Option<String>,
        /// The exact `sub` the tokens must carry (default: any).
        #[arg(long)]
        subject: Option<String>,
        /// Where the signing keys are (default: found by OpenID discovery).
        #[arg(long)]
        jwks_url: Option<String>,
        /// scim:all (default) or scim:read.
        #[arg(long = "scope")]
        scopes: Vec<String>,
    },
    /// List a realm's trusted issuers.
    List {
        #[command(flatten)]
        at: RealmRef,
    },
    /// Accept the issuer's tokens again.
    Enable {
        #[command(flatten)]
        at: RealmRef,
        id: String,
    },
    /// Refuse the issuer's tokens from now on, keeping its settings.
    Disable {
        #[command(flatten)]
        at: RealmRef,
        id: String,
    },
    /// Delete a trusted issuer: its tokens are refused at once.
    Delete {
        #[command(flatten)]
        at: RealmRef,
        id: String,
    },
}

/// The fields given, as the admin API would receive them.
fn body(fields: &[(&str, Option<Value>)]) -> Value {
    let map = fields
        .iter()
        .filter_map(|(k, v)| Some(((*k).to_owned(), v.clone()?)))
        .collect();
    Value::Object(map)
}

fn scopes(s: &[String]) -> Option<Value> {
    (!s.is_empty()).then(|| json!(s))
}

pub async fn basic_credential_command(
    admin: &AdminService,
    cmd: BasicCredentialCmd,
    out: &mut impl Write,
) -> anyhow::Result<()> {
    let cli = Actor::cli();
    match cmd {
        BasicCredentialCmd::Create {
            at,
            username,
            password_stdin,
            scopes: s,
            description,
            expires_in_days,
        } => {
            let password = if password_stdin {
                let mut line = String::new();
                std::io::stdin()
                    .lock()
                    .read_line(&mut line)
                    .context("reading the password from stdin")?;
                let line = line.strip_suffix('\n').unwrap_or(&line);
                Some(json!(line.strip_suffix('\r').unwrap_or(line)))
            } else {
                None
            };
            let b = body(&[
                ("username", Some(json!(username))),
                ("password", password),
                ("scopes", scopes(&s)),
                ("description", description.map(Value::from)),
                ("expires_in_days", expires_in_days.map(Value::from)),
            ]);
            let c = admin
                .create_basic_credential(&cli, &at.tenant, &at.realm, b)
                .await?;
            eprintln!(
                "created Basic credential {} (username '{}') for realm {}/{}, scopes {}, \
                 expires {}.",
                c.id,
                c.username,
                at.tenant,
                at.realm,
                c.scopes.join(" "),
                c.expires_at.as_deref().unwrap_or("never")
            );
            if let Some(p) = &c.password {
                eprintln!("The password below is shown once; only its hash is stored.");
                writeln!(out, "{p}")?;
            }
        }
        BasicCredentialCmd::List { at } => {
            writeln!(
                out,
                "{:<36} {:<24} {:<9} {:<9} {:<24} {:<24} SCOPES",
                "ID", "USERNAME", "PASSWORD", "STATUS", "EXPIRES", "LAST USED"
            )?;
            let list = admin
                .list_basic_credentials(&cli, &at.tenant, &at.realm)
                .await?;
            for c in list.items {
                let status = serde_json::to_value(&c.status)?;
                writeln!(
                    out,
                    "{:<36} {:<24} {:<9} {:<9} {:<24} {:<24} {}",
                    c.id,
                    c.username,
                    c.password_kind,
                    status.as_str().unwrap_or_default(),
                    c.expires_at.as_deref().unwrap_or("never"),
                    c.last_used_at.as_deref().unwrap_or("never"),
                    c.scopes.join(" ")
                )?;
            }
        }
        BasicCredentialCmd::Delete { at, id } => {
            admin
                .delete_basic_credential(&cli, &at.tenant, &at.realm, &id)
                .await?;
            writeln!(out, "deleted Basic credential {id}")?;
        }
    }
    Ok(())
}

pub async fn trusted_issuer_command(
    admin: &AdminService,
    cmd: TrustedIssuerCmd,
    out: &mut impl Write,
) -> anyhow::Result<()> {
    let cli = Actor::cli();
    let set_enabled = |at: RealmRef, id: String, on: bool| async move {
        let body = json!({ "enabled": on });
        admin
            .update_trusted_issuer(&Actor::cli(), &at.tenant, &at.realm, &id, body)
            .await
    };
    match cmd {
        TrustedIssuerCmd::Create {
            at,
            name,
            preset,
            entra_tenant_id,
            issuer,
            audience,
            subject,
            jwks_url,
            scopes: s,
        } => {
            let b = body(&[
                ("name", Some(json!(name))),
                ("preset", preset.map(Value::from)),
                ("entra_tenant_id", entra_tenant_id.map(Value::from)),
                ("issuer", issuer.map(Value::from)),
                ("audience", audience.map(Value::from)),
                ("subject", subject.map(Value::from)),
                ("jwks_url", jwks_url.map(Value::from)),
                ("scopes", scopes(&s)),
            ]);
            let t = admin
                .create_trusted_issuer(&cli, &at.tenant, &at.realm, b)
                .await?;
            writeln!(
                out,
                "created trusted issuer {} ('{}') for realm {}/{}: issuer {}, audience {}",
                t.id, t.name, at.tenant, at.realm, t.issuer, t.audience
            )?;
        }
        TrustedIssuerCmd::List { at } => {
            writeln!(
                out,
                "{:<36} {:<20} {:<8} {:<24} {:<50} AUDIENCE",
                "ID", "NAME", "ENABLED", "LAST USED", "ISSUER"
            )?;
            let list = admin
                .list_trusted_issuers(&cli, &at.tenant, &at.realm)
                .await?;
            for t in list.items {
                writeln!(
                    out,
                    "{:<36} {:<20} {:<8} {:<24} {:<50} {}",
                    t.id,
                    t.name,
                    t.enabled,
                    t.last_used_at.as_deref().unwrap_or("never"),
                    t.issuer,
                    t.audience
                )?;
            }
        }
        TrustedIssuerCmd::Enable { at, id } => {
            set_enabled(at, id.clone(), true).await?;
            writeln!(out, "enabled trusted issuer {id}")?;
        }
        TrustedIssuerCmd::Disable { at, id } => {
            set_enabled(at, id.clone(), false).await?;
            writeln!(out, "disabled trusted issuer {id}; its tokens are refused")?;
        }
        TrustedIssuerCmd::Delete { at, id } => {
            admin
                .delete_trusted_issuer(&cli, &at.tenant, &at.realm, &id)
                .await?;
            writeln!(out, "deleted trusted issuer {id}")?;
        }
    }
    Ok(())
}
