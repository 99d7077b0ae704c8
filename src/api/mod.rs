//! The REST API (axum): JSON in and out, one error type, an OpenAPI document at
//! `/api/v1/openapi.json`, `/health` (`/health/live`, `/health/ready`) and `/metrics`.
//!
//! Every `/api/v1` call but the OpenAPI document carries `Authorization: Bearer <token>` (an
//! API token from `kolokasi token create`); the token's user is the actor every record names.
//! A read-only token may only GET. Failed authentications are rate-limited per client address
//! (429 with `Retry-After`) and audited within a budget (see [`crate::auth::ratelimit`]).

mod assets;
mod documents;
mod error;
mod ops;
mod ownership;
mod privacy;
mod requests;
mod runs;

use axum::Router;
use axum::extract::{DefaultBodyLimit, FromRequestParts, State};
use axum::http::request::Parts;
use axum::response::IntoResponse;
use axum::routing::get;
use axum::Json;
use serde_json::json;

pub use error::ApiError;

use crate::lifecycle::Actor;
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
        .merge(privacy::routes())
        .merge(runs::routes())
        .merge(ownership::routes())
        .layer(axum::Extension(crate::engine::Engine::controls(service.clone())))
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

/// The acting person, from the bearer token.
pub struct Caller(pub Actor);

impl FromRequestParts<Service> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, service: &Service) -> Result<Self, ApiError> {
        let client = parts
            .extensions
            .get::<axum::extract::ConnectInfo<std::net::SocketAddr>>()
            .map_or_else(|| "unknown".to_string(), |c| c.0.ip().to_string());
        let header = parts.headers.get(axum::http::header::AUTHORIZATION).and_then(|v| v.to_str().ok());
        let Some(token) = header.and_then(|h| h.strip_prefix("Bearer ").or_else(|| h.strip_prefix("bearer "))) else {
            return Err(ApiError::Unauthorized("send an API token: Authorization: Bearer <token> (kolokasi token create)".into()));
        };
        let (actor, read_only) = service.authenticate_token_from(token.trim(), &client).await?;
        if read_only && !matches!(parts.method, axum::http::Method::GET | axum::http::Method::HEAD) {
            return Err(ApiError::Forbidden("this token is read-only".into()));
        }
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
