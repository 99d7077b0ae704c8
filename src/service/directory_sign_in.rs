//! Sign-in of people the office directory vouches for ([`crate::auth::directory`]): the
//! directory checks the password and says role and OPD; the local user row follows it
//! (created or refreshed at every sign-in, audited with before and after when it changes).
//!
//! The abuse limits and the audit of failures are those of local sign-ins: the attempt was
//! spent by the caller, a refusal is audited with its reason and answered with the one
//! generic message; only a directory that cannot be reached gets its own, clear error.
//!
//! TODO(design): a person disabled in (or removed from every mapped group of) the directory
//! cannot sign in, but API tokens they made earlier work until revoked or the account is
//! disabled here; a periodic directory sweep (as the drift check does for devices) would close
//! that gap.
//! TODO(robustness): directory checks do not take a verification slot (those bound argon2's
//! memory); a black-holed directory costs each attempt up to the timeout, never local users' slots.

use serde_json::json;
use time::OffsetDateTime;

use super::users::{BAD_CREDENTIALS, SIGN_IN_BUDGET, actor_of};
use super::{Service, ServiceError};
use crate::auth::{Directory, DirectoryUser};
use crate::lifecycle::Actor;
use crate::secrets::Secret;
use crate::store::{AuditEntry, NewUserRow, UserRecord, UserSource};

impl Service {
    /// Signs `username` in through `directory`; `local` is their row here, if any (a
    /// directory user's).
    pub(super) async fn sign_in_with_directory(
        &self,
        directory: &Directory,
        username: &str,
        password: &Secret,
        client: &str,
        keys: &[String],
        local: Option<UserRecord>,
    ) -> Result<Actor, ServiceError> {
        let person = match directory.authenticate(username, password).await {
            Ok(person) => person,
            Err(e) if e.is_unavailable() => {
                tracing::error!(error = %e, source = ?std::error::Error::source(&e), "directory sign-in impossible");
                self.audit_failure("directory", Some(username), client, Some(e.code())).await?;
                return Err(ServiceError::DirectoryUnavailable(e));
            }
            Err(e) => {
                tracing::info!(reason = e.code(), "directory refused a sign-in");
                self.audit_failure("directory", Some(username), client, Some(e.code())).await?;
                return Err(ServiceError::Unauthorized(BAD_CREDENTIALS.into()));
            }
        };
        // Disabled here by an admin: the directory's word does not re-enable the account.
        if local.as_ref().is_some_and(|u| u.disabled) {
            self.audit_failure("directory", Some(username), client, Some("disabled_locally")).await?;
            return Err(ServiceError::Unauthorized(BAD_CREDENTIALS.into()));
        }
        let actor = self.save_directory_user(&person, local.as_ref()).await?;
        for key in keys {
            self.store.limit_refund(key, SIGN_IN_BUDGET.burst).await?;
        }
        self.audit_auth(&actor, "auth.login", json!({ "method": "directory", "client": client, "group": person.group })).await?;
        Ok(actor)
    }

    /// Creates or refreshes the person's row; audited (`user.directory_sync`) when it changes.
    async fn save_directory_user(&self, person: &DirectoryUser, local: Option<&UserRecord>) -> Result<Actor, ServiceError> {
        let now = OffsetDateTime::now_utc();
        let display_name = crate::domain::Text::parse(&person.display_name).map_err(|e| ServiceError::Invalid(format!("display name from the directory: {e}")))?;
        let display_name = display_name.as_str();
        let view = |name: &str, role: crate::lifecycle::Role, unit: Option<&str>| {
            json!({ "username": person.username, "display_name": name, "role": role, "unit": unit, "has_password": false, "source": UserSource::Directory.as_str() })
        };
        let before = local.map(|u| view(&u.display_name, u.role, u.unit.as_deref()));
        let after = view(display_name, person.role, person.unit.as_deref());
        let record = UserRecord {
            username: person.username.clone(),
            display_name: display_name.to_string(),
            role: person.role,
            unit: person.unit.clone(),
            disabled: false,
            has_password: false,
            created_at: local.map_or(now, |u| u.created_at),
            created_by: local.map_or_else(|| "directory".to_string(), |u| u.created_by.clone()),
            source: UserSource::Directory,
        };
        let actor = actor_of(&record)?;
        if before.as_ref() == Some(&after) {
            return Ok(actor);
        }
        let row = NewUserRow {
            username: &person.username,
            display_name,
            role: person.role,
            unit: person.unit.as_deref(),
            password_hash: None,
            created_by: "directory",
        };
        let mut w = self.store.write().await?;
        w.upsert_directory_user(&row, now).await?;
        let reason = format!("signed in through the office directory; role from group {}", person.group);
        w.audit(AuditEntry { actor: actor.clone(), request_id: None, action: "user.directory_sync".into(), reason: Some(reason), before, after: Some(after) }).await?;
        w.commit().await?;
        Ok(actor)
    }
}
