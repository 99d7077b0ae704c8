//! The drift tables (`src/drift`): `drift_results` holds the latest check of each live request
//! (status, report, the drift episode and which episode was notified), `drift_history` every
//! check in order, `drift_accepted` the drifts an operator accepted, each with the value found
//! when accepted (a later, different value is reported again).

use sqlx::Row;
use time::OffsetDateTime;

use super::{Store, StoreError, Write, from_micros, micros};

/// The latest check of one request as stored.
#[derive(Debug, Clone)]
pub struct DriftRow {
    pub request_id: String,
    /// `in_sync`, `drifted` or `unknown` (a device could not be read).
    pub status: String,
    pub checked_at: OffsetDateTime,
    pub report: serde_json::Value,
    /// When the current drift was first seen (cleared when the request is in sync again).
    pub drifted_since: Option<OffsetDateTime>,
    /// Counts the times the request went from not drifted to drifted.
    pub episode: i64,
    /// The last episode a notice was sent for.
    pub notified_episode: i64,
}

/// An accepted drift.
#[derive(Debug, Clone, serde::Serialize)]
pub struct AcceptedDrift {
    pub item: String,
    pub found: serde_json::Value,
    pub reason: String,
    pub actor: String,
    #[serde(with = "time::serde::rfc3339")]
    pub accepted_at: OffsetDateTime,
}

fn drift_row(r: &sqlx::any::AnyRow) -> Result<DriftRow, StoreError> {
    Ok(DriftRow {
        request_id: r.get(0),
        status: r.get(1),
        checked_at: from_micros(r.get(2)),
        report: serde_json::from_str(&r.get::<String, _>(3)).map_err(StoreError::corrupt)?,
        drifted_since: r.get::<Option<i64>, _>(4).map(from_micros),
        episode: r.get(5),
        notified_episode: r.get(6),
    })
}

const SELECT_RESULT: &str = "SELECT request_id, status, checked_at, report_json, drifted_since, episode, notified_episode FROM drift_results WHERE request_id = $1";

impl Store {
    /// The latest check of a request, if it was ever checked.
    pub async fn drift_result(&self, request_id: &str) -> Result<Option<DriftRow>, StoreError> {
        let r = sqlx::query(SELECT_RESULT).bind(request_id).fetch_optional(&self.pool).await?;
        r.as_ref().map(drift_row).transpose()
    }

    /// The drifts accepted for a request.
    pub async fn drift_accepted(&self, request_id: &str) -> Result<Vec<AcceptedDrift>, StoreError> {
        let rows = sqlx::query("SELECT item, found_json, reason, actor, accepted_at FROM drift_accepted WHERE request_id = $1 ORDER BY item")
            .bind(request_id)
            .fetch_all(&self.pool)
            .await?;
        rows.iter()
            .map(|r| {
                Ok(AcceptedDrift {
                    item: r.get(0),
                    found: serde_json::from_str(&r.get::<String, _>(1)).map_err(StoreError::corrupt)?,
                    reason: r.get(2),
                    actor: r.get(3),
                    accepted_at: from_micros(r.get(4)),
                })
            })
            .collect()
    }

    /// How many checks were recorded for a request.
    pub async fn drift_checks(&self, request_id: &str) -> Result<i64, StoreError> {
        let r = sqlx::query("SELECT COUNT(*) FROM drift_history WHERE request_id = $1").bind(request_id).fetch_one(&self.pool).await?;
        Ok(r.get(0))
    }

    /// Latest results by status (`/metrics`).
    pub async fn drift_counts(&self) -> Result<Vec<(String, i64)>, StoreError> {
        let rows = sqlx::query("SELECT status, COUNT(*) FROM drift_results GROUP BY status ORDER BY status").fetch_all(&self.pool).await?;
        Ok(rows.iter().map(|r| (r.get::<String, _>(0), r.get::<i64, _>(1))).collect())
    }

    /// Records that the notice of `episode` went out; false if another process did it first.
    pub async fn mark_drift_notified(&self, request_id: &str, episode: i64) -> Result<bool, StoreError> {
        let done = sqlx::query("UPDATE drift_results SET notified_episode = $2 WHERE request_id = $1 AND notified_episode < $2")
            .bind(request_id)
            .bind(episode)
            .execute(&self.pool)
            .await?
            .rows_affected();
        Ok(done == 1)
    }
}

impl Write {
    /// Stores a check's result as the request's latest and appends it to the history. A drift
    /// after a check that was not drifted starts a new episode. Returns the stored row.
    pub async fn record_drift(&mut self, request_id: &str, status: &str, report: &serde_json::Value, at: OffsetDateTime) -> Result<DriftRow, StoreError> {
        let before = sqlx::query(SELECT_RESULT).bind(request_id).fetch_optional(self.conn()).await?;
        let before = before.as_ref().map(drift_row).transpose()?;
        let drifted = status == "drifted";
        let was_drifted = before.as_ref().is_some_and(|b| b.status == "drifted");
        let episode = before.as_ref().map_or(0, |b| b.episode) + i64::from(drifted && !was_drifted);
        let notified = before.as_ref().map_or(0, |b| b.notified_episode);
        let since = match (&before, drifted) {
            (_, false) => None,
            (Some(b), true) if was_drifted => b.drifted_since.map(micros),
            _ => Some(micros(at)),
        };
        let text = report.to_string();
        sqlx::query(
            "INSERT INTO drift_results (request_id, status, checked_at, report_json, drifted_since, episode, notified_episode)
             VALUES ($1, $2, $3, $4, $5, $6, $7)
             ON CONFLICT (request_id) DO UPDATE SET status = $2, checked_at = $3, report_json = $4, drifted_since = $5, episode = $6",
        )
        .bind(request_id)
        .bind(status)
        .bind(micros(at))
        .bind(&text)
        .bind(since)
        .bind(episode)
        .bind(notified)
        .execute(self.conn())
        .await?;
        let seq: i64 = sqlx::query("SELECT COALESCE(MAX(seq), 0) + 1 FROM drift_history WHERE request_id = $1").bind(request_id).fetch_one(self.conn()).await?.get(0);
        sqlx::query("INSERT INTO drift_history (request_id, seq, checked_at, status, drifted, report_json) VALUES ($1, $2, $3, $4, $5, $6)")
            .bind(request_id)
            .bind(seq)
            .bind(micros(at))
            .bind(status)
            .bind(i64::from(drifted))
            .bind(&text)
            .execute(self.conn())
            .await?;
        Ok(DriftRow {
            request_id: request_id.to_string(),
            status: status.to_string(),
            checked_at: at,
            report: report.clone(),
            drifted_since: since.map(from_micros),
            episode,
            notified_episode: notified,
        })
    }

    /// Accepts the drift of `item` with the value found now; replaces an earlier acceptance.
    pub async fn accept_drift(&mut self, request_id: &str, item: &str, found: &serde_json::Value, reason: &str, actor: &str, at: OffsetDateTime) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO drift_accepted (request_id, item, found_json, reason, actor, accepted_at) VALUES ($1, $2, $3, $4, $5, $6)
             ON CONFLICT (request_id, item) DO UPDATE SET found_json = $3, reason = $4, actor = $5, accepted_at = $6",
        )
        .bind(request_id)
        .bind(item)
        .bind(found.to_string())
        .bind(reason)
        .bind(actor)
        .bind(micros(at))
        .execute(self.conn())
        .await?;
        Ok(())
    }
}
