//! Cross-process device locks on PostgreSQL: one transaction holding `pg_advisory_xact_lock`
//! for each device key (see [`crate::engine::locks`], which adds the in-process locks).

use super::{Backend, Store, StoreError};

/// The advisory locks of one step's devices, held until [`release`](Self::release) or drop
/// (dropping the transaction rolls it back, which releases them even if the step panics).
pub struct AdvisoryLocks(sqlx::Transaction<'static, sqlx::Any>);

impl AdvisoryLocks {
    /// Releases the locks now by an explicit rollback: a dropped transaction only queues its
    /// rollback until the connection is next used, which can keep another process waiting.
    pub async fn release(self) {
        // A failed rollback means a broken connection, which PostgreSQL ends, locks and all.
        let _ = self.0.rollback().await;
    }
}

impl Store {
    /// Takes the advisory lock of each key in the given order (the caller sorts them, so two
    /// processes cannot deadlock); `None` on SQLite, whose single writer needs none, or when
    /// there is nothing to lock.
    pub async fn advisory_locks(&self, keys: &[i64]) -> Result<Option<AdvisoryLocks>, StoreError> {
        if self.backend() != Backend::Postgres || keys.is_empty() {
            return Ok(None);
        }
        let mut tx = self.pool().begin().await?;
        for key in keys {
            sqlx::query("SELECT pg_advisory_xact_lock($1)").bind(key).execute(&mut *tx).await?;
        }
        Ok(Some(AdvisoryLocks(tx)))
    }
}
