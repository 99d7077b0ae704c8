//! Drift check and repair (the compliance check of Nautobot's Golden Config, for what kolokasi
//! itself wrote): for every live request, read back from the devices everything its
//! provisioning run wrote — DNS records from the authoritative server, the switch port, the
//! firewall rules, map entries and jump, a hosting request's Kubernetes objects — and compare
//! with what the run log says was written.
//!
//! - [`expected`]: what the run log says each step wrote, as items with a stable key.
//! - [`read`]: the batched reads — one read per switch and per firewall, concurrent queries per
//!   DNS server, every device at once (Kubernetes: a GET per object on the pooled client) —
//!   and the comparison.
//! - [`report`]: a request's result (`in sync`, or each drifted item with expected, found,
//!   device) and its Indonesian and English words.
//! - [`service`]: check, accept (audited), record, and the repair: an ordinary, audited re-run
//!   of the drifted steps through the engine's retry control, planned first.
//! - [`readback`]: the read-back kept when a provisioning or decommission run succeeds (what
//!   each device held of the request's items then), for the evidence bundle.
//! - [`notice`]: one notice to the data center per newly drifted request, through the outbox.
//! - [`schedule`]: the check `serve` runs on a schedule.
//!
//! Owns the drift tables; reads devices only (a repair writes through the engine's own steps).

pub mod expected;
pub mod notice;
pub mod read;
pub mod readback;
pub mod report;
pub mod schedule;
pub mod service;

pub use expected::{Expectation, Probe};
pub use report::{DriftItem, DriftReport, DriftStatus, Unreadable};
pub use service::{Checker, RepairPlan};

#[derive(Debug, thiserror::Error)]
pub enum DriftError {
    #[error("request {0} is not live (only active requests are checked for drift)")]
    NotLive(String),
    #[error("request {request} has no drifted item {item:?} in its latest check")]
    NoSuchItem { request: String, item: String },
    #[error("request {0} is in sync: nothing to repair")]
    NothingToRepair(String),
    #[error("accepting a drift needs a reason")]
    NoReason,
    #[error(transparent)]
    Service(#[from] crate::service::ServiceError),
    #[error(transparent)]
    Engine(#[from] crate::engine::EngineError),
    #[error("storage failed")]
    Store(#[from] crate::store::StoreError),
    #[error("the drift notice for {request} was not sent")]
    Notify {
        request: String,
        #[source]
        source: crate::notify::NotifyError,
    },
}
