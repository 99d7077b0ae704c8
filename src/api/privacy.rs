//! `/api/v1/privacy/{nip}`: the privacy export of one official (admin, auditor; audited).

use axum::Json;
use axum::extract::{Path, State};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::{ApiError, Caller, ErrorBody};
use crate::domain::Nip;
use crate::service::{PrivacyExport, Service};

pub fn routes() -> OpenApiRouter<Service> {
    OpenApiRouter::new().routes(routes!(export))
}

/// Everything kolokasi holds that names one official: requests, users, assets, changes and
/// every read of them (admin, auditor; the export itself is audited).
#[utoipa::path(get, path = "/api/v1/privacy/{nip}", operation_id = "privacy_export", tag = "privacy", params(("nip" = Nip, Path, description = "The official's NIP.")),
    responses((status = 200, body = PrivacyExport), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 429, body = ErrorBody)))]
async fn export(State(service): State<Service>, Caller(actor): Caller, Path(nip): Path<String>) -> Result<Json<PrivacyExport>, ApiError> {
    Ok(Json(service.privacy_export(&actor, &nip).await?))
}
