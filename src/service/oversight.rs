//! Reads for oversight, each role-checked: a request's audit trail and runs, the audit chain's
//! verification, and the data center's usage.

use super::{Service, ServiceError, access};
use crate::domain::RequestId;
use crate::lifecycle::{Actor, Role};
use crate::lifecycle::State;
use crate::store::{AuditRecord, ChainBreak, DriftRow, RunRow, StoreCounts};

impl Service {
    /// The audit trail of one request: staff and the auditor; a requester for their own unit's.
    /// Audit rows name people, so reading them is audited too.
    pub async fn request_audit(&self, by: &Actor, id: &RequestId) -> Result<Vec<AuditRecord>, ServiceError> {
        let row = self.store.request(id).await?;
        access::scope(by, id.as_str(), row.form.unit.name.as_str())?;
        let rows = self.store.audit_for_request(id.as_str()).await?;
        self.audit_read(by, Some(id.as_str()), "audit.view", serde_json::json!({ "rows": rows.len() })).await?;
        Ok(rows)
    }

    /// The latest audit rows of the whole store: admin, head and auditor.
    pub async fn recent_audit(&self, by: &Actor, limit: i64) -> Result<Vec<AuditRecord>, ServiceError> {
        access::require(by, &[Role::Admin, Role::Head, Role::Auditor], "reading the whole audit trail")?;
        let rows = self.store.audit_recent(limit).await?;
        self.audit_read(by, None, "audit.view", serde_json::json!({ "rows": rows.len() })).await?;
        Ok(rows)
    }

    /// Walks the hash chain: admin, head and auditor.
    pub async fn verify_audit(&self, by: &Actor) -> Result<Result<i64, ChainBreak>, ServiceError> {
        access::require(by, &[Role::Admin, Role::Head, Role::Auditor], "verifying the audit chain")?;
        Ok(self.store.audit_verify().await?)
    }

    /// A request's runs (provisioning, decommissioning), scoped like the request.
    pub async fn request_runs(&self, by: &Actor, id: &RequestId) -> Result<Vec<RunRow>, ServiceError> {
        let row = self.store.request(id).await?;
        access::scope(by, id.as_str(), row.form.unit.name.as_str())?;
        Ok(self.store.runs_for_request(id.as_str()).await?)
    }

    /// What a request's run would do to the devices (`run plan`): staff and the auditor, within
    /// the request's scope.
    pub async fn may_plan_run(&self, by: &Actor, id: &RequestId) -> Result<(), ServiceError> {
        access::require_staff_or_auditor(by, "planning a run")?;
        self.request_runs(by, id).await.map(drop)
    }

    /// Driving runs in the foreground (`run start|resume`): operator and admin.
    pub fn may_drive_runs(&self, by: &Actor) -> Result<(), ServiceError> {
        access::require(by, &[Role::Operator, Role::Admin], "driving a run")
    }

    /// Reading the data center's state (usage, the firewalls' check): staff and the auditor.
    pub fn may_read_datacenter(&self, by: &Actor, what: &str) -> Result<(), ServiceError> {
        access::require_staff_or_auditor(by, what)
    }

    /// What the data center holds (racks, power, addresses): staff and the auditor.
    pub async fn datacenter_usage(&self, by: &Actor) -> Result<crate::capacity::Usage, ServiceError> {
        access::require_staff_or_auditor(by, "reading the data center's usage")?;
        Ok(self.store.capacity_usage().await?)
    }

    /// Where a request stands, scoped like the request. Not audited: the state names nobody,
    /// and the console's live progress asks for it every half second.
    pub async fn request_state(&self, by: &Actor, id: &RequestId) -> Result<State, ServiceError> {
        let row = self.store.request(id).await?;
        access::scope(by, id.as_str(), row.form.unit.name.as_str())?;
        Ok(row.state)
    }

    /// One run of a request by its id, scoped like the request; a run of another request is
    /// "not found" here.
    pub async fn request_run(&self, by: &Actor, id: &RequestId, run_id: &str) -> Result<RunRow, ServiceError> {
        let runs = self.request_runs(by, id).await?;
        runs.into_iter()
            .find(|r| r.id == run_id)
            .ok_or_else(|| ServiceError::NotFound(format!("request {id} has no run {run_id:?}")))
    }

    /// Runs that need a person (failed or stuck), newest first: staff and the auditor.
    pub async fn problem_runs(&self, by: &Actor, limit: i64) -> Result<Vec<RunRow>, ServiceError> {
        access::require_staff_or_auditor(by, "reading the runs that need attention")?;
        Ok(self.store.runs_with_status(&["failed", "stuck"], limit).await?)
    }

    /// Runs a worker would pick up (pending, running, unwinding): for `run resume`, which
    /// drives them (operator and admin).
    pub async fn runnable_runs(&self, by: &Actor, limit: i64) -> Result<Vec<RunRow>, ServiceError> {
        self.may_drive_runs(by)?;
        Ok(self.store.runs_with_status(&["pending", "running", "unwinding"], limit).await?)
    }

    /// The health checks' view of the database: it answers, and which migrations this binary
    /// knows are not applied. Unauthenticated probes call it; it reveals no data.
    pub async fn database_readiness(&self) -> Result<Vec<i64>, ServiceError> {
        self.store.ping().await?;
        Ok(self.store.missing_migrations().await?)
    }

    /// The counts `/metrics` exposes (three GROUP BY queries; no names or addresses).
    pub async fn counts(&self) -> Result<StoreCounts, ServiceError> {
        Ok(self.store.counts().await?)
    }

    /// The latest drift check of a request, scoped like the request.
    pub async fn drift_result(&self, by: &Actor, id: &RequestId) -> Result<Option<DriftRow>, ServiceError> {
        let row = self.store.request(id).await?;
        access::scope(by, id.as_str(), row.form.unit.name.as_str())?;
        Ok(self.store.drift_result(id.as_str()).await?)
    }
}
