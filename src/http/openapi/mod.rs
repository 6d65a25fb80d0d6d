//! /openapi.json: the OpenAPI 3.1 document, rendered once from the route table (`routes`) and
//! the schema registry.

mod examples;
mod schemas;

use std::collections::BTreeMap;
use std::sync::OnceLock;

use utoipa::openapi::header::HeaderBuilder;
use utoipa::openapi::path::{
    HttpMethod, Operation, OperationBuilder, Parameter, ParameterBuilder, ParameterIn,
};
use utoipa::openapi::request_body::{RequestBody, RequestBodyBuilder};
use utoipa::openapi::response::{ResponseBuilder, ResponsesBuilder};
use utoipa::openapi::schema::{ObjectBuilder, Type};
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityRequirement, SecurityScheme};
use utoipa::openapi::tag::TagBuilder;
use utoipa::openapi::{
    ContentBuilder, InfoBuilder, LicenseBuilder, OpenApi, OpenApiBuilder, Paths, Ref, RefOr,
    Required,
};

use super::extract::Param;
use super::routes::{
    self, Access, Doc, Endpoint, Group, Mount, Payload, RequestHeader, ResponseHeader, Verb,
    SCIM_BASES,
};
use crate::service::auth::SCIM_SCOPE;

const SCIM_JSON: &str = "application/scim+json";
const JSON: &str = "application/json";
const BEARER: &str = "bearer";
const BASIC: &str = "basic";

/// The serialized document, built on first use: it depends on nothing but the code.
pub fn json() -> &'static [u8] {
    static JSON_DOC: OnceLock<Vec<u8>> = OnceLock::new();
    // A tree of string-keyed maps always serializes.
    JSON_DOC.get_or_init(|| serde_json::to_vec(&document()).unwrap_or_default())
}

pub fn document() -> OpenApi {
    let mut paths = Paths::new();
    let mut tags: Vec<&str> = Vec::new();
    for group in routes::table() {
        if !tags.contains(&group.tag) {
            tags.push(group.tag);
        }
        let bases: &[&str] = match group.mount {
            Mount::Root => &[""],
            Mount::Scim => &SCIM_BASES,
        };
        for (nth, base) in bases.iter().enumerate() {
            for e in &group.endpoints {
                let path = format!("{base}{}", e.path);
                let op = operation(&group, e, &path, nth > 0);
                paths.add_path_operation(&path, vec![http_method(e.verb)], op);
            }
        }
    }
    let components = Shared::ALL
        .into_iter()
        .fold(schemas::components(), |c, s| {
            c.response(s.name(), s.response())
        })
        .security_scheme(
            BEARER,
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("scimd token")
                    .description(Some(format!(
                        "A token of the realm with the `{SCIM_SCOPE}` scope, created with \
                         `scimd token create`."
                    )))
                    .build(),
            ),
        )
        .security_scheme(
            BASIC,
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Basic)
                    .description(Some(
                        "For clients that can only send a user name and password (RFC 7617): \
                         the token's name as the user name and the token as the password."
                            .to_string(),
                    ))
                    .build(),
            ),
        )
        .build();
    OpenApiBuilder::new()
        .info(
            InfoBuilder::new()
                .title("scimd")
                .version(env!("CARGO_PKG_VERSION"))
                .description(Some(DESCRIPTION))
                .license(Some(
                    LicenseBuilder::new()
                        .name("Apache-2.0")
                        .identifier(Some("Apache-2.0"))
                        .build(),
                )),
        )
        .paths(paths)
        .components(Some(components))
        .tags(Some(
            tags.into_iter().map(|t| TagBuilder::new().name(t).build()),
        ))
        .build()
}

const DESCRIPTION: &str = "\
scimd is a multi-tenant SCIM 2.0 service provider (RFC 7643, RFC 7644). Each realm of a tenant \
is a separate SCIM directory served at `/v1/tenants/{tenant}/realms/{realm}/scim/v2`; the \
`default` realm of the `default` tenant is also served at `/scim/v2`, with the same endpoints.

**Administration** (tenants, realms, SCIM tokens, admin tokens, the audit record) is the admin \
API, a JSON API with admin tokens and RFC 9457 errors, described by its own document: \
[`/admin/openapi.json`](/admin/openapi.json). The `scimd` command line does the same on the \
database directly.

**Authentication**: a token of the realm, sent as `Authorization: Bearer <token>` (or, for \
clients limited to a user name and password, as HTTP Basic with the token's name as the user \
name and the token as the password): with the \
`scim:all` scope for everything, or `scim:read` for GET, `.search` and discovery only (a write \
is then 403 with `WWW-Authenticate: Bearer error=\"insufficient_scope\"`). Discovery endpoints need none unless \
`discovery_requires_auth` is set; `/healthz`, `/readyz` and this document never do.

**Metrics**: Prometheus `GET /metrics` is served on a separate listener (`metrics_listen`), not \
on this one, and is not described here.

Requests may send JSON as `application/scim+json`, `application/json` or without a content \
type. Every response carries `X-Request-Id`, and every error is a SCIM Error message, including \
404 for unknown paths and 405 for wrong methods. `HEAD` is answered wherever `GET` is, without \
the body (RFC 9110). The JSON Schemas below name attributes as \
RFC 7643 spells them; scimd matches attribute names in any case.";

fn http_method(v: Verb) -> HttpMethod {
    match v {
        Verb::Get => HttpMethod::Get,
        Verb::Post => HttpMethod::Post,
        Verb::Put => HttpMethod::Put,
        Verb::Patch => HttpMethod::Patch,
        Verb::Delete => HttpMethod::Delete,
    }
}

fn operation(group: &Group, e: &Endpoint, path: &str, default_realm: bool) -> Operation {
    let doc = &e.doc;
    let (operation_id, description) = if default_realm {
        let also = format!(
            "The default realm of the default tenant: the same as `{}`.",
            doc.operation_id
        );
        let description = match &doc.description {
            Some(d) => format!("{d}\n\n{also}"),
            None => also,
        };
        (
            format!("{}DefaultRealm", doc.operation_id),
            Some(description),
        )
    } else {
        (doc.operation_id.clone(), doc.description.clone())
    };
    let mut op = OperationBuilder::new()
        .operation_id(Some(operation_id))
        .summary(Some(doc.summary.clone()))
        .description(description)
        .tag(group.tag);
    for name in path_parameters(path) {
        op = op.parameter(path_parameter(name, doc));
    }
    for p in doc.query {
        op = op.parameter(query_parameter(*p));
    }
    for h in doc.headers {
        op = op.parameter(header_parameter(*h));
    }
    op = op.parameter(
        ParameterBuilder::new()
            .name("X-Request-Id")
            .parameter_in(ParameterIn::Header)
            .required(Required::False)
            .description(Some(
                "Echoed in the response and carried by log lines; a new UUID when absent.",
            ))
            .schema(Some(ObjectBuilder::new().schema_type(Type::String))),
    );
    if let Some(body) = doc.body {
        op = op.request_body(Some(request_body(body)));
    }
    op = op.responses(responses(group.access, doc));
    let bearer = || SecurityRequirement::new(BEARER, [SCIM_SCOPE]);
    let basic = || SecurityRequirement::new(BASIC, Vec::<String>::new());
    match group.access {
        Access::Open => op,
        // The empty requirement makes the token optional (`discovery_requires_auth` off).
        Access::Discovery => {
            op.securities(Some([bearer(), basic(), SecurityRequirement::default()]))
        }
        Access::Token => op.securities(Some([bearer(), basic()])),
    }
    .build()
}

/// The `{name}` segments of a path, in order.
fn path_parameters(path: &str) -> impl Iterator<Item = &str> {
    path.split('/')
        .filter_map(|seg| seg.strip_prefix('{').and_then(|s| s.strip_suffix('}')))
}

fn path_parameter(name: &str, doc: &Doc) -> Parameter {
    let string = ObjectBuilder::new().schema_type(Type::String);
    let (description, schema, example) = match (name, &doc.id) {
        ("tenant" | "realm", _) => (
            format!("The {name}'s name: 1-64 of `a-z A-Z 0-9 - _ .`"),
            string.pattern(Some("^[A-Za-z0-9._-]{1,64}$")),
            Some("default"),
        ),
        ("id", Some(id)) if !id.values.is_empty() => (
            id.description.clone(),
            string.enum_values(Some(id.values.iter().map(String::as_str))),
            None,
        ),
        ("id", Some(id)) => (id.description.clone(), string, None),
        _ => (format!("The {name}."), string, None),
    };
    ParameterBuilder::new()
        .name(name)
        .parameter_in(ParameterIn::Path)
        .required(Required::True)
        .description(Some(description))
        .schema(Some(schema))
        .example(example.map(Into::into))
        .build()
}

fn query_parameter(p: Param) -> Parameter {
    ParameterBuilder::new()
        .name(p.name())
        .parameter_in(ParameterIn::Query)
        .required(Required::False)
        .description(Some(schemas::param_description(p)))
        .schema(Some(schemas::param_schema(p, false)))
        .build()
}

fn header_parameter(h: RequestHeader) -> Parameter {
    let (name, description, example) = match h {
        RequestHeader::IfMatch => (
            "If-Match",
            "Apply only if the resource has this entity tag (`W/\"N\"`, from `ETag` or \
             `meta.version`), or any with `*`; otherwise 412.",
            "W/\"1\"",
        ),
        RequestHeader::IfNoneMatch => (
            "If-None-Match",
            "Answer 304 without a body if the resource still has this entity tag.",
            "W/\"1\"",
        ),
        RequestHeader::Prefer => (
            "Prefer",
            "`return=minimal` asks for 204 without a body instead of the resource.",
            "return=minimal",
        ),
    };
    ParameterBuilder::new()
        .name(name)
        .parameter_in(ParameterIn::Header)
        .required(Required::False)
        .description(Some(description))
        .schema(Some(ObjectBuilder::new().schema_type(Type::String)))
        .example(Some(example.into()))
        .build()
}

fn media_type(p: Payload) -> &'static str {
    match p {
        Payload::Health | Payload::OpenApi => JSON,
        _ => SCIM_JSON,
    }
}

fn request_body(p: Payload) -> RequestBody {
    let content = || {
        ContentBuilder::new()
            .schema(Some(schemas::payload(p, schemas::Side::Request)))
            .example(examples::request(p))
            .build()
    };
    RequestBodyBuilder::new()
        .required(Some(Required::True))
        .content(SCIM_JSON, content())
        .content(JSON, content())
        .build()
}

/// One status of one operation, gathered from the endpoint's replies and the shared ones.
struct Answer {
    description: String,
    bodies: Vec<Option<Payload>>,
    headers: Vec<ResponseHeader>,
}

/// A status an endpoint answers because of its group's access rule or its inputs. Each is
/// described once, under `components/responses`; an endpoint that describes the same status
/// itself keeps its own description.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Shared {
    BadRequest,
    Unauthorized,
    UnauthorizedDiscovery,
    Forbidden,
    NoRealm,
    RateLimited,
    BodyTimeout,
    TooLarge,
    Internal,
    Unavailable,
}

impl Shared {
    const ALL: [Shared; 10] = [
        Shared::BadRequest,
        Shared::Unauthorized,
        Shared::UnauthorizedDiscovery,
        Shared::Forbidden,
        Shared::NoRealm,
        Shared::RateLimited,
        Shared::BodyTimeout,
        Shared::TooLarge,
        Shared::Internal,
        Shared::Unavailable,
    ];

    fn for_endpoint(access: Access, doc: &Doc) -> Vec<Shared> {
        let mut out = Vec::new();
        // A body, a query or an `{id}` that does not parse (an id that is not UTF-8).
        if doc.body.is_some() || !doc.query.is_empty() || doc.id.is_some() {
            out.push(Shared::BadRequest);
        }
        match access {
            Access::Open => {}
            Access::Discovery => out.extend([
                Shared::UnauthorizedDiscovery,
                Shared::Forbidden,
                Shared::NoRealm,
                Shared::RateLimited,
            ]),
            Access::Token => out.extend([
                Shared::Unauthorized,
                Shared::Forbidden,
                Shared::NoRealm,
                Shared::RateLimited,
            ]),
        }
        if doc.body.is_some() {
            out.extend([Shared::BodyTimeout, Shared::TooLarge]);
        }
        out.extend([Shared::Internal, Shared::Unavailable]);
        out
    }

    fn name(self) -> &'static str {
        match self {
            Shared::BadRequest => "BadRequest",
            Shared::Unauthorized => "Unauthorized",
            Shared::UnauthorizedDiscovery => "UnauthorizedDiscovery",
            Shared::Forbidden => "Forbidden",
            Shared::NoRealm => "NoRealm",
            Shared::RateLimited => "RateLimited",
            Shared::BodyTimeout => "RequestTimeout",
            Shared::TooLarge => "PayloadTooLarge",
            Shared::Internal => "InternalError",
            Shared::Unavailable => "Unavailable",
        }
    }

    fn status(self) -> u16 {
        match self {
            Shared::BadRequest => 400,
            Shared::Unauthorized | Shared::UnauthorizedDiscovery => 401,
            Shared::Forbidden => 403,
            Shared::NoRealm => 404,
            Shared::RateLimited => 429,
            Shared::BodyTimeout => 408,
            Shared::TooLarge => 413,
            Shared::Internal => 500,
            Shared::Unavailable => 503,
        }
    }

    fn description(self) -> &'static str {
        match self {
            Shared::BadRequest => {
                "The request is malformed or breaks a rule of the schema; `scimType` says which."
            }
            Shared::Unauthorized => "No token, or an unknown, expired or revoked one.",
            Shared::UnauthorizedDiscovery => {
                "A token was sent and is not valid, or none was sent and \
                 `discovery_requires_auth` is set."
            }
            Shared::Forbidden => {
                "The realm is paused or disabled, or the token lacks the `scim:all` scope."
            }
            Shared::NoRealm => "No such tenant or realm.",
            Shared::RateLimited => {
                "The token's or the realm's rate limit is exceeded; retry after `Retry-After` \
                 seconds."
            }
            Shared::BodyTimeout => {
                "The body did not arrive within `request_timeout_seconds` (a client sending too \
                 slowly)."
            }
            Shared::TooLarge => "The body is larger than `max_body_bytes`.",
            Shared::Internal => {
                "The server failed; the cause is logged under this response's `X-Request-Id`."
            }
            Shared::Unavailable => {
                "Too many requests at once (`Retry-After: 1`), or the request ran longer than \
                 `request_timeout_seconds`."
            }
        }
    }

    fn response(self) -> utoipa::openapi::Response {
        response(
            self.status(),
            Answer {
                description: self.description().to_owned(),
                bodies: vec![None],
                headers: Vec::new(),
            },
        )
    }
}

fn responses(access: Access, doc: &Doc) -> utoipa::openapi::Responses {
    let mut own: BTreeMap<u16, Answer> = BTreeMap::new();
    for r in &doc.replies {
        let a = own.entry(r.status).or_insert_with(|| Answer {
            description: r.description.clone(),
            bodies: Vec::new(),
            headers: Vec::new(),
        });
        a.bodies.push(r.body);
        a.headers.extend(r.headers);
    }
    let mut shared: BTreeMap<u16, Shared> = BTreeMap::new();
    for s in Shared::for_endpoint(access, doc) {
        match own.get_mut(&s.status()) {
            // The endpoint's description stands; the body may also be a SCIM Error.
            Some(a) => a.bodies.push(None),
            None => {
                shared.insert(s.status(), s);
            }
        }
    }
    let mut all: BTreeMap<u16, RefOr<utoipa::openapi::Response>> = BTreeMap::new();
    for (status, a) in own {
        all.insert(status, RefOr::T(response(status, a)));
    }
    for (status, s) in shared {
        all.insert(status, RefOr::Ref(Ref::from_response_name(s.name())));
    }
    let mut out = ResponsesBuilder::new();
    for (status, r) in all {
        out = out.response(status.to_string(), r);
    }
    out.build()
}

fn response(status: u16, a: Answer) -> utoipa::openapi::Response {
    let header = |description: &str| {
        HeaderBuilder::new()
            .schema(ObjectBuilder::new().schema_type(Type::String))
            .description(Some(description))
            .build()
    };
    let mut r = ResponseBuilder::new().description(a.description).header(
        "X-Request-Id",
        header("The request's id, as sent or generated."),
    );
    let mut media_types: Vec<&str> = Vec::new();
    for body in a.bodies {
        let (media, schema) = match body {
            Some(p) => (media_type(p), schemas::payload(p, schemas::Side::Response)),
            None if status >= 400 => (SCIM_JSON, schemas::named(schemas::ERROR)),
            None => continue,
        };
        if !media_types.contains(&media) {
            media_types.push(media);
            r = r.content(media, ContentBuilder::new().schema(Some(schema)).build());
        }
    }
    for h in a.headers {
        r = match h {
            ResponseHeader::ETag => r.header(
                "ETag",
                header("The resource's entity tag, `W/\"N\"`, as in `meta.version`."),
            ),
            ResponseHeader::Location => r.header("Location", header("The new resource's URL.")),
        };
    }
    match status {
        401 => r.header(
            "WWW-Authenticate",
            header("`Bearer realm=\"scimd\", error=\"invalid_token\"`."),
        ),
        429 | 503 => r.header("Retry-After", header("Seconds to wait before retrying.")),
        _ => r,
    }
    .build()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn doc() -> serde_json::Value {
        serde_json::from_slice(json()).expect("the document is JSON")
    }

    #[test]
    fn operation_ids_are_unique() {
        let d = doc();
        let mut seen = std::collections::HashSet::new();
        for (path, item) in d["paths"].as_object().unwrap() {
            for (method, op) in item.as_object().unwrap() {
                let id = op["operationId"].as_str().unwrap().to_owned();
                assert!(seen.insert(id.clone()), "{method} {path}: duplicate {id}");
            }
        }
        assert!(seen.len() > 20, "{seen:?}");
    }

    #[test]
    fn every_path_parameter_is_declared() {
        let d = doc();
        for (path, item) in d["paths"].as_object().unwrap() {
            for (method, op) in item.as_object().unwrap() {
                let declared: Vec<&str> = op["parameters"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .filter(|p| p["in"] == "path")
                    .map(|p| p["name"].as_str().unwrap())
                    .collect();
                let in_path: Vec<&str> = path_parameters(path).collect();
                assert_eq!(declared, in_path, "{method} {path}");
            }
        }
    }

    /// Whether `instance` matches the component schema `name`.
    fn matches(name: &str, instance: &serde_json::Value) -> bool {
        let mut root = serde_json::json!({"$ref": format!("#/components/schemas/{name}")});
        root["components"] = doc()["components"].clone();
        jsonschema::draft202012::new(&root)
            .expect("the component compiles")
            .is_valid(instance)
    }

    #[test]
    fn every_error_the_server_can_send_matches_the_error_schema() {
        for t in crate::scim::ScimType::ALL {
            let e = crate::scim::ScimError::bad_request(*t, "detail");
            assert!(matches("Error", &e.to_json()), "{t:?}");
        }
        assert!(matches(
            "Error",
            &crate::scim::ScimError::not_found("x").to_json()
        ));
        assert!(!matches(
            "Error",
            &serde_json::json!({"schemas": [crate::scim::urn::ERROR], "status": "400",
                                "scimType": "madeUp", "detail": "x"})
        ));
    }

    #[test]
    fn user_schema_follows_the_registry_characteristics() {
        let d = doc();
        let user = &d["components"]["schemas"]["User"];
        assert_eq!(user["required"], serde_json::json!(["userName"]));
        let props = &user["properties"];
        assert_eq!(props["emails"]["type"], "array");
        assert_eq!(
            props["emails"]["items"]["properties"]["primary"]["type"],
            "boolean"
        );
        assert_eq!(props["groups"]["items"]["readOnly"], true);
        assert_eq!(props["password"]["writeOnly"], true);
        assert_eq!(
            props["urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"]["$ref"],
            "#/components/schemas/EnterpriseUser"
        );
        let group = &d["components"]["schemas"]["Group"];
        assert_eq!(group["required"], serde_json::json!(["displayName"]));
        assert_eq!(
            group["properties"]["members"]["items"]["properties"]["display"]["readOnly"],
            true
        );
    }

    #[test]
    fn a_returned_resource_needs_only_schemas_and_id_a_sent_one_its_required_attributes() {
        // `?attributes=members` on a User or `?excludedAttributes=userName` leaves just these.
        let user = serde_json::json!({"schemas": [crate::scim::urn::USER], "id": "x"});
        let group = serde_json::json!({"schemas": [crate::scim::urn::GROUP], "id": "x"});
        assert!(matches("UserResponse", &user));
        assert!(matches("GroupResponse", &group));
        assert!(matches(
            "ListResponse",
            &serde_json::json!({
                "schemas": [crate::scim::urn::LIST_RESPONSE], "totalResults": 2, "itemsPerPage": 2,
                "Resources": [user.clone(), group.clone()]
            })
        ));
        assert!(!matches("User", &user));
        assert!(!matches("Group", &group));
        assert!(!matches(
            "UserResponse",
            &serde_json::json!({"userName": "a"})
        ));
        let d = doc();
        let get = &d["paths"]["/scim/v2/Users/{id}"]["get"]["responses"]["200"];
        assert_eq!(
            get["content"]["application/scim+json"]["schema"]["$ref"],
            "#/components/schemas/UserResponse"
        );
        let post = &d["paths"]["/scim/v2/Users"]["post"]["requestBody"];
        assert_eq!(
            post["content"]["application/scim+json"]["schema"]["$ref"],
            "#/components/schemas/User"
        );
    }

    #[test]
    fn patch_operation_schema_accepts_operation_names_in_any_case_and_no_other() {
        for op in ["add", "Replace", "REMOVE"] {
            assert!(
                matches("PatchOperation", &serde_json::json!({"op": op})),
                "{op}"
            );
        }
        for op in ["move", "adds", ""] {
            assert!(
                !matches("PatchOperation", &serde_json::json!({"op": op})),
                "{op}"
            );
        }
    }
}
