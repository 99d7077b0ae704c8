//! `GET /requests/{id}/documents/{kind}`: an SOP document of the request as PDF, in the
//! console's language, rendered by the service (which checks role and scope and audits it).
//! Credentials are never included from the console.

use axum::extract::{Path, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};

use super::parse_id;
use crate::console::session::Signed;
use crate::console::{Console, ConsoleError};
use crate::documents::{DocFormat, DocumentKind};

pub async fn download(State(console): State<Console>, me: Signed, Path((id, kind)): Path<(String, String)>) -> Result<Response, ConsoleError> {
    let id = parse_id(&id)?;
    let kind: DocumentKind = kind.parse().map_err(|_| ConsoleError::NotFound)?;
    let doc = console.service().render_document(me.page.me(), &id, kind, DocFormat::Pdf, me.page.lang, false).await?;
    let disposition = format!("attachment; filename=\"{}\"", doc.filename.replace(['"', '\\', '\r', '\n'], "_"));
    Ok((
        [
            (header::CONTENT_TYPE, doc.content_type.to_string()),
            (header::CONTENT_DISPOSITION, disposition),
            (header::CACHE_CONTROL, "no-store".to_string()),
            (header::HeaderName::from_static("x-content-sha256"), doc.sha256),
        ],
        doc.bytes,
    )
        .into_response())
}
