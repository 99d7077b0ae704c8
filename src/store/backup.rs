//! Backup and restore of the whole store, the same on SQLite and PostgreSQL (and across them):
//! every table as JSON lines in one file, read inside one snapshot transaction (PostgreSQL
//! `REPEATABLE READ`; on SQLite the first read fixes the WAL snapshot for the transaction),
//! ended by a manifest line with the schema version, the audit chain head, and each table's row
//! count and SHA-256.
//!
//! A restore goes into an empty store at the same schema version, checks every checksum before
//! it writes anything, writes everything in one transaction, and checks the audit chain, the
//! chain head and the counts inside that transaction before committing — a damaged or edited
//! backup leaves the store as it was. Sealed secrets stay sealed: the master key is not in the
//! database, so it is not in the backup either.

use std::io::Write as _;
use std::path::Path;

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use sqlx::Row;

use super::{Backend, Store, StoreError, audit};

pub const FORMAT: &str = "kolokasi-backup/1";

/// The last line of a backup file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Manifest {
    pub format: String,
    pub kolokasi_version: String,
    /// The backend the backup was taken from (`sqlite` or `postgres`).
    pub backend: String,
    pub schema_version: i64,
    /// RFC 3339, UTC.
    pub created_at: String,
    pub audit_head: AuditHead,
    pub tables: Vec<TableManifest>,
    /// SHA-256 of every line before the manifest.
    pub content_sha256: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditHead {
    pub seq: i64,
    pub hash: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TableManifest {
    pub name: String,
    pub columns: Vec<Column>,
    pub rows: u64,
    /// SHA-256 of the table's lines, in file order.
    pub sha256: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Column {
    pub name: String,
    pub kind: ColumnKind,
}

/// The portable schema has two column types.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ColumnKind {
    Integer,
    Text,
}

/// What a restore wrote and checked.
#[derive(Debug, Clone, Serialize)]
pub struct RestoreReport {
    pub tables: usize,
    pub rows: u64,
    pub audit_rows_verified: i64,
    pub manifest: Manifest,
}

#[derive(Debug, thiserror::Error)]
pub enum BackupError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("cannot write the backup {path}")]
    Write {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot read the backup {path}")]
    Read {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("{path} is not a kolokasi backup: {message}")]
    Format { path: String, message: String },
    #[error("the backup {path} is damaged: {message}")]
    Damaged { path: String, message: String },
    #[error("the backup is of schema version {backup} but this store is at {store}: restore with the kolokasi version that made it, then upgrade")]
    Version { backup: i64, store: i64 },
    #[error("the store is not empty ({0}): restore into an empty store, or pass --force to replace everything in it")]
    NotEmpty(String),
    #[error("table {table}: {message}")]
    Schema { table: String, message: String },
    #[error("the restored audit chain breaks at row {seq}: {problem}; nothing was restored")]
    Chain { seq: i64, problem: String },
    #[error("after restoring, {0}; nothing was restored")]
    Mismatch(String),
}

impl From<sqlx::Error> for BackupError {
    fn from(e: sqlx::Error) -> Self {
        Self::Store(e.into())
    }
}

/// Tables a backup carries: all but the migration bookkeeping (its version is in the manifest)
/// and the sign-in budgets (transient: a restored store starts with fresh ones).
fn carried(name: &str) -> bool {
    !matches!(name, "schema_migrations" | "auth_limits")
}

fn plain_identifier(table: &str, name: &str) -> Result<(), BackupError> {
    if !name.is_empty() && name.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_') {
        Ok(())
    } else {
        Err(BackupError::Schema { table: table.into(), message: format!("{name:?} is not a plain lower-case identifier") })
    }
}

/// The tables of the connected database with their columns, by name.
async fn tables(conn: &mut sqlx::AnyConnection, backend: Backend) -> Result<Vec<(String, Vec<Column>)>, BackupError> {
    let (list, columns) = match backend {
        Backend::Sqlite => (
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name",
            "SELECT name, type FROM pragma_table_info($1) ORDER BY cid",
        ),
        Backend::Postgres => (
            "SELECT table_name::text FROM information_schema.tables
             WHERE table_schema = current_schema() AND table_type = 'BASE TABLE' ORDER BY table_name",
            "SELECT column_name::text, data_type::text FROM information_schema.columns
             WHERE table_schema = current_schema() AND table_name = $1 ORDER BY ordinal_position",
        ),
    };
    let names: Vec<String> = sqlx::query(list).fetch_all(&mut *conn).await?.iter().map(|r| r.get(0)).collect();
    let mut out = Vec::new();
    for name in names.into_iter().filter(|n| carried(n)) {
        plain_identifier(&name, &name)?;
        let mut cols = Vec::new();
        for r in sqlx::query(columns).bind(&name).fetch_all(&mut *conn).await? {
            let (column, ty): (String, String) = (r.get(0), r.get(1));
            plain_identifier(&name, &column)?;
            let upper = ty.to_ascii_uppercase();
            let kind = if upper.contains("INT") {
                ColumnKind::Integer
            } else if upper.contains("TEXT") || upper.contains("CHAR") {
                ColumnKind::Text
            } else {
                return Err(BackupError::Schema { table: name, message: format!("column {column} has type {ty:?}; the portable schema has only TEXT and BIGINT") });
            };
            cols.push(Column { name: column, kind });
        }
        out.push((name, cols));
    }
    Ok(out)
}

fn hex_digest(h: Sha256) -> String {
    hex::encode(h.finalize())
}

impl Store {
    /// Writes a consistent snapshot of every table to `path` (via `path.partial`, renamed when
    /// complete and synced). Returns the manifest written as the file's last line.
    pub async fn backup_to(&self, path: &Path) -> Result<Manifest, BackupError> {
        let partial = std::path::PathBuf::from(format!("{}.partial", path.display()));
        let write_err = |source| BackupError::Write { path: path.display().to_string(), source };
        // A backup holds sealed secrets, personal data and the audit: owner only (0600).
        let mut out = std::io::BufWriter::new(crate::secrets::files::create_private(&partial).map_err(write_err)?);
        let mut tx = self.pool.begin().await?;
        if self.backend == Backend::Postgres {
            sqlx::query("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY").execute(&mut *tx).await?;
        }
        let schema_version: i64 = sqlx::query("SELECT COALESCE(MAX(version), 0) FROM schema_migrations").fetch_one(&mut *tx).await?.get(0);
        let head = sqlx::query("SELECT seq, hash FROM audit_head WHERE id = 1").fetch_one(&mut *tx).await?;
        let audit_head = AuditHead { seq: head.get(0), hash: head.get(1) };
        let mut content = Sha256::new();
        let mut manifests = Vec::new();
        for (name, columns) in tables(&mut tx, self.backend).await? {
            let list = columns.iter().map(|c| c.name.as_str()).collect::<Vec<_>>().join(", ");
            let order = (1..=columns.len()).map(|i| i.to_string()).collect::<Vec<_>>().join(", ");
            let sql = sqlx::AssertSqlSafe(format!("SELECT {list} FROM {name} ORDER BY {order}"));
            let rows = sqlx::query(sql).fetch_all(&mut *tx).await?;
            let mut sha = Sha256::new();
            for row in &rows {
                let mut values = Vec::with_capacity(columns.len());
                for (i, c) in columns.iter().enumerate() {
                    values.push(match c.kind {
                        ColumnKind::Integer => json!(row.try_get::<Option<i64>, _>(i)?),
                        ColumnKind::Text => json!(row.try_get::<Option<String>, _>(i)?),
                    });
                }
                let mut line = json!({ "t": name, "r": values }).to_string();
                line.push('\n');
                sha.update(line.as_bytes());
                content.update(line.as_bytes());
                out.write_all(line.as_bytes()).map_err(write_err)?;
            }
            manifests.push(TableManifest { name, columns, rows: rows.len() as u64, sha256: hex_digest(sha) });
        }
        tx.commit().await?;
        let manifest = Manifest {
            format: FORMAT.into(),
            kolokasi_version: env!("CARGO_PKG_VERSION").into(),
            backend: match self.backend {
                Backend::Sqlite => "sqlite",
                Backend::Postgres => "postgres",
            }
            .into(),
            schema_version,
            created_at: time::OffsetDateTime::now_utc().format(&time::format_description::well_known::Rfc3339).unwrap_or_default(),
            audit_head,
            tables: manifests,
            content_sha256: hex_digest(content),
        };
        writeln!(out, "{}", json!({ "manifest": manifest })).map_err(write_err)?;
        let file = out.into_inner().map_err(|e| write_err(e.into_error()))?;
        file.sync_all().map_err(write_err)?;
        std::fs::rename(&partial, path).map_err(write_err)?;
        Ok(manifest)
    }

    /// SQLite only: an online, consistent copy of the database file by `VACUUM INTO`, with a
    /// manifest beside it (`FILE.manifest.json`: the file's SHA-256, schema version, audit head,
    /// row counts). `kolokasi restore FILE` takes such a copy too.
    pub async fn sqlite_snapshot(&self, path: &Path) -> Result<SnapshotManifest, BackupError> {
        if self.backend != Backend::Sqlite {
            return Err(BackupError::Format { path: path.display().to_string(), message: "a file copy is for SQLite stores; use the logical backup (or pg_dump) on PostgreSQL".into() });
        }
        let p = path.display().to_string();
        if path.exists() {
            return Err(BackupError::Write { path: p, source: std::io::Error::from(std::io::ErrorKind::AlreadyExists) });
        }
        // Created empty with mode 0600 first: VACUUM INTO keeps an existing file's mode.
        crate::secrets::files::create_private(path).map_err(|source| BackupError::Write { path: p.clone(), source })?;
        sqlx::query("VACUUM INTO $1").bind(&p).execute(&self.pool).await?;
        // The manifest describes the copy, read back from the copy itself.
        let copy = Store::connect(&format!("sqlite://{p}")).await?;
        let logical = std::path::PathBuf::from(format!("{p}.check"));
        let described = copy.backup_to(&logical).await;
        copy.pool.close().await;
        let _ = std::fs::remove_file(&logical);
        for suffix in ["-wal", "-shm"] {
            let _ = std::fs::remove_file(format!("{p}{suffix}"));
        }
        let described = described?;
        let bytes = std::fs::read(path).map_err(|source| BackupError::Read { path: p.clone(), source })?;
        let manifest = SnapshotManifest {
            format: SNAPSHOT_FORMAT.into(),
            sha256: hex::encode(Sha256::digest(&bytes)),
            schema_version: described.schema_version,
            created_at: described.created_at,
            audit_head: described.audit_head,
            rows: described.tables.iter().map(|t| (t.name.clone(), t.rows)).collect(),
        };
        let side = format!("{p}.manifest.json");
        crate::secrets::files::write_private(Path::new(&side), serde_json::to_string_pretty(&manifest).unwrap_or_default().as_bytes())
            .map_err(|source| BackupError::Write { path: side, source })?;
        Ok(manifest)
    }

    /// Restores a backup into this store (empty unless `force`), or changes nothing. Takes a
    /// logical backup or a SQLite file copy (with its manifest beside it).
    pub async fn restore_from(&self, path: &Path, force: bool) -> Result<RestoreReport, BackupError> {
        if is_sqlite_file(path) {
            return self.restore_sqlite_snapshot(path, force).await;
        }
        self.restore_logical(path, force).await
    }

    async fn restore_logical(&self, path: &Path, force: bool) -> Result<RestoreReport, BackupError> {
        let (manifest, rows) = read_backup(path)?;
        let store_version = self.schema_version().await?;
        if manifest.schema_version != store_version {
            return Err(BackupError::Version { backup: manifest.schema_version, store: store_version });
        }
        let mut tx = self.pool.begin().await?;
        if !force {
            let audit: i64 = sqlx::query("SELECT COUNT(*) FROM audit").fetch_one(&mut *tx).await?.get(0);
            let requests: i64 = sqlx::query("SELECT COUNT(*) FROM requests").fetch_one(&mut *tx).await?.get(0);
            if audit > 0 || requests > 0 {
                return Err(BackupError::NotEmpty(format!("{requests} requests, {audit} audit rows")));
            }
        }
        if self.backend == Backend::Sqlite {
            sqlx::query("PRAGMA defer_foreign_keys = ON").execute(&mut *tx).await?;
        }
        let target = tables(&mut tx, self.backend).await?;
        for (name, columns) in &target {
            let Some(t) = manifest.tables.iter().find(|t| &t.name == name) else {
                return Err(BackupError::Schema { table: name.clone(), message: "exists in this store but not in the backup".into() });
            };
            let mut want: Vec<&str> = columns.iter().map(|c| c.name.as_str()).collect();
            let mut have: Vec<&str> = t.columns.iter().map(|c| c.name.as_str()).collect();
            want.sort_unstable();
            have.sort_unstable();
            if want != have {
                return Err(BackupError::Schema { table: name.clone(), message: format!("columns differ: store {want:?}, backup {have:?}") });
            }
        }
        if let Some(t) = manifest.tables.iter().find(|t| !target.iter().any(|(n, _)| *n == t.name)) {
            return Err(BackupError::Schema { table: t.name.clone(), message: "is in the backup but not in this store".into() });
        }
        for (name, _) in &target {
            sqlx::query(sqlx::AssertSqlSafe(format!("DELETE FROM {name}"))).execute(&mut *tx).await?;
        }
        let mut total = 0u64;
        for (t, table_rows) in manifest.tables.iter().zip(&rows) {
            insert_rows(&mut tx, path, t, table_rows).await?;
            total += table_rows.len() as u64;
        }
        // MACs are checked when this process holds the master key the backup's audit keys open with.
        let master = self.cached_audit_keys().0;
        let keys = match &master {
            Some(m) => audit::keys::load(&mut tx, m).await?,
            None => None,
        };
        if let Err(b) = audit::verify_chain(&mut tx, keys.as_ref()).await? {
            return Err(BackupError::Chain { seq: b.seq, problem: b.problem });
        }
        let head = sqlx::query("SELECT seq, hash FROM audit_head WHERE id = 1").fetch_one(&mut *tx).await?;
        if (head.get::<i64, _>(0), head.get::<String, _>(1)) != (manifest.audit_head.seq, manifest.audit_head.hash.clone()) {
            return Err(BackupError::Mismatch("the audit chain head differs from the manifest".into()));
        }
        for t in &manifest.tables {
            let n: i64 = sqlx::query(sqlx::AssertSqlSafe(format!("SELECT COUNT(*) FROM {}", t.name))).fetch_one(&mut *tx).await?.get(0);
            if n as u64 != t.rows {
                return Err(BackupError::Mismatch(format!("table {} has {n} rows, the manifest says {}", t.name, t.rows)));
            }
        }
        let audit_rows: i64 = sqlx::query("SELECT COUNT(*) FROM audit").fetch_one(&mut *tx).await?.get(0);
        tx.commit().await?;
        // The restored store has the backup's audit keys: forget any opened before.
        self.use_master_key(master);
        Ok(RestoreReport { tables: manifest.tables.len(), rows: total, audit_rows_verified: audit_rows, manifest })
    }
}

impl Store {
    /// Checks the copy against its manifest, then restores it through the logical format (one
    /// code path for checking the chain and the counts).
    async fn restore_sqlite_snapshot(&self, path: &Path, force: bool) -> Result<RestoreReport, BackupError> {
        let p = path.display().to_string();
        let side = format!("{p}.manifest.json");
        let text = std::fs::read_to_string(&side).map_err(|source| BackupError::Read { path: side.clone(), source })?;
        let manifest: SnapshotManifest =
            serde_json::from_str(&text).map_err(|e| BackupError::Format { path: side.clone(), message: e.to_string() })?;
        if manifest.format != SNAPSHOT_FORMAT {
            return Err(BackupError::Format { path: side, message: format!("format {:?}", manifest.format) });
        }
        let bytes = std::fs::read(path).map_err(|source| BackupError::Read { path: p.clone(), source })?;
        if hex::encode(Sha256::digest(&bytes)) != manifest.sha256 {
            return Err(BackupError::Damaged { path: p, message: "the file does not match the SHA-256 in its manifest".into() });
        }
        // Work on a private copy: opening a SQLite file may write to it (journal mode).
        let dir = std::env::temp_dir().join(format!("kolokasi-restore-{}-{}", std::process::id(), rand::random::<u32>()));
        crate::secrets::files::create_private_dir(&dir).map_err(|source| BackupError::Write { path: dir.display().to_string(), source })?;
        let result = async {
            let copy_path = dir.join("copy.db");
            crate::secrets::files::write_private(&copy_path, &bytes).map_err(|source| BackupError::Write { path: copy_path.display().to_string(), source })?;
            let copy = Store::connect(&format!("sqlite://{}", copy_path.display())).await?;
            let logical = dir.join("copy.backup");
            let described = copy.backup_to(&logical).await;
            copy.pool.close().await;
            let described = described?;
            let rows: std::collections::BTreeMap<String, u64> = described.tables.iter().map(|t| (t.name.clone(), t.rows)).collect();
            if rows != manifest.rows || described.audit_head != manifest.audit_head {
                return Err(BackupError::Damaged { path: p.clone(), message: "its content does not match its manifest".into() });
            }
            self.restore_logical(&logical, force).await
        }
        .await;
        let _ = std::fs::remove_dir_all(&dir);
        result
    }
}

fn is_sqlite_file(path: &Path) -> bool {
    use std::io::Read;
    let mut magic = [0u8; 16];
    std::fs::File::open(path).and_then(|mut f| f.read_exact(&mut magic)).is_ok() && &magic == b"SQLite format 3\0"
}

pub const SNAPSHOT_FORMAT: &str = "kolokasi-sqlite-snapshot/1";

/// `FILE.manifest.json` beside a SQLite file copy.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SnapshotManifest {
    pub format: String,
    /// SHA-256 of the database file.
    pub sha256: String,
    pub schema_version: i64,
    pub created_at: String,
    pub audit_head: AuditHead,
    pub rows: std::collections::BTreeMap<String, u64>,
}

/// Inserts one table's rows, several per statement (within both backends' parameter limits).
async fn insert_rows(tx: &mut sqlx::AnyConnection, path: &Path, t: &TableManifest, rows: &[Vec<Value>]) -> Result<(), BackupError> {
    let list = t.columns.iter().map(|c| c.name.as_str()).collect::<Vec<_>>().join(", ");
    let per_statement = (900 / t.columns.len().max(1)).max(1);
    for chunk in rows.chunks(per_statement) {
        let mut sql = format!("INSERT INTO {} ({list}) VALUES ", t.name);
        let mut n = 0;
        for (i, _) in chunk.iter().enumerate() {
            sql.push_str(if i == 0 { "(" } else { ", (" });
            for j in 0..t.columns.len() {
                n += 1;
                sql.push_str(&format!("{}${n}", if j == 0 { "" } else { ", " }));
            }
            sql.push(')');
        }
        let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
        for row in chunk {
            for (c, v) in t.columns.iter().zip(row) {
                let wrong = || BackupError::Damaged { path: path.display().to_string(), message: format!("table {}: {v} is not a value of column {}", t.name, c.name) };
                q = match (c.kind, v) {
                    (ColumnKind::Integer, Value::Null) => q.bind(None::<i64>),
                    (ColumnKind::Integer, v) => q.bind(Some(v.as_i64().ok_or_else(wrong)?)),
                    (ColumnKind::Text, Value::Null) => q.bind(None::<String>),
                    (ColumnKind::Text, v) => q.bind(Some(v.as_str().ok_or_else(wrong)?.to_string())),
                };
            }
        }
        q.execute(&mut *tx).await?;
    }
    Ok(())
}

/// One table's rows, each a list of column values in the manifest's column order.
pub type TableRows = Vec<Vec<Value>>;

/// Reads a backup file and checks every checksum; returns the manifest and each manifest
/// table's rows, in manifest order.
pub fn read_backup(path: &Path) -> Result<(Manifest, Vec<TableRows>), BackupError> {
    let p = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|source| BackupError::Read { path: p.clone(), source })?;
    let lines: Vec<&str> = text.lines().collect();
    let Some((last, body)) = lines.split_last() else {
        return Err(BackupError::Format { path: p, message: "the file is empty".into() });
    };
    let manifest: Manifest = serde_json::from_str::<Value>(last)
        .ok()
        .and_then(|v| v.get("manifest").cloned())
        .and_then(|m| serde_json::from_value(m).ok())
        .ok_or_else(|| BackupError::Format { path: p.clone(), message: "its last line is not a backup manifest (an interrupted copy?)".into() })?;
    if manifest.format != FORMAT {
        return Err(BackupError::Format { path: p, message: format!("format {:?}, expected {FORMAT:?}", manifest.format) });
    }
    let damaged = |message: String| BackupError::Damaged { path: p.clone(), message };
    let mut content = Sha256::new();
    let mut by_table: Vec<(Sha256, Vec<Vec<Value>>)> = manifest.tables.iter().map(|_| (Sha256::new(), Vec::new())).collect();
    for (n, line) in body.iter().enumerate() {
        #[derive(Deserialize)]
        struct Line {
            t: String,
            r: Vec<Value>,
        }
        let parsed: Line = serde_json::from_str(line).map_err(|e| damaged(format!("line {}: {e}", n + 1)))?;
        let i = manifest.tables.iter().position(|t| t.name == parsed.t).ok_or_else(|| damaged(format!("line {}: table {:?} is not in the manifest", n + 1, parsed.t)))?;
        if parsed.r.len() != manifest.tables[i].columns.len() {
            return Err(damaged(format!("line {}: {} values for {} columns of {}", n + 1, parsed.r.len(), manifest.tables[i].columns.len(), parsed.t)));
        }
        let bytes = format!("{line}\n");
        content.update(bytes.as_bytes());
        by_table[i].0.update(bytes.as_bytes());
        by_table[i].1.push(parsed.r);
    }
    let mut rows = Vec::new();
    for (t, (sha, table_rows)) in manifest.tables.iter().zip(by_table) {
        if table_rows.len() as u64 != t.rows {
            return Err(damaged(format!("table {} has {} rows, the manifest says {}", t.name, table_rows.len(), t.rows)));
        }
        if hex_digest(sha) != t.sha256 {
            return Err(damaged(format!("table {} does not match its SHA-256 in the manifest (edited?)", t.name)));
        }
        rows.push(table_rows);
    }
    if hex_digest(content) != manifest.content_sha256 {
        return Err(damaged("the rows do not match the manifest's content SHA-256 (reordered?)".into()));
    }
    Ok((manifest, rows))
}
