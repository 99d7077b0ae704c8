//! nftables over SSH, in JSON (`nft -j`): kolokasi owns the table `inet kolokasi` with a
//! `forward` and an `input` chain (filter hooks, priority 0, policy accept) and touches
//! nothing else. A destination that is an address of the firewall itself is filtered in
//! `input`, any other in `forward`.
//!
//! Per destination: one `accept` per allowed service, inserted at the head of its chain, and
//! one final `drop` for the destination, appended at the tail — so every accept of every
//! request comes before every drop. Each rule's comment is `kolokasi:<request>:<kind>`; that
//! is how `allow` finds what is already there (idempotent) and `remove` finds exactly one
//! request's rules (deleted by handle). Changes go in as one JSON batch on stdin
//! (`nft -j -f -`), which nftables applies atomically; no rule text is ever pasted.

use std::collections::{BTreeMap, BTreeSet};
use std::net::IpAddr;
use std::sync::Arc;

use ipnet::IpNet;
use serde_json::{Value, json};

use super::rule::{self, FirewallRule, RuleComment};
use super::FirewallError;
use crate::ssh::{RemoteCommand, RequestTag, SshPool, SshTarget};

pub const FAMILY: &str = "inet";
pub const TABLE: &str = "kolokasi";
pub const CHAIN_INPUT: &str = "input";
pub const CHAIN_FORWARD: &str = "forward";

/// A kolokasi rule as installed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InstalledRule {
    pub chain: String,
    pub handle: u64,
    pub comment: RuleComment,
}

/// The result of [`Nftables::allow`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Allowed {
    /// Rules added by this call (empty on a re-run).
    pub added: Vec<InstalledRule>,
    /// The request's rules now in place (accepts and drops) for the destinations asked about.
    pub total: usize,
}

pub struct Nftables {
    target: SshTarget,
    pool: Arc<SshPool>,
    /// `allow` and `remove` read, then write: two commands that must not interleave with
    /// another change from this process.
    change: tokio::sync::Mutex<()>,
    /// The firewall's own addresses, read once per process: they decide `input` versus
    /// `forward` and change only when the firewall is re-addressed (restart kolokasi then).
    local: tokio::sync::OnceCell<BTreeSet<IpAddr>>,
}

impl Nftables {
    pub fn new(target: SshTarget, pool: Arc<SshPool>) -> Self {
        Self { target, pool, change: tokio::sync::Mutex::new(()), local: tokio::sync::OnceCell::new() }
    }

    pub fn device(&self) -> &str {
        &self.target.name
    }

    /// Installs whatever of `rules` (and their destinations' drops) is not there yet.
    pub async fn allow(&self, request: &RequestTag, rules: &[FirewallRule]) -> Result<Allowed, FirewallError> {
        if let Some(r) = rules.iter().find(|r| r.request != *request) {
            return Err(FirewallError::OtherRequest { expected: request.clone(), got: r.request.clone() });
        }
        let _change = self.change.lock().await;
        let existing = self.rules().await?;
        let present: BTreeSet<String> = existing.iter().map(|r| rule::comment(&r.comment.request, &r.comment.kind)).collect();
        let local = self.local_addresses().await?;
        let chain = |d: &IpAddr| if local.contains(d) { CHAIN_INPUT } else { CHAIN_FORWARD };

        let mut batch = Vec::new();
        for r in rules.iter().filter(|r| !present.contains(&r.comment())) {
            batch.push(json!({"insert": {"rule": rule_json(chain(&r.destination), &r.comment(), accept_expr(r))}}));
        }
        let destinations: BTreeSet<IpAddr> = rules.iter().map(|r| r.destination).collect();
        for &d in &destinations {
            let comment = rule::comment(request, &rule::drop_kind(d));
            if !present.contains(&comment) {
                batch.push(json!({"add": {"rule": rule_json(chain(&d), &comment, drop_expr(d))}}));
            }
        }
        let mine = existing
            .iter()
            .filter(|r| r.comment.request == *request && r.comment.destination().is_some_and(|d| destinations.contains(&d)))
            .count();
        if batch.is_empty() {
            return Ok(Allowed { added: Vec::new(), total: mine });
        }
        let mut all = skeleton();
        all.extend(batch);
        let command = RemoteCommand::new("nft").args(["--echo", "--handle", "--json", "-f", "-"]);
        let out = self.pool.exec_ok(&self.target, &command, Some(&batch_bytes(all))).await?;
        let added = self.parse_rules(&out.stdout)?;
        Ok(Allowed { total: mine + added.len(), added })
    }

    /// Deletes the request's rules (all of them, or those guarding `destination`); returns how
    /// many. Everything else, kolokasi's table included, stays.
    pub async fn remove(&self, request: &RequestTag, destination: Option<IpAddr>) -> Result<usize, FirewallError> {
        let _change = self.change.lock().await;
        let doomed: Vec<InstalledRule> = self
            .rules()
            .await?
            .into_iter()
            .filter(|r| r.comment.request == *request && destination.is_none_or(|d| r.comment.destination() == Some(d)))
            .collect();
        if doomed.is_empty() {
            return Ok(0);
        }
        let batch: Vec<Value> = doomed
            .iter()
            .map(|r| json!({"delete": {"rule": {"family": FAMILY, "table": TABLE, "chain": r.chain, "handle": r.handle}}}))
            .collect();
        let command = RemoteCommand::new("nft").args(["--json", "-f", "-"]);
        self.pool.exec_ok(&self.target, &command, Some(&batch_bytes(batch))).await?;
        Ok(doomed.len())
    }

    /// kolokasi's rules as installed (none if the table does not exist yet).
    pub async fn rules(&self) -> Result<Vec<InstalledRule>, FirewallError> {
        let command = RemoteCommand::new("nft").args(["--json", "--handle", "list", "table", FAMILY, TABLE]);
        let out = self.pool.exec(&self.target, &command).await?;
        if !out.success() {
            if out.stderr.contains("No such file or directory") {
                return Ok(Vec::new());
            }
            return Err(FirewallError::Command { device: self.device().into(), status: out.status_text(), stderr: out.stderr.trim().into() });
        }
        self.parse_rules(&out.stdout)
    }

    /// Rules with kolokasi comments in an `nft -j` listing or echo.
    fn parse_rules(&self, json_text: &str) -> Result<Vec<InstalledRule>, FirewallError> {
        let doc: Value = serde_json::from_str(json_text).map_err(|e| self.unexpected(format!("nft printed no JSON: {e}")))?;
        let items = doc["nftables"].as_array().ok_or_else(|| self.unexpected("no \"nftables\" array".into()))?;
        let mut out = Vec::new();
        for item in items {
            // A listing holds {"rule": …}; an echo holds {"insert"|"add": {"rule": …}}.
            let rule = item.get("rule").or_else(|| item.get("insert").or_else(|| item.get("add")).and_then(|a| a.get("rule")));
            let Some(rule) = rule else { continue };
            if rule["table"] != TABLE || rule["family"] != FAMILY {
                continue;
            }
            let Some(comment) = rule["comment"].as_str().and_then(RuleComment::parse) else { continue };
            let handle = rule["handle"].as_u64().ok_or_else(|| self.unexpected("a rule without a handle".into()))?;
            out.push(InstalledRule { chain: rule["chain"].as_str().unwrap_or_default().to_string(), handle, comment });
        }
        Ok(out)
    }

    /// The firewall's own addresses (traffic to them passes `input`, not `forward`).
    async fn local_addresses(&self) -> Result<BTreeSet<IpAddr>, FirewallError> {
        self.local.get_or_try_init(|| self.read_local_addresses()).await.cloned()
    }

    async fn read_local_addresses(&self) -> Result<BTreeSet<IpAddr>, FirewallError> {
        let out = self.pool.exec_ok(&self.target, &RemoteCommand::new("ip").args(["-j", "address", "show"]), None).await?;
        let links: Vec<BTreeMap<String, Value>> = serde_json::from_str(&out.stdout).map_err(|e| self.unexpected(format!("`ip -j address`: {e}")))?;
        Ok(links
            .iter()
            .filter_map(|l| l.get("addr_info")?.as_array())
            .flatten()
            .filter_map(|a| a["local"].as_str()?.parse().ok())
            .collect())
    }

    fn unexpected(&self, message: String) -> FirewallError {
        FirewallError::Unexpected { device: self.device().into(), message }
    }
}

/// Creates kolokasi's table and chains if missing (`add` leaves existing ones as they are).
fn skeleton() -> Vec<Value> {
    let chain = |name: &str, hook: &str| {
        json!({"add": {"chain": {"family": FAMILY, "table": TABLE, "name": name, "type": "filter", "hook": hook, "prio": 0, "policy": "accept"}}})
    };
    vec![json!({"add": {"table": {"family": FAMILY, "name": TABLE}}}), chain(CHAIN_FORWARD, "forward"), chain(CHAIN_INPUT, "input")]
}

fn batch_bytes(commands: Vec<Value>) -> Vec<u8> {
    serde_json::to_vec(&json!({"nftables": commands})).expect("serialisable")
}

fn rule_json(chain: &str, comment: &str, expr: Vec<Value>) -> Value {
    json!({"family": FAMILY, "table": TABLE, "chain": chain, "comment": comment, "expr": expr})
}

fn address_match(field: &str, address: IpAddr, right: Value) -> Value {
    let protocol = if address.is_ipv4() { "ip" } else { "ip6" };
    json!({"match": {"op": "==", "left": {"payload": {"protocol": protocol, "field": field}}, "right": right}})
}

fn accept_expr(r: &FirewallRule) -> Vec<Value> {
    let mut expr = vec![address_match("daddr", r.destination, json!(r.destination.to_string()))];
    if !r.sources.is_empty() {
        let elements: Vec<Value> = r.sources.iter().map(net_json).collect();
        let right = if elements.len() == 1 { elements[0].clone() } else { json!({"set": elements}) };
        expr.push(address_match("saddr", r.destination, right));
    }
    expr.push(json!({"match": {"op": "==", "left": {"payload": {"protocol": r.protocol.as_str(), "field": "dport"}}, "right": r.port}}));
    expr.push(json!({"accept": null}));
    expr
}

fn drop_expr(destination: IpAddr) -> Vec<Value> {
    vec![address_match("daddr", destination, json!(destination.to_string())), json!({"drop": null})]
}

fn net_json(net: &IpNet) -> Value {
    if net.prefix_len() == net.max_prefix_len() {
        json!(net.addr().to_string())
    } else {
        json!({"prefix": {"addr": net.network().to_string(), "len": net.prefix_len()}})
    }
}
