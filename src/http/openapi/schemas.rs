//! The component schemas of /openapi.json. User, Group and their extensions are derived from the
//! schema registry (what /Schemas publishes and validation enforces); the SCIM messages take
//! their vocabularies (`scimType`, PATCH operations, list parameters) from the code that reads
//! or writes them.

use utoipa::openapi::schema::{
    AnyOfBuilder, ArrayBuilder, KnownFormat, ObjectBuilder, Schema, SchemaFormat, SchemaType, Type,
};
use utoipa::openapi::{ComponentsBuilder, Ref, RefOr};

use crate::http::extract::Param;
use crate::http::routes::Payload;
use crate::scim::discovery::RESOURCE_KINDS;
use crate::scim::patch::OpKind;
use crate::scim::schema::{
    AttrType, Attribute, Mutability, Registry, ResourceKind, ResourceSchema, Returned,
    Schema as ScimSchema, Uniqueness,
};
use crate::scim::{urn, ScimType};

pub const ERROR: &str = "Error";

fn string() -> ObjectBuilder {
    ObjectBuilder::new().schema_type(Type::String)
}

fn integer() -> ObjectBuilder {
    ObjectBuilder::new().schema_type(Type::Integer)
}

fn boolean() -> ObjectBuilder {
    ObjectBuilder::new().schema_type(Type::Boolean)
}

fn object() -> ObjectBuilder {
    ObjectBuilder::new().schema_type(Type::Object)
}

fn array(items: impl Into<RefOr<Schema>>) -> ArrayBuilder {
    ArrayBuilder::new().items(items.into())
}

fn text(s: &str) -> Option<String> {
    Some(s.to_owned())
}

pub fn named(name: &str) -> RefOr<Schema> {
    Ref::from_schema_name(name).into()
}

/// The `schemas` attribute: the URNs a message or resource may list.
fn urns(allowed: &[&str]) -> ArrayBuilder {
    array(string().enum_values(Some(allowed.iter().copied())))
        .min_items(Some(1))
        .description(text("The schema URNs of this message or resource."))
}

/// A regular expression matching `word` in any letter case (ECMA 262 has no inline `(?i)`).
fn any_case(word: &str) -> String {
    word.chars()
        .map(|c| {
            if c.is_ascii_alphabetic() {
                format!("[{}{}]", c.to_ascii_lowercase(), c.to_ascii_uppercase())
            } else {
                c.to_string()
            }
        })
        .collect()
}

/// Which way a body travels. A resource the client sends must carry the attributes the
/// registry marks required; a resource the server returns carries only what `attributes` and
/// `excludedAttributes` leave of it (RFC 7644 §3.9: `userName` is returned by default, not
/// always), so only `schemas` and `id` are sure to be in it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    Request,
    Response,
}

/// The component schema of a resource as it travels `side`.
fn resource_name(kind: ResourceKind, side: Side) -> String {
    match side {
        Side::Request => kind.name().to_owned(),
        Side::Response => format!("{}Response", kind.name()),
    }
}

/// The name of the component schema a payload refers to.
pub fn payload_name(p: Payload, side: Side) -> Option<String> {
    Some(match p {
        Payload::Resource(kind) => resource_name(kind, side),
        Payload::Resources(Some(kind)) => format!("{}ListResponse", kind.name()),
        Payload::Resources(None) => "ListResponse".to_owned(),
        Payload::PatchOp(_) => "PatchOp".to_owned(),
        Payload::Search(_) => "SearchRequest".to_owned(),
        Payload::ServiceProviderConfig => "ServiceProviderConfig".to_owned(),
        Payload::ResourceType => "ResourceType".to_owned(),
        Payload::ResourceTypes => "ResourceTypeListResponse".to_owned(),
        Payload::Schema => "Schema".to_owned(),
        Payload::Schemas => "SchemaListResponse".to_owned(),
        Payload::Health => "Health".to_owned(),
        Payload::OpenApi => return None,
    })
}

/// The schema of a body: a reference to its component, or inline for this document itself.
pub fn payload(p: Payload, side: Side) -> RefOr<Schema> {
    match payload_name(p, side) {
        Some(name) => named(&name),
        None => object()
            .description(text("An OpenAPI 3.1 document (this one)."))
            .required("openapi")
            .required("info")
            .into(),
    }
}

pub fn components() -> ComponentsBuilder {
    let registry = Registry::get();
    let mut c = ComponentsBuilder::new();
    for kind in RESOURCE_KINDS {
        let rs = registry.resource(kind);
        for side in [Side::Request, Side::Response] {
            c = c.schema(resource_name(kind, side), resource(rs, side));
        }
        for ext in &rs.extensions {
            c = c.schema(&ext.name, extension(ext, Side::Request));
            if has_required(&ext.attributes) {
                c = c.schema(
                    extension_name(ext, Side::Response),
                    extension(ext, Side::Response),
                );
            }
        }
        c = c.schema(
            payload_name(Payload::Resources(Some(kind)), Side::Response).unwrap_or_default(),
            list_response(
                named(&resource_name(kind, Side::Response)),
                kind.endpoint().trim_start_matches('/'),
            ),
        );
    }
    let any_resource = RESOURCE_KINDS.iter().fold(AnyOfBuilder::new(), |any, k| {
        any.item(named(&resource_name(*k, Side::Response)))
    });
    c.schema(
        "ListResponse",
        list_response(any_resource.into(), "Users and Groups"),
    )
    .schema("Meta", meta())
    .schema(ERROR, error())
    .schema("PatchOp", patch_op())
    .schema("PatchOperation", patch_operation())
    .schema("SearchRequest", search_request())
    .schema("ServiceProviderConfig", service_provider_config())
    .schema("ResourceType", resource_type())
    .schema(
        "ResourceTypeListResponse",
        list_response(named("ResourceType"), "resource types"),
    )
    .schema("Schema", schema())
    .schema("SchemaAttribute", schema_attribute())
    .schema(
        "SchemaListResponse",
        list_response(named("Schema"), "schemas"),
    )
    .schema("Health", health())
}

// --- resources, from the registry ---------------------------------------------------------

fn has_required(attributes: &[Attribute]) -> bool {
    attributes
        .iter()
        .any(|a| a.required || has_required(&a.sub_attributes))
}

/// An extension's component: one for both sides when nothing in it is required.
fn extension_name(ext: &ScimSchema, side: Side) -> String {
    if side == Side::Response && has_required(&ext.attributes) {
        format!("{}Response", ext.name)
    } else {
        ext.name.clone()
    }
}

fn resource(rs: &ResourceSchema, side: Side) -> ObjectBuilder {
    let mut allowed = vec![rs.core.id.as_str()];
    allowed.extend(rs.extensions.iter().map(|e| e.id.as_str()));
    let extensions: Vec<&str> = rs.extensions.iter().map(|e| e.name.as_str()).collect();
    let mut description = format!(
        "{} ({}), as published at /Schemas/{}. The server matches attribute names in any case.",
        rs.core.description, rs.core.id, rs.core.id
    );
    if !extensions.is_empty() {
        description.push_str(&format!(
            " Extensions sit under their URN: {}.",
            extensions.join(", ")
        ));
    }
    if side == Side::Response {
        description.push_str(
            " As returned: `attributes` and `excludedAttributes` may leave out every attribute \
             but `schemas` and `id`.",
        );
    }
    // `id`, `externalId` and `meta` are the common attributes of RFC 7643 §3.1: every resource
    // has them and no schema document lists them.
    let mut o = object()
        .description(Some(description))
        .property(
            "schemas",
            urns(&allowed).description(text(
                "The core schema URN, and the URN of each extension present.",
            )),
        )
        .property(
            "id",
            string()
                .read_only(Some(true))
                .description(text("Assigned by the server; unique within the realm.")),
        )
        .property(
            "externalId",
            string().description(text("The client's (identity provider's) identifier.")),
        );
    for a in &rs.core.attributes {
        o = o.property(&a.name, attribute(a, side));
        if a.required && side == Side::Request {
            o = o.required(&a.name);
        }
    }
    for ext in &rs.extensions {
        o = o.property(&ext.id, named(&extension_name(ext, side)));
    }
    let o = o.property("meta", named("Meta"));
    match side {
        Side::Request => o,
        Side::Response => o.required("schemas").required("id"),
    }
}

fn extension(s: &ScimSchema, side: Side) -> ObjectBuilder {
    let mut o = object().description(Some(format!(
        "{} ({}), as published at /Schemas/{}.",
        s.description, s.id, s.id
    )));
    for a in &s.attributes {
        o = o.property(&a.name, attribute(a, side));
        if a.required && side == Side::Request {
            o = o.required(&a.name);
        }
    }
    o
}

fn attribute(a: &Attribute, side: Side) -> RefOr<Schema> {
    let read_only = (a.mutability == Mutability::ReadOnly).then_some(true);
    let write_only =
        (a.mutability == Mutability::WriteOnly || a.returned == Returned::Never).then_some(true);
    let description = Some(attribute_description(a));
    let value = match a.kind {
        AttrType::String | AttrType::Reference => string(),
        AttrType::Boolean => boolean(),
        AttrType::Decimal => ObjectBuilder::new().schema_type(Type::Number),
        AttrType::Integer => integer(),
        AttrType::DateTime => {
            string().format(Some(SchemaFormat::KnownFormat(KnownFormat::DateTime)))
        }
        AttrType::Binary => string().content_encoding("base64"),
        AttrType::Complex => {
            let mut o = object();
            for sub in &a.sub_attributes {
                o = o.property(&sub.name, attribute(sub, side));
                if sub.required && side == Side::Request {
                    o = o.required(&sub.name);
                }
            }
            o
        }
    };
    // utoipa's array schema has no readOnly / writeOnly: a multi-valued attribute carries them
    // on its values, which says the same to a client.
    let value = value.read_only(read_only).write_only(write_only);
    if a.multi_valued {
        array(value).description(description).into()
    } else {
        value.description(description).into()
    }
}

fn attribute_description(a: &Attribute) -> String {
    let mut d = a.description.trim().to_owned();
    let mut note = |s: String| {
        if !d.is_empty() && !d.ends_with('.') {
            d.push('.');
        }
        if !d.is_empty() {
            d.push(' ');
        }
        d.push_str(&s);
    };
    if !a.canonical_values.is_empty() {
        note(format!(
            "Canonical values: {}.",
            a.canonical_values.join(", ")
        ));
    }
    if !a.reference_types.is_empty() {
        note(format!("Refers to: {}.", a.reference_types.join(", ")));
    }
    match a.mutability {
        Mutability::Immutable => note("Immutable: set when created, never changed.".into()),
        Mutability::WriteOnly => note("Write-only.".into()),
        Mutability::ReadOnly | Mutability::ReadWrite => {}
    }
    match a.returned {
        Returned::Never => note("Never returned.".into()),
        Returned::Request => note("Returned only when named in `attributes`.".into()),
        Returned::Always | Returned::Default => {}
    }
    if a.uniqueness != Uniqueness::None {
        let case = if a.case_exact { "" } else { ", ignoring case" };
        note(format!("Unique within the realm{case}."));
    }
    d
}

fn meta() -> ObjectBuilder {
    let stamp = || string().format(Some(SchemaFormat::KnownFormat(KnownFormat::DateTime)));
    object()
        .description(text("Set by the server (RFC 7643 §3.1)."))
        .read_only(Some(true))
        .property("resourceType", string())
        .property("created", stamp())
        .property("lastModified", stamp())
        .property(
            "location",
            string().description(text("The resource's absolute URL.")),
        )
        .property(
            "version",
            string().description(text("The entity tag, as in the `ETag` header: W/\"N\".")),
        )
}

// --- messages -----------------------------------------------------------------------------

fn list_response(items: RefOr<Schema>, what: &str) -> ObjectBuilder {
    object()
        .description(Some(format!("A ListResponse of {what} (RFC 7644 §3.4.2).")))
        .property("schemas", urns(&[urn::LIST_RESPONSE]))
        .property(
            "totalResults",
            integer()
                .minimum(Some(0))
                .description(text("Matches over all pages.")),
        )
        .property(
            "startIndex",
            integer().minimum(Some(1)).description(text(
                "1-based index of the first result; absent with cursor paging.",
            )),
        )
        .property("itemsPerPage", integer().minimum(Some(0)))
        .property(
            "Resources",
            array(items).description(text("Present even when empty.")),
        )
        .property(
            "nextCursor",
            string().description(text("RFC 9865: the cursor of the next page, if any.")),
        )
        .property(
            "previousCursor",
            string().description(text("RFC 9865: the cursor of the previous page, if any.")),
        )
        .required("schemas")
        .required("totalResults")
        .required("itemsPerPage")
        .required("Resources")
}

fn error() -> ObjectBuilder {
    object()
        .description(text("Every error, including 404 and 405 (RFC 7644 §3.12)."))
        .property("schemas", urns(&[urn::ERROR]))
        .property(
            "status",
            string()
                .pattern(text("^[1-5][0-9][0-9]$"))
                .description(text("The HTTP status, as a string.")),
        )
        .property(
            "scimType",
            string()
                .enum_values(Some(ScimType::ALL.iter().map(|t| t.as_str())))
                .description(text("Present where RFC 7644 defines a type for the error.")),
        )
        .property(
            "detail",
            string().description(text("Written for a person.")),
        )
        .required("schemas")
        .required("status")
        .required("detail")
}

fn patch_op() -> ObjectBuilder {
    object()
        .description(text(
            "A PatchOp message (RFC 7644 §3.5.2). Keys are matched in any case.",
        ))
        .property("schemas", urns(&[urn::PATCH_OP]))
        .property(
            "Operations",
            array(named("PatchOperation")).min_items(Some(1)),
        )
        .required("Operations")
}

fn patch_operation() -> ObjectBuilder {
    let names: Vec<&str> = OpKind::ALL.iter().map(|k| k.as_str()).collect();
    let pattern = format!(
        "^({})$",
        names
            .iter()
            .map(|n| any_case(n))
            .collect::<Vec<_>>()
            .join("|")
    );
    object()
        .property(
            "op",
            string()
                .pattern(Some(pattern))
                .description(Some(format!("One of {}, in any case.", names.join(", "))))
                .examples(names.iter().copied()),
        )
        .property(
            "path",
            string().description(text(
                "`attr`, `attr.sub`, `attr[filter]`, `attr[filter].sub`, optionally prefixed by a \
                 schema URN and `:`. Without a path, `value` is an object of attributes.",
            )),
        )
        .property(
            "value",
            ObjectBuilder::new()
                .schema_type(SchemaType::AnyValue)
                .description(text(
                    "The value to add or replace with; `\"\"` or `null` clears.",
                )),
        )
        .required("op")
}

/// A list parameter's schema, shared by the query string and the SearchRequest body.
pub fn param_schema(p: Param, in_body: bool) -> RefOr<Schema> {
    let s = match p {
        Param::Filter => string().examples(["userName eq \"bjensen@example.com\""]),
        Param::SortBy => string().examples(["userName", "meta.lastModified"]),
        Param::SortOrder => string().enum_values(Some(["ascending", "descending"])),
        Param::StartIndex => integer(),
        Param::Count => integer(),
        Param::Cursor => string(),
        Param::Attributes | Param::ExcludedAttributes if in_body => {
            return AnyOfBuilder::new()
                .item(array(string()))
                .item(string())
                .description(Some(param_description(p)))
                .into();
        }
        Param::Attributes | Param::ExcludedAttributes => {
            string().examples(["userName,emails", "members"])
        }
    };
    // In a query, the parameter object carries the description.
    let s = if in_body {
        s.description(Some(param_description(p)))
    } else {
        s
    };
    s.into()
}

pub fn param_description(p: Param) -> &'static str {
    match p {
        Param::Filter => {
            "RFC 7644 §3.4.2.2 filter on any attribute of /Schemas, extension attributes by \
             their URN, `meta.created`, `meta.lastModified`, `meta.resourceType`. Too long \
             (`filter_max_length`) or too deep (`filter_max_depth`): 400 `invalidFilter`."
        }
        Param::SortBy => {
            "A singular attribute or sub-attribute to sort by; missing values last, ties by id."
        }
        Param::SortOrder => "`ascending` (default) or `descending`, in any case.",
        Param::StartIndex => {
            "1-based index of the first result (index paging); below 1 reads as 1."
        }
        Param::Count => {
            "Results per page: `default_page_size` when absent, capped at `max_page_size`, \
             negative reads as 0."
        }
        Param::Cursor => {
            "RFC 9865 cursor paging: empty on the first page, then a `nextCursor` or \
             `previousCursor` from the previous answer. Cursors expire after \
             `cursor_timeout_seconds` (400 `expiredCursor`)."
        }
        Param::Attributes => {
            "Attributes to return (comma-separated attribute paths); `id` and `schemas` always \
             come."
        }
        Param::ExcludedAttributes => "Attributes to leave out (comma-separated attribute paths).",
    }
}

fn search_request() -> ObjectBuilder {
    let mut o = object()
        .description(text(
            "A SearchRequest message (RFC 7644 §3.4.3): the list parameters in a body. Numbers \
             may also come as strings; keys are matched in any case.",
        ))
        .property("schemas", urns(&[urn::SEARCH_REQUEST]));
    for p in Param::LIST {
        o = o.property(p.name(), param_schema(p, true));
    }
    o
}

// --- discovery documents (RFC 7643 §5-7) -----------------------------------------------------

fn supported(extra: Vec<(&str, ObjectBuilder)>) -> ObjectBuilder {
    let mut o = object()
        .property("supported", boolean())
        .required("supported");
    for (name, s) in extra {
        o = o.property(name, s);
    }
    o
}

fn service_provider_config() -> ObjectBuilder {
    let scheme = object()
        .property("type", string().examples(["oauthbearertoken"]))
        .property("name", string())
        .property("description", string())
        .property("specUri", string())
        .property("documentationUri", string())
        .property("primary", boolean())
        .required("type")
        .required("name")
        .required("description");
    let pagination = object()
        .description(text("RFC 9865 pagination capabilities."))
        .property("cursor", boolean())
        .property("index", boolean())
        .property(
            "defaultPaginationMethod",
            string().enum_values(Some(["index", "cursor"])),
        )
        .property("defaultPageSize", integer())
        .property("maxPageSize", integer())
        .property(
            "cursorTimeout",
            integer().description(text("Seconds a cursor stays valid.")),
        );
    object()
        .description(text("RFC 7643 §5: what this server supports."))
        .property("schemas", urns(&[urn::SERVICE_PROVIDER_CONFIG]))
        .property("documentationUri", string())
        .property("patch", supported(vec![]))
        .property(
            "bulk",
            supported(vec![
                ("maxOperations", integer()),
                ("maxPayloadSize", integer()),
            ]),
        )
        .property("filter", supported(vec![("maxResults", integer())]))
        .property("changePassword", supported(vec![]))
        .property("sort", supported(vec![]))
        .property("etag", supported(vec![]))
        .property("pagination", pagination)
        .property("authenticationSchemes", array(scheme))
        .property("meta", named("Meta"))
        .required("schemas")
        .required("patch")
        .required("bulk")
        .required("filter")
        .required("changePassword")
        .required("sort")
        .required("etag")
        .required("authenticationSchemes")
}

fn resource_type() -> ObjectBuilder {
    let ext = object()
        .property("schema", string())
        .property("required", boolean())
        .required("schema")
        .required("required");
    object()
        .description(text("RFC 7643 §6: a resource type and its schemas."))
        .property("schemas", urns(&[urn::RESOURCE_TYPE]))
        .property(
            "id",
            string().enum_values(Some(RESOURCE_KINDS.map(ResourceKind::name))),
        )
        .property("name", string())
        .property("description", string())
        .property(
            "endpoint",
            string().enum_values(Some(RESOURCE_KINDS.map(ResourceKind::endpoint))),
        )
        .property("schema", string())
        .property("schemaExtensions", array(ext))
        .property("meta", named("Meta"))
        .required("schemas")
        .required("name")
        .required("endpoint")
        .required("schema")
}

fn schema() -> ObjectBuilder {
    object()
        .description(text("RFC 7643 §7: a schema and its attribute definitions."))
        .property("schemas", urns(&[urn::SCHEMA]))
        .property("id", string())
        .property("name", string())
        .property("description", string())
        .property("attributes", array(named("SchemaAttribute")))
        .property("meta", named("Meta"))
        .required("schemas")
        .required("id")
        .required("attributes")
}

// RFC 7643 §7 fixes these vocabularies; `crate::scim::schema` mirrors them.
fn schema_attribute() -> ObjectBuilder {
    let names = |v: &[&str]| string().enum_values(Some(v.to_vec()));
    object()
        .property("name", string())
        .property(
            "type",
            names(&[
                "string",
                "boolean",
                "decimal",
                "integer",
                "dateTime",
                "binary",
                "reference",
                "complex",
            ]),
        )
        .property("subAttributes", array(named("SchemaAttribute")))
        .property("multiValued", boolean())
        .property("description", string())
        .property("required", boolean())
        .property("canonicalValues", array(string()))
        .property("caseExact", boolean())
        .property(
            "mutability",
            names(&["readOnly", "readWrite", "immutable", "writeOnly"]),
        )
        .property(
            "returned",
            names(&["always", "never", "default", "request"]),
        )
        .property("uniqueness", names(&["none", "server", "global"]))
        .property("referenceTypes", array(string()))
        .required("name")
        .required("type")
}

fn health() -> ObjectBuilder {
    object()
        .property(
            "status",
            string().examples(["ok", "ready", "database unreachable"]),
        )
        .required("status")
}
