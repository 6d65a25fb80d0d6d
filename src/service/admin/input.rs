//! Admin request bodies: read field by field from a JSON object, so every error names its
//! field, and every field the object does not have is refused by name instead of dropped.

use chrono::{DateTime, Duration, Utc};
use serde_json::{Map, Value};

use super::error::{AdminError, AdminResult};
use crate::store::{AuthMethod, Changes, RealmState};

/// The longest grace period a rotation may give the old token.
pub const MAX_GRACE_SECONDS: i64 = 30 * 24 * 3600;
pub const DEFAULT_GRACE_SECONDS: i64 = 24 * 3600;
const MAX_EXPIRES_IN_DAYS: i64 = 3650;
const MAX_ID: usize = 63;
const MAX_NAME: usize = 100;
const MAX_DISPLAY_NAME: usize = 200;
const MAX_DESCRIPTION: usize = 1000;

/// A body as a JSON object whose keys are all in `allowed`; `read_only` ones get their own
/// message (they exist, but cannot be set here).
pub fn object(
    body: Value,
    allowed: &[&str],
    read_only: &[&str],
) -> AdminResult<Map<String, Value>> {
    let Value::Object(map) = body else {
        return Err(AdminError::Body("the body must be a JSON object".into()));
    };
    let mut unknown: Vec<String> = map
        .keys()
        .filter(|k| !allowed.contains(&k.as_str()))
        .cloned()
        .collect();
    if unknown.is_empty() {
        return Ok(map);
    }
    unknown.sort();
    let (fixed, other): (Vec<&String>, Vec<&String>) = unknown
        .iter()
        .partition(|k| read_only.contains(&k.as_str()));
    let mut parts = Vec::new();
    if !other.is_empty() {
        parts.push(format!("unknown field(s): {}", join(&other)));
    }
    if !fixed.is_empty() {
        parts.push(format!(
            "read-only field(s) cannot be set: {}",
            join(&fixed)
        ));
    }
    let detail = format!(
        "{}; this body takes {}",
        parts.join("; "),
        allowed.join(", ")
    );
    Err(AdminError::UnknownFields {
        fields: unknown,
        detail,
    })
}

fn join(keys: &[&String]) -> String {
    keys.iter()
        .map(|k| k.as_str())
        .collect::<Vec<_>>()
        .join(", ")
}

/// A string field; `null` counts as absent.
pub fn opt_str(map: &Map<String, Value>, field: &str) -> AdminResult<Option<String>> {
    match map.get(field) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(_) => Err(AdminError::invalid(
            field,
            format!("{field} must be a string"),
        )),
    }
}

pub fn opt_int(map: &Map<String, Value>, field: &str) -> AdminResult<Option<i64>> {
    match map.get(field) {
        None | Some(Value::Null) => Ok(None),
        Some(v) => v
            .as_i64()
            .map(Some)
            .ok_or_else(|| AdminError::invalid(field, format!("{field} must be an integer"))),
    }
}

/// An integer that `null` clears: `None` absent, `Some(None)` null.
fn clearable_int(map: &Map<String, Value>, field: &str) -> AdminResult<Option<Option<i64>>> {
    match map.get(field) {
        None => Ok(None),
        Some(Value::Null) => Ok(Some(None)),
        Some(_) => opt_int(map, field).map(Some),
    }
}

pub const MAX_RETENTION_DAYS: i64 = 36_500;
pub const MIN_RETENTION_COUNT: i64 = 1_000;
pub const MAX_RETENTION_COUNT: i64 = 1_000_000_000;

/// `event_retention_days`: 1 to 100 years, or null to keep events whatever their age.
pub fn retention_days(map: &Map<String, Value>) -> AdminResult<Option<Option<u32>>> {
    let f = "event_retention_days";
    match clearable_int(map, f)? {
        Some(Some(d)) if !(1..=MAX_RETENTION_DAYS).contains(&d) => Err(AdminError::invalid(
            f,
            format!("{f} must be between 1 and {MAX_RETENTION_DAYS}, or null for no age limit"),
        )),
        v => Ok(v.map(|d| d.map(|d| d as u32))),
    }
}

/// `event_retention_count`: at least a thousand events (fewer would prune what a consumer a
/// few seconds behind has not read yet), or null for no count limit.
pub fn retention_count(map: &Map<String, Value>) -> AdminResult<Option<Option<u64>>> {
    let f = "event_retention_count";
    match clearable_int(map, f)? {
        Some(Some(c)) if !(MIN_RETENTION_COUNT..=MAX_RETENTION_COUNT).contains(&c) => {
            Err(AdminError::invalid(
                f,
                format!(
                    "{f} must be between {MIN_RETENTION_COUNT} and {MAX_RETENTION_COUNT}, or \
                     null for no count limit"
                ),
            ))
        }
        v => Ok(v.map(|c| c.map(|c| c as u64))),
    }
}

pub fn opt_strings(map: &Map<String, Value>, field: &str) -> AdminResult<Option<Vec<String>>> {
    let bad = || AdminError::invalid(field, format!("{field} must be an array of strings"));
    match map.get(field) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Array(items)) => items
            .iter()
            .map(|v| v.as_str().map(str::to_owned).ok_or_else(bad))
            .collect::<AdminResult<Vec<_>>>()
            .map(Some),
        Some(_) => Err(bad()),
    }
}

/// Tenant and realm ids are URL segments: lowercase letters, digits and inner hyphens.
pub fn check_id(field: &str, id: &str) -> AdminResult<()> {
    let ok = !id.is_empty()
        && id.len() <= MAX_ID
        && id
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !id.starts_with('-')
        && !id.ends_with('-');
    if ok {
        return Ok(());
    }
    Err(AdminError::invalid(
        field,
        format!(
            "{field} '{}' must be 1-{MAX_ID} characters of a-z, 0-9 and '-' (not first or last): \
             it is part of URLs",
            id.escape_debug()
        ),
    ))
}

pub fn required_id(map: &Map<String, Value>, field: &str) -> AdminResult<String> {
    let id = opt_str(map, field)?
        .ok_or_else(|| AdminError::invalid(field, format!("{field} is required")))?;
    check_id(field, &id)?;
    Ok(id)
}

/// A human-readable text: not blank (when `required`), no control characters, bounded.
pub fn check_text(field: &str, s: &str, max: usize, blank_ok: bool) -> AdminResult<()> {
    if !blank_ok && s.trim().is_empty() {
        return Err(AdminError::invalid(
            field,
            format!("{field} must not be empty"),
        ));
    }
    if s.chars().count() > max {
        return Err(AdminError::invalid(
            field,
            format!("{field} is longer than {max} characters"),
        ));
    }
    if s.chars().any(|c| c.is_control() && c != '\n') {
        return Err(AdminError::invalid(
            field,
            format!("{field} must not contain control characters"),
        ));
    }
    Ok(())
}

pub fn display_name(map: &Map<String, Value>) -> AdminResult<Option<String>> {
    let v = opt_str(map, "display_name")?;
    if let Some(s) = &v {
        check_text("display_name", s, MAX_DISPLAY_NAME, false)?;
    }
    Ok(v)
}

pub fn description(map: &Map<String, Value>) -> AdminResult<Option<String>> {
    let v = opt_str(map, "description")?;
    if let Some(s) = &v {
        check_text("description", s, MAX_DESCRIPTION, true)?;
    }
    Ok(v)
}

pub fn token_name(map: &Map<String, Value>, required: bool) -> AdminResult<Option<String>> {
    let v = opt_str(map, "name")?;
    match &v {
        Some(s) => check_text("name", s, MAX_NAME, false)?,
        None if required => return Err(AdminError::invalid("name", "name is required")),
        None => {}
    }
    Ok(v)
}

pub fn state(map: &Map<String, Value>) -> AdminResult<Option<RealmState>> {
    opt_str(map, "state")?
        .map(|s| {
            RealmState::parse(&s).ok_or_else(|| {
                AdminError::invalid(
                    "state",
                    format!("state '{s}' is not one of enabled, paused, disabled"),
                )
            })
        })
        .transpose()
}

/// Scopes, each one of `known`; `default` when absent.
pub fn scopes(
    map: &Map<String, Value>,
    known: &[&str],
    default: &[&str],
) -> AdminResult<Vec<String>> {
    let Some(mut scopes) = opt_strings(map, "scopes")? else {
        return Ok(default.iter().map(|s| (*s).to_owned()).collect());
    };
    if scopes.is_empty() {
        return Err(AdminError::invalid(
            "scopes",
            "scopes must name at least one scope",
        ));
    }
    if let Some(bad) = scopes.iter().find(|s| !known.contains(&s.as_str())) {
        return Err(AdminError::invalid(
            "scopes",
            format!("unknown scope '{bad}'; scopes are {}", known.join(", ")),
        ));
    }
    scopes.sort();
    scopes.dedup();
    Ok(scopes)
}

/// When a new token expires: `expires_in_days` (1-3650) or `expires_at` (in the future), at
/// most one; `None` means never, or what the caller defaults to.
pub fn expiry(map: &Map<String, Value>, now: DateTime<Utc>) -> AdminResult<Option<DateTime<Utc>>> {
    let days = opt_int(map, "expires_in_days")?;
    let at = opt_str(map, "expires_at")?;
    match (days, at) {
        (Some(_), Some(_)) => Err(AdminError::invalid(
            "expires_in_days",
            "give expires_in_days or expires_at, not both",
        )),
        (Some(d), None) if !(1..=MAX_EXPIRES_IN_DAYS).contains(&d) => Err(AdminError::invalid(
            "expires_in_days",
            format!("expires_in_days must be between 1 and {MAX_EXPIRES_IN_DAYS}"),
        )),
        (Some(d), None) => Ok(Some(now + Duration::days(d))),
        (None, Some(at)) => {
            let t = DateTime::parse_from_rfc3339(&at)
                .map_err(|_| {
                    AdminError::invalid(
                        "expires_at",
                        format!("expires_at '{at}' is not an RFC 3339 timestamp"),
                    )
                })?
                .with_timezone(&Utc);
            if t <= now {
                return Err(AdminError::invalid(
                    "expires_at",
                    "expires_at is in the past",
                ));
            }
            if t > now + Duration::days(MAX_EXPIRES_IN_DAYS) {
                return Err(AdminError::invalid(
                    "expires_at",
                    format!("expires_at is more than {MAX_EXPIRES_IN_DAYS} days away"),
                ));
            }
            Ok(Some(t))
        }
        (None, None) => Ok(None),
    }
}

pub fn grace_seconds(map: &Map<String, Value>) -> AdminResult<i64> {
    let g = opt_int(map, "grace_period_seconds")?.unwrap_or(DEFAULT_GRACE_SECONDS);
    if !(0..=MAX_GRACE_SECONDS).contains(&g) {
        return Err(AdminError::invalid(
            "grace_period_seconds",
            format!("grace_period_seconds must be between 0 and {MAX_GRACE_SECONDS} (30 days)"),
        ));
    }
    Ok(g)
}

/// The changes a PATCH of a tenant, realm or token asks for.
pub fn changes(map: &Map<String, Value>, token: bool) -> AdminResult<Changes> {
    Ok(Changes {
        display_name: if token { None } else { display_name(map)? },
        description: description(map)?,
        name: if token { token_name(map, false)? } else { None },
        state: if token { None } else { state(map)? },
        auth_methods: if token { None } else { auth_methods(map)? },
        retention_days: if token { None } else { retention_days(map)? },
        retention_count: if token { None } else { retention_count(map)? },
    })
}

/// A realm's authentication methods: at least one, each known (a realm no one may reach is
/// what `state: disabled` is for).
pub fn auth_methods(map: &Map<String, Value>) -> AdminResult<Option<Vec<AuthMethod>>> {
    let Some(names) = opt_strings(map, "auth_methods")? else {
        return Ok(None);
    };
    let known = || {
        AuthMethod::ALL
            .iter()
            .map(|m| m.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    };
    if names.is_empty() {
        return Err(AdminError::invalid(
            "auth_methods",
            format!(
                "auth_methods must name at least one of {}; to stop all access, set state \
                 to disabled",
                known()
            ),
        ));
    }
    let mut out = Vec::with_capacity(names.len());
    for n in &names {
        let m = AuthMethod::parse(n).ok_or_else(|| {
            AdminError::invalid(
                "auth_methods",
                format!(
                    "unknown authentication method '{n}'; the methods are {}",
                    known()
                ),
            )
        })?;
        out.push(m);
    }
    out.sort();
    out.dedup();
    Ok(Some(out))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn map(v: Value) -> Map<String, Value> {
        v.as_object().unwrap().clone()
    }

    #[test]
    fn unknown_and_read_only_fields_are_refused_by_name() {
        let e = object(
            json!({"id": "a", "colour": 1, "created_at": "x"}),
            &["id"],
            &["created_at"],
        )
        .unwrap_err();
        match e {
            AdminError::UnknownFields { fields, detail } => {
                assert_eq!(fields, ["colour", "created_at"]);
                assert!(detail.contains("unknown field(s): colour"), "{detail}");
                assert!(detail.contains("read-only field(s) cannot be set: created_at"));
            }
            e => panic!("{e:?}"),
        }
        assert!(object(json!([1]), &["id"], &[]).is_err());
    }

    #[test]
    fn ids_are_url_segments() {
        for ok in ["acme", "a", "prod-eu-1", "0"] {
            check_id("id", ok).unwrap();
        }
        for bad in ["", "Acme", "a_b", "a/b", "-a", "a-", "a.b", &"x".repeat(64)] {
            assert!(check_id("id", bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn expiry_takes_days_or_a_future_instant_but_not_both() {
        let now = Utc::now();
        let days = expiry(&map(json!({"expires_in_days": 2})), now)
            .unwrap()
            .unwrap();
        assert_eq!(days, now + Duration::days(2));
        for bad in [
            json!({"expires_in_days": 0}),
            json!({"expires_in_days": -1}),
            json!({"expires_in_days": 3651}),
            json!({"expires_in_days": "7"}),
            json!({"expires_at": "2000-01-01T00:00:00Z"}),
            json!({"expires_at": "tomorrow"}),
            json!({"expires_in_days": 1, "expires_at": "2999-01-01T00:00:00Z"}),
        ] {
            assert!(expiry(&map(bad.clone()), now).is_err(), "{bad}");
        }
        assert_eq!(expiry(&map(json!({})), now).unwrap(), None);
    }

    #[test]
    fn grace_periods_are_bounded_to_thirty_days() {
        assert_eq!(
            grace_seconds(&map(json!({}))).unwrap(),
            DEFAULT_GRACE_SECONDS
        );
        assert_eq!(
            grace_seconds(&map(json!({"grace_period_seconds": 0}))).unwrap(),
            0
        );
        for bad in [-1, MAX_GRACE_SECONDS + 1] {
            assert!(grace_seconds(&map(json!({"grace_period_seconds": bad}))).is_err());
        }
    }

    #[test]
    fn scopes_must_be_known() {
        let known = ["scim:all", "scim:read"];
        let m = map(json!({"scopes": ["scim:read", "scim:read"]}));
        assert_eq!(scopes(&m, &known, &["scim:all"]).unwrap(), ["scim:read"]);
        assert_eq!(
            scopes(&map(json!({})), &known, &["scim:all"]).unwrap(),
            ["scim:all"]
        );
        for bad in [
            json!({"scopes": ["root"]}),
            json!({"scopes": []}),
            json!({"scopes": "scim:all"}),
        ] {
            assert!(scopes(&map(bad), &known, &["scim:all"]).is_err());
        }
    }
}
