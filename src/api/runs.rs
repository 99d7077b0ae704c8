//! `/api/v1/requests/{id}/runs`: a request's runs with each step's status and what may be done
//! now, and the operator's controls (`POST …/runs/{playbook}/control`: retry, skip, unwind,
//! retry_undo, resolve — each with a reason, audited). The controls are recorded here; the
//! workers of `serve` carry them out.

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Extension, Json, Router};
use serde::Deserialize;
use serde_json::{Value, json};

use super::requests::{request_id, utf8};
use super::{ApiError, Caller};
use crate::engine::{Engine, EngineError, RunAction};
use crate::lifecycle::Role;
use crate::service::Service;

pub fn routes() -> Router<Service> {
    Router::new()
        .route("/api/v1/requests/{id}/runs", get(runs))
        .route("/api/v1/requests/{id}/runs/{playbook}/control", post(control))
        .route("/api/v1/datacenter/check", get(datacenter_check))
}

/// Each firewall read now: whether kolokasi's rules can work there as configured (the same
/// report as `kolokasi datacenter check`). Needs `serve`'s drivers; a router without them
/// (an API-only embedding) reports no firewalls.
async fn datacenter_check(Extension(engine): Extension<Engine>, Caller(actor): Caller) -> Result<Json<Value>, ApiError> {
    let check = engine.datacenter_check(&actor).await?;
    Ok(Json(serde_json::to_value(check).map_err(|e| ApiError::Internal(Box::new(e)))?))
}

impl From<EngineError> for ApiError {
    fn from(e: EngineError) -> Self {
        match e {
            EngineError::Service(e) => e.into(),
            EngineError::Store(e) => crate::service::ServiceError::from(e).into(),
            EngineError::Invalid(m) => Self::Conflict(m),
            EngineError::Leased(r) => Self::Conflict(format!("run {r} is held by another worker; try again")),
            other => Self::Internal(Box::new(other)),
        }
    }
}

/// The request's runs (provisioning, decommissioning) with every step's status, derived from
/// the run log, and the actions each allows now.
async fn runs(State(service): State<Service>, Caller(actor): Caller, Path(id): Path<String>) -> Result<Json<Value>, ApiError> {
    let id = request_id(&id)?;
    let (state, items) = crate::engine::report::request_runs(&service, &actor, &id).await?;
    Ok(Json(json!({ "request": id, "state": state, "items": items })))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ControlBody {
    action: RunActionName,
    #[serde(default)]
    step: Option<String>,
    reason: String,
}

#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(rename_all = "snake_case")]
enum RunActionName {
    Retry,
    Skip,
    Unwind,
    RetryUndo,
    Resolve,
}

async fn control(
    State(service): State<Service>,
    Extension(engine): Extension<Engine>,
    Caller(actor): Caller,
    Path((id, playbook)): Path<(String, String)>,
    body: Bytes,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let id = request_id(&id)?;
    if !matches!(actor.role, Role::Operator | Role::Inspector | Role::Admin) {
        return Err(ApiError::Forbidden(format!("operating runs needs the role operator, inspector or admin; {} may not", actor.role)));
    }
    let body: ControlBody = serde_json::from_str(utf8(&body)?).map_err(|e| ApiError::BadRequest(format!("control: {e}")))?;
    if body.reason.trim().is_empty() {
        return Err(ApiError::BadRequest("a run control needs a reason".into()));
    }
    // The run must be this request's, and the caller must see the request.
    let (_, runs) = crate::engine::report::request_runs(&service, &actor, &id).await?;
    let run_id = runs.iter().find(|r| r.playbook == playbook).map(|r| r.run.clone()).ok_or_else(|| ApiError::NotFound(format!("request {id} has no run of playbook {playbook:?}")))?;
    let (step, reason) = (body.step.as_deref(), body.reason.as_str());
    let (action, step) = match body.action {
        RunActionName::Retry => (RunAction::Retry, Some(engine.retry(&actor, &run_id, step, reason).await?)),
        RunActionName::Skip => (RunAction::Skip, Some(engine.skip(&actor, &run_id, step, reason).await?)),
        RunActionName::Unwind => (RunAction::Unwind, engine.unwind(&actor, &run_id, reason).await.map(|()| None)?),
        RunActionName::RetryUndo => (RunAction::RetryUndo, Some(engine.retry_undo(&actor, &run_id, reason).await?)),
        RunActionName::Resolve => (RunAction::Resolve, Some(engine.resolve(&actor, &run_id, reason).await?)),
    };
    let (_, runs) = crate::engine::report::request_runs(&service, &actor, &id).await?;
    let run = runs.into_iter().find(|r| r.run == run_id);
    Ok((StatusCode::ACCEPTED, Json(json!({ "action": action, "step": step, "run": run }))))
}
