//! The provider: its settings (`endpoint`, `token`, or `SCIMD_ENDPOINT` / `SCIMD_ADMIN_TOKEN`),
//! and the resources and data sources it serves.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use tf_provider::schema::{
    Attribute, AttributeConstraint, AttributeType, Block, Description, Schema,
};
use tf_provider::value::{ValueEmpty, ValueString};
use tf_provider::{
    map, AttributePath, Diagnostic, Diagnostics, DynamicDataSource, DynamicResource, Provider,
};

use crate::api::Api;
use crate::data::{RealmData, TokensData};
use crate::resource::ApiResource;
use crate::resources::ALL;

/// The configured client, shared by every resource (they are built before `configure`).
pub type Shared = Arc<RwLock<Option<Api>>>;

pub fn client(shared: &Shared, diags: &mut Diagnostics) -> Option<Api> {
    let api = shared.read().ok().and_then(|g| g.clone());
    if api.is_none() {
        diags.root_error_short("the scimd provider is not configured (endpoint and token)");
    }
    api
}

#[derive(Debug, Default, Clone, Serialize, Deserialize)]
pub struct Config<'a> {
    #[serde(borrow)]
    pub endpoint: ValueString<'a>,
    #[serde(borrow)]
    pub token: ValueString<'a>,
}

#[derive(Default)]
pub struct ScimdProvider {
    api: Shared,
}

/// A setting from the configuration, else from the environment.
fn setting(v: &ValueString<'_>, env: &str) -> Result<Option<String>, ()> {
    match v {
        ValueString::Value(s) if !s.is_empty() => Ok(Some(s.to_string())),
        ValueString::Unknown => Err(()),
        _ => Ok(std::env::var(env).ok().filter(|s| !s.is_empty())),
    }
}

#[async_trait]
impl Provider for ScimdProvider {
    type Config<'a> = Config<'a>;
    type MetaState<'a> = ValueEmpty;

    fn schema(&self, _diags: &mut Diagnostics) -> Option<Schema> {
        Some(Schema {
            version: 0,
            block: Block {
                version: 0,
                description: Description::markdown(
                    "Manages scimd (a SCIM 2.0 server) through its admin API: tenants, realms, \
                     SCIM tokens, OAuth clients and their secrets and federated credentials, \
                     Basic credentials, trusted JWT issuers.",
                ),
                attributes: map! {
                    "endpoint" => Attribute {
                        attr_type: AttributeType::String,
                        description: Description::markdown(
                            "The server's origin, e.g. `https://scimd.example.com` (also `SCIMD_ENDPOINT`)."),
                        constraint: AttributeConstraint::Optional,
                        ..Default::default()
                    },
                    "token" => Attribute {
                        attr_type: AttributeType::String,
                        description: Description::markdown(
                            "An admin token (`scimd_admin_...`; also `SCIMD_ADMIN_TOKEN`). A tenant \
                             admin token manages only its tenant's realms."),
                        constraint: AttributeConstraint::Optional,
                        sensitive: true,
                        ..Default::default()
                    },
                },
                ..Default::default()
            },
        })
    }

    async fn configure<'a>(
        &self,
        diags: &mut Diagnostics,
        _tf: String,
        config: Config<'a>,
    ) -> Option<()> {
        let unknown = |d: &mut Diagnostics, f: &'static str| {
            d.add_error(Diagnostic::new(
                format!("{f} is not known until apply"),
                "the provider's settings must be known at plan time",
                AttributePath::new(f),
            ))
        };
        let endpoint = setting(&config.endpoint, "SCIMD_ENDPOINT")
            .map_err(|_| unknown(diags, "endpoint"))
            .ok()?;
        let token = setting(&config.token, "SCIMD_ADMIN_TOKEN")
            .map_err(|_| unknown(diags, "token"))
            .ok()?;
        let (Some(endpoint), Some(token)) = (endpoint, token) else {
            diags.root_error(
                "scimd provider settings missing",
                "set endpoint and token in the provider block, or SCIMD_ENDPOINT and SCIMD_ADMIN_TOKEN",
            );
            return None;
        };
        match Api::new(&endpoint, &token) {
            Ok(api) => {
                if let Ok(mut g) = self.api.write() {
                    *g = Some(api);
                }
                Some(())
            }
            Err(e) => {
                diags.add_error(Diagnostic::new(
                    "Invalid endpoint",
                    e,
                    AttributePath::new("endpoint"),
                ));
                None
            }
        }
    }

    fn get_resources(
        &self,
        _diags: &mut Diagnostics,
    ) -> Option<HashMap<String, Box<dyn DynamicResource>>> {
        Some(
            ALL.iter()
                .map(|spec| {
                    let r: Box<dyn DynamicResource> = Box::new(ApiResource {
                        spec,
                        api: self.api.clone(),
                    });
                    (spec.type_name.to_owned(), r)
                })
                .collect(),
        )
    }

    fn get_data_sources(
        &self,
        _diags: &mut Diagnostics,
    ) -> Option<HashMap<String, Box<dyn DynamicDataSource>>> {
        Some(map! {
            "realm" => RealmData { api: self.api.clone() },
            "tokens" => TokensData { api: self.api.clone() },
        })
    }
}
