//! Address management through the service layer: pools, allocation and release, audited.

use serde_json::json;
use time::OffsetDateTime;

use super::{Service, ServiceError, access};
use crate::ipam::{Allocation, PoolSpec};
use crate::lifecycle::{Actor, Role};
use crate::store::{AllocationRecord, AuditEntry, PoolUsage};

fn may_manage_addresses(actor: &Actor) -> Result<(), ServiceError> {
    if matches!(actor.role, Role::Operator | Role::Admin) {
        Ok(())
    } else {
        Err(ServiceError::Forbidden(format!("managing IP addresses needs the role operator or admin; {} may not", actor.role)))
    }
}

impl Service {
    /// Creates the inventory's pools that the store does not have yet.
    pub async fn ensure_pools(&self) -> Result<(), ServiceError> {
        for spec in &self.inventory.ip_pools {
            if !self.store.pool_exists(&spec.name).await? {
                match self.create_pool(&Actor::system(), spec.clone()).await {
                    Ok(()) | Err(ServiceError::Conflict(_)) => {} // created meanwhile by another process
                    Err(e) => return Err(e),
                }
            }
        }
        Ok(())
    }

    /// The pools with their use: staff and the auditor.
    pub async fn pools(&self, by: &Actor) -> Result<Vec<PoolUsage>, ServiceError> {
        access::require_staff_or_auditor(by, "reading the IP pools")?;
        Ok(self.store.pools().await?)
    }

    /// Which request held which address when, newest first: staff and the auditor.
    pub async fn allocation_history(&self, by: &Actor, request_id: Option<&str>, pool: Option<&str>, limit: i64) -> Result<Vec<AllocationRecord>, ServiceError> {
        access::require_staff_or_auditor(by, "reading the address history")?;
        Ok(self.store.allocations(request_id, pool, limit).await?)
    }

    pub async fn create_pool(&self, actor: &Actor, spec: PoolSpec) -> Result<(), ServiceError> {
        may_manage_addresses(actor)?;
        spec.validate().map_err(|e| ServiceError::Invalid(e.to_string()))?;
        let mut w = self.store.write().await?;
        w.create_pool(&spec, OffsetDateTime::now_utc()).await?;
        w.audit(AuditEntry { actor: actor.clone(), request_id: None, action: "ipam.pool.create".into(), reason: None, before: None, after: Some(json!(spec)) })
            .await?;
        w.commit().await?;
        Ok(())
    }

    /// Allocates (or finds) the address of (request, purpose) in `pool`. Idempotent.
    pub async fn allocate_address(&self, actor: &Actor, request_id: &str, pool: &str, purpose: &str) -> Result<Allocation, ServiceError> {
        may_manage_addresses(actor)?;
        let mut w = self.store.write().await?;
        let Some((allocation, new)) = w.allocate(pool, request_id, purpose, actor, OffsetDateTime::now_utc()).await? else {
            return Err(ServiceError::Conflict(format!("IP pool {pool} is full: no free address left")));
        };
        if new {
            w.audit(AuditEntry {
                actor: actor.clone(),
                request_id: Some(request_id.to_string()),
                action: "ipam.allocate".into(),
                reason: None,
                before: None,
                after: Some(json!(allocation)),
            })
            .await?;
            w.commit().await?;
        }
        Ok(allocation)
    }

    /// Releases the address of (request, purpose); `None` if it held none (idempotent).
    pub async fn release_address(&self, actor: &Actor, request_id: &str, purpose: &str) -> Result<Option<Allocation>, ServiceError> {
        may_manage_addresses(actor)?;
        let mut w = self.store.write().await?;
        let released = w.release(request_id, purpose, actor, OffsetDateTime::now_utc()).await?;
        if let Some(a) = &released {
            w.audit(AuditEntry {
                actor: actor.clone(),
                request_id: Some(request_id.to_string()),
                action: "ipam.release".into(),
                reason: None,
                before: Some(json!(a)),
                after: None,
            })
            .await?;
            w.commit().await?;
        }
        Ok(released)
    }
}
