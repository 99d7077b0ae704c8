//! What a live request's provisioning run wrote, from its run log: each succeeded device step's
//! saved parameters and output, turned into items with a stable key (`dns:NAME/A`,
//! `switch:sw-r01/r1p7`, `firewall:fw-1/accept/tcp/443/198.51.100.140`,
//! `kubernetes:Ingress/kolokasi-ingress`, …) and the step that
//! wrote them (what a repair re-runs).

use std::net::IpAddr;

use serde_json::{Value, json};

use crate::domain::SavedOutput;
use crate::dns::{DnsStepOutput, RecordKind, RecordSet};
use crate::domain::Fqdn;
use crate::engine::{Drivers, RunView, StepStatus};
use crate::firewall::rule::drop_kind;
use crate::firewall::{FirewallRule, FirewallStepOutput, Service, parse_source};
use crate::ssh::RequestTag;
use crate::switch::SwitchStepOutput;

/// One thing a step wrote to a device, and how to read it back.
#[derive(Debug, Clone)]
pub struct Expectation {
    /// Stable key: what `drift accept` names.
    pub item: String,
    /// The run step that wrote it.
    pub step: String,
    /// Where it lives (`dns:primary`, `sw-r01`, `fw-1`).
    pub device: String,
    pub probe: Probe,
}

#[derive(Debug, Clone)]
pub enum Probe {
    /// The rrset holds exactly these values (canonical presentation form, sorted).
    Dns { provider: String, name: Fqdn, kind: RecordKind, values: Vec<String> },
    /// The port is in this access VLAN, with this description, enabled, owned by the request.
    SwitchPort { port: String, vlan: u16, description: String, request: RequestTag },
    /// A rule with the comment `kolokasi:<request>:<kind>` is installed.
    FirewallRule { request: RequestTag, kind: String },
    /// The destination's map entry leads to the request's chain.
    FirewallMap { address: IpAddr, chain: String },
    /// Exactly one jump into kolokasi's dispatch chain.
    FirewallJump,
    /// A hosting object (`Kind/name`) holds everything an apply of the step's parameters sends.
    KubeObject { request: RequestTag, object: String, params: Value },
}

impl Expectation {
    /// What the run log says is there, for reports.
    pub fn expected_value(&self) -> Value {
        match &self.probe {
            Probe::Dns { values, .. } => json!(values),
            Probe::SwitchPort { vlan, description, request, .. } => json!({ "vlan": vlan, "description": description, "enabled": true, "request": request.as_str() }),
            Probe::FirewallRule { .. } => json!("present"),
            Probe::FirewallMap { chain, .. } => json!(chain),
            Probe::FirewallJump => json!(1),
            Probe::KubeObject { .. } => json!("as applied"),
        }
    }
}

/// The items of every succeeded device step of `view`. Steps of other actions (addresses,
/// notices, inspection) leave nothing on a device to drift.
/// TODO(design): a step skipped by an operator is not expected to have written anything; a
/// device changed by `retry` of a later attempt is compared with that attempt's output only.
pub fn from_run(request: &RequestTag, view: &RunView, drivers: &Drivers) -> Vec<Expectation> {
    let mut out = Vec::new();
    for step in view.steps.iter().filter(|s| s.status == StepStatus::Succeeded) {
        let (Some(params), Some(output)) = (&step.params, &step.output) else { continue };
        if output.get("not_applicable").is_some() {
            continue;
        }
        match step.action.as_str() {
            "dns_records" => dns(&step.name, output, &mut out),
            "switch_port" => switch(&step.name, request, params, output, &mut out),
            "firewall_rules" => firewall(&step.name, request, params, output, drivers, &mut out),
            "kubernetes_app" => kubernetes(&step.name, request, params, output, &mut out),
            _ => {}
        }
    }
    out
}

fn dns(step: &str, output: &Value, out: &mut Vec<Expectation>) {
    let Some(output) = DnsStepOutput::read(output) else { return };
    let provider = output.provider;
    for r in output.records {
        let (name, kind, values) = (r.name, r.kind, r.values);
        let set = RecordSet::new(name.clone(), kind, 0, values.clone());
        let values = set.normalized_values().unwrap_or(values);
        out.push(Expectation {
            item: format!("dns:{name}/{kind}"),
            step: step.to_string(),
            device: format!("dns:{provider}"),
            probe: Probe::Dns { provider: provider.clone(), name, kind, values },
        });
    }
}

fn switch(step: &str, request: &RequestTag, params: &Value, output: &Value, out: &mut Vec<Expectation>) {
    let Some(SwitchStepOutput { device, port, vlan, .. }) = SwitchStepOutput::read(output) else { return };
    let description = params["description"].as_str().filter(|d| !d.is_empty()).map_or_else(|| format!("kolokasi {request}"), String::from);
    out.push(Expectation {
        item: format!("switch:{device}/{port}"),
        step: step.to_string(),
        device,
        probe: Probe::SwitchPort { port, vlan, description, request: request.clone() },
    });
}

fn texts(v: &Value) -> Vec<&str> {
    match v {
        Value::String(s) => vec![s.as_str()],
        Value::Array(a) => a.iter().filter_map(Value::as_str).collect(),
        _ => Vec::new(),
    }
}

fn firewall(step: &str, request: &RequestTag, params: &Value, output: &Value, drivers: &Drivers, out: &mut Vec<Expectation>) {
    let Some(FirewallStepOutput { device, address, .. }) = FirewallStepOutput::read(output) else { return };
    let device = device.as_str();
    let sources: Vec<_> = texts(&params["sources"]).into_iter().filter_map(|s| parse_source(s).ok()).collect();
    let mut kinds: Vec<String> = texts(&params["services"])
        .into_iter()
        .filter_map(|s| s.parse::<Service>().ok())
        .filter_map(|s| FirewallRule::new(request.clone(), address, s, sources.clone()).ok())
        .map(|r| r.kind())
        .collect();
    kinds.sort();
    kinds.dedup();
    kinds.push(drop_kind(address));
    let item = |what: &str, probe| Expectation { item: format!("firewall:{device}/{what}"), step: step.to_string(), device: device.to_string(), probe };
    for kind in kinds {
        out.push(item(&kind, Probe::FirewallRule { request: request.clone(), kind: kind.clone() }));
    }
    if let Some(driver) = drivers.firewalls.get(device) {
        if let Some(chain) = driver.expected_chain(request, address) {
            out.push(item(&format!("map/{address}"), Probe::FirewallMap { address, chain }));
        }
        if driver.uses_jump() {
            out.push(item("jump", Probe::FirewallJump));
        }
    }
}

fn kubernetes(step: &str, request: &RequestTag, params: &Value, output: &Value, out: &mut Vec<Expectation>) {
    for object in output["objects"].as_array().into_iter().flatten().filter_map(Value::as_str) {
        out.push(Expectation {
            item: format!("kubernetes:{object}"),
            step: step.to_string(),
            device: "kubernetes".into(),
            probe: Probe::KubeObject { request: request.clone(), object: object.to_string(), params: params.clone() },
        });
    }
}
