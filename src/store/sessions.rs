//! The `console_sessions` table: who is signed in to the web console. The cookie's token is
//! never stored, only its SHA-256; a session ends at its expiry or at sign-out.

use sqlx::Row;
use time::OffsetDateTime;

use super::{Store, StoreError, Write, from_micros, micros, parse_enum};
use crate::lifecycle::Role;

/// One signed-in session as stored.
#[derive(Debug, Clone)]
pub struct SessionRow {
    /// Hex SHA-256 of the cookie token.
    pub token_hash: String,
    pub username: String,
    pub role: Role,
    pub unit: Option<String>,
    /// The synchronizer token every form of this session must carry.
    pub csrf_token: String,
    pub created_at: OffsetDateTime,
    pub expires_at: OffsetDateTime,
}

impl Store {
    /// The live session with this token hash, with the account's role and unit as they are now:
    /// an expired session, or one whose account was disabled or deleted since, is not returned.
    pub async fn session(&self, token_hash: &str, now: OffsetDateTime) -> Result<Option<SessionRow>, StoreError> {
        let row = sqlx::query(
            "SELECT s.token_hash, u.username, u.role, u.unit, s.csrf_token, s.created_at, s.expires_at
             FROM console_sessions s JOIN users u ON u.username = s.username
             WHERE s.token_hash = $1 AND s.expires_at > $2 AND u.disabled = 0",
        )
        .bind(token_hash)
        .bind(micros(now))
        .fetch_optional(&self.pool)
        .await?;
        row.map(|r| {
            Ok(SessionRow {
                token_hash: r.get(0),
                username: r.get(1),
                role: parse_enum(&r.get::<String, _>(2))?,
                unit: r.get(3),
                csrf_token: r.get(4),
                created_at: from_micros(r.get(5)),
                expires_at: from_micros(r.get(6)),
            })
        })
        .transpose()
    }
}

impl Write {
    /// Stores a new session; also drops every session that has expired.
    pub async fn insert_session(&mut self, s: &SessionRow) -> Result<(), StoreError> {
        sqlx::query("DELETE FROM console_sessions WHERE expires_at <= $1")
            .bind(micros(s.created_at))
            .execute(self.conn())
            .await?;
        sqlx::query(
            "INSERT INTO console_sessions (token_hash, username, role, unit, csrf_token, created_at, expires_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(&s.token_hash)
        .bind(&s.username)
        .bind(s.role.as_str())
        .bind(s.unit.as_deref())
        .bind(&s.csrf_token)
        .bind(micros(s.created_at))
        .bind(micros(s.expires_at))
        .execute(self.conn())
        .await?;
        Ok(())
    }

    /// Ends a session; true if it existed.
    pub async fn delete_session(&mut self, token_hash: &str) -> Result<bool, StoreError> {
        let r = sqlx::query("DELETE FROM console_sessions WHERE token_hash = $1")
            .bind(token_hash)
            .execute(self.conn())
            .await?;
        Ok(r.rows_affected() > 0)
    }
}
