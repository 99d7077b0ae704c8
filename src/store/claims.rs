//! Ownership of names and records: the `domain_claims`, `name_allowances`, `record_adoptions`
//! and `dns_record_owners` tables.
//!
//! A name (a request's domain, a CNAME it declares, a hosting Ingress host) is claimed by at
//! most one active request: the partial unique index `domain_claims_active` holds one open row
//! per name on SQLite and PostgreSQL alike, so two submissions racing for one name cannot both
//! win. Claims are closed in the transaction that moves the request to a final state.
//!
//! `dns_record_owners` says which request wrote which values into an rrset (per provider): a
//! DNS step expects exactly those values before it changes or deletes the rrset, so a record
//! someone else made or changed since is never overwritten.

use sqlx::Row;
use time::OffsetDateTime;

use super::{Store, StoreError, Write, micros};

/// Why a request claims a name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClaimSource {
    /// The request's own domain (also a hosting request's Ingress host).
    Domain,
    /// An alias the request's playbook declares (`www.…`).
    Cname,
}

impl ClaimSource {
    fn as_str(self) -> &'static str {
        match self {
            Self::Domain => "domain",
            Self::Cname => "cname",
        }
    }
}

/// The rrset values a request last wrote (what it expects to find before changing them).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordOwner {
    pub request_id: String,
    pub values: Vec<String>,
}

async fn holder(conn: &mut sqlx::AnyConnection, name: &str) -> Result<Option<String>, StoreError> {
    Ok(sqlx::query("SELECT request_id FROM domain_claims WHERE name = $1 AND released_at IS NULL")
        .bind(name)
        .fetch_optional(conn)
        .await?
        .map(|r| r.get(0)))
}

/// Claims `name` for `request_id` unless it already holds it; another holder is `Claimed`.
/// `ON CONFLICT DO NOTHING` lets the unique index decide a race without aborting the
/// transaction (PostgreSQL would abort it on a plain unique violation).
async fn claim(conn: &mut sqlx::AnyConnection, request_id: &str, name: &str, source: ClaimSource, now: OffsetDateTime) -> Result<(), StoreError> {
    let inserted = sqlx::query(
        "INSERT INTO domain_claims (name, request_id, source, claimed_at, released_at) VALUES ($1, $2, $3, $4, NULL) ON CONFLICT DO NOTHING",
    )
    .bind(name)
    .bind(request_id)
    .bind(source.as_str())
    .bind(micros(now))
    .execute(&mut *conn)
    .await?
    .rows_affected();
    if inserted == 1 {
        return Ok(());
    }
    match holder(conn, name).await? {
        Some(h) if h == request_id => Ok(()),
        Some(h) => Err(StoreError::Claimed { name: name.to_string(), holder: h }),
        // Released between the insert and the read: the caller may simply try again.
        None => Err(StoreError::Busy(format!("the claim on {name} changed meanwhile; try again"))),
    }
}

impl Write {
    /// Claims every name for `request_id` (all or nothing: the transaction rolls back on the
    /// first name another request holds).
    pub async fn claim_names(&mut self, request_id: &str, names: &[(String, ClaimSource)], now: OffsetDateTime) -> Result<(), StoreError> {
        for (name, source) in names {
            claim(self.conn(), request_id, name, *source, now).await?;
        }
        Ok(())
    }

    /// Closes the request's claims and forgets what it owns in DNS (a final state).
    pub async fn release_claims(&mut self, request_id: &str, now: OffsetDateTime) -> Result<(), StoreError> {
        sqlx::query("UPDATE domain_claims SET released_at = $1 WHERE request_id = $2 AND released_at IS NULL")
            .bind(micros(now))
            .bind(request_id)
            .execute(self.conn())
            .await?;
        sqlx::query("DELETE FROM dns_record_owners WHERE request_id = $1").bind(request_id).execute(self.conn()).await?;
        Ok(())
    }

    /// The request's names now: claims no longer named are closed, new ones taken.
    pub async fn replace_claims(&mut self, request_id: &str, names: &[(String, ClaimSource)], now: OffsetDateTime) -> Result<(), StoreError> {
        let held = active_claims(self.conn(), request_id).await?;
        for old in held.iter().filter(|h| !names.iter().any(|(n, _)| n == *h)) {
            sqlx::query("UPDATE domain_claims SET released_at = $1 WHERE request_id = $2 AND name = $3 AND released_at IS NULL")
                .bind(micros(now))
                .bind(request_id)
                .bind(old)
                .execute(self.conn())
                .await?;
        }
        self.claim_names(request_id, names, now).await
    }

    pub async fn request_claims(&mut self, request_id: &str) -> Result<Vec<String>, StoreError> {
        active_claims(self.conn(), request_id).await
    }

    pub async fn name_holder(&mut self, name: &str) -> Result<Option<String>, StoreError> {
        holder(self.conn(), name).await
    }

    /// Records an admin's leave for `name` (a zone apex or a name outside the zones).
    pub async fn allow_name(&mut self, request_id: &str, name: &str, by: &str, reason: &str, now: OffsetDateTime) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO name_allowances (request_id, name, allowed_by, reason, allowed_at) VALUES ($1, $2, $3, $4, $5)
             ON CONFLICT (request_id, name) DO UPDATE SET allowed_by = excluded.allowed_by, reason = excluded.reason, allowed_at = excluded.allowed_at",
        )
        .bind(request_id)
        .bind(name)
        .bind(by)
        .bind(reason)
        .bind(micros(now))
        .execute(self.conn())
        .await?;
        Ok(())
    }

    pub async fn allowed_names(&mut self, request_id: &str) -> Result<Vec<String>, StoreError> {
        allowed(self.conn(), request_id).await
    }

    /// Lets `request_id`'s DNS step take the rrset (name, kind) as it then finds it.
    pub async fn adopt_record(&mut self, request_id: &str, name: &str, kind: &str, by: &str, reason: &str, now: OffsetDateTime) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO record_adoptions (request_id, name, kind, adopted_by, reason, adopted_at, used_at) VALUES ($1, $2, $3, $4, $5, $6, NULL)
             ON CONFLICT (request_id, name, kind) DO UPDATE SET adopted_by = excluded.adopted_by, reason = excluded.reason,
                adopted_at = excluded.adopted_at, used_at = NULL",
        )
        .bind(request_id)
        .bind(name)
        .bind(kind)
        .bind(by)
        .bind(reason)
        .bind(micros(now))
        .execute(self.conn())
        .await?;
        Ok(())
    }
}

async fn active_claims(conn: &mut sqlx::AnyConnection, request_id: &str) -> Result<Vec<String>, StoreError> {
    let rows = sqlx::query("SELECT name FROM domain_claims WHERE request_id = $1 AND released_at IS NULL ORDER BY name")
        .bind(request_id)
        .fetch_all(conn)
        .await?;
    Ok(rows.iter().map(|r| r.get(0)).collect())
}

async fn allowed(conn: &mut sqlx::AnyConnection, request_id: &str) -> Result<Vec<String>, StoreError> {
    let rows = sqlx::query("SELECT name FROM name_allowances WHERE request_id = $1 ORDER BY name").bind(request_id).fetch_all(conn).await?;
    Ok(rows.iter().map(|r| r.get(0)).collect())
}

impl Store {
    /// The request holding `name` now, if any.
    pub async fn name_holder(&self, name: &str) -> Result<Option<String>, StoreError> {
        holder(&mut *self.pool.acquire().await?, name).await
    }

    /// Claims `name` at run time (names a playbook declares that the submission could not
    /// know); the same unique index decides.
    pub async fn claim_name(&self, request_id: &str, name: &str, source: ClaimSource) -> Result<(), StoreError> {
        claim(&mut *self.pool.acquire().await?, request_id, name, source, OffsetDateTime::now_utc()).await
    }

    pub async fn name_allowed(&self, request_id: &str, name: &str) -> Result<bool, StoreError> {
        Ok(allowed(&mut *self.pool.acquire().await?, request_id).await?.iter().any(|n| n == name))
    }

    /// Whether an adoption of (name, kind) for the request waits to be used.
    pub async fn pending_adoption(&self, request_id: &str, name: &str, kind: &str) -> Result<bool, StoreError> {
        let row = sqlx::query("SELECT 1 FROM record_adoptions WHERE request_id = $1 AND name = $2 AND kind = $3 AND used_at IS NULL")
            .bind(request_id)
            .bind(name)
            .bind(kind)
            .fetch_optional(&self.pool)
            .await?;
        Ok(row.is_some())
    }

    pub async fn adoption_used(&self, request_id: &str, name: &str, kind: &str) -> Result<(), StoreError> {
        sqlx::query("UPDATE record_adoptions SET used_at = $1 WHERE request_id = $2 AND name = $3 AND kind = $4 AND used_at IS NULL")
            .bind(micros(OffsetDateTime::now_utc()))
            .bind(request_id)
            .bind(name)
            .bind(kind)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    pub async fn record_owner(&self, provider: &str, name: &str, kind: &str) -> Result<Option<RecordOwner>, StoreError> {
        let row = sqlx::query("SELECT request_id, values_json FROM dns_record_owners WHERE provider = $1 AND name = $2 AND kind = $3")
            .bind(provider)
            .bind(name)
            .bind(kind)
            .fetch_optional(&self.pool)
            .await?;
        row.map(|r| {
            let values: Vec<String> = serde_json::from_str(&r.get::<String, _>(1)).map_err(StoreError::corrupt)?;
            Ok(RecordOwner { request_id: r.get(0), values })
        })
        .transpose()
    }

    /// Records that `request_id` wrote `values` into the rrset. Another request's row stays
    /// and is a `Conflict`.
    pub async fn set_record_owner(&self, provider: &str, name: &str, kind: &str, request_id: &str, values: &[String]) -> Result<(), StoreError> {
        let done = sqlx::query(
            "INSERT INTO dns_record_owners (provider, name, kind, request_id, values_json, updated_at) VALUES ($1, $2, $3, $4, $5, $6)
             ON CONFLICT (provider, name, kind) DO UPDATE SET values_json = excluded.values_json, updated_at = excluded.updated_at
             WHERE dns_record_owners.request_id = excluded.request_id",
        )
        .bind(provider)
        .bind(name)
        .bind(kind)
        .bind(request_id)
        .bind(serde_json::to_string(values).expect("serialisable"))
        .bind(micros(OffsetDateTime::now_utc()))
        .execute(&self.pool)
        .await?
        .rows_affected();
        if done == 1 { Ok(()) } else { Err(StoreError::Conflict(format!("{name} {kind} via {provider} is owned by another request"))) }
    }

    pub async fn drop_record_owner(&self, provider: &str, name: &str, kind: &str, request_id: &str) -> Result<(), StoreError> {
        sqlx::query("DELETE FROM dns_record_owners WHERE provider = $1 AND name = $2 AND kind = $3 AND request_id = $4")
            .bind(provider)
            .bind(name)
            .bind(kind)
            .bind(request_id)
            .execute(&self.pool)
            .await?;
        Ok(())
    }
}
