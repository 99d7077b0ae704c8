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
use super::integration::Integration;
use super::nft_layout::{Layout, batch_bytes};
use super::rule::{self, FirewallRule, RuleComment};
use crate::ssh::{RemoteCommand, RequestTag, SshPool, SshTarget};

pub use super::nft_layout::{CHAIN_FORWARD, CHAIN_INPUT, FAMILY, MAP_V4, MAP_V6, TABLE, chain_owner, request_chain};

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

pub struct Nftables {
    target: SshTarget,
    pool: Arc<SshPool>,
    integration: Integration,
    layout: Layout,
    /// Changes from this process go one at a time (`remove` reads, then writes).
    change: tokio::sync::Mutex<()>,
}

impl Nftables {
    /// The device's SSH target and the pool its sessions live in (for opening them early).
    pub fn session(&self) -> (&SshTarget, &Arc<SshPool>) {
        (&self.target, &self.pool)
    }

    /// kolokasi's own table (`own_table`).
    pub fn new(target: SshTarget, pool: Arc<SshPool>) -> Self {
        Self::with_integration(target, pool, Integration::OwnTable)
    }

    /// The firewall as the inventory says kolokasi fits into it.
    pub fn with_integration(target: SshTarget, pool: Arc<SshPool>, integration: Integration) -> Self {
        let layout = match integration.operator_chain() {
            Some(c) => Layout::operator(c.family, c.table.as_str()),
            None => Layout::own(),
        };
        Self { target, pool, integration, layout, change: tokio::sync::Mutex::new(()) }
    }

    pub fn device(&self) -> &str {
        &self.target.name
    }

    pub fn integration(&self) -> &Integration {
        &self.integration
    }

    pub(super) fn layout(&self) -> &Layout {
        &self.layout
    }

    pub(super) async fn lock_changes(&self) -> tokio::sync::MutexGuard<'_, ()> {
        self.change.lock().await
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
        if stale.chain == self.layout.request_chain(request, stale.address) {
            return self.allow(request, rules).await;
        }
        self.allow_replacing(request, rules, Some(stale)).await
    }

    /// The request's destinations, each checked against the table's family.
    pub(super) fn destinations(&self, request: &RequestTag, rules: &[FirewallRule]) -> Result<BTreeSet<IpAddr>, FirewallError> {
        if let Some(r) = rules.iter().find(|r| r.request != *request) {
            return Err(FirewallError::OtherRequest { expected: request.clone(), got: r.request.clone() });
        }
        let destinations: BTreeSet<IpAddr> = rules.iter().map(|r| r.destination).collect();
        if let Some(d) = destinations.iter().find(|d| !self.layout.family.carries(d.is_ipv4())) {
            return Err(self.unexpected(format!("table {} {} cannot filter {d}: its family does not carry that IP version", self.layout.family, self.layout.table)));
        }
        Ok(destinations)
    }

    async fn allow_replacing(&self, request: &RequestTag, rules: &[FirewallRule], stale: Option<&StaleMapping>) -> Result<Allowed, FirewallError> {
        if matches!(self.integration, Integration::WriteInto { .. }) {
            return self.write_into_allow(request, rules, stale).await;
        }
        let destinations = self.destinations(request, rules)?;
        if destinations.is_empty() {
            return Ok(Allowed { written: Vec::new(), total: 0 });
        }
        let l = &self.layout;
        let mut batch = Vec::new();
        if let Some(stale) = stale {
            batch.push(json!({"delete": {"element": l.element(stale.address, None)}}));
            batch.push(json!({"flush": {"chain": l.chain_ref(&stale.chain)}}));
            batch.push(json!({"delete": {"chain": l.chain_ref(&stale.chain)}}));
        }
        let mut written = Vec::new();
        for &d in &destinations {
            let chain = l.request_chain(request, d);
            batch.push(json!({"add": {"chain": l.chain_ref(&chain)}}));
            batch.push(json!({"flush": {"chain": l.chain_ref(&chain)}}));
            let comments = rules.iter().filter(|r| r.destination == d).map(|r| (r.comment(), accept_expr(r)));
            for (comment, expr) in comments.chain([(rule::comment(request, &rule::drop_kind(d)), drop_expr(d))]) {
                batch.push(json!({"add": {"rule": l.rule(&chain, Some(&comment), expr)}}));
                let comment = RuleComment::parse(&comment).ok_or_else(|| self.unexpected(format!("unparsable own comment {comment:?}")))?;
                written.push(InstalledRule { chain: chain.clone(), handle: 0, comment });
            }
            batch.push(json!({"add": {"element": l.element(d, Some(&chain))}}));
        }
        let _change = self.change.lock().await;
        // Without `--echo`: echoing makes nft read the whole table back (its cost grows with the
        // number of requests); exit status 0 means the whole batch was committed.
        let command = RemoteCommand::new("nft").args(["--json", "-f", "-"]);
        let jump = matches!(self.integration, Integration::Jump { .. });
        let mut out = None;
        for repair in [false, true] {
            // In `jump` mode the operator's chain is read first: the jump is added (with
            // kolokasi's maps and dispatch chain) in this same batch when it is missing, and
            // extra copies are deleted, so there is exactly one whatever happened before.
            let prelude = if jump { self.jump_prelude(repair).await? } else { Vec::new() };
            let creates = !prelude.is_empty();
            let mut o = self.run(&command, Some(&batch_bytes(prelude.iter().cloned().chain(batch.clone()).collect()))).await?;
            if !o.success() && o.stderr.contains("No such file or directory") {
                // Own table: none yet (a new firewall, or one whose ruleset was flushed or lost
                // in a reboot); the same batch behind the table, maps and dispatching base
                // chains. Operator's table: the jump is there but kolokasi's maps are not
                // (deleted by hand): they are written again.
                let skeleton = if !jump { skeleton() } else if !creates { self.layout.maps_and_dispatch_chain() } else { Vec::new() };
                if !skeleton.is_empty() {
                    o = self.run(&command, Some(&batch_bytes(skeleton.into_iter().chain(prelude).chain(batch.clone()).collect()))).await?;
                }
            }
            // `File exists` from a batch that created the dispatch chain: another process added
            // the jump meanwhile (or a dispatch chain lost its jump): list again.
            let retry = jump && creates && !repair && !o.success() && o.stderr.contains("File exists");
            out = Some(o);
            if !retry {
                break;
            }
        }
        let out = out.expect("at least one attempt");
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
        let l = &self.layout;
        for &d in destinations {
            let command = RemoteCommand::new("nft").args(["--json", "list", "map", l.family.as_str(), &l.table, l.map_of(d)]);
            let Ok(out) = self.pool.exec(&self.target, &command).await else {
                continue;
            };
            if let Some(chain) = mapped_chain(&out.stdout, d).filter(|c| *c != l.request_chain(request, d)) {
                let owner = l.chain_owner(&chain, d);
                return FirewallError::AddressTaken { device: self.device().into(), mapping: StaleMapping { address: d, chain }, owner };
            }
        }
        self.unexpected("nft refused the change with `File exists`, but no address is mapped to another chain".into())
    }

    /// Deletes the request's rules (all of them, or those guarding `destination`); returns how
    /// many. Everything else, kolokasi's table and maps included, stays — except in `jump`
    /// mode, where the removal that leaves no request behind also takes the jump, the dispatch
    /// chain and the maps away (in the same batch), unless `keep_jump` is set.
    pub async fn remove(&self, request: &RequestTag, destination: Option<IpAddr>) -> Result<usize, FirewallError> {
        if matches!(self.integration, Integration::WriteInto { .. }) {
            return self.write_into_remove(request, destination).await;
        }
        let l = &self.layout;
        let _change = self.change.lock().await;
        let doomed: Vec<(IpAddr, usize)> = match destination {
            Some(d) => self.chain_rules(&l.request_chain(request, d)).await?.map(|n| (d, n)).into_iter().collect(),
            None => {
                let mut by_destination = std::collections::BTreeMap::<IpAddr, usize>::new();
                for r in self.rules().await?.into_iter().filter(|r| r.comment.request == *request) {
                    if let Some(d) = r.comment.destination().filter(|d| r.chain == l.request_chain(request, *d)) {
                        *by_destination.entry(d).or_default() += 1;
                    }
                }
                by_destination.into_iter().collect()
            }
        };
        let mut cleanup = match &self.integration {
            Integration::Jump { keep_jump: false, .. } => self.jump_cleanup(request, &doomed).await?,
            _ => Vec::new(),
        };
        let mut removed = 0;
        let last = doomed.len();
        for (i, (d, count)) in doomed.into_iter().enumerate() {
            let chain = l.request_chain(request, d);
            // Mapping the address to the chain first makes the unmapping succeed whether or
            // not it was mapped; if it is mapped to another request's chain, nftables refuses
            // and only the chain goes (it is not referenced then).
            let unmap = vec![json!({"add": {"element": l.element(d, Some(&chain))}}), json!({"delete": {"element": l.element(d, None)}})];
            let mut drop_chain = vec![json!({"flush": {"chain": l.chain_ref(&chain)}}), json!({"delete": {"chain": l.chain_ref(&chain)}})];
            if i + 1 == last {
                drop_chain.append(&mut cleanup);
            }
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
        if !cleanup.is_empty() {
            // Nothing of this request was left, and no other request either: the jump goes.
            let command = RemoteCommand::new("nft").args(["--json", "-f", "-"]);
            let out = self.run(&command, Some(&batch_bytes(cleanup))).await?;
            if !out.success() {
                return Err(self.command_failed(&out.status_text(), &out.stderr));
            }
        }
        Ok(removed)
    }

    /// How many kolokasi rules `chain` holds, or `None` if there is no such chain.
    async fn chain_rules(&self, chain: &str) -> Result<Option<usize>, FirewallError> {
        let l = &self.layout;
        let command = RemoteCommand::new("nft").args(["--json", "--handle", "list", "chain", l.family.as_str(), &l.table, chain]);
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
        let l = &self.layout;
        let command = match &self.integration {
            Integration::WriteInto { chain, .. } => RemoteCommand::new("nft").args(["--json", "--handle", "list", "chain", l.family.as_str(), &l.table, chain.as_str()]),
            _ => RemoteCommand::new("nft").args(["--json", "--handle", "list", "table", l.family.as_str(), &l.table]),
        };
        let out = self.pool.exec(&self.target, &command).await?;
        if !out.success() {
            if out.stderr.contains("No such file or directory") {
                return Ok(Vec::new());
            }
            return Err(self.command_failed(&out.status_text(), &out.stderr));
        }
        self.parse_rules(&out.stdout)
    }

    /// Rules with kolokasi comments in an `nft -j` listing or echo (in an operator's table,
    /// only those in kolokasi's own chains, or in the `write_into` chain).
    pub(super) fn parse_rules(&self, json_text: &str) -> Result<Vec<InstalledRule>, FirewallError> {
        let doc: Value = serde_json::from_str(json_text).map_err(|e| self.unexpected(format!("nft printed no JSON: {e}")))?;
        let items = doc["nftables"].as_array().ok_or_else(|| self.unexpected("no \"nftables\" array".into()))?;
        let l = &self.layout;
        let mut out = Vec::new();
        for item in items {
            // A listing holds {"rule": …}; an echo holds {"insert"|"add": {"rule": …}}.
            let rule = item.get("rule").or_else(|| item.get("insert").or_else(|| item.get("add")).and_then(|a| a.get("rule")));
            let Some(rule) = rule else { continue };
            if rule["table"] != l.table.as_str() || rule["family"] != l.family.as_str() {
                continue;
            }
            let chain = rule["chain"].as_str().unwrap_or_default();
            let ours = match &self.integration {
                Integration::OwnTable => true,
                Integration::Jump { .. } => chain.starts_with(l.prefix),
                Integration::WriteInto { chain: c, .. } => chain == c.as_str(),
            };
            let Some(comment) = rule["comment"].as_str().and_then(RuleComment::parse).filter(|_| ours) else {
                continue;
            };
            let handle = rule["handle"].as_u64().ok_or_else(|| self.unexpected("a rule without a handle".into()))?;
            out.push(InstalledRule { chain: chain.to_string(), handle, comment });
        }
        Ok(out)
    }

    /// What [`Self::allow`] of `rules` will put where, for `run plan` (nothing is read).
    pub fn plan(&self, request: &RequestTag, rules: &[FirewallRule]) -> String {
        let l = &self.layout;
        let destinations: BTreeSet<IpAddr> = rules.iter().map(|r| r.destination).collect();
        let mut parts = Vec::new();
        for d in destinations {
            let accepts: Vec<String> = rules.iter().filter(|r| r.destination == d).map(|r| format!("accept {}", r.service())).collect();
            let body = format!("{}, drop (comments kolokasi:{request}:…)", accepts.join(", "));
            parts.push(match &self.integration {
                Integration::WriteInto { chain, .. } => format!("append to the operator's chain {} {} {chain} for {d}: {body}", l.family, l.table),
                _ => format!("chain {} {} {} for {d}: {body}; map {} {d} to it", l.family, l.table, l.request_chain(request, d), l.map_of(d)),
            });
        }
        if let Integration::Jump { chain, before, keep_jump, .. } = &self.integration {
            let place = before.as_ref().map_or("appended".to_string(), |a| format!("before {a}"));
            let keep = if *keep_jump { "kept" } else { "removed" };
            parts.push(format!(
                "one rule `jump {}` (comment {}) in {} {} {chain}, {place}, if not there yet (shared by every request; {keep} with the last request)",
                super::nft_layout::DISPATCH_CHAIN, super::nft_layout::JUMP_COMMENT, l.family, l.table
            ));
        }
        parts.join("; ")
    }

    /// Whether the configured integration can work on this firewall, read from its ruleset.
    pub async fn check(&self) -> Result<super::doctor::Diagnosis, FirewallError> {
        let out = self.run(&RemoteCommand::new("nft").args(["--json", "list", "ruleset"]), None).await?;
        if !out.success() {
            return Err(self.command_failed(&out.status_text(), &out.stderr));
        }
        Ok(super::doctor::diagnose(self.device(), &self.integration, &out.stdout))
    }

    /// Runs `command` (exit status checked by the caller: nft's refusals are answers here).
    pub(super) async fn run(&self, command: &RemoteCommand, stdin: Option<&[u8]>) -> Result<crate::ssh::CommandOutput, FirewallError> {
        Ok(self.pool.exec_with(&self.target, command, stdin, self.pool.settings().command_timeout).await?)
    }

    pub(super) fn command_failed(&self, status: &str, stderr: &str) -> FirewallError {
        FirewallError::Command { device: self.device().into(), status: status.into(), stderr: stderr.trim().into() }
    }

    pub(super) fn unexpected(&self, message: String) -> FirewallError {
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
    let l = Layout::own();
    let mut batch = vec![json!({"add": {"table": l.table_ref()}})];
    let mut dispatch = l.maps_and_dispatch(CHAIN_FORWARD);
    let maps: Vec<Value> = dispatch.drain(..2).collect();
    batch.extend(maps);
    for (name, hook) in [(CHAIN_FORWARD, "forward"), (CHAIN_INPUT, "input")] {
        batch.push(json!({"add": {"chain": {"family": FAMILY, "table": TABLE, "name": name, "type": "filter", "hook": hook, "prio": 0, "policy": "accept"}}}));
        batch.extend(l.maps_and_dispatch(name).into_iter().skip(2));
    }
    batch
}

fn address_match(field: &str, address: IpAddr, right: Value) -> Value {
    let protocol = if address.is_ipv4() { "ip" } else { "ip6" };
    json!({"match": {"op": "==", "left": {"payload": {"protocol": protocol, "field": field}}, "right": right}})
}

pub(super) fn accept_expr(r: &FirewallRule) -> Vec<Value> {
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

pub(super) fn drop_expr(destination: IpAddr) -> Vec<Value> {
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
        let own = Layout::own();
        assert_eq!((own.map_of("10.0.0.1".parse().unwrap()), own.map_of("::1".parse().unwrap())), (MAP_V4, MAP_V6));
        let op = Layout::operator(crate::firewall::integration::NftFamily::Inet, "filter");
        let d6: IpAddr = "2001:db8::5".parse().unwrap();
        assert_eq!(op.request_chain(&tag, d6), "kolokasi_KLK-2026-00001-v6-2001_db8__5");
        assert_eq!(op.chain_owner("kolokasi_KLK-2026-00001-v6-2001_db8__5", d6), Some(tag.clone()));
        assert_eq!(op.chain_owner("KLK-2026-00001-v6-2001_db8__5", d6), None, "the operator's own chains are never kolokasi's");
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
