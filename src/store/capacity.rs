//! Reservations of rack units, power, bandwidth and hosting resources held by requests.
//!
//! `rack_units` has one row per reserved U with the primary key (noc, rack, u): two approvals
//! racing for the same slot cannot both commit.

use sqlx::{AnyConnection, Row};
use time::OffsetDateTime;

use super::{Store, StoreError, Write, micros};
use crate::capacity::{HostingUsage, ReservedUnits, Usage, Verdict};
use crate::domain::{RequestForm, RequestId};

async fn usage(conn: &mut AnyConnection) -> Result<Usage, StoreError> {
    let mut usage = Usage::default();
    let rows = sqlx::query("SELECT noc, rack, from_u, to_u, power_w FROM placements WHERE status = 'reserved'").fetch_all(&mut *conn).await?;
    for r in rows {
        usage.units.push(ReservedUnits {
            noc: r.get(0),
            rack: r.get(1),
            from_u: u8::try_from(r.get::<i64, _>(2)).map_err(StoreError::corrupt)?,
            to_u: u8::try_from(r.get::<i64, _>(3)).map_err(StoreError::corrupt)?,
            power_w: r.get::<i64, _>(4) as u64,
        });
    }
    let rows = sqlx::query(
        "SELECT noc, CAST(SUM(bandwidth_mbps) AS BIGINT), CAST(SUM(cpu_cores) AS BIGINT), CAST(SUM(ram_gb) AS BIGINT), CAST(SUM(storage_gb) AS BIGINT) FROM reservations WHERE status = 'reserved' GROUP BY noc",
    )
    .fetch_all(&mut *conn)
    .await?;
    for r in rows {
        let n = |i: usize| r.get::<Option<i64>, _>(i).unwrap_or(0) as u64;
        usage.bandwidth_mbps.insert(r.get(0), n(1));
        usage.hosting = HostingUsage {
            cpu_cores: usage.hosting.cpu_cores + n(2),
            ram_gb: usage.hosting.ram_gb + n(3),
            storage_gb: usage.hosting.storage_gb + n(4),
        };
    }
    Ok(usage)
}

impl Store {
    pub async fn capacity_usage(&self) -> Result<Usage, StoreError> {
        let mut conn = self.pool.acquire().await?;
        usage(&mut conn).await
    }
}

impl Write {
    pub async fn capacity_usage(&mut self) -> Result<Usage, StoreError> {
        usage(self.conn()).await
    }

    /// Reserves what `verdict` placed. A slot taken meanwhile gives `Conflict`.
    pub async fn reserve_capacity(&mut self, id: &RequestId, form: &RequestForm, verdict: &Verdict, now: OffsetDateTime) -> Result<(), StoreError> {
        let noc = verdict.noc.clone().unwrap_or_default();
        for p in &verdict.placements {
            for u in p.from_u..=p.to_u {
                let r = sqlx::query("INSERT INTO rack_units (noc, rack, u, request_id) VALUES ($1, $2, $3, $4)")
                    .bind(&p.noc)
                    .bind(&p.rack)
                    .bind(i64::from(u))
                    .bind(id.as_str())
                    .execute(self.conn())
                    .await
                    .map_err(StoreError::from);
                match r {
                    Err(e) if e.is_unique_violation() => {
                        return Err(StoreError::Conflict(format!("{} {} U{u} was reserved by another request; check capacity again", p.noc, p.rack)));
                    }
                    other => other?,
                };
            }
            sqlx::query(
                "INSERT INTO placements (request_id, server, noc, rack, from_u, to_u, power_w, status, reserved_at)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, 'reserved', $8)",
            )
            .bind(id.as_str())
            .bind(&p.server)
            .bind(&p.noc)
            .bind(&p.rack)
            .bind(i64::from(p.from_u))
            .bind(i64::from(p.to_u))
            .bind(p.power_w as i64)
            .bind(micros(now))
            .execute(self.conn())
            .await?;
        }
        let hosting = form.kind == crate::domain::RequestKind::Hosting;
        let sum = |f: fn(&crate::domain::ServerSpec) -> u32| if hosting { form.servers.iter().map(|s| i64::from(f(s))).sum() } else { 0 };
        sqlx::query(
            "INSERT INTO reservations (request_id, noc, bandwidth_mbps, cpu_cores, ram_gb, storage_gb, status, reserved_at)
             VALUES ($1, $2, $3, $4, $5, $6, 'reserved', $7)",
        )
        .bind(id.as_str())
        .bind(noc)
        .bind(form.total_bandwidth_mbps() as i64)
        .bind(sum(|s| u32::from(s.cpu_cores)))
        .bind(sum(|s| s.ram_gb))
        .bind(sum(|s| s.storage_gb))
        .bind(micros(now))
        .execute(self.conn())
        .await?;
        Ok(())
    }

    /// Releases everything the request holds; the placement rows stay as history.
    pub async fn release_capacity(&mut self, id: &RequestId, now: OffsetDateTime) -> Result<(), StoreError> {
        sqlx::query("DELETE FROM rack_units WHERE request_id = $1").bind(id.as_str()).execute(self.conn()).await?;
        for table in ["placements", "reservations"] {
            let sql = sqlx::AssertSqlSafe(format!("UPDATE {table} SET status = 'released', released_at = $1 WHERE request_id = $2 AND status = 'reserved'"));
            sqlx::query(sql).bind(micros(now)).bind(id.as_str()).execute(self.conn()).await?;
        }
        Ok(())
    }
}
