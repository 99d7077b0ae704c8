//! `/api/v1/requests/{id}/documents/{kind}`: the SOP's documents as HTML or PDF.
//!
//! Credentials are never served here: the REST API has no `include_credentials`; an admin
//! prints them with `kolokasi document render --include-credentials` (audited).

use axum::extract::{Path, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use utoipa::IntoParams;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::schemas::Binary;
use super::{ApiError, ApiQuery, Caller, ErrorBody};
use crate::documents::{DocFormat, DocumentKind, Lang};
use crate::domain::RequestId;
use crate::service::Service;

pub fn routes() -> OpenApiRouter<Service> {
    OpenApiRouter::new().routes(routes!(render))
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
struct DocumentQuery {
    /// `pdf` (the default) or `html`.
    #[param(pattern = "^(pdf|html)$")]
    format: Option<String>,
    /// `id` (Indonesian, the default) or `en`.
    #[param(pattern = "^(id|en)$")]
    lang: Option<String>,
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Path)]
#[allow(dead_code)] // documents what the handler reads with `Path<(String, String)>`; never built
struct DocumentPath {
    /// The request number.
    #[param(value_type = RequestId)]
    id: String,
    /// The document, e.g. `pengajuan`, `persetujuan`, `berita-acara`.
    kind: String,
}

/// One of the SOP's documents, rendered now; `X-Kolokasi-Sha256` carries the body's hash.
#[utoipa::path(get, path = "/api/v1/requests/{id}/documents/{kind}", operation_id = "render_document", tag = "documents", params(DocumentPath, DocumentQuery),
    responses(
        (status = 200, description = "The document", content((Binary = "application/pdf"), (String = "text/html")),
            headers(("X-Kolokasi-Sha256" = String, description = "The body's SHA-256, hex"))),
        (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 409, body = ErrorBody), (status = 429, body = ErrorBody)))]
async fn render(
    State(service): State<Service>,
    Caller(actor): Caller,
    Path((id, kind)): Path<(String, String)>,
    ApiQuery(q): ApiQuery<DocumentQuery>,
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
