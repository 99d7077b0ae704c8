//! Who may do what: role checks for every service operation that the lifecycle does not cover
//! (reads, capacity, IPAM, runs, secrets, audit, users), unit scope for requesters, and the
//! audit rows written for reads of personal data.
//!
//! A requester sees only their own unit's requests; asking for another unit's request answers
//! "not found", so a requester cannot learn that it exists. The auditor reads everything and
//! changes nothing.

use serde_json::Value;

use super::{Service, ServiceError};
use crate::lifecycle::{Actor, Role};
use crate::store::AuditEntry;

/// Roles that work in the data center (everyone but the requester and the auditor).
pub(crate) const STAFF: &[Role] = &[Role::Admin, Role::Supervisor, Role::Operator, Role::Inspector, Role::Head];

/// Fails with `Forbidden` unless `actor` acts in one of `roles`; `what` completes "… needs".
pub(crate) fn require(actor: &Actor, roles: &[Role], what: &str) -> Result<(), ServiceError> {
    if roles.contains(&actor.role) {
        return Ok(());
    }
    let names = roles.iter().map(|r| r.as_str()).collect::<Vec<_>>().join(", ");
    Err(ServiceError::Forbidden(format!("{what} needs one of the roles {names}; {} may not", actor.role)))
}

/// Reading data-center state (capacity, IPAM, runs): staff and the auditor.
pub(crate) fn require_staff_or_auditor(actor: &Actor, what: &str) -> Result<(), ServiceError> {
    let mut roles = STAFF.to_vec();
    roles.push(Role::Auditor);
    require(actor, &roles, what)
}

/// A request of `unit` is invisible to a requester of another unit: "not found", never
/// "forbidden", so its existence does not leak.
pub(crate) fn scope(actor: &Actor, request_id: &str, unit: &str) -> Result<(), ServiceError> {
    if actor.sees_unit(unit) { Ok(()) } else { Err(ServiceError::NotFound(format!("request {request_id}"))) }
}

/// Every NIP a request names: the official, the unit's approving Kepala Bidang, the signatory
/// of the approval and of the revocation. Read audits carry them so that a privacy export can
/// find every access to an official's data.
pub(crate) fn nips(row: &crate::store::RequestRow) -> Vec<String> {
    let mut out = vec![row.form.official.nip.to_string()];
    let others = [
        row.form.approved_by.as_ref(),
        row.approval.as_ref().and_then(|a| a.signed_by.as_ref()),
        row.revocation.as_ref().and_then(|r| r.approved_by.as_ref()),
    ];
    for official in others.into_iter().flatten() {
        let nip = official.nip.to_string();
        if !out.contains(&nip) {
            out.push(nip);
        }
    }
    out
}

impl Service {
    /// Records that `actor` read something personal or secret (`action`, e.g. `request.view`).
    /// The caller returns the data only if this succeeded: a read that cannot be audited does
    /// not happen.
    pub(crate) async fn audit_read(&self, actor: &Actor, request_id: Option<&str>, action: &str, detail: Value) -> Result<(), ServiceError> {
        let mut w = self.store.write().await?;
        w.audit(AuditEntry {
            actor: actor.clone(),
            request_id: request_id.map(str::to_string),
            action: action.into(),
            reason: None,
            before: None,
            after: Some(detail),
        })
        .await?;
        w.commit().await?;
        Ok(())
    }
}
