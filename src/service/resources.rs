//! Users and Groups use cases: create, read, replace, delete and list, with the derived
//! `groups` / `members` attributes and `meta`.

use std::collections::HashMap;
use std::sync::Arc;

use serde_json::{json, Value};

use super::error::{ServiceError, ServiceResult};
use super::events;
use super::filter::lower_filter;
use super::member_batch::{Members, Written};
use super::sort::resolve_sort;
use crate::scim::cursor::{
    decode as decode_cursor, encode as encode_cursor, fingerprint, Position,
};
use crate::scim::filter::FilterLimits;
use crate::scim::list::{list_response, Page, PageLimits};
use crate::scim::projection::Projection;
use crate::scim::resource::{location, Meta, Rendered};
use crate::scim::schema::{Registry, ResourceKind, ResourceSchema};
use crate::scim::validate::{enforce_immutable, parse_resource, Incoming};
use crate::scim::ScimError;
use crate::scim::ScimType;
use crate::store::query::{Literal, Seek};
use crate::store::{
    EventOp, Kind, ListQuery, MemberChange, MemberRow, NewResource, ReplaceResource, Store,
    StoredResource,
};

/// The realm a request acts in, and the absolute base URL its locations are built from.
#[derive(Debug, Clone)]
pub struct RealmCtx {
    /// The realm the request was authorized for, shared with its principal.
    pub realm: Arc<crate::store::Realm>,
    pub base_url: String,
    /// Who is calling, as the event log names it (`Principal::actor`).
    pub actor: String,
    /// The request's id (`X-Request-Id`), which the event log keeps beside each change.
    pub request_id: Option<String>,
}

impl RealmCtx {
    pub fn realm_id(&self) -> &str {
        &self.realm.id
    }
}

/// One resource as the HTTP layer sends it.
#[derive(Debug)]
pub struct ResourceOut {
    pub body: Value,
    pub etag: String,
    pub location: String,
}

impl ResourceOut {
    /// `body` with the ETag and Location of the resource it renders.
    fn new(ctx: &RealmCtx, stored: &StoredResource, body: Value) -> Self {
        Self {
            body,
            etag: crate::scim::resource::etag(stored.version),
            location: location(&ctx.base_url, stored.kind, &stored.id),
        }
    }
}

/// Query parameters of a list or search.
#[derive(Debug, Default, Clone)]
pub struct ListParams {
    pub filter: Option<String>,
    pub start_index: Option<String>,
    pub count: Option<String>,
    pub attributes: Option<String>,
    pub excluded_attributes: Option<String>,
    pub sort_by: Option<String>,
    pub sort_order: Option<String>,
    /// RFC 9865: present (even empty) selects cursor paging.
    pub cursor: Option<String>,
}

pub struct ResourceService {
    store: Arc<dyn Store>,
    page_limits: PageLimits,
    filter_limits: FilterLimits,
    max_patch_operations: usize,
    cursor_timeout_secs: i64,
    cursor_key: tokio::sync::OnceCell<Vec<u8>>,
    member_batches: Arc<super::member_batch::MemberBatcher>,
    /// Raised after every write (each records an event): the change feed's readers wait on it.
    events_written: Arc<crate::service::event_signal::EventSignal>,
}

/// How many times a PUT or PATCH without If-Match re-reads and re-applies after losing a race
/// with a concurrent writer; each attempt is a fresh read, so no acknowledged change is lost.
/// An attempt fails only because another write to the same resource committed meanwhile, so
/// with fewer than this many concurrent writers every request eventually succeeds.
const WRITE_ATTEMPTS: usize = 32;
/// A write that lost a race waits a random time below a ceiling before it re-reads; the
/// ceiling starts here and doubles with each lost attempt up to `RETRY_WAIT_MAX`. Writers that
/// collided and retried at once collided again, each retry another read and write for the
/// database; spread out, most find the row free. The sum of the ceilings over every attempt
/// (under a second) bounds what a request can spend waiting.
const RETRY_WAIT_MIN: std::time::Duration = std::time::Duration::from_millis(1);
const RETRY_WAIT_MAX: std::time::Duration = std::time::Duration::from_millis(32);

/// A written group's response lists its members only up to this many, unless the request
/// names `members` in `attributes`.
pub const RESPONSE_MEMBER_LIMIT: u64 = 1000;

/// One resource type's share of a root search: its filter, sort and projection.
type SearchPart = (
    ResourceKind,
    Option<crate::store::query::Predicate>,
    Option<crate::store::query::Sort>,
    Projection,
);

/// How deep a sorted root `/.search` pages: each type's first this-many rows are read and
/// merged. Ten full pages at the largest page size.
pub const ROOT_SORT_WINDOW: u64 = 10_000;

fn what(kind: ResourceKind) -> &'static str {
    kind.name()
}

impl ResourceService {
    pub fn new(
        store: Arc<dyn Store>,
        page_limits: PageLimits,
        filter_limits: FilterLimits,
        max_patch_operations: usize,
        cursor_timeout_secs: i64,
    ) -> Self {
        Self {
            store,
            page_limits,
            filter_limits,
            max_patch_operations,
            cursor_timeout_secs,
            cursor_key: tokio::sync::OnceCell::new(),
            member_batches: Arc::default(),
            events_written: Arc::default(),
        }
    }

    /// Shares the signal the change feed's readers wait on.
    pub fn with_event_signal(
        mut self,
        signal: Arc<crate::service::event_signal::EventSignal>,
    ) -> Self {
        self.events_written = signal;
        self
    }

    /// After a write committed (and its event with it).
    fn wrote<T>(
        &self,
        r: Result<T, crate::store::StoreError>,
    ) -> Result<T, crate::store::StoreError> {
        if r.is_ok() {
            self.events_written.wrote();
        }
        r
    }

    async fn cursor_key(&self) -> ServiceResult<&[u8]> {
        let key = self
            .cursor_key
            .get_or_try_init(|| async { self.store.secret("cursor_signing_key").await })
            .await
            .map_err(|e| ServiceError::from_store(e, "cursor key"))?;
        Ok(key.as_slice())
    }

    fn schema(kind: ResourceKind) -> &'static ResourceSchema {
        Registry::get().resource(kind)
    }

    pub fn projection(
        kind: ResourceKind,
        attributes: Option<&str>,
        excluded: Option<&str>,
    ) -> ServiceResult<Projection> {
        Ok(Projection::parse(Self::schema(kind), attributes, excluded)?)
    }

    pub async fn create(
        &self,
        ctx: &RealmCtx,
        kind: ResourceKind,
        body: Value,
        proj: &Projection,
    ) -> ServiceResult<ResourceOut> {
        let schema = Self::schema(kind);
        let incoming = parse_resource(schema, body)?;
        let name = required_name(&incoming, kind)?;
        let password_hash = super::password::hash(incoming.password.clone()).await?;
        let members = member_ids(incoming.members);
        let mut changed = events::created_attributes(&incoming.data);
        for (present, name) in [
            (incoming.external_id.is_some(), "externalId"),
            (password_hash.is_some(), "password"),
            (!members.is_empty(), "members"),
        ] {
            if present {
                changed.push(name.to_owned());
            }
        }
        changed.sort();
        let mut event = ctx.event(EventOp::Create, changed);
        if kind == ResourceKind::Group {
            event.members_added = Some(members.clone());
        }
        let new = NewResource {
            id: uuid::Uuid::now_v7().to_string(),
            realm_id: ctx.realm_id().to_owned(),
            kind,
            name,
            external_id: incoming.external_id,
            data: incoming.data,
            password_hash,
            members,
            now: crate::clock::now(),
            event: Some(event),
        };
        let stored = self
            .wrote(self.store.insert_resource(new).await)
            .map_err(|e| ServiceError::from_store(e, what(kind)))?;
        if kind == ResourceKind::User {
            // A user created a moment ago belongs to no group yet: no membership query.
            let body = render_body(ctx, schema, &stored, None, proj);
            return Ok(ResourceOut::new(ctx, &stored, body));
        }
        self.render_one(ctx, &stored, proj).await
    }

    pub async fn get(
        &self,
        ctx: &RealmCtx,
        kind: ResourceKind,
        id: &str,
        proj: &Projection,
    ) -> ServiceResult<ResourceOut> {
        let stored = self.load(ctx, kind, id).await?;
        self.render_one(ctx, &stored, proj).await
    }

    /// The current resource for a guarded write: with If-Match, a stale version is answered
    /// 412 before any work (the write itself checks the version again).
    async fn load_for_write(
        &self,
        ctx: &RealmCtx,
        kind: ResourceKind,
        id: &str,
        if_match: Option<i64>,
    ) -> ServiceResult<StoredResource> {
        let existing = self.load(ctx, kind, id).await?;
        match if_match {
            Some(v) if v != existing.version => Err(precondition(kind, id)),
            _ => Ok(existing),
        }
    }

    /// An `If-Match` naming several versions (RFC 9110 §13.1.1: a list, any of which may
    /// match): the current version when it is one of them, for the write to be conditioned
    /// on exactly; else 412. A write that loses a race after this check still fails 412.
    pub async fn version_matching(
        &self,
        ctx: &RealmCtx,
        kind: ResourceKind,
        id: &str,
        versions: &[i64],
    ) -> ServiceResult<i64> {
        let current = self.load(ctx, kind, id).await?.version;
        if versions.contains(&current) {
            Ok(current)
        } else {
            Err(precondition(kind, id))
        }
    }

    async fn load(
        &self,
        ctx: &RealmCtx,
        kind: ResourceKind,
        id: &str,
    ) -> ServiceResult<StoredResource> {
        self.store
            .get_resource(ctx.realm_id(), kind, id)
            .await
            .map_err(|e| ServiceError::from_store(e, what(kind)))?
            .ok_or_else(|| {
                ScimError::not_found(format!("{} '{id}' not found in this realm", kind.name()))
                    .into()
            })
    }

    pub async fn replace(
        &self,
        ctx: &RealmCtx,
        kind: ResourceKind,
        id: &str,
        body: Value,
        if_match: Option<i64>,
        proj: &Projection,
    ) -> ServiceResult<ResourceOut> {
        let schema = Self::schema(kind);
        let parsed = parse_resource(schema, body)?;
        let mut password = super::password::HashOnce::default();
        let mut attempt = 0;
        loop {
            attempt += 1;
            let existing = self.load_for_write(ctx, kind, id, if_match).await?;
            let mut incoming = parsed.clone();
            enforce_immutable(schema, &existing.data, &mut incoming.data)?;
            let name = required_name(&incoming, kind)?;
            let password_hash = password.hash(incoming.password.take()).await?;
            let mut changed = changes(&existing, &incoming, password_hash.is_some());
            let members = (kind == ResourceKind::Group).then(|| member_ids(incoming.members));
            if members.is_some() {
                // A PUT replaces the whole list; which members it changed is not read.
                changed.push("members".into());
                changed.sort();
            }
            let update = ReplaceResource {
                realm_id: ctx.realm_id().to_owned(),
                kind,
                id: id.to_owned(),
                name,
                external_id: incoming.external_id,
                data: incoming.data,
                password_hash,
                // RFC 7644 §3.5.1: PUT replaces; a Group PUT without members leaves it without.
                members,
                member_change: None,
                // The version read above guards the write (immutables were checked against
                // it); without If-Match a lost race re-reads and writes again, as PATCH does.
                expected_version: Some(existing.version),
                now: crate::clock::now(),
                event: Some(ctx.event(EventOp::Replace, changed)),
            };
            match self.wrote(self.store.replace_resource(update).await) {
                Ok(stored) => return self.render_one(ctx, &stored, proj).await,
                Err(e) => after_lost_race(e, if_match, attempt, kind, id).await?,
            }
        }
    }

    /// RFC 7644 §3.5.2 PATCH. Membership changes go to the membership rows as a delta;
    /// everything else applies to the current document, which is then validated as a PUT body
    /// would be and written only if nobody changed it meanwhile.
    pub async fn patch(
        &self,
        ctx: &RealmCtx,
        kind: ResourceKind,
        id: &str,
        body: Value,
        if_match: Option<i64>,
        proj: &Projection,
    ) -> ServiceResult<ResourceOut> {
        let ops = crate::scim::patch::parse_request(body, self.max_patch_operations)?;
        let doc = DocPatch {
            id,
            kind,
            if_match,
            proj,
            member_change: None,
            with_members: false,
        };
        if kind == ResourceKind::User {
            return self.patch_document(ctx, &ops, doc).await;
        }
        let Some(split) = crate::scim::patch::split_members(&ops, &self.filter_limits)? else {
            // Membership operations a delta cannot express: they edit the member list itself.
            let doc = DocPatch {
                with_members: true,
                ..doc
            };
            return self.patch_document(ctx, &ops, doc).await;
        };
        let change = split.delta.map(|d| MemberChange {
            clear: d.clear,
            add: d.add,
            remove: d.remove,
            must_be_users: Vec::new(),
        });
        match change {
            Some(change) if split.doc_ops.is_empty() => {
                self.patch_members(ctx, id, change, if_match, proj).await
            }
            member_change => {
                let doc = DocPatch {
                    member_change,
                    ..doc
                };
                self.patch_document(ctx, &split.doc_ops, doc).await
            }
        }
    }

    /// A PATCH of a group's membership only: no read of the group or of its members. Without
    /// If-Match, concurrent changes to the group go in together.
    async fn patch_members(
        &self,
        ctx: &RealmCtx,
        id: &str,
        change: MemberChange,
        if_match: Option<i64>,
        proj: &Projection,
    ) -> ServiceResult<ResourceOut> {
        let failed = |e| self.write_error(e, ResourceKind::Group, id);
        let mut event = ctx.event(EventOp::Patch, vec!["members".into()]);
        (event.members_added, event.members_removed) = events::member_delta(&change);
        if if_match.is_none() && !change.clear {
            let batches = &self.member_batches;
            let written = batches
                .apply(&self.store, ctx.realm_id(), id, change, event)
                .await;
            let written = self.wrote(written);
            return self
                .render_batched(ctx, written.map_err(failed)?, proj)
                .await;
        }
        let now = crate::clock::now();
        let stored = self
            .wrote(
                self.store
                    .change_members(ctx.realm_id(), id, change, if_match, &now, vec![event])
                    .await,
            )
            .map_err(failed)?;
        self.render_written(ctx, &stored, proj).await
    }

    fn write_error(
        &self,
        e: crate::store::StoreError,
        kind: ResourceKind,
        id: &str,
    ) -> ServiceError {
        match e {
            crate::store::StoreError::NotFound => {
                ScimError::not_found(format!("{} '{id}' not found in this realm", kind.name()))
                    .into()
            }
            crate::store::StoreError::VersionMismatch => precondition(kind, id),
            e => ServiceError::from_store(e, what(kind)),
        }
    }

    /// Renders a resource just written. A large group's member list is left out unless the
    /// request names `members`: the write stays cheap whatever the group's size.
    async fn render_written(
        &self,
        ctx: &RealmCtx,
        stored: &StoredResource,
        proj: &Projection,
    ) -> ServiceResult<ResourceOut> {
        let schema = Self::schema(stored.kind);
        if stored.kind == ResourceKind::Group
            && proj.includes(schema, "members")
            && !proj.names(schema, "members")
            && self
                .store
                .has_more_members_than(ctx.realm_id(), &stored.id, RESPONSE_MEMBER_LIMIT)
                .await
                .map_err(|e| ServiceError::from_store(e, "group membership"))?
        {
            let lean = proj.excluding(schema, "members");
            return self.render_one(ctx, stored, &lean).await;
        }
        self.render_one(ctx, stored, proj).await
    }

    /// Renders a group written by a membership batch, with the members the batch read.
    async fn render_batched(
        &self,
        ctx: &RealmCtx,
        written: Written,
        proj: &Projection,
    ) -> ServiceResult<ResourceOut> {
        let schema = Self::schema(ResourceKind::Group);
        let stored = written.stored.as_ref();
        let relations = match written.members {
            _ if !proj.includes(schema, "members") => None,
            Members::Listed(rows) => Some(Value::Array(
                rows.iter().map(|m| member_json(ctx, m)).collect(),
            )),
            Members::TooMany if !proj.names(schema, "members") => {
                let lean = proj.excluding(schema, "members");
                let body = render_body(ctx, schema, stored, None, &lean);
                return Ok(ResourceOut::new(ctx, stored, body));
            }
            Members::TooMany | Members::Unread => {
                return self.render_written(ctx, stored, proj).await
            }
        };
        let body = render_body(ctx, schema, stored, relations, proj);
        Ok(ResourceOut::new(ctx, stored, body))
    }

    /// Applies attribute operations to the stored document, re-reading and re-applying
    /// after a lost race (see `after_lost_race`).
    async fn patch_document(
        &self,
        ctx: &RealmCtx,
        ops: &[crate::scim::patch::PatchOp],
        p: DocPatch<'_>,
    ) -> ServiceResult<ResourceOut> {
        let schema = Self::schema(p.kind);
        let patcher = crate::scim::patch::Patcher {
            schema,
            limits: &self.filter_limits,
        };
        let mut password = super::password::HashOnce::default();
        let mut attempt = 0;
        loop {
            attempt += 1;
            let existing = self.load_for_write(ctx, p.kind, p.id, p.if_match).await?;
            let (mut doc, old_members) = self
                .document_to_patch(ctx, &existing, p.with_members)
                .await?;
            patcher.apply(&mut doc, ops)?;
            let mut incoming = parse_resource(schema, Value::Object(doc))?;
            enforce_immutable(schema, &existing.data, &mut incoming.data)?;
            let name = required_name(&incoming, p.kind)?;
            let password_hash = password.hash(incoming.password.take()).await?;
            let mut changed = changes(&existing, &incoming, password_hash.is_some());
            let mut event = ctx.event(EventOp::Patch, Vec::new());
            let members = match old_members {
                Some(old) => {
                    let new = changed_members(old.clone(), incoming.members);
                    if let Some(new) = &new {
                        let (added, removed) = events::list_delta(&old, new);
                        (event.members_added, event.members_removed) = (Some(added), Some(removed));
                    }
                    new
                }
                None => None,
            };
            if let Some(change) = &p.member_change {
                (event.members_added, event.members_removed) = events::member_delta(change);
            }
            if event.members_added.is_some() || event.members_removed.is_some() {
                changed.push("members".into());
                changed.sort();
            }
            event.changed = changed;
            let update = ReplaceResource {
                realm_id: ctx.realm_id().to_owned(),
                kind: p.kind,
                id: p.id.to_owned(),
                name,
                password_hash,
                members,
                external_id: incoming.external_id,
                data: incoming.data,
                member_change: p.member_change.clone(),
                expected_version: Some(existing.version),
                now: crate::clock::now(),
                event: Some(event),
            };
            match self.wrote(self.store.replace_resource(update).await) {
                Ok(stored) => return self.render_written(ctx, &stored, p.proj).await,
                Err(e) => after_lost_race(e, p.if_match, attempt, p.kind, p.id).await?,
            }
        }
    }

    /// The document PATCH operations apply to: the stored attributes with `externalId`, and,
    /// when `with_members`, the group's member list, which is also returned as it was.
    async fn document_to_patch(
        &self,
        ctx: &RealmCtx,
        existing: &StoredResource,
        with_members: bool,
    ) -> ServiceResult<(serde_json::Map<String, Value>, Option<Vec<String>>)> {
        let mut doc = existing.data.clone();
        if let Some(e) = &existing.external_id {
            doc.insert("externalId".into(), Value::String(e.clone()));
        }
        if !(with_members && existing.kind == ResourceKind::Group) {
            return Ok((doc, None));
        }
        let rows = self
            .store
            .members_of(ctx.realm_id(), std::slice::from_ref(&existing.id))
            .await
            .map_err(|e| ServiceError::from_store(e, "group membership"))?;
        let ids: Vec<String> = rows.into_iter().map(|m| m.member_id).collect();
        let listed = ids.iter().map(|m| json!({"value": m})).collect();
        doc.insert("members".into(), Value::Array(listed));
        Ok((doc, Some(ids)))
    }

    /// `POST /.search` at the realm root: both resource types paged as one list. Unsorted,
    /// Users come first; with `sortBy`, the two sorted lists are merged into one order, and
    /// a type that lacks the attribute sorts as missing (last).
    pub async fn search_all(&self, ctx: &RealmCtx, params: &ListParams) -> ServiceResult<Value> {
        let page = Page::parse(
            params.start_index.as_deref(),
            params.count.as_deref(),
            self.page_limits,
        )?;
        let sorted = params
            .sort_by
            .as_deref()
            .is_some_and(|s| !s.trim().is_empty());
        // A bad sortOrder is an error even without sortBy, as on /Users.
        resolve_sort(ResourceKind::User, None, params.sort_order.as_deref())?;
        let parts = self.search_parts(params, sorted)?;
        if sorted {
            return self.search_all_sorted(ctx, params, page, parts).await;
        }
        let mut total = 0u64;
        let mut resources = Vec::new();
        for (kind, filter, sort, proj) in parts {
            let query = ListQuery {
                filter,
                offset: page.offset().saturating_sub(total),
                limit: page.count.saturating_sub(resources.len() as u32),
                sort,
                seek: None,
            };
            let listed = self
                .store
                .list_resources(ctx.realm_id(), kind, &query)
                .await
                .map_err(|e| ServiceError::from_store(e, what(kind)))?;
            total += listed.total;
            resources.extend(self.render_many(ctx, kind, &listed.items, &proj).await?);
        }
        Ok(list_response(total, page, resources))
    }

    /// Each type's filter, sort and projection for a root search. A type the filter cannot
    /// apply to (it names attributes only the other type has) is left out, as is, for a
    /// sorted search, a type the sort cannot apply to, as long as the other type remains.
    fn search_parts(&self, params: &ListParams, sorted: bool) -> ServiceResult<Vec<SearchPart>> {
        let mut parts = Vec::with_capacity(2);
        let mut first_error: Option<ScimError> = None;
        let mut any_sort = false;
        for kind in [ResourceKind::User, ResourceKind::Group] {
            let filter = match params.filter.as_deref().map(str::trim) {
                Some(f) if !f.is_empty() => match lower_filter(kind, f, &self.filter_limits) {
                    Ok(p) => Some(p),
                    Err(e) => {
                        first_error.get_or_insert(e);
                        continue;
                    }
                },
                _ => None,
            };
            let sort = resolve_sort(
                kind,
                params.sort_by.as_deref(),
                params.sort_order.as_deref(),
            )
            .unwrap_or_else(|e| {
                first_error.get_or_insert(e);
                None
            });
            any_sort |= sort.is_some();
            let proj = Self::projection(
                kind,
                params.attributes.as_deref(),
                params.excluded_attributes.as_deref(),
            )?;
            parts.push((kind, filter, sort, proj));
        }
        if parts.is_empty() || (sorted && !any_sort) {
            return Err(first_error
                .unwrap_or_else(|| ScimError::invalid_value("nothing to search"))
                .into());
        }
        Ok(parts)
    }

    /// A sorted root search: the first `startIndex + count - 1` rows of each type in the
    /// order asked, merged, then the page cut from the merged list. The window is bounded so
    /// a deep page cannot make one request read the whole directory.
    async fn search_all_sorted(
        &self,
        ctx: &RealmCtx,
        params: &ListParams,
        page: Page,
        parts: Vec<SearchPart>,
    ) -> ServiceResult<Value> {
        let window = page.offset().saturating_add(u64::from(page.count));
        if window > ROOT_SORT_WINDOW {
            return Err(ScimError::invalid_value(format!(
                "a sorted search across Users and Groups pages through the first \
                 {ROOT_SORT_WINDOW} results only; startIndex {} with count {} goes past them. \
                 Narrow the filter, or search /Users/.search and /Groups/.search separately",
                page.start_index, page.count
            ))
            .into());
        }
        let descending = params
            .sort_order
            .as_deref()
            .is_some_and(|o| o.trim().eq_ignore_ascii_case("descending"));
        let mut total = 0u64;
        let mut lists = Vec::with_capacity(parts.len());
        let mut projections = Vec::with_capacity(parts.len());
        for (kind, filter, sort, proj) in parts {
            let query = ListQuery {
                filter,
                offset: 0,
                limit: window as u32,
                sort: sort.clone(),
                seek: None,
            };
            let listed = self
                .store
                .list_resources(ctx.realm_id(), kind, &query)
                .await
                .map_err(|e| ServiceError::from_store(e, what(kind)))?;
            total += listed.total;
            lists.push((kind, sort, listed.items));
            projections.push((kind, proj));
        }
        let merged = super::sort::merge_sorted(descending, lists);
        let cut: Vec<_> = merged
            .into_iter()
            .skip(page.offset() as usize)
            .take(page.count as usize)
            .collect();
        let resources = self.render_merged(ctx, cut, &projections).await?;
        Ok(list_response(total, page, resources))
    }

    /// Renders rows of both types in their merged order: a type at a time (one membership
    /// query each), then put back in place.
    async fn render_merged(
        &self,
        ctx: &RealmCtx,
        rows: Vec<(ResourceKind, StoredResource)>,
        projections: &[(ResourceKind, Projection)],
    ) -> ServiceResult<Vec<Value>> {
        let mut slots: Vec<Option<Value>> = vec![None; rows.len()];
        let mut by_kind: Vec<(Vec<usize>, Vec<StoredResource>)> =
            projections.iter().map(|_| Default::default()).collect();
        for (i, (kind, row)) in rows.into_iter().enumerate() {
            if let Some(at) = projections.iter().position(|(k, _)| *k == kind) {
                by_kind[at].0.push(i);
                by_kind[at].1.push(row);
            }
        }
        for ((kind, proj), (at, rows)) in projections.iter().zip(by_kind) {
            let rendered = self.render_many(ctx, *kind, &rows, proj).await?;
            for (i, v) in at.into_iter().zip(rendered) {
                slots[i] = Some(v);
            }
        }
        Ok(slots.into_iter().flatten().collect())
    }

    pub async fn delete(
        &self,
        ctx: &RealmCtx,
        kind: ResourceKind,
        id: &str,
        if_match: Option<i64>,
    ) -> ServiceResult<()> {
        let event = ctx.event(EventOp::Delete, Vec::new());
        let deleted = self
            .store
            .delete_resource(ctx.realm_id(), kind, id, if_match, Some(event))
            .await;
        self.wrote(deleted).map_err(|e| match e {
            crate::store::StoreError::NotFound => {
                ScimError::not_found(format!("{} '{id}' not found in this realm", kind.name()))
                    .into()
            }
            crate::store::StoreError::VersionMismatch => precondition(kind, id),
            e => ServiceError::from_store(e, what(kind)),
        })
    }

    pub async fn list(
        &self,
        ctx: &RealmCtx,
        kind: ResourceKind,
        params: &ListParams,
    ) -> ServiceResult<Value> {
        let proj = Self::projection(
            kind,
            params.attributes.as_deref(),
            params.excluded_attributes.as_deref(),
        )?;
        let filter_text = params.filter.as_deref().map(str::trim).unwrap_or_default();
        let filter = match filter_text {
            "" => None,
            f => Some(lower_filter(kind, f, &self.filter_limits)?),
        };
        let sort = resolve_sort(
            kind,
            params.sort_by.as_deref(),
            params.sort_order.as_deref(),
        )?;
        if let Some(cursor) = &params.cursor {
            return self
                .list_by_cursor(ctx, kind, params, cursor, filter, sort, &proj)
                .await;
        }
        let page = Page::parse(
            params.start_index.as_deref(),
            params.count.as_deref(),
            self.page_limits,
        )?;
        let query = ListQuery {
            filter,
            offset: page.offset(),
            limit: page.count,
            sort,
            seek: None,
        };
        let listed = self
            .store
            .list_resources(ctx.realm_id(), kind, &query)
            .await
            .map_err(|e| ServiceError::from_store(e, what(kind)))?;
        let resources = self.render_many(ctx, kind, &listed.items, &proj).await?;
        Ok(list_response(listed.total, page, resources))
    }

    /// RFC 9865 cursor paging: a keyset seek from the position the cursor carries, so the
    /// thousandth page costs what the first does and concurrent writes skip or repeat nothing.
    #[allow(clippy::too_many_arguments)]
    async fn list_by_cursor(
        &self,
        ctx: &RealmCtx,
        kind: ResourceKind,
        params: &ListParams,
        cursor: &str,
        filter: Option<crate::store::query::Predicate>,
        sort: Option<crate::store::query::Sort>,
        proj: &Projection,
    ) -> ServiceResult<Value> {
        let count = self.cursor_count(params)?;
        let signer = CursorSigner {
            key: self.cursor_key().await?,
            query: cursor_fingerprint(kind, params),
            now: chrono::Utc::now().timestamp(),
        };
        let position = match cursor.trim() {
            "" => None,
            c => Some(signer.decode(c, self.cursor_timeout_secs)?),
        };
        let query = ListQuery {
            filter,
            offset: 0,
            // One extra row tells whether another page follows.
            limit: if count == 0 { 0 } else { count + 1 },
            sort,
            seek: position.as_ref().map(|p| Seek {
                key: json_to_literal(&p.key),
                id: p.id.clone(),
                backward: p.backward,
            }),
        };
        let mut listed = self
            .store
            .list_resources(ctx.realm_id(), kind, &query)
            .await
            .map_err(|e| ServiceError::from_store(e, what(kind)))?;
        let backward = position.as_ref().is_some_and(|p| p.backward);
        let more = drop_lookahead(&mut listed, count, backward);
        let (next, previous) = signer.neighbours(&listed, more, position.is_some(), backward);
        let resources = self.render_many(ctx, kind, &listed.items, proj).await?;
        Ok(cursor_page(listed.total, resources, next, previous))
    }

    /// A cursor page's `count`: the default when absent, capped at the largest page.
    fn cursor_count(&self, params: &ListParams) -> ServiceResult<u32> {
        let given = params.count.as_deref().map(str::trim);
        match given.filter(|c| !c.is_empty()) {
            None => Ok(self.page_limits.default_count),
            Some(c) => match c.parse::<i64>() {
                Ok(n) if n >= 0 => Ok(n.min(i64::from(self.page_limits.max_count)) as u32),
                _ => Err(ScimError::bad_request(
                    ScimType::InvalidCount,
                    format!("count must be a non-negative integer, got \"{c}\""),
                )
                .into()),
            },
        }
    }

    async fn render_one(
        &self,
        ctx: &RealmCtx,
        stored: &StoredResource,
        proj: &Projection,
    ) -> ServiceResult<ResourceOut> {
        let mut bodies = self
            .render_many(ctx, stored.kind, std::slice::from_ref(stored), proj)
            .await?;
        let body = bodies.pop().unwrap_or(Value::Null);
        Ok(ResourceOut::new(ctx, stored, body))
    }

    /// Renders a page, loading `groups` / `members` for all of it in one query, and only when
    /// the projection keeps them.
    async fn render_many(
        &self,
        ctx: &RealmCtx,
        kind: ResourceKind,
        items: &[StoredResource],
        proj: &Projection,
    ) -> ServiceResult<Vec<Value>> {
        let schema = Self::schema(kind);
        let relation_attr = match kind {
            ResourceKind::User => "groups",
            ResourceKind::Group => "members",
        };
        // Resources the store already knows to have no memberships need no lookup.
        let related: Vec<&StoredResource> =
            items.iter().filter(|r| r.related != Some(false)).collect();
        let mut relations = match kind {
            _ if related.is_empty() || !proj.includes(schema, relation_attr) => HashMap::new(),
            ResourceKind::User => self.groups_of_users(ctx, &related).await?,
            ResourceKind::Group => self.members_of_groups(ctx, &related).await?,
        };
        Ok(items
            .iter()
            .map(|r| {
                let rel = relations.remove(&r.id).map(Value::Array);
                render_body(ctx, schema, r, rel, proj)
            })
            .collect())
    }

    /// Each user's `groups` entries, by user id. Direct groups read with the row need no
    /// query (only groups that are themselves members are walked up); the others are looked
    /// up together.
    async fn groups_of_users(
        &self,
        ctx: &RealmCtx,
        users: &[&StoredResource],
    ) -> ServiceResult<HashMap<String, Vec<Value>>> {
        let mut known = Vec::new();
        let mut unknown = Vec::new();
        for r in users {
            match &r.direct_groups {
                Some(groups) => known.extend(groups.iter().map(|g| (r.id.clone(), g.clone()))),
                None => unknown.push(r.id.clone()),
            }
        }
        let failed = |e| ServiceError::from_store(e, "group membership");
        let mut rows = Vec::new();
        if !unknown.is_empty() {
            rows.extend(
                self.store
                    .groups_of(ctx.realm_id(), &unknown)
                    .await
                    .map_err(failed)?,
            );
        }
        if !known.is_empty() {
            let direct = self.store.groups_from_direct(ctx.realm_id(), known).await;
            rows.extend(direct.map_err(failed)?);
        }
        let mut relations: HashMap<String, Vec<Value>> = HashMap::new();
        for g in rows {
            relations.entry(g.member_id).or_default().push(json!({
                "value": g.group_id,
                "$ref": location(&ctx.base_url, Kind::Group, &g.group_id),
                "display": g.display,
                "type": if g.direct { "direct" } else { "indirect" },
            }));
        }
        Ok(relations)
    }

    /// Each group's `members` entries, by group id, in one query.
    async fn members_of_groups(
        &self,
        ctx: &RealmCtx,
        groups: &[&StoredResource],
    ) -> ServiceResult<HashMap<String, Vec<Value>>> {
        let ids: Vec<String> = groups.iter().map(|r| r.id.clone()).collect();
        let rows = self
            .store
            .members_of(ctx.realm_id(), &ids)
            .await
            .map_err(|e| ServiceError::from_store(e, "group membership"))?;
        let mut relations: HashMap<String, Vec<Value>> = HashMap::new();
        for m in rows {
            let v = member_json(ctx, &m);
            relations.entry(m.group_id).or_default().push(v);
        }
        Ok(relations)
    }
}

/// One entry of a group's `members`.
fn member_json(ctx: &RealmCtx, m: &MemberRow) -> Value {
    json!({
        "value": m.member_id,
        "$ref": location(&ctx.base_url, m.member_kind, &m.member_id),
        "display": m.display,
        "type": m.member_kind.name(),
    })
}

/// One resource's body, with its `groups` / `members` when the caller loaded them.
fn render_body(
    ctx: &RealmCtx,
    schema: &ResourceSchema,
    r: &StoredResource,
    relations: Option<Value>,
    proj: &Projection,
) -> Value {
    let meta = Meta {
        created: r.created.clone(),
        last_modified: r.last_modified.clone(),
        version: r.version,
    };
    let body = Rendered {
        schema,
        base: &ctx.base_url,
        id: &r.id,
        external_id: r.external_id.as_deref(),
        data: &r.data,
        meta: &meta,
        relations,
    }
    .to_json();
    proj.apply(schema, body)
}

/// What a PATCH applies to the document, besides its operations.
struct DocPatch<'a> {
    id: &'a str,
    kind: ResourceKind,
    if_match: Option<i64>,
    proj: &'a Projection,
    /// A membership delta written with the document.
    member_change: Option<MemberChange>,
    /// Whether the operations edit the member list itself (put into the document).
    with_members: bool,
}

/// The member list a patched document names, when it differs from `old` (order aside): only
/// then is the membership rewritten.
/// The attributes a write changes, for its event: the stored attributes that differ,
/// `externalId` (a column of its own) and `password` (write-only: any new one counts as a
/// change; its value is never compared).
fn changes(existing: &StoredResource, incoming: &Incoming, new_password: bool) -> Vec<String> {
    let mut changed = events::changed_attributes(&existing.data, &incoming.data);
    if existing.external_id != incoming.external_id {
        changed.push("externalId".into());
    }
    if new_password {
        changed.push("password".into());
    }
    changed.sort();
    changed
}

fn changed_members(
    old: Vec<String>,
    patched: Option<Vec<crate::scim::validate::MemberRef>>,
) -> Option<Vec<String>> {
    let new = member_ids(patched);
    let mut a = old;
    let mut b = new.clone();
    a.sort();
    b.sort();
    (a != b).then_some(new)
}

/// After a failed guarded write: Ok, once it is time to try again (no If-Match, lost a race,
/// attempts left), or the error to answer with.
async fn after_lost_race(
    e: crate::store::StoreError,
    if_match: Option<i64>,
    attempt: usize,
    kind: ResourceKind,
    id: &str,
) -> ServiceResult<()> {
    match e {
        crate::store::StoreError::VersionMismatch if if_match.is_some() => {
            Err(precondition(kind, id))
        }
        crate::store::StoreError::VersionMismatch if attempt < WRITE_ATTEMPTS => {
            tokio::time::sleep(retry_wait(attempt)).await;
            Ok(())
        }
        crate::store::StoreError::VersionMismatch => Err(ScimError::new(
            409,
            None,
            format!(
                "{} '{id}' was changed by {WRITE_ATTEMPTS} concurrent requests while this \
                 one was being applied; retry it",
                what(kind)
            ),
        )
        .into()),
        e => Err(ServiceError::from_store(e, what(kind))),
    }
}

/// The ceiling of the wait after `lost` lost attempts (1 or more).
fn retry_ceiling(lost: usize) -> std::time::Duration {
    let doublings = u32::try_from(lost.saturating_sub(1))
        .unwrap_or(u32::MAX)
        .min(16);
    (RETRY_WAIT_MIN * (1u32 << doublings)).min(RETRY_WAIT_MAX)
}

/// A random wait up to the ceiling ("full jitter"): writers that lost to the same commit
/// come back at different moments rather than together.
fn retry_wait(lost: usize) -> std::time::Duration {
    use rand::Rng;
    let ceiling = retry_ceiling(lost).as_micros() as u64;
    std::time::Duration::from_micros(rand::thread_rng().gen_range(0..=ceiling))
}

fn precondition(kind: ResourceKind, id: &str) -> ServiceError {
    ScimError::precondition_failed(format!(
        "{} '{id}' has changed since the version given in If-Match; read it again and retry",
        kind.name()
    ))
    .into()
}

fn required_name(incoming: &Incoming, kind: ResourceKind) -> ServiceResult<String> {
    incoming.name(kind).map(str::to_owned).ok_or_else(|| {
        let attr = match kind {
            ResourceKind::User => "userName",
            ResourceKind::Group => "displayName",
        };
        ScimError::invalid_value(format!("attribute '{attr}' is required")).into()
    })
}

fn member_ids(members: Option<Vec<crate::scim::validate::MemberRef>>) -> Vec<String> {
    members
        .unwrap_or_default()
        .into_iter()
        .map(|m| m.value)
        .collect()
}

/// What a cursor is bound to: the query it pages (a cursor from another filter or sort is
/// refused), signed with the server's key, stamped with the time it was issued.
struct CursorSigner<'a> {
    key: &'a [u8],
    query: String,
    now: i64,
}

impl CursorSigner<'_> {
    fn decode(&self, cursor: &str, timeout_secs: i64) -> ServiceResult<Position> {
        Ok(decode_cursor(
            self.key,
            cursor,
            &self.query,
            self.now,
            timeout_secs,
        )?)
    }

    /// A cursor to the page after (`backward` false) or before row `i` of `page`.
    fn at(&self, page: &crate::store::ListPage, i: usize, backward: bool) -> String {
        let key = page.keys.get(i).cloned().flatten();
        let pos = Position {
            key: key.map(literal_to_json).unwrap_or(Value::Null),
            id: page.items.get(i).map(|r| r.id.clone()).unwrap_or_default(),
            backward,
        };
        encode_cursor(self.key, &self.query, pos, self.now)
    }

    /// `nextCursor` and `previousCursor` of a page: a page read backward always has one
    /// after it (the page it was read back from), one read forward has one before it unless
    /// it is the first; `more` says whether rows lie beyond it in the direction read.
    fn neighbours(
        &self,
        page: &crate::store::ListPage,
        more: bool,
        from_cursor: bool,
        backward: bool,
    ) -> (Option<String>, Option<String>) {
        let n = page.items.len();
        if n == 0 {
            return (None, None);
        }
        let next = |exists: bool| exists.then(|| self.at(page, n - 1, false));
        let previous = |exists: bool| exists.then(|| self.at(page, 0, true));
        if backward {
            (next(true), previous(more))
        } else {
            (next(more), previous(from_cursor))
        }
    }
}

/// The parameters a cursor belongs to, as a fingerprint it carries.
fn cursor_fingerprint(kind: ResourceKind, params: &ListParams) -> String {
    let text = |p: &Option<String>| p.as_deref().unwrap_or_default().to_ascii_lowercase();
    fingerprint(&[
        kind.name(),
        params.filter.as_deref().map(str::trim).unwrap_or_default(),
        &text(&params.sort_by),
        &text(&params.sort_order),
    ])
}

/// Drops the look-ahead row a cursor page was read with (the row past the page, first when
/// read backward); true when there was one, i.e. more rows follow.
fn drop_lookahead(page: &mut crate::store::ListPage, count: u32, backward: bool) -> bool {
    let count = count as usize;
    if page.items.len() <= count {
        return false;
    }
    if backward {
        page.items.remove(0);
        page.keys.remove(0);
    } else {
        page.items.truncate(count);
        page.keys.truncate(count);
    }
    true
}

/// A ListResponse of cursor paging (RFC 9865 §4): no `startIndex`, and the cursors there are.
fn cursor_page(
    total: u64,
    resources: Vec<Value>,
    next: Option<String>,
    previous: Option<String>,
) -> Value {
    let mut body = json!({
        "schemas": [crate::scim::urn::LIST_RESPONSE],
        "totalResults": total,
        "itemsPerPage": resources.len(),
        "Resources": resources,
    });
    if let Some(c) = next {
        body["nextCursor"] = Value::String(c);
    }
    if let Some(c) = previous {
        body["previousCursor"] = Value::String(c);
    }
    body
}

fn json_to_literal(v: &Value) -> Option<Literal> {
    match v {
        Value::String(s) => Some(Literal::String(s.clone())),
        Value::Number(n) => n.as_f64().map(Literal::Number),
        Value::Bool(b) => Some(Literal::Bool(*b)),
        _ => None,
    }
}

fn literal_to_json(l: Literal) -> Value {
    match l {
        Literal::String(s) => Value::String(s),
        Literal::Number(n) => serde_json::Number::from_f64(n)
            .map(Value::Number)
            .unwrap_or(Value::Null),
        Literal::Bool(b) => Value::Bool(b),
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use super::*;
    use crate::service::fake::{stored, FakeStore};
    use crate::store::StoreError;

    /// A service over a store holding one user, whose writes lose their race `losses` times
    /// before one commits; the writes it was sent are in the returned list.
    fn racing_service(losses: usize) -> (ResourceService, Arc<Mutex<Vec<ReplaceResource>>>) {
        let writes = Arc::new(Mutex::new(Vec::new()));
        let seen = writes.clone();
        let store = FakeStore {
            get_resource: Some(Box::new(|id| {
                let user = stored(Kind::User, &id, 1, json!({"userName": "racer"}));
                Box::pin(async move { Ok(Some(user)) })
            })),
            replace_resource: Some(Box::new(move |update: ReplaceResource| {
                let mut writes = seen.lock().unwrap();
                let lost = writes.len() < losses;
                let written = stored(
                    Kind::User,
                    &update.id,
                    2,
                    Value::Object(update.data.clone()),
                );
                writes.push(update);
                Box::pin(async move {
                    if lost {
                        Err(StoreError::VersionMismatch)
                    } else {
                        Ok(written)
                    }
                })
            })),
            ..Default::default()
        };
        let limits = PageLimits {
            default_count: 100,
            max_count: 1000,
        };
        let service =
            ResourceService::new(store.shared(), limits, FilterLimits::default(), 100, 3600);
        (service, writes)
    }

    fn ctx() -> RealmCtx {
        RealmCtx {
            realm: Arc::new(crate::store::Realm {
                id: "r".into(),
                tenant: "t".into(),
                name: "default".into(),
                state: crate::store::RealmState::Enabled,
                auth_methods: crate::store::AuthMethod::ALL.to_vec(),
                retention: crate::store::Retention::default(),
                display_name: String::new(),
                description: String::new(),
                created_at: "2026-01-01T00:00:00.000Z".into(),
                updated_at: "2026-01-01T00:00:00.000Z".into(),
            }),
            base_url: "http://localhost/scim/v2".into(),
            actor: "token:k1".into(),
            request_id: Some("req-1".into()),
        }
    }

    async fn patch_password(service: &ResourceService) -> ServiceResult<ResourceOut> {
        let body = json!({
            "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
            "Operations": [{"op": "replace", "path": "password", "value": "s3cret-pass"}]
        });
        let proj = ResourceService::projection(ResourceKind::User, None, None).unwrap();
        service
            .patch(&ctx(), ResourceKind::User, "u1", body, None, &proj)
            .await
    }

    #[tokio::test]
    async fn a_patch_that_loses_races_retries_with_the_password_hashed_once() {
        let (service, writes) = racing_service(3);
        let out = patch_password(&service)
            .await
            .expect("the fourth attempt commits");
        assert_eq!(out.etag, "W/\"2\"");
        let writes = writes.lock().unwrap();
        assert_eq!(writes.len(), 4);
        let hashes: Vec<_> = writes.iter().map(|w| w.password_hash.clone()).collect();
        // Every hash has a fresh salt, so equal strings mean Argon2 ran once for the request.
        assert!(hashes[0]
            .as_deref()
            .is_some_and(|h| h.starts_with("$argon2id$")));
        assert!(hashes.iter().all(|h| *h == hashes[0]), "{hashes:?}");
    }

    #[tokio::test]
    async fn a_patch_that_always_loses_gives_up_after_a_bounded_number_of_attempts() {
        let (service, writes) = racing_service(usize::MAX);
        let err = patch_password(&service).await.expect_err("never commits");
        match err {
            ServiceError::Scim(e) => assert_eq!(e.status, 409, "{}", e.detail),
            other => panic!("{other:?}"),
        }
        assert_eq!(writes.lock().unwrap().len(), WRITE_ATTEMPTS);
    }

    #[test]
    fn the_wait_after_a_lost_race_grows_to_a_cap_and_varies() {
        assert_eq!(retry_ceiling(1), RETRY_WAIT_MIN);
        assert_eq!(retry_ceiling(2), RETRY_WAIT_MIN * 2);
        assert_eq!(retry_ceiling(WRITE_ATTEMPTS), RETRY_WAIT_MAX);
        assert_eq!(retry_ceiling(usize::MAX), RETRY_WAIT_MAX);
        for lost in 1..=WRITE_ATTEMPTS {
            assert!(retry_wait(lost) <= retry_ceiling(lost));
        }
        let waits: std::collections::HashSet<_> = (0..50).map(|_| retry_wait(8)).collect();
        assert!(waits.len() > 1, "jittered, not one fixed wait");
    }
}
