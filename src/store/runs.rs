//! The run log: `runs` (one per request and playbook, with a lease for workers) and
//! `run_events` (append-only, keyed (run, step, attempt, event); inserts are idempotent).
//!
//! Status is derived from the events by `engine::run_log`; the `status` column is a cache of
//! that derivation for listing and claiming.

use sqlx::Row;
use time::OffsetDateTime;

use super::{Backend, Store, StoreError, Write, from_micros, micros};

#[derive(Debug, Clone)]
pub struct RunRow {
    pub id: String,
    pub request_id: String,
    pub playbook: String,
    pub definition_json: String,
    pub status: String,
    pub created_at: OffsetDateTime,
    pub updated_at: OffsetDateTime,
    pub lease_owner: Option<String>,
    pub lease_until: Option<OffsetDateTime>,
}

/// One event of the run log.
#[derive(Debug, Clone, serde::Serialize)]
pub struct RunEvent {
    /// -1 for events of the whole run.
    pub step_index: i64,
    pub attempt: i64,
    pub event: String,
    pub seq: i64,
    #[serde(with = "time::serde::rfc3339")]
    pub at: OffsetDateTime,
    pub actor: String,
    pub output: Option<serde_json::Value>,
    pub error: Option<String>,
    pub reason: Option<String>,
}

/// A new event to append.
#[derive(Debug, Clone)]
pub struct NewRunEvent<'a> {
    pub step_index: i64,
    pub attempt: i64,
    pub event: &'a str,
    pub actor: &'a str,
    pub output: Option<&'a serde_json::Value>,
    pub error: Option<&'a str>,
    pub reason: Option<&'a str>,
}

const RUN_COLUMNS: &str = "id, request_id, playbook, definition_json, status, created_at, updated_at, lease_owner, lease_until";

fn run_row(r: &sqlx::any::AnyRow) -> RunRow {
    RunRow {
        id: r.get(0),
        request_id: r.get(1),
        playbook: r.get(2),
        definition_json: r.get(3),
        status: r.get(4),
        created_at: from_micros(r.get(5)),
        updated_at: from_micros(r.get(6)),
        lease_owner: r.get(7),
        lease_until: r.get::<Option<i64>, _>(8).map(from_micros),
    }
}

/// The run's events in log order.
async fn read_events(conn: &mut sqlx::AnyConnection, run_id: &str) -> Result<Vec<RunEvent>, StoreError> {
    let rows = sqlx::query("SELECT step_index, attempt, event, seq, at, actor, output_json, error, reason FROM run_events WHERE run_id = $1 ORDER BY seq")
        .bind(run_id)
        .fetch_all(conn)
        .await?;
    rows.iter()
        .map(|r| {
            Ok(RunEvent {
                step_index: r.get(0),
                attempt: r.get(1),
                event: r.get(2),
                seq: r.get(3),
                at: from_micros(r.get(4)),
                actor: r.get(5),
                output: r.get::<Option<String>, _>(6).map(|s| serde_json::from_str(&s)).transpose().map_err(StoreError::corrupt)?,
                error: r.get(7),
                reason: r.get(8),
            })
        })
        .collect()
}

/// The run's generation: 1, plus one for each restart after an unwind.
async fn run_generation(conn: &mut sqlx::AnyConnection, run_id: &str) -> Result<i64, StoreError> {
    let row = sqlx::query("SELECT MAX(attempt) FROM run_events WHERE run_id = $1 AND step_index = -1 AND event = 'restart'")
        .bind(run_id)
        .fetch_one(conn)
        .await?;
    Ok(row.get::<Option<i64>, _>(0).unwrap_or(1))
}

/// Serialises appends to one run's log on PostgreSQL until the caller's transaction ends, so
/// steps running concurrently get distinct, ordered `seq` numbers (`MAX(seq) + 1` is read under
/// READ COMMITTED otherwise). SQLite has one writer at a time already.
async fn lock_run_log(conn: &mut sqlx::AnyConnection, run_id: &str) -> Result<(), StoreError> {
    if conn.backend_name().eq_ignore_ascii_case("postgresql") || conn.backend_name().eq_ignore_ascii_case("postgres") {
        use sha2::{Digest, Sha256};
        let d = Sha256::digest(format!("kolokasi-run-log:{run_id}").as_bytes());
        let key = i64::from_be_bytes(d[..8].try_into().expect("8 bytes"));
        sqlx::query("SELECT pg_advisory_xact_lock($1)").bind(key).execute(&mut *conn).await?;
    }
    Ok(())
}

async fn insert_event(conn: &mut sqlx::AnyConnection, run_id: &str, e: &NewRunEvent<'_>) -> Result<bool, StoreError> {
    lock_run_log(conn, run_id).await?;
    let done = sqlx::query(
        "INSERT INTO run_events (run_id, step_index, attempt, event, seq, at, actor, output_json, error, reason)
         SELECT $1, $2, $3, $4, COALESCE(MAX(seq), 0) + 1, $5, $6, $7, $8, $9 FROM run_events WHERE run_id = $1
         ON CONFLICT DO NOTHING",
    )
    .bind(run_id)
    .bind(e.step_index)
    .bind(e.attempt)
    .bind(e.event)
    .bind(micros(OffsetDateTime::now_utc()))
    .bind(e.actor)
    .bind(e.output.map(|v| v.to_string()))
    .bind(e.error)
    .bind(e.reason)
    .execute(conn)
    .await?;
    Ok(done.rows_affected() == 1)
}

impl Write {
    /// Creates the run of (request, playbook) unless it exists; returns its id.
    pub async fn create_run(&mut self, request_id: &str, playbook: &str, definition_json: &str) -> Result<String, StoreError> {
        let id = format!("{request_id}/{playbook}");
        let now = micros(OffsetDateTime::now_utc());
        sqlx::query(
            "INSERT INTO runs (id, request_id, playbook, definition_json, status, created_at, updated_at)
             VALUES ($1, $2, $3, $4, 'pending', $5, $5) ON CONFLICT DO NOTHING",
        )
        .bind(&id)
        .bind(request_id)
        .bind(playbook)
        .bind(definition_json)
        .bind(now)
        .execute(self.conn())
        .await?;
        Ok(id)
    }

    pub async fn append_run_event(&mut self, run_id: &str, e: &NewRunEvent<'_>) -> Result<bool, StoreError> {
        insert_event(self.conn(), run_id, e).await
    }

    /// The run's events as this transaction sees them (after the audit lock: no other audited
    /// write can change them, or the request, until this one ends).
    pub async fn run_events(&mut self, run_id: &str) -> Result<Vec<RunEvent>, StoreError> {
        read_events(self.conn(), run_id).await
    }

    /// Creates the run of (request, playbook), or — if it exists and was unwound — starts its
    /// next generation (a run-level `restart` event). Returns the run id.
    pub async fn create_or_restart_run(&mut self, request_id: &str, playbook: &str, definition_json: &str, actor: &str) -> Result<String, StoreError> {
        let id = format!("{request_id}/{playbook}");
        let status: Option<String> = sqlx::query("SELECT status FROM runs WHERE id = $1").bind(&id).fetch_optional(self.conn()).await?.map(|r| r.get(0));
        match status.as_deref() {
            None => self.create_run(request_id, playbook, definition_json).await,
            Some("unwound") => {
                let next = run_generation(self.conn(), &id).await? + 1;
                insert_event(self.conn(), &id, &NewRunEvent { step_index: -1, attempt: next, event: "restart", actor, output: None, error: None, reason: None }).await?;
                self.set_run_status(&id, "pending").await?;
                Ok(id)
            }
            Some(other) => Err(StoreError::Conflict(format!("run {id} is {other}; only an unwound run starts again"))),
        }
    }

    /// Asks for the run to be unwound (run-level `unwind` of its current generation); the
    /// workers carry it out. Repeating it changes nothing. False if the run does not exist.
    pub async fn request_unwind(&mut self, run_id: &str, actor: &str, reason: &str) -> Result<bool, StoreError> {
        let exists = sqlx::query("SELECT 1 FROM runs WHERE id = $1").bind(run_id).fetch_optional(self.conn()).await?.is_some();
        if !exists {
            return Ok(false);
        }
        let generation = run_generation(self.conn(), run_id).await?;
        let e = NewRunEvent { step_index: -1, attempt: generation, event: "unwind", actor, output: None, error: None, reason: Some(reason) };
        insert_event(self.conn(), run_id, &e).await?;
        self.set_run_status(run_id, "unwinding").await?;
        Ok(true)
    }

    pub async fn set_run_status(&mut self, run_id: &str, status: &str) -> Result<(), StoreError> {
        sqlx::query("UPDATE runs SET status = $1, updated_at = $2 WHERE id = $3")
            .bind(status)
            .bind(micros(OffsetDateTime::now_utc()))
            .bind(run_id)
            .execute(self.conn())
            .await?;
        Ok(())
    }
}

impl Store {
    /// Appends an event outside an audited transaction (the engine's own bookkeeping).
    pub async fn append_run_event(&self, run_id: &str, e: &NewRunEvent<'_>) -> Result<bool, StoreError> {
        if self.backend == Backend::Sqlite {
            let mut conn = self.pool.acquire().await?;
            return insert_event(&mut conn, run_id, e).await;
        }
        // The run-log lock is a transaction lock: the insert and its release commit together.
        let mut tx = self.pool.begin().await?;
        let done = insert_event(&mut tx, run_id, e).await?;
        tx.commit().await?;
        Ok(done)
    }

    pub async fn set_run_status(&self, run_id: &str, status: &str) -> Result<(), StoreError> {
        sqlx::query("UPDATE runs SET status = $1, updated_at = $2 WHERE id = $3")
            .bind(status)
            .bind(micros(OffsetDateTime::now_utc()))
            .bind(run_id)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    pub async fn run(&self, run_id: &str) -> Result<RunRow, StoreError> {
        let sql = sqlx::AssertSqlSafe(format!("SELECT {RUN_COLUMNS} FROM runs WHERE id = $1"));
        let r = sqlx::query(sql).bind(run_id).fetch_optional(&self.pool).await?.ok_or_else(|| StoreError::NotFound(format!("run {run_id}")))?;
        Ok(run_row(&r))
    }

    pub async fn runs_for_request(&self, request_id: &str) -> Result<Vec<RunRow>, StoreError> {
        let sql = sqlx::AssertSqlSafe(format!("SELECT {RUN_COLUMNS} FROM runs WHERE request_id = $1 ORDER BY created_at"));
        Ok(sqlx::query(sql).bind(request_id).fetch_all(&self.pool).await?.iter().map(run_row).collect())
    }

    pub async fn runs_with_status(&self, statuses: &[&str], limit: i64) -> Result<Vec<RunRow>, StoreError> {
        let list = statuses.iter().map(|s| format!("'{}'", s.replace('\'', ""))).collect::<Vec<_>>().join(", ");
        let sql = sqlx::AssertSqlSafe(format!("SELECT {RUN_COLUMNS} FROM runs WHERE status IN ({list}) ORDER BY created_at LIMIT $1"));
        Ok(sqlx::query(sql).bind(limit).fetch_all(&self.pool).await?.iter().map(run_row).collect())
    }

    pub async fn run_events(&self, run_id: &str) -> Result<Vec<RunEvent>, StoreError> {
        let mut conn = self.pool.acquire().await?;
        read_events(&mut conn, run_id).await
    }

    /// Claims one runnable run for `owner` until `lease_until`: pending, running or unwinding
    /// runs whose lease is free or expired (an unwind interrupted by a crash is resumed). PostgreSQL workers skip rows another worker is claiming.
    pub async fn claim_run(&self, owner: &str, lease: time::Duration) -> Result<Option<String>, StoreError> {
        let now = OffsetDateTime::now_utc();
        let sql = match self.backend {
            Backend::Postgres => {
                "UPDATE runs SET lease_owner = $1, lease_until = $2 WHERE id = (
                    SELECT id FROM runs WHERE status IN ('pending', 'running', 'unwinding') AND (lease_until IS NULL OR lease_until < $3)
                    ORDER BY created_at LIMIT 1 FOR UPDATE SKIP LOCKED) RETURNING id"
            }
            Backend::Sqlite => {
                "UPDATE runs SET lease_owner = $1, lease_until = $2 WHERE id = (
                    SELECT id FROM runs WHERE status IN ('pending', 'running', 'unwinding') AND (lease_until IS NULL OR lease_until < $3)
                    ORDER BY created_at LIMIT 1) RETURNING id"
            }
        };
        let row = sqlx::query(sql).bind(owner).bind(micros(now + lease)).bind(micros(now)).fetch_optional(&self.pool).await?;
        Ok(row.map(|r| r.get(0)))
    }

    /// Takes the lease of one run for `owner` (foreground `run start`); false if another
    /// worker holds a live lease.
    pub async fn take_lease(&self, run_id: &str, owner: &str, lease: time::Duration) -> Result<bool, StoreError> {
        let now = OffsetDateTime::now_utc();
        let done = sqlx::query(
            "UPDATE runs SET lease_owner = $1, lease_until = $2 WHERE id = $3 AND (lease_until IS NULL OR lease_until < $4 OR lease_owner = $1)",
        )
        .bind(owner)
        .bind(micros(now + lease))
        .bind(run_id)
        .bind(micros(now))
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Extends a lease; false if it was lost (expired and taken by another worker).
    pub async fn renew_lease(&self, run_id: &str, owner: &str, lease: time::Duration) -> Result<bool, StoreError> {
        let done = sqlx::query("UPDATE runs SET lease_until = $1 WHERE id = $2 AND lease_owner = $3")
            .bind(micros(OffsetDateTime::now_utc() + lease))
            .bind(run_id)
            .bind(owner)
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected() == 1)
    }

    pub async fn release_lease(&self, run_id: &str, owner: &str) -> Result<(), StoreError> {
        sqlx::query("UPDATE runs SET lease_owner = NULL, lease_until = NULL WHERE id = $1 AND lease_owner = $2")
            .bind(run_id)
            .bind(owner)
            .execute(&self.pool)
            .await?;
        Ok(())
    }
}
