//! Ownership of names and records (admin only, audited): `POST /api/v1/requests/{id}/allowed-names`
//! lets a request use a zone apex or a name outside the configured zones;
//! `POST /api/v1/requests/{id}/adopted-records` lets its DNS step take over an rrset found in DNS.

use axum::extract::{Path, State};
use axum::Json;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::requests::{RequestPath, request_id, utf8};
use super::{ApiBody, ApiError, Caller, ErrorBody};
use crate::domain::{Fqdn, RequestId};
use crate::service::Service;

pub fn routes() -> OpenApiRouter<Service> {
    OpenApiRouter::new().routes(routes!(allow_name)).routes(routes!(adopt_record))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct AllowBody {
    #[schema(value_type = Fqdn)]
    name: String,
    /// Why; recorded in the audit trail.
    reason: String,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct AdoptBody {
    #[schema(value_type = Fqdn)]
    name: String,
    /// The rrset's type (`A`, `AAAA`, `CNAME`, …).
    #[serde(rename = "type")]
    kind: String,
    /// Why; recorded in the audit trail.
    reason: String,
}

#[derive(Serialize, ToSchema)]
struct NameAllowed {
    request: RequestId,
    name: Fqdn,
    allowed: bool,
}

#[derive(Serialize, ToSchema)]
struct RecordAdopted {
    request: RequestId,
    name: Fqdn,
    #[serde(rename = "type")]
    kind: String,
    adopted: bool,
}

fn name(raw: &str) -> Result<Fqdn, ApiError> {
    Fqdn::parse(raw).map_err(|e| ApiError::BadRequest(format!("name: {e}")))
}

/// Lets the request use a zone apex or a name outside the configured zones (admin, audited).
#[utoipa::path(post, path = "/api/v1/requests/{id}/allowed-names", operation_id = "allow_name", tag = "ownership", params(RequestPath), request_body = AllowBody,
    responses((status = 200, body = NameAllowed), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 409, body = ErrorBody), (status = 413, body = ErrorBody), (status = 429, body = ErrorBody)))]
async fn allow_name(State(service): State<Service>, Caller(actor): Caller, Path(id): Path<String>, ApiBody(body): ApiBody) -> Result<Json<NameAllowed>, ApiError> {
    let id = request_id(&id)?;
    let body: AllowBody = serde_json::from_str(utf8(&body)?).map_err(|e| ApiError::BadRequest(format!("allowed name: {e}")))?;
    let name = name(&body.name)?;
    service.allow_name(&actor, &id, &name, &body.reason).await?;
    Ok(Json(NameAllowed { request: id, name, allowed: true }))
}

/// Lets the request's DNS step take over an rrset found in DNS (admin, audited).
#[utoipa::path(post, path = "/api/v1/requests/{id}/adopted-records", operation_id = "adopt_record", tag = "ownership", params(RequestPath), request_body = AdoptBody,
    responses((status = 200, body = RecordAdopted), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 409, body = ErrorBody), (status = 413, body = ErrorBody), (status = 429, body = ErrorBody)))]
async fn adopt_record(State(service): State<Service>, Caller(actor): Caller, Path(id): Path<String>, ApiBody(body): ApiBody) -> Result<Json<RecordAdopted>, ApiError> {
    let id = request_id(&id)?;
    let body: AdoptBody = serde_json::from_str(utf8(&body)?).map_err(|e| ApiError::BadRequest(format!("adopted record: {e}")))?;
    let name = name(&body.name)?;
    service.adopt_record(&actor, &id, &name, &body.kind, &body.reason).await?;
    Ok(Json(RecordAdopted { request: id, name, kind: body.kind.trim().to_ascii_uppercase(), adopted: true }))
}
