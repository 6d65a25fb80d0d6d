//! Configuration: defaults, then `config/scimd.toml` (or the file named by `--config` /
//! `SCIMD_CONFIG`), then `SCIMD_*` environment variables. Secrets are redacted in `Debug`.

use std::fmt;
use std::net::SocketAddr;
use std::path::Path;

use anyhow::Context;
use figment::providers::{Env, Format, Serialized, Toml};
use figment::Figment;
use serde::{Deserialize, Serialize};

pub const DEFAULT_CONFIG_PATH: &str = "config/scimd.toml";

#[derive(Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// Address the API listens on.
    pub listen: SocketAddr,
    /// `sqlite://path?mode=rwc` or `postgres://user:pass@host/db`.
    pub database_url: String,
    /// Pool size; SQLite writes are serialised by the database whatever this is.
    pub database_max_connections: u32,
    /// Public base URL (scheme://host[:port]) used in `meta.location`; when empty, taken from
    /// the request's Host header (or X-Forwarded-Host/-Proto from a trusted proxy).
    pub public_url: String,
    /// Comma-separated addresses or CIDR ranges of reverse proxies whose X-Forwarded-Host and
    /// X-Forwarded-Proto are believed; from anyone else those headers are ignored, so a
    /// client cannot make scimd hand out links to another host.
    pub trusted_proxies: String,
    /// `count` when a list request gives none.
    pub default_page_size: u32,
    /// Largest `count` honoured; larger requests are capped.
    pub max_page_size: u32,
    /// Largest request body accepted, in bytes (413 beyond).
    pub max_body_bytes: u64,
    /// Longest filter accepted, in characters.
    pub filter_max_length: usize,
    /// Deepest nesting of parentheses / not / value filters accepted.
    pub filter_max_depth: usize,
    /// Seconds a pagination cursor stays valid after it is issued (400 expiredCursor after).
    pub cursor_timeout_seconds: u64,
    /// Most operations one PATCH request may carry (400 tooMany beyond).
    pub patch_max_operations: usize,
    /// Requests per second allowed per token (0: no limit).
    pub rate_limit_token_per_second: u32,
    /// Requests a token may send in a burst above its rate.
    pub rate_limit_token_burst: u32,
    /// Requests per second allowed per realm, all tokens together (0: no limit).
    pub rate_limit_realm_per_second: u32,
    /// Requests a realm may receive in a burst above its rate.
    pub rate_limit_realm_burst: u32,
    /// Refused SCIM credentials allowed per realm and client address a minute; past it
    /// 429 until the minute is out (0: no limit).
    pub auth_failures_per_minute: u32,
    /// Wrong passwords allowed per realm and Basic username a minute (0: no limit).
    pub basic_failures_per_minute: u32,
    /// Requests handled at once; more get 503 with Retry-After.
    pub max_concurrent_requests: usize,
    /// Seconds a request may take before it is abandoned with a 503 SCIM error.
    pub request_timeout_seconds: u64,
    /// Address of the Prometheus /metrics listener; empty disables it.
    pub metrics_listen: String,
    /// Whether /ServiceProviderConfig, /ResourceTypes and /Schemas need a token.
    pub discovery_requires_auth: bool,
    /// How often token last-use times are written, in seconds.
    pub token_usage_flush_seconds: u64,
    /// Seconds in-flight requests get to finish after SIGTERM/SIGINT.
    pub shutdown_grace_seconds: u64,
    /// `auto` (text on a terminal, JSON otherwise), `text` or `json`.
    pub log_format: String,
    /// Log filter, e.g. `info` or `scimd=debug,sqlx=warn`. `RUST_LOG` overrides it.
    pub log_level: String,
    /// The key-encryption key (32 bytes, base64) that seals webhook signing secrets in the
    /// database. Every server of one database needs the same one. Takes precedence over
    /// `secret_key_file`.
    pub secret_key: String,
    /// A file holding the key-encryption key. Empty: on SQLite, `secret.key` beside the
    /// database file, created on first start; on PostgreSQL, none (set one to use webhooks).
    pub secret_key_file: String,
    /// Comma-separated earlier keys: what they sealed still opens, and is sealed again under
    /// the current key at startup.
    pub secret_keys_previous: String,
    /// Comma-separated addresses or CIDR ranges webhooks may be sent to although they are
    /// loopback, private or link-local (by default only public addresses are).
    pub webhook_allow_private: String,
    /// Seconds between two rounds of pruning each realm's event log to its retention (the
    /// realm's `event_retention_days` and `event_retention_count`); 0 prunes nothing on this
    /// server.
    pub event_prune_interval_seconds: u64,
    /// Seconds a webhook receiver has to answer.
    pub webhook_timeout_seconds: u64,
    /// Webhooks this server sends to at once.
    pub webhook_concurrency: usize,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            listen: "127.0.0.1:8080".parse().expect("valid default address"),
            database_url: "sqlite://./data/scimd.db?mode=rwc".into(),
            database_max_connections: 16,
            public_url: String::new(),
            trusted_proxies: String::new(),
            default_page_size: 100,
            max_page_size: 1000,
            max_body_bytes: 1024 * 1024,
            filter_max_length: 4096,
            filter_max_depth: 32,
            cursor_timeout_seconds: 3600,
            patch_max_operations: 1000,
            rate_limit_token_per_second: 100,
            rate_limit_token_burst: 200,
            rate_limit_realm_per_second: 500,
            rate_limit_realm_burst: 1000,
            auth_failures_per_minute: 30,
            basic_failures_per_minute: 10,
            max_concurrent_requests: 1024,
            request_timeout_seconds: 30,
            metrics_listen: "127.0.0.1:9464".into(),
            discovery_requires_auth: false,
            token_usage_flush_seconds: 30,
            shutdown_grace_seconds: 30,
            log_format: "auto".into(),
            log_level: "info".into(),
            secret_key: String::new(),
            secret_key_file: String::new(),
            secret_keys_previous: String::new(),
            webhook_allow_private: String::new(),
            event_prune_interval_seconds: 60,
            webhook_timeout_seconds: 10,
            webhook_concurrency: 16,
        }
    }
}

impl Config {
    /// Loads the layered configuration. `path` is the file given on the command line, if any;
    /// an explicitly named file must exist, the default one may be absent.
    pub fn load(path: Option<&Path>) -> anyhow::Result<Self> {
        let env_path = std::env::var("SCIMD_CONFIG").ok();
        let (file, explicit) = match (path, env_path.as_deref()) {
            (Some(p), _) => (p.to_path_buf(), true),
            (None, Some(p)) => (p.into(), true),
            (None, None) => (DEFAULT_CONFIG_PATH.into(), false),
        };
        if explicit && !file.exists() {
            anyhow::bail!("configuration file {} does not exist", file.display());
        }
        let mut fig = Figment::from(Serialized::defaults(Config::default()));
        if file.exists() {
            fig = fig.merge(Toml::file(&file));
        }
        let known = known_keys();
        for (key, _) in std::env::vars() {
            if let Some(k) = key.strip_prefix("SCIMD_") {
                let k = k.to_ascii_lowercase();
                // SCIMD_TEST_* belong to the test harness, SCIMD_CONFIG names the file.
                if !known.contains(&k) && k != "config" && !k.starts_with("test_") {
                    eprintln!("warning: ignoring unknown environment variable {key}");
                }
            }
        }
        fig = fig.merge(
            Env::prefixed("SCIMD_")
                .filter(move |k| known.iter().any(|n| k.as_str().eq_ignore_ascii_case(n))),
        );
        let cfg: Config = fig
            .extract()
            .with_context(|| format!("reading configuration ({} and SCIMD_*)", file.display()))?;
        cfg.validate()?;
        Ok(cfg)
    }

    fn validate(&self) -> anyhow::Result<()> {
        self.trusted_proxy_nets()?;
        anyhow::ensure!(self.max_page_size >= 1, "max_page_size must be at least 1");
        anyhow::ensure!(
            self.default_page_size <= self.max_page_size,
            "default_page_size ({}) must not exceed max_page_size ({})",
            self.default_page_size,
            self.max_page_size
        );
        anyhow::ensure!(
            ["auto", "text", "json"].contains(&self.log_format.as_str()),
            "log_format must be auto, text or json"
        );
        anyhow::ensure!(
            self.max_body_bytes >= 1024,
            "max_body_bytes must be at least 1024"
        );
        crate::service::webhooks::AddressPolicy::parse(&self.webhook_allow_private)
            .map_err(|e| anyhow::anyhow!("webhook_allow_private: {e}"))?;
        anyhow::ensure!(
            (1..=300).contains(&self.webhook_timeout_seconds),
            "webhook_timeout_seconds must be 1 to 300"
        );
        Ok(())
    }
}

impl fmt::Debug for Config {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Config")
            .field("listen", &self.listen)
            .field("database_url", &redact_url(&self.database_url))
            .field("database_max_connections", &self.database_max_connections)
            .field("public_url", &self.public_url)
            .field("trusted_proxies", &self.trusted_proxies)
            .field("default_page_size", &self.default_page_size)
            .field("max_page_size", &self.max_page_size)
            .field("max_body_bytes", &self.max_body_bytes)
            .field("filter_max_length", &self.filter_max_length)
            .field("filter_max_depth", &self.filter_max_depth)
            .field("cursor_timeout_seconds", &self.cursor_timeout_seconds)
            .field("patch_max_operations", &self.patch_max_operations)
            .field(
                "rate_limit_token_per_second",
                &self.rate_limit_token_per_second,
            )
            .field("rate_limit_token_burst", &self.rate_limit_token_burst)
            .field(
                "rate_limit_realm_per_second",
                &self.rate_limit_realm_per_second,
            )
            .field("rate_limit_realm_burst", &self.rate_limit_realm_burst)
            .field("auth_failures_per_minute", &self.auth_failures_per_minute)
            .field("basic_failures_per_minute", &self.basic_failures_per_minute)
            .field("max_concurrent_requests", &self.max_concurrent_requests)
            .field("request_timeout_seconds", &self.request_timeout_seconds)
            .field("metrics_listen", &self.metrics_listen)
            .field("discovery_requires_auth", &self.discovery_requires_auth)
            .field("token_usage_flush_seconds", &self.token_usage_flush_seconds)
            .field("shutdown_grace_seconds", &self.shutdown_grace_seconds)
            .field("log_format", &self.log_format)
            .field("log_level", &self.log_level)
            .field(
                "secret_key",
                &if self.secret_key.is_empty() {
                    ""
                } else {
                    "***"
                },
            )
            .field("secret_key_file", &self.secret_key_file)
            .field(
                "secret_keys_previous",
                &if self.secret_keys_previous.is_empty() {
                    ""
                } else {
                    "***"
                },
            )
            .field("webhook_allow_private", &self.webhook_allow_private)
            .field(
                "event_prune_interval_seconds",
                &self.event_prune_interval_seconds,
            )
            .field("webhook_timeout_seconds", &self.webhook_timeout_seconds)
            .field("webhook_concurrency", &self.webhook_concurrency)
            .finish()
    }
}

impl Config {
    /// `trusted_proxies` parsed: each entry an address (a single host) or a CIDR range.
    pub fn trusted_proxy_nets(&self) -> anyhow::Result<Vec<ipnet::IpNet>> {
        self.trusted_proxies
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(|s| {
                s.parse::<ipnet::IpNet>()
                    .or_else(|_| s.parse::<std::net::IpAddr>().map(ipnet::IpNet::from))
                    .map_err(|_| {
                        anyhow::anyhow!(
                            "trusted_proxies: \"{s}\" is neither an IP address nor a CIDR range \
                             (e.g. 10.0.0.5 or 10.0.0.0/8)"
                        )
                    })
            })
            .collect()
    }
}

/// Every configuration key, as written in the file (and, upper-cased, after `SCIMD_`).
fn known_keys() -> Vec<String> {
    match serde_json::to_value(Config::default()) {
        Ok(serde_json::Value::Object(m)) => m.keys().cloned().collect(),
        _ => Vec::new(),
    }
}

/// A database URL with every secret in it replaced, fit for logs and error messages: the
/// password of `user:password@`, and the value of any query parameter that holds a secret
/// (`password`, `sslpassword`, `sslkey`, and any name with password, secret, token or key in it).
pub fn redact_url(url: &str) -> String {
    let (head, query) = match url.split_once('?') {
        Some((h, q)) => (h, Some(q)),
        None => (url, None),
    };
    let head = match head.split_once("://") {
        Some((scheme, rest)) => {
            let (authority, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
            match authority.rsplit_once('@') {
                Some((userinfo, host)) if userinfo.contains(':') => {
                    let user = userinfo.split(':').next().unwrap_or_default();
                    format!("{scheme}://{user}:***@{host}{path}")
                }
                _ => head.to_owned(),
            }
        }
        None => head.to_owned(),
    };
    let Some(query) = query else { return head };
    let masked: Vec<String> = query
        .split('&')
        .map(|kv| match kv.split_once('=') {
            Some((k, _)) if secret_param(k) => format!("{k}=***"),
            _ => kv.to_owned(),
        })
        .collect();
    format!("{head}?{}", masked.join("&"))
}

fn secret_param(name: &str) -> bool {
    let n = name.to_ascii_lowercase();
    ["password", "passwd", "secret", "token", "key"]
        .iter()
        .any(|s| n.contains(s))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn database_password_never_appears_in_debug_output() {
        let cfg = Config {
            database_url: "postgres://scimd:hunter2@db:5432/scimd?password=hunter3".into(),
            ..Config::default()
        };
        let shown = format!("{cfg:?}");
        assert!(!shown.contains("hunter2"), "{shown}");
        assert!(!shown.contains("hunter3"), "{shown}");
        assert!(shown.contains("scimd:***@db:5432/scimd"), "{shown}");
    }

    #[test]
    fn every_secret_of_a_database_url_is_redacted() {
        for (url, shown) in [
            (
                "postgres://db/scimd?user=s&password=hunter2&sslmode=verify-full",
                "postgres://db/scimd?user=s&password=***&sslmode=verify-full",
            ),
            (
                "postgresql://s:hunter2@db/x?sslpassword=hunter3&sslkey=/k.pem&sslcert=/c.pem",
                "postgresql://s:***@db/x?sslpassword=***&sslkey=***&sslcert=/c.pem",
            ),
            (
                "postgres://s@db/x?options=-c%20a%3Db&api_token=t1&PassWord=p",
                "postgres://s@db/x?options=-c%20a%3Db&api_token=***&PassWord=***",
            ),
            (
                "sqlite://./data/scimd.db?mode=rwc",
                "sqlite://./data/scimd.db?mode=rwc",
            ),
        ] {
            assert_eq!(redact_url(url), shown);
        }
    }

    #[test]
    fn trusted_proxies_take_addresses_and_ranges_and_refuse_anything_else() {
        let cfg = Config {
            trusted_proxies: " 10.0.0.5, 10.1.0.0/16 ,::1".into(),
            ..Config::default()
        };
        let nets = cfg.trusted_proxy_nets().unwrap();
        let has = |ip: &str| {
            nets.iter()
                .any(|n| n.contains(&ip.parse::<std::net::IpAddr>().unwrap()))
        };
        assert!(has("10.0.0.5") && has("10.1.200.3") && has("::1"));
        assert!(!has("10.0.0.6") && !has("127.0.0.1"));
        let bad = Config {
            trusted_proxies: "proxy.internal".into(),
            ..Config::default()
        };
        let e = bad.validate().unwrap_err().to_string();
        assert!(e.contains("proxy.internal") && e.contains("CIDR"), "{e}");
    }
}
