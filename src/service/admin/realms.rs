//! Realms: create, read, list, describe, change state, delete.

use serde_json::{json, Map, Value};

use super::input::{self, object};
use super::view::RealmView;
use super::{listed, no_realm, Actor, AdminError, AdminResult, AdminService, Listed, PageRequest};
use crate::store::{AuthMethod, Deletion, Realm, RealmState, Retention, StoreError};

/// What a create takes; an update takes the same but `id` (the first).
const CREATE_FIELDS: &[&str] = &[
    "id",
    "display_name",
    "description",
    "state",
    "auth_methods",
    "event_retention_days",
    "event_retention_count",
];
const READ_ONLY: &[&str] = &[
    "id",
    "tenant_id",
    "scim_base_url",
    "users",
    "groups",
    "created_at",
    "updated_at",
];

impl AdminService {
    async fn realm_view(&self, r: Realm, origin: &str) -> AdminResult<RealmView> {
        let counts = self.store.realm_counts(&r.id).await?;
        Ok(RealmView::new(r, counts, origin))
    }

    pub async fn list_realms_page(
        &self,
        actor: &Actor,
        tenant: &str,
        req: &PageRequest,
        origin: &str,
    ) -> AdminResult<Listed<RealmView>> {
        actor.see(tenant)?;
        self.tenant_exists(tenant).await?;
        let (page, limit) = req.page()?;
        let rows = self.store.page_realms(tenant, &page).await?;
        let page = listed(rows, limit, |r| r.name.clone(), |r| r);
        let mut items = Vec::with_capacity(page.items.len());
        for r in page.items {
            items.push(self.realm_view(r, origin).await?);
        }
        Ok(Listed {
            items,
            next_cursor: page.next_cursor,
        })
    }

    pub async fn get_realm(
        &self,
        actor: &Actor,
        tenant: &str,
        realm: &str,
        origin: &str,
    ) -> AdminResult<RealmView> {
        let r = self.realm_of(actor, tenant, realm).await?;
        self.realm_view(r, origin).await
    }

    pub async fn create_realm_from(
        &self,
        actor: &Actor,
        tenant: &str,
        body: Value,
        origin: &str,
    ) -> AdminResult<RealmView> {
        actor.see(tenant)?;
        let map = object(body, CREATE_FIELDS, &READ_ONLY[1..])?;
        let id = input::required_id(&map, "id")?;
        let r = self.insert_realm(actor, tenant, id, &map).await?;
        Ok(RealmView::new(r, (0, 0), origin))
    }

    pub(super) async fn insert_realm(
        &self,
        actor: &Actor,
        tenant: &str,
        id: String,
        map: &Map<String, Value>,
    ) -> AdminResult<Realm> {
        let now = self.now();
        let realm = Realm {
            id: uuid::Uuid::now_v7().to_string(),
            tenant: tenant.to_owned(),
            display_name: input::display_name(map)?.unwrap_or_else(|| id.clone()),
            description: input::description(map)?.unwrap_or_default(),
            state: input::state(map)?.unwrap_or(RealmState::Enabled),
            auth_methods: input::auth_methods(map)?.unwrap_or_else(|| AuthMethod::ALL.to_vec()),
            retention: Retention {
                days: input::retention_days(map)?.unwrap_or(Some(Retention::DEFAULT_DAYS)),
                count: input::retention_count(map)?.flatten(),
            },
            name: id,
            created_at: now.clone(),
            updated_at: now,
        };
        match self.store.insert_realm(&realm).await {
            Ok(()) => {}
            Err(StoreError::NotFound) => return Err(super::no_tenant(tenant)),
            Err(StoreError::Conflict) => {
                return Err(AdminError::Conflict {
                    detail: format!("tenant '{tenant}' already has a realm '{}'", realm.name),
                    existing_id: realm.name,
                })
            }
            Err(e) => return Err(e.into()),
        }
        let detail = json!({
            "display_name": realm.display_name,
            "description": realm.description,
            "state": realm.state,
            "auth_methods": realm.auth_methods,
            "event_retention_days": realm.retention.days,
            "event_retention_count": realm.retention.count,
        });
        self.audit(actor, Some(tenant), "realm.create", target(&realm), detail)
            .await;
        Ok(realm)
    }

    pub async fn update_realm(
        &self,
        actor: &Actor,
        tenant: &str,
        realm: &str,
        body: Value,
        origin: &str,
    ) -> AdminResult<RealmView> {
        actor.see(tenant)?;
        let map = object(body, &CREATE_FIELDS[1..], READ_ONLY)?;
        let changes = input::changes(&map, false)?;
        let r = self
            .change_realm(actor, tenant, realm, &changes, Value::Object(map))
            .await?;
        self.realm_view(r, origin).await
    }

    pub(super) async fn change_realm(
        &self,
        actor: &Actor,
        tenant: &str,
        realm: &str,
        changes: &crate::store::Changes,
        detail: Value,
    ) -> AdminResult<Realm> {
        let r = match self
            .store
            .update_realm(tenant, realm, changes, &self.now())
            .await
        {
            Err(StoreError::NotFound) => return Err(no_realm(tenant, realm)),
            r => r?,
        };
        self.audit(actor, Some(tenant), "realm.update", target(&r), detail)
            .await;
        Ok(r)
    }

    pub async fn delete_realm(
        &self,
        actor: &Actor,
        tenant: &str,
        realm: &str,
        force: bool,
    ) -> AdminResult<()> {
        actor.see(tenant)?;
        match self.store.delete_realm(tenant, realm, force).await? {
            Deletion::Deleted => {}
            Deletion::NotFound => return Err(no_realm(tenant, realm)),
            Deletion::Holds { users, groups } => {
                return Err(AdminError::NotEmpty(format!(
                    "realm '{realm}' still holds {users} users and {groups} groups; delete them \
                     first, or send ?force=true to delete the realm with all its data"
                )))
            }
        }
        let target = format!("tenants/{tenant}/realms/{realm}");
        self.audit(
            actor,
            Some(tenant),
            "realm.delete",
            target,
            json!({"force": force}),
        )
        .await;
        Ok(())
    }
}

fn target(r: &Realm) -> String {
    format!("tenants/{}/realms/{}", r.tenant, r.name)
}
