//! Tenants: create, read, list, describe, delete.

use serde_json::{json, Map, Value};

use super::input::{self, object};
use super::view::TenantView;
use super::{listed, no_tenant, Actor, AdminError, AdminResult, AdminService, Listed, PageRequest};
use crate::store::{Deletion, StoreError, Tenant};

const CREATE_FIELDS: &[&str] = &["id", "display_name", "description"];
const UPDATE_FIELDS: &[&str] = &["display_name", "description"];
const READ_ONLY: &[&str] = &["id", "created_at", "updated_at"];

impl AdminService {
    pub async fn list_tenants_page(
        &self,
        actor: &Actor,
        req: &PageRequest,
    ) -> AdminResult<Listed<TenantView>> {
        let (page, limit) = req.page()?;
        let rows = self
            .store
            .page_tenants(&page, actor.tenant.as_deref())
            .await?;
        Ok(listed(rows, limit, |t| t.name.clone(), TenantView::from))
    }

    pub async fn get_tenant(&self, actor: &Actor, id: &str) -> AdminResult<TenantView> {
        actor.see(id)?;
        self.store
            .get_tenant(id)
            .await?
            .map(TenantView::from)
            .ok_or_else(|| no_tenant(id))
    }

    pub async fn create_tenant_from(&self, actor: &Actor, body: Value) -> AdminResult<TenantView> {
        actor.require_global("creating a tenant")?;
        let map = object(body, CREATE_FIELDS, &["created_at", "updated_at"])?;
        let id = input::required_id(&map, "id")?;
        self.insert_tenant(actor, id, &map).await
    }

    pub(super) async fn insert_tenant(
        &self,
        actor: &Actor,
        id: String,
        map: &Map<String, Value>,
    ) -> AdminResult<TenantView> {
        let now = self.now();
        let tenant = Tenant {
            display_name: input::display_name(map)?.unwrap_or_else(|| id.clone()),
            description: input::description(map)?.unwrap_or_default(),
            name: id,
            created_at: now.clone(),
            updated_at: now,
        };
        match self.store.insert_tenant(&tenant).await {
            Ok(()) => {}
            Err(StoreError::Conflict) => {
                return Err(AdminError::Conflict {
                    detail: format!("tenant '{}' already exists", tenant.name),
                    existing_id: tenant.name,
                })
            }
            Err(e) => return Err(e.into()),
        }
        let detail =
            json!({"display_name": tenant.display_name, "description": tenant.description});
        self.audit(
            actor,
            None,
            "tenant.create",
            format!("tenants/{}", tenant.name),
            detail.clone(),
        )
        .await;
        self.audit(
            actor,
            Some(&tenant.name),
            "tenant.create",
            format!("tenants/{}", tenant.name),
            detail,
        )
        .await;
        Ok(tenant.into())
    }

    pub async fn update_tenant(
        &self,
        actor: &Actor,
        id: &str,
        body: Value,
    ) -> AdminResult<TenantView> {
        actor.see(id)?;
        let map = object(body, UPDATE_FIELDS, READ_ONLY)?;
        let changes = input::changes(&map, false)?;
        let t = match self.store.update_tenant(id, &changes, &self.now()).await {
            Err(StoreError::NotFound) => return Err(no_tenant(id)),
            r => r?,
        };
        self.audit(
            actor,
            Some(id),
            "tenant.update",
            format!("tenants/{id}"),
            Value::Object(map),
        )
        .await;
        Ok(t.into())
    }

    pub async fn delete_tenant(&self, actor: &Actor, id: &str, force: bool) -> AdminResult<()> {
        actor.see(id)?;
        actor.require_global("deleting a tenant")?;
        match self.store.delete_tenant(id, force).await? {
            Deletion::Deleted => {}
            Deletion::NotFound => return Err(no_tenant(id)),
            Deletion::Holds { users, groups } => {
                return Err(AdminError::NotEmpty(format!(
                    "tenant '{id}' still holds {users} users and {groups} groups in its realms; \
                     delete them first, or send ?force=true to delete the tenant with all of it"
                )))
            }
        }
        let target = format!("tenants/{id}");
        self.audit(
            actor,
            None,
            "tenant.delete",
            target.clone(),
            json!({"force": force}),
        )
        .await;
        self.audit(
            actor,
            Some(id),
            "tenant.delete",
            target,
            json!({"force": force}),
        )
        .await;
        Ok(())
    }
}
