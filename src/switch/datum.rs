//! The Port row in OVSDB's JSON encoding (RFC 7047 §5.1), which `ovs-vsctl --format=json
//! --data=json` prints too, so both OVS drivers read and write ports through this one mapping:
//! row → [`SwitchPortState`] and desired state → column values.

use std::collections::BTreeMap;

use serde_json::{Value, json};

use super::port::{InterfaceName, PortVlans, SwitchPortState, VlanMode};
use super::SwitchError;
use crate::ipam::Vlan;
use crate::ssh::RequestTag;

/// The Port columns kolokasi reads.
pub(super) const COLUMNS: [&str; 5] = ["name", "tag", "trunks", "vlan_mode", "external_ids"];

/// The `external_ids` keys kolokasi manages; all others are left alone.
pub(super) const KEY_DESCRIPTION: &str = "description";
pub(super) const KEY_REQUEST: &str = "kolokasi-request";
pub(super) const KEY_PREVIOUS: &str = "kolokasi-previous";
pub(super) const KEY_DISABLED: &str = "kolokasi-disabled";

/// What to write to a Port row to reach a state.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct PortColumns {
    pub tag: Option<u16>,
    pub trunks: Vec<u16>,
    pub vlan_mode: Option<&'static str>,
    /// Each managed key with its value, or `None` to remove it.
    pub external_ids: Vec<(&'static str, Option<String>)>,
}

impl PortColumns {
    pub(super) fn for_state(state: &SwitchPortState) -> Self {
        let live = if state.enabled { state.vlans.clone() } else { PortVlans::parked() };
        Self {
            tag: live.tag.map(u16::from),
            trunks: live.trunks.iter().map(|v| v.get()).collect(),
            vlan_mode: live.vlan_mode.map(VlanMode::as_str),
            external_ids: vec![
                (KEY_DESCRIPTION, state.description.clone()),
                (KEY_REQUEST, state.request.as_ref().map(|r| r.to_string())),
                (KEY_PREVIOUS, state.previous.as_deref().map(to_json_text)),
                (KEY_DISABLED, (!state.enabled).then(|| to_json_text(&state.vlans))),
            ],
        }
    }

    /// The OVSDB datum of each written column.
    pub(super) fn tag_datum(&self) -> Value {
        self.tag.map_or_else(|| json!(["set", []]), |t| json!(t))
    }

    pub(super) fn trunks_datum(&self) -> Value {
        json!(["set", self.trunks])
    }

    pub(super) fn vlan_mode_datum(&self) -> Value {
        self.vlan_mode.map_or_else(|| json!(["set", []]), |m| json!(m))
    }
}

/// kolokasi's own bookkeeping values as JSON text (these types always serialise).
fn to_json_text<T: serde::Serialize>(value: &T) -> String {
    serde_json::to_string(value).expect("serialisable")
}

/// Reads a Port row (column name → datum) into a state.
pub(super) fn state_from_row(device: &str, port: &InterfaceName, row: &BTreeMap<String, Value>) -> Result<SwitchPortState, SwitchError> {
    let bad = |message: String| SwitchError::Unexpected { device: device.to_string(), message: format!("port {port}: {message}") };
    let col = |name: &str| row.get(name).ok_or_else(|| bad(format!("column {name} is missing")));
    let vlan = |n: i64| u16::try_from(n).ok().and_then(|n| Vlan::try_from(n).ok()).ok_or_else(|| bad(format!("VLAN {n} is out of range")));

    let tag = atoms(col("tag")?).iter().map(|a| a.as_i64().ok_or_else(|| bad("tag is not an integer".into())).and_then(vlan)).next().transpose()?;
    let trunks = atoms(col("trunks")?)
        .iter()
        .map(|a| a.as_i64().ok_or_else(|| bad("trunks hold a non-integer".into())).and_then(vlan))
        .collect::<Result<Vec<_>, _>>()?;
    let vlan_mode = match atoms(col("vlan_mode")?).first() {
        None => None,
        Some(m) => Some(m.as_str().and_then(VlanMode::parse).ok_or_else(|| bad(format!("unknown vlan_mode {m}")))?),
    };
    let ids = string_map(col("external_ids")?).ok_or_else(|| bad("external_ids is not a string map".into()))?;
    let corrupt = |key: &str, message: String| SwitchError::Corrupt { device: device.to_string(), port: port.to_string(), key: key.to_string(), message };

    let live = PortVlans { tag, trunks, vlan_mode }.normalised();
    // A port counts as disabled only while it is actually parked; a stale marker on a port
    // someone re-tagged by hand is reported as the live setting it is.
    let parked = match ids.get(KEY_DISABLED) {
        Some(saved) if live == PortVlans::parked() => {
            Some(serde_json::from_str::<PortVlans>(saved).map_err(|e| corrupt(KEY_DISABLED, e.to_string()))?.normalised())
        }
        _ => None,
    };
    let request = ids.get(KEY_REQUEST).map(|r| RequestTag::parse(r).map_err(|e| corrupt(KEY_REQUEST, e.to_string()))).transpose()?;
    let previous = ids
        .get(KEY_PREVIOUS)
        .map(|p| serde_json::from_str::<SwitchPortState>(p).map(Box::new).map_err(|e| corrupt(KEY_PREVIOUS, e.to_string())))
        .transpose()?;
    Ok(SwitchPortState {
        port: port.clone(),
        exists: true,
        enabled: parked.is_none(),
        vlans: parked.unwrap_or(live),
        description: ids.get(KEY_DESCRIPTION).cloned(),
        request,
        previous,
    })
}

/// The atoms of a set datum: `["set", [a, b]]`, or a bare atom for a one-element set.
fn atoms(datum: &Value) -> Vec<Value> {
    match datum {
        Value::Array(a) if a.len() == 2 && a[0] == "set" => a[1].as_array().cloned().unwrap_or_default(),
        other => vec![other.clone()],
    }
}

/// A `["map", [[k, v], …]]` datum of strings.
fn string_map(datum: &Value) -> Option<BTreeMap<String, String>> {
    let pairs = match datum {
        Value::Array(a) if a.len() == 2 && a[0] == "map" => a[1].as_array()?,
        _ => return None,
    };
    pairs
        .iter()
        .map(|p| {
            let p = p.as_array()?;
            Some((p.first()?.as_str()?.to_string(), p.get(1)?.as_str()?.to_string()))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::switch::port::{PortMode, PortPattern};

    fn row(tag: Value, trunks: Value, mode: Value, ids: Value) -> BTreeMap<String, Value> {
        COLUMNS.iter().map(|c| c.to_string()).zip([json!("r1p3"), tag, trunks, mode, ids]).collect()
    }

    #[test]
    fn reads_the_lab_default_and_written_states_back() {
        let port = InterfaceName::parse(PortPattern::Ovs, "r1p3").unwrap();
        let plain = state_from_row("sw", &port, &row(json!(1), json!(["set", []]), json!(["set", []]), json!(["map", []]))).unwrap();
        assert_eq!(plain.access_vlan(), Some(Vlan::new(1).unwrap()));
        assert!(plain.enabled && plain.request.is_none() && plain.description.is_none());

        // A disabled trunk: written as parked, read back as the trunk it returns to.
        let mut want = plain.clone();
        want.vlans = PortVlans::from(&PortMode::Trunk(vec![Vlan::new(10).unwrap(), Vlan::new(20).unwrap()]));
        want.enabled = false;
        want.request = Some(RequestTag::parse("KLK-2026-00001").unwrap());
        want.previous = Some(Box::new(plain.clone()));
        want.description = Some("a \"quoted\" one".into());
        let cols = PortColumns::for_state(&want);
        assert_eq!(cols.tag, Some(4094));
        let ids: Vec<Value> = cols.external_ids.iter().filter_map(|(k, v)| v.as_ref().map(|v| json!([k, v]))).collect();
        let written = row(cols.tag_datum(), cols.trunks_datum(), cols.vlan_mode_datum(), json!(["map", ids]));
        assert_eq!(state_from_row("sw", &port, &written).unwrap(), want);
    }
}
