//! `/api/v1/requests/{id}/documents/{kind}`: the SOP's documents as HTML or PDF.
//!
//! Credentials are never served here: the REST API has no `include_credentials`; an admin
//! prints them with `kolokasi document render --include-credentials` (audited).

use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde::Deserialize;

use super::{ApiError, Caller};
use crate::documents::{DocFormat, DocumentKind, Lang};
use crate::domain::RequestId;
use crate::service::Service;

pub fn routes() -> Router<Service> {
    Router::new().route("/api/v1/requests/{id}/documents/{kind}", get(render))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct DocumentQuery {
    format: Option<String>,
    lang: Option<String>,
}

async fn render(
    State(service): State<Service>,
    Caller(actor): Caller,
    Path((id, kind)): Path<(String, String)>,
    Query(q): Query<DocumentQuery>,
) -> Result<Response, ApiError> {
    let id = RequestId::parse(&id).map_err(|e| ApiError::BadRequest(e.to_string()))?;
    let kind: DocumentKind = kind.parse().map_err(|e: crate::documents::UnknownDocument| ApiError::BadRequest(e.to_string()))?;
    let format: DocFormat = q.format.as_deref().unwrap_or("pdf").parse().map_err(ApiError::BadRequest)?;
    let lang: Lang = q.lang.as_deref().unwrap_or("id").parse().map_err(ApiError::BadRequest)?;
    let doc = service.render_document(&actor, &id, kind, format, lang, false).await?;
    let disposition = format!("inline; filename=\"{}\"", doc.filename);
    Ok((
        [
            (header::CONTENT_TYPE, doc.content_type.to_string()),
            (header::CONTENT_DISPOSITION, disposition),
            (header::HeaderName::from_static("x-kolokasi-sha256"), doc.sha256),
        ],
        doc.bytes,
    )
        .into_response())
}
