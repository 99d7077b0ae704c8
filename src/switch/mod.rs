//! Switch ports: one `SwitchDriver` per switch, each reading and writing the same
//! [`SwitchPortState`], so any driver can check any other's work.
//!
//! - [`port`]: typed values (interface names per device model, VLAN settings, descriptions).
//! - [`ovs_ssh`]: Open vSwitch through `ovs-vsctl` over the SSH pool.
//! - [`ovsdb`]: Open vSwitch through OVSDB JSON-RPC (RFC 7047) over TCP.
//! - [`ios_cli`]: Cisco IOS-style switches through their CLI (an interactive SSH shell).
//! - `datum`: the Port row ↔ state mapping both OVS drivers share.
//!
//! Every change is read back and compared with what was asked for; a mismatch is an error.
//! The port remembers its owner and its state before that owner (`external_ids`), so a
//! forward step re-run after a crash finds its own work, and an undo can always restore.
//! Owns port configuration only; must not create or delete ports or bridges.

mod datum;
pub mod ios_cli;
pub mod ovs_ssh;
pub mod ovsdb;
pub mod port;

pub use ios_cli::{IosCli, IosCliError};
pub use ovs_ssh::OvsSsh;
pub use ovsdb::Ovsdb;
pub use port::{
    InterfaceName, PortDescription, PortMode, PortPattern, PortValueError, PortVlans, SwitchPortConfig, SwitchPortState, VlanMode,
    parking_vlan,
};

use crate::ssh::{RequestTag, SshError};

#[derive(Debug, thiserror::Error)]
pub enum SwitchError {
    #[error(transparent)]
    Value(#[from] PortValueError),
    #[error(transparent)]
    Ssh(#[from] SshError),
    #[error(transparent)]
    IosCli(#[from] IosCliError),
    #[error("cannot reach OVSDB of {device} at {address}")]
    OvsdbConnect {
        device: String,
        address: std::net::SocketAddr,
        #[source]
        source: std::io::Error,
    },
    #[error("OVSDB of {device} did not answer within {after:?}")]
    OvsdbTimeout { device: String, after: std::time::Duration },
    #[error("OVSDB of {device} refused the transaction: {message}")]
    OvsdbRefused { device: String, message: String },
    #[error("unexpected answer from {device}: {message}")]
    Unexpected { device: String, message: String },
    #[error("{device} has no port {port}")]
    PortMissing { device: String, port: String },
    #[error("port {port} on {device} belongs to request {owner}")]
    PortHeld { device: String, port: String, owner: RequestTag },
    #[error("port {port} on {device} carries request {request} but its saved previous state is gone")]
    PreviousLost { device: String, port: String, request: RequestTag },
    #[error("external_ids:{key} of port {port} on {device} is corrupt: {message}")]
    Corrupt { device: String, port: String, key: String, message: String },
    #[error("port {port} on {device} reads back differently than written: expected {expected}, got {got}")]
    Verify { device: String, port: String, expected: String, got: String },
}

impl SwitchError {
    pub fn is_retryable(&self) -> bool {
        match self {
            Self::Ssh(e) => e.is_retryable(),
            Self::IosCli(e) => e.is_retryable(),
            Self::OvsdbConnect { .. } | Self::OvsdbTimeout { .. } => true,
            _ => false,
        }
    }
}

/// What a `switch_port` step saves in the run log, and what undo and drift checks read back:
/// the device and port it set, the access VLAN, and the port as it was before (what undo
/// restores).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct SwitchStepOutput {
    pub device: String,
    pub port: String,
    pub vlan: u16,
    pub previous: SwitchPortState,
}

impl crate::domain::SavedOutput for SwitchStepOutput {}

/// The result of [`SwitchDriver::apply`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Applied {
    /// The port before the request first changed it: what an undo restores.
    pub previous: SwitchPortState,
    /// The port now, as read back.
    pub state: SwitchPortState,
    /// False when the port already was as asked (a re-run).
    pub changed: bool,
}

/// A switch, by how kolokasi talks to it.
pub enum SwitchDriver {
    OvsSsh(OvsSsh),
    IosCli(IosCli),
    Ovsdb(Ovsdb),
}

impl SwitchDriver {
    /// The SSH target, for a switch driven over the shared SSH pool (`ovs-ssh`).
    pub fn ssh_target(&self) -> Option<(&crate::ssh::SshTarget, &std::sync::Arc<crate::ssh::SshPool>)> {
        match self {
            Self::OvsSsh(d) => Some(d.session()),
            Self::IosCli(_) | Self::Ovsdb(_) => None,
        }
    }

    /// The device name (for errors and per-device serialisation).
    pub fn device(&self) -> &str {
        match self {
            Self::OvsSsh(d) => d.device(),
            Self::IosCli(d) => d.device(),
            Self::Ovsdb(d) => d.device(),
        }
    }

    pub fn port_pattern(&self) -> PortPattern {
        match self {
            Self::OvsSsh(_) | Self::Ovsdb(_) => PortPattern::Ovs,
            Self::IosCli(_) => PortPattern::Ios,
        }
    }

    /// Parses a port name with this switch's naming rules.
    pub fn port(&self, name: &str) -> Result<InterfaceName, SwitchError> {
        Ok(InterfaceName::parse(self.port_pattern(), name)?)
    }

    /// The port as the switch holds it now.
    pub async fn read(&self, port: &InterfaceName) -> Result<SwitchPortState, SwitchError> {
        match self {
            Self::OvsSsh(d) => d.read(port).await,
            Self::IosCli(d) => d.read(port).await,
            Self::Ovsdb(d) => d.read(port).await,
        }
    }

    /// Several ports with as few reads as the driver allows: one read of every port for Open
    /// vSwitch (SSH or OVSDB), one read per port on the open CLI session otherwise. A port the
    /// switch does not have reads as missing.
    pub async fn read_many(&self, ports: &[InterfaceName]) -> Result<Vec<SwitchPortState>, SwitchError> {
        let rows = match self {
            Self::OvsSsh(d) => d.read_all().await?,
            Self::Ovsdb(d) => d.read_all().await?,
            Self::IosCli(d) => {
                let mut out = Vec::with_capacity(ports.len());
                for p in ports {
                    out.push(d.read(p).await?);
                }
                return Ok(out);
            }
        };
        ports
            .iter()
            .map(|p| match rows.get(p.as_str()) {
                Some(row) => datum::state_from_row(self.device(), p, row),
                None => Ok(SwitchPortState::missing(p.clone())),
            })
            .collect()
    }

    /// Sets the port as `config` asks, on behalf of `config.request`, then reads it back and
    /// verifies. A port owned by another request is refused; one already owned by this request
    /// keeps the `previous` state saved when the request first took it.
    pub async fn apply(&self, config: &SwitchPortConfig) -> Result<Applied, SwitchError> {
        let current = self.read(&config.port).await?;
        if !current.exists {
            return Err(SwitchError::PortMissing { device: self.device().into(), port: config.port.to_string() });
        }
        let previous = match &current.request {
            None => current.without_bookkeeping(),
            Some(owner) if *owner == config.request => match &current.previous {
                Some(p) => (**p).clone(),
                None => {
                    return Err(SwitchError::PreviousLost { device: self.device().into(), port: config.port.to_string(), request: owner.clone() });
                }
            },
            Some(owner) => {
                return Err(SwitchError::PortHeld { device: self.device().into(), port: config.port.to_string(), owner: owner.clone() });
            }
        };
        let desired = SwitchPortState {
            port: config.port.clone(),
            exists: true,
            vlans: PortVlans::from(&config.mode),
            description: Some(config.description.to_string()),
            enabled: config.enabled,
            request: Some(config.request.clone()),
            previous: Some(Box::new(previous.clone())),
        };
        let changed = current != desired;
        let state = if changed { self.write_verified(&desired).await? } else { current };
        Ok(Applied { previous, state, changed })
    }

    /// Puts a port back as `state` describes it (an undo), then reads back and verifies.
    /// Nothing happens if it is already so, or if `state` says the port did not exist.
    pub async fn restore(&self, state: &SwitchPortState) -> Result<SwitchPortState, SwitchError> {
        let current = self.read(&state.port).await?;
        if !state.exists || !current.exists || current == *state {
            return Ok(current);
        }
        self.write_verified(state).await
    }

    async fn write_verified(&self, desired: &SwitchPortState) -> Result<SwitchPortState, SwitchError> {
        match self {
            Self::OvsSsh(d) => d.write(desired).await?,
            Self::IosCli(d) => d.write(desired).await?,
            Self::Ovsdb(d) => d.write(desired).await?,
        }
        let got = self.read(&desired.port).await?;
        if got != *desired {
            let show = |s: &SwitchPortState| serde_json::to_string(s).expect("serialisable");
            return Err(SwitchError::Verify { device: self.device().into(), port: desired.port.to_string(), expected: show(desired), got: show(&got) });
        }
        Ok(got)
    }
}
