//! The provisioning engine: runs of playbooks, step by step, each step a forward action with
//! its undo (the model is oxidecomputer/steno and omicron's sagas).
//!
//! - [`playbook`]: YAML schema, loading and checking, reference resolution.
//! - [`action`]: the `Action` trait and the registry of actions by name.
//! - [`run_log`]: step and run status derived from the append-only run log.
//! - [`executor`]: drives one run: next step, retries, gates, unwinding, crash-safe bookkeeping.
//! - [`control`]: what operators do to a run: retry a step, skip it, unwind, retry or resolve
//!   a failed undo — and which of these the run and its request allow now.
//! - [`report`]: a request's runs with their allowed actions, as every front end shows them.
//! - [`worker`]: claims runs with a lease (`FOR UPDATE SKIP LOCKED` on PostgreSQL).
//! - [`retry`], [`locks`]: backoff policy, per-device serialisation.
//! - [`step_error`]: a step's typed error: its cause (retry or not) and the driver's error chain.
//! - [`drivers`]: the configured drivers actions reach the world through.
//! - [`early`]: opens the sessions a run will need, concurrently, before its steps need them.
//! - [`devices`]: drivers from the inventory's `devices:`, with secrets from the sealed store.
//!
//! Owns the run log; must not change a request's lifecycle except through the service layer.

pub mod action;
pub mod check;
pub mod control;
pub mod devices;
pub mod drivers;
pub mod early;
pub mod executor;
pub mod locks;
pub mod playbook;
pub mod report;
pub mod retry;
pub mod run_log;
pub mod step_error;
pub mod worker;

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

pub use action::{Action, ActionCtx, BoxFuture, Outcome, Param, ParamKind, Registry, StepError};
pub use control::RunAction;
pub use executor::{Progress, ProgressPhase};
pub use playbook::{Playbook, PlaybookError};
pub use run_log::{RunStatus, RunView, StepStatus, StepView};
pub use step_error::{Cause, Classify};

use crate::firewall::{FirewallDriver, Nftables};
use crate::lab::Lab;
use crate::service::{Service, ServiceError};
use crate::ssh::{SshPool, SshTarget};
use crate::switch::{OvsSsh, Ovsdb, SwitchDriver};
use crate::store::StoreError;

/// The drivers actions reach the world through, configured once per process.
#[derive(Default, Clone)]
pub struct Drivers {
    /// DNS providers by name (playbooks say `provider: primary`), with the zones each serves.
    pub dns: BTreeMap<String, Arc<drivers::DnsTarget>>,
    /// Switches by device name (`sw-r01`).
    pub switches: BTreeMap<String, Arc<SwitchDriver>>,
    /// Firewalls by device name (`fw-1`).
    pub firewalls: BTreeMap<String, Arc<FirewallDriver>>,
    /// The SSH session pool every SSH driver shares: one connection per device, across runs.
    pub ssh: Arc<SshPool>,
    /// SSH targets of customer servers by server name (`srv-sipd`), for inspection (SOP step 8).
    pub servers: BTreeMap<String, SshTarget>,
    /// Where SOP notices go (SMTP, webhook); unconfigured by default (the `notify` step says so).
    pub notify: crate::notify::Notifier,
    /// The hosting platform's Kubernetes cluster (`hosting_platform.kubernetes`), if any.
    pub kubernetes: Option<Arc<crate::hosting::Cluster>>,
}

impl Drivers {
    /// Everything the local lab offers: the DNS providers of [`Drivers::dns_from_lab`], switch
    /// `sw-r01` (Open vSwitch over SSH) and `sw-r01-ovsdb` (the same switch over OVSDB
    /// JSON-RPC), firewall `fw-1` (nftables over SSH, own table) and `fw-2` (klk-fw2, `jump` into
    /// the operator's ruleset), with the stock-sshd profile `sw-r01-stock` and `fw-1-stock` (the
    /// same switch and firewall behind Debian's shipped `sshd_config` on port 2222), customer
    /// servers `srv-sipd` and `srv-lama` (inspection), all SSH devices on one pool; notices go to
    /// the lab's SMTP sink (STARTTLS, AUTH).
    pub fn from_lab(lab: &Lab) -> Result<Self, drivers::DriverConfigError> {
        let mut d = Self::dns_from_lab(lab)?;
        let sw = lab.host("sw")?;
        let ovsdb = sw.ovsdb.as_deref().unwrap_or_default();
        let ovsdb = ovsdb.parse().map_err(|_| drivers::DriverConfigError::Invalid { name: "sw-r01-ovsdb".into(), message: format!("{ovsdb:?} is not host:port") })?;
        let sw_ssh = SwitchDriver::OvsSsh(OvsSsh::new(SshTarget::from_lab(lab, "sw", "sw-r01")?, d.ssh.clone()));
        let sw_ovsdb = SwitchDriver::Ovsdb(Ovsdb::new("sw-r01-ovsdb", ovsdb, std::time::Duration::from_secs(10)));
        let fw = FirewallDriver::Nftables(Nftables::new(SshTarget::from_lab(lab, "fw", "fw-1")?, d.ssh.clone()));
        d.switches.insert("sw-r01".into(), Arc::new(sw_ssh));
        d.switches.insert("sw-r01-ovsdb".into(), Arc::new(sw_ovsdb));
        d.firewalls.insert("fw-1".into(), Arc::new(fw));
        if let Some(op) = &lab.operator_firewall {
            d.firewalls.insert("fw-2".into(), Arc::new(FirewallDriver::Nftables(lab_operator_firewall(lab, op, &d.ssh)?)));
        }
        if let Some(stock) = &lab.stock_sshd {
            let sw = SwitchDriver::OvsSsh(OvsSsh::new(SshTarget::from_lab(lab, &stock.switch_host, "sw-r01-stock")?, d.ssh.clone()));
            let fw = FirewallDriver::Nftables(Nftables::new(SshTarget::from_lab(lab, &stock.firewall_host, "fw-1-stock")?, d.ssh.clone()));
            d.switches.insert("sw-r01-stock".into(), Arc::new(sw));
            d.firewalls.insert("fw-1-stock".into(), Arc::new(fw));
        }
        d.servers.insert("srv-sipd".into(), SshTarget::from_lab(lab, "srv1", "srv-sipd")?);
        d.servers.insert("srv-lama".into(), SshTarget::from_lab(lab, "srv2", "srv-lama")?);
        d.notify = crate::notify::Notifier::from_lab(lab)
            .map_err(|e| drivers::DriverConfigError::Invalid { name: "smtp".into(), message: e.to_string() })?;
        Ok(d)
    }
}

/// klk-fw2 in `jump` mode: one jump in the operator's `inet filter forward`, before the
/// operator's closing reject.
fn lab_operator_firewall(lab: &Lab, op: &crate::lab::OperatorFirewall, ssh: &Arc<crate::ssh::SshPool>) -> Result<Nftables, drivers::DriverConfigError> {
    use crate::firewall::integration::{Integration, NftComment, NftName, RuleAnchor};
    let invalid = |e: crate::firewall::integration::IntegrationError| drivers::DriverConfigError::Invalid { name: "fw-2".into(), message: e.to_string() };
    let family = serde_json::from_value(serde_json::Value::String(op.family.clone()))
        .map_err(|e| drivers::DriverConfigError::Invalid { name: "fw-2".into(), message: e.to_string() })?;
    let integration = Integration::Jump {
        family,
        table: NftName::parse(&op.table).map_err(invalid)?,
        chain: NftName::parse(&op.base_chain).map_err(invalid)?,
        before: Some(RuleAnchor { handle: None, comment: Some(NftComment::parse(&op.before_comment).map_err(invalid)?) }),
        keep_jump: false,
    };
    Ok(Nftables::with_integration(SshTarget::from_lab(lab, &op.host, "fw-2")?, ssh.clone(), integration))
}

/// What actions may use.
pub struct Env {
    pub service: Service,
    pub drivers: Drivers,
    pub locks: locks::DeviceLocks,
    /// The actions, by name (decommissioning looks up the provisioning steps' actions here).
    pub registry: Registry,
}

#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    #[error(transparent)]
    Playbook(#[from] PlaybookError),
    #[error(transparent)]
    Service(#[from] ServiceError),
    #[error("storage failed")]
    Store(#[from] StoreError),
    #[error("{0}")]
    Invalid(String),
    #[error("run {0} is held by another worker")]
    Leased(String),
    #[error("stored run definition is corrupt: {0}")]
    Corrupt(String),
}

/// The engine of one process.
#[derive(Clone)]
pub struct Engine {
    pub env: Arc<Env>,
    pub playbooks: Arc<BTreeMap<String, Playbook>>,
    /// This process's worker identity (lease owner).
    pub owner: String,
    pub retry: retry::RetryPolicy,
    pub lease: time::Duration,
    /// Steps this process runs at once, over all its runs: concurrent steps multiply the
    /// database work in flight, and a small SQLite pool must not be queued on past its timeout.
    pub step_slots: Arc<tokio::sync::Semaphore>,
}

/// The default of [`Engine::step_slots`].
pub const STEP_SLOTS: usize = 64;

/// The playbooks shipped with kolokasi, for when no `playbook_dir` is configured.
pub const BUILTIN_PLAYBOOKS: &[(&str, &str)] = &[
    ("playbooks/colocation.yaml", include_str!("../../playbooks/colocation.yaml")),
    ("playbooks/hosting.yaml", include_str!("../../playbooks/hosting.yaml")),
    ("playbooks/decommission.yaml", include_str!("../../playbooks/decommission.yaml")),
];

impl Engine {
    /// Builds the engine and tells the service which playbook runs to create on which events.
    pub fn new(service: Service, drivers: Drivers, registry: Registry, playbooks: Vec<Playbook>) -> Result<Self, EngineError> {
        let map: BTreeMap<String, Playbook> = playbooks.into_iter().map(|p| (p.name.clone(), p)).collect();
        for needed in ["colocation", "hosting", "decommission"] {
            if !map.contains_key(needed) {
                return Err(EngineError::Invalid(format!("the playbook {needed:?} is missing")));
            }
        }
        let zones = drivers.dns.values().flat_map(|t| t.zones.forward.iter().cloned()).collect();
        let service = service.with_run_definitions(definitions(map.values())).with_dns_zones(zones);
        let owner = format!("{}-{}", hostname(), std::process::id());
        Ok(Self {
            env: Arc::new(Env { service, drivers, locks: locks::DeviceLocks::default(), registry }),
            playbooks: Arc::new(map),
            owner,
            retry: retry::RetryPolicy::default(),
            lease: time::Duration::seconds(30),
            step_slots: Arc::new(tokio::sync::Semaphore::new(STEP_SLOTS)),
        })
    }

    pub fn service(&self) -> &Service {
        &self.env.service
    }

    /// Loads and checks playbooks from a folder, or the built-in ones.
    pub fn load_playbooks(dir: Option<&Path>, registry: &Registry) -> Result<Vec<Playbook>, PlaybookError> {
        match dir {
            Some(dir) => {
                let mut out = Vec::new();
                let entries = std::fs::read_dir(dir).map_err(|e| PlaybookError::Read { file: dir.display().to_string(), message: e.to_string() })?;
                let mut paths: Vec<_> = entries.filter_map(|e| e.ok().map(|e| e.path())).filter(|p| p.extension().is_some_and(|x| x == "yaml")).collect();
                paths.sort();
                for p in paths {
                    out.push(Playbook::load(&p, registry)?);
                }
                Ok(out)
            }
            None => BUILTIN_PLAYBOOKS.iter().map(|(file, text)| Playbook::parse(text, file, registry)).collect(),
        }
    }
}

/// Playbook definitions by name, as runs store them.
pub fn definitions<'a>(playbooks: impl IntoIterator<Item = &'a Playbook>) -> BTreeMap<String, String> {
    playbooks.into_iter().map(|p| (p.name.clone(), serde_json::to_string(p).expect("serialisable"))).collect()
}

fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname").map(|s| s.trim().to_string()).unwrap_or_else(|_| "kolokasi".into())
}
