//! The local lab's description (`$KOLOKASI_LAB_DIR/lab.json`, written by `deploy/lab/lab.sh up`):
//! addresses, ports, keys and zones of the real servers the tests, the demo and the benchmarks
//! run against. Reading it fails with a message that says how to start the lab.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::secrets::Secret;

#[derive(Debug, Clone, Deserialize)]
pub struct Lab {
    pub lab_dir: PathBuf,
    pub bind: BindServer,
    pub powerdns: PowerDnsServer,
    pub zones: Zones,
    pub ssh: SshLogin,
    pub hosts: BTreeMap<String, LabHost>,
    pub ipam: LabIpam,
    #[serde(default)]
    pub smtp: Option<SmtpSink>,
    /// klk-fw2, the firewall with the operator's own default-deny ruleset, and the customer
    /// host behind it (absent in a lab built before that profile existed).
    #[serde(default)]
    pub operator_firewall: Option<OperatorFirewall>,
    /// The "stock sshd" profile: the switch and the firewall behind a second sshd with the
    /// distribution's default `sshd_config` (absent in a lab built before that profile).
    #[serde(default)]
    pub stock_sshd: Option<StockSshd>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct StockSshd {
    pub port: u16,
    /// The `hosts` entry of klk-sw behind the stock sshd.
    pub switch_host: String,
    /// The `hosts` entry of klk-fw behind the stock sshd.
    pub firewall_host: String,
    /// The distribution's file the configs were made from.
    pub stock_config: PathBuf,
    /// Each stock sshd's config, by host (`sw`, `fw`).
    #[serde(default)]
    pub configs: BTreeMap<String, PathBuf>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct OperatorFirewall {
    /// The `hosts` entry of the firewall.
    pub host: String,
    pub family: String,
    pub table: String,
    /// The operator's forward base chain (policy drop).
    pub base_chain: String,
    /// A regular chain the base chain jumps to (for `write_into`).
    pub regular_chain: String,
    /// The comment of the operator's last forward rule (a tcp reject), which kolokasi's jump
    /// must precede.
    pub before_comment: String,
    /// `nft -j list table` of the operator's table as the lab built it.
    pub pristine_listing_file: PathBuf,
    pub customer_net: String,
    pub customer_gateway: String,
    /// Every address here is the customer host's (tests allocate from it).
    pub customer_addresses: String,
    pub customer_host_address: String,
    pub customer_netns: String,
    /// Ports the customer host listens on: one a request declares, one it does not.
    pub open_port: u16,
    pub other_port: u16,
}

#[derive(Debug, Clone, Deserialize)]
pub struct BindServer {
    pub server: String,
    pub tsig_key_name: String,
    pub tsig_algorithm: String,
    pub tsig_secret_file: PathBuf,
}

#[derive(Debug, Clone, Deserialize)]
pub struct PowerDnsServer {
    pub server: String,
    pub api_url: String,
    pub api_key_file: PathBuf,
    pub server_id: String,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Zones {
    pub forward: String,
    pub reverse_v4: String,
    pub reverse_v6: String,
}

#[derive(Debug, Clone, Deserialize)]
pub struct SshLogin {
    pub user: String,
    pub private_key_file: PathBuf,
}

#[derive(Debug, Clone, Deserialize)]
pub struct LabHost {
    pub address: String,
    pub ssh_port: u16,
    pub host_key: String,
    pub netns: String,
    #[serde(default)]
    pub hostname: Option<String>,
    #[serde(default)]
    pub ovsdb: Option<String>,
    #[serde(default)]
    pub bridge: Option<String>,
    #[serde(default)]
    pub ports: Vec<String>,
    /// Customer servers: the host admin login a unit hands over (password auth).
    #[serde(default)]
    pub admin_user: Option<String>,
    #[serde(default)]
    pub admin_password_file: Option<std::path::PathBuf>,
    #[serde(default)]
    pub test_address: Option<String>,
    /// The host admin's private key files by type (`ed25519`, `rsa`), as a unit would hand
    /// them over for the inspection's key login (srv3).
    #[serde(default)]
    pub admin_key_files: BTreeMap<String, PathBuf>,
    /// An unprivileged login on the host (not root; sudo asks it for a password) and its
    /// password file (srv3).
    #[serde(default)]
    pub unprivileged_user: Option<String>,
    #[serde(default)]
    pub unprivileged_password_file: Option<PathBuf>,
    /// A login (same password as the unprivileged one) whose shell streams endlessly: a broken
    /// or hostile server (srv3).
    #[serde(default)]
    pub flood_user: Option<String>,
    /// A login (same password as the unprivileged one) that is not root but has password-less
    /// `sudo` (srv3).
    #[serde(default)]
    pub sudo_user: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct LabIpam {
    pub v4: String,
    pub v6: String,
}

#[derive(Debug, Clone, Deserialize)]
pub struct SmtpSink {
    pub server: String,
    pub maildir: PathBuf,
    /// `required`, `opportunistic` or `none`.
    #[serde(default)]
    pub starttls: Option<String>,
    #[serde(default)]
    pub username: Option<String>,
    #[serde(default)]
    pub password_file: Option<PathBuf>,
    /// The lab CA that signed the sink's certificate.
    #[serde(default)]
    pub ca_file: Option<PathBuf>,
    #[serde(default)]
    pub from: Option<String>,
    #[serde(default)]
    pub head_email: Option<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum LabError {
    #[error("the lab is not up ({path} is missing): start it with `bash deploy/lab/lab.sh up` (as root)")]
    NotUp { path: String },
    #[error("cannot read {path}")]
    Read {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("{path} is not a valid lab description: {message}")]
    Parse { path: String, message: String },
    #[error("the lab has no host {0:?}")]
    NoHost(String),
}

impl Lab {
    /// The lab folder: `KOLOKASI_LAB_DIR`, else `/tmp/kolokasi-lab`.
    pub fn dir() -> PathBuf {
        std::env::var_os("KOLOKASI_LAB_DIR").map(PathBuf::from).unwrap_or_else(|| PathBuf::from("/tmp/kolokasi-lab"))
    }

    pub fn load() -> Result<Self, LabError> {
        Self::load_from(&Self::dir().join("lab.json"))
    }

    pub fn load_from(path: &Path) -> Result<Self, LabError> {
        let p = path.display().to_string();
        if !path.exists() {
            return Err(LabError::NotUp { path: p });
        }
        let text = std::fs::read_to_string(path).map_err(|source| LabError::Read { path: p.clone(), source })?;
        serde_json::from_str(&text).map_err(|e| LabError::Parse { path: p, message: e.to_string() })
    }

    /// The operator-firewall profile; fails with the message that says how to add it.
    pub fn operator_firewall(&self) -> Result<&OperatorFirewall, LabError> {
        self.operator_firewall.as_ref().ok_or_else(|| LabError::NoHost("fw2 (operator_firewall: run `bash deploy/lab/lab.sh up` to add it)".into()))
    }

    /// The stock-sshd profile; fails with the message that says how to add it.
    pub fn stock_sshd(&self) -> Result<&StockSshd, LabError> {
        self.stock_sshd.as_ref().ok_or_else(|| LabError::NoHost("sw_stock/fw_stock (stock_sshd: run `bash deploy/lab/lab.sh up` to add the stock sshd profile)".into()))
    }

    pub fn host(&self, name: &str) -> Result<&LabHost, LabError> {
        self.hosts.get(name).ok_or_else(|| LabError::NoHost(name.to_string()))
    }

    fn read_secret(path: &Path) -> Result<Secret, LabError> {
        let text = std::fs::read_to_string(path).map_err(|source| LabError::Read { path: path.display().to_string(), source })?;
        Ok(Secret::new(text.trim()))
    }

    pub fn tsig_secret(&self) -> Result<Secret, LabError> {
        Self::read_secret(&self.bind.tsig_secret_file)
    }

    pub fn powerdns_api_key(&self) -> Result<Secret, LabError> {
        Self::read_secret(&self.powerdns.api_key_file)
    }
}
