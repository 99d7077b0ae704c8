//! nftables over SSH, in JSON (`nft -j`): kolokasi owns the table `inet kolokasi` and touches
//! nothing else.
//!
//! Layout (one map lookup per packet, however many requests the firewall serves):
//! - two verdict maps, `dest4` and `dest6`, from a destination address to the chain that
//!   guards it;
//! - base chains `forward` and `input` (filter hooks, priority 0, policy accept), each holding
//!   only the dispatch `ip daddr vmap @dest4` and `ip6 daddr vmap @dest6` — so an address of the
//!   firewall itself is filtered in `input` and any other in `forward`, by the same map;
//! - one chain per request and destination (`KLK-2026-00001-v4-198_51_100_5`): one `accept`
//!   per allowed service, then one `drop`. Each rule's comment is `kolokasi:<request>:<kind>`.
//!
//! `allow` writes the request's chain whole in one atomic JSON batch (`nft -j -f -`: add the
//! chain, flush it, add its rules, map the address): a re-run writes the same state again, and
//! nothing is listed first. Only when the table is missing (a new firewall, a flushed ruleset, a
//! reboot) does nftables refuse that batch (`No such file or directory`); it is then sent again
//! behind the skeleton: table, maps, base chains flushed and given their dispatch rules. The
//! base chains are not rewritten on every change: a transaction that deletes rules and adds a
//! jump costs ~10 ms more in the kernel. (The first layout, every rule in the base chains and the
//! whole table listed before each change, took 21–25 ms a change and grew with the table.)
//! kolokasi owns the table: rules deleted inside it by hand come back when their request's step
//! is run again.
//!
//! An address already mapped to another request's chain makes nftables refuse the whole batch
//! (`File exists`); kolokasi names that chain and its request, and [`Nftables::take_over`]
//! replaces it in one transaction when the caller has established it is a leftover. `remove`
//! reads only the request's chain, then unmaps the address and deletes the chain in one batch.
//! No rule text is ever pasted.

use std::collections::BTreeSet;
use std::net::IpAddr;
use std::sync::Arc;

use ipnet::IpNet;
use serde_json::{Value, json};

use super::FirewallError;
use super::rule::{self, FirewallRule, RuleComment};
use crate::ssh::{RemoteCommand, RequestTag, SshPool, SshTarget};

pub const FAMILY: &str = "inet";
pub const TABLE: &str = "kolokasi";
pub const CHAIN_INPUT: &str = "input";
pub const CHAIN_FORWARD: &str = "forward";
pub const MAP_V4: &str = "dest4";
pub const MAP_V6: &str = "dest6";

/// A kolokasi rule as installed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InstalledRule {
    pub chain: String,
    pub handle: u64,
    pub comment: RuleComment,
}

/// The result of [`Nftables::allow`] (and of OPNsense's).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Allowed {
    /// Rules written by this call. nftables rewrites the request's chain whole, so these are
    /// all of the request's rules for the destinations asked about, on a re-run too; OPNsense
    /// adds only what is missing (empty on a re-run).
    pub written: Vec<InstalledRule>,
    /// The request's rules now in place (accepts and drops) for the destinations asked about.
    pub total: usize,
}

/// An address mapped to a chain kolokasi wants to replace.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StaleMapping {
    pub address: IpAddr,
    pub chain: String,
}

/// The chain holding `request`'s rules for `destination`.
pub fn request_chain(request: &RequestTag, destination: IpAddr) -> String {
    format!("{request}{}", chain_suffix(destination))
}

/// The request whose chain for `destination` this is, by its name.
pub fn chain_owner(chain: &str, destination: IpAddr) -> Option<RequestTag> {
    RequestTag::parse(chain.strip_suffix(&chain_suffix(destination))?).ok()
}

/// `-v4-198_51_100_5`, `-v6-2001_db8__5`: the address in characters a chain name may hold.
fn chain_suffix(destination: IpAddr) -> String {
    match destination {
        IpAddr::V4(a) => format!("-v4-{}", a.to_string().replace('.', "_")),
        IpAddr::V6(a) => format!("-v6-{}", a.to_string().replace(':', "_")),
    }
}

fn map_of(destination: IpAddr) -> &'static str {
    if destination.is_ipv4() { MAP_V4 } else { MAP_V6 }
}

pub struct Nftables {
    target: SshTarget,
    pool: Arc<SshPool>,
    /// Changes from this process go one at a time (`remove` reads, then writes).
    change: tokio::sync::Mutex<()>,
}

impl Nftables {
    pub fn new(target: SshTarget, pool: Arc<SshPool>) -> Self {
        Self { target, pool, change: tokio::sync::Mutex::new(()) }
    }

    pub fn device(&self) -> &str {
        &self.target.name
    }

    /// Puts `rules` (and their destinations' drops) in place: one chain per destination,
    /// written whole, and the destination mapped to it — one command, one atomic batch.
    pub async fn allow(&self, request: &RequestTag, rules: &[FirewallRule]) -> Result<Allowed, FirewallError> {
        self.allow_replacing(request, rules, None).await
    }

    /// Like [`Self::allow`], but first unmaps `stale.address` from `stale.chain` and deletes
    /// that chain, in the same transaction (no moment without a filter). For a chain whose
    /// request no longer holds the address (the caller checks that with IPAM): left behind by
    /// an undo that was skipped, say, before the address was handed out again.
    pub async fn take_over(&self, request: &RequestTag, rules: &[FirewallRule], stale: &StaleMapping) -> Result<Allowed, FirewallError> {
        if stale.chain == request_chain(request, stale.address) {
            return self.allow(request, rules).await;
        }
        self.allow_replacing(request, rules, Some(stale)).await
    }

    async fn allow_replacing(&self, request: &RequestTag, rules: &[FirewallRule], stale: Option<&StaleMapping>) -> Result<Allowed, FirewallError> {
        if let Some(r) = rules.iter().find(|r| r.request != *request) {
            return Err(FirewallError::OtherRequest { expected: request.clone(), got: r.request.clone() });
        }
        let destinations: BTreeSet<IpAddr> = rules.iter().map(|r| r.destination).collect();
        if destinations.is_empty() {
            return Ok(Allowed { written: Vec::new(), total: 0 });
        }
        let mut batch = Vec::new();
        if let Some(stale) = stale {
            batch.push(json!({"delete": {"element": element(stale.address, None)}}));
            batch.push(json!({"flush": {"chain": chain_ref(&stale.chain)}}));
            batch.push(json!({"delete": {"chain": chain_ref(&stale.chain)}}));
        }
        let mut written = Vec::new();
        for &d in &destinations {
            let chain = request_chain(request, d);
            batch.push(json!({"add": {"chain": chain_ref(&chain)}}));
            batch.push(json!({"flush": {"chain": chain_ref(&chain)}}));
            let comments = rules.iter().filter(|r| r.destination == d).map(|r| (r.comment(), accept_expr(r)));
            for (comment, expr) in comments.chain([(rule::comment(request, &rule::drop_kind(d)), drop_expr(d))]) {
                batch.push(json!({"add": {"rule": rule_json(&chain, &comment, expr)}}));
                let comment = RuleComment::parse(&comment).ok_or_else(|| self.unexpected(format!("unparsable own comment {comment:?}")))?;
                written.push(InstalledRule { chain: chain.clone(), handle: 0, comment });
            }
            batch.push(json!({"add": {"element": element(d, Some(&chain))}}));
        }
        let _change = self.change.lock().await;
        // Without `--echo`: echoing makes nft read the whole table back (its cost grows with the
        // number of requests); exit status 0 means the whole batch was committed.
        let command = RemoteCommand::new("nft").args(["--json", "-f", "-"]);
        let mut out = self.run(&command, Some(&batch_bytes(batch.clone()))).await?;
        if !out.success() && out.stderr.contains("No such file or directory") {
            // No table (a new firewall, or one whose ruleset was flushed or lost in a reboot):
            // the same batch behind the table, maps and dispatching base chains.
            out = self.run(&command, Some(&batch_bytes(skeleton().into_iter().chain(batch).collect()))).await?;
        }
        if !out.success() {
            if out.stderr.contains("File exists") {
                return Err(self.address_taken(request, &destinations).await);
            }
            return Err(self.command_failed(&out.status_text(), &out.stderr));
        }
        Ok(Allowed { total: written.len(), written })
    }

    /// Why nftables refused to map one of `destinations`: another chain guards it.
    async fn address_taken(&self, request: &RequestTag, destinations: &BTreeSet<IpAddr>) -> FirewallError {
        for &d in destinations {
            let command = RemoteCommand::new("nft").args(["--json", "list", "map", FAMILY, TABLE, map_of(d)]);
            let Ok(out) = self.pool.exec(&self.target, &command).await else {
                continue;
            };
            if let Some(chain) = mapped_chain(&out.stdout, d).filter(|c| *c != request_chain(request, d)) {
                let owner = chain_owner(&chain, d);
                return FirewallError::AddressTaken { device: self.device().into(), mapping: StaleMapping { address: d, chain }, owner };
            }
        }
        self.unexpected("nft refused the change with `File exists`, but no address is mapped to another chain".into())
    }

    /// Deletes the request's rules (all of them, or those guarding `destination`); returns how
    /// many. Everything else, kolokasi's table and maps included, stays.
    pub async fn remove(&self, request: &RequestTag, destination: Option<IpAddr>) -> Result<usize, FirewallError> {
        let _change = self.change.lock().await;
        let doomed: Vec<(IpAddr, usize)> = match destination {
            Some(d) => self.chain_rules(&request_chain(request, d)).await?.map(|n| (d, n)).into_iter().collect(),
            None => {
                let mut by_destination = std::collections::BTreeMap::<IpAddr, usize>::new();
                for r in self.rules().await?.into_iter().filter(|r| r.comment.request == *request) {
                    if let Some(d) = r.comment.destination().filter(|d| r.chain == request_chain(request, *d)) {
                        *by_destination.entry(d).or_default() += 1;
                    }
                }
                by_destination.into_iter().collect()
            }
        };
        let mut removed = 0;
        for (d, count) in doomed {
            let chain = request_chain(request, d);
            // Mapping the address to the chain first makes the unmapping succeed whether or
            // not it was mapped; if it is mapped to another request's chain, nftables refuses
            // and only the chain goes (it is not referenced then).
            let unmap = vec![json!({"add": {"element": element(d, Some(&chain))}}), json!({"delete": {"element": element(d, None)}})];
            let drop_chain = vec![json!({"flush": {"chain": chain_ref(&chain)}}), json!({"delete": {"chain": chain_ref(&chain)}})];
            let command = RemoteCommand::new("nft").args(["--json", "-f", "-"]);
            let out = self.run(&command, Some(&batch_bytes(unmap.into_iter().chain(drop_chain.clone()).collect()))).await?;
            if !out.success() {
                if !out.stderr.contains("File exists") {
                    return Err(self.command_failed(&out.status_text(), &out.stderr));
                }
                self.pool.exec_ok(&self.target, &command, Some(&batch_bytes(drop_chain))).await?;
            }
            removed += count;
        }
        Ok(removed)
    }

    /// How many kolokasi rules `chain` holds, or `None` if there is no such chain.
    async fn chain_rules(&self, chain: &str) -> Result<Option<usize>, FirewallError> {
        let command = RemoteCommand::new("nft").args(["--json", "--handle", "list", "chain", FAMILY, TABLE, chain]);
        let out = self.pool.exec(&self.target, &command).await?;
        if !out.success() {
            if out.stderr.contains("No such file or directory") {
                return Ok(None);
            }
            return Err(self.command_failed(&out.status_text(), &out.stderr));
        }
        Ok(Some(self.parse_rules(&out.stdout)?.len()))
    }

    /// kolokasi's rules as installed (none if the table does not exist yet). Lists the whole
    /// table: for reports and checks, not on the path of a change.
    pub async fn rules(&self) -> Result<Vec<InstalledRule>, FirewallError> {
        let command = RemoteCommand::new("nft").args(["--json", "--handle", "list", "table", FAMILY, TABLE]);
        let out = self.pool.exec(&self.target, &command).await?;
        if !out.success() {
            if out.stderr.contains("No such file or directory") {
                return Ok(Vec::new());
            }
            return Err(self.command_failed(&out.status_text(), &out.stderr));
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
            let Some(comment) = rule["comment"].as_str().and_then(RuleComment::parse) else {
                continue;
            };
            let handle = rule["handle"].as_u64().ok_or_else(|| self.unexpected("a rule without a handle".into()))?;
            out.push(InstalledRule { chain: rule["chain"].as_str().unwrap_or_default().to_string(), handle, comment });
        }
        Ok(out)
    }

    /// Runs `command` (exit status checked by the caller: nft's refusals are answers here).
    async fn run(&self, command: &RemoteCommand, stdin: Option<&[u8]>) -> Result<crate::ssh::CommandOutput, FirewallError> {
        Ok(self.pool.exec_with(&self.target, command, stdin, self.pool.settings().command_timeout).await?)
    }

    fn command_failed(&self, status: &str, stderr: &str) -> FirewallError {
        FirewallError::Command { device: self.device().into(), status: status.into(), stderr: stderr.trim().into() }
    }

    fn unexpected(&self, message: String) -> FirewallError {
        FirewallError::Unexpected { device: self.device().into(), message }
    }
}

/// The chain `destination` is mapped to in an `nft -j list map` answer.
fn mapped_chain(json_text: &str, destination: IpAddr) -> Option<String> {
    let doc: Value = serde_json::from_str(json_text).ok()?;
    let want = destination.to_string();
    doc["nftables"].as_array()?.iter().filter_map(|i| i["map"]["elem"].as_array()).flatten().find_map(|e| {
        let pair = e.as_array()?;
        (pair.first()?.as_str()? == want).then(|| pair.get(1)?["jump"]["target"].as_str().map(String::from))?
    })
}

/// kolokasi's table, maps and base chains (`add` leaves existing ones as they are), the base
/// chains holding exactly the two dispatch rules (flushed and written again: the batch is
/// atomic, so no packet sees them missing).
fn skeleton() -> Vec<Value> {
    let mut batch = vec![json!({"add": {"table": {"family": FAMILY, "name": TABLE}}})];
    for (name, kind) in [(MAP_V4, "ipv4_addr"), (MAP_V6, "ipv6_addr")] {
        batch.push(json!({"add": {"map": {"family": FAMILY, "table": TABLE, "name": name, "type": kind, "map": "verdict"}}}));
    }
    for (name, hook) in [(CHAIN_FORWARD, "forward"), (CHAIN_INPUT, "input")] {
        batch.push(json!({"add": {"chain": {"family": FAMILY, "table": TABLE, "name": name, "type": "filter", "hook": hook, "prio": 0, "policy": "accept"}}}));
        batch.push(json!({"flush": {"chain": chain_ref(name)}}));
        for (protocol, map) in [("ip", MAP_V4), ("ip6", MAP_V6)] {
            let dispatch = json!({"vmap": {"key": {"payload": {"protocol": protocol, "field": "daddr"}}, "data": format!("@{map}")}});
            batch.push(json!({"add": {"rule": {"family": FAMILY, "table": TABLE, "chain": name, "expr": [dispatch]}}}));
        }
    }
    batch
}

fn chain_ref(name: &str) -> Value {
    json!({"family": FAMILY, "table": TABLE, "name": name})
}

/// A map element: `destination : jump chain`, or the key alone (for deletion).
fn element(destination: IpAddr, chain: Option<&str>) -> Value {
    let elem = match chain {
        Some(c) => json!([[destination.to_string(), {"jump": {"target": c}}]]),
        None => json!([destination.to_string()]),
    };
    json!({"family": FAMILY, "table": TABLE, "name": map_of(destination), "elem": elem})
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_request_and_destination_has_its_own_chain() {
        let tag = RequestTag::parse("KLK-2026-00001").unwrap();
        assert_eq!(request_chain(&tag, "198.51.100.5".parse().unwrap()), "KLK-2026-00001-v4-198_51_100_5");
        assert_eq!(request_chain(&tag, "2001:db8::5".parse().unwrap()), "KLK-2026-00001-v6-2001_db8__5");
        assert_eq!((map_of("10.0.0.1".parse().unwrap()), map_of("::1".parse().unwrap())), (MAP_V4, MAP_V6));
        let d: IpAddr = "198.51.100.5".parse().unwrap();
        assert_eq!(chain_owner("KLK-2026-00001-v4-198_51_100_5", d), Some(tag));
        assert_eq!(chain_owner("KLK-2026-00001-v4-198_51_100_6", d), None);
        assert_eq!(chain_owner("-v4-198_51_100_5", d), None);
    }

    #[test]
    fn the_owner_of_a_mapped_address_is_read_from_the_map() {
        let listing = r#"{"nftables": [{"metainfo": {"version": "1.0.6"}}, {"map": {"family": "inet", "name": "dest4", "table": "kolokasi",
            "type": "ipv4_addr", "handle": 1, "map": "verdict", "elem": [["10.0.0.1", {"jump": {"target": "A-v4-10_0_0_1"}}],
            ["10.0.0.2", {"jump": {"target": "B-v4-10_0_0_2"}}]]}}]}"#;
        assert_eq!(mapped_chain(listing, "10.0.0.2".parse().unwrap()).as_deref(), Some("B-v4-10_0_0_2"));
        assert_eq!(mapped_chain(listing, "10.0.0.3".parse().unwrap()), None);
        assert_eq!(mapped_chain("not json", "10.0.0.1".parse().unwrap()), None);
    }

    #[test]
    fn the_dispatch_is_rewritten_with_every_change() {
        let batch = skeleton();
        let flushes = batch.iter().filter(|c| c.get("flush").is_some()).count();
        let vmaps = batch.iter().filter(|c| c.to_string().contains("\"vmap\"")).count();
        assert_eq!((flushes, vmaps), (2, 4), "both base chains flushed, two dispatch rules each");
    }
}
