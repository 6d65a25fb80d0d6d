//! Loading the key-encryption keys from the config, and sealing stored secrets again after
//! the current key changed.

use std::path::{Path, PathBuf};

use super::seal::{generate_key, parse_key, Keyring};
use crate::store::Store;

/// Where the SQLite default keeps its key: beside the database file. `None` for an in-memory
/// database or PostgreSQL (whose servers must all be given the same key).
fn default_key_path(database_url: &str) -> Option<PathBuf> {
    let rest = database_url
        .strip_prefix("sqlite://")
        .or_else(|| database_url.strip_prefix("sqlite:"))?;
    let file = rest.split('?').next().unwrap_or_default();
    if file.is_empty() || file.contains(":memory:") {
        return None;
    }
    Some(
        Path::new(file)
            .parent()
            .unwrap_or(Path::new("."))
            .join("secret.key"),
    )
}

fn read_key(path: &Path) -> anyhow::Result<[u8; 32]> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| anyhow::anyhow!("reading the key file {}: {e}", path.display()))?;
    parse_key(&text).map_err(|e| anyhow::anyhow!("the key file {}: {e}", path.display()))
}

fn create_key(path: &Path) -> anyhow::Result<[u8; 32]> {
    use std::io::Write;
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    let text = generate_key();
    let mut f = opts
        .open(path)
        .map_err(|e| anyhow::anyhow!("creating the key file {}: {e}", path.display()))?;
    f.write_all(format!("{text}\n").as_bytes())?;
    tracing::info!(path = %path.display(), "created a key-encryption key for webhook secrets; back it up with the database");
    Ok(parse_key(&text).expect("a generated key parses"))
}

/// The keyring the config describes: `secret_key`, else `secret_key_file`, else (SQLite on
/// disk) `secret.key` beside the database, created when missing.
pub fn keyring(
    secret_key: &str,
    secret_key_file: &str,
    previous: &str,
    database_url: &str,
) -> anyhow::Result<Keyring> {
    let current = if !secret_key.trim().is_empty() {
        Some(parse_key(secret_key).map_err(|e| anyhow::anyhow!("secret_key: {e}"))?)
    } else if !secret_key_file.is_empty() {
        // A file named in the config that is missing is a mistake (an unmounted volume),
        // not a reason to make a new key that opens nothing stored.
        Some(read_key(Path::new(secret_key_file))?)
    } else {
        match default_key_path(database_url) {
            Some(p) if p.exists() => Some(read_key(&p)?),
            Some(p) => Some(create_key(&p)?),
            None => None,
        }
    };
    let previous = previous
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|k| parse_key(k).map_err(|e| anyhow::anyhow!("secret_keys_previous: {e}")))
        .collect::<anyhow::Result<Vec<_>>>()?;
    Ok(Keyring::new(current, &previous))
}

/// Seals every stored secret that an earlier key sealed under the current one, so that the
/// earlier key can be dropped from the config afterwards. Returns how many were sealed again.
pub async fn reseal(store: &dyn Store, keys: &Keyring) -> anyhow::Result<usize> {
    if !keys.can_seal() {
        return Ok(0);
    }
    let mut n = 0;
    for mut w in store.all_webhooks().await? {
        let stale = keys.is_stale(&w.secret)
            || w.previous_secret
                .as_deref()
                .is_some_and(|p| keys.is_stale(p));
        if !stale {
            continue;
        }
        let again = |s: &str| -> anyhow::Result<String> {
            let plain = keys.open(s, &w.id)?;
            Ok(keys.seal(&plain, &w.id)?)
        };
        w.secret = again(&w.secret)?;
        if let Some(p) = w.previous_secret.take() {
            w.previous_secret = Some(again(&p)?);
        }
        store.update_webhook(&w).await?;
        n += 1;
    }
    Ok(n)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_sqlite_default_keeps_its_key_beside_the_database() {
        assert_eq!(
            default_key_path("sqlite://./data/scimd.db?mode=rwc"),
            Some(PathBuf::from("./data/secret.key"))
        );
        assert_eq!(default_key_path("sqlite::memory:"), None);
        assert_eq!(default_key_path("postgres://u@h/db"), None);
    }

    #[test]
    fn a_key_file_is_created_once_and_read_after() {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}/scimd.db", dir.path().display());
        let first = keyring("", "", "", &url).unwrap();
        let second = keyring("", "", "", &url).unwrap();
        assert_eq!(first.current_id(), second.current_id());
        assert!(first.current_id().is_some());
        let named = dir.path().join("missing.key");
        assert!(keyring("", named.to_str().unwrap(), "", &url).is_err());
        assert!(keyring("short", "", "", &url).is_err());
    }
}
