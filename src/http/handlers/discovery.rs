//! RFC 7644 §4 discovery: ServiceProviderConfig, ResourceTypes, Schemas.

use std::sync::Arc;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use axum::Extension;
use serde_json::Value;

use crate::http::error::ApiResult;
use crate::http::extract::{Param, QueryParams, ResourceId};
use crate::http::response::scim_json;
use crate::http::state::AppState;
use crate::scim::discovery::{resource_type, service_provider_config, RESOURCE_KINDS};
use crate::scim::list::{list_response, Page};
use crate::scim::schema::Registry;
use crate::scim::ScimError;
use crate::service::resources::RealmCtx;

/// RFC 7644 §4: discovery endpoints do not filter; a filter gets 403.
fn no_filter(q: &QueryParams) -> ApiResult<()> {
    if q.param(Param::Filter).is_some() {
        return Err(ScimError::new(
            403,
            None,
            "discovery endpoints do not support filtering; fetch the whole list",
        )
        .into());
    }
    Ok(())
}

fn all(items: Vec<Value>) -> Response {
    let page = Page {
        start_index: 1,
        count: items.len() as u32,
    };
    scim_json(
        StatusCode::OK,
        &list_response(items.len() as u64, page, items),
    )
}

pub async fn service_provider_config_handler(
    State(state): State<AppState>,
    Extension(ctx): Extension<Arc<RealmCtx>>,
) -> Response {
    scim_json(
        StatusCode::OK,
        &service_provider_config(
            &state.services.capabilities,
            &ctx.base_url,
            &ctx.realm.auth_methods,
        ),
    )
}

pub async fn resource_types(
    Extension(ctx): Extension<Arc<RealmCtx>>,
    q: QueryParams,
) -> ApiResult<Response> {
    no_filter(&q)?;
    Ok(all(RESOURCE_KINDS
        .iter()
        .map(|k| resource_type(*k, &ctx.base_url))
        .collect()))
}

pub async fn resource_type_by_id(
    Extension(ctx): Extension<Arc<RealmCtx>>,
    ResourceId(id): ResourceId,
) -> ApiResult<Response> {
    let id = id.as_str();
    let kind = RESOURCE_KINDS
        .iter()
        .find(|k| k.name().eq_ignore_ascii_case(id))
        .ok_or_else(|| ScimError::not_found(format!("there is no resource type '{id}'")))?;
    Ok(scim_json(
        StatusCode::OK,
        &resource_type(*kind, &ctx.base_url),
    ))
}

pub async fn schemas(
    Extension(ctx): Extension<Arc<RealmCtx>>,
    q: QueryParams,
) -> ApiResult<Response> {
    no_filter(&q)?;
    Ok(all(Registry::get()
        .schemas()
        .map(|s| s.to_json(&ctx.base_url))
        .collect()))
}

pub async fn schema_by_id(
    Extension(ctx): Extension<Arc<RealmCtx>>,
    ResourceId(id): ResourceId,
) -> ApiResult<Response> {
    let id = id.as_str();
    let schema = Registry::get()
        .schema(id)
        .ok_or_else(|| ScimError::not_found(format!("there is no schema '{id}'")))?;
    Ok(scim_json(StatusCode::OK, &schema.to_json(&ctx.base_url)))
}
