//! The provider's resources, one per admin API object, as `Spec`s.

use chrono::DateTime;
use serde_json::{Map, Value};
use tf_provider::value::ValueAny;

use crate::api::path;
use crate::checks;
use crate::spec::{
    no_checks, no_extra, no_query, nothing_after, seg, text, Field, Flow, Kind, Mode, Spec, State,
    FIELD,
};

const ID: Field = Field {
    name: "id",
    mode: Mode::Computed,
    flow: Flow::Local,
    doc: "The object's id.",
    ..FIELD
};
const TENANT: Field = Field {
    name: "tenant",
    mode: Mode::Required,
    flow: Flow::Path,
    replace: true,
    doc: "The tenant's name. Changing it replaces the object.",
    check: Some(checks::identifier),
    ..FIELD
};
const REALM: Field = Field {
    name: "realm",
    mode: Mode::Required,
    flow: Flow::Path,
    replace: true,
    doc: "The realm's name. Changing it replaces the object.",
    check: Some(checks::identifier),
    ..FIELD
};
const CLIENT: Field = Field {
    name: "client_id",
    mode: Mode::Required,
    flow: Flow::Path,
    replace: true,
    doc: "The OAuth client's id (`scimd_oauth_client.<name>.id`). Changing it replaces the object.",
    ..FIELD
};
const DESCRIPTION: Field = Field {
    name: "description",
    mode: Mode::Defaulted,
    doc: "Free text, up to 1000 characters.",
    check: Some(checks::description),
    ..FIELD
};
const CREATED_AT: Field = Field {
    name: "created_at",
    mode: Mode::Computed,
    flow: Flow::Output,
    doc: "When it was created (RFC 3339).",
    ..FIELD
};
const UPDATED_AT: Field = Field {
    name: "updated_at",
    mode: Mode::Computed,
    flow: Flow::Output,
    doc: "When it last changed (RFC 3339).",
    ..FIELD
};
const EXPIRES_AT: Field = Field {
    name: "expires_at",
    mode: Mode::Computed,
    flow: Flow::Output,
    doc: "When it stops working (RFC 3339), or null for never.",
    ..FIELD
};
const LAST_USED_AT: Field = Field {
    name: "last_used_at",
    mode: Mode::Computed,
    flow: Flow::Output,
    doc: "When it was last used (RFC 3339; written every few seconds, so it may lag), or null.",
    ..FIELD
};
const STATUS: Field = Field {
    name: "status",
    mode: Mode::Computed,
    flow: Flow::Output,
    doc: "`active`, or `expired` (tokens also `rotating`, when rotated outside Terraform).",
    ..FIELD
};
const EXPIRES_IN_DAYS: Field = Field {
    name: "expires_in_days",
    kind: Kind::Int,
    mode: Mode::Optional,
    flow: Flow::CreateOnly,
    replace: true,
    doc: "Lifetime in days (1-3650) from creation; unset means no expiry. Changing it replaces the object.",
    check: Some(checks::expires_in_days),
    ..FIELD
};
const FORCE_DESTROY: Field = Field {
    name: "force_destroy",
    kind: Kind::Bool,
    mode: Mode::Optional,
    flow: Flow::Local,
    doc: "Destroy it even when it still holds users or groups, and them with it. Default false: \
          destroying a non-empty one fails and says how many it holds.",
    ..FIELD
};

fn realm_path(s: &State, rest: &[&str]) -> String {
    let mut segs = vec!["v1", "tenants", seg(s, "tenant"), "realms", seg(s, "realm")];
    segs.extend_from_slice(rest);
    path(&segs)
}

fn api_id(obj: &Value, _: &State) -> String {
    obj["id"].as_str().unwrap_or_default().to_owned()
}

fn force(s: &State) -> &'static str {
    if s.get("force_destroy") == Some(&ValueAny::Bool(true)) {
        "?force=true"
    } else {
        ""
    }
}

/// After an import the configuration's `expires_in_days` is not known to the state; when the
/// expiry is a whole number of days after creation (as `expires_in_days` makes it), that
/// number is it, so an imported object plans no change.
fn derive_expiry_days(state: &mut State, obj: &Value) {
    if state
        .get("expires_in_days")
        .is_some_and(|v| *v != ValueAny::Null)
    {
        return;
    }
    let at = |k: &str| {
        obj[k]
            .as_str()
            .and_then(|t| DateTime::parse_from_rfc3339(t).ok())
    };
    if let (Some(created), Some(expires)) = (at("created_at"), at("expires_at")) {
        let secs = (expires - created).num_seconds();
        let days = (secs + 43_200).div_euclid(86_400);
        if days >= 1 && (secs - days * 86_400).abs() <= 2 {
            state.insert("expires_in_days".into(), ValueAny::Number(days));
        }
    }
}

pub static TENANT_SPEC: Spec = Spec {
    type_name: "tenant",
    doc: "A tenant: the top of scimd's tree, holding realms. Only a global admin token can \
          create or destroy one.",
    fields: &[
        ID,
        Field {
            name: "name",
            mode: Mode::Required,
            api: Some("id"),
            replace: true,
            doc: "The tenant's name, part of every URL under it (1-63 of a-z, 0-9, '-'). \
                  Changing it replaces the tenant.",
            check: Some(checks::identifier),
            ..FIELD
        },
        Field {
            name: "display_name",
            mode: Mode::Defaulted,
            doc: "Up to 200 characters; default the name.",
            check: Some(checks::display_name),
            ..FIELD
        },
        DESCRIPTION,
        FORCE_DESTROY,
        CREATED_AT,
        UPDATED_AT,
    ],
    create_path: |_| path(&["v1", "tenants"]),
    read_path: |s| path(&["v1", "tenants", seg(s, "name")]),
    within: None,
    write_path: |s| path(&["v1", "tenants", seg(s, "name")]),
    import: &["name"],
    tf_id: |obj, _| obj["id"].as_str().unwrap_or_default().to_owned(),
    create_extra: no_extra,
    delete_query: force,
    after_read: nothing_after,
    check_all: no_checks,
};

pub static REALM_SPEC: Spec = Spec {
    type_name: "realm",
    doc: "A realm: one directory with its own SCIM base URL, its users and groups, and the \
          credentials identity providers use to write into it.",
    fields: &[
        ID,
        TENANT,
        Field {
            name: "name",
            mode: Mode::Required,
            api: Some("id"),
            replace: true,
            doc: "The realm's name, part of its SCIM base URL. Changing it replaces the realm.",
            check: Some(checks::identifier),
            ..FIELD
        },
        Field {
            name: "display_name",
            mode: Mode::Defaulted,
            doc: "Up to 200 characters; default the name.",
            check: Some(checks::display_name),
            ..FIELD
        },
        DESCRIPTION,
        Field {
            name: "state",
            mode: Mode::Defaulted,
            doc: "`enabled` (the default), `paused` (SCIM calls answered 403, data and \
                  credentials kept) or `disabled` (likewise, for a realm being retired).",
            check: Some(checks::realm_state),
            ..FIELD
        },
        Field {
            name: "auth_methods",
            kind: Kind::StrSet,
            mode: Mode::Defaulted,
            doc: "How identity providers may authenticate: any of `token`, `basic`, `oauth`, \
                  `jwt`; default all four. For an Entra gallery app, `[\"oauth\"]`.",
            check: Some(checks::auth_methods),
            ..FIELD
        },
        FORCE_DESTROY,
        Field {
            name: "scim_base_url",
            mode: Mode::Computed,
            flow: Flow::Output,
            doc: "The realm's SCIM base URL, to paste into the identity provider.",
            ..FIELD
        },
        CREATED_AT,
        UPDATED_AT,
    ],
    create_path: |s| path(&["v1", "tenants", seg(s, "tenant"), "realms"]),
    read_path: |s| path(&["v1", "tenants", seg(s, "tenant"), "realms", seg(s, "name")]),
    within: None,
    write_path: |s| path(&["v1", "tenants", seg(s, "tenant"), "realms", seg(s, "name")]),
    import: &["tenant", "name"],
    tf_id: |obj, s| {
        format!(
            "{}/{}",
            seg(s, "tenant"),
            obj["id"].as_str().unwrap_or_default()
        )
    },
    create_extra: no_extra,
    delete_query: force,
    after_read: nothing_after,
    check_all: no_checks,
};

const SCOPES: Field = Field {
    name: "scopes",
    kind: Kind::StrSet,
    mode: Mode::Defaulted,
    replace: true,
    doc: "`scim:all` (read and write; the default), `scim:read` (GET, .search and \
          discovery only) and/or `events:read` (the realm's change feed only). Changing it \
          replaces the object.",
    check: Some(checks::scim_scopes),
    ..FIELD
};

pub static TOKEN_SPEC: Spec = Spec {
    type_name: "token",
    doc: "A realm's SCIM bearer token. Its value is known only when it is created: it is in \
          `token_value` (sensitive) from then on, and cannot be recovered by an import. Every \
          argument forces a new token.",
    fields: &[
        ID,
        TENANT,
        REALM,
        Field {
            name: "name",
            mode: Mode::Required,
            replace: true,
            doc: "1-100 characters, unique among the realm's live tokens.",
            check: Some(checks::name),
            ..FIELD
        },
        Field {
            replace: true,
            ..DESCRIPTION
        },
        SCOPES,
        EXPIRES_IN_DAYS,
        Field {
            name: "token_value",
            mode: Mode::Computed,
            flow: Flow::Once,
            sensitive: true,
            doc: "The secret, from the create answer only (null after an import).",
            ..FIELD
        },
        STATUS,
        CREATED_AT,
        EXPIRES_AT,
        LAST_USED_AT,
    ],
    create_path: |s| realm_path(s, &["tokens"]),
    read_path: |s| realm_path(s, &["tokens", seg(s, "id")]),
    within: None,
    write_path: |s| realm_path(s, &["tokens", seg(s, "id")]),
    import: &["tenant", "realm", "id"],
    tf_id: api_id,
    create_extra: no_extra,
    delete_query: no_query,
    after_read: derive_expiry_days,
    check_all: no_checks,
};

/// Secrets are resources of their own (`scimd_oauth_client_secret`), so the provider always
/// creates a client without the API's optional first secret.
fn without_first_secret(body: &mut Map<String, Value>) {
    body.insert("issue_secret".into(), Value::Bool(false));
}

pub static OAUTH_CLIENT_SPEC: Spec = Spec {
    type_name: "oauth_client",
    doc: "An OAuth 2.0 client of a realm (client credentials grant), as Microsoft Entra ID's \
          gallery apps use. It authenticates with `scimd_oauth_client_secret`s or \
          `scimd_federated_credential`s; the provider creates it without a secret of its own.",
    fields: &[
        ID,
        TENANT,
        REALM,
        Field {
            name: "name",
            mode: Mode::Required,
            doc: "Unique in the realm, 1-100 characters.",
            check: Some(checks::name),
            ..FIELD
        },
        DESCRIPTION,
        Field {
            name: "scopes",
            kind: Kind::StrSet,
            mode: Mode::Defaulted,
            doc: "What its access tokens may carry at most: `scim:all` (default), `scim:read`. \
                  Changing it revokes the access tokens it holds.",
            check: Some(checks::scim_scopes),
            ..FIELD
        },
        Field {
            name: "enabled",
            kind: Kind::Bool,
            mode: Mode::Defaulted,
            doc: "Default true. Disabling it revokes every access token it holds, at once.",
            ..FIELD
        },
        Field {
            name: "token_lifetime_seconds",
            kind: Kind::Int,
            mode: Mode::Defaulted,
            doc: "Lifetime of the access tokens it gets, 300-86400; default 3600.",
            check: Some(checks::token_lifetime),
            ..FIELD
        },
        Field {
            name: "client_id",
            mode: Mode::Computed,
            flow: Flow::Output,
            doc: "What the identity provider sends as its client id (the same as `id`).",
            ..FIELD
        },
        Field {
            name: "token_endpoint",
            mode: Mode::Computed,
            flow: Flow::Output,
            doc: "The realm's token endpoint, to paste into the identity provider.",
            ..FIELD
        },
        CREATED_AT,
        UPDATED_AT,
    ],
    create_path: |s| realm_path(s, &["oauth-clients"]),
    read_path: |s| realm_path(s, &["oauth-clients", seg(s, "id")]),
    within: None,
    write_path: |s| realm_path(s, &["oauth-clients", seg(s, "id")]),
    import: &["tenant", "realm", "id"],
    tf_id: api_id,
    create_extra: without_first_secret,
    delete_query: no_query,
    after_read: nothing_after,
    check_all: no_checks,
};

pub static CLIENT_SECRET_SPEC: Spec = Spec {
    type_name: "oauth_client_secret",
    doc: "A client secret of an OAuth client (at most five live per client). Its value is \
          known only when it is created. To rotate without downtime, add a new secret, switch \
          the identity provider to it, then remove the old one.",
    fields: &[
        ID,
        TENANT,
        REALM,
        CLIENT,
        Field {
            replace: true,
            ..DESCRIPTION
        },
        EXPIRES_IN_DAYS,
        Field {
            name: "client_secret",
            mode: Mode::Computed,
            flow: Flow::Once,
            sensitive: true,
            doc: "The secret (`scimd_cs_...`), from the create answer only (null after an import).",
            ..FIELD
        },
        STATUS,
        CREATED_AT,
        EXPIRES_AT,
        LAST_USED_AT,
    ],
    create_path: |s| realm_path(s, &["oauth-clients", seg(s, "client_id"), "secrets"]),
    read_path: |s| realm_path(s, &["oauth-clients", seg(s, "client_id")]),
    within: Some("secrets"),
    write_path: |s| {
        realm_path(
            s,
            &[
                "oauth-clients",
                seg(s, "client_id"),
                "secrets",
                seg(s, "id"),
            ],
        )
    },
    import: &["tenant", "realm", "client_id", "id"],
    tf_id: api_id,
    create_extra: no_extra,
    delete_query: no_query,
    after_read: derive_expiry_days,
    check_all: no_checks,
};

fn federated_checks(s: &State) -> Vec<(&'static str, String)> {
    let set = |k: &str| !matches!(s.get(k), None | Some(ValueAny::Null));
    let mut problems = Vec::new();
    if text(s, "preset").is_some() {
        if !set("entra_tenant_id") {
            problems.push((
                "entra_tenant_id",
                "the entra preset needs entra_tenant_id".to_owned(),
            ));
        }
        for k in ["issuer", "jwks_url"] {
            if set(k) {
                problems.push((
                    if k == "issuer" { "issuer" } else { "jwks_url" },
                    format!("the entra preset sets {k} from entra_tenant_id; omit it"),
                ));
            }
        }
    } else if !matches!(s.get("preset"), Some(ValueAny::Unknown)) {
        if !set("issuer") {
            problems.push((
                "issuer",
                "issuer is required (or preset = \"entra\")".to_owned(),
            ));
        }
        if set("entra_tenant_id") {
            problems.push((
                "entra_tenant_id",
                "entra_tenant_id goes with preset = \"entra\"".to_owned(),
            ));
        }
    }
    problems
}

pub static FEDERATED_SPEC: Spec = Spec {
    type_name: "federated_credential",
    doc: "A federated credential of an OAuth client (workload identity federation): the \
          client authenticates at the token endpoint with a JWT its issuer signed, instead of \
          a secret. Every argument forces a new credential.",
    fields: &[
        ID,
        TENANT,
        REALM,
        CLIENT,
        Field {
            name: "name",
            mode: Mode::Defaulted,
            replace: true,
            doc: "A name for people.",
            ..FIELD
        },
        Field {
            name: "preset",
            mode: Mode::Optional,
            flow: Flow::CreateOnly,
            replace: true,
            doc: "`entra`: issuer and JWKS URL of a Microsoft Entra ID tenant, from `entra_tenant_id`.",
            check: Some(checks::preset),
            ..FIELD
        },
        Field {
            name: "entra_tenant_id",
            mode: Mode::Optional,
            flow: Flow::CreateOnly,
            replace: true,
            doc: "With `preset = \"entra\"`: the directory (tenant) id, a GUID.",
            check: Some(checks::guid),
            ..FIELD
        },
        Field {
            name: "issuer",
            mode: Mode::Defaulted,
            replace: true,
            doc: "The JWT's `iss`, exactly (set by the preset when one is given).",
            ..FIELD
        },
        Field {
            name: "subject",
            mode: Mode::Required,
            replace: true,
            doc: "The JWT's `sub`, exactly.",
            ..FIELD
        },
        Field {
            name: "audience",
            mode: Mode::Required,
            replace: true,
            doc: "A value the JWT's `aud` must hold.",
            ..FIELD
        },
        Field {
            name: "jwks_url",
            mode: Mode::Defaulted,
            replace: true,
            doc: "Where the issuer's keys are (https); unset: from the issuer's OpenID discovery.",
            ..FIELD
        },
        CREATED_AT,
        LAST_USED_AT,
    ],
    create_path: |s| {
        realm_path(s, &["oauth-clients", seg(s, "client_id"), "federated-credentials"])
    },
    read_path: |s| realm_path(s, &["oauth-clients", seg(s, "client_id")]),
    within: Some("federated_credentials"),
    write_path: |s| {
        realm_path(
            s,
            &["oauth-clients", seg(s, "client_id"), "federated-credentials", seg(s, "id")],
        )
    },
    import: &["tenant", "realm", "client_id", "id"],
    tf_id: api_id,
    create_extra: no_extra,
    delete_query: no_query,
    after_read: nothing_after,
    check_all: federated_checks,
};

pub static BASIC_SPEC: Spec = Spec {
    type_name: "basic_credential",
    doc: "An HTTP Basic credential of a realm, for identity providers that offer only Basic \
          (Okta's Basic Auth, PingFederate, SailPoint, JumpCloud). Without `password` scimd \
          generates one, returned once in `password`. Every argument forces a new credential.",
    fields: &[
        ID,
        TENANT,
        REALM,
        Field {
            name: "username",
            mode: Mode::Required,
            replace: true,
            doc: "Exact (case-sensitive), no ':', unique in the realm.",
            check: Some(checks::basic_username),
            ..FIELD
        },
        Field {
            name: "password",
            mode: Mode::Defaulted,
            flow: Flow::CreateOnly,
            replace: true,
            sensitive: true,
            doc: "16-256 characters, kept as Argon2id; unset: scimd generates one (faster to \
                  check) and it appears here once.",
            check: Some(checks::basic_password),
            ..FIELD
        },
        Field {
            replace: true,
            ..SCOPES
        },
        Field {
            replace: true,
            ..DESCRIPTION
        },
        EXPIRES_IN_DAYS,
        Field {
            name: "password_kind",
            mode: Mode::Computed,
            flow: Flow::Output,
            doc: "`generated` or `chosen`.",
            ..FIELD
        },
        STATUS,
        CREATED_AT,
        EXPIRES_AT,
        LAST_USED_AT,
    ],
    create_path: |s| realm_path(s, &["basic-credentials"]),
    read_path: |s| realm_path(s, &["basic-credentials", seg(s, "id")]),
    within: None,
    write_path: |s| realm_path(s, &["basic-credentials", seg(s, "id")]),
    import: &["tenant", "realm", "id"],
    tf_id: api_id,
    create_extra: no_extra,
    delete_query: no_query,
    after_read: derive_expiry_days,
    check_all: no_checks,
};

fn trusted_checks(s: &State) -> Vec<(&'static str, String)> {
    let set = |k: &str| !matches!(s.get(k), None | Some(ValueAny::Null));
    let mut problems = federated_checks(s);
    if !set("preset") && !set("audience") {
        problems.push((
            "audience",
            "audience is required: the aud the issuer's tokens for scimd carry".to_owned(),
        ));
    }
    if set("scope_claim") != set("scope_values") {
        problems.push((
            if set("scope_claim") { "scope_values" } else { "scope_claim" },
            "scope_claim and scope_values go together: the claim, and which of its values grant which scope"
                .to_owned(),
        ));
    }
    if set("scope_claim") && set("scopes") {
        problems.push((
            "scopes",
            "give scopes (the same for every token) or scope_claim with scope_values, not both"
                .to_owned(),
        ));
    }
    problems
}

pub static TRUSTED_ISSUER_SPEC: Spec = Spec {
    type_name: "trusted_issuer",
    doc: "A trusted issuer of a realm (JWT bearer): the realm's SCIM endpoints accept JWTs it \
          signed as bearer tokens, for the configured audience (and subject). For Microsoft \
          Entra ID's own provisioning token, `preset = \"entra\"` with the directory id.",
    fields: &[
        ID,
        TENANT,
        REALM,
        Field {
            name: "name",
            mode: Mode::Required,
            doc: "Unique in the realm, 1-100 characters.",
            check: Some(checks::name),
            ..FIELD
        },
        Field {
            name: "preset",
            mode: Mode::Optional,
            flow: Flow::CreateOnly,
            replace: true,
            doc: "`entra`: Entra ID's provisioning token (issuer `https://sts.windows.net/{tenant id}/`, \
                  its keys, and audience `8adf8e6e-67b2-4cf2-a259-e3dc5476c621` unless given).",
            check: Some(checks::preset),
            ..FIELD
        },
        Field {
            name: "entra_tenant_id",
            mode: Mode::Optional,
            flow: Flow::CreateOnly,
            replace: true,
            doc: "With `preset = \"entra\"`: the directory (tenant) id, a GUID.",
            check: Some(checks::guid),
            ..FIELD
        },
        Field {
            name: "issuer",
            mode: Mode::Defaulted,
            replace: true,
            doc: "The JWTs' `iss`, exactly (set by the preset when one is given). Changing it \
                  replaces the trusted issuer.",
            ..FIELD
        },
        Field {
            name: "audience",
            mode: Mode::Defaulted,
            doc: "A value the JWTs' `aud` must hold (required without a preset).",
            ..FIELD
        },
        Field {
            name: "subject",
            mode: Mode::Optional,
            doc: "Only JWTs for this `sub`; unset: any subject of the issuer.",
            ..FIELD
        },
        Field {
            name: "jwks_url",
            mode: Mode::Defaulted,
            doc: "Where the issuer's keys are (https); unset: from the issuer's OpenID discovery \
                  (the preset sets it).",
            ..FIELD
        },
        Field {
            name: "scopes",
            kind: Kind::StrSet,
            mode: Mode::Defaulted,
            doc: "The scopes every JWT gets (`scim:all` by default, or `scim:read`); empty when \
                  `scope_claim` decides.",
            check: Some(checks::scim_scopes),
            ..FIELD
        },
        Field {
            name: "scope_claim",
            mode: Mode::Optional,
            doc: "Instead of fixed `scopes`: the claim (e.g. `scp`, `roles`) whose values grant scopes.",
            ..FIELD
        },
        Field {
            name: "scope_values",
            kind: Kind::StrMap,
            mode: Mode::Optional,
            doc: "With `scope_claim`: claim value to scope, e.g. `{ \"scim.write\" = \"scim:all\" }`.",
            check: Some(checks::scope_values),
            ..FIELD
        },
        Field {
            name: "enabled",
            kind: Kind::Bool,
            mode: Mode::Defaulted,
            doc: "Default true; false refuses its JWTs at once, on every replica.",
            ..FIELD
        },
        CREATED_AT,
        UPDATED_AT,
        LAST_USED_AT,
    ],
    create_path: |s| realm_path(s, &["trusted-issuers"]),
    read_path: |s| realm_path(s, &["trusted-issuers", seg(s, "id")]),
    within: None,
    write_path: |s| realm_path(s, &["trusted-issuers", seg(s, "id")]),
    import: &["tenant", "realm", "id"],
    tf_id: api_id,
    create_extra: no_extra,
    delete_query: no_query,
    after_read: nothing_after,
    check_all: trusted_checks,
};

pub static ALL: [&Spec; 8] = [
    &TENANT_SPEC,
    &REALM_SPEC,
    &TOKEN_SPEC,
    &OAUTH_CLIENT_SPEC,
    &CLIENT_SECRET_SPEC,
    &FEDERATED_SPEC,
    &BASIC_SPEC,
    &TRUSTED_ISSUER_SPEC,
];

#[cfg(test)]
mod tests {
    use super::*;
    use crate::resource::{absorb, create_body, import_state, plan_new, replacements, update_body};
    use serde_json::json;

    fn s(v: &str) -> ValueAny {
        ValueAny::String(v.into())
    }

    fn token_state() -> State {
        let mut st = TOKEN_SPEC.empty_state();
        st.insert("tenant".into(), s("acme"));
        st.insert("realm".into(), s("okta"));
        st.insert("name".into(), s("okta-provisioning"));
        st.insert("expires_in_days".into(), ValueAny::Number(90));
        st
    }

    #[test]
    fn every_resource_has_an_id_and_its_import_fields() {
        for spec in ALL {
            assert!(spec.field("id").is_some(), "{}", spec.type_name);
            for f in spec.import {
                assert!(spec.field(f).is_some(), "{}: {f}", spec.type_name);
            }
        }
    }

    #[test]
    fn a_token_create_sends_what_was_set_and_not_the_url_segments() {
        let body = create_body(&TOKEN_SPEC, &token_state());
        assert_eq!(
            json!(body),
            json!({"name": "okta-provisioning", "expires_in_days": 90})
        );
    }

    #[test]
    fn the_token_value_is_kept_from_the_create_answer_through_later_reads() {
        let mut st = plan_new(&TOKEN_SPEC, token_state());
        assert_eq!(st["token_value"], ValueAny::Unknown);
        let created = json!({"id": "0190", "name": "okta-provisioning", "description": "",
            "scopes": ["scim:all"], "status": "active", "created_at": "2026-12-07T10:00:00Z",
            "expires_at": "2027-03-07T10:00:00Z", "last_used_at": null, "token_value": "scimd_x"});
        absorb(&TOKEN_SPEC, &mut st, &created);
        assert_eq!(st["id"], s("0190"));
        assert_eq!(st["token_value"], s("scimd_x"));
        assert_eq!(
            st["last_used_at"],
            ValueAny::Null,
            "unknowns are resolved after apply"
        );
        let mut read = created.clone();
        read.as_object_mut().unwrap().remove("token_value");
        read["last_used_at"] = json!("2026-12-07T11:00:00Z");
        absorb(&TOKEN_SPEC, &mut st, &read);
        assert_eq!(st["token_value"], s("scimd_x"));
        assert_eq!(st["last_used_at"], s("2026-12-07T11:00:00Z"));
        assert_eq!(st["expires_in_days"], ValueAny::Number(90));
    }

    #[test]
    fn an_imported_token_gets_expires_in_days_back_from_its_dates() {
        let mut st = import_state(&TOKEN_SPEC, "acme/okta/0190").unwrap();
        assert_eq!(st["realm"], s("okta"));
        let read = json!({"id": "0190", "name": "n", "created_at": "2026-12-07T10:00:00.123Z",
            "expires_at": "2027-03-07T10:00:00.123Z"});
        absorb(&TOKEN_SPEC, &mut st, &read);
        assert_eq!(st["expires_in_days"], ValueAny::Number(90));
        assert_eq!(st["token_value"], ValueAny::Null);
        // An expiry given as an instant is not a number of days: left unset.
        let mut st = import_state(&TOKEN_SPEC, "acme/okta/0190").unwrap();
        let read = json!({"id": "0190", "created_at": "2026-12-07T10:00:00Z",
            "expires_at": "2026-12-09T13:30:00Z"});
        absorb(&TOKEN_SPEC, &mut st, &read);
        assert_eq!(st["expires_in_days"], ValueAny::Null);
    }

    #[test]
    fn import_ids_must_have_every_segment() {
        assert!(import_state(&TOKEN_SPEC, "acme/okta")
            .unwrap_err()
            .contains("tenant/realm/id"));
        assert!(import_state(&TOKEN_SPEC, "acme//0190").is_err());
        let st = import_state(&REALM_SPEC, "acme/prod").unwrap();
        assert_eq!(
            (st["tenant"].clone(), st["name"].clone()),
            (s("acme"), s("prod"))
        );
    }

    #[test]
    fn renaming_a_token_replaces_it_but_renaming_a_realm_display_name_does_not() {
        let prior = token_state();
        let mut renamed = prior.clone();
        renamed.insert("name".into(), s("okta-2"));
        assert_eq!(replacements(&TOKEN_SPEC, &prior, &renamed), vec!["name"]);

        let mut realm = REALM_SPEC.empty_state();
        realm.insert("tenant".into(), s("acme"));
        realm.insert("name".into(), s("prod"));
        realm.insert("display_name".into(), s("Prod"));
        let mut changed = realm.clone();
        changed.insert("display_name".into(), s("Production"));
        changed.insert("force_destroy".into(), ValueAny::Bool(true));
        assert!(replacements(&REALM_SPEC, &realm, &changed).is_empty());
        assert_eq!(
            json!(update_body(&REALM_SPEC, &realm, &changed)),
            json!({"display_name": "Production"})
        );
    }

    #[test]
    fn a_realm_is_read_by_tenant_and_name_and_destroyed_with_force_only_when_asked() {
        let mut st = REALM_SPEC.empty_state();
        st.insert("tenant".into(), s("acme"));
        st.insert("name".into(), s("prod"));
        assert_eq!((REALM_SPEC.read_path)(&st), "/v1/tenants/acme/realms/prod");
        assert_eq!((REALM_SPEC.delete_query)(&st), "");
        st.insert("force_destroy".into(), ValueAny::Bool(true));
        assert_eq!((REALM_SPEC.delete_query)(&st), "?force=true");
        absorb(
            &REALM_SPEC,
            &mut st,
            &json!({"id": "prod", "tenant_id": "acme",
            "scim_base_url": "http://x/v1/tenants/acme/realms/prod/scim/v2"}),
        );
        assert_eq!(st["id"], s("acme/prod"));
    }

    #[test]
    fn an_oauth_client_is_created_without_a_secret_of_its_own() {
        let mut st = OAUTH_CLIENT_SPEC.empty_state();
        st.insert("name".into(), s("entra"));
        assert_eq!(
            json!(create_body(&OAUTH_CLIENT_SPEC, &st)),
            json!({"name": "entra", "issue_secret": false})
        );
    }

    #[test]
    fn secrets_and_federated_credentials_live_under_their_client() {
        let st = import_state(&CLIENT_SECRET_SPEC, "acme/entra/c1/s1").unwrap();
        assert_eq!(
            (CLIENT_SECRET_SPEC.read_path)(&st),
            "/v1/tenants/acme/realms/entra/oauth-clients/c1"
        );
        assert_eq!(
            (CLIENT_SECRET_SPEC.write_path)(&st),
            "/v1/tenants/acme/realms/entra/oauth-clients/c1/secrets/s1"
        );
        let st = import_state(&FEDERATED_SPEC, "acme/entra/c1/f1").unwrap();
        assert_eq!(
            (FEDERATED_SPEC.write_path)(&st),
            "/v1/tenants/acme/realms/entra/oauth-clients/c1/federated-credentials/f1"
        );
    }

    #[test]
    fn a_federated_credential_needs_an_issuer_or_the_entra_preset_but_not_both() {
        let mut st = FEDERATED_SPEC.empty_state();
        assert_eq!(federated_checks(&st)[0].0, "issuer");
        st.insert("preset".into(), s("entra"));
        assert_eq!(federated_checks(&st)[0].0, "entra_tenant_id");
        st.insert(
            "entra_tenant_id".into(),
            s("72f988bf-86f1-41af-91ab-2d7cd011db47"),
        );
        assert!(federated_checks(&st).is_empty());
        st.insert(
            "issuer".into(),
            s("https://login.microsoftonline.com/x/v2.0"),
        );
        assert_eq!(federated_checks(&st)[0].0, "issuer");
    }

    #[test]
    fn a_generated_basic_password_comes_from_the_create_answer_a_chosen_one_stays() {
        let mut st = BASIC_SPEC.empty_state();
        st.insert("username".into(), s("okta"));
        let mut planned = plan_new(&BASIC_SPEC, st.clone());
        assert_eq!(planned["password"], ValueAny::Unknown);
        absorb(
            &BASIC_SPEC,
            &mut planned,
            &json!({"id": "b1", "username": "okta", "password": "scimd_basic_x"}),
        );
        assert_eq!(planned["password"], s("scimd_basic_x"));

        st.insert("password".into(), s("a-chosen-password-1"));
        let mut planned = plan_new(&BASIC_SPEC, st);
        assert_eq!(planned["password"], s("a-chosen-password-1"));
        absorb(
            &BASIC_SPEC,
            &mut planned,
            &json!({"id": "b2", "username": "okta"}),
        );
        assert_eq!(planned["password"], s("a-chosen-password-1"));
    }

    #[test]
    fn a_trusted_issuer_maps_a_claim_or_grants_fixed_scopes_but_not_both() {
        let mut st = TRUSTED_ISSUER_SPEC.empty_state();
        st.insert("issuer".into(), s("https://acme.okta.com/oauth2/default"));
        st.insert("audience".into(), s("api://scimd"));
        assert!(trusted_checks(&st).is_empty());
        st.insert("scope_claim".into(), s("scp"));
        assert_eq!(trusted_checks(&st)[0].0, "scope_values");
        st.insert(
            "scope_values".into(),
            ValueAny::Map([("scim.write".to_owned(), s("scim:all"))].into()),
        );
        assert!(trusted_checks(&st).is_empty());
        st.insert("scopes".into(), ValueAny::List(vec![s("scim:all")]));
        assert_eq!(trusted_checks(&st)[0].0, "scopes");
    }

    #[test]
    fn an_optional_argument_taken_out_of_the_configuration_is_cleared() {
        let mut prior = TRUSTED_ISSUER_SPEC.empty_state();
        prior.insert("subject".into(), s("okta-app"));
        prior.insert("audience".into(), s("api://scimd"));
        let mut planned = prior.clone();
        planned.insert("subject".into(), ValueAny::Null);
        assert_eq!(
            json!(update_body(&TRUSTED_ISSUER_SPEC, &prior, &planned)),
            json!({"subject": null})
        );
    }

    #[test]
    fn a_problem_on_an_api_field_points_at_the_terraform_attribute() {
        assert_eq!(TENANT_SPEC.field_for_api("id"), Some("name"));
        assert_eq!(
            TOKEN_SPEC.field_for_api("expires_in_days"),
            Some("expires_in_days")
        );
    }
}
