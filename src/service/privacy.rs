//! The privacy export (UU 27/2022 Pasal 32): everything kolokasi holds about one official, by
//! NIP, and every access to it. Admin and auditor only; the export is itself audited.

use serde::Serialize;
use serde_json::{Value, json};
use time::OffsetDateTime;

use super::{Service, ServiceError, access, view_approval};
use crate::domain::Nip;
use crate::lifecycle::{Actor, Role};
use crate::store::{AssetNaming, AuditRecord, UserRecord};

/// One request that names the official, and in which capacity.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct RequestNaming {
    pub id: String,
    /// `official`, `unit_approver`, `approval_signatory`, `revocation_signatory`.
    pub capacities: Vec<&'static str>,
    pub state: crate::lifecycle::State,
    pub form: crate::domain::RequestForm,
    /// The approval with the host admin password as `[redacted]`.
    #[schema(value_type = Option<Object>)]
    pub approval: Option<Value>,
    pub revocation: Option<crate::domain::Revocation>,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct PrivacyExport {
    pub nip: String,
    #[serde(with = "time::serde::rfc3339")]
    pub generated_at: OffsetDateTime,
    pub requests: Vec<RequestNaming>,
    pub users: Vec<UserRecord>,
    pub assets: Vec<AssetNaming>,
    /// Changes to those requests (audit rows that are not reads).
    pub changes: Vec<AuditRecord>,
    /// Every read of those requests' data and every earlier export for this NIP.
    pub accesses: Vec<AuditRecord>,
}

/// Audit actions that read rather than change.
fn is_read(action: &str) -> bool {
    action.ends_with(".view") || action.ends_with(".list") || action.ends_with(".render") || action.ends_with(".reveal") || action.starts_with("privacy.")
}

impl Service {
    pub async fn privacy_export(&self, by: &Actor, nip: &str) -> Result<PrivacyExport, ServiceError> {
        access::require(by, &[Role::Admin, Role::Auditor], "a privacy export")?;
        let nip = Nip::parse(nip).map_err(|e| ServiceError::Invalid(format!("NIP: {e}")))?;
        let nip = nip.to_string();
        let rows = self.store.requests_naming(&nip).await?;
        let ids: Vec<String> = rows.iter().map(|r| r.id.to_string()).collect();
        let mut names: Vec<String> = Vec::new();
        let requests: Vec<RequestNaming> = rows
            .into_iter()
            .map(|r| {
                let mut capacities = Vec::new();
                let mut note = |official: Option<&crate::domain::Official>, capacity: &'static str| {
                    if let Some(o) = official.filter(|o| o.nip.to_string() == nip) {
                        capacities.push(capacity);
                        if !names.contains(&o.name.to_string()) {
                            names.push(o.name.to_string());
                        }
                    }
                };
                note(Some(&r.form.official), "official");
                note(r.form.approved_by.as_ref(), "unit_approver");
                note(r.approval.as_ref().and_then(|a| a.signed_by.as_ref()), "approval_signatory");
                note(r.revocation.as_ref().and_then(|v| v.approved_by.as_ref()), "revocation_signatory");
                RequestNaming { id: r.id.to_string(), capacities, state: r.state, approval: r.approval.as_ref().map(view_approval), form: r.form, revocation: r.revocation }
            })
            .collect();
        let (audit, earlier, users, assets) = tokio::try_join!(
            self.store.audit_for_requests(&ids),
            self.store.audit_naming("privacy.export", &nip),
            self.store.users_named(&names),
            self.store.assets_naming(&nip),
        )?;
        let (mut accesses, changes): (Vec<AuditRecord>, Vec<AuditRecord>) = audit.into_iter().partition(|a| is_read(&a.action));
        accesses.extend(earlier);
        accesses.sort_by_key(|a| a.seq);
        self.audit_read(by, None, "privacy.export", json!({ "nip": nip, "requests": ids.len() })).await?;
        Ok(PrivacyExport { nip, generated_at: OffsetDateTime::now_utc(), requests, users, assets, changes, accesses })
    }
}
