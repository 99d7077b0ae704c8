//! Users, passwords and API tokens through the service layer: who may create and revoke them,
//! signing in (rate-limited, failures audited within a budget), and the audit of every change.
//!
//! The local CLI on the store's own machine acts as whoever `--actor/--role` names: that is how
//! the first admin is created (`kolokasi user add … --actor root --role admin`). Everything
//! remote goes through a token or a password.

use serde::Serialize;
use serde_json::json;
use time::{Duration, OffsetDateTime};

use super::{Service, ServiceError, access};
use crate::auth::{self, password, tokens};
use crate::domain::Text;
use crate::lifecycle::{Actor, Role};
use crate::secrets::Secret;
use crate::store::{AuditEntry, NewUserRow, TokenRecord, UserRecord};

/// The one message for every failed sign-in: it says nothing about which part was wrong.
pub(super) const BAD_CREDENTIALS: &str = "invalid credentials";
/// Longest life of an API token.
pub const MAX_TOKEN_TTL: Duration = Duration::days(366);

/// A person to create.
#[derive(Debug, Clone)]
pub struct NewUser {
    pub username: String,
    pub display_name: String,
    pub role: Role,
    /// Required for a requester: their OPD, exactly as requests name it.
    pub unit: Option<String>,
    pub password: Option<Secret>,
}

pub type UserView = UserRecord;
pub type TokenView = TokenRecord;

#[derive(Debug, Clone, Serialize)]
struct AuditedUser<'a> {
    username: &'a str,
    display_name: &'a str,
    role: Role,
    unit: Option<&'a str>,
    has_password: bool,
}

pub(super) fn actor_of(user: &UserRecord) -> Result<Actor, ServiceError> {
    let actor = match &user.unit {
        Some(unit) => Actor::in_unit(&user.username, user.role, unit),
        None => Actor::new(&user.username, user.role),
    };
    actor.map_err(|e| ServiceError::Invalid(e.to_string()))
}

fn pw_error(e: password::PasswordError) -> ServiceError {
    ServiceError::Invalid(e.to_string())
}

/// Sign-in attempts per address and per account: 5 in a burst, one more every 12 s; hammering
/// while limited deepens the wait to at most 72 s (then an admin may `user unlock`).
pub const SIGN_IN_BUDGET: crate::store::Budget = crate::store::Budget { burst: 5.0, per_ms: 1.0 / 12_000.0, floor: -5.0 };

/// How long a sign-in waits for a verification slot before it is told to come back.
const VERIFICATION_QUEUE: std::time::Duration = std::time::Duration::from_secs(2);

impl Service {
    /// Creates a user (admin only). A requester must belong to a unit.
    pub async fn create_user(&self, by: &Actor, input: NewUser) -> Result<UserView, ServiceError> {
        access::require(by, &[Role::Admin], "creating a user")?;
        Actor::new(&input.username, input.role).map_err(|e| ServiceError::Invalid(format!("username: {e}")))?;
        let display_name = Text::parse(&input.display_name).map_err(|e| ServiceError::Invalid(format!("display name: {e}")))?;
        let unit = match (input.role, input.unit.as_deref().map(str::trim).filter(|u| !u.is_empty())) {
            (Role::Requester, None) => return Err(ServiceError::Invalid("a requester belongs to a unit (OPD): give its name".into())),
            (_, Some(u)) => Some(Actor::in_unit(&input.username, input.role, u).map_err(|e| ServiceError::Invalid(e.to_string()))?.unit.expect("set")),
            (_, None) => None,
        };
        let hash = input.password.as_ref().map(auth::hash_password).transpose().map_err(pw_error)?;
        let now = OffsetDateTime::now_utc();
        let mut w = self.store.write().await?;
        let row = NewUserRow {
            username: &input.username,
            display_name: display_name.as_str(),
            role: input.role,
            unit: unit.as_deref(),
            password_hash: hash.as_deref(),
            created_by: &by.name,
        };
        w.insert_user(&row, now).await?;
        let audited = AuditedUser { username: row.username, display_name: row.display_name, role: row.role, unit: row.unit, has_password: hash.is_some() };
        w.audit(AuditEntry { actor: by.clone(), request_id: None, action: "user.create".into(), reason: None, before: None, after: Some(json!(audited)) })
            .await?;
        w.commit().await?;
        Ok(UserRecord {
            username: input.username,
            display_name: display_name.as_str().to_string(),
            role: input.role,
            unit,
            disabled: false,
            has_password: hash.is_some(),
            created_at: now,
            created_by: by.name.clone(),
            source: crate::store::UserSource::Local,
        })
    }

    /// All users (admin and auditor).
    pub async fn list_users(&self, by: &Actor) -> Result<Vec<UserView>, ServiceError> {
        access::require(by, &[Role::Admin, Role::Auditor], "listing users")?;
        Ok(self.store.users().await?)
    }

    /// Disables (or re-enables) a user: their password and tokens stop working at once.
    pub async fn disable_user(&self, by: &Actor, username: &str, disabled: bool) -> Result<(), ServiceError> {
        access::require(by, &[Role::Admin], "disabling a user")?;
        if disabled && by.name == username {
            return Err(ServiceError::Invalid("an admin cannot disable their own account".into()));
        }
        let mut w = self.store.write().await?;
        w.set_user_disabled(username, disabled, OffsetDateTime::now_utc()).await?;
        let action = if disabled { "user.disable" } else { "user.enable" };
        w.audit(AuditEntry { actor: by.clone(), request_id: None, action: action.into(), reason: None, before: None, after: Some(json!({ "username": username })) })
            .await?;
        w.commit().await?;
        Ok(())
    }

    /// Sets a password: an admin for anyone, anyone for themselves.
    pub async fn set_password(&self, by: &Actor, username: &str, new_password: &Secret) -> Result<(), ServiceError> {
        if by.role != Role::Admin && by.name != username {
            return Err(ServiceError::Forbidden("only an admin sets another user's password".into()));
        }
        let hash = auth::hash_password(new_password).map_err(pw_error)?;
        let mut w = self.store.write().await?;
        w.set_password_hash(username, &hash, OffsetDateTime::now_utc()).await?;
        w.audit(AuditEntry { actor: by.clone(), request_id: None, action: "user.password".into(), reason: None, before: None, after: Some(json!({ "username": username })) })
            .await?;
        w.commit().await?;
        Ok(())
    }

    /// Signs in with a password from a local front end (no client address).
    pub async fn authenticate_password(&self, username: &str, password: &Secret) -> Result<Actor, ServiceError> {
        self.authenticate_password_from(username, password, "local").await
    }

    /// Signs in with a password from `client` (an address). Rate-limited per address and per
    /// username; every failure answers the same generic message and is audited (within the
    /// audit budget); success is audited too.
    pub async fn authenticate_password_from(&self, username: &str, password: &Secret, client: &str) -> Result<Actor, ServiceError> {
        let keys = [format!("addr:{client}"), format!("user:{username}")];
        // The attempt is spent before the password is verified, atomically in the database
        // every replica shares: parallel guesses cannot all pass a check made before any of
        // them failed.
        self.spend_sign_in_attempt(&keys).await?;
        let found = if username.len() <= 64 { self.store.user_with_hash(username).await? } else { None };
        // Unknown here, or a directory user: the office directory decides.
        if let Some(directory) = self.directory.clone()
            && found.as_ref().is_none_or(|(u, _)| u.source == crate::store::UserSource::Directory)
        {
            return self.sign_in_with_directory(&directory, username, password, client, &keys, found.map(|(u, _)| u)).await;
        }
        let hash = found.as_ref().and_then(|(_, h)| h.clone());
        // Verify against a dummy hash when there is none, so that timing says nothing about
        // which accounts exist. argon2 is CPU-bound and takes ~19 MiB: at most
        // `verification_slots` run at once, off the async workers.
        let (secret, phc) = (password.clone(), hash.clone().unwrap_or_else(|| password::dummy_hash().to_string()));
        let permit = self.verification_slot().await?;
        let matches = tokio::task::spawn_blocking(move || auth::verify_password(&secret, &phc)).await.unwrap_or(false) && hash.is_some();
        drop(permit);
        match found {
            Some((user, _)) if matches && !user.disabled => {
                for key in &keys {
                    self.store.limit_refund(key, SIGN_IN_BUDGET.burst).await?;
                }
                let actor = actor_of(&user)?;
                self.audit_auth(&actor, "auth.login", json!({ "method": "password", "client": client })).await?;
                Ok(actor)
            }
            _ => {
                self.audit_failure("password", Some(username), client, None).await?;
                Err(ServiceError::Unauthorized(BAD_CREDENTIALS.into()))
            }
        }
    }

    /// Spends one sign-in attempt from each of `keys`; refused (429) when one is exhausted.
    async fn spend_sign_in_attempt(&self, keys: &[String]) -> Result<(), ServiceError> {
        let now_ms = (OffsetDateTime::now_utc().unix_timestamp_nanos() / 1_000_000) as i64;
        let left = self.store.limit_spend(keys, SIGN_IN_BUDGET, now_ms).await?;
        let wait_ms = left.iter().filter(|l| **l < 0.0).map(|l| -l / SIGN_IN_BUDGET.per_ms).fold(0.0, f64::max);
        // Now and then, forget buckets that have been full for a while.
        if rand::random_ratio(1, 64) {
            let full_ms = (SIGN_IN_BUDGET.burst - SIGN_IN_BUDGET.floor) / SIGN_IN_BUDGET.per_ms;
            self.store.limit_prune(now_ms - full_ms as i64).await?;
        }
        if wait_ms > 0.0 {
            return Err(crate::auth::Limited { retry_after: std::time::Duration::from_millis(wait_ms.ceil() as u64) }.into());
        }
        Ok(())
    }

    /// A slot to verify a password in; a burst beyond the slots waits briefly, then is told to
    /// come back (429), so memory stays bounded.
    async fn verification_slot(&self) -> Result<tokio::sync::OwnedSemaphorePermit, ServiceError> {
        let wait = tokio::time::timeout(VERIFICATION_QUEUE, self.verifications.clone().acquire_owned()).await;
        match wait {
            Ok(Ok(permit)) => Ok(permit),
            _ => Err(crate::auth::Limited { retry_after: std::time::Duration::from_secs(1) }.into()),
        }
    }

    /// Clears the failed sign-ins counted against `username` (admin), so an account an
    /// attacker kept locked can sign in again; audited.
    pub async fn unlock_user(&self, by: &Actor, username: &str) -> Result<bool, ServiceError> {
        access::require(by, &[Role::Admin], "unlocking an account")?;
        let cleared = self.store.limit_clear(&format!("user:{username}")).await?;
        let mut w = self.store.write().await?;
        w.audit(AuditEntry { actor: by.clone(), request_id: None, action: "user.unlock".into(), reason: None, before: Some(json!({ "locked": cleared })), after: Some(json!({ "username": username })) })
            .await?;
        w.commit().await?;
        Ok(cleared)
    }

    /// Checks an API token from a local caller; returns the acting person and whether the token
    /// is read-only.
    pub async fn authenticate_token(&self, token: &str) -> Result<(Actor, bool), ServiceError> {
        self.authenticate_token_from(token, "local").await
    }

    /// Checks an API token presented by `client`. Failures are rate-limited per address and
    /// audited within the budget; successes are not audited (every API call would write a row)
    /// but the token's `last_used_at` is kept to the minute.
    pub async fn authenticate_token_from(&self, token: &str, client: &str) -> Result<(Actor, bool), ServiceError> {
        let addr = format!("addr:{client}");
        self.limiter.check(&[&addr])?;
        let now = OffsetDateTime::now_utc();
        let owner = if tokens::looks_like_token(token) { self.store.token_by_hash(&auth::hash_token(token)).await? } else { None };
        match owner {
            Some(o) if o.token.revoked_at.is_none() && o.token.expires_at > now && !o.user.disabled => {
                self.store.touch_token(&o.token.id, now).await?;
                Ok((actor_of(&o.user)?, o.token.read_only))
            }
            other => {
                self.limiter.failed(&[&addr]);
                self.audit_failure("token", other.as_ref().map(|o| o.user.username.as_str()), client, None).await?;
                Err(ServiceError::Unauthorized(BAD_CREDENTIALS.into()))
            }
        }
    }

    /// Creates an API token for `username` (an admin for anyone, a user for themselves) that
    /// expires after `ttl`. The token is returned once and never stored in clear.
    pub async fn create_token(&self, by: &Actor, username: &str, read_only: bool, ttl: Duration) -> Result<(TokenView, Secret), ServiceError> {
        if by.role != Role::Admin && by.name != username {
            return Err(ServiceError::Forbidden("only an admin creates tokens for another user".into()));
        }
        if ttl <= Duration::ZERO || ttl > MAX_TOKEN_TTL {
            return Err(ServiceError::Invalid(format!("a token lives between 1 second and {} days", MAX_TOKEN_TTL.whole_days())));
        }
        // A read-only role gets read-only tokens whatever was asked.
        let read_only = read_only || by.role == Role::Auditor;
        let now = OffsetDateTime::now_utc();
        let (id, token) = auth::new_token();
        let mut w = self.store.write().await?;
        let (user, _) = w.user_with_hash(username).await?.ok_or_else(|| ServiceError::NotFound(format!("user {username}")))?;
        if user.disabled {
            return Err(ServiceError::Conflict(format!("user {username} is disabled")));
        }
        let read_only = read_only || user.role == Role::Auditor;
        let record = TokenRecord {
            id,
            username: username.to_string(),
            read_only,
            expires_at: now + ttl,
            created_at: now,
            created_by: by.name.clone(),
            revoked_at: None,
            last_used_at: None,
        };
        w.insert_token(&record, &auth::hash_token(token.expose())).await?;
        w.audit(AuditEntry {
            actor: by.clone(),
            request_id: None,
            action: "token.create".into(),
            reason: None,
            before: None,
            after: Some(json!({ "id": record.id, "username": username, "read_only": read_only, "expires_at": record.expires_at.unix_timestamp() })),
        })
        .await?;
        w.commit().await?;
        Ok((record, token))
    }

    /// Revokes a token (an admin any, a user their own).
    pub async fn revoke_token(&self, by: &Actor, id: &str) -> Result<(), ServiceError> {
        let mut w = self.store.write().await?;
        let record = w.revoke_token(id, OffsetDateTime::now_utc()).await?;
        if by.role != Role::Admin && by.name != record.username {
            // Not theirs: as if it did not exist.
            return Err(ServiceError::NotFound(format!("token {id}")));
        }
        w.audit(AuditEntry { actor: by.clone(), request_id: None, action: "token.revoke".into(), reason: None, before: None, after: Some(json!({ "id": id, "username": record.username })) })
            .await?;
        w.commit().await?;
        Ok(())
    }

    /// Tokens: admin and auditor see all (or one user's), anyone else their own.
    pub async fn list_tokens(&self, by: &Actor, username: Option<&str>) -> Result<Vec<TokenView>, ServiceError> {
        let username = match by.role {
            Role::Admin | Role::Auditor => username,
            _ if username.is_none_or(|u| u == by.name) => Some(by.name.as_str()),
            _ => return Err(ServiceError::Forbidden("only an admin or auditor lists another user's tokens".into())),
        };
        Ok(self.store.tokens(username).await?)
    }

    pub(super) async fn audit_auth(&self, actor: &Actor, action: &str, detail: serde_json::Value) -> Result<(), ServiceError> {
        let mut w = self.store.write().await?;
        w.audit(AuditEntry { actor: actor.clone(), request_id: None, action: action.into(), reason: None, before: None, after: Some(detail) }).await?;
        w.commit().await?;
        Ok(())
    }

    /// One audit row per failed sign-in while the budget lasts; past it, failures are counted
    /// and the next row says how many were not written one by one. `reason` is for the audit
    /// only (the person is told nothing about which part was wrong).
    pub(super) async fn audit_failure(&self, method: &str, username: Option<&str>, client: &str, reason: Option<&str>) -> Result<(), ServiceError> {
        let Some(suppressed) = self.limiter.audit_slot() else {
            tracing::warn!(method, client, "failed sign-in (audit budget spent; counted)");
            return Ok(());
        };
        // The attempted name is untrusted input: keep it short and only if it is a valid name.
        let username = username.filter(|u| Actor::new(u, Role::Auditor).is_ok());
        let actor = Actor::new("anonymous", Role::Auditor).expect("valid name");
        let mut detail = json!({ "method": method, "username": username, "client": client, "unaudited_failures_before": suppressed });
        if let Some(reason) = reason {
            detail["reason"] = json!(reason);
        }
        tracing::warn!(method, client, username, "failed sign-in");
        self.audit_auth(&actor, "auth.failure", detail).await
    }
}
