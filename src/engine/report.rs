//! A request's runs as every front end shows them (CLI, REST API, console): each run's view
//! derived from its log, and what may be done to it now. One builder, so the three agree.

use serde::Serialize;

use super::EngineError;
use super::control::{RunAction, RunKind, allowed_actions};
use super::playbook::Playbook;
use super::run_log::{RunView, derive};
use crate::domain::RequestId;
use crate::lifecycle::{Actor, State};
use crate::service::Service;

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct RunReport {
    pub run: String,
    pub playbook: String,
    /// Each step's status and attempts, derived from the run log.
    // TODO(design): RunView's own schema (run_log's step and attempt views).
    #[schema(value_type = Object)]
    pub view: RunView,
    /// What an operator (or a worker) may do to the run now; empty once the request is closed.
    pub allowed_actions: Vec<RunAction>,
}

/// The runs of request `id` that `by` may see, oldest first.
pub async fn request_runs(service: &Service, by: &Actor, id: &RequestId) -> Result<(State, Vec<RunReport>), EngineError> {
    let runs = service.request_runs(by, id).await?;
    let request = service.store.request(id).await?;
    let mut out = Vec::with_capacity(runs.len());
    for run in runs {
        let playbook: Playbook = serde_json::from_str(&run.definition_json).map_err(|e| EngineError::Corrupt(e.to_string()))?;
        let events = service.store.run_events(&run.id).await?;
        let view = derive(&playbook, &events);
        let allowed_actions = allowed_actions(request.state, RunKind::of(&run.playbook, request.form.kind), &view);
        out.push(RunReport { run: run.id, playbook: run.playbook, view, allowed_actions });
    }
    Ok((request.state, out))
}
