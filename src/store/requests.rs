//! The `requests` and `request_events` tables: the request record and its state history.

use serde::Serialize;
use sqlx::{AnyConnection, Row};
use time::OffsetDateTime;

use super::{Store, StoreError, Write, from_micros, micros, parse_enum};
use crate::capacity::Verdict;
use crate::domain::{Approval, HardwareReceipt, RequestForm, RequestId, RequestKind, Revocation};
use crate::lifecycle::{EventKind, State};

/// A request as stored.
#[derive(Debug, Clone)]
pub struct RequestRow {
    pub id: RequestId,
    pub state: State,
    pub submitted_at: OffsetDateTime,
    pub updated_at: OffsetDateTime,
    pub sla_due_at: Option<OffsetDateTime>,
    pub form: RequestForm,
    pub approval: Option<Approval>,
    pub hardware: Option<HardwareReceipt>,
    pub revocation: Option<Revocation>,
    pub capacity: Option<Verdict>,
    pub version: i64,
}

/// One line of a request list.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct RequestSummary {
    pub id: String,
    pub kind: RequestKind,
    pub state: State,
    pub unit: String,
    pub domain: String,
    #[serde(with = "time::serde::rfc3339")]
    pub submitted_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339::option")]
    pub sla_due_at: Option<OffsetDateTime>,
}

/// One transition in a request's history.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct EventRecord {
    pub seq: i64,
    pub event: String,
    pub from_state: State,
    pub to_state: State,
    pub actor: String,
    pub role: String,
    #[serde(with = "time::serde::rfc3339")]
    pub at: OffsetDateTime,
    pub reason: Option<String>,
}

#[derive(Debug, Clone, Default)]
pub struct ListFilter {
    pub state: Option<State>,
    pub unit: Option<String>,
    pub kind: Option<RequestKind>,
    /// Only requests whose SLA due time is before this instant.
    pub due_before: Option<OffsetDateTime>,
    /// Keyset pagination: ids after this one.
    pub after: Option<String>,
    pub limit: i64,
}

pub(super) const FULL: &str = "id, state, submitted_at, updated_at, sla_due_at, form_json, approval_json, hardware_json, revocation_json, capacity_json, version";

fn json<T: serde::de::DeserializeOwned>(v: Option<String>) -> Result<Option<T>, StoreError> {
    v.map(|s| serde_json::from_str(&s).map_err(StoreError::corrupt)).transpose()
}

fn to_json<T: Serialize>(v: &Option<T>) -> Option<String> {
    v.as_ref().map(|x| serde_json::to_string(x).expect("serialisable"))
}

pub(super) fn row(r: &sqlx::any::AnyRow) -> Result<RequestRow, StoreError> {
    Ok(RequestRow {
        id: RequestId::parse(&r.get::<String, _>(0)).map_err(StoreError::corrupt)?,
        state: parse_enum(&r.get::<String, _>(1))?,
        submitted_at: from_micros(r.get(2)),
        updated_at: from_micros(r.get(3)),
        sla_due_at: r.get::<Option<i64>, _>(4).map(from_micros),
        form: serde_json::from_str(&r.get::<String, _>(5)).map_err(StoreError::corrupt)?,
        approval: json(r.get(6))?,
        hardware: json(r.get(7))?,
        revocation: json(r.get(8))?,
        capacity: json(r.get(9))?,
        version: r.get(10),
    })
}

impl Write {
    /// Inserts a new request in state `Submitted` and returns its number.
    pub async fn insert_request(&mut self, form: &RequestForm, now: OffsetDateTime, due: Option<OffsetDateTime>) -> Result<RequestId, StoreError> {
        let year = now.to_offset(crate::lifecycle::sla::WITA).year();
        let counter = format!("request-{year}");
        let seq: i64 = sqlx::query(
            "INSERT INTO counters (name, value) VALUES ($1, 1)
             ON CONFLICT (name) DO UPDATE SET value = counters.value + 1 RETURNING value",
        )
        .bind(&counter)
        .fetch_one(self.conn())
        .await?
        .get(0);
        let id = RequestId::new(year, seq);
        sqlx::query(
            "INSERT INTO requests (id, kind, state, unit_name, domain, official_nip, submitted_at, updated_at, sla_due_at, form_json, version)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $7, $8, $9, 1)",
        )
        .bind(id.as_str())
        .bind(form.kind.as_str())
        .bind(State::Submitted.as_str())
        .bind(form.unit.name.as_str())
        .bind(form.domain.as_str())
        .bind(form.official.nip.as_str())
        .bind(micros(now))
        .bind(due.map(micros))
        .bind(serde_json::to_string(form).expect("serialisable"))
        .execute(self.conn())
        .await?;
        Ok(id)
    }

    pub async fn load_request(&mut self, id: &RequestId) -> Result<RequestRow, StoreError> {
        load(self.conn(), id).await
    }

    /// Saves a changed request; fails with `Conflict` if someone else changed it meanwhile.
    pub async fn save_request(&mut self, r: &RequestRow) -> Result<(), StoreError> {
        let done = sqlx::query(
            "UPDATE requests SET state = $1, updated_at = $2, sla_due_at = $3, form_json = $4, approval_json = $5,
                hardware_json = $6, revocation_json = $7, capacity_json = $8, unit_name = $9, domain = $10,
                official_nip = $11, version = version + 1
             WHERE id = $12 AND version = $13",
        )
        .bind(r.state.as_str())
        .bind(micros(r.updated_at))
        .bind(r.sla_due_at.map(micros))
        .bind(serde_json::to_string(&r.form).expect("serialisable"))
        .bind(to_json(&r.approval))
        .bind(to_json(&r.hardware))
        .bind(to_json(&r.revocation))
        .bind(to_json(&r.capacity))
        .bind(r.form.unit.name.as_str())
        .bind(r.form.domain.as_str())
        .bind(r.form.official.nip.as_str())
        .bind(r.id.as_str())
        .bind(r.version)
        .execute(self.conn())
        .await?;
        if done.rows_affected() != 1 {
            return Err(StoreError::Conflict(format!("request {} was changed by someone else; reload and try again", r.id)));
        }
        Ok(())
    }

    #[allow(clippy::too_many_arguments)]
    pub async fn add_event(
        &mut self,
        id: &RequestId,
        event: EventKind,
        from: State,
        to: State,
        actor: &crate::lifecycle::Actor,
        at: OffsetDateTime,
        reason: Option<&str>,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO request_events (request_id, seq, event, from_state, to_state, actor, role, at, reason)
             SELECT $1, COALESCE(MAX(seq), 0) + 1, $2, $3, $4, $5, $6, $7, $8 FROM request_events WHERE request_id = $1",
        )
        .bind(id.as_str())
        .bind(event.as_str())
        .bind(from.as_str())
        .bind(to.as_str())
        .bind(&actor.name)
        .bind(actor.role.as_str())
        .bind(micros(at))
        .bind(reason)
        .execute(self.conn())
        .await?;
        Ok(())
    }

    pub async fn events(&mut self, id: &RequestId) -> Result<Vec<EventRecord>, StoreError> {
        events(self.conn(), id).await
    }
}

async fn load(conn: &mut AnyConnection, id: &RequestId) -> Result<RequestRow, StoreError> {
    let sql = sqlx::AssertSqlSafe(format!("SELECT {FULL} FROM requests WHERE id = $1"));
    let r = sqlx::query(sql)
        .bind(id.as_str())
        .fetch_optional(conn)
        .await?
        .ok_or_else(|| StoreError::NotFound(format!("request {id}")))?;
    row(&r)
}

async fn events(conn: &mut AnyConnection, id: &RequestId) -> Result<Vec<EventRecord>, StoreError> {
    let rows = sqlx::query(
        "SELECT seq, event, from_state, to_state, actor, role, at, reason FROM request_events WHERE request_id = $1 ORDER BY seq",
    )
    .bind(id.as_str())
    .fetch_all(conn)
    .await?;
    rows.iter()
        .map(|r| {
            Ok(EventRecord {
                seq: r.get(0),
                event: r.get(1),
                from_state: parse_enum(&r.get::<String, _>(2))?,
                to_state: parse_enum(&r.get::<String, _>(3))?,
                actor: r.get(4),
                role: r.get(5),
                at: from_micros(r.get(6)),
                reason: r.get(7),
            })
        })
        .collect()
}

impl Store {
    pub async fn request(&self, id: &RequestId) -> Result<RequestRow, StoreError> {
        let mut conn = self.pool.acquire().await?;
        load(&mut conn, id).await
    }

    pub async fn request_events(&self, id: &RequestId) -> Result<Vec<EventRecord>, StoreError> {
        let mut conn = self.pool.acquire().await?;
        events(&mut conn, id).await
    }

    /// Lists requests by id with optional filters; one query, keyset-paginated.
    pub async fn list_requests(&self, f: &ListFilter) -> Result<Vec<RequestSummary>, StoreError> {
        // Placeholders are numbered here ($1, $2, …), which both SQLite and PostgreSQL accept;
        // only fixed SQL fragments are appended, every value is bound.
        enum Bind {
            Text(String),
            Int(i64),
        }
        let mut sql = String::from("SELECT id, kind, state, unit_name, domain, submitted_at, sla_due_at FROM requests WHERE 1 = 1");
        let mut binds = Vec::new();
        let mut push = |sql: &mut String, clause: &str, b: Bind| {
            binds.push(b);
            sql.push_str(&clause.replace('?', &format!("${}", binds.len())));
        };
        if let Some(s) = f.state {
            push(&mut sql, " AND state = ?", Bind::Text(s.as_str().into()));
        }
        if let Some(u) = &f.unit {
            push(&mut sql, " AND unit_name = ?", Bind::Text(u.clone()));
        }
        if let Some(k) = f.kind {
            push(&mut sql, " AND kind = ?", Bind::Text(k.as_str().into()));
        }
        if let Some(t) = f.due_before {
            push(&mut sql, " AND sla_due_at IS NOT NULL AND sla_due_at < ?", Bind::Int(micros(t)));
        }
        if let Some(a) = &f.after {
            push(&mut sql, " AND id > ?", Bind::Text(a.clone()));
        }
        push(&mut sql, " ORDER BY id LIMIT ?", Bind::Int(f.limit.clamp(1, 1000)));
        let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
        for b in binds {
            q = match b {
                Bind::Text(t) => q.bind(t),
                Bind::Int(i) => q.bind(i),
            };
        }
        let rows = q.fetch_all(&self.pool).await?;
        rows.iter()
            .map(|r| {
                Ok(RequestSummary {
                    id: r.get(0),
                    kind: RequestKind::parse(&r.get::<String, _>(1)).ok_or_else(|| StoreError::Corrupt("kind".into()))?,
                    state: parse_enum(&r.get::<String, _>(2))?,
                    unit: r.get(3),
                    domain: r.get(4),
                    submitted_at: from_micros(r.get(5)),
                    sla_due_at: r.get::<Option<i64>, _>(6).map(from_micros),
                })
            })
            .collect()
    }
}
