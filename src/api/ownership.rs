//! Ownership of names and records (admin only, audited): `POST /api/v1/requests/{id}/allowed-names`
//! lets a request use a zone apex or a name outside the configured zones;
//! `POST /api/v1/requests/{id}/adopted-records` lets its DNS step take over an rrset found in DNS.

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::routing::post;
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{Value, json};

use super::requests::{request_id, utf8};
use super::{ApiError, Caller};
use crate::domain::Fqdn;
use crate::service::Service;

pub fn routes() -> Router<Service> {
    Router::new()
        .route("/api/v1/requests/{id}/allowed-names", post(allow_name))
        .route("/api/v1/requests/{id}/adopted-records", post(adopt_record))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct AllowBody {
    name: String,
    reason: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct AdoptBody {
    name: String,
    #[serde(rename = "type")]
    kind: String,
    reason: String,
}

fn name(raw: &str) -> Result<Fqdn, ApiError> {
    Fqdn::parse(raw).map_err(|e| ApiError::BadRequest(format!("name: {e}")))
}

async fn allow_name(State(service): State<Service>, Caller(actor): Caller, Path(id): Path<String>, body: Bytes) -> Result<Json<Value>, ApiError> {
    let id = request_id(&id)?;
    let body: AllowBody = serde_json::from_str(utf8(&body)?).map_err(|e| ApiError::BadRequest(format!("allowed name: {e}")))?;
    let name = name(&body.name)?;
    service.allow_name(&actor, &id, &name, &body.reason).await?;
    Ok(Json(json!({ "request": id, "name": name, "allowed": true })))
}

async fn adopt_record(State(service): State<Service>, Caller(actor): Caller, Path(id): Path<String>, body: Bytes) -> Result<Json<Value>, ApiError> {
    let id = request_id(&id)?;
    let body: AdoptBody = serde_json::from_str(utf8(&body)?).map_err(|e| ApiError::BadRequest(format!("adopted record: {e}")))?;
    let name = name(&body.name)?;
    service.adopt_record(&actor, &id, &name, &body.kind, &body.reason).await?;
    Ok(Json(json!({ "request": id, "name": name, "type": body.kind.trim().to_ascii_uppercase(), "adopted": true })))
}
