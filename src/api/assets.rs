//! `/api/v1/assets`: the asset register — list (all, due, overdue), export (CSV, XLSX), reviews.

use axum::extract::{Path, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::schemas::Binary;
use super::{ApiBody, ApiError, ApiQuery, Caller, ErrorBody};
use crate::service::{ExportFormat, Service};
use crate::store::{AssetFilter, AssetRecord, AssetReview};

pub fn routes() -> OpenApiRouter<Service> {
    OpenApiRouter::new().routes(routes!(list)).routes(routes!(export)).routes(routes!(review))
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
struct ListQuery {
    /// Only active assets whose review falls due soon.
    #[serde(default)]
    due: bool,
    /// Only active assets whose review is overdue.
    #[serde(default)]
    overdue: bool,
}

#[derive(Serialize, ToSchema)]
struct AssetPage {
    items: Vec<AssetRecord>,
}

/// The asset register (staff and the auditor).
#[utoipa::path(get, path = "/api/v1/assets", operation_id = "list_assets", tag = "assets", params(ListQuery),
    responses((status = 200, body = AssetPage), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 429, body = ErrorBody)))]
async fn list(State(service): State<Service>, Caller(actor): Caller, ApiQuery(q): ApiQuery<ListQuery>) -> Result<Json<AssetPage>, ApiError> {
    let items = if q.due || q.overdue { service.assets_due(&actor, q.overdue).await? } else { service.assets(&actor, AssetFilter::All).await? };
    Ok(Json(AssetPage { items }))
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
struct ExportQuery {
    /// `xlsx` (the default) or `csv`.
    #[param(pattern = "^(xlsx|csv)$")]
    format: Option<String>,
}

/// The register as a spreadsheet (audited).
#[utoipa::path(get, path = "/api/v1/assets/export", operation_id = "export_assets", tag = "assets", params(ExportQuery),
    responses(
        (status = 200, description = "The register", content(
            (Binary = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"),
            (String = "text/csv"))),
        (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 429, body = ErrorBody)))]
async fn export(State(service): State<Service>, Caller(actor): Caller, ApiQuery(q): ApiQuery<ExportQuery>) -> Result<Response, ApiError> {
    let format: ExportFormat = q.format.as_deref().unwrap_or("xlsx").parse().map_err(ApiError::BadRequest)?;
    let (bytes, content_type, filename) = service.export_assets(&actor, format).await?;
    Ok(([(header::CONTENT_TYPE, content_type.to_string()), (header::CONTENT_DISPOSITION, format!("attachment; filename=\"{filename}\""))], bytes)
        .into_response())
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct ReviewBody {
    /// What the reviewer found.
    findings: String,
}

/// Records a periodic review of an asset (operator, inspector, admin, head; audited).
#[utoipa::path(post, path = "/api/v1/assets/{id}/reviews", operation_id = "review_asset", tag = "assets", request_body = ReviewBody,
    params(("id" = String, Path, description = "The asset's id: the request number and the server's name.", example = "KLK-2026-00042-srv-sipd")),
    responses((status = 201, body = AssetReview), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 409, body = ErrorBody), (status = 413, body = ErrorBody), (status = 429, body = ErrorBody)))]
async fn review(State(service): State<Service>, Caller(actor): Caller, Path(id): Path<String>, ApiBody(body): ApiBody) -> Result<(StatusCode, Json<AssetReview>), ApiError> {
    // Parsed here rather than by axum's `Json`, so a bad body gets the API's own error shape.
    let body: ReviewBody = serde_json::from_slice(&body).map_err(|e| ApiError::BadRequest(format!("review body: {e}")))?;
    let review = service.review_asset(&actor, &id, &body.findings).await?;
    Ok((StatusCode::CREATED, Json(review)))
}
