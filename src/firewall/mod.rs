//! Firewalls: allow a request's services to an address, and take exactly that request's rules
//! away again.
//!
//! - [`rule`]: typed rules (`tcp/443` to an address from sources) and their comments.
//! - [`nftables`]: nftables over SSH (`nft -j`), in kolokasi's own table `inet kolokasi`, or in
//!   the operator's table (`jump`, `write_into`; see [`integration`], [`nft_layout`]).
//! - [`opnsense`]: OPNsense's firewall REST API, rules tagged by their description.
//!
//! Owns its own table on each firewall, or (in an operator's table) only the objects named
//! `kolokasi…` and the rules whose comments are kolokasi's; must never change anything else.

pub mod doctor;
pub mod integration;
mod nft_jump;
pub mod nft_layout;
mod nft_write_into;
pub mod nftables;
pub mod opnsense;
mod opnsense_check;
pub mod rule;
pub mod snapshot;

use std::net::IpAddr;

pub use nftables::{Allowed, InstalledRule, Nftables, StaleMapping};
pub use opnsense::{Opnsense, OpnsenseConfig, OpnsenseError, OpnsenseInterface};
pub use snapshot::FirewallSnapshot;
pub use rule::{FirewallRule, Protocol, RuleComment, RuleError, Service, parse_source};

use crate::ssh::{RequestTag, SshError};

#[derive(Debug, thiserror::Error)]
pub enum FirewallError {
    #[error(transparent)]
    Rule(#[from] RuleError),
    #[error(transparent)]
    Ssh(#[from] SshError),
    #[error(transparent)]
    Opnsense(#[from] OpnsenseError),
    #[error("a rule of request {got} was passed to allow for request {expected}")]
    OtherRequest { expected: RequestTag, got: RequestTag },
    #[error("{} is already guarded on {device} by chain {} ({})", mapping.address, mapping.chain, owner.as_ref().map_or("not a request's".to_string(), |o| format!("request {o}")))]
    AddressTaken { device: String, mapping: StaleMapping, owner: Option<RequestTag> },
    #[error("nft on {device} failed (exit status {status}): {stderr}")]
    Command { device: String, status: String, stderr: String },
    #[error("unexpected answer from {device}: {message}")]
    Unexpected { device: String, message: String },
}

impl FirewallError {
    pub fn is_retryable(&self) -> bool {
        match self {
            Self::Ssh(e) => e.is_retryable(),
            Self::Opnsense(e) => e.is_retryable(),
            _ => false,
        }
    }
}

/// A firewall, by how kolokasi talks to it.
pub enum FirewallDriver {
    Nftables(Nftables),
    Opnsense(Opnsense),
}

impl FirewallDriver {
    /// The SSH target, for a firewall driven over the shared SSH pool (nftables).
    pub fn ssh_target(&self) -> Option<(&crate::ssh::SshTarget, &std::sync::Arc<crate::ssh::SshPool>)> {
        match self {
            Self::Nftables(d) => Some(d.session()),
            Self::Opnsense(_) => None,
        }
    }

    pub fn device(&self) -> &str {
        match self {
            Self::Nftables(d) => d.device(),
            Self::Opnsense(d) => d.device(),
        }
    }

    /// Puts the request's rules in place; a re-run leaves the same rules.
    pub async fn allow(&self, request: &RequestTag, rules: &[FirewallRule]) -> Result<Allowed, FirewallError> {
        match self {
            Self::Nftables(d) => d.allow(request, rules).await,
            Self::Opnsense(d) => d.allow(request, rules).await,
        }
    }

    /// [`Self::allow`], replacing a mapping left by a request that no longer holds the address
    /// (nftables; OPNsense keeps each request's rules apart and never reports one).
    pub async fn take_over(&self, request: &RequestTag, rules: &[FirewallRule], stale: &StaleMapping) -> Result<Allowed, FirewallError> {
        match self {
            Self::Nftables(d) => d.take_over(request, rules, stale).await,
            Self::Opnsense(d) => d.allow(request, rules).await,
        }
    }

    /// Removes the request's rules (those guarding `destination`, or all); returns how many.
    pub async fn remove(&self, request: &RequestTag, destination: Option<IpAddr>) -> Result<usize, FirewallError> {
        match self {
            Self::Nftables(d) => d.remove(request, destination).await,
            Self::Opnsense(d) => d.remove(request, destination).await,
        }
    }

    /// What `allow` of `rules` would add, for `run plan` (nothing is read from the device).
    pub fn plan(&self, request: &RequestTag, rules: &[FirewallRule]) -> String {
        match self {
            Self::Nftables(d) => d.plan(request, rules),
            Self::Opnsense(d) => {
                let services: Vec<String> = rules.iter().map(|r| format!("pass {} to {}", r.service(), r.destination)).collect();
                format!("OPNsense {}: {} (descriptions kolokasi:{request}:…)", d.device(), services.join(", "))
            }
        }
    }

    /// Whether kolokasi's rules can work on this firewall as configured (`datacenter check`).
    pub async fn check(&self) -> Result<doctor::Diagnosis, FirewallError> {
        match self {
            Self::Nftables(d) => d.check().await,
            Self::Opnsense(d) => d.check().await,
        }
    }

    /// kolokasi's installed rules, every request's.
    pub async fn rules(&self) -> Result<Vec<InstalledRule>, FirewallError> {
        match self {
            Self::Nftables(d) => d.rules().await,
            Self::Opnsense(d) => d.rules().await,
        }
    }
}

/// What a `firewall_rules` step saves in the run log, and what drift checks read back: the
/// firewall, the destination address, how many of the request's rules are in place, and the
/// leftover chain of another request it replaced, if any.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct FirewallStepOutput {
    pub device: String,
    pub address: std::net::IpAddr,
    pub rules: usize,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub replaced_stale: Option<String>,
}

impl crate::domain::SavedOutput for FirewallStepOutput {}

