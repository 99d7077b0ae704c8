//! The read-back kept when a provisioning or a decommission run succeeds: every item the
//! request's provisioning run wrote (the drift check's [`expected`](super::expected) items),
//! read from its device with the drift check's batched reader, and what was found — the
//! record an auditor compares with the run log (after provisioning: as written; after
//! decommission: gone).
//!
//! Called by the engine as part of a run's outcome, so its errors are the engine's. A device
//! that does not answer is recorded as unreadable, never fails the run; a store that cannot
//! keep the read-back fails the drive, and the run's outcome is applied (and the read-back
//! taken) again by the next worker, as after a crash.

use serde_json::{Value, json};
use time::OffsetDateTime;

use super::{expected, read};
use crate::domain::RequestId;
use crate::engine::{Engine, EngineError, Playbook, StepStatus};
use crate::lifecycle::EventKind;
use crate::service::Service;
use crate::ssh::RequestTag;
use crate::store::{ReadbackRow, StoreError};

/// The phase a playbook ends, by what its success applies.
pub fn phase_of(pb: &Playbook) -> Option<&'static str> {
    if pb.on_success.contains(&EventKind::Decommissioned) {
        Some("decommission")
    } else if pb.on_success.iter().any(|e| matches!(e, EventKind::HandOver | EventKind::ReportLive)) {
        Some("provisioning")
    } else {
        None
    }
}

/// Takes and keeps the read-back of `run_id`'s completion, unless it is kept already.
/// Returns the new read-back (None: not a phase that has one, or kept before).
pub async fn keep(engine: &Engine, run_id: &str, pb: &Playbook) -> Result<Option<ReadbackRow>, EngineError> {
    let Some(phase) = phase_of(pb) else { return Ok(None) };
    let store = &engine.service().store;
    let run_seq = store.last_run_seq(run_id).await?;
    if store.has_readback(run_id, run_seq).await? {
        return Ok(None);
    }
    let run = store.run(run_id).await?;
    let id = RequestId::parse(&run.request_id).map_err(|e| EngineError::Corrupt(e.to_string()))?;
    let row = store.request(&id).await?;
    let provisioning = Engine::run_id(id.as_str(), Service::provisioning_playbook(row.form.kind));
    let started = std::time::Instant::now();
    let items = match engine.view(&provisioning).await {
        Ok((_, view)) => {
            let skipped: Vec<&str> = view.steps.iter().filter(|s| matches!(s.status, StepStatus::Skipped { .. })).map(|s| s.name.as_str()).collect();
            let expectations = expected::from_run(&RequestTag::from(&id), &view, &engine.env.drivers);
            let refs: Vec<_> = expectations.iter().collect();
            let readings = read::read(&engine.env.drivers, &refs).await;
            let items: Vec<Value> = expectations.iter().map(|e| item(e, &readings)).collect();
            json!({ "items": items, "skipped_steps": skipped })
        }
        Err(EngineError::Store(StoreError::NotFound(_))) => json!({ "items": [], "skipped_steps": [] }),
        Err(e) => return Err(e),
    };
    let count = |state: &str| items["items"].as_array().map_or(0, |a| a.iter().filter(|i| i["state"] == state).count());
    let snapshot = json!({
        "phase": phase,
        "run": run_id,
        "provisioning_run": provisioning,
        "items": items["items"],
        "skipped_steps": items["skipped_steps"],
        "summary": { "as_written": count("as_written"), "differs": count("differs"), "unreadable": count("unreadable"), "elapsed_ms": started.elapsed().as_millis() as u64 },
    });
    let readback = ReadbackRow { run_id: run_id.to_string(), run_seq, request_id: id.to_string(), phase: phase.into(), taken_at: OffsetDateTime::now_utc(), snapshot };
    let kept = store.insert_readback(&readback).await?;
    tracing::info!(run = %run_id, phase, elapsed_ms = started.elapsed().as_millis() as u64, "device read-back kept");
    Ok(kept.then_some(readback))
}

/// One item: what the run wrote, what the device holds, and whether they are the same.
fn item(e: &expected::Expectation, readings: &read::Readings) -> Value {
    let written = e.expected_value();
    let (found, error, state) = match (read::observed(e, readings), read::compare(e, readings)) {
        (Ok(found), Ok(None)) => (found, None, "as_written"),
        (Ok(found), Ok(Some(_))) => (found, None, "differs"),
        (Ok(_), Err(error)) | (Err(error), _) => (Value::Null, Some(error), "unreadable"),
    };
    json!({ "item": e.item, "step": e.step, "device": e.device, "written": written, "found": found, "state": state, "error": error })
}
