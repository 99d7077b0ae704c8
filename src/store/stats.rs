//! Counts for operations: readiness (the schema version) and the `/metrics` gauges, each one
//! query (GROUP BY), never a scan per row.

use sqlx::Row;
use time::OffsetDateTime;

use super::{Store, StoreError, micros, schema};

/// What `/metrics` reads from the store at each scrape.
#[derive(Debug, Clone, Default)]
pub struct StoreCounts {
    pub schema_version: i64,
    pub runs_by_status: Vec<(String, i64)>,
    pub requests_by_state: Vec<(String, i64)>,
    /// Requests whose SLA due time has passed (as `request list --overdue`).
    pub sla_overdue: i64,
    /// Live requests by the status of their latest drift check (`in_sync`, `drifted`, `unknown`).
    pub drift_by_status: Vec<(String, i64)>,
}

/// The migration version this binary expects.
pub fn expected_schema_version() -> i64 {
    schema::MIGRATIONS.iter().map(|(v, _)| *v).max().unwrap_or(0)
}

impl Store {
    /// The highest migration applied to this database.
    pub async fn schema_version(&self) -> Result<i64, StoreError> {
        let row = sqlx::query("SELECT COALESCE(MAX(version), 0) FROM schema_migrations").fetch_one(&self.pool).await?;
        Ok(row.get(0))
    }

    /// Migrations this binary knows that the database has not applied (readiness: empty).
    pub async fn missing_migrations(&self) -> Result<Vec<i64>, StoreError> {
        let applied: Vec<i64> = sqlx::query("SELECT version FROM schema_migrations").fetch_all(&self.pool).await?.iter().map(|r| r.get(0)).collect();
        Ok(schema::MIGRATIONS.iter().map(|(v, _)| *v).filter(|v| !applied.contains(v)).collect())
    }

    pub async fn counts(&self) -> Result<StoreCounts, StoreError> {
        let group = |sql: &'static str| async move {
            let rows = sqlx::query(sql).fetch_all(&self.pool).await?;
            Ok::<_, StoreError>(rows.iter().map(|r| (r.get::<String, _>(0), r.get::<i64, _>(1))).collect::<Vec<_>>())
        };
        let overdue = async {
            let row = sqlx::query("SELECT COUNT(*) FROM requests WHERE sla_due_at IS NOT NULL AND sla_due_at < $1")
                .bind(micros(OffsetDateTime::now_utc()))
                .fetch_one(&self.pool)
                .await?;
            Ok::<i64, StoreError>(row.get(0))
        };
        let (schema_version, runs_by_status, requests_by_state, sla_overdue, drift_by_status) = tokio::try_join!(
            self.schema_version(),
            group("SELECT status, COUNT(*) FROM runs GROUP BY status ORDER BY status"),
            group("SELECT state, COUNT(*) FROM requests GROUP BY state ORDER BY state"),
            overdue,
            self.drift_counts(),
        )?;
        Ok(StoreCounts { schema_version, runs_by_status, requests_by_state, sla_overdue, drift_by_status })
    }
}
