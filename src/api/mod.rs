//! The REST API (axum): JSON in and out, one error type, an OpenAPI document at
//! `/api/v1/openapi.json`, `/health` (`/health/live`, `/health/ready`) and `/metrics`.
//!
//! Every `/api/v1` call but the OpenAPI document carries `Authorization: Bearer <token>` (an
//! API token from `kolokasi token create`); the token's user is the actor every record names.
//! A read-only token may only GET. Failed authentications are rate-limited per client address
//! (429 with `Retry-After`) and audited within a budget (see [`crate::auth::ratelimit`]).

mod assets;
mod documents;
mod drift;
mod error;
mod evidence;
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

/// The API under `/api/v1` and the web console under `/` (see [`crate::console`]), recording
/// operators' controls for the workers to carry out; without device drivers.
pub fn router_with_console(service: Service, console: crate::console::Options) -> Router {
    router_with_engine(crate::actions::controls_engine(service), console, None)
}

/// [`router_with_console`] around `serve`'s engine: its playbooks and its drivers (for the
/// read-only device checks such as `GET /api/v1/datacenter/check`), and the drift checker of a
/// process that has device drivers (without one, `POST …/drift` answers 503). The API and
/// console never drive a run; the worker does.
pub fn router_with_engine(engine: crate::engine::Engine, console: crate::console::Options, checker: Option<crate::drift::Checker>) -> Router {
    let service = engine.service().clone();
    Router::new()
        .route("/health", get(health))
        .route("/health/live", get(ops::live))
        .route("/health/ready", get(ops::ready))
        .route("/metrics", get(ops::metrics))
        .route("/api/v1/openapi.json", get(openapi))
        .merge(requests::routes())
        .merge(documents::routes())
        .merge(evidence::routes())
        .merge(assets::routes())
        .merge(privacy::routes())
        .merge(runs::routes())
        .merge(drift::routes())
        .merge(ownership::routes())
        .layer(axum::Extension(engine.clone()))
        .layer(axum::Extension(console.trusted_proxies.clone()))
        .layer(axum::Extension(drift::DriftChecker(checker)))
        .with_state(service)
        .merge(crate::console::router(crate::console::Console::with_engine(engine, console)))
        .layer(DefaultBodyLimit::max(BODY_LIMIT))
        .layer(tower_http::trace::TraceLayer::new_for_http())
}

async fn health(State(service): State<Service>) -> Result<Json<serde_json::Value>, ApiError> {
    service.database_readiness().await.map_err(|e| ApiError::Internal(Box::new(e)))?;
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
        // The client behind a configured proxy (the right-most untrusted hop), else the peer:
        // behind an ingress, clients are not all one address for the token limiter.
        let peer = parts.extensions.get::<axum::extract::ConnectInfo<std::net::SocketAddr>>().map(|c| c.0.ip());
        let client = match parts.extensions.get::<crate::auth::TrustedProxies>() {
            Some(proxies) => proxies.client(peer, &parts.headers),
            None => peer.map_or_else(|| "unknown".to_string(), |p| p.to_string()),
        };
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
    serve_with_engine(crate::actions::controls_engine(service), console, None, listener, shutdown).await
}

/// [`serve_with_console`] around `serve`'s engine and its drift checker (see
/// [`router_with_engine`]).
pub async fn serve_with_engine(
    engine: crate::engine::Engine,
    console: crate::console::Options,
    checker: Option<crate::drift::Checker>,
    listener: tokio::net::TcpListener,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    // The peer address reaches the console's sign-in rate limit.
    let app = router_with_engine(engine, console, checker).into_make_service_with_connect_info::<std::net::SocketAddr>();
    axum::serve(listener, app).with_graceful_shutdown(shutdown).await
}
