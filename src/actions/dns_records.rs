//! `dns_records`: A/AAAA for the request's domain, PTRs in the reverse zones and optional
//! CNAMEs, each rrset replaced whole (idempotent) and read back from the authoritative server.
//! Undo deletes exactly those rrsets, nothing else in the zones.

use std::net::IpAddr;

use serde_json::{Value, json};

use crate::dns::plan_request_records;
use crate::domain::Fqdn;
use crate::engine::action::{optional, required};
use crate::engine::drivers::DnsTarget;
use crate::engine::{Action, ActionCtx, BoxFuture, Outcome, Param, ParamKind, StepError};

pub struct DnsRecords;

const PARAMS: &[Param] = &[
    required("provider", ParamKind::Text),
    required("domain", ParamKind::Name),
    optional("ipv4", ParamKind::Address),
    optional("ipv6", ParamKind::Address),
    optional("cnames", ParamKind::List),
    optional("ttl", ParamKind::Integer),
    // false: no PTR records (a shared address, such as the hosting platform's ingress, keeps
    // the reverse name its owner gave it).
    optional("ptr", ParamKind::Bool),
];


fn target<'a>(ctx: &'a ActionCtx<'a>) -> Result<&'a DnsTarget, StepError> {
    let name = ctx.param_str("provider")?;
    ctx.env.drivers.dns.get(name).map(|t| t.as_ref()).ok_or_else(|| StepError::invalid(format!("no DNS provider named {name:?} is configured")))
}

/// The planned records from the parameters: (zone, name, kind, values).
fn plan(ctx: &ActionCtx<'_>, t: &DnsTarget) -> Result<Vec<(Fqdn, crate::dns::RecordSet)>, StepError> {
    let fatal = |m: String| StepError::invalid(m);
    let domain = Fqdn::parse(ctx.param_str("domain")?).map_err(|e| fatal(format!("domain: {e}")))?;
    let ip = |k: &str| -> Result<Option<IpAddr>, StepError> {
        ctx.param_opt_str(k).map(|s| s.parse::<IpAddr>().map_err(|_| fatal(format!("{k}: {s:?} is not an address")))).transpose()
    };
    let v4 = match ip("ipv4")? {
        Some(IpAddr::V4(a)) => Some(a),
        Some(_) => return Err(fatal("ipv4 holds an IPv6 address".into())),
        None => None,
    };
    let v6 = match ip("ipv6")? {
        Some(IpAddr::V6(a)) => Some(a),
        Some(_) => return Err(fatal("ipv6 holds an IPv4 address".into())),
        None => None,
    };
    let cnames = match ctx.params.get("cnames") {
        Some(Value::Array(a)) => a
            .iter()
            .map(|v| v.as_str().ok_or_else(|| fatal("cnames must be names".into())).and_then(|s| Fqdn::parse(s).map_err(|e| fatal(format!("cname {s:?}: {e}")))))
            .collect::<Result<Vec<_>, _>>()?,
        _ => vec![],
    };
    let ttl = ctx.params.get("ttl").and_then(Value::as_u64).unwrap_or(300) as u32;
    if ctx.params.get("ptr").and_then(Value::as_bool).unwrap_or(true) {
        return plan_request_records(&domain, v4, v6, &cnames, ttl, &t.zones).map_err(StepError::from);
    }
    let mut records = plan_request_records(&domain, None, None, &cnames, ttl, &t.zones).map_err(StepError::from)?;
    let zone = t.zones.forward_zone_of(&domain).cloned().ok_or_else(|| fatal(format!("no forward zone serves {domain}")))?;
    let addresses = v4.map(|a| (crate::dns::RecordKind::A, a.to_string())).into_iter().chain(v6.map(|a| (crate::dns::RecordKind::Aaaa, a.to_string())));
    for (i, (kind, value)) in addresses.enumerate() {
        records.insert(i, (zone.clone(), crate::dns::RecordSet::new(domain.clone(), kind, ttl, vec![value])));
    }
    Ok(records)
}

impl Action for DnsRecords {
    fn name(&self) -> &'static str {
        "dns_records"
    }
    fn describe(&self) -> &'static str {
        "write and verify the DNS records"
    }
    fn params(&self) -> &'static [Param] {
        PARAMS
    }
    fn outputs(&self) -> &'static [&'static str] {
        &["provider", "records"]
    }
    fn devices(&self, params: &Value) -> Vec<String> {
        params.get("provider").and_then(Value::as_str).map(|p| vec![format!("dns:{p}")]).unwrap_or_default()
    }
    fn plan(&self, ctx: &ActionCtx<'_>) -> String {
        match target(ctx).and_then(|t| plan(ctx, t)) {
            Ok(records) => {
                let list: Vec<String> = records.iter().map(|(_, r)| format!("{} {} {}", r.name, r.kind.as_str(), r.values.join(","))).collect();
                format!("via {}: {}", ctx.param_str("provider").unwrap_or("?"), list.join("; "))
            }
            Err(_) => format!("records for {} (addresses known after the address steps)", ctx.param_opt_str("domain").unwrap_or("?")),
        }
    }
    fn run<'a>(&'a self, ctx: &'a ActionCtx<'a>) -> BoxFuture<'a, Result<Outcome, StepError>> {
        Box::pin(async move {
            let t = target(ctx)?;
            let records = plan(ctx, t)?;
            let mut out = Vec::new();
            for (zone, set) in &records {
                t.provider.replace_verified(zone, set).await.map_err(StepError::from)?;
                out.push(json!({ "zone": zone, "name": set.name, "kind": set.kind.as_str(), "values": set.values }));
            }
            Ok(Outcome::Done(json!({ "provider": ctx.param_str("provider")?, "records": out })))
        })
    }
    fn undo<'a>(&'a self, ctx: &'a ActionCtx<'a>, _output: Option<&'a Value>) -> BoxFuture<'a, Result<(), StepError>> {
        Box::pin(async move {
            // Re-planned from the saved parameters, so an undo after a crash mid-step removes
            // whatever part of the records had been written.
            let t = target(ctx)?;
            for (zone, set) in plan(ctx, t)? {
                t.provider.delete_verified(&zone, &set.name, set.kind).await.map_err(StepError::from)?;
            }
            Ok(())
        })
    }
}

