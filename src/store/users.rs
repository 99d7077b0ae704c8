//! People who sign in and their API tokens. Holds only hashes (argon2id for passwords, SHA-256
//! for tokens); who may change what is decided in the service layer.

use serde::Serialize;
use sqlx::{AnyConnection, Row};
use time::OffsetDateTime;

use super::{Store, StoreError, Write, from_micros, micros, parse_enum};
use crate::lifecycle::Role;

/// A user as stored, without the password hash.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct UserRecord {
    pub username: String,
    pub display_name: String,
    pub role: Role,
    pub unit: Option<String>,
    pub disabled: bool,
    pub has_password: bool,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    pub created_by: String,
    /// Who vouches for the person: kolokasi's own password (or tokens), or the office directory.
    pub source: UserSource,
}

/// Where a user's sign-in is checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum UserSource {
    /// A local account: argon2id password hash or API tokens only.
    Local,
    /// Signed in through the office directory (LDAP); no local password hash.
    Directory,
}

impl UserSource {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Local => "local",
            Self::Directory => "directory",
        }
    }
}

/// An API token as stored and listed: never the token, not even its hash.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TokenRecord {
    pub id: String,
    pub username: String,
    pub read_only: bool,
    #[serde(with = "time::serde::rfc3339")]
    pub expires_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    pub created_by: String,
    #[serde(with = "time::serde::rfc3339::option")]
    pub revoked_at: Option<OffsetDateTime>,
    #[serde(with = "time::serde::rfc3339::option")]
    pub last_used_at: Option<OffsetDateTime>,
}

/// What a token lookup finds: the token and its owner.
#[derive(Debug, Clone)]
pub struct TokenOwner {
    pub token: TokenRecord,
    pub user: UserRecord,
}

const USER_COLUMNS: &str = "u.username, u.display_name, u.role, u.unit, u.disabled, u.password_hash IS NOT NULL, u.created_at, u.created_by, u.source";
const TOKEN_COLUMNS: &str = "t.id, t.username, t.read_only, t.expires_at, t.created_at, t.created_by, t.revoked_at, t.last_used_at";

fn user(r: &sqlx::any::AnyRow, at: usize) -> Result<UserRecord, StoreError> {
    Ok(UserRecord {
        username: r.get(at),
        display_name: r.get(at + 1),
        role: parse_enum(&r.get::<String, _>(at + 2))?,
        unit: r.get(at + 3),
        disabled: r.get::<i64, _>(at + 4) != 0,
        has_password: bool_col(r, at + 5),
        created_at: from_micros(r.get(at + 6)),
        created_by: r.get(at + 7),
        source: if r.get::<String, _>(at + 8) == "directory" { UserSource::Directory } else { UserSource::Local },
    })
}

/// `x IS NOT NULL` is an integer on SQLite and a boolean on PostgreSQL.
fn bool_col(r: &sqlx::any::AnyRow, i: usize) -> bool {
    r.try_get::<bool, _>(i).or_else(|_| r.try_get::<i64, _>(i).map(|v| v != 0)).unwrap_or(false)
}

fn token(r: &sqlx::any::AnyRow, at: usize) -> TokenRecord {
    TokenRecord {
        id: r.get(at),
        username: r.get(at + 1),
        read_only: r.get::<i64, _>(at + 2) != 0,
        expires_at: from_micros(r.get(at + 3)),
        created_at: from_micros(r.get(at + 4)),
        created_by: r.get(at + 5),
        revoked_at: r.get::<Option<i64>, _>(at + 6).map(from_micros),
        last_used_at: r.get::<Option<i64>, _>(at + 7).map(from_micros),
    }
}

async fn user_with_hash(conn: &mut AnyConnection, username: &str) -> Result<Option<(UserRecord, Option<String>)>, StoreError> {
    let sql = sqlx::AssertSqlSafe(format!("SELECT {USER_COLUMNS}, u.password_hash FROM users u WHERE u.username = $1"));
    let row = sqlx::query(sql).bind(username).fetch_optional(&mut *conn).await?;
    row.map(|r| Ok((user(&r, 0)?, r.get(9)))).transpose()
}

impl Store {
    /// One user and their password hash (for sign-in).
    pub async fn user_with_hash(&self, username: &str) -> Result<Option<(UserRecord, Option<String>)>, StoreError> {
        let mut conn = self.pool.acquire().await?;
        user_with_hash(&mut conn, username).await
    }

    pub async fn users(&self) -> Result<Vec<UserRecord>, StoreError> {
        let sql = sqlx::AssertSqlSafe(format!("SELECT {USER_COLUMNS} FROM users u ORDER BY u.username"));
        let rows = sqlx::query(sql).fetch_all(&self.pool).await?;
        rows.iter().map(|r| user(r, 0)).collect()
    }

    /// Users whose display name is one of `names` (a privacy export's people).
    pub async fn users_named(&self, names: &[String]) -> Result<Vec<UserRecord>, StoreError> {
        let mut out = Vec::new();
        let sql = format!("SELECT {USER_COLUMNS} FROM users u WHERE u.display_name = $1");
        for name in names {
            for r in sqlx::query(sqlx::AssertSqlSafe(sql.clone())).bind(name).fetch_all(&self.pool).await? {
                out.push(user(&r, 0)?);
            }
        }
        Ok(out)
    }

    /// The token with this SHA-256 and its owner, in one indexed lookup.
    pub async fn token_by_hash(&self, token_hash: &str) -> Result<Option<TokenOwner>, StoreError> {
        let sql = sqlx::AssertSqlSafe(format!("SELECT {TOKEN_COLUMNS}, {USER_COLUMNS} FROM api_tokens t JOIN users u ON u.username = t.username WHERE t.token_hash = $1"));
        let row = sqlx::query(sql).bind(token_hash).fetch_optional(&self.pool).await?;
        row.map(|r| Ok(TokenOwner { token: token(&r, 0), user: user(&r, 8)? })).transpose()
    }

    /// Tokens, newest first; of one user if `username` is given.
    pub async fn tokens(&self, username: Option<&str>) -> Result<Vec<TokenRecord>, StoreError> {
        let rows = match username {
            Some(u) => {
                let sql = sqlx::AssertSqlSafe(format!("SELECT {TOKEN_COLUMNS} FROM api_tokens t WHERE t.username = $1 ORDER BY t.created_at DESC, t.id"));
                sqlx::query(sql).bind(u).fetch_all(&self.pool).await?
            }
            None => {
                let sql = sqlx::AssertSqlSafe(format!("SELECT {TOKEN_COLUMNS} FROM api_tokens t ORDER BY t.created_at DESC, t.id"));
                sqlx::query(sql).fetch_all(&self.pool).await?
            }
        };
        Ok(rows.iter().map(|r| token(r, 0)).collect())
    }

    pub async fn token(&self, id: &str) -> Result<Option<TokenRecord>, StoreError> {
        let sql = sqlx::AssertSqlSafe(format!("SELECT {TOKEN_COLUMNS} FROM api_tokens t WHERE t.id = $1"));
        let row = sqlx::query(sql).bind(id).fetch_optional(&self.pool).await?;
        Ok(row.map(|r| token(&r, 0)))
    }

    /// Notes a token's use; at most once a minute per token, so reads stay reads.
    pub async fn touch_token(&self, id: &str, now: OffsetDateTime) -> Result<(), StoreError> {
        let now = micros(now);
        sqlx::query("UPDATE api_tokens SET last_used_at = $1 WHERE id = $2 AND (last_used_at IS NULL OR last_used_at < $3)")
            .bind(now)
            .bind(id)
            .bind(now - 60_000_000)
            .execute(&self.pool)
            .await?;
        Ok(())
    }
}

/// A new user row.
pub struct NewUserRow<'a> {
    pub username: &'a str,
    pub display_name: &'a str,
    pub role: Role,
    pub unit: Option<&'a str>,
    pub password_hash: Option<&'a str>,
    pub created_by: &'a str,
}

impl Write {
    pub async fn user_with_hash(&mut self, username: &str) -> Result<Option<(UserRecord, Option<String>)>, StoreError> {
        user_with_hash(self.conn(), username).await
    }

    pub async fn insert_user(&mut self, u: &NewUserRow<'_>, now: OffsetDateTime) -> Result<(), StoreError> {
        let result = sqlx::query(
            "INSERT INTO users (username, display_name, role, unit, password_hash, disabled, created_at, created_by, updated_at)
             VALUES ($1, $2, $3, $4, $5, 0, $6, $7, $6)",
        )
        .bind(u.username)
        .bind(u.display_name)
        .bind(u.role.as_str())
        .bind(u.unit)
        .bind(u.password_hash)
        .bind(micros(now))
        .bind(u.created_by)
        .execute(self.conn())
        .await
        .map_err(StoreError::from);
        match result {
            Err(e) if e.is_unique_violation() => Err(StoreError::Conflict(format!("user {} exists already", u.username))),
            other => other.map(|_| ()),
        }
    }

    /// Creates or refreshes the row of a person the office directory vouched for: name, role
    /// and unit as the directory says now, no local password. A local account of the same
    /// name is never taken over (`Conflict`).
    pub async fn upsert_directory_user(&mut self, u: &NewUserRow<'_>, now: OffsetDateTime) -> Result<(), StoreError> {
        let done = sqlx::query(
            "INSERT INTO users (username, display_name, role, unit, password_hash, disabled, created_at, created_by, updated_at, source)
             VALUES ($1, $2, $3, $4, NULL, 0, $5, $6, $5, 'directory')
             ON CONFLICT (username) DO UPDATE SET display_name = $2, role = $3, unit = $4, updated_at = $5
             WHERE users.source = 'directory'",
        )
        .bind(u.username)
        .bind(u.display_name)
        .bind(u.role.as_str())
        .bind(u.unit)
        .bind(micros(now))
        .bind(u.created_by)
        .execute(self.conn())
        .await?;
        if done.rows_affected() == 0 { Err(StoreError::Conflict(format!("user {} is a local account", u.username))) } else { Ok(()) }
    }

    pub async fn set_user_disabled(&mut self, username: &str, disabled: bool, now: OffsetDateTime) -> Result<(), StoreError> {
        let done = sqlx::query("UPDATE users SET disabled = $1, updated_at = $2 WHERE username = $3")
            .bind(i64::from(disabled))
            .bind(micros(now))
            .bind(username)
            .execute(self.conn())
            .await?;
        if done.rows_affected() == 0 { Err(StoreError::NotFound(format!("user {username}"))) } else { Ok(()) }
    }

    pub async fn set_password_hash(&mut self, username: &str, hash: &str, now: OffsetDateTime) -> Result<(), StoreError> {
        let done = sqlx::query("UPDATE users SET password_hash = $1, updated_at = $2 WHERE username = $3")
            .bind(hash)
            .bind(micros(now))
            .bind(username)
            .execute(self.conn())
            .await?;
        if done.rows_affected() == 0 { Err(StoreError::NotFound(format!("user {username}"))) } else { Ok(()) }
    }

    pub async fn insert_token(&mut self, t: &TokenRecord, token_hash: &str) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO api_tokens (id, token_hash, username, read_only, expires_at, created_at, created_by) VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(&t.id)
        .bind(token_hash)
        .bind(&t.username)
        .bind(i64::from(t.read_only))
        .bind(micros(t.expires_at))
        .bind(micros(t.created_at))
        .bind(&t.created_by)
        .execute(self.conn())
        .await?;
        Ok(())
    }

    /// Revokes a token; returns it (as it was) or `NotFound`.
    pub async fn revoke_token(&mut self, id: &str, now: OffsetDateTime) -> Result<TokenRecord, StoreError> {
        let sql = sqlx::AssertSqlSafe(format!("SELECT {TOKEN_COLUMNS} FROM api_tokens t WHERE t.id = $1"));
        let row = sqlx::query(sql).bind(id).fetch_optional(self.conn()).await?;
        let record = row.map(|r| token(&r, 0)).ok_or_else(|| StoreError::NotFound(format!("token {id}")))?;
        sqlx::query("UPDATE api_tokens SET revoked_at = $1 WHERE id = $2 AND revoked_at IS NULL").bind(micros(now)).bind(id).execute(self.conn()).await?;
        Ok(record)
    }
}
