//! `/api/v1/assets`: the asset register — list (all, due, overdue), export (CSV, XLSX), reviews.

use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{Value, json};

use super::{ApiError, Caller};
use crate::service::{ExportFormat, Service};
use crate::store::AssetFilter;

pub fn routes() -> Router<Service> {
    Router::new().route("/api/v1/assets", get(list)).route("/api/v1/assets/export", get(export)).route("/api/v1/assets/{id}/reviews", post(review))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ListQuery {
    #[serde(default)]
    due: bool,
    #[serde(default)]
    overdue: bool,
}

async fn list(State(service): State<Service>, Caller(actor): Caller, Query(q): Query<ListQuery>) -> Result<Json<Value>, ApiError> {
    let items = if q.due || q.overdue { service.assets_due(&actor, q.overdue).await? } else { service.assets(&actor, AssetFilter::All).await? };
    Ok(Json(json!({ "items": items })))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ExportQuery {
    format: Option<String>,
}

async fn export(State(service): State<Service>, Caller(actor): Caller, Query(q): Query<ExportQuery>) -> Result<Response, ApiError> {
    let format: ExportFormat = q.format.as_deref().unwrap_or("xlsx").parse().map_err(ApiError::BadRequest)?;
    let (bytes, content_type, filename) = service.export_assets(&actor, format).await?;
    Ok(([(header::CONTENT_TYPE, content_type.to_string()), (header::CONTENT_DISPOSITION, format!("attachment; filename=\"{filename}\""))], bytes)
        .into_response())
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ReviewBody {
    findings: String,
}

async fn review(State(service): State<Service>, Caller(actor): Caller, Path(id): Path<String>, body: Bytes) -> Result<(StatusCode, Json<Value>), ApiError> {
    // Parsed here rather than by axum's `Json`, so a bad body gets the API's own error shape.
    let body: ReviewBody = serde_json::from_slice(&body).map_err(|e| ApiError::BadRequest(format!("review body: {e}")))?;
    let review = service.review_asset(&actor, &id, &body.findings).await?;
    Ok((StatusCode::CREATED, Json(json!(review))))
}
