//! The request lifecycle: one enum, one transition function.
//!
//! ```text
//!  Submitted ──verify(admin)──▶ Verified ──capacity_ok(operator)──▶ CapacityConfirmed
//!                                   │                                     │
//!                                   └─capacity_short(operator)─▶ ClosedNoCapacity ■
//!                                                                          │
//!                                       complete_form(requester) ◀─────────┘
//!                                                 │
//!                                                 ▼
//!                                           FormCompleted ──reject(admin)──▶ Rejected ■
//!                                                 │
//!                                           approve(admin)
//!                                                 ▼
//!  Approved ──start_provisioning(operator|inspector)─▶ AwaitingHardware (colocation) ⏸
//!     │                                                     │
//!     └──────── (hosting) ─────────┐        hardware_received(operator|inspector)
//!                                  ▼                        │
//!                             Provisioning ◀────────────────┘
//!                                  │ hand_over(inspector|operator)
//!                                  ▼
//!                             HandedOver ──report_live(inspector)──▶ Active
//!                                                                      │ request_revocation(requester|admin)
//!                                                                      ▼
//!   Decommissioned ■ ◀─decommissioned(operator)── Decommissioning ◀─approve_revocation(head|admin)── RevocationRequested
//!
//!  withdraw(requester|admin): before approval's run exists ──▶ Withdrawn ■
//!  withdraw(requester|admin): AwaitingHardware | Provisioning | HandedOver ──▶ Withdrawing
//!        (the provisioning run unwinds) ──withdrawal_done(run)──▶ Withdrawn ■
//!  AwaitingHardware | Provisioning | HandedOver ──provisioning_unwound(run)──▶ Approved
//!        (an operator unwound the run; starting provisioning again restarts it)
//! ```
//! ■ = final. ⏸ = the SLA clock pauses (the unit holds the ball): CapacityConfirmed (the unit
//! fills the Form Pengajuan) and AwaitingHardware (the unit brings its server).
//!
//! **Run outcomes** (`hand_over`, `report_live`, `decommissioned`, `withdrawal_done`,
//! `provisioning_unwound`) follow what the devices hold: the engine applies them when the
//! request's run succeeds or has been unwound, never a person ([`EventKind::is_run_outcome`]).

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use super::Role;
use crate::domain::RequestKind;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum State {
    Submitted,
    Verified,
    CapacityConfirmed,
    ClosedNoCapacity,
    FormCompleted,
    Approved,
    Rejected,
    AwaitingHardware,
    Provisioning,
    HandedOver,
    Active,
    RevocationRequested,
    Decommissioning,
    Decommissioned,
    /// Withdrawn while its provisioning run had done work: the run unwinds first.
    Withdrawing,
    Withdrawn,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EventKind {
    Verify,
    CapacityOk,
    CapacityShort,
    CompleteForm,
    Approve,
    Reject,
    StartProvisioning,
    HardwareReceived,
    HandOver,
    ReportLive,
    RequestRevocation,
    ApproveRevocation,
    Decommissioned,
    Withdraw,
    /// Run outcome: the provisioning run of a withdrawn request is unwound.
    WithdrawalDone,
    /// Run outcome: an operator unwound the provisioning run; the request is approved again.
    ProvisioningUnwound,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TransitionError {
    #[error("cannot {event} a request that is {state}")]
    Illegal { state: State, event: EventKind },
    #[error("{event} needs the role {allowed}; {role} may not do it")]
    Forbidden { event: EventKind, role: Role, allowed: String },
}

impl State {
    pub const ALL: [State; 16] = [
        State::Submitted,
        State::Verified,
        State::CapacityConfirmed,
        State::ClosedNoCapacity,
        State::FormCompleted,
        State::Approved,
        State::Rejected,
        State::AwaitingHardware,
        State::Provisioning,
        State::HandedOver,
        State::Active,
        State::RevocationRequested,
        State::Decommissioning,
        State::Decommissioned,
        State::Withdrawing,
        State::Withdrawn,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Submitted => "submitted",
            Self::Verified => "verified",
            Self::CapacityConfirmed => "capacity_confirmed",
            Self::ClosedNoCapacity => "closed_no_capacity",
            Self::FormCompleted => "form_completed",
            Self::Approved => "approved",
            Self::Rejected => "rejected",
            Self::AwaitingHardware => "awaiting_hardware",
            Self::Provisioning => "provisioning",
            Self::HandedOver => "handed_over",
            Self::Active => "active",
            Self::RevocationRequested => "revocation_requested",
            Self::Decommissioning => "decommissioning",
            Self::Decommissioned => "decommissioned",
            Self::Withdrawing => "withdrawing",
            Self::Withdrawn => "withdrawn",
        }
    }

    /// The state in the console's language.
    pub fn label_id(self) -> &'static str {
        match self {
            Self::Submitted => "Permohonan diajukan",
            Self::Verified => "Diverifikasi & didisposisi",
            Self::CapacityConfirmed => "Kapasitas tersedia — menunggu Form Pengajuan",
            Self::ClosedNoCapacity => "Ditutup: kapasitas tidak tersedia",
            Self::FormCompleted => "Form Pengajuan lengkap",
            Self::Approved => "Disetujui",
            Self::Rejected => "Ditolak",
            Self::AwaitingHardware => "Menunggu perangkat dari OPD",
            Self::Provisioning => "Instalasi & konfigurasi",
            Self::HandedOver => "Serah terima selesai",
            Self::Active => "Aktif",
            Self::RevocationRequested => "Pencabutan diajukan",
            Self::Decommissioning => "Pencabutan berjalan",
            Self::Decommissioned => "Dicabut",
            Self::Withdrawing => "Dibatalkan — konfigurasi sedang dibongkar",
            Self::Withdrawn => "Dibatalkan",
        }
    }

    pub fn is_final(self) -> bool {
        matches!(self, Self::ClosedNoCapacity | Self::Rejected | Self::Decommissioned | Self::Withdrawn)
    }

    /// States in which the SLA clock runs: the data center holds the ball.
    pub fn sla_clock_runs(self) -> bool {
        matches!(self, Self::Submitted | Self::Verified | Self::FormCompleted | Self::Approved | Self::Provisioning | Self::HandedOver)
    }

    /// The SOP step (1–9) a request in this state is at, for timelines.
    pub fn sop_step(self) -> u8 {
        match self {
            Self::Submitted => 1,
            Self::Verified => 2,
            Self::CapacityConfirmed | Self::ClosedNoCapacity => 3,
            Self::FormCompleted => 4,
            Self::Approved | Self::Rejected => 5,
            Self::AwaitingHardware => 7,
            Self::Provisioning => 8,
            Self::HandedOver => 8,
            Self::Active | Self::RevocationRequested | Self::Decommissioning | Self::Decommissioned => 9,
            Self::Withdrawing | Self::Withdrawn => 1,
        }
    }
}

impl fmt::Display for State {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown state {0:?}")]
pub struct UnknownState(pub String);

impl FromStr for State {
    type Err = UnknownState;
    fn from_str(s: &str) -> Result<Self, UnknownState> {
        Self::ALL.into_iter().find(|st| st.as_str() == s).ok_or_else(|| UnknownState(s.to_string()))
    }
}

impl EventKind {
    pub const ALL: [EventKind; 16] = [
        EventKind::Verify,
        EventKind::CapacityOk,
        EventKind::CapacityShort,
        EventKind::CompleteForm,
        EventKind::Approve,
        EventKind::Reject,
        EventKind::StartProvisioning,
        EventKind::HardwareReceived,
        EventKind::HandOver,
        EventKind::ReportLive,
        EventKind::RequestRevocation,
        EventKind::ApproveRevocation,
        EventKind::Decommissioned,
        EventKind::Withdraw,
        EventKind::WithdrawalDone,
        EventKind::ProvisioningUnwound,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Verify => "verify",
            Self::CapacityOk => "capacity_ok",
            Self::CapacityShort => "capacity_short",
            Self::CompleteForm => "complete_form",
            Self::Approve => "approve",
            Self::Reject => "reject",
            Self::StartProvisioning => "start_provisioning",
            Self::HardwareReceived => "hardware_received",
            Self::HandOver => "hand_over",
            Self::ReportLive => "report_live",
            Self::RequestRevocation => "request_revocation",
            Self::ApproveRevocation => "approve_revocation",
            Self::Decommissioned => "decommissioned",
            Self::Withdraw => "withdraw",
            Self::WithdrawalDone => "withdrawal_done",
            Self::ProvisioningUnwound => "provisioning_unwound",
        }
    }

    /// The SOP roles allowed to cause this event.
    pub fn allowed_roles(self) -> &'static [Role] {
        use Role::*;
        match self {
            Self::Verify => &[Admin],
            Self::CapacityOk | Self::CapacityShort => &[Operator, Supervisor],
            Self::CompleteForm => &[Requester],
            Self::Approve | Self::Reject => &[Admin],
            Self::StartProvisioning | Self::HardwareReceived => &[Operator, Inspector],
            Self::HandOver => &[Inspector, Operator],
            Self::ReportLive => &[Inspector],
            Self::RequestRevocation => &[Requester, Admin],
            Self::ApproveRevocation => &[Head, Admin],
            Self::Decommissioned => &[Operator],
            Self::Withdraw => &[Requester, Admin],
            Self::WithdrawalDone | Self::ProvisioningUnwound => &[Operator],
        }
    }

    /// Events that follow a run's outcome (what the devices now hold): only the engine applies
    /// them, when the request's run has succeeded or has been unwound.
    pub fn is_run_outcome(self) -> bool {
        matches!(self, Self::HandOver | Self::ReportLive | Self::Decommissioned | Self::WithdrawalDone | Self::ProvisioningUnwound)
    }
}

impl fmt::Display for EventKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The lifecycle's one transition function: where `event` by `role` takes a request of `kind` in
/// `state`, or why it may not.
pub fn next_state(state: State, event: EventKind, kind: RequestKind, role: Role) -> Result<State, TransitionError> {
    use EventKind as E;
    use State as S;
    let next = match (state, event) {
        (S::Submitted, E::Verify) => S::Verified,
        (S::Verified, E::CapacityOk) => S::CapacityConfirmed,
        (S::Verified, E::CapacityShort) => S::ClosedNoCapacity,
        (S::CapacityConfirmed, E::CompleteForm) => S::FormCompleted,
        (S::FormCompleted, E::Approve) => S::Approved,
        (S::FormCompleted, E::Reject) => S::Rejected,
        (S::Approved, E::StartProvisioning) => match kind {
            RequestKind::Colocation => S::AwaitingHardware,
            RequestKind::Hosting => S::Provisioning,
        },
        (S::AwaitingHardware, E::HardwareReceived) => S::Provisioning,
        (S::Provisioning, E::HandOver) => S::HandedOver,
        (S::HandedOver, E::ReportLive) => S::Active,
        (S::Active, E::RequestRevocation) => S::RevocationRequested,
        (S::RevocationRequested, E::ApproveRevocation) => S::Decommissioning,
        (S::Decommissioning, E::Decommissioned) => S::Decommissioned,
        (S::Submitted | S::Verified | S::CapacityConfirmed | S::FormCompleted | S::Approved, E::Withdraw) => S::Withdrawn,
        (S::AwaitingHardware | S::Provisioning | S::HandedOver, E::Withdraw) => S::Withdrawing,
        (S::Withdrawing, E::WithdrawalDone) => S::Withdrawn,
        (S::AwaitingHardware | S::Provisioning | S::HandedOver, E::ProvisioningUnwound) => S::Approved,
        _ => return Err(TransitionError::Illegal { state, event }),
    };
    let allowed = event.allowed_roles();
    if !allowed.contains(&role) {
        let allowed = allowed.iter().map(|r| r.as_str()).collect::<Vec<_>>().join(" or ");
        return Err(TransitionError::Forbidden { event, role, allowed });
    }
    Ok(next)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The legal moves, written out independently of `next_state` as the SOP reads.
    fn legal(state: State, event: EventKind, kind: RequestKind) -> Option<State> {
        use EventKind as E;
        use State as S;
        let table: &[(S, E, S)] = &[
            (S::Submitted, E::Verify, S::Verified),
            (S::Verified, E::CapacityOk, S::CapacityConfirmed),
            (S::Verified, E::CapacityShort, S::ClosedNoCapacity),
            (S::CapacityConfirmed, E::CompleteForm, S::FormCompleted),
            (S::FormCompleted, E::Approve, S::Approved),
            (S::FormCompleted, E::Reject, S::Rejected),
            (S::AwaitingHardware, E::HardwareReceived, S::Provisioning),
            (S::Provisioning, E::HandOver, S::HandedOver),
            (S::HandedOver, E::ReportLive, S::Active),
            (S::Active, E::RequestRevocation, S::RevocationRequested),
            (S::RevocationRequested, E::ApproveRevocation, S::Decommissioning),
            (S::Decommissioning, E::Decommissioned, S::Decommissioned),
            (S::Withdrawing, E::WithdrawalDone, S::Withdrawn),
            (S::AwaitingHardware, E::ProvisioningUnwound, S::Approved),
            (S::Provisioning, E::ProvisioningUnwound, S::Approved),
            (S::HandedOver, E::ProvisioningUnwound, S::Approved),
        ];
        if (state, event) == (S::Approved, E::StartProvisioning) {
            return Some(if kind == RequestKind::Colocation { S::AwaitingHardware } else { S::Provisioning });
        }
        if event == E::Withdraw && state.sop_step() <= 5 && !state.is_final() && state != S::Withdrawing {
            return Some(S::Withdrawn);
        }
        if event == E::Withdraw && matches!(state, S::AwaitingHardware | S::Provisioning | S::HandedOver) {
            return Some(S::Withdrawing);
        }
        table.iter().find(|(s, e, _)| *s == state && *e == event).map(|(_, _, n)| *n)
    }

    #[test]
    fn every_state_event_role_combination_matches_the_sop() {
        let mut legal_moves = 0;
        for kind in [RequestKind::Colocation, RequestKind::Hosting] {
            for state in State::ALL {
                for event in EventKind::ALL {
                    for role in Role::ALL {
                        let got = next_state(state, event, kind, role);
                        match legal(state, event, kind) {
                            None => assert_eq!(got, Err(TransitionError::Illegal { state, event }), "{state} {event}"),
                            Some(next) if event.allowed_roles().contains(&role) => {
                                legal_moves += 1;
                                assert_eq!(got, Ok(next), "{state} {event} {role}")
                            }
                            Some(_) => assert!(matches!(got, Err(TransitionError::Forbidden { .. })), "{state} {event} {role}"),
                        }
                    }
                }
            }
        }
        assert!(legal_moves > 40);
    }

    #[test]
    fn final_states_have_no_way_out() {
        for state in State::ALL.into_iter().filter(|s| s.is_final()) {
            for event in EventKind::ALL {
                assert!(next_state(state, event, RequestKind::Colocation, Role::Admin).is_err());
            }
        }
    }

    #[test]
    fn hosting_skips_the_hardware_gate() {
        let s = next_state(State::Approved, EventKind::StartProvisioning, RequestKind::Hosting, Role::Operator);
        assert_eq!(s, Ok(State::Provisioning));
    }

    #[test]
    fn errors_read_well() {
        let e = next_state(State::Submitted, EventKind::Approve, RequestKind::Colocation, Role::Admin).unwrap_err();
        assert_eq!(e.to_string(), "cannot approve a request that is submitted");
        let e = next_state(State::FormCompleted, EventKind::Approve, RequestKind::Colocation, Role::Requester).unwrap_err();
        assert_eq!(e.to_string(), "approve needs the role admin; requester may not do it");
    }

    #[test]
    fn names_roundtrip() {
        for s in State::ALL {
            assert_eq!(s.as_str().parse::<State>().unwrap(), s);
        }
    }
}
