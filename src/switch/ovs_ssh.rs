//! Open vSwitch through `ovs-vsctl` over the SSH pool. One `ovs-vsctl` call per read and per
//! write; a write is a single call with `--`-separated commands, so OVSDB applies it as one
//! transaction (all or nothing), and `ovs-vsctl` waits until ovs-vswitchd has taken it.
//!
//! The wait stays (no `--no-wait`), decided on purpose: the read-back does not need it (it
//! reads OVSDB, which holds the change as soon as the transaction commits), but without it the
//! step would report a port as configured before ovs-vswitchd has put the VLAN on the data
//! path, and the next step (inspecting the server through that port) could race it. It costs
//! ovs-vswitchd's reconfiguration (a few ms here), which is the device's time, not transport
//! overhead. Reads never wait: a read-only `ovs-vsctl` leaves `next_cfg` alone (checked on the
//! lab), so `--no-wait` would change nothing there.

use std::collections::BTreeMap;
use std::sync::Arc;

use serde_json::Value;

use super::datum::{self, PortColumns};
use super::{InterfaceName, SwitchError, SwitchPortState};
use crate::ssh::{RemoteCommand, SshPool, SshTarget};

pub struct OvsSsh {
    target: SshTarget,
    pool: Arc<SshPool>,
}

/// ovs-vsctl's own wait for the database and ovs-vswitchd, in seconds.
const VSCTL_TIMEOUT: &str = "--timeout=10";

impl OvsSsh {
    /// The device's SSH target and the pool its sessions live in (for opening them early).
    pub fn session(&self) -> (&SshTarget, &Arc<SshPool>) {
        (&self.target, &self.pool)
    }

    pub fn new(target: SshTarget, pool: Arc<SshPool>) -> Self {
        Self { target, pool }
    }

    pub fn device(&self) -> &str {
        &self.target.name
    }

    pub(super) async fn read(&self, port: &InterfaceName) -> Result<SwitchPortState, SwitchError> {
        let command = RemoteCommand::new("ovs-vsctl")
            .args([VSCTL_TIMEOUT, "--format=json", "--data=json"])
            .arg(format!("--columns={}", datum::COLUMNS.join(",")))
            .args(["find", "Port"])
            .arg(format!("name={}", vsctl_string(port.as_str())));
        let out = self.pool.exec_ok(&self.target, &command, None).await?;
        let bad = |message: String| SwitchError::Unexpected { device: self.device().into(), message };
        let table: Value = serde_json::from_str(&out.stdout).map_err(|e| bad(format!("ovs-vsctl printed no JSON: {e}")))?;
        let headings: Vec<String> = serde_json::from_value(table["headings"].clone()).map_err(|e| bad(format!("ovs-vsctl headings: {e}")))?;
        let Some(cells) = table["data"].as_array().and_then(|rows| rows.first()).and_then(Value::as_array) else {
            return Ok(SwitchPortState::missing(port.clone()));
        };
        let row: BTreeMap<String, Value> = headings.into_iter().zip(cells.iter().cloned()).collect();
        datum::state_from_row(self.device(), port, &row)
    }

    /// Every port of the switch in one `ovs-vsctl list Port` (the drift check's batched read).
    pub(super) async fn read_all(&self) -> Result<BTreeMap<String, BTreeMap<String, Value>>, SwitchError> {
        let command = RemoteCommand::new("ovs-vsctl")
            .args([VSCTL_TIMEOUT, "--format=json", "--data=json"])
            .arg(format!("--columns={}", datum::COLUMNS.join(",")))
            .args(["list", "Port"]);
        let out = self.pool.exec_ok(&self.target, &command, None).await?;
        let bad = |message: String| SwitchError::Unexpected { device: self.device().into(), message };
        let table: Value = serde_json::from_str(&out.stdout).map_err(|e| bad(format!("ovs-vsctl printed no JSON: {e}")))?;
        let headings: Vec<String> = serde_json::from_value(table["headings"].clone()).map_err(|e| bad(format!("ovs-vsctl headings: {e}")))?;
        let mut rows = BTreeMap::new();
        for cells in table["data"].as_array().into_iter().flatten().filter_map(Value::as_array) {
            let row: BTreeMap<String, Value> = headings.iter().cloned().zip(cells.iter().cloned()).collect();
            if let Some(name) = row.get("name").and_then(Value::as_str) {
                rows.insert(name.to_string(), row);
            }
        }
        Ok(rows)
    }

    pub(super) async fn write(&self, desired: &SwitchPortState) -> Result<(), SwitchError> {
        let cols = PortColumns::for_state(desired);
        let port = desired.port.as_str();
        let trunks = (!cols.trunks.is_empty()).then(|| cols.trunks.iter().map(u16::to_string).collect::<Vec<_>>().join(","));
        let mut command = RemoteCommand::new("ovs-vsctl").arg(VSCTL_TIMEOUT);
        command = set_or_clear(command, port, "tag", cols.tag.map(|t| t.to_string()));
        command = set_or_clear(command, port, "trunks", trunks);
        command = set_or_clear(command, port, "vlan_mode", cols.vlan_mode.map(str::to_string));
        for (key, value) in &cols.external_ids {
            command = match value {
                Some(v) => command.args(["--", "set", "Port", port]).arg(format!("external_ids:{key}={}", vsctl_string(v))),
                None => command.args(["--", "remove", "Port", port, "external_ids", key]),
            };
        }
        self.pool.exec_ok(&self.target, &command, None).await?;
        Ok(())
    }
}

/// `-- set Port P column=value`, or `-- clear Port P column` for an empty column.
fn set_or_clear(command: RemoteCommand, port: &str, column: &str, value: Option<String>) -> RemoteCommand {
    match value {
        Some(v) => command.args(["--", "set", "Port", port]).arg(format!("{column}={v}")),
        None => command.args(["--", "clear", "Port", port, column]),
    }
}

/// A value in ovs-vsctl's own syntax: a double-quoted string with JSON escapes, so `:`, `=`,
/// `,`, spaces and quotes inside it are data, not ovs-vsctl syntax. (The whole argument is then
/// shell-quoted by `RemoteCommand`.)
fn vsctl_string(text: &str) -> String {
    serde_json::to_string(text).expect("a string serialises")
}
