//! The sealed secret store: one row per named secret (device credentials, TSIG and API keys).
//!
//! Holds only ciphertext (`Sealed`, bound to `secret/<name>`); sealing, opening and auditing
//! belong to the service layer. Nothing here returns a value in clear.

use serde::Serialize;
use sqlx::{AnyConnection, Row};
use time::OffsetDateTime;

use super::{Store, StoreError, Write, from_micros, micros, parse_enum};
use crate::secrets::{Sealed, SecretKind, SecretName};

/// What `kolokasi secret list` shows: never the value, not even sealed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SecretRecord {
    pub name: String,
    pub kind: SecretKind,
    #[serde(with = "time::serde::rfc3339")]
    pub updated_at: OffsetDateTime,
    pub updated_by: String,
}

fn record(r: &sqlx::any::AnyRow) -> Result<SecretRecord, StoreError> {
    Ok(SecretRecord { name: r.get(0), kind: parse_enum(&r.get::<String, _>(1))?, updated_at: from_micros(r.get(2)), updated_by: r.get(3) })
}

async fn sealed(conn: &mut AnyConnection, name: &SecretName) -> Result<Option<(SecretRecord, Sealed)>, StoreError> {
    let row = sqlx::query("SELECT name, kind, updated_at, updated_by, sealed FROM secrets WHERE name = $1")
        .bind(name.as_str())
        .fetch_optional(&mut *conn)
        .await?;
    row.map(|r| Ok((record(&r)?, Sealed::from_stored(r.get(4))))).transpose()
}

impl Store {
    /// All secrets' names and kinds, by name.
    pub async fn secrets(&self) -> Result<Vec<SecretRecord>, StoreError> {
        let rows = sqlx::query("SELECT name, kind, updated_at, updated_by FROM secrets ORDER BY name").fetch_all(&self.pool).await?;
        rows.iter().map(record).collect()
    }

    /// One secret, still sealed.
    pub async fn sealed_secret(&self, name: &SecretName) -> Result<Option<(SecretRecord, Sealed)>, StoreError> {
        let mut conn = self.pool.acquire().await?;
        sealed(&mut conn, name).await
    }
}

impl Write {
    pub async fn sealed_secret(&mut self, name: &SecretName) -> Result<Option<(SecretRecord, Sealed)>, StoreError> {
        sealed(self.conn(), name).await
    }

    /// Creates or replaces a secret.
    pub async fn put_secret(&mut self, name: &SecretName, kind: SecretKind, value: &Sealed, by: &str, now: OffsetDateTime) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO secrets (name, kind, sealed, updated_at, updated_by) VALUES ($1, $2, $3, $4, $5)
             ON CONFLICT (name) DO UPDATE SET kind = excluded.kind, sealed = excluded.sealed, updated_at = excluded.updated_at, updated_by = excluded.updated_by",
        )
        .bind(name.as_str())
        .bind(kind.as_str())
        .bind(value.as_stored())
        .bind(micros(now))
        .bind(by)
        .execute(self.conn())
        .await?;
        Ok(())
    }
}
