//! What the store holds about one official (by NIP) and who touched it: the queries behind a
//! privacy export (UU 27/2022 Pasal 32). The NIP is a parsed `Nip` (18 digits), so it is safe
//! inside a LIKE pattern.

use serde::Serialize;
use sqlx::Row;

use super::{AuditRecord, RequestRow, Store, StoreError, audit, requests};

/// An asset register row naming the official.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct AssetNaming {
    pub id: String,
    pub request_id: String,
    pub server: String,
    pub official_name: String,
    pub status: String,
}

impl Store {
    /// Requests where `nip` is the official (indexed), then those where it signs (approving
    /// Kepala Bidang, approval or revocation signatory: a scan of the JSON columns).
    pub async fn requests_naming(&self, nip: &str) -> Result<Vec<RequestRow>, StoreError> {
        let sql = sqlx::AssertSqlSafe(format!("SELECT {} FROM requests WHERE official_nip = $1 ORDER BY id", requests::FULL));
        let mut rows: Vec<RequestRow> = sqlx::query(sql).bind(nip).fetch_all(&self.pool).await?.iter().map(requests::row).collect::<Result<_, _>>()?;
        let sql = sqlx::AssertSqlSafe(format!(
            "SELECT {} FROM requests WHERE official_nip <> $1 AND (form_json LIKE $2 OR approval_json LIKE $2 OR revocation_json LIKE $2) ORDER BY id",
            requests::FULL
        ));
        let pattern = format!("%{nip}%");
        for r in sqlx::query(sql).bind(nip).bind(&pattern).fetch_all(&self.pool).await? {
            rows.push(requests::row(&r)?);
        }
        Ok(rows)
    }

    /// Every audit row of these requests (changes and reads), oldest first, in one query per
    /// 500 requests.
    pub async fn audit_for_requests(&self, ids: &[String]) -> Result<Vec<AuditRecord>, StoreError> {
        let mut out = Vec::new();
        for chunk in ids.chunks(500) {
            let marks: Vec<String> = (1..=chunk.len()).map(|i| format!("${i}")).collect();
            let sql = sqlx::AssertSqlSafe(format!("SELECT {} FROM audit WHERE request_id IN ({}) ORDER BY seq", audit::COLUMNS, marks.join(", ")));
            let mut q = sqlx::query(sql);
            for id in chunk {
                q = q.bind(id);
            }
            for r in q.fetch_all(&self.pool).await? {
                out.push(audit::record(&r)?);
            }
        }
        out.sort_by_key(|r| r.seq);
        Ok(out)
    }

    /// Audit rows of `action` (indexed) whose detail names `needle`, e.g. earlier privacy
    /// exports of the same NIP.
    pub async fn audit_naming(&self, action: &str, needle: &str) -> Result<Vec<AuditRecord>, StoreError> {
        let sql = sqlx::AssertSqlSafe(format!("SELECT {} FROM audit WHERE action = $1 AND after_json LIKE $2 ORDER BY seq", audit::COLUMNS));
        let rows = sqlx::query(sql).bind(action).bind(format!("%{needle}%")).fetch_all(&self.pool).await?;
        rows.iter().map(audit::record).collect()
    }

    /// Asset register rows naming the official.
    pub async fn assets_naming(&self, nip: &str) -> Result<Vec<AssetNaming>, StoreError> {
        let rows = sqlx::query("SELECT id, request_id, server, official_name, status FROM assets WHERE official_nip = $1 ORDER BY id").bind(nip).fetch_all(&self.pool).await?;
        Ok(rows.iter().map(|r| AssetNaming { id: r.get(0), request_id: r.get(1), server: r.get(2), official_name: r.get(3), status: r.get(4) }).collect())
    }
}
