//! Storage: SQLite (embedded default) or PostgreSQL, through `sqlx::Any` and one portable schema.
//!
//! Owns the pool, migrations, and the table groups (one file each). Every write that changes
//! what a person sees goes through [`Write`], which holds the audit-chain lock from its first
//! statement, so the audit row is written in the same transaction as the change or not at all.

mod assets;
mod audit;
pub mod backup;
mod capacity;
mod drift;
mod claims;
mod evidence;
mod ipam;
mod limits;
mod privacy;
mod rekey;
mod requests;
mod runs;
mod schema;
mod secrets;
mod sessions;
mod stats;
mod users;

use std::str::FromStr;

use sqlx::any::{AnyPoolOptions, install_default_drivers};
use sqlx::{AnyPool, Row};
use time::OffsetDateTime;

pub use assets::{AssetFilter, AssetRecord, AssetReview};
pub use audit::{AuditEntry, AuditRecord, ChainBreak};
pub use drift::{AcceptedDrift, DriftRow};
pub use evidence::{ReadbackRow, StoredAuditRow};
pub use claims::{ClaimSource, RecordOwner};
pub use ipam::{AllocationRecord, PoolUsage};
pub use limits::Budget;
pub use privacy::AssetNaming;
pub use requests::{EventRecord, ListFilter, RequestRow, RequestSummary};
pub use runs::{NewRunEvent, RunEvent, RunRow};
pub use secrets::SecretRecord;
pub use sessions::SessionRow;
pub use stats::{StoreCounts, expected_schema_version};
pub use users::{NewUserRow, TokenOwner, TokenRecord, UserRecord};

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database error")]
    Sql(#[from] sqlx::Error),
    #[error("unsupported database URL {0:?}: use sqlite://FILE or postgres://…")]
    Url(String),
    #[error("stored data is corrupt: {0}")]
    Corrupt(String),
    #[error("{0} not found")]
    NotFound(String),
    #[error("conflict: {0}")]
    Conflict(String),
    /// Another active request holds the name (see `claims`).
    #[error("{name} is already claimed by request {holder}")]
    Claimed { name: String, holder: String },
    /// A shared resource is contended; trying again shortly will do.
    #[error("{0}")]
    Busy(String),
}

impl StoreError {
    pub fn corrupt(e: impl std::fmt::Display) -> Self {
        Self::Corrupt(e.to_string())
    }

    /// Whether the database refused the write for a unique key.
    pub fn is_unique_violation(&self) -> bool {
        matches!(self, Self::Sql(sqlx::Error::Database(e)) if e.is_unique_violation())
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

#[derive(Debug, Clone)]
pub struct Store {
    pool: AnyPool,
    backend: Backend,
}

impl Store {
    /// Connects (creating a SQLite file if needed) and migrates.
    pub async fn connect(url: &str) -> Result<Self, StoreError> {
        install_default_drivers();
        let (backend, url) = if let Some(rest) = url.strip_prefix("sqlite:") {
            let url = if rest.contains("mode=") { url.to_string() } else if rest.contains('?') { format!("{url}&mode=rwc") } else { format!("{url}?mode=rwc") };
            (Backend::Sqlite, url)
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            (Backend::Postgres, url.to_string())
        } else {
            return Err(StoreError::Url(url.to_string()));
        };
        let mut options = AnyPoolOptions::new();
        options = match backend {
            Backend::Sqlite => options.max_connections(4).after_connect(|conn, _| {
                Box::pin(async move {
                    sqlx::raw_sql("PRAGMA journal_mode=WAL; PRAGMA busy_timeout=10000; PRAGMA synchronous=NORMAL; PRAGMA foreign_keys=ON")
                        .execute(conn)
                        .await?;
                    Ok(())
                })
            }),
            Backend::Postgres => options.max_connections(16),
        };
        let pool = options.connect(&url).await?;
        let store = Self { pool, backend };
        store.migrate().await?;
        Ok(store)
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    pub fn pool(&self) -> &AnyPool {
        &self.pool
    }

    async fn migrate(&self) -> Result<(), StoreError> {
        let mut conn = self.pool.acquire().await?;
        if self.backend == Backend::Postgres {
            // Two replicas starting together must not race on CREATE TABLE.
            sqlx::query("SELECT pg_advisory_lock(7401001)").execute(&mut *conn).await?;
        }
        let result = async {
            sqlx::query("CREATE TABLE IF NOT EXISTS schema_migrations (version BIGINT PRIMARY KEY, applied_at BIGINT NOT NULL)")
                .execute(&mut *conn)
                .await?;
            let done: Vec<i64> = sqlx::query("SELECT version FROM schema_migrations")
                .fetch_all(&mut *conn)
                .await?
                .iter()
                .map(|r| r.get::<i64, _>(0))
                .collect();
            for (version, statements) in schema::MIGRATIONS {
                if done.contains(version) {
                    continue;
                }
                let mut tx = sqlx::Connection::begin(&mut *conn).await?;
                for stmt in *statements {
                    sqlx::query(*stmt).execute(&mut *tx).await?;
                }
                sqlx::query("INSERT INTO schema_migrations (version, applied_at) VALUES ($1, $2)")
                    .bind(*version)
                    .bind(micros(OffsetDateTime::now_utc()))
                    .execute(&mut *tx)
                    .await?;
                tx.commit().await?;
            }
            Ok::<_, StoreError>(())
        }
        .await;
        if self.backend == Backend::Postgres {
            sqlx::query("SELECT pg_advisory_unlock(7401001)").execute(&mut *conn).await?;
        }
        result
    }

    /// Starts an audited write transaction: takes the audit-chain lock first, so concurrent
    /// writers queue here instead of failing later (SQLite) or forking the chain (PostgreSQL).
    pub async fn write(&self) -> Result<Write, StoreError> {
        let mut tx = self.pool.begin().await?;
        sqlx::query("UPDATE audit_head SET seq = seq WHERE id = 1").execute(&mut *tx).await?;
        Ok(Write { tx })
    }

    /// Whether the database answers (health and readiness checks).
    pub async fn ping(&self) -> Result<(), StoreError> {
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        Ok(())
    }
}

/// An audited write transaction. Dropping it without `commit` rolls everything back.
pub struct Write {
    tx: sqlx::Transaction<'static, sqlx::Any>,
}

impl Write {
    pub fn conn(&mut self) -> &mut sqlx::AnyConnection {
        &mut self.tx
    }

    pub async fn audit(&mut self, entry: AuditEntry) -> Result<i64, StoreError> {
        audit::append(&mut self.tx, entry).await
    }

    pub async fn commit(self) -> Result<(), StoreError> {
        self.tx.commit().await?;
        Ok(())
    }
}

/// Timestamps are stored as UTC microseconds since the Unix epoch.
pub fn micros(t: OffsetDateTime) -> i64 {
    (t.unix_timestamp_nanos() / 1000) as i64
}

pub fn from_micros(v: i64) -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp_nanos(i128::from(v) * 1000).unwrap_or(OffsetDateTime::UNIX_EPOCH)
}

pub(crate) fn parse_enum<T: FromStr>(value: &str) -> Result<T, StoreError>
where
    T::Err: std::fmt::Display,
{
    value.parse().map_err(StoreError::corrupt)
}
