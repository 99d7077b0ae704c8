//! Who owns which names: the names a request claims (its domain, which is also a hosting
//! request's Ingress host, and the CNAMEs its playbook declares), the admin's leave for a zone
//! apex or a name outside the configured zones, and the admin's adoption of records found in
//! DNS. The store's unique index decides who holds a name; this module says it in words each
//! reader may see (a requester learns only that another request holds it, staff learn which).

use serde_json::{Value, json};
use time::OffsetDateTime;

use super::{Service, ServiceError, access};
use crate::domain::{Fqdn, RequestForm, RequestId};
use crate::lifecycle::{Actor, Role};
use crate::store::{AuditEntry, ClaimSource, StoreError, Write};

/// The record types an admin may let a request adopt (those kolokasi writes).
pub(crate) const ADOPTABLE: &[&str] = &["A", "AAAA", "PTR", "CNAME", "TXT"];

/// Where a name stands against the configured forward zones.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum NamePlace {
    /// Inside a zone, below its apex: a request may claim it.
    Inside,
    /// The apex of a zone (`kaltimprov.go.id` itself).
    Apex,
    /// In none of the zones.
    Outside,
}

impl Service {
    /// The forward zones kolokasi writes: the inventory's DNS devices and the engine's drivers.
    pub fn dns_forward_zones(&self) -> Vec<Fqdn> {
        let mut zones: Vec<Fqdn> = self.inventory.devices.iter().filter_map(|d| d.zones.as_ref()).flat_map(|z| z.forward.iter().cloned()).collect();
        zones.extend(self.dns_zones.iter().cloned());
        zones.sort_by(|a, b| a.as_str().cmp(b.as_str()));
        zones.dedup();
        zones
    }

    /// With no zones known here (no DNS device in the inventory, no engine), every name counts
    /// as inside: the DNS step, which knows its provider's zones, still refuses the others.
    pub(crate) fn name_place(&self, name: &Fqdn) -> NamePlace {
        let zones = self.dns_forward_zones();
        if zones.is_empty() {
            NamePlace::Inside
        } else if zones.contains(name) {
            NamePlace::Apex
        } else if zones.iter().any(|z| name.is_within(z)) {
            NamePlace::Inside
        } else {
            NamePlace::Outside
        }
    }

    /// The names a request with `form` claims: its domain and every CNAME the `dns_records`
    /// steps of its provisioning playbook declare (resolved against the form).
    pub fn claimed_names(&self, form: &RequestForm) -> Vec<(Fqdn, ClaimSource)> {
        let mut names = vec![(form.domain.clone(), ClaimSource::Domain)];
        let Some(def) = self.run_definitions.get(Service::provisioning_playbook(form.kind)) else { return names };
        let Ok(pb) = serde_json::from_str::<crate::engine::Playbook>(def) else { return names };
        let scope = json!({ "request": { "domain": form.domain, "unit": form.unit.name, "kind": form.kind } });
        for step in pb.steps.iter().filter(|s| s.action == "dns_records") {
            let Some(cnames) = step.with.get("cnames") else { continue };
            let Ok(Value::Array(list)) = crate::engine::playbook::resolve(cnames, &scope) else { continue };
            for name in list.iter().filter_map(Value::as_str).filter_map(|s| Fqdn::parse(s).ok()) {
                if !names.iter().any(|(n, _)| *n == name) {
                    names.push((name, ClaimSource::Cname));
                }
            }
        }
        names
    }

    /// Claims the form's names for `id` inside `w`; a name another request holds is refused
    /// with a message fit for `actor`.
    pub(crate) async fn claim_form_names(&self, w: &mut Write, actor: &Actor, id: &RequestId, form: &RequestForm, now: OffsetDateTime, replace: bool) -> Result<(), ServiceError> {
        let names: Vec<(String, ClaimSource)> = self.claimed_names(form).into_iter().map(|(n, s)| (n.to_string(), s)).collect();
        let result = if replace { w.replace_claims(id.as_str(), &names, now).await } else { w.claim_names(id.as_str(), &names, now).await };
        result.map_err(|e| claim_error(actor, e))
    }

    /// Re-checks at approval: every name still held by this request, and a zone apex or a name
    /// outside the zones only with an admin's leave.
    pub(crate) async fn check_names_at_approval(&self, w: &mut Write, actor: &Actor, id: &RequestId, form: &RequestForm, now: OffsetDateTime) -> Result<(), ServiceError> {
        self.claim_form_names(w, actor, id, form, now, false).await?;
        let allowed = w.allowed_names(id.as_str()).await?;
        for (name, _) in self.claimed_names(form) {
            let place = self.name_place(&name);
            if place != NamePlace::Inside && !allowed.iter().any(|a| a == name.as_str()) {
                let what = if place == NamePlace::Apex { "is the apex of a zone" } else { "lies outside the configured DNS zones" };
                return Err(ServiceError::Conflict(format!(
                    "{name} {what}; an admin must allow it for {id} first (kolokasi request allow-name {id} {name} --reason …)"
                )));
            }
        }
        Ok(())
    }

    /// An admin lets request `id` use `name` although it is a zone apex or outside the zones.
    pub async fn allow_name(&self, actor: &Actor, id: &RequestId, name: &Fqdn, reason: &str) -> Result<(), ServiceError> {
        access::require(actor, &[Role::Admin], "allowing a zone apex or an outside name")?;
        let reason = needs_reason(reason)?;
        let now = OffsetDateTime::now_utc();
        let mut w = self.store.write().await?;
        let row = w.load_request(id).await?;
        if !self.claimed_names(&row.form).iter().any(|(n, _)| n == name) {
            return Err(ServiceError::Invalid(format!("{id} does not name {name} (its names: {})", names_text(&self.claimed_names(&row.form)))));
        }
        let place = match self.name_place(name) {
            NamePlace::Apex => "apex",
            NamePlace::Outside => "outside",
            NamePlace::Inside => "inside",
        };
        w.allow_name(id.as_str(), name.as_str(), &actor.name, reason, now).await?;
        w.audit(AuditEntry {
            actor: actor.clone(),
            request_id: Some(id.to_string()),
            action: "request.allow_name".into(),
            reason: Some(reason.to_string()),
            before: None,
            after: Some(json!({ "name": name, "place": place })),
        })
        .await?;
        w.commit().await?;
        Ok(())
    }

    /// An admin lets request `id`'s DNS step take the rrset (name, kind) as it finds it then,
    /// instead of stopping with a conflict. The name must be one the request claims (or a
    /// reverse name, for PTRs).
    pub async fn adopt_record(&self, actor: &Actor, id: &RequestId, name: &Fqdn, kind: &str, reason: &str) -> Result<(), ServiceError> {
        access::require(actor, &[Role::Admin], "adopting a DNS record")?;
        let reason = needs_reason(reason)?;
        let kind = kind.trim().to_ascii_uppercase();
        if !ADOPTABLE.contains(&kind.as_str()) {
            return Err(ServiceError::Invalid(format!("record type {kind:?}: kolokasi manages only {}", ADOPTABLE.join(", "))));
        }
        let now = OffsetDateTime::now_utc();
        let mut w = self.store.write().await?;
        let row = w.load_request(id).await?;
        if row.state.is_final() {
            return Err(ServiceError::Conflict(format!("{id} is {}; a closed request adopts nothing", row.state)));
        }
        let reverse = name.as_str().ends_with(".arpa");
        if !reverse && !self.claimed_names(&row.form).iter().any(|(n, _)| n == name) {
            return Err(ServiceError::Invalid(format!("{id} does not claim {name} (its names: {})", names_text(&self.claimed_names(&row.form)))));
        }
        w.adopt_record(id.as_str(), name.as_str(), &kind, &actor.name, reason, now).await?;
        w.audit(AuditEntry {
            actor: actor.clone(),
            request_id: Some(id.to_string()),
            action: "request.adopt_record".into(),
            reason: Some(reason.to_string()),
            before: None,
            after: Some(json!({ "name": name, "kind": kind })),
        })
        .await?;
        w.commit().await?;
        Ok(())
    }
}

/// A claim refused: staff see the holding request, a requester only that one exists.
pub(crate) fn claim_error(actor: &Actor, e: StoreError) -> ServiceError {
    match e {
        StoreError::Claimed { name, holder } if actor.role != Role::Requester => {
            ServiceError::Conflict(format!("{name} is already claimed by request {holder}"))
        }
        other => other.into(),
    }
}

/// A reason is required, and is visible text only (as every reason; see `domain::text::reason`).
fn needs_reason(reason: &str) -> Result<&str, ServiceError> {
    match super::checked_reason(reason)? {
        Some(_) => Ok(reason.trim()),
        None => Err(ServiceError::Invalid("this needs a reason".into())),
    }
}

fn names_text(names: &[(Fqdn, ClaimSource)]) -> String {
    names.iter().map(|(n, _)| n.as_str()).collect::<Vec<_>>().join(", ")
}
