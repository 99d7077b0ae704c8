//! The batched reads behind a drift check, and the comparison. However many requests are
//! checked at once, each switch is read once (every port in one OVSDB select or one
//! `ovs-vsctl list Port`), each firewall once (`nft -j list ruleset`), each DNS server with
//! concurrent queries (one per rrset, at most [`DNS_CONCURRENCY`] in flight), and all devices at
//! the same time, over the drivers' shared sessions.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use serde_json::{Value, json};
use tokio::task::JoinSet;

use super::expected::{Expectation, Probe};
use crate::dns::RecordKind;
use crate::domain::Fqdn;
use crate::engine::Drivers;
use crate::firewall::FirewallSnapshot;
use crate::switch::SwitchPortState;

/// DNS queries in flight per server.
pub const DNS_CONCURRENCY: usize = 64;

type DnsKey = (String, Fqdn, RecordKind);

/// What the devices answered; an error is kept as its text, per device or per rrset.
#[derive(Debug, Default)]
pub struct Readings {
    dns: BTreeMap<DnsKey, Result<Vec<String>, String>>,
    ports: BTreeMap<(String, String), Result<SwitchPortState, String>>,
    firewalls: BTreeMap<String, Result<FirewallSnapshot, String>>,
    /// (request, `Kind/name`) → where the object differs (`None`: as applied).
    kube: BTreeMap<(String, String), Result<Option<String>, String>>,
}

/// The error text with its causes (`a: b: c`).
fn chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        text.push_str(&format!(": {s}"));
        source = s.source();
    }
    text
}

/// Reads everything `items` need, device by device, all devices at once.
pub async fn read(drivers: &Drivers, items: &[&Expectation]) -> Readings {
    let (dns, ports, firewalls, kube) = tokio::join!(read_dns(drivers, items), read_switches(drivers, items), read_firewalls(drivers, items), read_kube(drivers, items));
    Readings { dns, ports, firewalls, kube }
}

async fn read_dns(drivers: &Drivers, items: &[&Expectation]) -> BTreeMap<DnsKey, Result<Vec<String>, String>> {
    let keys: BTreeSet<DnsKey> = items
        .iter()
        .filter_map(|e| match &e.probe {
            Probe::Dns { provider, name, kind, .. } => Some((provider.clone(), name.clone(), *kind)),
            _ => None,
        })
        .collect();
    let mut limits: BTreeMap<String, Arc<tokio::sync::Semaphore>> = BTreeMap::new();
    let mut tasks = JoinSet::new();
    let mut out = BTreeMap::new();
    for key in keys {
        let Some(target) = drivers.dns.get(&key.0).cloned() else {
            out.insert(key.clone(), Err(format!("no DNS provider named {:?} is configured", key.0)));
            continue;
        };
        let limit = limits.entry(key.0.clone()).or_insert_with(|| Arc::new(tokio::sync::Semaphore::new(DNS_CONCURRENCY))).clone();
        tasks.spawn(async move {
            let _permit = limit.acquire_owned().await;
            let answer = target.provider.read(&key.1, key.2).await.map_err(|e| chain(&e));
            (key, answer)
        });
    }
    while let Some(done) = tasks.join_next().await {
        if let Ok((key, answer)) = done {
            out.insert(key, answer);
        }
    }
    out
}

async fn read_switches(drivers: &Drivers, items: &[&Expectation]) -> BTreeMap<(String, String), Result<SwitchPortState, String>> {
    let mut wanted: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for e in items {
        if let Probe::SwitchPort { port, .. } = &e.probe {
            wanted.entry(e.device.clone()).or_default().insert(port.clone());
        }
    }
    let mut out = BTreeMap::new();
    let mut tasks = JoinSet::new();
    for (device, ports) in wanted {
        let Some(driver) = drivers.switches.get(&device).cloned() else {
            for p in ports {
                out.insert((device.clone(), p), Err(format!("no switch named {device:?} is configured")));
            }
            continue;
        };
        tasks.spawn(async move {
            let parsed: Vec<_> = ports.iter().filter_map(|p| driver.port(p).ok()).collect();
            let read = driver.read_many(&parsed).await.map_err(|e| chain(&e));
            let mut answers = Vec::new();
            for p in &ports {
                let answer = match &read {
                    Err(e) => Err(e.clone()),
                    Ok(states) => states.iter().find(|s| s.port.as_str() == p).cloned().ok_or_else(|| format!("{p:?} is not a port name of {device}")),
                };
                answers.push(((device.clone(), p.clone()), answer));
            }
            answers
        });
    }
    while let Some(done) = tasks.join_next().await {
        out.extend(done.into_iter().flatten());
    }
    out
}

async fn read_firewalls(drivers: &Drivers, items: &[&Expectation]) -> BTreeMap<String, Result<FirewallSnapshot, String>> {
    let devices: BTreeSet<String> = items.iter().filter(|e| matches!(e.probe, Probe::FirewallRule { .. } | Probe::FirewallMap { .. } | Probe::FirewallJump)).map(|e| e.device.clone()).collect();
    let mut out = BTreeMap::new();
    let mut tasks = JoinSet::new();
    for device in devices {
        let Some(driver) = drivers.firewalls.get(&device).cloned() else {
            out.insert(device.clone(), Err(format!("no firewall named {device:?} is configured")));
            continue;
        };
        tasks.spawn(async move { (device, driver.snapshot().await.map_err(|e| chain(&e))) });
    }
    while let Some(done) = tasks.join_next().await {
        if let Ok((device, snapshot)) = done {
            out.insert(device, snapshot);
        }
    }
    out
}

/// Each hosting request's objects, read with the cluster's pooled client (16 requests at once).
async fn read_kube(drivers: &Drivers, items: &[&Expectation]) -> BTreeMap<(String, String), Result<Option<String>, String>> {
    let mut wanted: BTreeMap<String, (Value, Vec<String>)> = BTreeMap::new();
    for e in items {
        if let Probe::KubeObject { request, object, params } = &e.probe {
            wanted.entry(request.to_string()).or_insert_with(|| (params.clone(), Vec::new())).1.push(object.clone());
        }
    }
    let mut out = BTreeMap::new();
    let Some(cluster) = drivers.kubernetes.clone() else {
        for (request, (_, objects)) in wanted {
            for o in objects {
                out.insert((request.clone(), o), Err("no Kubernetes cluster is configured".to_string()));
            }
        }
        return out;
    };
    let limit = Arc::new(tokio::sync::Semaphore::new(16));
    let mut tasks = JoinSet::new();
    for (request, (params, objects)) in wanted {
        let (cluster, limit) = (cluster.clone(), limit.clone());
        tasks.spawn(async move {
            let _permit = limit.acquire_owned().await;
            let compared = match crate::domain::RequestId::parse(&request) {
                Ok(id) => match crate::hosting::AppPlan::from_params(&id, &params, cluster.platform()) {
                    Ok(plan) => cluster.compare(&plan).await.map_err(|e| chain(&e)),
                    Err(e) => Err(e.to_string()),
                },
                Err(e) => Err(e.to_string()),
            };
            objects
                .into_iter()
                .map(|o| {
                    let answer = match &compared {
                        Err(e) => Err(e.clone()),
                        Ok(list) => Ok(list.iter().find(|(what, _)| *what == o).map_or_else(|| Some("not among the application's objects".to_string()), |(_, d)| d.clone())),
                    };
                    ((request.clone(), o), answer)
                })
                .collect::<Vec<_>>()
        });
    }
    while let Some(done) = tasks.join_next().await {
        out.extend(done.into_iter().flatten());
    }
    out
}

/// What `e`'s device holds: `Ok(None)` when it is as written, `Ok(Some(found))` when it drifted,
/// `Err` when it could not be read.
pub fn compare(e: &Expectation, r: &Readings) -> Result<Option<Value>, String> {
    let missing = || "the device was not read".to_string();
    match &e.probe {
        Probe::Dns { provider, name, kind, values } => {
            let found = r.dns.get(&(provider.clone(), name.clone(), *kind)).ok_or_else(missing)?.clone()?;
            Ok((found != *values).then(|| json!(found)))
        }
        Probe::SwitchPort { port, .. } => {
            let state = r.ports.get(&(e.device.clone(), port.clone())).ok_or_else(missing)?.clone()?;
            if !state.exists {
                return Ok(Some(json!("port missing")));
            }
            let vlan = state.access_vlan().map_or_else(|| serde_json::to_value(&state.vlans).unwrap_or(Value::Null), |v| json!(v.get()));
            let request = state.request.as_ref().map(|t| t.as_str().to_string());
            let found = json!({ "vlan": vlan, "description": state.description, "enabled": state.enabled, "request": request });
            Ok((found != e.expected_value()).then_some(found))
        }
        Probe::FirewallRule { request, kind } => {
            let snapshot = firewall(r, &e.device)?;
            let present = snapshot.rules.iter().any(|x| x.comment.request == *request && x.comment.kind == *kind);
            Ok((!present).then(|| json!("absent")))
        }
        Probe::FirewallMap { address, chain } => {
            let snapshot = firewall(r, &e.device)?;
            let found = snapshot.mapped.as_ref().and_then(|m| m.get(address));
            Ok((found != Some(chain)).then(|| json!(found)))
        }
        Probe::FirewallJump => {
            let snapshot = firewall(r, &e.device)?;
            Ok((snapshot.jumps != Some(1)).then(|| json!(snapshot.jumps)))
        }
        Probe::KubeObject { request, object, .. } => {
            let difference = r.kube.get(&(request.to_string(), object.clone())).ok_or_else(missing)?.clone()?;
            Ok(difference.map(|d| json!(d)))
        }
    }
}

fn firewall<'a>(r: &'a Readings, device: &str) -> Result<&'a FirewallSnapshot, String> {
    r.firewalls.get(device).ok_or_else(|| "the device was not read".to_string())?.as_ref().map_err(Clone::clone)
}

/// What `e`'s device holds, whether or not it is what was written: the value a read-back keeps
/// (`Err` when the device could not be read).
pub fn observed(e: &Expectation, r: &Readings) -> Result<Value, String> {
    let missing = || "the device was not read".to_string();
    match &e.probe {
        Probe::Dns { provider, name, kind, .. } => Ok(json!(r.dns.get(&(provider.clone(), name.clone(), *kind)).ok_or_else(missing)?.clone()?)),
        Probe::SwitchPort { port, .. } => {
            let state = r.ports.get(&(e.device.clone(), port.clone())).ok_or_else(missing)?.clone()?;
            serde_json::to_value(&state).map_err(|e| e.to_string())
        }
        Probe::FirewallRule { request, kind } => {
            let snapshot = firewall(r, &e.device)?;
            let rules: Vec<Value> = snapshot
                .rules
                .iter()
                .filter(|x| x.comment.request == *request && x.comment.kind == *kind)
                .map(|x| json!({ "chain": x.chain, "handle": x.handle, "comment": format!("kolokasi:{}:{}", x.comment.request, x.comment.kind) }))
                .collect();
            Ok(json!(rules))
        }
        Probe::FirewallMap { address, .. } => Ok(json!(firewall(r, &e.device)?.mapped.as_ref().and_then(|m| m.get(address)))),
        Probe::FirewallJump => Ok(json!(firewall(r, &e.device)?.jumps)),
        Probe::KubeObject { request, object, .. } => {
            let difference = r.kube.get(&(request.to_string(), object.clone())).ok_or_else(missing)?.clone()?;
            Ok(difference.map_or_else(|| json!("as applied"), |d| json!(d)))
        }
    }
}
