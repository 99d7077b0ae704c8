//! `GET /api/v1/requests/{id}/evidence`: the request's evidence bundle (.zip) for an admin or
//! the auditor; audited (`evidence.export`). Check it offline with `kolokasi evidence verify`.

use axum::extract::{Path, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::schemas::Binary;
use super::requests::RequestPath;
use super::{ApiError, Caller, ErrorBody};
use crate::domain::RequestId;
use crate::evidence::EvidenceError;
use crate::service::Service;

pub fn routes() -> OpenApiRouter<Service> {
    OpenApiRouter::new().routes(routes!(export))
}

/// The request's evidence bundle (admin, auditor; audited); `X-Kolokasi-Sha256` carries its hash.
#[utoipa::path(get, path = "/api/v1/requests/{id}/evidence", operation_id = "export_evidence", tag = "documents", params(RequestPath),
    responses(
        (status = 200, description = "The evidence bundle", content_type = "application/zip", body = Binary,
            headers(("X-Kolokasi-Sha256" = String, description = "The bundle's SHA-256, hex"))),
        (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 429, body = ErrorBody)))]
async fn export(State(service): State<Service>, Caller(actor): Caller, Path(id): Path<String>) -> Result<Response, ApiError> {
    let id = RequestId::parse(&id).map_err(|e| ApiError::BadRequest(e.to_string()))?;
    let bundle = crate::evidence::export(&service, &actor, &id).await.map_err(|e| match e {
        EvidenceError::Service(e) => ApiError::from(e),
        other => ApiError::Internal(Box::new(other)),
    })?;
    let sha256 = crate::evidence::manifest::sha256_hex(&bundle.bytes);
    Ok((
        [
            (header::CONTENT_TYPE, "application/zip".to_string()),
            (header::CONTENT_DISPOSITION, format!("attachment; filename=\"{}\"", bundle.filename)),
            (header::HeaderName::from_static("x-kolokasi-sha256"), sha256),
        ],
        bundle.bytes,
    )
        .into_response())
}
