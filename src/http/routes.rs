//! The route table of the API listener: every endpoint's method, path, handler and
//! documentation in one entry. `mount` builds the router from it and /openapi.json renders it,
//! so nothing can be served undocumented or documented without being served.

use axum::handler::Handler;
use axum::routing::{on, MethodFilter, MethodRouter};
use axum::{middleware, Extension, Router};

use super::extract::Param;
use super::handlers::{discovery, health, openapi, resources};
use super::realm::{resolve_realm, Discovery};
use super::state::AppState;
use crate::scim::discovery::RESOURCE_KINDS;
use crate::scim::schema::{Registry, ResourceKind};

/// The SCIM base paths. The second serves the `default` realm of the `default` tenant.
pub const SCIM_BASES: [&str; 2] = ["/v1/tenants/{tenant}/realms/{realm}/scim/v2", "/scim/v2"];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mount {
    /// At the root of the listener.
    Root,
    /// Under each of `SCIM_BASES`.
    Scim,
}

/// Who may call a group's endpoints; decides the middleware and the documented security.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// Anyone: no realm, no token.
    Open,
    /// A realm's discovery documents: a token only with `discovery_requires_auth`, but a token
    /// that is sent must be valid.
    Discovery,
    /// A valid token of the realm, with the `scim:all` scope.
    Token,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verb {
    Get,
    Post,
    Put,
    Patch,
    Delete,
}

impl Verb {
    pub(crate) fn filter(self) -> MethodFilter {
        match self {
            Verb::Get => MethodFilter::GET,
            Verb::Post => MethodFilter::POST,
            Verb::Put => MethodFilter::PUT,
            Verb::Patch => MethodFilter::PATCH,
            Verb::Delete => MethodFilter::DELETE,
        }
    }
}

/// Endpoints that share a mount point, an access rule and a resource type.
pub struct Group {
    pub mount: Mount,
    pub access: Access,
    /// The resource type the handlers serve; they receive it as a request extension.
    pub kind: Option<ResourceKind>,
    pub tag: &'static str,
    pub endpoints: Vec<Endpoint>,
}

pub struct Endpoint {
    pub verb: Verb,
    /// Relative to the mount point, in the `{name}` syntax axum and OpenAPI share.
    pub path: String,
    pub doc: Doc,
    handler: MethodRouter<AppState>,
}

/// What /openapi.json says about an endpoint besides its method and path. Statuses every
/// endpoint of a group can answer (authentication, rate limits, overload) are added by the
/// renderer from the group's `Access`.
pub struct Doc {
    /// Unique under one mount point; the renderer makes it unique across SCIM bases.
    pub operation_id: String,
    pub summary: String,
    pub description: Option<String>,
    /// The `{id}` path parameter, where the path has one.
    pub id: Option<PathId>,
    pub query: &'static [Param],
    pub headers: &'static [RequestHeader],
    pub body: Option<Payload>,
    pub replies: Vec<Reply>,
}

pub struct PathId {
    pub description: String,
    /// The only values it takes, when they are fixed.
    pub values: Vec<String>,
}

pub struct Reply {
    pub status: u16,
    pub description: String,
    /// `None` on an error status means the SCIM Error message.
    pub body: Option<Payload>,
    pub headers: &'static [ResponseHeader],
}

/// A request or response body, by what it holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Payload {
    Resource(ResourceKind),
    /// A ListResponse of one resource type, or of both when `None`.
    Resources(Option<ResourceKind>),
    PatchOp(ResourceKind),
    /// A SearchRequest over one resource type, or over both when `None`.
    Search(Option<ResourceKind>),
    ServiceProviderConfig,
    ResourceType,
    ResourceTypes,
    Schema,
    Schemas,
    Health,
    OpenApi,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RequestHeader {
    IfMatch,
    IfNoneMatch,
    Prefer,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ResponseHeader {
    ETag,
    Location,
}

impl Doc {
    fn new(operation_id: impl Into<String>, summary: impl Into<String>) -> Self {
        Self {
            operation_id: operation_id.into(),
            summary: summary.into(),
            description: None,
            id: None,
            query: &[],
            headers: &[],
            body: None,
            replies: Vec::new(),
        }
    }

    fn describe(mut self, text: impl Into<String>) -> Self {
        self.description = Some(text.into());
        self
    }

    fn id(mut self, description: impl Into<String>, values: Vec<String>) -> Self {
        self.id = Some(PathId {
            description: description.into(),
            values,
        });
        self
    }

    fn query(mut self, params: &'static [Param]) -> Self {
        self.query = params;
        self
    }

    fn headers(mut self, headers: &'static [RequestHeader]) -> Self {
        self.headers = headers;
        self
    }

    fn body(mut self, body: Payload) -> Self {
        self.body = Some(body);
        self
    }

    fn reply(
        mut self,
        status: u16,
        description: impl Into<String>,
        body: Option<Payload>,
        headers: &'static [ResponseHeader],
    ) -> Self {
        self.replies.push(Reply {
            status,
            description: description.into(),
            body,
            headers,
        });
        self
    }
}

fn endpoint<H, T>(verb: Verb, path: impl Into<String>, handler: H, doc: Doc) -> Endpoint
where
    H: Handler<T, AppState>,
    T: 'static,
{
    Endpoint {
        verb,
        path: path.into(),
        doc,
        handler: on(verb.filter(), handler),
    }
}

/// Every endpoint of the API listener. The metrics listener (/metrics) is not in it.
pub fn table() -> Vec<Group> {
    let mut groups = vec![health_group(), description_group(), discovery_group()];
    groups.extend(RESOURCE_KINDS.map(resource_group));
    groups.push(root_search_group());
    groups
}

fn health_group() -> Group {
    Group {
        mount: Mount::Root,
        access: Access::Open,
        kind: None,
        tag: "Health",
        endpoints: vec![
            endpoint(
                Verb::Get,
                "/healthz",
                health::healthz,
                Doc::new("healthz", "Liveness: the process is up").reply(
                    200,
                    "The process is up.",
                    Some(Payload::Health),
                    &[],
                ),
            ),
            endpoint(
                Verb::Get,
                "/readyz",
                health::readyz,
                Doc::new("readyz", "Readiness: the database answers")
                    .reply(200, "The database answers.", Some(Payload::Health), &[])
                    .reply(
                        503,
                        "The database does not answer (a Health body), or the server is at its \
                         limits (a SCIM Error).",
                        Some(Payload::Health),
                        &[],
                    ),
            ),
        ],
    }
}

fn description_group() -> Group {
    Group {
        mount: Mount::Root,
        access: Access::Open,
        kind: None,
        tag: "OpenAPI",
        endpoints: vec![endpoint(
            Verb::Get,
            "/openapi.json",
            openapi::document,
            Doc::new(
                "openapi",
                "This document: the OpenAPI 3.1 description of the API",
            )
            .reply(200, "The OpenAPI document.", Some(Payload::OpenApi), &[]),
        )],
    }
}

fn discovery_group() -> Group {
    const FILTER_403: &str = "A `filter` was sent (discovery lists do not filter, RFC 7644 §4), \
                              the realm is paused or disabled, or the token lacks the `scim:all` \
                              scope.";
    const QUERY_400: &str = "The query string is not UTF-8 once percent-decoded.";
    let kinds = RESOURCE_KINDS.iter().map(|k| k.name().to_owned()).collect();
    let schema_ids = Registry::get().schemas().map(|s| s.id.clone()).collect();
    Group {
        mount: Mount::Scim,
        access: Access::Discovery,
        kind: None,
        tag: "Discovery",
        endpoints: vec![
            endpoint(
                Verb::Get,
                "/ServiceProviderConfig",
                discovery::service_provider_config_handler,
                Doc::new(
                    "getServiceProviderConfig",
                    "What this server supports (RFC 7644 §4)",
                )
                .reply(
                    200,
                    "The service provider configuration.",
                    Some(Payload::ServiceProviderConfig),
                    &[],
                ),
            ),
            endpoint(
                Verb::Get,
                "/ResourceTypes",
                discovery::resource_types,
                Doc::new("listResourceTypes", "The resource types served")
                    .reply(
                        200,
                        "Every resource type.",
                        Some(Payload::ResourceTypes),
                        &[],
                    )
                    .reply(403, FILTER_403, None, &[])
                    .reply(400, QUERY_400, None, &[]),
            ),
            endpoint(
                Verb::Get,
                "/ResourceTypes/{id}",
                discovery::resource_type_by_id,
                Doc::new("getResourceType", "One resource type")
                    .id("The resource type's name (any case).", kinds)
                    .reply(200, "The resource type.", Some(Payload::ResourceType), &[])
                    .reply(404, "No such resource type, tenant or realm.", None, &[]),
            ),
            endpoint(
                Verb::Get,
                "/Schemas",
                discovery::schemas,
                Doc::new(
                    "listSchemas",
                    "The schemas of every resource type and extension",
                )
                .reply(200, "Every schema.", Some(Payload::Schemas), &[])
                .reply(403, FILTER_403, None, &[])
                .reply(400, QUERY_400, None, &[]),
            ),
            endpoint(
                Verb::Get,
                "/Schemas/{id}",
                discovery::schema_by_id,
                Doc::new("getSchema", "One schema")
                    .id("The schema's URN (any case).", schema_ids)
                    .reply(200, "The schema.", Some(Payload::Schema), &[])
                    .reply(404, "No such schema, tenant or realm.", None, &[]),
            ),
        ],
    }
}

fn resource_group(kind: ResourceKind) -> Group {
    let t = ResourceTexts::new(kind);
    Group {
        mount: Mount::Scim,
        access: Access::Token,
        kind: Some(kind),
        tag: plural_tag(kind),
        endpoints: vec![
            list_endpoint(&t),
            create_endpoint(&t),
            search_endpoint(&t),
            get_endpoint(&t),
            replace_endpoint(&t),
            patch_endpoint(&t),
            delete_endpoint(&t),
        ],
    }
}

/// The paths and the wording one resource type's endpoints share.
struct ResourceTexts {
    kind: ResourceKind,
    name: &'static str,
    collection: &'static str,
    plural: &'static str,
    item: String,
    id_doc: String,
    conflict: String,
    missing: String,
    stale: &'static str,
}

impl ResourceTexts {
    fn new(kind: ResourceKind) -> Self {
        let name = kind.name();
        let collection = kind.endpoint();
        let uniqueness = match kind {
            ResourceKind::User => "`userName`",
            ResourceKind::Group => "`displayName`",
        };
        Self {
            kind,
            name,
            collection,
            plural: collection.trim_start_matches('/'),
            item: format!("{collection}/{{id}}"),
            id_doc: format!("The {name}'s id, assigned by the server."),
            conflict: format!("Another {name} of the realm has this {uniqueness} (any case)."),
            missing: format!("No such {name}, tenant or realm."),
            stale: "`If-Match` names a version the resource no longer has.",
        }
    }

    /// The reply carrying the resource as stored, with the headers it comes with.
    fn stored(&self, doc: Doc, status: u16, headers: &'static [ResponseHeader]) -> Doc {
        let description = format!("The {} as stored.", self.name);
        doc.reply(
            status,
            description,
            Some(Payload::Resource(self.kind)),
            headers,
        )
    }

    fn page(&self, doc: Doc) -> Doc {
        let description = format!("A page of {}.", self.plural);
        doc.reply(
            200,
            description,
            Some(Payload::Resources(Some(self.kind))),
            &[],
        )
    }
}

fn list_endpoint(t: &ResourceTexts) -> Endpoint {
    let plural = t.plural;
    let doc = Doc::new(format!("list{plural}"), format!("List or filter {plural}"))
        .describe(
            "Index paging with `startIndex` and `count`, or cursor paging (RFC 9865) \
             with `cursor`.",
        )
        .query(&Param::LIST);
    let doc = t.page(doc).reply(
        400,
        "A bad filter, sort, count or cursor (`invalidFilter`, `invalidValue`, \
         `invalidCursor`, `expiredCursor`, `invalidCount`).",
        None,
        &[],
    );
    endpoint(Verb::Get, t.collection, resources::list, doc)
}

fn create_endpoint(t: &ResourceTexts) -> Endpoint {
    let name = t.name;
    let doc = Doc::new(format!("create{name}"), format!("Create a {name}"))
        .query(&Param::PROJECTION)
        .body(Payload::Resource(t.kind));
    let doc = t
        .stored(doc, 201, &[ResponseHeader::ETag, ResponseHeader::Location])
        .reply(409, t.conflict.clone(), None, &[]);
    endpoint(Verb::Post, t.collection, resources::create, doc)
}

fn search_endpoint(t: &ResourceTexts) -> Endpoint {
    let plural = t.plural;
    let doc = Doc::new(
        format!("search{plural}"),
        format!("Search {plural} with a SearchRequest body (RFC 7644 §3.4.3)"),
    )
    .body(Payload::Search(Some(t.kind)));
    let path = format!("{}/.search", t.collection);
    endpoint(Verb::Post, path, resources::search, t.page(doc))
}

fn get_endpoint(t: &ResourceTexts) -> Endpoint {
    use ResponseHeader::ETag;
    let name = t.name;
    let doc = Doc::new(format!("get{name}"), format!("Read a {name}"))
        .id(t.id_doc.clone(), vec![])
        .query(&Param::PROJECTION)
        .headers(&[RequestHeader::IfNoneMatch])
        .reply(
            200,
            format!("The {name}."),
            Some(Payload::Resource(t.kind)),
            &[ETag],
        )
        .reply(
            304,
            "`If-None-Match` names the current version.",
            None,
            &[ETag],
        )
        .reply(404, t.missing.clone(), None, &[]);
    endpoint(Verb::Get, &t.item, resources::get, doc)
}

fn replace_endpoint(t: &ResourceTexts) -> Endpoint {
    let name = t.name;
    let doc = Doc::new(format!("replace{name}"), format!("Replace a {name}"))
        .describe(
            "Attributes left out are removed; read-only attributes in the body are \
             ignored.",
        )
        .id(t.id_doc.clone(), vec![])
        .query(&Param::PROJECTION)
        .headers(&[RequestHeader::IfMatch])
        .body(Payload::Resource(t.kind));
    let doc = t
        .stored(doc, 200, &[ResponseHeader::ETag])
        .reply(404, t.missing.clone(), None, &[])
        .reply(409, t.conflict.clone(), None, &[])
        .reply(412, t.stale, None, &[]);
    endpoint(Verb::Put, &t.item, resources::replace, doc)
}

fn patch_endpoint(t: &ResourceTexts) -> Endpoint {
    use ResponseHeader::ETag;
    let name = t.name;
    let doc = Doc::new(
        format!("patch{name}"),
        format!("Modify a {name} (RFC 7644 §3.5.2)"),
    )
    .describe(
        "All operations apply or none does. More than `patch_max_operations` \
         operations get 400 `tooMany`.",
    )
    .id(t.id_doc.clone(), vec![])
    .query(&Param::PROJECTION)
    .headers(&[RequestHeader::IfMatch, RequestHeader::Prefer])
    .body(Payload::PatchOp(t.kind));
    let doc = t
        .stored(doc, 200, &[ETag])
        .reply(
            204,
            "Applied; `Prefer: return=minimal` asked for no body.",
            None,
            &[ETag],
        )
        .reply(404, t.missing.clone(), None, &[])
        .reply(409, t.conflict.clone(), None, &[])
        .reply(412, t.stale, None, &[]);
    endpoint(Verb::Patch, &t.item, resources::patch, doc)
}

fn delete_endpoint(t: &ResourceTexts) -> Endpoint {
    let name = t.name;
    let doc = Doc::new(format!("delete{name}"), format!("Delete a {name}"))
        .id(t.id_doc.clone(), vec![])
        .headers(&[RequestHeader::IfMatch])
        .reply(204, "Deleted.", None, &[])
        .reply(404, t.missing.clone(), None, &[])
        .reply(412, t.stale, None, &[]);
    endpoint(Verb::Delete, &t.item, resources::delete, doc)
}

fn plural_tag(kind: ResourceKind) -> &'static str {
    match kind {
        ResourceKind::User => "Users",
        ResourceKind::Group => "Groups",
    }
}

fn root_search_group() -> Group {
    Group {
        mount: Mount::Scim,
        access: Access::Token,
        kind: None,
        tag: "Search",
        endpoints: vec![endpoint(
            Verb::Post,
            "/.search",
            resources::search_root,
            Doc::new(
                "searchAll",
                "Search Users and Groups together (RFC 7644 §3.4.3)",
            )
            .describe("Users come first, then Groups. A filter naming attributes only one type has selects nothing of the other.")
            .body(Payload::Search(None))
            .reply(
                200,
                "A page of Users and Groups.",
                Some(Payload::Resources(None)),
                &[],
            ),
        )],
    }
}

impl Group {
    fn router(self, state: &AppState) -> Router<AppState> {
        let mut router = Router::new();
        for e in self.endpoints {
            router = router.route(&e.path, e.handler);
        }
        if let Some(kind) = self.kind {
            router = router.route_layer(Extension(kind));
        }
        let realm = || middleware::from_fn_with_state(state.clone(), resolve_realm);
        match self.access {
            Access::Open => router,
            // The outer layer runs first: the marker is in place when the realm is resolved.
            Access::Discovery => router
                .route_layer(realm())
                .route_layer(Extension(Discovery)),
            Access::Token => router.route_layer(realm()),
        }
    }
}

/// The whole table as a router: root groups at the root, SCIM groups under every base.
pub fn mount(state: &AppState) -> Router<AppState> {
    let mut root = Router::new();
    let mut scim = Router::new();
    for group in table() {
        match group.mount {
            Mount::Root => root = root.merge(group.router(state)),
            Mount::Scim => scim = scim.merge(group.router(state)),
        }
    }
    for base in SCIM_BASES {
        root = root.nest(base, scim.clone());
    }
    root
}
