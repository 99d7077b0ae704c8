//! The REST API (axum): JSON in and out, one error type, an OpenAPI document at
//! `/api/v1/openapi.json`, `/health` (`/health/live`, `/health/ready`) and `/metrics`.
//!
//! Until token authentication lands, the caller names themselves with the headers
//! `X-Kolokasi-Actor` and `X-Kolokasi-Role`; every record names them.

mod assets;
mod documents;
mod error;
mod ops;
mod requests;

use axum::Router;
use axum::extract::{DefaultBodyLimit, FromRequestParts, State};
use axum::http::request::Parts;
use axum::response::IntoResponse;
use axum::routing::get;
use axum::Json;
use serde_json::json;

pub use error::ApiError;

use crate::lifecycle::{Actor, Role};
use crate::service::Service;

/// Largest request body accepted (a request file is a few KiB).
pub const BODY_LIMIT: usize = 256 * 1024;

pub const OPENAPI: &str = include_str!("openapi.json");

pub fn router(service: Service) -> Router {
    router_with_console(service, crate::console::Options::default())
}

/// The API under `/api/v1` and the web console under `/` (see [`crate::console`]).
pub fn router_with_console(service: Service, console: crate::console::Options) -> Router {
    Router::new()
        .route("/health", get(health))
        .route("/health/live", get(ops::live))
        .route("/health/ready", get(ops::ready))
        .route("/metrics", get(ops::metrics))
        .route("/api/v1/openapi.json", get(openapi))
        .merge(requests::routes())
        .merge(documents::routes())
        .merge(assets::routes())
        .with_state(service.clone())
        .merge(crate::console::router(crate::console::Console::new(service, console)))
        .layer(DefaultBodyLimit::max(BODY_LIMIT))
        .layer(tower_http::trace::TraceLayer::new_for_http())
}

async fn health(State(service): State<Service>) -> Result<Json<serde_json::Value>, ApiError> {
    service.store.ping().await.map_err(|e| ApiError::Internal(Box::new(e)))?;
    Ok(Json(json!({ "status": "ok", "database": "ok" })))
}

async fn openapi() -> impl IntoResponse {
    ([(axum::http::header::CONTENT_TYPE, "application/json")], OPENAPI)
}

/// The acting person, from the request headers.
pub struct Caller(pub Actor);

impl<S: Send + Sync> FromRequestParts<S> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, ApiError> {
        let header = |name: &str| parts.headers.get(name).and_then(|v| v.to_str().ok()).map(str::to_string);
        let (Some(name), Some(role)) = (header("x-kolokasi-actor"), header("x-kolokasi-role")) else {
            return Err(ApiError::Unauthorized("name yourself with the X-Kolokasi-Actor and X-Kolokasi-Role headers".into()));
        };
        let role: Role = role.parse().map_err(|e: crate::lifecycle::UnknownRole| ApiError::BadRequest(e.to_string()))?;
        let actor = match header("x-kolokasi-unit") {
            Some(unit) => Actor::in_unit(&name, role, &unit),
            None => Actor::new(&name, role),
        }
        .map_err(|e| ApiError::BadRequest(e.to_string()))?;
        Ok(Self(actor))
    }
}

/// Serves the API on `listener` until `shutdown` resolves.
pub async fn serve(
    service: Service,
    listener: tokio::net::TcpListener,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    serve_with_console(service, crate::console::Options::default(), listener, shutdown).await
}

/// [`serve`] with the console's cookie options (HTTPS, trusted proxy).
pub async fn serve_with_console(
    service: Service,
    console: crate::console::Options,
    listener: tokio::net::TcpListener,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    // The peer address reaches the console's sign-in rate limit.
    let app = router_with_console(service, console).into_make_service_with_connect_info::<std::net::SocketAddr>();
    axum::serve(listener, app).with_graceful_shutdown(shutdown).await
}
