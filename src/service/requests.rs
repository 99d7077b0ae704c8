//! Submitting, reading and moving requests.

use serde::Serialize;
use serde_json::{Value, json};
use time::OffsetDateTime;

use super::{Command, Service, ServiceError, access};
use crate::capacity::{self, Verdict};
use crate::domain::{Approval, ApprovalDecision, ColocationBlock, DataCenterBlock, HostAdmin, RequestForm, RequestId, RequestKind, Text};
use crate::lifecycle::{Actor, EventKind, Role, SlaStatus, State, next_state, sla};
use crate::secrets::secret::REDACTED;
use crate::store::{AuditEntry, EventRecord, ListFilter, RequestRow, RequestSummary};

/// A request as people see it: the form, the SOP records, the SLA and the history.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct RequestView {
    pub id: String,
    pub kind: RequestKind,
    pub state: State,
    pub state_label: &'static str,
    pub sop_step: u8,
    #[serde(with = "time::serde::rfc3339")]
    pub submitted_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub updated_at: OffsetDateTime,
    pub form: RequestForm,
    /// The approval with the host admin password as `[redacted]`.
    #[schema(value_type = Option<Object>)]
    pub approval: Option<Value>,
    pub hardware: Option<crate::domain::HardwareReceipt>,
    /// The SHA-256 fingerprint (`SHA256:…`) of the host key recorded at the hardware receipt,
    /// what the operator compares with `ssh-keygen -lf` on the server's console.
    pub host_key_fingerprint: Option<String>,
    /// The host admin key attached for the inspection's login (type and fingerprint only).
    pub host_admin_key: Option<super::AttachedKey>,
    pub revocation: Option<crate::domain::Revocation>,
    pub capacity: Option<Verdict>,
    pub sla: SlaStatus,
    pub history: Vec<EventRecord>,
}

/// The approval as shown anywhere outside the store: the sealed password becomes `[redacted]`.
pub fn view_approval(a: &Approval) -> Value {
    let mut v = serde_json::to_value(a).expect("serialisable");
    if let Some(p) = v.pointer_mut("/colocation/host_admin/password") {
        *p = Value::String(REDACTED.into());
    }
    v
}

fn sla_history(row: &RequestRow, events: &[EventRecord]) -> Vec<(OffsetDateTime, State)> {
    std::iter::once((row.submitted_at, State::Submitted)).chain(events.iter().map(|e| (e.at, e.to_state))).collect()
}

impl Service {
    /// SOP step 1: a unit files its request.
    pub async fn submit(&self, actor: &Actor, form: RequestForm) -> Result<RequestId, ServiceError> {
        if !matches!(actor.role, Role::Requester | Role::Admin) {
            return Err(ServiceError::Forbidden(format!("submitting a request needs the role requester or admin; {} may not", actor.role)));
        }
        if actor.role == Role::Requester && actor.unit.as_deref() != Some(form.unit.name.as_str()) {
            return Err(ServiceError::Forbidden(format!(
                "a requester files requests for their own unit only; {} belongs to {}",
                actor.name,
                actor.unit.as_deref().unwrap_or("no unit")
            )));
        }
        form.validate()?;
        let now = OffsetDateTime::now_utc();
        let due = self.calendar.add_working_time(now, sla::SERVICE_TIME);
        let mut w = self.store.write().await?;
        let id = w.insert_request(&form, now, Some(due)).await?;
        // The names are claimed in the same transaction: a name another request holds
        // refuses the submission (the unique index decides a race).
        self.claim_form_names(&mut w, actor, &id, &form, now, false).await?;
        w.audit(AuditEntry {
            actor: actor.clone(),
            request_id: Some(id.to_string()),
            action: "request.submit".into(),
            reason: None,
            before: None,
            after: Some(json!({ "state": State::Submitted, "kind": form.kind, "unit": form.unit.name, "domain": form.domain })),
        })
        .await?;
        w.commit().await?;
        tracing::info!(request = %id, actor = %actor.name, "request submitted");
        Ok(id)
    }

    /// One request as `by` may see it. The form holds personal data (names, NIP, phones), so
    /// the read is audited; a requester of another unit gets "not found".
    pub async fn request(&self, by: &Actor, id: &RequestId) -> Result<RequestView, ServiceError> {
        let (row, history) = tokio::try_join!(self.store.request(id), self.store.request_events(id))?;
        access::scope(by, id.as_str(), row.form.unit.name.as_str())?;
        self.audit_read(by, Some(id.as_str()), "request.view", json!({ "nips": access::nips(&row) })).await?;
        let sla = sla::evaluate(&self.calendar, &sla_history(&row, &history), OffsetDateTime::now_utc());
        let host_admin_key = self.host_admin_key_view(id).await?;
        Ok(RequestView {
            id: row.id.to_string(),
            kind: row.form.kind,
            state: row.state,
            state_label: row.state.label_id(),
            sop_step: row.state.sop_step(),
            submitted_at: row.submitted_at,
            updated_at: row.updated_at,
            approval: row.approval.as_ref().map(view_approval),
            form: row.form,
            host_key_fingerprint: row.hardware.as_ref().and_then(|h| h.host_key.as_ref()).map(|k| k.fingerprint()),
            host_admin_key,
            hardware: row.hardware,
            revocation: row.revocation,
            capacity: row.capacity,
            sla,
            history,
        })
    }

    /// Requests matching `filter` that `by` may see: a requester's list is narrowed to their
    /// own unit in the query itself. One audit row per call (summaries name units and domains).
    pub async fn list(&self, by: &Actor, filter: &ListFilter) -> Result<Vec<RequestSummary>, ServiceError> {
        let mut filter = filter.clone();
        if by.role == Role::Requester {
            let own = by.unit.clone().ok_or_else(|| ServiceError::Forbidden(format!("requester {} belongs to no unit", by.name)))?;
            if filter.unit.as_ref().is_some_and(|u| *u != own) {
                return Ok(Vec::new());
            }
            filter.unit = Some(own);
        }
        let items = self.store.list_requests(&filter).await?;
        let detail = json!({ "filter": { "state": filter.state, "unit": filter.unit, "kind": filter.kind, "after": filter.after }, "count": items.len() });
        self.audit_read(by, None, "request.list", detail).await?;
        Ok(items)
    }

    /// Requests whose SLA due time has passed while the data center holds the ball.
    pub async fn overdue(&self, by: &Actor, limit: i64) -> Result<Vec<RequestSummary>, ServiceError> {
        let f = ListFilter { due_before: Some(OffsetDateTime::now_utc()), limit, ..ListFilter::default() };
        self.list(by, &f).await
    }

    /// The capacity verdict for a request as things stand, without recording anything.
    pub async fn capacity_preview(&self, by: &Actor, id: &RequestId) -> Result<Verdict, ServiceError> {
        let (row, usage) = tokio::try_join!(self.store.request(id), self.store.capacity_usage())?;
        access::scope(by, id.as_str(), row.form.unit.name.as_str())?;
        Ok(capacity::check(&self.inventory, &usage, &row.form))
    }

    /// Applies one SOP command: checks the transition and role, changes the record, writes the
    /// history and the audit row, all in one transaction. Returns the new state. Run outcomes
    /// (handed over, live, decommissioned, the end of a withdrawal) are refused: they follow
    /// what the request's run did to the devices.
    pub async fn apply(&self, actor: &Actor, id: &RequestId, command: Command) -> Result<State, ServiceError> {
        let event = command.event(true);
        if event.is_run_outcome() {
            return Err(ServiceError::Conflict(format!(
                "{event} follows the request's run: it happens when the run has {}, not by hand",
                if matches!(event, EventKind::WithdrawalDone | EventKind::ProvisioningUnwound) { "been unwound" } else { "succeeded" }
            )));
        }
        if let Some(r) = command.reason() {
            super::checked_reason(&r)?;
        }
        self.apply_event(actor, id, command).await
    }

    /// Applies a run's outcome (the engine's `on_success`, or the end of an unwind) if, inside
    /// the transaction (after the audit lock, so no control or other outcome interleaves),
    /// `still` says the run's log still shows that outcome; otherwise changes nothing.
    pub(crate) async fn apply_run_outcome(
        &self,
        actor: &Actor,
        id: &RequestId,
        command: Command,
        run_id: &str,
        still: &(dyn Fn(&[crate::store::RunEvent]) -> bool + Send + Sync),
    ) -> Result<Option<State>, ServiceError> {
        self.apply_event_if(actor, id, command, Some((run_id, still))).await
    }

    /// What an unwound run means for its request: a withdrawal ends; an operator's unwind of
    /// the provisioning run takes the request back to *approved*. Safe to repeat.
    pub(crate) async fn run_unwound(
        &self,
        id: &RequestId,
        playbook: &str,
        run_id: &str,
        still: &(dyn Fn(&[crate::store::RunEvent]) -> bool + Send + Sync),
    ) -> Result<(), ServiceError> {
        let row = self.store.request(id).await?;
        let reason = Some(format!("run {run_id} unwound"));
        let provisioning = playbook == Service::provisioning_playbook(row.form.kind);
        let command = match row.state {
            State::Withdrawing if provisioning => Command::WithdrawalDone { reason },
            State::AwaitingHardware | State::Provisioning | State::HandedOver if provisioning => Command::ProvisioningUnwound { reason },
            _ => return Ok(()),
        };
        self.apply_run_outcome(&Actor::system(), id, command, run_id, still).await.map(drop)
    }

    async fn apply_event(&self, actor: &Actor, id: &RequestId, command: Command) -> Result<State, ServiceError> {
        Ok(self.apply_event_if(actor, id, command, None).await?.expect("no guard, always applied"))
    }

    #[allow(clippy::type_complexity)]
    async fn apply_event_if(
        &self,
        actor: &Actor,
        id: &RequestId,
        command: Command,
        guard: Option<(&str, &(dyn Fn(&[crate::store::RunEvent]) -> bool + Send + Sync))>,
    ) -> Result<Option<State>, ServiceError> {
        let now = OffsetDateTime::now_utc();
        let mut w = self.store.write().await?;
        if let Some((run_id, still)) = guard
            && !still(&w.run_events(run_id).await?)
        {
            return Ok(None);
        }
        let mut row = w.load_request(id).await?;
        access::scope(actor, id.as_str(), row.form.unit.name.as_str())?;
        let before_state = row.state;

        // Capacity checks decide their own event from the verdict.
        let mut verdict = None;
        if matches!(command, Command::CheckCapacity { .. } | Command::Approve(_)) {
            let usage = w.capacity_usage().await?;
            verdict = Some(capacity::check(&self.inventory, &usage, &row.form));
        }
        let capacity_ok = verdict.as_ref().is_none_or(|v| v.ok);
        let event = command.event(capacity_ok);
        let next = next_state(row.state, event, row.form.kind, actor.role)?;
        let mut reason = command.reason();
        let detail = self.change_row(&mut w, actor, id, &mut row, command, verdict, next, &mut reason, now).await?;
        self.follow_event(&mut w, actor, &row, event, next, now).await?;
        w.add_event(id, event, before_state, next, actor, now, reason.as_deref()).await?;
        let events = w.events(id).await?;
        row.state = next;
        row.updated_at = now;
        row.sla_due_at = sla::evaluate(&self.calendar, &sla_history(&row, &events), now).due_at;
        w.save_request(&row).await?;
        w.audit(AuditEntry {
            actor: actor.clone(),
            request_id: Some(id.to_string()),
            action: format!("request.{}", event.as_str()),
            reason,
            before: Some(json!({ "state": before_state })),
            after: Some(json!({ "state": next, "detail": detail })),
        })
        .await?;
        w.commit().await?;
        tracing::info!(request = %id, actor = %actor.name, role = %actor.role, event = %event, from = %before_state, to = %next, "request moved");
        Ok(Some(next))
    }


    /// What `command` changes on the request row (before the state moves), and the audit
    /// detail that says so.
    #[allow(clippy::too_many_arguments)]
    async fn change_row(
        &self,
        w: &mut crate::store::Write,
        actor: &Actor,
        id: &RequestId,
        row: &mut RequestRow,
        command: Command,
        verdict: Option<Verdict>,
        next: State,
        reason: &mut Option<String>,
        now: OffsetDateTime,
    ) -> Result<Value, ServiceError> {
        let mut detail = json!({});
        match command {
            Command::Verify { .. } | Command::HandOver { .. } | Command::ReportLive { .. } | Command::StartProvisioning { .. } => {}
            Command::CheckCapacity { .. } => {
                let v = verdict.clone().expect("computed above");
                if !v.ok {
                    *reason = Some(reason.take().map_or_else(|| v.summary(), |r| format!("{r}; {}", v.summary())));
                }
                detail = json!({ "capacity": v });
                row.capacity = Some(v);
            }
            Command::CompleteForm { form, .. } => {
                if let Some(form) = form {
                    form.validate()?;
                    check_completion(&row.form, &form)?;
                    detail = json!({ "form_changes": form_diff(&row.form, &form) });
                    self.claim_form_names(w, actor, id, &form, now, true).await?;
                    row.form = *form;
                }
            }
            Command::Approve(input) => detail = self.approve_row(w, actor, id, row, input, verdict, now).await?,
            Command::Reject(input) => detail = reject_row(row, input, now)?,
            Command::HardwareReceived { receipt, .. } => {
                if let Some(block) = row.approval.as_mut().and_then(|a| a.colocation.as_mut()) {
                    block.serial_number = Some(receipt.serial_number.clone());
                    block.type_brand = Some(receipt.type_brand.clone());
                }
                detail = json!({ "hardware": receipt });
                row.hardware = Some(receipt);
            }
            Command::RequestRevocation { revocation } => {
                if revocation.reasons.is_empty() {
                    return Err(ServiceError::Invalid("a revocation needs at least one reason (pertimbangan)".into()));
                }
                detail = json!({ "revocation": revocation });
                row.revocation = Some(revocation);
            }
            Command::ApproveRevocation { approved_by, .. } => {
                if let Some(r) = row.revocation.as_mut() {
                    r.approved_by = approved_by;
                }
            }
            Command::Decommissioned { .. } | Command::WithdrawalDone { .. } => w.release_capacity(id, now).await?,
            Command::Withdraw { .. } => {
                if reason.as_deref().is_none_or(|r| r.trim().is_empty()) {
                    return Err(ServiceError::Invalid("withdrawing needs a reason".into()));
                }
                if next == State::Withdrawn {
                    w.release_capacity(id, now).await?;
                } else {
                    // What the run did is undone first; the request is withdrawn when it is.
                    let run_id = crate::domain::RunId::new(id, Service::provisioning_playbook(row.form.kind)).to_string();
                    w.request_unwind(&run_id, &actor.name, reason.as_deref().unwrap_or_default()).await?;
                    detail = json!({ "unwinding": run_id });
                }
            }
            Command::ProvisioningUnwound { .. } => {
                // The server is received again for the next run (its port may change).
                if let Some(block) = row.approval.as_mut().and_then(|a| a.colocation.as_mut()) {
                    block.serial_number = None;
                    block.type_brand = None;
                }
                detail = json!({ "hardware_cleared": row.hardware.take() });
            }
        }

        Ok(detail)
    }

    /// Approval: capacity still there (reserved now), the names still the request's, and the
    /// approval recorded. Returns the audit detail.
    #[allow(clippy::too_many_arguments)]
    async fn approve_row(
        &self,
        w: &mut crate::store::Write,
        actor: &Actor,
        id: &RequestId,
        row: &mut RequestRow,
        input: super::commands::ApproveInput,
        verdict: Option<Verdict>,
        now: OffsetDateTime,
    ) -> Result<Value, ServiceError> {
        let v = verdict.expect("computed above");
        if !v.ok {
            return Err(ServiceError::Conflict(format!("capacity is no longer available: {}; run the capacity check again", v.summary())));
        }
        self.check_names_at_approval(w, actor, id, &row.form, now).await?;
        w.reserve_capacity(id, &row.form, &v, now).await?;
        let approval = self.approval_of(id, row, input, &v, now)?;
        let detail = json!({ "approval": view_approval(&approval), "placements": v.placements });
        row.approval = Some(approval);
        row.capacity = Some(v);
        Ok(detail)
    }

    /// The approval an approving command records: the data center's block (NOC, location,
    /// domain) and, for a co-location, the host admin with the password sealed.
    fn approval_of(&self, id: &RequestId, row: &RequestRow, input: super::commands::ApproveInput, v: &Verdict, now: OffsetDateTime) -> Result<Approval, ServiceError> {
        let location = v.placements.iter().map(|p| p.location()).collect::<Vec<_>>().join(", ");
        let noc = Text::parse(v.noc.as_deref().unwrap_or("-")).map_err(|e| ServiceError::Invalid(e.to_string()))?;
        let location = Text::parse(if location.is_empty() { "platform hosting" } else { &location })
            .map_err(|e| ServiceError::Invalid(e.to_string()))?;
        let host_admin = match (input.host_admin_user, input.host_admin_password) {
            (Some(user), password) => Some(HostAdmin {
                user,
                password: password.map(|p| self.key().map(|k| k.seal(&p, &HostAdmin::seal_context(id)))).transpose()?,
            }),
            (None, Some(_)) => return Err(ServiceError::Invalid("a host admin password needs a host admin user".into())),
            (None, None) => None,
        };
        let approval = Approval {
            decision: ApprovalDecision::Approve,
            place: input.place,
            date: now.to_offset(sla::WITA).date(),
            reasons: input.reasons,
            signed_by: input.signed_by,
            data_center: Some(DataCenterBlock { noc: noc.clone(), server_location: location.clone(), domain: row.form.domain.clone() }),
            colocation: (row.form.kind == RequestKind::Colocation).then(|| ColocationBlock {
                noc,
                server_location: location,
                serial_number: None,
                type_brand: None,
                domain: row.form.domain.clone(),
                host_admin,
                ip_address: None,
            }),
        };
        Ok(approval)
    }

    /// What follows the event in the same transaction: the asset register, the runs it starts
    /// or wakes, and the names a request that ends gives up.
    async fn follow_event(&self, w: &mut crate::store::Write, actor: &Actor, row: &RequestRow, event: EventKind, next: State, now: OffsetDateTime) -> Result<(), ServiceError> {
        // The asset register follows the server: registered at handover, withdrawn (and kept)
        // at decommissioning, in this same transaction.
        match event {
            EventKind::HandOver => {
                super::assets::register_at_handover(w, row, actor, now).await?;
            }
            EventKind::Decommissioned => super::assets::withdraw_at_decommission(w, row, actor, now).await?,
            _ => {}
        }

        // Runs start in the same transaction as the lifecycle event that starts them.
        let run_to_create = match event {
            EventKind::StartProvisioning => Some(Service::provisioning_playbook(row.form.kind)),
            EventKind::ApproveRevocation => Some("decommission"),
            _ => None,
        };
        if let Some(name) = run_to_create
            && let Some(def) = self.run_definitions.get(name) {
                // A run unwound earlier (its request went back to approved) starts again.
                w.create_or_restart_run(row.id.as_str(), name, def, &actor.name).await?;
            }
        if event == EventKind::HardwareReceived {
            // Wake the provisioning run waiting at its hardware gate.
            let run_id = crate::domain::RunId::new(&row.id, Service::provisioning_playbook(row.form.kind)).to_string();
            w.set_run_status(&run_id, "pending").await?;
        }
        // A request that ends gives up its names in the same transaction.
        if next.is_final() {
            w.release_claims(row.id.as_str(), now).await?;
        }
        Ok(())
    }

    /// True if the event is allowed for this request in its current state and the actor's role.
    pub async fn can(&self, actor: &Actor, id: &RequestId, event: EventKind) -> Result<bool, ServiceError> {
        let row = self.store.request(id).await?;
        access::scope(actor, id.as_str(), row.form.unit.name.as_str())?;
        Ok(next_state(row.state, event, row.form.kind, actor.role).is_ok())
    }
}

/// What completing the Form Pengajuan (SOP step 4) may not change: the request's kind, its unit
/// (a unit fills in its own request, never moves it to another unit) and its domain (claimed at
/// submission and checked for capacity; another domain is another request).
fn check_completion(before: &RequestForm, after: &RequestForm) -> Result<(), ServiceError> {
    let kept = |what: &str, same: bool| if same { Ok(()) } else { Err(ServiceError::Invalid(format!("completing the form cannot change {what}; file a new request instead"))) };
    kept("the request kind", after.kind == before.kind)?;
    kept("the unit (OPD)", after.unit.name == before.unit.name)?;
    kept("the domain", after.domain == before.domain)
}

/// The form's changed fields, by path (`servers[0].ram_gb`), each with its value before and
/// after: what the audit row of a completed form records.
fn form_diff(before: &RequestForm, after: &RequestForm) -> serde_json::Value {
    fn flatten(v: &serde_json::Value, path: String, out: &mut std::collections::BTreeMap<String, serde_json::Value>) {
        match v {
            serde_json::Value::Object(m) => m.iter().for_each(|(k, x)| flatten(x, if path.is_empty() { k.clone() } else { format!("{path}.{k}") }, out)),
            serde_json::Value::Array(a) => a.iter().enumerate().for_each(|(i, x)| flatten(x, format!("{path}[{i}]"), out)),
            leaf => {
                out.insert(path, leaf.clone());
            }
        }
    }
    let (mut b, mut a) = (Default::default(), Default::default());
    flatten(&serde_json::to_value(before).unwrap_or_default(), String::new(), &mut b);
    flatten(&serde_json::to_value(after).unwrap_or_default(), String::new(), &mut a);
    let paths: std::collections::BTreeSet<&String> = b.keys().chain(a.keys()).collect();
    let changed: serde_json::Map<String, serde_json::Value> = paths
        .into_iter()
        .filter(|p| b.get(*p) != a.get(*p))
        .map(|p| (p.clone(), json!({ "before": b.get(p), "after": a.get(p) })))
        .collect();
    serde_json::Value::Object(changed)
}

/// A rejection, with its reasons (pertimbangan). Returns the audit detail.
fn reject_row(row: &mut RequestRow, input: super::commands::RejectInput, now: OffsetDateTime) -> Result<Value, ServiceError> {
    if input.reasons.is_empty() {
        return Err(ServiceError::Invalid("a rejection needs at least one reason (pertimbangan)".into()));
    }
    let approval = Approval {
        decision: ApprovalDecision::Reject,
        place: input.place,
        date: now.to_offset(sla::WITA).date(),
        reasons: input.reasons,
        signed_by: input.signed_by,
        data_center: None,
        colocation: None,
    };
    let detail = json!({ "approval": view_approval(&approval) });
    row.approval = Some(approval);
    Ok(detail)
}
