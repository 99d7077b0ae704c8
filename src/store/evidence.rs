//! What the evidence bundle needs that no other table group offers: the device read-backs kept
//! with runs (`run_readbacks`) and the manifest's signature by the audit checkpoint key.

use serde::{Deserialize, Serialize};
use sqlx::Row;
use time::OffsetDateTime;

use super::{Store, StoreError, from_micros, micros};

/// A read-back kept with a run.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ReadbackRow {
    pub run_id: String,
    /// The run's last log event when it was taken: one read-back per completion.
    pub run_seq: i64,
    pub request_id: String,
    /// `provisioning` or `decommission`.
    pub phase: String,
    #[serde(with = "time::serde::rfc3339")]
    pub taken_at: OffsetDateTime,
    pub snapshot: serde_json::Value,
}

impl Store {
    /// Keeps a read-back; the same completion recorded again changes nothing (returns false).
    pub async fn insert_readback(&self, r: &ReadbackRow) -> Result<bool, StoreError> {
        let done = sqlx::query(
            "INSERT INTO run_readbacks (run_id, run_seq, request_id, phase, taken_at, snapshot_json) VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT DO NOTHING",
        )
        .bind(&r.run_id)
        .bind(r.run_seq)
        .bind(&r.request_id)
        .bind(&r.phase)
        .bind(micros(r.taken_at))
        .bind(r.snapshot.to_string())
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Whether the run's completion at log event `run_seq` has its read-back.
    pub async fn has_readback(&self, run_id: &str, run_seq: i64) -> Result<bool, StoreError> {
        let row = sqlx::query("SELECT COUNT(*) FROM run_readbacks WHERE run_id = $1 AND run_seq = $2").bind(run_id).bind(run_seq).fetch_one(&self.pool).await?;
        Ok(row.get::<i64, _>(0) > 0)
    }

    /// The request's read-backs, oldest first.
    pub async fn readbacks(&self, request_id: &str) -> Result<Vec<ReadbackRow>, StoreError> {
        let rows = sqlx::query("SELECT run_id, run_seq, request_id, phase, taken_at, snapshot_json FROM run_readbacks WHERE request_id = $1 ORDER BY taken_at, run_id")
            .bind(request_id)
            .fetch_all(&self.pool)
            .await?;
        rows.iter()
            .map(|r| {
                Ok(ReadbackRow {
                    run_id: r.get(0),
                    run_seq: r.get(1),
                    request_id: r.get(2),
                    phase: r.get(3),
                    taken_at: from_micros(r.get(4)),
                    snapshot: serde_json::from_str(&r.get::<String, _>(5)).map_err(StoreError::corrupt)?,
                })
            })
            .collect()
    }

    /// The last seq of the run's log (0 for an empty log).
    pub async fn last_run_seq(&self, run_id: &str) -> Result<i64, StoreError> {
        let row = sqlx::query("SELECT COALESCE(MAX(seq), 0) FROM run_events WHERE run_id = $1").bind(run_id).fetch_one(&self.pool).await?;
        Ok(row.get(0))
    }

    /// Signs `message` with the audit chain's current checkpoint key (Ed25519): the evidence
    /// manifest's signature. Returns `(key_id, public key hex, signature hex)`.
    pub async fn sign_with_checkpoint_key(&self, message: &str) -> Result<(String, String, String), StoreError> {
        use ed25519_dalek::Signer;
        let keys = self.audit_keys_for_writing().await?.ok_or(super::audit::AuditKeyError::NoMasterKey)?;
        let (key_id, key) = keys.current_signing();
        let signature = key.sign(message.as_bytes());
        Ok((key_id.to_string(), hex::encode(key.verifying_key().as_bytes()), hex::encode(signature.to_bytes())))
    }
}
