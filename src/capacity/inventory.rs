//! The data-center inventory: sites (NOC), racks, power chain (UPS, genset), uplinks, and the
//! shared hosting platform. Loaded from YAML (`deploy/examples/datacenter.yaml`).
//!
//! Static occupancy (core switches, patch panels) lives here; what requests reserve lives in
//! the store, so the file stays the DC team's to edit.

use std::path::Path;

use serde::{Deserialize, Serialize};

#[derive(Debug, thiserror::Error)]
pub enum InventoryError {
    #[error("cannot read inventory {path}")]
    Read {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("inventory {path} is not valid: {message}")]
    Parse { path: String, message: String },
    #[error("inventory: {0}")]
    Invalid(String),
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Inventory {
    pub sites: Vec<Site>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hosting_platform: Option<HostingPlatform>,
    /// Address pools created in the store on first start (then edited with `kolokasi ipam`).
    #[serde(default)]
    pub ip_pools: Vec<crate::ipam::PoolSpec>,
    /// Switches, firewalls and DNS servers kolokasi drives, with the names of their secrets in
    /// the sealed store (`Drivers::from_inventory`).
    #[serde(default)]
    pub devices: Vec<crate::engine::devices::DeviceSpec>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Site {
    /// NOC code as printed on forms, e.g. "NOC-SMD".
    pub noc: String,
    pub name: String,
    pub ups: PowerSource,
    pub genset: PowerSource,
    /// Total uplink bandwidth to the Internet.
    pub uplink_mbps: u64,
    /// Bandwidth already committed outside kolokasi (existing services).
    #[serde(default)]
    pub uplink_committed_mbps: u64,
    /// The firewall protecting this site's server network (a device name the drivers know).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub firewall: Option<String>,
    pub racks: Vec<Rack>,
}

/// A UPS or genset, rated in kVA with a power factor (W = VA × pf), or directly in watts.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PowerSource {
    #[serde(default)]
    pub capacity_kva: Option<f64>,
    #[serde(default)]
    pub power_factor: Option<f64>,
    #[serde(default)]
    pub capacity_w: Option<u64>,
    /// Load already drawn by equipment not tracked as racks (cooling on the genset, say).
    #[serde(default)]
    pub base_load_w: u64,
}

impl PowerSource {
    pub fn capacity_watts(&self) -> u64 {
        match (self.capacity_w, self.capacity_kva) {
            (Some(w), _) => w,
            (None, Some(kva)) => (kva * 1000.0 * self.power_factor.unwrap_or(0.8)).floor() as u64,
            (None, None) => 0,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Rack {
    pub name: String,
    pub height_u: u8,
    pub power_budget_w: u64,
    #[serde(default)]
    pub occupied: Vec<Occupied>,
    /// The access switch serving this rack and its ports (for the switch step).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub switch: Option<String>,
}

/// U positions taken by equipment that is not a request (inclusive range, 1 = bottom).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Occupied {
    pub from_u: u8,
    pub to_u: u8,
    pub label: String,
    #[serde(default)]
    pub power_w: u64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HostingPlatform {
    pub noc: String,
    pub cpu_cores: u64,
    pub ram_gb: u64,
    pub storage_gb: u64,
    /// The Kubernetes cluster applications run on (the `hosting` playbook's `kubernetes_app`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kubernetes: Option<crate::hosting::KubernetesPlatform>,
}

impl Inventory {
    pub fn load(path: &Path) -> Result<Self, InventoryError> {
        let text = std::fs::read_to_string(path)
            .map_err(|source| InventoryError::Read { path: path.display().to_string(), source })?;
        Self::from_yaml(&text, &path.display().to_string())
    }

    pub fn from_yaml(text: &str, path: &str) -> Result<Self, InventoryError> {
        let inv: Self = serde_yaml_ng::from_str(text)
            .map_err(|e| InventoryError::Parse { path: path.to_string(), message: e.to_string() })?;
        inv.validate()?;
        Ok(inv)
    }

    /// The example inventory shipped in `deploy/examples/datacenter.yaml`.
    pub fn example() -> Self {
        Self::from_yaml(include_str!("../../deploy/examples/datacenter.yaml"), "deploy/examples/datacenter.yaml")
            .expect("shipped inventory is valid")
    }

    fn validate(&self) -> Result<(), InventoryError> {
        let bad = |m: String| Err(InventoryError::Invalid(m));
        for pool in &self.ip_pools {
            pool.validate().map_err(|e| InventoryError::Invalid(format!("ip pool {}: {e}", pool.name)))?;
        }
        if let Some(k) = self.hosting_platform.as_ref().and_then(|h| h.kubernetes.as_ref()) {
            k.validate().map_err(|m| InventoryError::Invalid(format!("hosting_platform.{m}")))?;
        }
        let mut nocs = std::collections::BTreeSet::new();
        for site in &self.sites {
            if !nocs.insert(site.noc.as_str()) {
                return bad(format!("NOC {} is listed twice", site.noc));
            }
            if site.ups.capacity_watts() == 0 || site.genset.capacity_watts() == 0 {
                return bad(format!("{}: UPS and genset need capacity_w or capacity_kva", site.noc));
            }
            let mut racks = std::collections::BTreeSet::new();
            for rack in &site.racks {
                if !racks.insert(rack.name.as_str()) {
                    return bad(format!("{}: rack {} is listed twice", site.noc, rack.name));
                }
                if rack.height_u == 0 || rack.height_u > 60 {
                    return bad(format!("{}/{}: height_u must be 1-60", site.noc, rack.name));
                }
                let mut taken = vec![false; usize::from(rack.height_u) + 1];
                for o in &rack.occupied {
                    if o.from_u == 0 || o.from_u > o.to_u || o.to_u > rack.height_u {
                        return bad(format!("{}/{}: occupied {}-{} is outside 1-{}", site.noc, rack.name, o.from_u, o.to_u, rack.height_u));
                    }
                    for u in o.from_u..=o.to_u {
                        if std::mem::replace(&mut taken[usize::from(u)], true) {
                            return bad(format!("{}/{}: U{u} is occupied twice", site.noc, rack.name));
                        }
                    }
                }
            }
        }
        Ok(())
    }

    pub fn site(&self, noc: &str) -> Option<&Site> {
        self.sites.iter().find(|s| s.noc == noc)
    }
}
