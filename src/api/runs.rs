//! `/api/v1/requests/{id}/runs`: a request's runs with each step's status and what may be done
//! now, and the operator's controls (`POST …/runs/{playbook}/control`: retry, skip, unwind,
//! retry_undo, resolve — each with a reason, audited). The controls are recorded here; the
//! workers of `serve` carry them out.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::{Extension, Json};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::requests::{RequestPath, request_id, utf8};
use super::{ApiBody, ApiError, Caller, ErrorBody};
use crate::domain::RequestId;
use crate::engine::check::DatacenterCheck;
use crate::engine::report::RunReport;
use crate::engine::{Engine, EngineError, RunAction};
use crate::lifecycle::{Role, State as LifecycleState};
use crate::service::Service;

pub fn routes() -> OpenApiRouter<Service> {
    OpenApiRouter::new().routes(routes!(runs)).routes(routes!(control)).routes(routes!(datacenter_check))
}

/// Each firewall read now: whether kolokasi's rules can work there as configured (the same
/// report as `kolokasi datacenter check`). Needs `serve`'s drivers; a router without them
/// (an API-only embedding) reports no firewalls.
#[utoipa::path(get, path = "/api/v1/datacenter/check", operation_id = "check_datacenter", tag = "datacenter",
    responses((status = 200, body = DatacenterCheck), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 429, body = ErrorBody)))]
async fn datacenter_check(Extension(engine): Extension<Engine>, Caller(actor): Caller) -> Result<Json<DatacenterCheck>, ApiError> {
    Ok(Json(engine.datacenter_check(&actor).await?))
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

#[derive(Serialize, ToSchema)]
struct RequestRuns {
    request: RequestId,
    state: LifecycleState,
    items: Vec<RunReport>,
}

/// The request's runs (provisioning, decommissioning) with every step's status, derived from
/// the run log, and the actions each allows now.
#[utoipa::path(get, path = "/api/v1/requests/{id}/runs", operation_id = "request_runs", tag = "runs", params(RequestPath),
    responses((status = 200, body = RequestRuns), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody), (status = 429, body = ErrorBody)))]
async fn runs(State(service): State<Service>, Caller(actor): Caller, Path(id): Path<String>) -> Result<Json<RequestRuns>, ApiError> {
    let id = request_id(&id)?;
    let (state, items) = crate::engine::report::request_runs(&service, &actor, &id).await?;
    Ok(Json(RequestRuns { request: id, state, items }))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct ControlBody {
    action: RunActionName,
    /// The step to retry or skip (the failed one if not given).
    #[serde(default)]
    step: Option<String>,
    /// Why; recorded in the audit trail.
    reason: String,
}

#[derive(Debug, Clone, Copy, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
enum RunActionName {
    Retry,
    Skip,
    Unwind,
    RetryUndo,
    Resolve,
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Path)]
#[allow(dead_code)] // documents what the handler reads with `Path<(String, String)>`; never built
struct RunPath {
    /// The request number.
    #[param(value_type = RequestId)]
    id: String,
    /// The run's playbook, e.g. `colocation`.
    playbook: String,
}

/// A control recorded; the workers of `serve` carry it out.
#[derive(Serialize, ToSchema)]
struct ControlAccepted {
    action: RunAction,
    /// The step it applies to (none for an unwind).
    step: Option<String>,
    /// The run as it stands now.
    run: Option<RunReport>,
}

/// An operator's control of a run: retry, skip, unwind, retry_undo or resolve, with a reason (audited).
#[utoipa::path(post, path = "/api/v1/requests/{id}/runs/{playbook}/control", operation_id = "control_run", tag = "runs", params(RunPath), request_body = ControlBody,
    responses((status = 202, body = ControlAccepted), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 409, body = ErrorBody), (status = 413, body = ErrorBody), (status = 429, body = ErrorBody)))]
async fn control(
    State(service): State<Service>,
    Extension(engine): Extension<Engine>,
    Caller(actor): Caller,
    Path((id, playbook)): Path<(String, String)>,
    ApiBody(body): ApiBody,
) -> Result<(StatusCode, Json<ControlAccepted>), ApiError> {
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
    Ok((StatusCode::ACCEPTED, Json(ControlAccepted { action, step, run })))
}
