//! The console's one error type. People see a short message in both languages; internals go
//! to the log under a correlation id that the page shows, so an operator can find them.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};

use crate::service::ServiceError;

#[derive(Debug, thiserror::Error)]
pub enum ConsoleError {
    /// Not signed in (or the session ended): go to the sign-in page, then back to `next`.
    #[error("sign-in needed")]
    SignIn { next: String },
    #[error("not found")]
    NotFound,
    #[error("forbidden")]
    Forbidden,
    /// A POST without the session's CSRF token.
    #[error("CSRF token missing or wrong")]
    Csrf,
    #[error("bad request: {0}")]
    BadRequest(String),
    /// Too many sign-in attempts, or every password check busy: come back later.
    #[error("{0}")]
    TooMany(crate::auth::Limited),
    #[error("internal error")]
    Internal(#[source] Box<dyn std::error::Error + Send + Sync>),
}

impl ConsoleError {
    pub fn internal(e: impl std::error::Error + Send + Sync + 'static) -> Self {
        Self::Internal(Box::new(e))
    }

    pub(crate) fn template(e: minijinja::Error) -> Self {
        Self::internal(e)
    }
}

impl From<ServiceError> for ConsoleError {
    fn from(e: ServiceError) -> Self {
        match e {
            ServiceError::NotFound(_) => Self::NotFound,
            ServiceError::Forbidden(_) => Self::Forbidden,
            ServiceError::Unauthorized(_) => Self::SignIn { next: "/".into() },
            ServiceError::Form(e) => Self::BadRequest(e.to_string()),
            ServiceError::Invalid(m) | ServiceError::Conflict(m) => Self::BadRequest(m),
            ServiceError::Transition(e) => Self::BadRequest(e.to_string()),
            ServiceError::RateLimited(l) => Self::TooMany(l),
            other => Self::internal(other),
        }
    }
}

impl From<crate::engine::EngineError> for ConsoleError {
    fn from(e: crate::engine::EngineError) -> Self {
        match e {
            crate::engine::EngineError::Service(s) => s.into(),
            crate::engine::EngineError::Invalid(m) => Self::BadRequest(m),
            other => Self::internal(other),
        }
    }
}

fn page(status: StatusCode, id: &str, en: &str, extra: &str) -> Response {
    let html = format!(
        "<!doctype html><html lang=\"id\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>{code} — kolokasi</title><link rel=\"stylesheet\" href=\"/static/console.css\"></head><body><main>\
         <section class=\"card narrow\"><h1>{code}</h1><p id=\"error-message\">{id}{extra}</p><p class=\"muted\" lang=\"en\">{en}{extra}</p>\
         <p><a href=\"/\">Dasbor / Dashboard</a></p></section></main></body></html>",
        code = status.as_u16(),
    );
    let mut r = (status, axum::response::Html(html)).into_response();
    super::security_headers(r.headers_mut());
    r
}

impl IntoResponse for ConsoleError {
    fn into_response(self) -> Response {
        match self {
            Self::SignIn { next } => {
                let next = super::form::encode(&next);
                Redirect::to(&format!("/sign-in?next={next}")).into_response()
            }
            Self::NotFound => page(
                StatusCode::NOT_FOUND,
                "Halaman atau permohonan tidak ditemukan.",
                "Page or request not found.",
                "",
            ),
            Self::Forbidden => page(StatusCode::FORBIDDEN, "Peran Anda tidak dapat melakukan ini.", "Your role may not do this.", ""),
            Self::Csrf => page(
                StatusCode::FORBIDDEN,
                "Formulir kedaluwarsa atau tidak sah. Muat ulang halaman lalu coba lagi.",
                "The form has expired or is not valid. Reload the page and try again.",
                "",
            ),
            Self::TooMany(l) => {
                let seconds = l.retry_after.as_secs().max(1);
                let mut r = page(
                    StatusCode::TOO_MANY_REQUESTS,
                    &format!("Terlalu banyak percobaan masuk. Coba lagi dalam {seconds} detik."),
                    &format!("Too many sign-in attempts. Try again in {seconds} s."),
                    "",
                );
                r.headers_mut().insert(axum::http::header::RETRY_AFTER, seconds.into());
                r
            }
            Self::BadRequest(m) => {
                tracing::info!(message = %m, "console: bad request");
                page(StatusCode::BAD_REQUEST, "Permintaan tidak valid.", "Invalid request.", "")
            }
            Self::Internal(e) => {
                let id = hex::encode(rand::random::<[u8; 6]>());
                tracing::error!(correlation_id = %id, error = %e, source = ?std::error::Error::source(e.as_ref()), "internal error in the console");
                let extra = format!(" [{id}]");
                page(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "Terjadi kesalahan pada server. Sebutkan kode ini kepada operator",
                    "Something went wrong on the server. Give this code to an operator",
                    &extra,
                )
            }
        }
    }
}
