//! The audit trail: append-only, hash-chained. Each row's hash covers its content and the
//! previous row's hash, so an edited, deleted or reordered row breaks the chain at that row.

use serde::Serialize;
use sha2::{Digest, Sha256};
use sqlx::{AnyConnection, Row};
use time::OffsetDateTime;

use super::{Store, StoreError, from_micros, micros};
use crate::lifecycle::Actor;

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

#[derive(Debug, Clone, Serialize)]
pub struct AuditRecord {
    pub seq: i64,
    #[serde(with = "time::serde::rfc3339")]
    pub at: OffsetDateTime,
    pub actor: String,
    pub role: String,
    pub request_id: Option<String>,
    pub action: String,
    pub reason: Option<String>,
    pub before: Option<serde_json::Value>,
    pub after: Option<serde_json::Value>,
    pub hash: String,
}

/// Where the chain breaks.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ChainBreak {
    pub seq: i64,
    pub problem: String,
}

#[allow(clippy::too_many_arguments)]
fn row_hash(
    prev: &str,
    seq: i64,
    at: i64,
    actor: &str,
    role: &str,
    request_id: Option<&str>,
    action: &str,
    reason: Option<&str>,
    before: Option<&str>,
    after: Option<&str>,
) -> String {
    let canonical = serde_json::json!([prev, seq, at, actor, role, request_id, action, reason, before, after]);
    hex::encode(Sha256::digest(canonical.to_string().as_bytes()))
}

pub(super) async fn append(conn: &mut AnyConnection, e: AuditEntry) -> Result<i64, StoreError> {
    let head = sqlx::query("SELECT seq, hash FROM audit_head WHERE id = 1").fetch_one(&mut *conn).await?;
    let (prev_seq, prev_hash): (i64, String) = (head.get(0), head.get(1));
    let seq = prev_seq + 1;
    let at = micros(OffsetDateTime::now_utc());
    let before = e.before.as_ref().map(|v| v.to_string());
    let after = e.after.as_ref().map(|v| v.to_string());
    let hash = row_hash(
        &prev_hash,
        seq,
        at,
        &e.actor.name,
        e.actor.role.as_str(),
        e.request_id.as_deref(),
        &e.action,
        e.reason.as_deref(),
        before.as_deref(),
        after.as_deref(),
    );
    sqlx::query(
        "INSERT INTO audit (seq, at, actor, role, request_id, action, reason, before_json, after_json, prev_hash, hash)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
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

pub(super) const COLUMNS: &str = "seq, at, actor, role, request_id, action, reason, before_json, after_json, prev_hash, hash";

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

    /// Walks the whole chain; returns the number of rows checked or the first break.
    pub async fn audit_verify(&self) -> Result<Result<i64, ChainBreak>, StoreError> {
        let mut conn = self.pool.acquire().await?;
        verify_chain(&mut conn).await
    }
}

/// Walks the whole chain on `conn` (a restore checks it inside its own transaction).
pub(crate) async fn verify_chain(conn: &mut AnyConnection) -> Result<Result<i64, ChainBreak>, StoreError> {
    let sql = sqlx::AssertSqlSafe(format!("SELECT {COLUMNS} FROM audit ORDER BY seq"));
    let rows = sqlx::query(sql).fetch_all(&mut *conn).await?;
    let mut prev = "genesis".to_string();
    let mut expected_seq = 1;
    for r in &rows {
        let seq: i64 = r.get(0);
        if seq != expected_seq {
            return Ok(Err(ChainBreak { seq: expected_seq, problem: format!("row {expected_seq} is missing (next row is {seq})") }));
        }
        let stored_prev: String = r.get(9);
        if stored_prev != prev {
            return Ok(Err(ChainBreak { seq, problem: "row does not link to the previous row (reordered or a row was replaced)".into() }));
        }
        let hash = row_hash(
            &stored_prev,
            seq,
            r.get(1),
            &r.get::<String, _>(2),
            &r.get::<String, _>(3),
            r.get::<Option<String>, _>(4).as_deref(),
            &r.get::<String, _>(5),
            r.get::<Option<String>, _>(6).as_deref(),
            r.get::<Option<String>, _>(7).as_deref(),
            r.get::<Option<String>, _>(8).as_deref(),
        );
        let stored: String = r.get(10);
        if hash != stored {
            return Ok(Err(ChainBreak { seq, problem: "row content does not match its hash (edited)".into() }));
        }
        prev = stored;
        expected_seq += 1;
    }
    let head = sqlx::query("SELECT seq, hash FROM audit_head WHERE id = 1").fetch_one(&mut *conn).await?;
    let (head_seq, head_hash): (i64, String) = (head.get(0), head.get(1));
    if head_seq != expected_seq - 1 || head_hash != prev {
        return Ok(Err(ChainBreak { seq: head_seq, problem: format!("the chain head says row {head_seq} but the table ends at row {}", expected_seq - 1) }));
    }
    Ok(Ok(rows.len() as i64))
}
