//! The audit trail: append-only, hash-chained and keyed.
//!
//! v1 rows (before migration 19) hash their content with the previous row's hash. v2 rows keep
//! a content digest, a link hash over (previous hash, seq, digest) and an HMAC of that hash
//! under an audit key sealed in the store ([`chain`], [`keys`]). Anyone can check links from
//! digests; only the key holder can make a MAC, so a database-only attacker who rewrites rows
//! and recomputes hashes is caught by the MACs, and one who cuts the tail off (all MACs still
//! good) by a signed checkpoint kept elsewhere ([`checkpoint`]). The first v2 row links to the
//! last v1 row's hash; v1 rows are verified the v1 way. [`proof`] is one request's slice.
//!
//! Layout: `chain` (hash arithmetic), `keys` (audit keys), `checkpoint` (signed heads),
//! `verify` (streaming walk), `proof` (offline proofs, pure).

mod chain;
pub mod checkpoint;
pub(crate) mod keys;
pub mod proof;
mod verify;

use serde::{Deserialize, Serialize};
use sqlx::{AnyConnection, Row};
use time::OffsetDateTime;

use super::{Store, StoreError, from_micros, micros};
use crate::lifecycle::Actor;
pub use checkpoint::Checkpoint;
pub use keys::{AuditKeyError, AuditKeys};
pub use proof::{AuditProof, ProofRow};
pub(crate) use verify::verify_chain;
pub use verify::VerifyReport;

/// What happened, by whom, on which request, why, and the state before and after.
#[derive(Debug, Clone)]
pub struct AuditEntry {
    pub actor: Actor,
    pub request_id: Option<String>,
    pub action: String,
    pub reason: Option<String>,
    pub before: Option<serde_json::Value>,
    pub after: Option<serde_json::Value>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct AuditRecord {
    pub seq: i64,
    #[serde(with = "time::serde::rfc3339")]
    pub at: OffsetDateTime,
    pub actor: String,
    pub role: String,
    pub request_id: Option<String>,
    pub action: String,
    pub reason: Option<String>,
    #[schema(value_type = Option<crate::api::schemas::AnyJson>)]
    pub before: Option<serde_json::Value>,
    #[schema(value_type = Option<crate::api::schemas::AnyJson>)]
    pub after: Option<serde_json::Value>,
    pub hash: String,
}

/// Where the chain breaks.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ChainBreak {
    pub seq: i64,
    pub problem: String,
}

pub(super) async fn append(conn: &mut AnyConnection, keys: Option<&AuditKeys>, e: AuditEntry) -> Result<i64, StoreError> {
    let head = sqlx::query("SELECT seq, hash FROM audit_head WHERE id = 1").fetch_one(&mut *conn).await?;
    let (prev_seq, prev_hash): (i64, String) = (head.get(0), head.get(1));
    let seq = prev_seq + 1;
    let at = micros(OffsetDateTime::now_utc());
    let before = e.before.as_ref().map(|v| v.to_string());
    let after = e.after.as_ref().map(|v| v.to_string());
    let canonical = chain::Canonical {
        seq,
        at,
        actor: &e.actor.name,
        role: e.actor.role.as_str(),
        request_id: e.request_id.as_deref(),
        action: &e.action,
        reason: e.reason.as_deref(),
        before: before.as_deref(),
        after: after.as_deref(),
    };
    let digest = chain::digest(&canonical);
    let hash = chain::link_hash(&prev_hash, seq, &digest);
    let (key_id, mac) = match keys {
        Some(k) => {
            let (id, key) = k.current_mac();
            (id.to_string(), chain::mac(key, &hash))
        }
        None => (String::new(), String::new()),
    };
    sqlx::query(
        "INSERT INTO audit (seq, at, actor, role, request_id, action, reason, before_json, after_json, prev_hash, hash, version, digest, mac, key_id)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, 2, $12, $13, $14)",
    )
    .bind(seq)
    .bind(at)
    .bind(&e.actor.name)
    .bind(e.actor.role.as_str())
    .bind(e.request_id.as_deref())
    .bind(&e.action)
    .bind(e.reason.as_deref())
    .bind(before.as_deref())
    .bind(after.as_deref())
    .bind(&prev_hash)
    .bind(&hash)
    .bind(&digest)
    .bind(&mac)
    .bind(&key_id)
    .execute(&mut *conn)
    .await?;
    sqlx::query("UPDATE audit_head SET seq = $1, hash = $2 WHERE id = 1").bind(seq).bind(&hash).execute(&mut *conn).await?;
    Ok(seq)
}

pub(super) fn record(r: &sqlx::any::AnyRow) -> Result<AuditRecord, StoreError> {
    let json = |i: usize| -> Result<Option<serde_json::Value>, StoreError> {
        r.get::<Option<String>, _>(i).map(|s| serde_json::from_str(&s).map_err(StoreError::corrupt)).transpose()
    };
    Ok(AuditRecord {
        seq: r.get(0),
        at: from_micros(r.get(1)),
        actor: r.get(2),
        role: r.get(3),
        request_id: r.get(4),
        action: r.get(5),
        reason: r.get(6),
        before: json(7)?,
        after: json(8)?,
        hash: r.get(10),
    })
}

/// The columns [`record`] reads, then the v2 ones (`version`, `digest`, `mac`, `key_id`).
pub(super) const COLUMNS: &str = "seq, at, actor, role, request_id, action, reason, before_json, after_json, prev_hash, hash, version, digest, mac, key_id";

impl Store {
    /// The audit trail of one request, oldest first.
    pub async fn audit_for_request(&self, request_id: &str) -> Result<Vec<AuditRecord>, StoreError> {
        let sql = sqlx::AssertSqlSafe(format!("SELECT {COLUMNS} FROM audit WHERE request_id = $1 ORDER BY seq"));
        let rows = sqlx::query(sql).bind(request_id).fetch_all(&self.pool).await?;
        rows.iter().map(record).collect()
    }

    /// The latest `limit` audit rows, newest first.
    pub async fn audit_recent(&self, limit: i64) -> Result<Vec<AuditRecord>, StoreError> {
        let sql = sqlx::AssertSqlSafe(format!("SELECT {COLUMNS} FROM audit ORDER BY seq DESC LIMIT $1"));
        let rows = sqlx::query(sql).bind(limit).fetch_all(&self.pool).await?;
        rows.iter().map(record).collect()
    }

    /// Walks the whole chain (hashes, links, MACs when the master key is known, the head);
    /// returns the number of rows checked or the first break.
    pub async fn audit_verify(&self) -> Result<Result<i64, ChainBreak>, StoreError> {
        let report = self.audit_verify_with(&[]).await?;
        Ok(match report.broken {
            Some(b) => Err(b),
            None => Ok(report.rows),
        })
    }

    /// Walks the whole chain, streaming, and checks `checkpoints` against it.
    pub async fn audit_verify_with(&self, checkpoints: &[Checkpoint]) -> Result<VerifyReport, StoreError> {
        let keys = self.audit_keys_if_any().await?;
        // With the master key but no audit keys in the store, any MAC is forged.
        let none = AuditKeys::empty();
        let keys = keys.as_deref().or(self.cached_audit_keys().0.is_some().then_some(&none));
        let mut conn = self.pool.acquire().await?;
        verify::walk(&mut conn, keys, checkpoints).await
    }

    /// A signed checkpoint of the current head (makes the audit keys on first use).
    pub async fn audit_checkpoint(&self) -> Result<Checkpoint, StoreError> {
        let keys = self.audit_keys_for_writing().await?.ok_or(AuditKeyError::NoMasterKey)?;
        let head = sqlx::query("SELECT seq, hash FROM audit_head WHERE id = 1").fetch_one(&self.pool).await?;
        let (key_id, key) = keys.current_signing();
        Ok(Checkpoint::sign(head.get(0), &head.get::<String, _>(1), key_id, key))
    }

    /// One request's audit proof: a fresh signed checkpoint of the head and every row from the
    /// request's first audit row up to it (content only for the request's own rows), in one query.
    pub async fn audit_proof(&self, request_id: &str) -> Result<AuditProof, StoreError> {
        let checkpoint = self.audit_checkpoint().await?;
        let sql = sqlx::AssertSqlSafe(format!(
            "SELECT {COLUMNS} FROM audit WHERE seq >= (SELECT MIN(seq) FROM audit WHERE request_id = $1) AND seq <= $2 ORDER BY seq"
        ));
        let found = sqlx::query(sql).bind(request_id).bind(checkpoint.seq).fetch_all(&self.pool).await?;
        if found.is_empty() {
            return Err(StoreError::NotFound(format!("audit rows of request {request_id}")));
        }
        let mut rows = Vec::with_capacity(found.len());
        for r in &found {
            let own = r.get::<Option<String>, _>(4).as_deref() == Some(request_id);
            let v2 = r.get::<i64, _>(11) >= 2;
            rows.push(ProofRow {
                seq: r.get(0),
                prev_hash: r.get(9),
                hash: r.get(10),
                digest: if v2 { r.get(12) } else { String::new() },
                entry: if own { Some(record(r)?) } else { None },
            });
        }
        Ok(AuditProof { request_id: request_id.to_string(), rows, checkpoint })
    }

    /// Hex public keys of every checkpoint key, by id: opened from the sealed keys when the
    /// master key is known (trustworthy), else as stored (only as good as the database).
    pub async fn audit_checkpoint_keys(&self) -> Result<std::collections::BTreeMap<String, String>, StoreError> {
        if let Some(keys) = self.audit_keys_if_any().await? {
            return Ok(keys.checkpoint_public_keys());
        }
        let mut conn = self.pool.acquire().await?;
        Ok(keys::stored_public_keys(&mut conn).await?)
    }
}
