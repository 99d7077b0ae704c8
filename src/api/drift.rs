//! `/api/v1/requests/{id}/drift`: the latest drift check of a live request (GET, whoever may
//! read the request) and a check run now (POST, operators and admins; needs the device drivers
//! of `serve`).

use axum::extract::{Path, State};
use axum::routing::get;
use axum::{Extension, Json, Router};
use serde_json::{Value, json};

use super::requests::request_id;
use super::{ApiError, Caller};
use crate::drift::DriftError;
use crate::lifecycle::{Role, State as LifecycleState};
use crate::service::Service;

/// The checker of a process with device drivers, if this one has them.
#[derive(Clone)]
pub struct DriftChecker(pub Option<crate::drift::Checker>);

pub fn routes() -> Router<Service> {
    Router::new().route("/api/v1/requests/{id}/drift", get(latest).post(check))
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

async fn latest(State(service): State<Service>, Caller(actor): Caller, Path(id): Path<String>) -> Result<Json<Value>, ApiError> {
    let id = request_id(&id)?;
    let report = crate::drift::service::latest(&service, &actor, &id).await?;
    let status = report.as_ref().map(|r| r.status.as_str());
    Ok(Json(json!({ "request": id, "status": status, "report": report })))
}

async fn check(
    State(service): State<Service>,
    Extension(checker): Extension<DriftChecker>,
    Caller(actor): Caller,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
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
    Ok(Json(json!({ "request": id, "status": report.status.as_str(), "report": report })))
}
