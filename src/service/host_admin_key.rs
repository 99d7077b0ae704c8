//! The host admin's SSH key of a request: the operator attaches the private key a unit hands
//! over with its server (ed25519 or RSA, unencrypted OpenSSH or PEM), sealed in the secret store
//! as `request.<id>.host-admin-key`, bound to that name. A request with a key attached is
//! inspected by key login as the Form Persetujuan's host admin user; one without, by that
//! user's password. Attaching is role-checked and audited with the key's type and public
//! fingerprint — never the key, which no view, log or error ever shows.

use serde::Serialize;
use serde_json::json;
use time::OffsetDateTime;

use super::{Service, ServiceError};
use crate::domain::RequestId;
use crate::lifecycle::{Actor, Role};
use crate::secrets::{Secret, SecretKind, SecretName};
use crate::store::AuditEntry;

/// What may be shown of an attached key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct AttachedKey {
    /// `ssh-ed25519`, `ssh-rsa`.
    pub algorithm: String,
    /// The public key's SHA-256 fingerprint as OpenSSH prints it (`SHA256:…`).
    pub fingerprint: String,
}

/// The secret store name of a request's host admin key.
pub fn host_admin_key_name(id: &RequestId) -> SecretName {
    SecretName::parse(&format!("request.{id}.host-admin-key")).expect("request ids make valid secret names")
}

/// Checks that `pem` is an unencrypted ed25519 or RSA private key and describes its public half.
/// The error never quotes the input.
pub fn describe_private_key(pem: &Secret) -> Result<AttachedKey, ServiceError> {
    let bad = || ServiceError::Invalid("the host admin key must be an unencrypted OpenSSH or PEM private key (ed25519 or RSA)".into());
    let key = russh::keys::decode_secret_key(pem.expose(), None).map_err(|_| bad())?;
    let algorithm = key.algorithm();
    let rsa = algorithm.clone().is_rsa();
    if !(rsa || algorithm == russh::keys::Algorithm::Ed25519) {
        return Err(ServiceError::Invalid(format!("the host admin key is {algorithm}; only ed25519 and RSA keys are accepted")));
    }
    let public = key.public_key();
    let algorithm = if rsa { "ssh-rsa".to_string() } else { algorithm.to_string() };
    Ok(AttachedKey { algorithm, fingerprint: public.fingerprint(russh::keys::HashAlg::Sha256).to_string() })
}

impl Service {
    /// Attaches (or replaces) the host admin's private key of request `id` (operator or admin).
    pub async fn attach_host_admin_key(&self, actor: &Actor, id: &RequestId, pem: &Secret) -> Result<AttachedKey, ServiceError> {
        if !matches!(actor.role, Role::Operator | Role::Admin) {
            return Err(ServiceError::Forbidden(format!("attaching a host admin key needs the role operator or admin; {} may not", actor.role)));
        }
        let attached = describe_private_key(pem)?;
        self.store.request(id).await?;
        let name = host_admin_key_name(id);
        let sealed = self.key()?.seal(pem, &name.sealing_context());
        let now = OffsetDateTime::now_utc();
        let mut w = self.store.write().await?;
        let before = w.sealed_secret(&name).await?.map(|(_, s)| json!({"secret": name, "key_id": s.key_id()}));
        w.put_secret(&name, SecretKind::SshKey, &sealed, &actor.name, now).await?;
        w.audit(AuditEntry {
            actor: actor.clone(),
            request_id: Some(id.to_string()),
            action: "request.host_admin_key.attach".into(),
            reason: None,
            before,
            after: Some(json!({"secret": name, "key_id": sealed.key_id(), "algorithm": attached.algorithm, "fingerprint": attached.fingerprint})),
        })
        .await?;
        w.commit().await?;
        tracing::info!(request = %id, actor = %actor.name, algorithm = %attached.algorithm, fingerprint = %attached.fingerprint, "host admin key attached");
        Ok(attached)
    }

    /// The attached key of request `id`, opened for the inspection's login (machine use).
    pub async fn host_admin_key(&self, id: &RequestId) -> Result<Option<Secret>, ServiceError> {
        let name = host_admin_key_name(id);
        match self.store.sealed_secret(&name).await? {
            Some((_, sealed)) => Ok(Some(self.key()?.open(&sealed, &name.sealing_context())?)),
            None => Ok(None),
        }
    }

    /// What may be shown of the attached key of request `id`, if any.
    pub(super) async fn host_admin_key_view(&self, id: &RequestId) -> Result<Option<AttachedKey>, ServiceError> {
        match self.host_admin_key(id).await? {
            Some(pem) => Ok(describe_private_key(&pem).ok()),
            None => Ok(None),
        }
    }
}
