//! Master-key rotation: every value sealed under the current key (the secret store's rows, the
//! host admin passwords in approvals) is opened and sealed again under a new key, in one
//! transaction with its audit row. Either all of it moves to the new key or none does.
//!
//! Backups taken before a rotation stay readable only with the old key: keep it with them.

use serde::Serialize;
use serde_json::{Value, json};

use super::{Service, ServiceError, access};
use crate::domain::{HostAdmin, RequestId};
use crate::lifecycle::{Actor, Role};
use crate::secrets::{MasterKey, Sealed, SecretName};
use crate::store::AuditEntry;

/// What a rotation re-encrypted.
#[derive(Debug, Clone, Serialize)]
pub struct RotationReport {
    pub old_key_id: String,
    pub new_key_id: String,
    pub secrets: usize,
    pub host_admin_passwords: usize,
    /// Audit MAC and checkpoint keys re-sealed (new current ones are made as well).
    pub audit_keys: usize,
}

impl Service {
    /// Re-encrypts everything sealed under the current master key with `new_key` (admin only).
    /// Afterwards this process still holds the old key: start kolokasi again with the new one.
    pub async fn rotate_master_key(&self, by: &Actor, new_key: &MasterKey) -> Result<RotationReport, ServiceError> {
        access::require(by, &[Role::Admin], "rotating the master key")?;
        let old = self.key()?;
        if old.id() == new_key.id() {
            return Err(ServiceError::Invalid("the new key is the current key".into()));
        }
        let mut w = self.store.write().await?;
        let secrets = w.all_sealed_secrets().await?;
        for (name, sealed) in &secrets {
            let context = SecretName::parse(name).map_err(|e| ServiceError::Invalid(e.to_string()))?.sealing_context();
            let value = old.open(sealed, &context)?;
            w.replace_sealed_secret(name, &new_key.seal(&value, &context)).await?;
        }
        let approvals = w.approvals_with_sealed_values().await?;
        let mut passwords = 0;
        for (id, text) in &approvals {
            let mut approval: Value = serde_json::from_str(text).map_err(|e| ServiceError::Invalid(format!("approval of {id}: {e}")))?;
            let Some(slot) = approval.pointer_mut("/colocation/host_admin/password") else { continue };
            let sealed: Sealed = serde_json::from_value(slot.clone()).map_err(|e| ServiceError::Invalid(format!("approval of {id}: {e}")))?;
            let context = HostAdmin::seal_context(&RequestId::parse(id).map_err(|e| ServiceError::Invalid(e.to_string()))?);
            let value = old.open(&sealed, &context)?;
            *slot = serde_json::to_value(new_key.seal(&value, &context)).expect("serialisable");
            w.replace_approval_json(id, &approval.to_string()).await?;
            passwords += 1;
        }
        let audit_keys = w.rotate_audit_keys(old, new_key).await?;
        let report = RotationReport { old_key_id: old.id().to_string(), new_key_id: new_key.id().to_string(), secrets: secrets.len(), host_admin_passwords: passwords, audit_keys };
        w.audit(AuditEntry { actor: by.clone(), request_id: None, action: "secret.rotate_key".into(), reason: None, before: None, after: Some(json!(report)) })
            .await?;
        w.commit().await?;
        // New audit rows from here on are MAC'd with the new current audit key.
        self.store.use_master_key(Some(std::sync::Arc::new(new_key.clone())));
        tracing::info!(old = %report.old_key_id, new = %report.new_key_id, secrets = report.secrets, passwords, "master key rotated");
        Ok(report)
    }
}
