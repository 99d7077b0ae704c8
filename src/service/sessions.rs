//! Web-console sessions: sign-in with a username and password (checked by
//! [`Service::authenticate_password_from`]), the session behind a cookie, and sign-out. Sign-in and
//! sign-out are audited in the same transaction as the session row.
//!
//! The cookie carries a random 256-bit token; the store keeps only its SHA-256, so a copy of the
//! database cannot be turned into a signed-in browser.

use base64::Engine as _;
use serde_json::json;
use sha2::{Digest, Sha256};
use time::{Duration, OffsetDateTime};

use super::{Service, ServiceError};
use crate::lifecycle::Actor;
use crate::secrets::Secret;
use crate::store::{AuditEntry, SessionRow};

/// A session just opened: the token goes into the cookie and nowhere else.
#[derive(Debug)]
pub struct NewSession {
    pub token: Secret,
    pub actor: Actor,
    pub csrf_token: String,
    pub expires_at: OffsetDateTime,
}

/// The signed-in person behind a cookie, and the token their forms must carry.
#[derive(Debug, Clone)]
pub struct ConsoleSession {
    pub actor: Actor,
    pub csrf_token: String,
    pub token_hash: String,
}

fn random_token() -> String {
    let bytes: [u8; 32] = rand::random();
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

fn token_hash(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

impl Service {
    /// Checks the password (rate-limited per `client` address and username, failures
    /// audited) and opens a session lasting `ttl`.
    pub async fn console_sign_in(&self, username: &str, password: &Secret, client: &str, ttl: Duration) -> Result<NewSession, ServiceError> {
        let actor = self.authenticate_password_from(username, password, client).await?;
        let token = random_token();
        let now = OffsetDateTime::now_utc();
        let row = SessionRow {
            token_hash: token_hash(&token),
            username: actor.name.clone(),
            role: actor.role,
            unit: actor.unit.clone(),
            csrf_token: random_token(),
            created_at: now,
            expires_at: now + ttl,
        };
        let mut w = self.store.write().await?;
        w.insert_session(&row).await?;
        w.audit(AuditEntry {
            actor: actor.clone(),
            request_id: None,
            action: "console.sign_in".into(),
            reason: None,
            before: None,
            after: Some(json!({ "expires_at": row.expires_at.unix_timestamp() })),
        })
        .await?;
        w.commit().await?;
        Ok(NewSession {
            token: Secret::new(token),
            actor,
            csrf_token: row.csrf_token,
            expires_at: row.expires_at,
        })
    }

    /// The live session for a cookie token, if any.
    pub async fn console_session(&self, token: &str) -> Result<Option<ConsoleSession>, ServiceError> {
        let Some(row) = self.store.session(&token_hash(token), OffsetDateTime::now_utc()).await? else {
            return Ok(None);
        };
        let actor = Actor {
            name: row.username,
            role: row.role,
            unit: row.unit,
        };
        Ok(Some(ConsoleSession {
            actor,
            csrf_token: row.csrf_token,
            token_hash: row.token_hash,
        }))
    }

    /// Ends the session (the row is deleted, so the cookie is worthless even if kept).
    pub async fn console_sign_out(&self, session: &ConsoleSession) -> Result<(), ServiceError> {
        let mut w = self.store.write().await?;
        if w.delete_session(&session.token_hash).await? {
            w.audit(AuditEntry {
                actor: session.actor.clone(),
                request_id: None,
                action: "console.sign_out".into(),
                reason: None,
                before: None,
                after: None,
            })
            .await?;
        }
        w.commit().await?;
        Ok(())
    }
}
