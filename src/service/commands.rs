//! The commands that move a request through the SOP, as front ends send them.

use serde::Deserialize;

use crate::domain::{HardwareReceipt, Official, RequestForm, Revocation, Text};
use crate::lifecycle::EventKind;
use crate::secrets::Secret;

/// One command; the JSON form is `{"event": "approve", …}`.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(tag = "event", rename_all = "snake_case", deny_unknown_fields)]
pub enum Command {
    /// SOP step 2: the admin verifies and dispositions to the supervisor and DC team.
    Verify {
        #[serde(default)]
        reason: Option<String>,
    },
    /// SOP step 3: run the capacity check and record its verdict (confirmed or closed).
    CheckCapacity {
        #[serde(default)]
        reason: Option<String>,
    },
    /// SOP step 4: the unit completes the Form Pengajuan (optionally with corrections).
    CompleteForm {
        #[serde(default)]
        form: Option<Box<RequestForm>>,
        #[serde(default)]
        reason: Option<String>,
    },
    /// SOP step 5: Form Persetujuan, approve.
    Approve(ApproveInput),
    /// SOP step 5: Form Persetujuan, reject with reasons.
    Reject(RejectInput),
    /// SOP step 6: the team tells the unit it is approved; co-location now waits for hardware.
    StartProvisioning {
        #[serde(default)]
        reason: Option<String>,
    },
    /// SOP step 7: the unit delivered its server.
    HardwareReceived {
        receipt: HardwareReceipt,
        #[serde(default)]
        reason: Option<String>,
    },
    /// SOP step 8: berita acara serah terima signed.
    HandOver {
        #[serde(default)]
        reason: Option<String>,
    },
    /// SOP step 9: the unit is told the service is live.
    ReportLive {
        #[serde(default)]
        reason: Option<String>,
    },
    /// Form Pencabutan filed.
    RequestRevocation { revocation: Revocation },
    /// The Kepala Bidang approves the terms of withdrawal; decommissioning starts.
    ApproveRevocation {
        #[serde(default)]
        approved_by: Option<Official>,
        #[serde(default)]
        reason: Option<String>,
    },
    /// Decommissioning finished.
    Decommissioned {
        #[serde(default)]
        reason: Option<String>,
    },
    /// The unit (or an admin) withdraws the request; what its run did is unwound first.
    Withdraw { reason: String },
    /// Run outcome (engine only): a withdrawn request's run is unwound.
    #[serde(skip_deserializing)]
    WithdrawalDone { reason: Option<String> },
    /// Run outcome (engine only): an operator unwound the provisioning run.
    #[serde(skip_deserializing)]
    ProvisioningUnwound { reason: Option<String> },
}

#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ApproveInput {
    /// Where the form is signed.
    pub place: Text,
    /// Pertimbangan.
    #[serde(default)]
    pub reasons: Vec<Text>,
    #[serde(default)]
    pub signed_by: Option<Official>,
    #[serde(default)]
    pub host_admin_user: Option<Text>,
    /// Sealed at once; never stored or shown in clear.
    #[serde(default)]
    pub host_admin_password: Option<Secret>,
}

#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RejectInput {
    pub place: Text,
    pub reasons: Vec<Text>,
    #[serde(default)]
    pub signed_by: Option<Official>,
}

impl Command {
    /// The lifecycle event this command causes (capacity checks decide between two).
    pub fn event(&self, capacity_ok: bool) -> EventKind {
        match self {
            Self::Verify { .. } => EventKind::Verify,
            Self::CheckCapacity { .. } if capacity_ok => EventKind::CapacityOk,
            Self::CheckCapacity { .. } => EventKind::CapacityShort,
            Self::CompleteForm { .. } => EventKind::CompleteForm,
            Self::Approve(_) => EventKind::Approve,
            Self::Reject(_) => EventKind::Reject,
            Self::StartProvisioning { .. } => EventKind::StartProvisioning,
            Self::HardwareReceived { .. } => EventKind::HardwareReceived,
            Self::HandOver { .. } => EventKind::HandOver,
            Self::ReportLive { .. } => EventKind::ReportLive,
            Self::RequestRevocation { .. } => EventKind::RequestRevocation,
            Self::ApproveRevocation { .. } => EventKind::ApproveRevocation,
            Self::Decommissioned { .. } => EventKind::Decommissioned,
            Self::Withdraw { .. } => EventKind::Withdraw,
            Self::WithdrawalDone { .. } => EventKind::WithdrawalDone,
            Self::ProvisioningUnwound { .. } => EventKind::ProvisioningUnwound,
        }
    }

    /// The operator's stated reason, for the audit trail.
    pub fn reason(&self) -> Option<String> {
        match self {
            Self::Verify { reason }
            | Self::CheckCapacity { reason }
            | Self::CompleteForm { reason, .. }
            | Self::StartProvisioning { reason }
            | Self::HardwareReceived { reason, .. }
            | Self::HandOver { reason }
            | Self::ReportLive { reason }
            | Self::ApproveRevocation { reason, .. }
            | Self::Decommissioned { reason }
            | Self::WithdrawalDone { reason }
            | Self::ProvisioningUnwound { reason } => reason.clone(),
            Self::Approve(a) => join(&a.reasons),
            Self::Reject(r) => join(&r.reasons),
            Self::RequestRevocation { revocation } => join(&revocation.reasons),
            Self::Withdraw { reason } => Some(reason.clone()),
        }
    }
}

fn join(reasons: &[Text]) -> Option<String> {
    (!reasons.is_empty()).then(|| reasons.iter().map(Text::as_str).collect::<Vec<_>>().join("; "))
}
