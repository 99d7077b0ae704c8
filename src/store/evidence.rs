//! What the evidence bundle reads that no other table group offers: the device read-backs kept
//! with runs (`run_readbacks`) and the contiguous slice of the audit chain from a request's
//! first row to the head, with the stored text each hash was computed from.

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

/// One audit row as stored: the exact text its v1 hash covers (`at` in micros, before/after
/// as the JSON text written), so an auditor recomputes the hash without the database.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StoredAuditRow {
    pub seq: i64,
    pub at: i64,
    pub actor: String,
    pub role: String,
    pub request_id: Option<String>,
    pub action: String,
    pub reason: Option<String>,
    pub before_json: Option<String>,
    pub after_json: Option<String>,
    pub prev_hash: String,
    pub hash: String,
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

    /// Every audit row from the request's first one to the head, in one query, and the head
    /// `(seq, hash)` read in the same transaction. Empty rows if the request has none.
    pub async fn audit_slice(&self, request_id: &str) -> Result<(Vec<StoredAuditRow>, (i64, String)), StoreError> {
        let mut tx = self.pool.begin().await?;
        let head = sqlx::query("SELECT seq, hash FROM audit_head WHERE id = 1").fetch_one(&mut *tx).await?;
        let head: (i64, String) = (head.get(0), head.get(1));
        let rows = sqlx::query(
            "SELECT seq, at, actor, role, request_id, action, reason, before_json, after_json, prev_hash, hash FROM audit
             WHERE seq >= (SELECT COALESCE(MIN(seq), $2 + 1) FROM audit WHERE request_id = $1) AND seq <= $2 ORDER BY seq",
        )
        .bind(request_id)
        .bind(head.0)
        .fetch_all(&mut *tx)
        .await?;
        tx.commit().await?;
        let rows = rows
            .iter()
            .map(|r| StoredAuditRow {
                seq: r.get(0),
                at: r.get(1),
                actor: r.get(2),
                role: r.get(3),
                request_id: r.get(4),
                action: r.get(5),
                reason: r.get(6),
                before_json: r.get(7),
                after_json: r.get(8),
                prev_hash: r.get(9),
                hash: r.get(10),
            })
            .collect();
        Ok((rows, head))
    }
}
