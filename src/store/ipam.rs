//! IP pools, the free-range table and allocations.
//!
//! `ip_free` holds each pool's free offsets as inclusive ranges: the next free address is the
//! lowest range's first offset (one index lookup), taken with a guarded UPDATE that only one
//! transaction can win. Two partial unique indexes back it up: one active holder per address,
//! one active address per (request, purpose).

use sqlx::{AnyConnection, Row};
use time::OffsetDateTime;

use super::{Store, StoreError, Write, from_micros, micros};
use crate::ipam::{Allocation, PoolSpec};
use crate::lifecycle::Actor;

/// A row of the allocation history.
#[derive(Debug, Clone, serde::Serialize)]
pub struct AllocationRecord {
    pub pool: String,
    pub address: String,
    pub request_id: String,
    pub purpose: String,
    #[serde(with = "time::serde::rfc3339")]
    pub allocated_at: OffsetDateTime,
    pub allocated_by: String,
    #[serde(with = "time::serde::rfc3339::option")]
    pub released_at: Option<OffsetDateTime>,
    pub released_by: Option<String>,
}

#[derive(Debug, Clone, serde::Serialize)]
pub struct PoolUsage {
    pub spec: PoolSpec,
    pub used: i64,
    pub free: i64,
}

async fn pool_spec(conn: &mut AnyConnection, name: &str) -> Result<PoolSpec, StoreError> {
    let row = sqlx::query("SELECT spec_json FROM ip_pools WHERE name = $1")
        .bind(name)
        .fetch_optional(conn)
        .await?
        .ok_or_else(|| StoreError::NotFound(format!("IP pool {name}")))?;
    serde_json::from_str(&row.get::<String, _>(0)).map_err(StoreError::corrupt)
}

fn allocation(spec: &PoolSpec, address: &str, request_id: &str, purpose: &str) -> Result<Allocation, StoreError> {
    Ok(Allocation {
        pool: spec.name.clone(),
        address: address.parse().map_err(StoreError::corrupt)?,
        prefix_len: spec.cidr.prefix_len(),
        gateway: spec.gateway,
        vlan: spec.vlan,
        request_id: request_id.to_string(),
        purpose: purpose.to_string(),
    })
}

impl Write {
    /// Creates a pool and its free ranges. An existing pool with the same name is a conflict.
    pub async fn create_pool(&mut self, spec: &PoolSpec, now: OffsetDateTime) -> Result<(), StoreError> {
        let r = sqlx::query("INSERT INTO ip_pools (name, noc, vlan, family, cidr, spec_json, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7)")
            .bind(&spec.name)
            .bind(&spec.noc)
            .bind(i64::from(spec.vlan.get()))
            .bind(i64::from(spec.family()))
            .bind(spec.cidr.to_string())
            .bind(serde_json::to_string(spec).expect("serialisable"))
            .bind(micros(now))
            .execute(self.conn())
            .await
            .map_err(StoreError::from);
        match r {
            Err(e) if e.is_unique_violation() => return Err(StoreError::Conflict(format!("IP pool {} already exists", spec.name))),
            other => other?,
        };
        for (a, b) in spec.free_ranges() {
            sqlx::query("INSERT INTO ip_free (pool, from_off, to_off) VALUES ($1, $2, $3)")
                .bind(&spec.name)
                .bind(a)
                .bind(b)
                .execute(self.conn())
                .await?;
        }
        Ok(())
    }

    /// The active allocation of (request, purpose), if any.
    pub async fn find_allocation(&mut self, request_id: &str, purpose: &str) -> Result<Option<Allocation>, StoreError> {
        let row = sqlx::query("SELECT pool, address FROM ip_allocations WHERE request_id = $1 AND purpose = $2 AND released_at IS NULL")
            .bind(request_id)
            .bind(purpose)
            .fetch_optional(self.conn())
            .await?;
        match row {
            None => Ok(None),
            Some(r) => {
                let spec = pool_spec(self.conn(), &r.get::<String, _>(0)).await?;
                Ok(Some(allocation(&spec, &r.get::<String, _>(1), request_id, purpose)?))
            }
        }
    }

    /// Allocates the lowest free address of `pool` to (request, purpose), or returns the one it
    /// already holds. `Ok(None)` means the pool is full.
    pub async fn allocate(&mut self, pool: &str, request_id: &str, purpose: &str, actor: &Actor, now: OffsetDateTime) -> Result<Option<(Allocation, bool)>, StoreError> {
        if let Some(existing) = self.find_allocation(request_id, purpose).await? {
            return Ok(Some((existing, false)));
        }
        let spec = pool_spec(self.conn(), pool).await?;
        for _ in 0..32 {
            let Some(r) = sqlx::query("SELECT from_off, to_off FROM ip_free WHERE pool = $1 ORDER BY from_off LIMIT 1")
                .bind(pool)
                .fetch_optional(self.conn())
                .await?
            else {
                return Ok(None);
            };
            let (from, to): (i64, i64) = (r.get(0), r.get(1));
            let taken = if from == to {
                sqlx::query("DELETE FROM ip_free WHERE pool = $1 AND from_off = $2 AND to_off = $3")
            } else {
                sqlx::query("UPDATE ip_free SET from_off = from_off + 1 WHERE pool = $1 AND from_off = $2 AND to_off = $3")
            }
            .bind(pool)
            .bind(from)
            .bind(to)
            .execute(self.conn())
            .await?
            .rows_affected();
            if taken != 1 {
                continue; // another transaction took this offset first; look again
            }
            let address = spec.address_at(from).to_string();
            sqlx::query(
                "INSERT INTO ip_allocations (id, pool, off, address, request_id, purpose, allocated_at, allocated_by)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
            )
            .bind(format!("{pool}/{from}/{}", micros(now)))
            .bind(pool)
            .bind(from)
            .bind(&address)
            .bind(request_id)
            .bind(purpose)
            .bind(micros(now))
            .bind(&actor.name)
            .execute(self.conn())
            .await?;
            return Ok(Some((allocation(&spec, &address, request_id, purpose)?, true)));
        }
        Err(StoreError::Busy(format!("IP pool {pool} is too busy; try again")))
    }

    /// Releases the active allocation of (request, purpose); returns what was released. The
    /// history row stays with who released it and when.
    pub async fn release(&mut self, request_id: &str, purpose: &str, actor: &Actor, now: OffsetDateTime) -> Result<Option<Allocation>, StoreError> {
        let Some(row) = sqlx::query("SELECT pool, off, address FROM ip_allocations WHERE request_id = $1 AND purpose = $2 AND released_at IS NULL")
            .bind(request_id)
            .bind(purpose)
            .fetch_optional(self.conn())
            .await?
        else {
            return Ok(None);
        };
        let (pool, off, address): (String, i64, String) = (row.get(0), row.get(1), row.get(2));
        sqlx::query("UPDATE ip_allocations SET released_at = $1, released_by = $2 WHERE request_id = $3 AND purpose = $4 AND released_at IS NULL")
            .bind(micros(now))
            .bind(&actor.name)
            .bind(request_id)
            .bind(purpose)
            .execute(self.conn())
            .await?;
        self.free_offset(&pool, off).await?;
        let spec = pool_spec(self.conn(), &pool).await?;
        Ok(Some(allocation(&spec, &address, request_id, purpose)?))
    }

    /// Puts one offset back into the free ranges, merging with its neighbours.
    async fn free_offset(&mut self, pool: &str, off: i64) -> Result<(), StoreError> {
        let left = sqlx::query("SELECT from_off FROM ip_free WHERE pool = $1 AND to_off = $2").bind(pool).bind(off - 1).fetch_optional(self.conn()).await?;
        let right = sqlx::query("SELECT to_off FROM ip_free WHERE pool = $1 AND from_off = $2").bind(pool).bind(off + 1).fetch_optional(self.conn()).await?;
        let (from, to) = (left.map_or(off, |r| r.get::<i64, _>(0)), right.map_or(off, |r| r.get::<i64, _>(0)));
        if from != off {
            sqlx::query("DELETE FROM ip_free WHERE pool = $1 AND from_off = $2").bind(pool).bind(from).execute(self.conn()).await?;
        }
        if to != off {
            sqlx::query("DELETE FROM ip_free WHERE pool = $1 AND from_off = $2").bind(pool).bind(off + 1).execute(self.conn()).await?;
        }
        sqlx::query("INSERT INTO ip_free (pool, from_off, to_off) VALUES ($1, $2, $3)").bind(pool).bind(from).bind(to).execute(self.conn()).await?;
        Ok(())
    }
}

impl Store {
    pub async fn pools(&self) -> Result<Vec<PoolUsage>, StoreError> {
        let rows = sqlx::query(
            "SELECT p.spec_json,
                    (SELECT COUNT(*) FROM ip_allocations a WHERE a.pool = p.name AND a.released_at IS NULL),
                    (SELECT CAST(COALESCE(SUM(f.to_off - f.from_off + 1), 0) AS BIGINT) FROM ip_free f WHERE f.pool = p.name)
             FROM ip_pools p ORDER BY p.name",
        )
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(PoolUsage { spec: serde_json::from_str(&r.get::<String, _>(0)).map_err(StoreError::corrupt)?, used: r.get(1), free: r.get(2) })
            })
            .collect()
    }

    pub async fn pool_exists(&self, name: &str) -> Result<bool, StoreError> {
        Ok(sqlx::query("SELECT 1 FROM ip_pools WHERE name = $1").bind(name).fetch_optional(&self.pool).await?.is_some())
    }

    /// Allocation history, newest first; for one request or one pool.
    pub async fn allocations(&self, request_id: Option<&str>, pool: Option<&str>, limit: i64) -> Result<Vec<AllocationRecord>, StoreError> {
        let rows = sqlx::query(
            "SELECT pool, address, request_id, purpose, allocated_at, allocated_by, released_at, released_by FROM ip_allocations
             WHERE (CAST($1 AS TEXT) IS NULL OR request_id = $1) AND (CAST($2 AS TEXT) IS NULL OR pool = $2)
             ORDER BY allocated_at DESC LIMIT $3",
        )
        .bind(request_id)
        .bind(pool)
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows
            .iter()
            .map(|r| AllocationRecord {
                pool: r.get(0),
                address: r.get(1),
                request_id: r.get(2),
                purpose: r.get(3),
                allocated_at: from_micros(r.get(4)),
                allocated_by: r.get(5),
                released_at: r.get::<Option<i64>, _>(6).map(from_micros),
                released_by: r.get(7),
            })
            .collect())
    }
}
