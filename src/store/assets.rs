//! The asset register (`assets`, `asset_reviews`): every co-located server from its handover
//! on, kept after decommissioning as withdrawn; reviews at least once a year (SOP, Penataan dan
//! Pendataan). Also reads the saved step outputs of a provisioning run, which the register and
//! the documents are filled from.

use serde::Serialize;
use serde_json::Value;
use sqlx::{AnyConnection, Row};
use time::OffsetDateTime;

use super::{Store, StoreError, Write, from_micros, micros};
use crate::documents::StepOutput;

/// One server in the register.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct AssetRecord {
    /// `KLK-2026-00042-srv-sipd`: the request number and the server's name.
    pub id: String,
    pub request_id: String,
    pub server: String,
    pub serial_number: Option<String>,
    pub type_brand: Option<String>,
    /// The measured-versus-declared server row (`documents::server_table::ServerRow`).
    #[schema(value_type = Object)]
    pub spec: Value,
    pub unit: String,
    pub official_name: String,
    pub official_nip: String,
    pub noc: Option<String>,
    pub rack: Option<String>,
    pub from_u: Option<i64>,
    pub to_u: Option<i64>,
    pub ipv4: Option<String>,
    pub ipv6: Option<String>,
    pub domain: String,
    #[serde(with = "time::serde::rfc3339")]
    pub installed_at: OffsetDateTime,
    /// `active` or `withdrawn`.
    pub status: String,
    #[serde(with = "time::serde::rfc3339::option")]
    pub withdrawn_at: Option<OffsetDateTime>,
    #[serde(with = "time::serde::rfc3339::option")]
    pub last_review_at: Option<OffsetDateTime>,
    #[serde(with = "time::serde::rfc3339")]
    pub review_due_at: OffsetDateTime,
}

/// One review of an asset.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct AssetReview {
    pub asset_id: String,
    pub seq: i64,
    #[serde(with = "time::serde::rfc3339")]
    pub at: OffsetDateTime,
    pub reviewer: String,
    pub role: String,
    pub findings: String,
}

/// Which assets to list.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum AssetFilter {
    #[default]
    All,
    /// Active assets whose review falls due before the given instant.
    DueBefore(OffsetDateTime),
}

const COLUMNS: &str = "id, request_id, server, serial_number, type_brand, spec_json, unit_name, official_name, official_nip, noc, rack, from_u, to_u, \
                       ipv4, ipv6, domain, installed_at, status, withdrawn_at, last_review_at, review_due_at";

fn asset(r: &sqlx::any::AnyRow) -> Result<AssetRecord, StoreError> {
    Ok(AssetRecord {
        id: r.get(0),
        request_id: r.get(1),
        server: r.get(2),
        serial_number: r.get(3),
        type_brand: r.get(4),
        spec: serde_json::from_str(&r.get::<String, _>(5)).map_err(StoreError::corrupt)?,
        unit: r.get(6),
        official_name: r.get(7),
        official_nip: r.get(8),
        noc: r.get(9),
        rack: r.get(10),
        from_u: r.get(11),
        to_u: r.get(12),
        ipv4: r.get(13),
        ipv6: r.get(14),
        domain: r.get(15),
        installed_at: from_micros(r.get(16)),
        status: r.get(17),
        withdrawn_at: r.get::<Option<i64>, _>(18).map(from_micros),
        last_review_at: r.get::<Option<i64>, _>(19).map(from_micros),
        review_due_at: from_micros(r.get(20)),
    })
}

/// The succeeded steps of a run, in step order, with the action each step runs: the last
/// attempt's output of every step whose latest event is `succeeded`.
async fn step_outputs(conn: &mut AnyConnection, run_id: &str) -> Result<Vec<StepOutput>, StoreError> {
    let Some(def) = sqlx::query("SELECT definition_json FROM runs WHERE id = $1").bind(run_id).fetch_optional(&mut *conn).await? else {
        return Ok(Vec::new());
    };
    let def: Value = serde_json::from_str(&def.get::<String, _>(0)).map_err(StoreError::corrupt)?;
    let steps = def.get("steps").and_then(Value::as_array).cloned().unwrap_or_default();
    let rows = sqlx::query("SELECT step_index, event, at, output_json FROM run_events WHERE run_id = $1 AND step_index >= 0 ORDER BY seq")
        .bind(run_id)
        .fetch_all(&mut *conn)
        .await?;
    let mut latest: std::collections::BTreeMap<i64, Option<(OffsetDateTime, Value)>> = Default::default();
    for r in &rows {
        let index: i64 = r.get(0);
        let event: String = r.get(1);
        match event.as_str() {
            "succeeded" => {
                let output = r.get::<Option<String>, _>(3).map(|s| serde_json::from_str(&s)).transpose().map_err(StoreError::corrupt)?;
                latest.insert(index, Some((from_micros(r.get(2)), output.unwrap_or(Value::Null))));
            }
            "started" | "failed" | "undoing" | "undone" | "undo_failed" | "skipped" => {
                latest.insert(index, None);
            }
            _ => {}
        }
    }
    Ok(latest
        .into_iter()
        .filter_map(|(index, v)| {
            let (at, output) = v?;
            let step = steps.get(usize::try_from(index).ok()?)?;
            Some(StepOutput { step: step.get("name")?.as_str()?.to_string(), action: step.get("action")?.as_str()?.to_string(), at, output })
        })
        .collect())
}

async fn reviews(conn: &mut AnyConnection, asset_id: &str) -> Result<Vec<AssetReview>, StoreError> {
    let rows = sqlx::query("SELECT asset_id, seq, at, reviewer, role, findings FROM asset_reviews WHERE asset_id = $1 ORDER BY seq")
        .bind(asset_id)
        .fetch_all(conn)
        .await?;
    Ok(rows
        .iter()
        .map(|r| AssetReview { asset_id: r.get(0), seq: r.get(1), at: from_micros(r.get(2)), reviewer: r.get(3), role: r.get(4), findings: r.get(5) })
        .collect())
}

impl Store {
    /// The succeeded steps of a run (see the module doc).
    pub async fn step_outputs(&self, run_id: &str) -> Result<Vec<StepOutput>, StoreError> {
        let mut conn = self.pool.acquire().await?;
        step_outputs(&mut conn, run_id).await
    }

    /// Assets by id (one query), optionally only those due for review.
    pub async fn assets(&self, filter: AssetFilter) -> Result<Vec<AssetRecord>, StoreError> {
        let rows = match filter {
            AssetFilter::All => sqlx::query(sqlx::AssertSqlSafe(format!("SELECT {COLUMNS} FROM assets ORDER BY id"))).fetch_all(&self.pool).await?,
            AssetFilter::DueBefore(t) => {
                sqlx::query(sqlx::AssertSqlSafe(format!(
                    "SELECT {COLUMNS} FROM assets WHERE status = 'active' AND review_due_at < $1 ORDER BY review_due_at, id"
                )))
                .bind(micros(t))
                .fetch_all(&self.pool)
                .await?
            }
        };
        rows.iter().map(asset).collect()
    }

    pub async fn asset(&self, id: &str) -> Result<AssetRecord, StoreError> {
        let sql = sqlx::AssertSqlSafe(format!("SELECT {COLUMNS} FROM assets WHERE id = $1"));
        let r = sqlx::query(sql).bind(id).fetch_optional(&self.pool).await?.ok_or_else(|| StoreError::NotFound(format!("asset {id}")))?;
        asset(&r)
    }

    pub async fn asset_reviews(&self, asset_id: &str) -> Result<Vec<AssetReview>, StoreError> {
        let mut conn = self.pool.acquire().await?;
        reviews(&mut conn, asset_id).await
    }

    /// The latest review of every asset that has one, by asset id (one query, for exports).
    pub async fn latest_reviews(&self) -> Result<std::collections::BTreeMap<String, AssetReview>, StoreError> {
        let rows = sqlx::query(
            "SELECT r.asset_id, r.seq, r.at, r.reviewer, r.role, r.findings FROM asset_reviews r
             JOIN (SELECT asset_id, MAX(seq) AS seq FROM asset_reviews GROUP BY asset_id) m ON m.asset_id = r.asset_id AND m.seq = r.seq",
        )
        .fetch_all(&self.pool)
        .await?;
        Ok(rows
            .iter()
            .map(|r| {
                let review =
                    AssetReview { asset_id: r.get(0), seq: r.get(1), at: from_micros(r.get(2)), reviewer: r.get(3), role: r.get(4), findings: r.get(5) };
                (review.asset_id.clone(), review)
            })
            .collect())
    }
}

impl Write {
    pub async fn step_outputs(&mut self, run_id: &str) -> Result<Vec<StepOutput>, StoreError> {
        step_outputs(self.conn(), run_id).await
    }

    /// Registers an asset; registering the same one again (a re-applied handover) changes
    /// nothing and returns false.
    pub async fn insert_asset(&mut self, a: &AssetRecord) -> Result<bool, StoreError> {
        let sql = sqlx::AssertSqlSafe(format!(
            "INSERT INTO assets ({COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21) ON CONFLICT DO NOTHING"
        ));
        let done = sqlx::query(sql)
            .bind(&a.id)
            .bind(&a.request_id)
            .bind(&a.server)
            .bind(&a.serial_number)
            .bind(&a.type_brand)
            .bind(a.spec.to_string())
            .bind(&a.unit)
            .bind(&a.official_name)
            .bind(&a.official_nip)
            .bind(&a.noc)
            .bind(&a.rack)
            .bind(a.from_u)
            .bind(a.to_u)
            .bind(&a.ipv4)
            .bind(&a.ipv6)
            .bind(&a.domain)
            .bind(micros(a.installed_at))
            .bind(&a.status)
            .bind(a.withdrawn_at.map(micros))
            .bind(a.last_review_at.map(micros))
            .bind(micros(a.review_due_at))
            .execute(self.conn())
            .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Marks a request's active assets withdrawn; returns their ids.
    pub async fn withdraw_assets(&mut self, request_id: &str, at: OffsetDateTime) -> Result<Vec<String>, StoreError> {
        let ids: Vec<String> = sqlx::query("SELECT id FROM assets WHERE request_id = $1 AND status = 'active' ORDER BY id")
            .bind(request_id)
            .fetch_all(self.conn())
            .await?
            .iter()
            .map(|r| r.get(0))
            .collect();
        sqlx::query("UPDATE assets SET status = 'withdrawn', withdrawn_at = $1 WHERE request_id = $2 AND status = 'active'")
            .bind(micros(at))
            .bind(request_id)
            .execute(self.conn())
            .await?;
        Ok(ids)
    }

    /// Records a review and moves the asset's next due date.
    pub async fn add_asset_review(
        &mut self,
        asset_id: &str,
        actor: &crate::lifecycle::Actor,
        findings: &str,
        at: OffsetDateTime,
        next_due: OffsetDateTime,
    ) -> Result<i64, StoreError> {
        let seq: i64 = sqlx::query(
            "INSERT INTO asset_reviews (asset_id, seq, at, reviewer, role, findings)
             SELECT $1, COALESCE(MAX(seq), 0) + 1, $2, $3, $4, $5 FROM asset_reviews WHERE asset_id = $1 RETURNING seq",
        )
        .bind(asset_id)
        .bind(micros(at))
        .bind(&actor.name)
        .bind(actor.role.as_str())
        .bind(findings)
        .fetch_one(self.conn())
        .await?
        .get(0);
        sqlx::query("UPDATE assets SET last_review_at = $1, review_due_at = $2 WHERE id = $3")
            .bind(micros(at))
            .bind(micros(next_due))
            .bind(asset_id)
            .execute(self.conn())
            .await?;
        Ok(seq)
    }

    pub async fn asset_for_update(&mut self, id: &str) -> Result<AssetRecord, StoreError> {
        let sql = sqlx::AssertSqlSafe(format!("SELECT {COLUMNS} FROM assets WHERE id = $1"));
        let r = sqlx::query(sql).bind(id).fetch_optional(self.conn()).await?.ok_or_else(|| StoreError::NotFound(format!("asset {id}")))?;
        asset(&r)
    }
}
