//! The sealed secret store through the service layer: setting and revealing are role-checked
//! and audited (name, kind and key id only: never the value); drivers open secrets unaudited.

use serde_json::json;
use time::OffsetDateTime;

use super::{Service, ServiceError};
use crate::lifecycle::{Actor, Role};
use crate::secrets::{Sealed, Secret, SecretKind, SecretName};
use crate::store::{AuditEntry, SecretRecord};

fn may_set(actor: &Actor) -> Result<(), ServiceError> {
    if matches!(actor.role, Role::Operator | Role::Admin) {
        Ok(())
    } else {
        Err(ServiceError::Forbidden(format!("setting a secret needs the role operator or admin; {} may not", actor.role)))
    }
}

fn may_reveal(actor: &Actor) -> Result<(), ServiceError> {
    if actor.role == Role::Admin {
        Ok(())
    } else {
        Err(ServiceError::Forbidden(format!("revealing a secret needs the role admin; {} may not", actor.role)))
    }
}

fn parse_name(name: &str) -> Result<SecretName, ServiceError> {
    SecretName::parse(name).map_err(|e| ServiceError::Invalid(e.to_string()))
}

/// What the audit trail records of a secret.
fn audited(record: &SecretRecord, sealed: &Sealed) -> serde_json::Value {
    json!({"name": record.name, "kind": record.kind, "key_id": sealed.key_id()})
}

impl Service {
    /// Creates or replaces the secret `name`, sealed under the master key.
    pub async fn set_secret(&self, actor: &Actor, name: &str, kind: SecretKind, value: &Secret) -> Result<(), ServiceError> {
        may_set(actor)?;
        let name = parse_name(name)?;
        if value.expose().trim().is_empty() {
            return Err(ServiceError::Invalid(format!("the value of secret {name} is empty")));
        }
        let sealed = self.key()?.seal(value, &name.sealing_context());
        let now = OffsetDateTime::now_utc();
        let mut w = self.store.write().await?;
        let before = w.sealed_secret(&name).await?.map(|(r, s)| audited(&r, &s));
        w.put_secret(&name, kind, &sealed, &actor.name, now).await?;
        let record = SecretRecord { name: name.to_string(), kind, updated_at: now, updated_by: actor.name.clone() };
        w.audit(AuditEntry { actor: actor.clone(), request_id: None, action: "secret.set".into(), reason: None, before, after: Some(audited(&record, &sealed)) })
            .await?;
        w.commit().await?;
        Ok(())
    }

    /// Names, kinds and when each secret was last set; never a value.
    pub async fn secrets(&self, by: &Actor) -> Result<Vec<SecretRecord>, ServiceError> {
        super::access::require(by, &[Role::Admin, Role::Operator, Role::Auditor], "listing secrets")?;
        Ok(self.store.secrets().await?)
    }

    /// Opens a secret for a driver (machine use, not audited: configuring drivers is not a
    /// person reading the value).
    pub async fn secret(&self, name: &str) -> Result<Secret, ServiceError> {
        let name = parse_name(name)?;
        let (_, sealed) = self.store.sealed_secret(&name).await?.ok_or_else(|| ServiceError::NotFound(format!("secret {name}")))?;
        Ok(self.key()?.open(&sealed, &name.sealing_context())?)
    }

    /// The kind of a stored secret (drivers choose key or password login by it).
    pub async fn secret_kind(&self, name: &str) -> Result<SecretKind, ServiceError> {
        let name = parse_name(name)?;
        let (record, _) = self.store.sealed_secret(&name).await?.ok_or_else(|| ServiceError::NotFound(format!("secret {name}")))?;
        Ok(record.kind)
    }

    /// Opens a secret for a person (admin only); the reveal is audited before the value is
    /// returned, in the same transaction, so no reveal goes unrecorded.
    pub async fn reveal_secret(&self, actor: &Actor, name: &str) -> Result<Secret, ServiceError> {
        may_reveal(actor)?;
        let name = parse_name(name)?;
        let mut w = self.store.write().await?;
        let (record, sealed) = w.sealed_secret(&name).await?.ok_or_else(|| ServiceError::NotFound(format!("secret {name}")))?;
        let value = self.key()?.open(&sealed, &name.sealing_context())?;
        w.audit(AuditEntry { actor: actor.clone(), request_id: None, action: "secret.reveal".into(), reason: None, before: None, after: Some(audited(&record, &sealed)) })
            .await?;
        w.commit().await?;
        Ok(value)
    }
}
