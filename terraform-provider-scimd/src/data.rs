//! Data sources: `scimd_realm` (one realm and its SCIM base URL) and `scimd_tokens` (a
//! realm's tokens, never their values).

use std::collections::{BTreeMap, HashMap};

use async_trait::async_trait;
use serde_json::Value;
use tf_provider::schema::{AttributeType, Schema};
use tf_provider::value::{ValueAny, ValueEmpty};
use tf_provider::{DataSource, Diagnostics};

use crate::api::path;
use crate::provider::{client, Shared};
use crate::resource::report;
use crate::resources::{REALM_SPEC, TOKEN_SPEC};
use crate::spec::{attr_type, from_json, schema, seg, Field, Flow, Kind, Mode, State, FIELD};

pub const REALM_FIELDS: &[Field] = &[
    Field {
        name: "id",
        mode: Mode::Computed,
        doc: "`tenant/name`.",
        ..FIELD
    },
    Field {
        name: "tenant",
        mode: Mode::Required,
        doc: "The tenant's name.",
        ..FIELD
    },
    Field {
        name: "name",
        mode: Mode::Required,
        doc: "The realm's name.",
        ..FIELD
    },
    Field {
        name: "display_name",
        mode: Mode::Computed,
        doc: "Its display name.",
        ..FIELD
    },
    Field {
        name: "description",
        mode: Mode::Computed,
        doc: "Its description.",
        ..FIELD
    },
    Field {
        name: "state",
        mode: Mode::Computed,
        doc: "`enabled`, `paused` or `disabled`.",
        ..FIELD
    },
    Field {
        name: "auth_methods",
        kind: Kind::StrSet,
        mode: Mode::Computed,
        doc: "How identity providers may authenticate.",
        ..FIELD
    },
    Field {
        name: "scim_base_url",
        mode: Mode::Computed,
        doc: "The SCIM base URL.",
        ..FIELD
    },
    Field {
        name: "users",
        kind: Kind::Int,
        mode: Mode::Computed,
        doc: "How many users it holds.",
        ..FIELD
    },
    Field {
        name: "groups",
        kind: Kind::Int,
        mode: Mode::Computed,
        doc: "How many groups it holds.",
        ..FIELD
    },
    Field {
        name: "created_at",
        mode: Mode::Computed,
        doc: "When it was created.",
        ..FIELD
    },
    Field {
        name: "updated_at",
        mode: Mode::Computed,
        doc: "When it last changed.",
        ..FIELD
    },
];

/// What `scimd_tokens` tells of each token.
const TOKEN_ITEM: &[(&str, Kind)] = &[
    ("id", Kind::Str),
    ("name", Kind::Str),
    ("description", Kind::Str),
    ("scopes", Kind::StrSet),
    ("status", Kind::Str),
    ("created_at", Kind::Str),
    ("expires_at", Kind::Str),
    ("last_used_at", Kind::Str),
];

pub const TOKENS_FIELDS: &[Field] = &[
    Field {
        name: "id",
        mode: Mode::Computed,
        doc: "`tenant/realm`.",
        ..FIELD
    },
    Field {
        name: "tenant",
        mode: Mode::Required,
        doc: "The tenant's name.",
        ..FIELD
    },
    Field {
        name: "realm",
        mode: Mode::Required,
        doc: "The realm's name.",
        ..FIELD
    },
    Field {
        name: "name",
        mode: Mode::Optional,
        doc: "Only the tokens of this name.",
        ..FIELD
    },
];

/// The list attribute of `scimd_tokens`, for the docs.
#[cfg(test)]
pub const TOKENS_ATTRIBUTE: (&str, &str, &str) = (
    "tokens",
    "List of Object",
    "The realm's tokens in creation order, each with `id`, `name`, `description`, `scopes`, \
     `status`, `created_at`, `expires_at`, `last_used_at` (never the value).",
);

pub struct RealmData {
    pub api: Shared,
}

#[async_trait]
impl DataSource for RealmData {
    type State<'a> = State;
    type ProviderMetaState<'a> = ValueEmpty;

    fn schema(&self, _diags: &mut Diagnostics) -> Option<Schema> {
        Some(schema(
            "Reads a realm: its state, how identity providers may authenticate, its SCIM base URL and its counts.",
            REALM_FIELDS.iter().map(|f| (f, f.mode)),
        ))
    }

    async fn read<'a>(
        &self,
        diags: &mut Diagnostics,
        config: State,
        _meta: ValueEmpty,
    ) -> Option<State> {
        let api = client(&self.api, diags)?;
        let (tenant, name) = (seg(&config, "tenant"), seg(&config, "name"));
        match api
            .get(&path(&["v1", "tenants", tenant, "realms", name]))
            .await
        {
            Ok(Some(obj)) => Some(realm_state(&config, &obj)),
            Ok(None) => {
                diags.root_error(
                    "scimd_realm: not found",
                    format!("no realm {tenant}/{name} (or the admin token cannot see it)"),
                );
                None
            }
            Err(e) => {
                report(&REALM_SPEC, diags, "read", e);
                None
            }
        }
    }
}

fn realm_state(config: &State, obj: &Value) -> State {
    let mut state = config.clone();
    for f in REALM_FIELDS
        .iter()
        .filter(|f| f.mode == Mode::Computed && f.name != "id")
    {
        state.insert(f.name.to_owned(), from_json(f.kind, obj.get(f.name)));
    }
    state.insert(
        "id".into(),
        ValueAny::String(format!("{}/{}", seg(config, "tenant"), seg(config, "name"))),
    );
    state
}

pub struct TokensData {
    pub api: Shared,
}

fn token_item(obj: &Value) -> ValueAny {
    ValueAny::Map(
        TOKEN_ITEM
            .iter()
            .map(|(k, kind)| ((*k).to_owned(), from_json(*kind, obj.get(*k))))
            .collect::<BTreeMap<_, _>>(),
    )
}

#[async_trait]
impl DataSource for TokensData {
    type State<'a> = State;
    type ProviderMetaState<'a> = ValueEmpty;

    fn schema(&self, _diags: &mut Diagnostics) -> Option<Schema> {
        let mut s = schema(
            "Lists a realm's SCIM tokens (never their values), in creation order.",
            TOKENS_FIELDS.iter().map(|f| (f, f.mode)),
        );
        let item: HashMap<String, AttributeType> = TOKEN_ITEM
            .iter()
            .map(|(k, kind)| ((*k).to_owned(), attr_type(*kind)))
            .collect();
        let tokens = Field {
            name: "tokens",
            mode: Mode::Computed,
            flow: Flow::Output,
            doc: "Each token: id, name, description, scopes, status, created_at, expires_at, last_used_at.",
            ..FIELD
        };
        let mut attr = schema("", std::iter::once((&tokens, Mode::Computed)))
            .block
            .attributes
            .remove("tokens")
            .expect("one attribute");
        attr.attr_type = AttributeType::List(Box::new(AttributeType::Object(item)));
        s.block.attributes.insert("tokens".into(), attr);
        Some(s)
    }

    async fn read<'a>(
        &self,
        diags: &mut Diagnostics,
        config: State,
        _meta: ValueEmpty,
    ) -> Option<State> {
        let api = client(&self.api, diags)?;
        let (tenant, realm) = (seg(&config, "tenant"), seg(&config, "realm"));
        let base = path(&["v1", "tenants", tenant, "realms", realm, "tokens"]);
        let name = match config.get("name") {
            Some(ValueAny::String(n)) => format!(
                "&name={}",
                percent_encoding::utf8_percent_encode(n, percent_encoding::NON_ALPHANUMERIC)
            ),
            _ => String::new(),
        };
        let mut items = Vec::new();
        let mut cursor: Option<String> = None;
        loop {
            let mut url = format!("{base}?limit=200{name}");
            if let Some(c) = &cursor {
                url.push_str("&cursor=");
                url.extend(percent_encoding::utf8_percent_encode(
                    c,
                    percent_encoding::NON_ALPHANUMERIC,
                ));
            }
            let page = match api.get(&url).await {
                Ok(Some(page)) => page,
                Ok(None) => {
                    diags.root_error(
                        "scimd_tokens: not found",
                        format!("no realm {tenant}/{realm} (or the admin token cannot see it)"),
                    );
                    return None;
                }
                Err(e) => {
                    report(&TOKEN_SPEC, diags, "list", e);
                    return None;
                }
            };
            items.extend(
                page["items"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .map(token_item),
            );
            match page["next_cursor"].as_str() {
                Some(c) if !c.is_empty() => cursor = Some(c.to_owned()),
                _ => break,
            }
        }
        let mut state = config.clone();
        state.insert("tokens".into(), ValueAny::List(items));
        state.insert("id".into(), ValueAny::String(format!("{tenant}/{realm}")));
        Some(state)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_token_item_has_every_attribute_even_when_the_api_leaves_one_out() {
        let ValueAny::Map(m) =
            token_item(&json!({"id": "t1", "name": "okta", "scopes": ["scim:all"]}))
        else {
            panic!("a map")
        };
        assert_eq!(m.len(), TOKEN_ITEM.len());
        assert_eq!(m["last_used_at"], ValueAny::Null);
        assert_eq!(m["name"], ValueAny::String("okta".into()));
    }

    #[test]
    fn the_realm_data_source_reads_counts_and_the_base_url() {
        let mut config = State::new();
        config.insert("tenant".into(), ValueAny::String("acme".into()));
        config.insert("name".into(), ValueAny::String("prod".into()));
        let st = realm_state(
            &config,
            &json!({"id": "prod", "users": 3, "groups": 1,
            "scim_base_url": "https://s/v1/tenants/acme/realms/prod/scim/v2"}),
        );
        assert_eq!(st["users"], ValueAny::Number(3));
        assert_eq!(st["id"], ValueAny::String("acme/prod".into()));
        assert_eq!(st.len(), REALM_FIELDS.len());
    }
}
