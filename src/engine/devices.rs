//! Drivers from the data-center inventory: each `devices:` entry names a switch, firewall or
//! DNS server, how kolokasi reaches it, and the secrets (from the sealed store) it logs in with.
//!
//! Owns the translation from `DeviceSpec` to configured drivers; must not read secrets from
//! anywhere but the store, nor print them (every error names the device and the secret only).

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::Drivers;
use super::drivers::{DnsTarget, DriverConfigError};
use crate::capacity::Inventory;
use crate::dns::{DnsProvider, PowerDns, PowerDnsConfig, Rfc2136, Rfc2136Config, ZoneSet};
use crate::firewall::{FirewallDriver, Nftables, Opnsense, OpnsenseConfig, OpnsenseInterface};
use crate::secrets::{Secret, SecretKind};
use crate::service::Service;
use crate::ssh::{HostKey, SshAuth, SshSettings, SshTarget};
use crate::switch::{IosCli, OvsSsh, Ovsdb, SwitchDriver};

/// How kolokasi talks to a device.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum DeviceKind {
    /// Open vSwitch, `ovs-vsctl` over SSH (switch).
    OvsSsh,
    /// Open vSwitch, OVSDB JSON-RPC over TCP (switch; no login).
    Ovsdb,
    /// An IOS-style CLI over SSH (switch).
    IosCli,
    /// nftables over SSH (firewall).
    Nftables,
    /// OPNsense HTTP API (firewall).
    Opnsense,
    /// RFC 2136 updates signed with TSIG (DNS).
    Rfc2136,
    /// PowerDNS HTTP API (DNS).
    Powerdns,
}

/// One device of the inventory (`devices:` in `datacenter.yaml`).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeviceSpec {
    /// The name playbooks and racks use (`sw-r01`, `fw-1`, `primary`).
    pub name: String,
    pub kind: DeviceKind,
    /// `host:port`; for `opnsense` and `powerdns` the API's URL.
    pub address: String,
    /// The login (SSH kinds).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
    /// The pinned SSH host key, `ssh-ed25519 AAAA…` (SSH kinds).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub host_key: Option<String>,
    /// The store's secret to log in with: an SSH key (kind ssh-key) or a password (kind
    /// password); the TSIG secret (rfc2136); the API key (opnsense, powerdns).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret: Option<String>,
    /// The OPNsense API secret; for `ios-cli`, the `enable` password if the login needs one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret2: Option<String>,
    /// The zones kolokasi may write (DNS kinds).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub zones: Option<ZoneSet>,
    /// The TSIG key's name (rfc2136).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tsig_key_name: Option<String>,
    /// `hmac-sha256` (the default), `hmac-sha384` or `hmac-sha512` (rfc2136).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tsig_algorithm: Option<String>,
    /// The DNS server's `host:port` that answers read-backs (powerdns).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dns_server: Option<String>,
    /// PowerDNS server id (default `localhost`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub server_id: Option<String>,
    /// The interface OPNsense rules filter on (default `wan`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub interface: Option<String>,
    /// OPNsense: the filter-rule sequence kolokasi's rules get (below the operator's block
    /// rules they must precede).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sequence: Option<u32>,
    /// A PEM file of the CA (or self-signed certificate) to trust for OPNsense's API.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ca_file: Option<std::path::PathBuf>,
    /// How kolokasi fits into an nftables firewall: `own_table` (the default), `jump` or
    /// `write_into` (see `firewall::integration`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub integration: Option<crate::firewall::integration::Integration>,
    /// Other names of a DNS device (playbooks say `provider: primary`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub aliases: Vec<String>,
}

const DNS_TIMEOUT: Duration = Duration::from_secs(3);
const API_TIMEOUT: Duration = Duration::from_secs(10);

impl DeviceSpec {
    fn invalid(&self, message: impl Into<String>) -> DriverConfigError {
        DriverConfigError::Invalid { name: self.name.clone(), message: message.into() }
    }

    fn field<'a>(&self, value: &'a Option<String>, field: &str) -> Result<&'a str, DriverConfigError> {
        value.as_deref().filter(|v| !v.trim().is_empty()).ok_or_else(|| self.invalid(format!("a {:?} device needs {field}", self.kind)))
    }

    async fn socket_address(&self, text: &str) -> Result<SocketAddr, DriverConfigError> {
        let mut found = tokio::net::lookup_host(text).await.map_err(|e| self.invalid(format!("{text:?} is not a reachable host:port ({e})")))?;
        found.next().ok_or_else(|| self.invalid(format!("{text:?} resolves to no address")))
    }

    async fn open(&self, service: &Service, name: &str) -> Result<(SecretKind, Secret), DriverConfigError> {
        let wrap = |source| DriverConfigError::Secret { device: self.name.clone(), secret: name.to_string(), source };
        Ok((service.secret_kind(name).await.map_err(wrap)?, service.secret(name).await.map_err(wrap)?))
    }

    async fn ssh_target(&self, service: &Service) -> Result<SshTarget, DriverConfigError> {
        let secret = self.field(&self.secret, "secret")?;
        let auth = match self.open(service, secret).await? {
            (SecretKind::SshKey, key) => SshAuth::KeyPem(key),
            (SecretKind::Password, password) => SshAuth::Password(password),
            (kind, _) => return Err(self.invalid(format!("secret {secret} is a {kind}, not an ssh-key or a password"))),
        };
        let host_key = HostKey::parse(self.field(&self.host_key, "host_key")?).map_err(|e| self.invalid(e.to_string()))?;
        Ok(SshTarget {
            name: self.name.clone(),
            address: self.socket_address(&self.address).await?,
            user: self.field(&self.user, "user")?.to_string(),
            auth,
            host_key,
        })
    }

    fn zones(&self) -> Result<ZoneSet, DriverConfigError> {
        match &self.zones {
            Some(z) if !z.forward.is_empty() || !z.reverse.is_empty() => Ok(z.clone()),
            _ => Err(self.invalid("a DNS device needs zones (forward and/or reverse)")),
        }
    }

    async fn dns(&self, service: &Service) -> Result<DnsTarget, DriverConfigError> {
        let invalid = |e: crate::dns::DnsError| self.invalid(e.to_string());
        let secret = self.open(service, self.field(&self.secret, "secret")?).await?.1;
        let provider = match self.kind {
            DeviceKind::Rfc2136 => DnsProvider::Rfc2136(
                Rfc2136::new(Rfc2136Config {
                    server: self.socket_address(&self.address).await?,
                    key_name: self.field(&self.tsig_key_name, "tsig_key_name")?.to_string(),
                    algorithm: self.tsig_algorithm.clone().unwrap_or_else(|| "hmac-sha256".into()),
                    secret,
                    timeout: DNS_TIMEOUT,
                })
                .map_err(invalid)?,
            ),
            _ => DnsProvider::PowerDns(
                PowerDns::new(PowerDnsConfig {
                    api_url: self.address.clone(),
                    api_key: secret,
                    server_id: self.server_id.clone().unwrap_or_else(|| "localhost".into()),
                    dns_server: self.socket_address(self.field(&self.dns_server, "dns_server")?).await?,
                    timeout: DNS_TIMEOUT,
                })
                .map_err(invalid)?,
            ),
        };
        Ok(DnsTarget { provider, zones: self.zones()? })
    }

    async fn opnsense(&self, service: &Service) -> Result<FirewallDriver, DriverConfigError> {
        let api_key = self.open(service, self.field(&self.secret, "secret")?).await?.1;
        let api_secret = self.open(service, self.field(&self.secret2, "secret2")?).await?.1;
        let ca_certificate_pem = match &self.ca_file {
            Some(path) => Some(std::fs::read_to_string(path).map_err(|e| self.invalid(format!("cannot read ca_file {}: {e}", path.display())))?),
            None => None,
        };
        let config = OpnsenseConfig {
            device: self.name.clone(),
            api_url: self.address.clone(),
            api_key,
            api_secret,
            interface: OpnsenseInterface::parse(self.interface.as_deref().unwrap_or("wan")).map_err(|e| self.invalid(e.to_string()))?,
            timeout: API_TIMEOUT,
            ca_certificate_pem,
            sequence: self.sequence,
        };
        Ok(FirewallDriver::Opnsense(Opnsense::new(config).map_err(|e| self.invalid(e.to_string()))?))
    }
}

impl Drivers {
    /// Every device of the inventory, with its secrets opened from the store. SSH devices share
    /// one session pool; an IOS switch keeps its own interactive session.
    pub async fn from_inventory(service: &Service, inventory: &Inventory) -> Result<Self, DriverConfigError> {
        let mut d = Self::default();
        for spec in &inventory.devices {
            let taken = |name: &str| d.switches.contains_key(name) || d.firewalls.contains_key(name) || d.dns.contains_key(name);
            if taken(&spec.name) || spec.aliases.iter().any(|a| taken(a)) {
                return Err(spec.invalid("another device has this name"));
            }
            if !spec.aliases.is_empty() && !matches!(spec.kind, DeviceKind::Rfc2136 | DeviceKind::Powerdns) {
                return Err(spec.invalid("only DNS devices may have aliases"));
            }
            if spec.integration.is_some() && spec.kind != DeviceKind::Nftables {
                return Err(spec.invalid("only nftables firewalls have an integration mode"));
            }
            if spec.sequence.is_some() && spec.kind != DeviceKind::Opnsense {
                return Err(spec.invalid("only OPNsense firewalls have a rule sequence"));
            }
            match spec.kind {
                DeviceKind::OvsSsh => {
                    let driver = SwitchDriver::OvsSsh(OvsSsh::new(spec.ssh_target(service).await?, d.ssh.clone()));
                    d.switches.insert(spec.name.clone(), Arc::new(driver));
                }
                DeviceKind::Ovsdb => {
                    let driver = SwitchDriver::Ovsdb(Ovsdb::new(spec.name.clone(), spec.socket_address(&spec.address).await?, API_TIMEOUT));
                    d.switches.insert(spec.name.clone(), Arc::new(driver));
                }
                DeviceKind::IosCli => {
                    let cli = IosCli::new(spec.ssh_target(service).await?, SshSettings::default());
                    let cli = match &spec.secret2 {
                        Some(name) => cli.with_enable_secret(spec.open(service, name).await?.1),
                        None => cli,
                    };
                    d.switches.insert(spec.name.clone(), Arc::new(SwitchDriver::IosCli(cli)));
                }
                DeviceKind::Nftables => {
                    let integration = spec.integration.clone().unwrap_or_default();
                    integration.validate().map_err(|e| spec.invalid(format!("integration: {e}")))?;
                    let driver = FirewallDriver::Nftables(Nftables::with_integration(spec.ssh_target(service).await?, d.ssh.clone(), integration));
                    d.firewalls.insert(spec.name.clone(), Arc::new(driver));
                }
                DeviceKind::Opnsense => {
                    d.firewalls.insert(spec.name.clone(), Arc::new(spec.opnsense(service).await?));
                }
                DeviceKind::Rfc2136 | DeviceKind::Powerdns => {
                    let target = Arc::new(spec.dns(service).await?);
                    for name in std::iter::once(&spec.name).chain(&spec.aliases) {
                        d.dns.insert(name.clone(), target.clone());
                    }
                }
            }
        }
        if let Some(k) = inventory.hosting_platform.as_ref().and_then(|h| h.kubernetes.as_ref()) {
            d.kubernetes = match crate::hosting::Cluster::new(k) {
                Ok(cluster) => Some(Arc::new(cluster)),
                // The hosting step says so when it runs; co-location still works.
                Err(crate::hosting::HostingError::NotBuilt) => None,
                Err(e) => return Err(DriverConfigError::Invalid { name: "kubernetes".into(), message: e.to_string() }),
            };
        }
        Ok(d)
    }
}
