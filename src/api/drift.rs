//! `/api/v1/requests/{id}/drift`: the latest drift check of a live request (GET, whoever may
//! read the request) and a check run now (POST, operators and admins; needs the device drivers
//! of `serve`).

use axum::extract::{Path, State};
use axum::{Extension, Json};
use serde::Serialize;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::requests::{RequestPath, request_id};
use super::{ApiError, Caller, ErrorBody};
use crate::domain::RequestId;
use crate::drift::DriftError;
use crate::drift::report::{DriftReport, DriftStatus};
use crate::lifecycle::{Role, State as LifecycleState};
use crate::service::Service;

/// The checker of a process with device drivers, if this one has them.
#[derive(Clone)]
pub struct DriftChecker(pub Option<crate::drift::Checker>);

pub fn routes() -> OpenApiRouter<Service> {
    OpenApiRouter::new().routes(routes!(latest, check))
}

/// A request's drift: the status and the report (both `null` before the first check).
#[derive(Serialize, ToSchema)]
struct Drift {
    request: RequestId,
    status: Option<DriftStatus>,
    report: Option<DriftReport>,
}

impl From<DriftError> for ApiError {
    fn from(e: DriftError) -> Self {
        match e {
            DriftError::Service(e) => e.into(),
            DriftError::Engine(e) => e.into(),
            DriftError::Store(e) => crate::service::ServiceError::from(e).into(),
            e @ DriftError::NotLive(_) => Self::Conflict(e.to_string()),
            e @ (DriftError::NoSuchItem { .. } | DriftError::NothingToRepair(_)) => Self::Conflict(e.to_string()),
            e @ DriftError::NoReason => Self::BadRequest(e.to_string()),
            other => Self::Internal(Box::new(other)),
        }
    }
}

/// The latest drift check of the request (whoever may read the request).
#[utoipa::path(get, path = "/api/v1/requests/{id}/drift", operation_id = "latest_drift", tag = "drift", params(RequestPath),
    responses((status = 200, body = Drift), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody), (status = 429, body = ErrorBody)))]
async fn latest(State(service): State<Service>, Caller(actor): Caller, Path(id): Path<String>) -> Result<Json<Drift>, ApiError> {
    let id = request_id(&id)?;
    let report = crate::drift::service::latest(&service, &actor, &id).await?;
    Ok(Json(Drift { request: id, status: report.as_ref().map(|r| r.status), report }))
}

/// Checks a live request's devices against what its run wrote, now (operators and admins;
/// 503 from a process without device drivers).
#[utoipa::path(post, path = "/api/v1/requests/{id}/drift", operation_id = "check_drift", tag = "drift", params(RequestPath),
    responses((status = 200, body = Drift), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 409, body = ErrorBody), (status = 429, body = ErrorBody), (status = 503, body = ErrorBody)))]
async fn check(
    State(service): State<Service>,
    Extension(checker): Extension<DriftChecker>,
    Caller(actor): Caller,
    Path(id): Path<String>,
) -> Result<Json<Drift>, ApiError> {
    let id = request_id(&id)?;
    if !matches!(actor.role, Role::Operator | Role::Admin) {
        return Err(ApiError::Forbidden(format!("checking drift needs the role operator or admin; {} may not", actor.role)));
    }
    if service.request_state(&actor, &id).await? != LifecycleState::Active {
        return Err(DriftError::NotLive(id.to_string()).into());
    }
    let Some(checker) = checker.0 else {
        return Err(ApiError::Unavailable("this process has no device drivers; POST to a `kolokasi serve`".into()));
    };
    let report = checker.check_one(&actor, &id).await?;
    Ok(Json(Drift { request: id, status: Some(report.status), report: Some(report) }))
}
