//! The bundle's files, read from the store: `request.json`, `runs/<playbook>.json`,
//! `readback/<phase>-<n>.json`, `inspection/<playbook>-<step>-<attempt>.json`, and the
//! documents as kolokasi renders them (`documents/…`). Every JSON file is redacted.

use serde_json::{Value, json};

use super::EvidenceError;
use super::redact::redact;
use crate::documents::{DocFormat, DocumentKind, Lang};
use crate::domain::RequestId;
use crate::lifecycle::Actor;
use crate::service::{Service, ServiceError};
use crate::store::{RunEvent, RunRow};

/// One file of the bundle.
#[derive(Debug, Clone)]
pub struct File {
    pub path: String,
    pub bytes: Vec<u8>,
}

impl File {
    pub fn json(path: impl Into<String>, value: &Value) -> Self {
        let bytes = serde_json::to_vec_pretty(&redact(value.clone())).expect("a JSON value serialises");
        Self { path: path.into(), bytes }
    }
}

/// The request's files, and notes on what could not be included.
pub async fn collect(svc: &Service, actor: &Actor, id: &RequestId) -> Result<(Vec<File>, Vec<String>), EvidenceError> {
    let mut files = vec![request_file(svc, id).await?];
    for run in svc.store.runs_for_request(id.as_str()).await? {
        let events = svc.store.run_events(&run.id).await?;
        let steps = step_names(&run)?;
        files.push(File::json(format!("runs/{}.json", run.playbook), &run_json(&run, &steps, &events)));
        files.extend(inspections(&run, &steps, &events));
    }
    let mut per_phase = std::collections::BTreeMap::<String, usize>::new();
    for r in svc.store.readbacks(id.as_str()).await? {
        let n = per_phase.entry(r.phase.clone()).or_default();
        *n += 1;
        files.push(File::json(format!("readback/{}-{}.json", r.phase, n), &serde_json::to_value(&r).expect("serialisable")));
    }
    let (documents, notes) = documents(svc, actor, id).await?;
    files.extend(documents);
    Ok((files, notes))
}

/// The forms as they stand (submitted, then completed), the approval, the hardware receipt,
/// the revocation, the capacity verdict, and the state history with actors and times.
async fn request_file(svc: &Service, id: &RequestId) -> Result<File, EvidenceError> {
    let (row, history) = tokio::try_join!(svc.store.request(id), svc.store.request_events(id))?;
    let value = json!({
        "id": row.id.as_str(),
        "state": row.state,
        "submitted_at": rfc3339(row.submitted_at),
        "updated_at": rfc3339(row.updated_at),
        "sla_due_at": row.sla_due_at.map(rfc3339),
        "form": row.form,
        "approval": row.approval,
        "hardware": row.hardware,
        "revocation": row.revocation,
        "capacity": row.capacity,
        "history": history,
        "note": "Changes to the form field by field (before/after) are the request.* rows of audit/proof.json.",
    });
    Ok(File::json("request.json", &value))
}

fn rfc3339(t: time::OffsetDateTime) -> String {
    t.format(&time::format_description::well_known::Rfc3339).unwrap_or_default()
}

/// `(name, action)` of each step, from the run's stored definition.
fn step_names(run: &RunRow) -> Result<Vec<(String, String)>, EvidenceError> {
    let def: Value = serde_json::from_str(&run.definition_json).map_err(|source| EvidenceError::Json { path: format!("run {} definition", run.id), source })?;
    Ok(def["steps"].as_array().into_iter().flatten().map(|s| (s["name"].as_str().unwrap_or("").to_string(), s["action"].as_str().unwrap_or("").to_string())).collect())
}

/// Every event of the run log: step, attempt, event, when, by whom, output, error, reason.
fn run_json(run: &RunRow, steps: &[(String, String)], events: &[RunEvent]) -> Value {
    let events: Vec<Value> = events
        .iter()
        .map(|e| {
            let step = usize::try_from(e.step_index).ok().and_then(|i| steps.get(i));
            json!({
                "seq": e.seq,
                "at": rfc3339(e.at),
                "actor": e.actor,
                "step": step.map(|s| s.0.as_str()),
                "action": step.map(|s| s.1.as_str()),
                "attempt": e.attempt,
                "event": e.event,
                "output": e.output,
                "error": e.error,
                "reason": e.reason,
            })
        })
        .collect();
    json!({
        "id": run.id,
        "playbook": run.playbook,
        "status": run.status,
        "created_at": rfc3339(run.created_at),
        "updated_at": rfc3339(run.updated_at),
        "steps": steps.iter().map(|(name, action)| json!({ "name": name, "action": action })).collect::<Vec<_>>(),
        "events": events,
    })
}

/// The inspection steps' attempts: facts and conformance report (passed), or the failures.
fn inspections(run: &RunRow, steps: &[(String, String)], events: &[RunEvent]) -> Vec<File> {
    events
        .iter()
        .filter(|e| matches!(e.event.as_str(), "succeeded" | "failed"))
        .filter_map(|e| {
            let (name, action) = usize::try_from(e.step_index).ok().and_then(|i| steps.get(i))?;
            (action == "inspect_server").then(|| {
                let out = e.output.clone().unwrap_or(Value::Null);
                let value = json!({
                    "run": run.id, "step": name, "attempt": e.attempt, "at": rfc3339(e.at), "outcome": e.event,
                    "server": out["server"], "passed": out["passed"], "report": out["report"], "facts": out["facts"], "error": e.error,
                });
                File::json(format!("inspection/{}-{}-{}.json", run.playbook, name, e.attempt), &value)
            })
        })
        .collect()
}

/// Every document the request has reached, in Indonesian, as HTML and PDF — without the host
/// admin credentials. A document the request has not reached yet is noted, not an error.
async fn documents(svc: &Service, actor: &Actor, id: &RequestId) -> Result<(Vec<File>, Vec<String>), EvidenceError> {
    let (mut files, mut notes) = (Vec::new(), Vec::new());
    for kind in DocumentKind::ALL {
        for format in [DocFormat::Html, DocFormat::Pdf] {
            match svc.render_document(actor, id, kind, format, Lang::Id, false).await {
                Ok(doc) => files.push(File { path: format!("documents/{}", doc.filename), bytes: doc.bytes }),
                Err(ServiceError::Document(e)) => {
                    notes.push(format!("documents/{kind}.{}: not included: {e}", format.as_str()));
                }
                Err(e) => return Err(e.into()),
            }
        }
    }
    Ok((files, notes))
}
