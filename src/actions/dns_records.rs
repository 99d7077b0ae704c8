//! `dns_records`: A/AAAA for the request's domain, PTRs in the reverse zones and optional
//! CNAMEs, each rrset replaced whole (idempotent) and read back from the authoritative server.
//! Undo deletes exactly those rrsets, nothing else in the zones.
//!
//! Ownership (see `store::claims`): the domain and the CNAMEs must be claimed by this request
//! (a zone apex needs an admin's leave; a name outside the zones that an admin allowed is
//! left to whoever serves it). Every write is conditional: an rrset kolokasi has not written
//! for this request must not exist, one it wrote must still hold exactly what it wrote
//! (`dns_record_owners`), unless an admin let the request adopt it. Anything else stops the
//! step with a conflict naming the rrset, what was expected and what is there; nothing is
//! overwritten. An rrset that already holds exactly the values this step writes counts as
//! its own (a re-run after a crash between the write and its bookkeeping).
//!
//! Undo deletes an rrset only while it holds exactly what this request wrote: a value changed
//! by hand since is refused as a conflict and stays. The operator's ways out: skip the step
//! (the hand-made record stays), or have an admin adopt the record and retry (then the undo
//! deletes what it finds).

use std::net::IpAddr;

use serde_json::Value;

use crate::dns::{DnsError, DnsStepOutput, RecordKind, RecordSet, WrittenRecord, plan_request_records};
use crate::domain::Fqdn;
use crate::engine::action::{optional, required};
use crate::engine::drivers::DnsTarget;
use crate::engine::{Action, ActionCtx, BoxFuture, Cause, Outcome, Param, ParamKind, StepError};
use crate::store::ClaimSource;

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
fn plan(ctx: &ActionCtx<'_>, t: &DnsTarget, skip: &[Fqdn]) -> Result<Vec<(Fqdn, RecordSet)>, StepError> {
    let fatal = |m: String| StepError::invalid(m);
    let (domain, mut cnames) = names(ctx)?;
    if skip.contains(&domain) {
        return Ok(Vec::new());
    }
    cnames.retain(|c| !skip.contains(c));
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
    let ttl = ctx.params.get("ttl").and_then(Value::as_u64).unwrap_or(300) as u32;
    if ctx.params.get("ptr").and_then(Value::as_bool).unwrap_or(true) {
        return plan_request_records(&domain, v4, v6, &cnames, ttl, &t.zones).map_err(StepError::from);
    }
    let mut records = plan_request_records(&domain, None, None, &cnames, ttl, &t.zones).map_err(StepError::from)?;
    let zone = t.zones.forward_zone_of(&domain).cloned().ok_or_else(|| fatal(format!("no forward zone serves {domain}")))?;
    let addresses = v4.map(|a| (RecordKind::A, a.to_string())).into_iter().chain(v6.map(|a| (RecordKind::Aaaa, a.to_string())));
    for (i, (kind, value)) in addresses.enumerate() {
        records.insert(i, (zone.clone(), RecordSet::new(domain.clone(), kind, ttl, vec![value])));
    }
    Ok(records)
}

/// The forward names the step writes: the domain and the CNAMEs.
fn names(ctx: &ActionCtx<'_>) -> Result<(Fqdn, Vec<Fqdn>), StepError> {
    let fatal = |m: String| StepError::invalid(m);
    let domain = Fqdn::parse(ctx.param_str("domain")?).map_err(|e| fatal(format!("domain: {e}")))?;
    let cnames = match ctx.params.get("cnames") {
        Some(Value::Array(a)) => a
            .iter()
            .map(|v| v.as_str().ok_or_else(|| fatal("cnames must be names".into())).and_then(|s| Fqdn::parse(s).map_err(|e| fatal(format!("cname {s:?}: {e}")))))
            .collect::<Result<Vec<_>, _>>()?,
        _ => vec![],
    };
    Ok((domain, cnames))
}

/// Checks that the request owns its forward names (claiming any the submission could not
/// know) and returns the names an admin allowed outside the zones (nothing is written there).
async fn owned_names(ctx: &ActionCtx<'_>, t: &DnsTarget) -> Result<Vec<Fqdn>, StepError> {
    let store = &ctx.env.service.store;
    let me = ctx.request.id.as_str();
    let (domain, cnames) = names(ctx)?;
    let mut skip = Vec::new();
    let all = std::iter::once((domain, ClaimSource::Domain)).chain(cnames.into_iter().map(|c| (c, ClaimSource::Cname)));
    for (name, source) in all {
        store.claim_name(me, name.as_str(), source).await.map_err(|e| StepError::from(e).context(format!("{name} belongs to another request")))?;
        let apex = t.zones.forward.contains(&name);
        let outside = t.zones.forward_zone_of(&name).is_none();
        if (apex || outside) && !store.name_allowed(me, name.as_str()).await? {
            let what = if apex { "is the apex of a zone" } else { "lies outside the configured zones" };
            return Err(StepError::new(Cause::Conflict, format!("{name} {what}: only an admin can allow it (kolokasi request allow-name {me} {name})")));
        }
        if outside {
            skip.push(name);
        }
    }
    Ok(skip)
}

/// Writes one rrset, conditionally (see the module doc). Returns the values it replaced when
/// an admin's adoption let it take an existing rrset.
async fn write_owned(ctx: &ActionCtx<'_>, t: &DnsTarget, zone: &Fqdn, set: &RecordSet) -> Result<Option<Vec<String>>, StepError> {
    let store = &ctx.env.service.store;
    let (me, provider) = (ctx.request.id.as_str(), ctx.param_str("provider")?);
    let (name, kind) = (set.name.as_str(), set.kind.as_str());
    let desired = set.normalized_values().map_err(StepError::from)?;
    let mut expected = match store.record_owner(provider, name, kind).await? {
        Some(o) if o.request_id == me => o.values,
        Some(o) => return Err(StepError::new(Cause::Conflict, format!("{name} {kind} via {provider} was written for request {}; not overwritten", o.request_id))),
        None => Vec::new(),
    };
    let adopted = store.pending_adoption(me, name, kind).await?;
    let mut replaced = None;
    if adopted {
        // TODO(robustness): read from the PowerDNS API rather than over DNS, where a server
        // with a packet cache may answer stale values (the conditional write then refuses, and
        // a retry after the cache expires succeeds).
        expected = t.provider.read(&set.name, set.kind).await.map_err(StepError::from)?;
        replaced = Some(expected.clone());
    }
    match t.provider.replace_if_verified(zone, set, &expected).await {
        Ok(()) => {}
        Err(DnsError::Conflict { found, .. }) if found == desired => {}
        Err(e) => return Err(e.into()),
    }
    store.set_record_owner(provider, name, kind, me, &desired).await?;
    if adopted {
        store.adoption_used(me, name, kind).await?;
    }
    Ok(replaced)
}

/// Deletes one rrset if it still holds what this request wrote (see the module doc).
async fn delete_owned(ctx: &ActionCtx<'_>, t: &DnsTarget, zone: &Fqdn, set: &RecordSet) -> Result<(), StepError> {
    let store = &ctx.env.service.store;
    let (me, provider) = (ctx.request.id.as_str(), ctx.param_str("provider")?);
    let (name, kind) = (set.name.as_str(), set.kind.as_str());
    let mut expected = match store.record_owner(provider, name, kind).await? {
        Some(o) if o.request_id == me => o.values,
        // Another request's rrset is not ours to delete.
        Some(_) => return Ok(()),
        // Never recorded: ours only if it holds exactly what this step writes (a crash
        // between the write and its bookkeeping); anything else was never ours.
        None => {
            let current = t.provider.read(&set.name, set.kind).await.map_err(StepError::from)?;
            if current.is_empty() || current != set.normalized_values().map_err(StepError::from)? {
                return Ok(());
            }
            current
        }
    };
    let adopted = store.pending_adoption(me, name, kind).await?;
    if adopted {
        expected = t.provider.read(&set.name, set.kind).await.map_err(StepError::from)?;
    }
    match t.provider.delete_if_verified(zone, &set.name, set.kind, &expected).await {
        Ok(()) => {}
        // Gone already (an earlier undo, or someone removed it): nothing left to do.
        Err(DnsError::Conflict { found, .. }) if found.is_empty() => {}
        Err(e) => {
            return Err(StepError::from(e).context(format!(
                "{name} {kind} was changed after kolokasi wrote it; it is left as it is (skip this step, or have an admin adopt the record and retry)"
            )));
        }
    }
    store.drop_record_owner(provider, name, kind, me).await?;
    if adopted {
        store.adoption_used(me, name, kind).await?;
    }
    Ok(())
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
        match target(ctx).and_then(|t| plan(ctx, t, &[])) {
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
            let skip = owned_names(ctx, t).await?;
            let records = plan(ctx, t, &skip)?;
            let mut written = Vec::new();
            for (zone, set) in &records {
                let adopted_from = write_owned(ctx, t, zone, set).await?;
                written.push(WrittenRecord { zone: zone.clone(), name: set.name.clone(), kind: set.kind, values: set.values.clone(), adopted_from });
            }
            let output = DnsStepOutput { provider: ctx.param_str("provider")?.to_string(), records: written };
            Ok(Outcome::Done(serde_json::to_value(output).expect("serialisable")))
        })
    }
    fn undo<'a>(&'a self, ctx: &'a ActionCtx<'a>, _output: Option<&'a Value>) -> BoxFuture<'a, Result<(), StepError>> {
        Box::pin(async move {
            // Re-planned from the saved parameters, so an undo after a crash mid-step removes
            // whatever part of the records had been written.
            let t = target(ctx)?;
            let (domain, cnames) = names(ctx)?;
            let store = &ctx.env.service.store;
            let mut skip = Vec::new();
            for name in std::iter::once(domain).chain(cnames) {
                if t.zones.forward_zone_of(&name).is_none() && store.name_allowed(ctx.request.id.as_str(), name.as_str()).await? {
                    skip.push(name);
                }
            }
            for (zone, set) in plan(ctx, t, &skip)? {
                delete_owned(ctx, t, &zone, &set).await?;
            }
            Ok(())
        })
    }
}

