//! Everything sealed under the master key, read and rewritten for a key rotation. Holds no key:
//! the service layer opens each value with the old key and seals it with the new one, all in
//! one audited transaction.

use sqlx::Row;

use super::{StoreError, Write};
use crate::secrets::Sealed;

impl Write {
    /// Re-seals the audit keys under `new`, retires the current ones and makes new ones.
    pub async fn rotate_audit_keys(&mut self, old: &crate::secrets::MasterKey, new: &crate::secrets::MasterKey) -> Result<usize, StoreError> {
        super::audit::keys::rotate(self.conn(), old, new).await
    }

    /// Every row of the secret store: name and sealed value.
    pub async fn all_sealed_secrets(&mut self) -> Result<Vec<(String, Sealed)>, StoreError> {
        let rows = sqlx::query("SELECT name, sealed FROM secrets ORDER BY name").fetch_all(self.conn()).await?;
        Ok(rows.iter().map(|r| (r.get(0), Sealed::from_stored(r.get(1)))).collect())
    }

    pub async fn replace_sealed_secret(&mut self, name: &str, sealed: &Sealed) -> Result<(), StoreError> {
        sqlx::query("UPDATE secrets SET sealed = $1 WHERE name = $2").bind(sealed.as_stored()).bind(name).execute(self.conn()).await?;
        Ok(())
    }

    /// Requests whose approval holds a sealed value (the host admin password): id and the
    /// approval's JSON.
    pub async fn approvals_with_sealed_values(&mut self) -> Result<Vec<(String, String)>, StoreError> {
        let rows = sqlx::query("SELECT id, approval_json FROM requests WHERE approval_json LIKE '%\"kv1:%' ORDER BY id").fetch_all(self.conn()).await?;
        Ok(rows.iter().map(|r| (r.get(0), r.get(1))).collect())
    }

    pub async fn replace_approval_json(&mut self, request_id: &str, approval_json: &str) -> Result<(), StoreError> {
        sqlx::query("UPDATE requests SET approval_json = $1, version = version + 1 WHERE id = $2")
            .bind(approval_json)
            .bind(request_id)
            .execute(self.conn())
            .await?;
        Ok(())
    }
}
