//! Storage: SQLite (embedded default) or PostgreSQL, through `sqlx::Any` and one portable schema.
//!
//! Owns the pool, migrations, and the table groups (one file each). Every write that changes
//! what a person sees goes through [`Write`], which holds the audit-chain lock from its first
//! statement, so the audit row is written in the same transaction as the change or not at all.

mod assets;
pub mod audit;
pub mod backup;
mod capacity;
mod drift;
mod claims;
mod device_locks;
mod evidence;
mod ipam;
mod limits;
pub mod outbox;
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
use std::sync::Arc;

use sqlx::any::{AnyPoolOptions, install_default_drivers};
use sqlx::{AnyPool, Row};
use time::OffsetDateTime;

use crate::secrets::MasterKey;

pub use assets::{AssetFilter, AssetRecord, AssetReview};
pub use audit::{AuditEntry, AuditRecord, ChainBreak, Checkpoint, VerifyReport};
pub use drift::{AcceptedDrift, DriftRow};
pub use evidence::ReadbackRow;
pub use claims::{ClaimSource, RecordOwner};
pub use device_locks::AdvisoryLocks;
pub use ipam::{AllocationRecord, PoolUsage};
pub use limits::Budget;
pub use privacy::AssetNaming;
pub use requests::{EventRecord, ListFilter, RequestRow, RequestSummary};
pub use runs::{NewRunEvent, RunEvent, RunRow};
pub use secrets::SecretRecord;
pub use sessions::SessionRow;
pub use stats::{StoreCounts, expected_schema_version};
pub use users::{NewUserRow, TokenOwner, TokenRecord, UserRecord, UserSource};

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
    #[error("audit key")]
    AuditKey(#[from] audit::AuditKeyError),
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
    /// The master key (to open the audit keys) and the audit keys once opened, shared by clones.
    keyring: Arc<Keyring>,
}

/// What the audit chain's MACs and checkpoints need; `Debug` shows no key.
#[derive(Default)]
struct Keyring {
    master: std::sync::RwLock<Option<Arc<MasterKey>>>,
    keys: std::sync::RwLock<Option<Arc<audit::AuditKeys>>>,
}

impl std::fmt::Debug for Keyring {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Keyring([redacted])")
    }
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
        let store = Self { pool, backend, keyring: Arc::default() };
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
        let keys = self.audit_keys_for_writing().await?;
        let mut tx = self.pool.begin().await?;
        sqlx::query("UPDATE audit_head SET seq = seq WHERE id = 1").execute(&mut *tx).await?;
        Ok(Write { tx, keys })
    }

    /// The master key the audit keys are sealed under (the service sets it); forgets any audit
    /// keys opened under another one.
    pub fn use_master_key(&self, key: Option<Arc<MasterKey>>) {
        *self.keyring.master.write().expect("keyring lock") = key;
        *self.keyring.keys.write().expect("keyring lock") = None;
    }

    fn cached_audit_keys(&self) -> (Option<Arc<MasterKey>>, Option<Arc<audit::AuditKeys>>) {
        (self.keyring.master.read().expect("keyring lock").clone(), self.keyring.keys.read().expect("keyring lock").clone())
    }

    /// The audit keys new rows are MAC'd with, made on first use under the chain lock. `None`
    /// for a store that never had a master key; without the key, a keyed store refuses writes.
    async fn audit_keys_for_writing(&self) -> Result<Option<Arc<audit::AuditKeys>>, StoreError> {
        let (master, cached) = self.cached_audit_keys();
        if cached.is_some() {
            return Ok(cached);
        }
        let mut conn = self.pool.acquire().await?;
        let Some(master) = master else {
            if audit::keys::any_keys(&mut conn).await? {
                return Err(audit::AuditKeyError::NoMasterKey.into());
            }
            return Ok(None);
        };
        let mut tx = sqlx::Connection::begin(&mut *conn).await?;
        sqlx::query("UPDATE audit_head SET seq = seq WHERE id = 1").execute(&mut *tx).await?;
        let keys = Arc::new(audit::keys::load_or_create(&mut tx, &master).await?);
        tx.commit().await?;
        *self.keyring.keys.write().expect("keyring lock") = Some(keys.clone());
        Ok(Some(keys))
    }

    /// The audit keys if the master key is known and the store has them (never makes any).
    async fn audit_keys_if_any(&self) -> Result<Option<Arc<audit::AuditKeys>>, StoreError> {
        let (master, cached) = self.cached_audit_keys();
        if cached.is_some() {
            return Ok(cached);
        }
        let Some(master) = master else { return Ok(None) };
        let mut conn = self.pool.acquire().await?;
        Ok(audit::keys::load(&mut conn, &master).await?.map(Arc::new))
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
    keys: Option<Arc<audit::AuditKeys>>,
}

impl Write {
    pub fn conn(&mut self) -> &mut sqlx::AnyConnection {
        &mut self.tx
    }

    pub async fn audit(&mut self, entry: AuditEntry) -> Result<i64, StoreError> {
        audit::append(&mut self.tx, self.keys.as_deref(), entry).await
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
