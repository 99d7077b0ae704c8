//! The canonical data of one document, built only from the stored record, so that the same
//! record always gives the same data, the same hash and the same bytes.
//!
//! The host admin password enters only through [`Record::host_admin_password`] (the service
//! sets it for an authorised, audited reveal); the hash is computed with it masked, so a
//! document's hash never depends on, nor reveals anything about, the password.

use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use super::server_table::server_row;
use super::words::{day_name, long_date, month_name, opening};
use super::{DocumentError, DocumentKind, Lang};
use crate::domain::SavedOutput;
use crate::ipam::AddressOutput;
use crate::dns::{DnsStepOutput, RecordKind};
use crate::domain::{ApprovalDecision, Official, Validity};
use crate::inspect::{InspectionOutput, ServerFacts};
use crate::lifecycle::sla::WITA;
use crate::secrets::Secret;
use crate::store::{EventRecord, RequestRow};

/// The saved output of one succeeded step of the provisioning run.
#[derive(Debug, Clone)]
pub struct StepOutput {
    pub step: String,
    pub action: String,
    pub at: OffsetDateTime,
    pub output: Value,
}

/// Everything a document is made from.
pub struct Record<'a> {
    pub request: &'a RequestRow,
    pub events: &'a [EventRecord],
    /// The provisioning run's succeeded steps (empty before provisioning).
    pub provisioning: &'a [StepOutput],
    /// Only for an authorised reveal (Form Persetujuan with `include_credentials`).
    pub host_admin_password: Option<&'a Secret>,
}

/// Stands for the password where it is not printed.
const PASSWORD_WITHHELD: &str = "********";

fn official(o: Option<&Official>) -> Value {
    match o {
        Some(o) => json!({ "name": o.name, "nip": o.nip, "position": o.position }),
        None => Value::Null,
    }
}

fn event_at(events: &[EventRecord], event: &str) -> Option<OffsetDateTime> {
    events.iter().rev().find(|e| e.event == event).map(|e| e.at)
}

fn outputs<'a>(record: &'a Record<'_>, action: &str) -> impl Iterator<Item = &'a StepOutput> {
    let action = action.to_string();
    record.provisioning.iter().filter(move |s| s.action == action)
}

/// When the document was issued, from the record's own timestamps.
fn issued_at(record: &Record<'_>, kind: DocumentKind) -> Result<OffsetDateTime, DocumentError> {
    let r = record.request;
    let at = match kind {
        DocumentKind::Pengajuan => event_at(record.events, "complete_form").unwrap_or(r.submitted_at),
        DocumentKind::Persetujuan => event_at(record.events, "approve")
            .or_else(|| event_at(record.events, "reject"))
            .ok_or_else(|| DocumentError::NotReady(format!("request {} has no Form Persetujuan yet (not approved or rejected)", r.id)))?,
        DocumentKind::Pencabutan => event_at(record.events, "request_revocation")
            .ok_or_else(|| DocumentError::NotReady(format!("request {} has no Form Pencabutan (no revocation filed)", r.id)))?,
        DocumentKind::BeritaAcara => match event_at(record.events, "hand_over") {
            Some(at) => at,
            None => outputs(record, "inspect_server").map(|s| s.at).max().ok_or_else(|| {
                DocumentError::NotReady(format!("request {} has no inspection yet: the berita acara is filled from the inspection's measured facts", r.id))
            })?,
        },
    };
    Ok(at)
}

fn validity(v: Validity, lang: Lang) -> Value {
    match v {
        Validity::Permanent => json!({ "permanent": true, "until": null }),
        Validity::Until(d) => json!({ "permanent": false, "until": long_date(d, lang) }),
    }
}

/// The data of `kind` in `lang`, with its `sha256`. `office` is the data center's own identity
/// (`office.yaml`: unit name, address, Kepala Bidang and receiving official).
pub fn document_data(record: &Record<'_>, kind: DocumentKind, lang: Lang, office: &Value) -> Result<Value, DocumentError> {
    let r = record.request;
    let form = &r.form;
    let issued = issued_at(record, kind)?;
    let issued_date = issued.to_offset(WITA).date();
    let approval = approval_data(record, lang);
    let head = approval.as_ref().map(|a| a["signed_by"].clone()).filter(|v| !v.is_null()).unwrap_or_else(|| office.get("head").cloned().unwrap_or(Value::Null));
    let handover = handover_data(record, approval.as_ref());

    let mut data = json!({
        "kind": kind,
        "lang": lang,
        "issued_at": issued.format(&Rfc3339).expect("formats"),
        "issued": {
            "date": long_date(issued_date, lang),
            "day_name": day_name(issued_date, lang),
            "month_name": month_name(issued_date.month(), lang),
            "opening": opening(issued_date, lang),
        },
        "request": { "id": r.id, "kind": form.kind, "submitted": long_date(r.submitted_at.to_offset(WITA).date(), lang) },
        "unit": { "name": form.unit.name, "address": form.unit.address },
        "official": official(Some(&form.official)),
        "contact": form.contact,
        "email": form.email,
        "domain": form.domain,
        "domain_active_from": long_date(form.domain_active_from, lang),
        "validity": validity(form.validity, lang),
        "approved_by": official(form.approved_by.as_ref()),
        "notes": form.notes,
        "approval": approval,
        "revocation": r.revocation.as_ref().map(|v| json!({
            "reasons": v.reasons,
            "effective": v.effective.map(|d| long_date(d, lang)),
            "approved_by": official(v.approved_by.as_ref()),
        })),
        "hardware": r.hardware.as_ref().map(|h| json!({ "serial_number": h.serial_number, "type_brand": h.type_brand, "switch_port": h.switch_port })),
        "handover": handover,
        "office": office,
        "head": head,
    });
    let hash = content_hash(&data);
    data["sha256"] = Value::String(hash);
    Ok(data)
}

/// The Form Persetujuan's decision and, for a co-location, its data-center block; the host admin
/// password only for an authorised reveal, else withheld.
fn approval_data(record: &Record<'_>, lang: Lang) -> Option<Value> {
    let r = record.request;
    r.approval.as_ref().map(|a| {
        let coloc = a.colocation.as_ref().map(|c| {
            let password = match (&c.host_admin.as_ref().and_then(|h| h.password.as_ref()), record.host_admin_password) {
                (_, Some(p)) => Value::String(p.expose().to_string()),
                (Some(_), None) => Value::String(PASSWORD_WITHHELD.into()),
                (None, None) => Value::Null,
            };
            json!({
                "noc": c.noc,
                "server_location": c.server_location,
                "serial_number": c.serial_number.as_ref().or(r.hardware.as_ref().map(|h| &h.serial_number)),
                "type_brand": c.type_brand.as_ref().or(r.hardware.as_ref().map(|h| &h.type_brand)),
                "domain": c.domain,
                "host_admin_user": c.host_admin.as_ref().map(|h| &h.user),
                "host_admin_password": password,
                "credentials_included": record.host_admin_password.is_some(),
                "ip_address": c.ip_address.map(|ip| ip.to_string()),
            })
        });
        json!({
            "approved": a.decision == ApprovalDecision::Approve,
            "place": a.place,
            "date": long_date(a.date, lang),
            "reasons": a.reasons,
            "signed_by": official(a.signed_by.as_ref()),
            "data_center": a.data_center.as_ref().map(|d| json!({ "noc": d.noc, "server_location": d.server_location, "domain": d.domain })),
            "colocation": coloc,
        })
    })
}

/// What the berita acara records of the installation: addresses, names, placement, the server
/// table with measured facts, and for a hosted application what the platform gave it.
fn handover_data(record: &Record<'_>, approval: Option<&Value>) -> Value {
    let (ipv4, ipv6) = allocated_addresses(record);
    // The data-center copy of the "IP Address" line: the allocated address when the Form
    // Persetujuan did not record one.
    let ip_address = approval
        .and_then(|a| a["colocation"]["ip_address"].as_str().map(str::to_string))
        .or_else(|| ipv4.first().map(|a| a.split('/').next().unwrap_or(a).to_string()));
    let placement = record
        .request
        .capacity
        .as_ref()
        .and_then(|c| c.placements.first())
        .map(|p| json!({ "noc": p.noc, "rack": p.rack, "from_u": p.from_u, "to_u": p.to_u, "location": p.location() }));
    json!({
        "servers": server_rows(record),
        "inspected": outputs(record, "inspect_server").filter_map(|s| InspectionOutput::read(&s.output)).any(|o| o.passed),
        "platform": platform(record),
        "applications": applications(record),
        "ipv4": ipv4,
        "ipv6": ipv6,
        "ip_address": ip_address,
        "dns_names": dns_names(record),
        "placement": placement,
    })
}

/// The addresses provisioning allocated, with their prefix length, v4 and v6 apart.
fn allocated_addresses(record: &Record<'_>) -> (Vec<String>, Vec<String>) {
    let mut ipv4 = Vec::new();
    let mut ipv6 = Vec::new();
    for output in outputs(record, "allocate_address").filter_map(|s| AddressOutput::read(&s.output)) {
        let (Some(address), Some(with_prefix)) = (output.address, output.with_prefix()) else { continue };
        if address.is_ipv6() { ipv6.push(with_prefix) } else { ipv4.push(with_prefix) }
    }
    (ipv4, ipv6)
}

/// The names the DNS step wrote (A, AAAA, CNAME), or the form's domain before it ran.
fn dns_names(record: &Record<'_>) -> Vec<String> {
    let mut names: Vec<String> = outputs(record, "dns_records")
        .filter_map(|s| DnsStepOutput::read(&s.output))
        .flat_map(|o| o.records)
        .filter(|rec| matches!(rec.kind, RecordKind::A | RecordKind::Aaaa | RecordKind::Cname))
        .map(|rec| rec.name.to_string())
        .collect();
    names.dedup();
    if names.is_empty() {
        names.push(record.request.form.domain.to_string());
    }
    names
}

/// The server table: measured facts of each inspected server, declared values beside them.
fn server_rows(record: &Record<'_>) -> Vec<Value> {
    let facts: Vec<(String, ServerFacts)> = outputs(record, "inspect_server")
        .filter_map(|s| InspectionOutput::read(&s.output))
        .map(|o| (o.server, o.facts))
        .collect();
    record
        .request
        .form
        .servers
        .iter()
        .enumerate()
        .map(|(i, spec)| {
            let measured = facts.iter().find(|(n, _)| n.eq_ignore_ascii_case(spec.name.as_str())).map(|(_, f)| f);
            let mut row = serde_json::to_value(server_row(spec, measured)).expect("serialisable");
            row["no"] = json!(i + 1);
            row
        })
        .collect()
}

/// A hosted application brings no hardware: its handover names what the platform gave it
/// (namespace, the applied objects, the ingress it is reached through).
fn platform(record: &Record<'_>) -> Option<Value> {
    outputs(record, "kubernetes_app").last().map(|s| {
        let ingress: Vec<&str> = ["ingress_v4", "ingress_v6"].iter().filter_map(|k| s.output.get(*k).and_then(Value::as_str)).collect();
        json!({ "namespace": s.output["namespace"], "objects": s.output["objects"], "ingress": ingress })
    })
}

/// The quota each application received, which is its declared specification.
fn applications(record: &Record<'_>) -> Vec<Value> {
    record
        .request
        .form
        .servers
        .iter()
        .enumerate()
        .map(|(i, spec)| {
            json!({
                "no": i + 1,
                "name": spec.name,
                "cpu_cores": spec.cpu_cores,
                "ram_gb": spec.ram_gb,
                "storage_gb": spec.storage_gb,
                "bandwidth_mbps": spec.bandwidth_mbps,
                "services": spec.services.iter().map(ToString::to_string).collect::<Vec<_>>().join(", "),
            })
        })
        .collect()
}

/// SHA-256 (hex) of the data with any revealed password masked.
fn content_hash(data: &Value) -> String {
    let mut masked = data.clone();
    if let Some(p) = masked.pointer_mut("/approval/colocation/host_admin_password").filter(|p| !p.is_null()) {
        *p = Value::String(PASSWORD_WITHHELD.into());
    }
    if let Some(p) = masked.pointer_mut("/approval/colocation/credentials_included") {
        *p = Value::Bool(false);
    }
    hex::encode(Sha256::digest(serde_json::to_vec(&masked).expect("serialisable")))
}
