//! The API's one error type: a clear message and code for the caller, internals only in logs.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use utoipa::ToSchema;

use crate::lifecycle::TransitionError;
use crate::service::ServiceError;

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("{0}")]
    BadRequest(String),
    #[error("{0}")]
    Unauthorized(String),
    #[error("{0}")]
    Forbidden(String),
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    Conflict(String),
    #[error("{0}")]
    PayloadTooLarge(String),
    /// This process cannot do it (no device drivers here); another one can.
    #[error("{0}")]
    Unavailable(String),
    #[error("{0}")]
    TooManyRequests(crate::auth::Limited),
    #[error("internal error")]
    Internal(#[source] Box<dyn std::error::Error + Send + Sync>),
}

/// The body of every error answer: `{"error": {"code": "not_found", "message": "…"}}`.
#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorBody {
    pub error: ErrorDetail,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorDetail {
    pub code: ErrorCode,
    /// What went wrong, for a person; never internals (those go to the log).
    pub message: String,
}

/// One code per HTTP status the API answers with.
#[derive(Debug, Clone, Copy, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    BadRequest,
    Unauthorized,
    Forbidden,
    NotFound,
    Conflict,
    PayloadTooLarge,
    Unavailable,
    TooManyRequests,
    Internal,
}

fn body(code: ErrorCode, message: String) -> Json<ErrorBody> {
    Json(ErrorBody { error: ErrorDetail { code, message } })
}

impl From<ServiceError> for ApiError {
    fn from(e: ServiceError) -> Self {
        match e {
            ServiceError::Form(e) => Self::BadRequest(e.to_string()),
            ServiceError::Invalid(m) => Self::BadRequest(m),
            ServiceError::Transition(e @ TransitionError::Forbidden { .. }) => Self::Forbidden(e.to_string()),
            ServiceError::Transition(e) => Self::Conflict(e.to_string()),
            ServiceError::Forbidden(m) => Self::Forbidden(m),
            ServiceError::Unauthorized(m) => Self::Unauthorized(m),
            ServiceError::RateLimited(l) => Self::TooManyRequests(l),
            ServiceError::NotFound(m) => Self::NotFound(format!("{m} not found")),
            ServiceError::Conflict(m) => Self::Conflict(m),
            e @ ServiceError::DirectoryUnavailable(_) => {
                tracing::error!(error = %e, source = ?std::error::Error::source(&e), "directory sign-in impossible");
                Self::Unavailable(e.to_string())
            }
            other => Self::Internal(Box::new(other)),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, code) = match &self {
            Self::BadRequest(_) => (StatusCode::BAD_REQUEST, ErrorCode::BadRequest),
            Self::Unauthorized(m) => {
                let body = body(ErrorCode::Unauthorized, m.clone());
                return (StatusCode::UNAUTHORIZED, [(axum::http::header::WWW_AUTHENTICATE, "Bearer")], body).into_response();
            }
            Self::Forbidden(_) => (StatusCode::FORBIDDEN, ErrorCode::Forbidden),
            Self::NotFound(_) => (StatusCode::NOT_FOUND, ErrorCode::NotFound),
            Self::Conflict(_) => (StatusCode::CONFLICT, ErrorCode::Conflict),
            Self::PayloadTooLarge(_) => (StatusCode::PAYLOAD_TOO_LARGE, ErrorCode::PayloadTooLarge),
            Self::Unavailable(_) => (StatusCode::SERVICE_UNAVAILABLE, ErrorCode::Unavailable),
            Self::TooManyRequests(l) => {
                let body = body(ErrorCode::TooManyRequests, l.to_string());
                let retry = l.retry_after.as_secs().max(1).to_string();
                return (StatusCode::TOO_MANY_REQUESTS, [(axum::http::header::RETRY_AFTER, retry)], body).into_response();
            }
            Self::Internal(e) => {
                tracing::error!(error = %e, source = ?std::error::Error::source(e.as_ref()), "internal error in API");
                (StatusCode::INTERNAL_SERVER_ERROR, ErrorCode::Internal)
            }
        };
        (status, body(code, self.to_string())).into_response()
    }
}
