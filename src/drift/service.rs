//! The drift operations every front end shares: check (one request or every live one, read in
//! one batch, each result recorded), the latest result, accept a drift (audited), and repair —
//! planned first, audited, carried out as the engine's own retry of each drifted step on the
//! request's provisioning run (the steps are idempotent: a re-run puts back what it wrote).

use std::time::Duration;

use serde::Serialize;
use serde_json::json;
use time::OffsetDateTime;

use super::expected::{self, Expectation};
use super::report::{DriftItem, DriftReport, DriftStatus, Unreadable};
use super::{DriftError, notice, read};
use crate::domain::RequestId;
use crate::engine::{Drivers, Engine, EngineError, RunStatus};
use crate::lifecycle::{Actor, Role, State};
use crate::service::Service;
use crate::service::access;
use crate::ssh::RequestTag;
use crate::store::{AcceptedDrift, AuditEntry, ListFilter};

/// Run logs read at the same time by one check.
const LOADING: usize = 8;

/// Checks and repairs drift with the engine's drivers.
#[derive(Clone)]
pub struct Checker {
    engine: Engine,
}

/// What a repair will re-run.
#[derive(Debug, Clone, Serialize)]
pub struct RepairPlan {
    pub request: String,
    pub run: String,
    pub steps: Vec<RepairStep>,
}

#[derive(Debug, Clone, Serialize)]
pub struct RepairStep {
    pub step: String,
    /// The drifted items this step wrote.
    pub items: Vec<String>,
    /// What the step does (`run plan`'s line).
    pub plan: String,
}

/// One request's expectations and accepted drifts, ready to compare.
pub struct Subject {
    pub request: String,
    pub expectations: Vec<Expectation>,
    pub accepted: Vec<AcceptedDrift>,
}

fn may_operate(actor: &Actor, what: &str) -> Result<(), DriftError> {
    Ok(access::require(actor, &[Role::Operator, Role::Admin], what)?)
}

/// Compares every subject with one batch of device reads.
pub async fn evaluate(drivers: &Drivers, subjects: &[Subject]) -> Vec<DriftReport> {
    let all: Vec<&Expectation> = subjects.iter().flat_map(|s| &s.expectations).collect();
    let readings = read::read(drivers, &all).await;
    let now = OffsetDateTime::now_utc();
    subjects
        .iter()
        .map(|s| {
            let mut report = DriftReport { request: s.request.clone(), checked_at: now, status: DriftStatus::InSync, checked: 0, drifted: vec![], accepted: vec![], unreadable: vec![] };
            for e in &s.expectations {
                report.checked += 1;
                match read::compare(e, &readings) {
                    Ok(None) => {}
                    Ok(Some(found)) => {
                        let accepted = s.accepted.iter().find(|a| a.item == e.item && a.found == found).map(|a| a.reason.clone());
                        let item = DriftItem { item: e.item.clone(), step: e.step.clone(), device: e.device.clone(), expected: e.expected_value(), found, accepted };
                        if item.accepted.is_some() { report.accepted.push(item) } else { report.drifted.push(item) }
                    }
                    Err(error) => report.unreadable.push(Unreadable { item: e.item.clone(), device: e.device.clone(), error }),
                }
            }
            report.derive_status();
            report
        })
        .collect()
}

impl Checker {
    pub fn new(engine: Engine) -> Self {
        Self { engine }
    }

    pub fn service(&self) -> &Service {
        self.engine.service()
    }

    pub fn drivers(&self) -> &Drivers {
        &self.engine.env.drivers
    }

    /// Every active request, oldest first.
    pub async fn live_requests(&self) -> Result<Vec<RequestId>, DriftError> {
        let mut out = Vec::new();
        let mut after = None;
        loop {
            let filter = ListFilter { state: Some(State::Active), unit: None, kind: None, due_before: None, after: after.clone(), limit: 1000 };
            let page = self.service().store.list_requests(&filter).await?;
            let Some(last) = page.last() else { break };
            after = Some(last.id.clone());
            for r in &page {
                out.push(RequestId::parse(&r.id).map_err(crate::store::StoreError::corrupt)?);
            }
        }
        Ok(out)
    }

    /// What the request's provisioning run wrote, and the drifts accepted for it.
    async fn subject(&self, id: &RequestId) -> Result<Subject, DriftError> {
        let row = self.service().store.request(id).await?;
        if row.state != State::Active {
            return Err(DriftError::NotLive(id.to_string()));
        }
        let run = Engine::run_id(id.as_str(), Service::provisioning_playbook(row.form.kind));
        let (_, view) = self.engine.view(&run).await?;
        let expectations = expected::from_run(&RequestTag::from(id), &view, self.drivers());
        let accepted = self.service().store.drift_accepted(id.as_str()).await?;
        Ok(Subject { request: id.to_string(), expectations, accepted })
    }

    /// Checks `ids` with one batch of reads, records each result, and sends the notice of each
    /// newly drifted request. Requests that are no longer live are left out.
    pub async fn check(&self, ids: &[RequestId]) -> Result<Vec<DriftReport>, DriftError> {
        // The run logs are read a few at a time (each is a handful of indexed reads).
        let mut loading = tokio::task::JoinSet::new();
        let mut subjects = Vec::with_capacity(ids.len());
        for (index, id) in ids.iter().enumerate() {
            if loading.len() >= LOADING {
                subjects.push(loading.join_next().await.expect("a task is running").expect("no panic"));
            }
            let (me, id) = (self.clone(), id.clone());
            loading.spawn(async move { (index, me.subject(&id).await) });
        }
        subjects.extend(loading.join_all().await);
        subjects.sort_by_key(|(index, _)| *index);
        let subjects = subjects
            .into_iter()
            .filter_map(|(_, s)| match s {
                Err(DriftError::NotLive(_)) if ids.len() > 1 => None,
                other => Some(other),
            })
            .collect::<Result<Vec<_>, _>>()?;
        let reports = evaluate(self.drivers(), &subjects).await;
        let mut w = self.service().store.write().await?;
        let mut rows = Vec::with_capacity(reports.len());
        for r in &reports {
            let value = serde_json::to_value(r).expect("serialisable");
            rows.push(w.record_drift(&r.request, r.status.as_str(), &value, r.checked_at).await?);
        }
        w.commit().await?;
        crate::metrics::drift().record(&reports);
        for (report, row) in reports.iter().zip(&rows) {
            if row.status == "drifted" && row.episode > row.notified_episode
                && let Err(e) = notice::send(&self.drivers().notify, &self.service().store, report, row.episode).await {
                    tracing::warn!(request = %report.request, error = %e, "drift: the notice was not sent; the next check tries again");
                }
        }
        Ok(reports)
    }

    /// Checks one live request (operators and admins).
    pub async fn check_one(&self, actor: &Actor, id: &RequestId) -> Result<DriftReport, DriftError> {
        may_operate(actor, "checking drift")?;
        Ok(self.check(std::slice::from_ref(id)).await?.remove(0))
    }

    /// Checks every live request (operators and admins).
    pub async fn check_all(&self, actor: &Actor) -> Result<Vec<DriftReport>, DriftError> {
        may_operate(actor, "checking drift")?;
        let ids = self.live_requests().await?;
        self.check(&ids).await
    }

    /// Accepts the drift of `item` as found in the latest check, so it stops being reported
    /// while the device holds that value (audited, with expected and found).
    pub async fn accept(&self, actor: &Actor, id: &RequestId, item: &str, reason: &str) -> Result<DriftReport, DriftError> {
        may_operate(actor, "accepting a drift")?;
        if crate::service::checked_reason(reason)?.is_none() {
            return Err(DriftError::NoReason);
        }
        let Some(mut report) = latest(self.service(), actor, id).await? else {
            return Err(DriftError::NoSuchItem { request: id.to_string(), item: item.to_string() });
        };
        let at = report.drifted.iter().position(|d| d.item == item).ok_or_else(|| DriftError::NoSuchItem { request: id.to_string(), item: item.to_string() })?;
        let mut drift = report.drifted.remove(at);
        drift.accepted = Some(reason.to_string());
        let now = OffsetDateTime::now_utc();
        let mut w = self.service().store.write().await?;
        w.accept_drift(id.as_str(), item, &drift.found, reason, &actor.name, now).await?;
        w.audit(AuditEntry {
            actor: actor.clone(),
            request_id: Some(id.to_string()),
            action: "drift.accept".into(),
            reason: Some(reason.to_string()),
            before: Some(json!({ "item": item, "device": drift.device, "expected": drift.expected, "found": drift.found })),
            after: Some(json!({ "item": item, "accepted": true })),
        })
        .await?;
        report.accepted.push(drift);
        report.derive_status();
        w.record_drift(id.as_str(), report.status.as_str(), &serde_json::to_value(&report).expect("serialisable"), now).await?;
        w.commit().await?;
        Ok(report)
    }

    /// Checks the request now and says which steps a repair would re-run, and what each does.
    pub async fn plan_repair(&self, actor: &Actor, id: &RequestId) -> Result<(RepairPlan, DriftReport), DriftError> {
        may_operate(actor, "repairing drift")?;
        let report = self.check_one(actor, id).await?;
        let row = self.service().store.request(id).await?;
        let run = Engine::run_id(id.as_str(), Service::provisioning_playbook(row.form.kind));
        let lines = self.engine.plan(id, &run).await?;
        let mut steps: Vec<RepairStep> = Vec::new();
        for d in &report.drifted {
            match steps.iter_mut().find(|s| s.step == d.step) {
                Some(s) => s.items.push(d.item.clone()),
                None => {
                    let plan = lines.iter().find(|(s, _)| *s == d.step).map(|(_, p)| p.clone()).unwrap_or_default();
                    steps.push(RepairStep { step: d.step.clone(), items: vec![d.item.clone()], plan });
                }
            }
        }
        // Re-run in playbook order.
        steps.sort_by_key(|s| lines.iter().position(|(name, _)| *name == s.step));
        Ok((RepairPlan { request: id.to_string(), run, steps }, report))
    }

    /// Repairs: audits the plan, re-runs each drifted step (the engine's retry control, audited
    /// as such) and waits for the run to rest, then checks again.
    pub async fn repair(&self, actor: &Actor, id: &RequestId, reason: &str) -> Result<(RepairPlan, DriftReport), DriftError> {
        let (plan, before) = self.plan_repair(actor, id).await?;
        if plan.steps.is_empty() {
            return Err(DriftError::NothingToRepair(id.to_string()));
        }
        crate::service::checked_reason(reason)?;
        let mut w = self.service().store.write().await?;
        // DNS writes are conditional (a record changed since is never overwritten): repairing
        // is the operator's explicit decision to put kolokasi's values back over what was found,
        // so each drifted rrset is adopted for the re-run, in the repair's audited transaction.
        let adopted = dns_items(&before.drifted);
        let now = time::OffsetDateTime::now_utc();
        for (name, kind) in &adopted {
            w.adopt_record(id.as_str(), name, kind, &actor.name, &format!("drift repair: {reason}"), now).await?;
        }
        w.audit(AuditEntry {
            actor: actor.clone(),
            request_id: Some(id.to_string()),
            action: "drift.repair".into(),
            reason: Some(reason.to_string()),
            before: Some(json!({ "drifted": before.drifted })),
            after: Some(json!({ "run": plan.run, "steps": plan.steps, "adopted_records": adopted })),
        })
        .await?;
        w.commit().await?;
        for step in &plan.steps {
            self.engine.retry(actor, &plan.run, Some(&step.step), reason).await?;
            let status = self.drive_to_rest(&plan.run).await?;
            if status != RunStatus::Succeeded {
                return Err(EngineError::Invalid(format!("the repair's re-run of step {} ended {}; see `kolokasi run status {id}`", step.step, status.as_str())).into());
            }
        }
        let after = self.check(std::slice::from_ref(id)).await?.remove(0);
        Ok((plan, after))
    }

    /// Drives the run here, or waits while another process's worker does.
    async fn drive_to_rest(&self, run: &str) -> Result<RunStatus, DriftError> {
        fn quiet(_: &crate::engine::Progress) {}
        loop {
            match self.engine.drive(run, &quiet).await {
                Ok(view) if !view.status.is_runnable() => return Ok(view.status),
                Ok(_) | Err(EngineError::Leased(_)) => {
                    let (_, view) = self.engine.view(run).await?;
                    if !view.status.is_runnable() {
                        return Ok(view.status);
                    }
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
                Err(e) => return Err(e.into()),
            }
        }
    }
}

/// The latest recorded check of a request, for whoever may read the request.
pub async fn latest(service: &Service, actor: &Actor, id: &RequestId) -> Result<Option<DriftReport>, DriftError> {
    let Some(result) = service.drift_result(actor, id).await? else { return Ok(None) };
    Ok(serde_json::from_value(result.report).ok())
}

/// The (name, type) of each drifted DNS item (`dns:NAME/TYPE`).
fn dns_items(drifted: &[super::DriftItem]) -> Vec<(String, String)> {
    drifted
        .iter()
        .filter_map(|d| d.item.strip_prefix("dns:")?.rsplit_once('/').map(|(n, k)| (n.to_string(), k.to_string())))
        .collect()
}
