//! `/api/v1/privacy/{nip}`: the privacy export of one official (admin, auditor; audited).

use axum::extract::{Path, State};
use axum::routing::get;
use axum::{Json, Router};
use serde_json::Value;

use super::{ApiError, Caller};
use crate::service::Service;

pub fn routes() -> Router<Service> {
    Router::new().route("/api/v1/privacy/{nip}", get(export))
}

async fn export(State(service): State<Service>, Caller(actor): Caller, Path(nip): Path<String>) -> Result<Json<Value>, ApiError> {
    let export = service.privacy_export(&actor, &nip).await?;
    Ok(Json(serde_json::to_value(export).expect("serialisable")))
}
