//! Plan-time checks of arguments, with the server's own limits and wording, so a mistake is
//! reported by `terraform plan` rather than half-way through an apply.

use tf_provider::value::ValueAny;

fn string(v: &ValueAny) -> Result<&str, String> {
    match v {
        ValueAny::String(s) => Ok(s),
        _ => Err("must be a string".into()),
    }
}

fn number(v: &ValueAny) -> Result<i64, String> {
    match v {
        ValueAny::Number(n) => Ok(*n),
        _ => Err("must be a whole number".into()),
    }
}

fn strings(v: &ValueAny) -> Result<Vec<&str>, String> {
    match v {
        ValueAny::List(items) => items.iter().map(string).collect(),
        _ => Err("must be a set of strings".into()),
    }
}

/// Tenant and realm names are URL segments.
pub fn identifier(v: &ValueAny) -> Result<(), String> {
    let id = string(v)?;
    let ok = !id.is_empty()
        && id.len() <= 63
        && id
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !id.starts_with('-')
        && !id.ends_with('-');
    if ok {
        Ok(())
    } else {
        Err(format!(
            "{id:?} must be 1-63 characters of a-z, 0-9 and '-' (not first or last): it is part of URLs"
        ))
    }
}

fn text(v: &ValueAny, min: usize, max: usize) -> Result<(), String> {
    let s = string(v)?;
    let n = s.chars().count();
    if n < min || n > max {
        return Err(if min == 0 {
            format!("must be at most {max} characters (this one has {n})")
        } else {
            format!("must be {min} to {max} characters (this one has {n})")
        });
    }
    if s.chars().any(char::is_control) {
        return Err("must not contain control characters".into());
    }
    Ok(())
}

pub fn display_name(v: &ValueAny) -> Result<(), String> {
    text(v, 1, 200)
}

pub fn description(v: &ValueAny) -> Result<(), String> {
    text(v, 0, 1000)
}

pub fn name(v: &ValueAny) -> Result<(), String> {
    text(v, 1, 100)
}

fn one_of(v: &ValueAny, allowed: &[&str], what: &str) -> Result<(), String> {
    let s = string(v)?;
    if allowed.contains(&s) {
        Ok(())
    } else {
        Err(format!(
            "{s:?} is not a {what}; one of {}",
            allowed.join(", ")
        ))
    }
}

fn set_of(v: &ValueAny, allowed: &[&str], what: &str) -> Result<(), String> {
    let items = strings(v)?;
    if items.is_empty() {
        return Err(format!(
            "must name at least one {what}: {}",
            allowed.join(", ")
        ));
    }
    for s in items {
        if !allowed.contains(&s) {
            return Err(format!(
                "{s:?} is not a {what}; one of {}",
                allowed.join(", ")
            ));
        }
    }
    Ok(())
}

pub fn realm_state(v: &ValueAny) -> Result<(), String> {
    one_of(v, &["enabled", "paused", "disabled"], "realm state")
}

pub fn auth_methods(v: &ValueAny) -> Result<(), String> {
    set_of(v, &["token", "basic", "oauth", "jwt"], "auth method")
}

/// The scopes a realm credential may carry (the server's `SCIM_SCOPES`).
const SCOPES: &[&str] = &["scim:all", "scim:read", "events:read"];

pub fn scim_scopes(v: &ValueAny) -> Result<(), String> {
    set_of(v, SCOPES, "scope")
}

pub fn expires_in_days(v: &ValueAny) -> Result<(), String> {
    match number(v)? {
        1..=3650 => Ok(()),
        n => Err(format!("must be between 1 and 3650 days, not {n}")),
    }
}

pub fn token_lifetime(v: &ValueAny) -> Result<(), String> {
    match number(v)? {
        300..=86400 => Ok(()),
        n => Err(format!(
            "must be between 300 (5 minutes) and 86400 (24 hours) seconds, not {n}"
        )),
    }
}

/// RFC 7617: the first colon ends the user-id.
pub fn basic_username(v: &ValueAny) -> Result<(), String> {
    text(v, 1, 200)?;
    let s = string(v)?;
    if s.contains(':') {
        return Err(
            "a Basic username cannot contain ':' (RFC 7617: the first colon ends it)".into(),
        );
    }
    if s.trim() != s {
        return Err("has leading or trailing spaces, which identity providers often trim".into());
    }
    Ok(())
}

pub fn basic_password(v: &ValueAny) -> Result<(), String> {
    text(v, 16, 256)
        .map_err(|e| format!("a chosen password {e}; or omit password and scimd generates one"))
}

/// A trusted issuer's claim values, each granting one scope.
pub fn scope_values(v: &ValueAny) -> Result<(), String> {
    let ValueAny::Map(m) = v else {
        return Err("must be a map of claim values to scopes".into());
    };
    for (claim, scope) in m {
        match scope {
            ValueAny::String(s) if SCOPES.contains(&s.as_str()) => {}
            ValueAny::Unknown => {}
            other => {
                return Err(format!(
                    "{claim:?} maps to {}, not a scope; one of {}",
                    other.json(),
                    SCOPES.join(", ")
                ))
            }
        }
    }
    Ok(())
}

pub fn preset(v: &ValueAny) -> Result<(), String> {
    one_of(v, &["entra"], "preset")
}

/// Entra's directory (tenant) id: a GUID.
pub fn guid(v: &ValueAny) -> Result<(), String> {
    let s = string(v)?;
    let groups: Vec<&str> = s.split('-').collect();
    let lens = [8, 4, 4, 4, 12];
    let ok = groups.len() == 5
        && groups
            .iter()
            .zip(lens)
            .all(|(g, n)| g.len() == n && g.bytes().all(|b| b.is_ascii_hexdigit()));
    if ok {
        Ok(())
    } else {
        Err(format!(
            "{s:?} is not a GUID (the directory (tenant) id, as Entra shows it)"
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(v: &str) -> ValueAny {
        ValueAny::String(v.into())
    }

    fn set(items: &[&str]) -> ValueAny {
        ValueAny::List(items.iter().map(|i| s(i)).collect())
    }

    #[test]
    fn identifiers_are_lowercase_url_segments() {
        assert!(identifier(&s("acme-prod")).is_ok());
        for bad in ["", "Acme", "-acme", "acme-", "a/b", &"a".repeat(64)] {
            assert!(identifier(&s(bad)).is_err(), "{bad}");
        }
    }

    #[test]
    fn scopes_and_methods_must_be_known_and_not_empty() {
        assert!(scim_scopes(&set(&["scim:read"])).is_ok());
        assert!(scim_scopes(&set(&[])).unwrap_err().contains("at least one"));
        assert!(scim_scopes(&set(&["scim:write"]))
            .unwrap_err()
            .contains("scim:all"));
        assert!(auth_methods(&set(&["oauth", "jwt"])).is_ok());
        assert!(auth_methods(&set(&["saml"])).is_err());
    }

    #[test]
    fn numbers_are_bounded_as_the_server_bounds_them() {
        assert!(expires_in_days(&ValueAny::Number(365)).is_ok());
        assert!(expires_in_days(&ValueAny::Number(0))
            .unwrap_err()
            .contains("between 1 and 3650"));
        assert!(token_lifetime(&ValueAny::Number(299)).is_err());
        assert!(token_lifetime(&ValueAny::Number(3600)).is_ok());
    }

    #[test]
    fn basic_usernames_and_chosen_passwords_follow_rfc_7617_and_the_length_rule() {
        assert!(basic_username(&s("okta")).is_ok());
        assert!(basic_username(&s("ok:ta")).is_err());
        assert!(basic_username(&s(" okta")).is_err());
        assert!(basic_password(&s("short"))
            .unwrap_err()
            .contains("16 to 256"));
        assert!(basic_password(&s(&"p".repeat(16))).is_ok());
    }

    #[test]
    fn claim_values_map_to_scim_scopes() {
        let ok = ValueAny::Map([("scim.write".to_owned(), s("scim:all"))].into());
        assert!(scope_values(&ok).is_ok());
        let bad = ValueAny::Map([("scim.write".to_owned(), s("write"))].into());
        assert!(scope_values(&bad).unwrap_err().contains("not a scope"));
    }

    #[test]
    fn entra_tenant_ids_are_guids() {
        assert!(guid(&s("72f988bf-86f1-41af-91ab-2d7cd011db47")).is_ok());
        assert!(guid(&s("contoso.onmicrosoft.com")).is_err());
    }

    #[test]
    fn realm_states_are_the_three_the_server_knows() {
        assert!(realm_state(&s("paused")).is_ok());
        assert!(realm_state(&s("off"))
            .unwrap_err()
            .contains("enabled, paused, disabled"));
    }
}
