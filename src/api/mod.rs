//! The REST API (axum): JSON in and out, one error type, an OpenAPI document generated from
//! the handlers (see [`openapi`]) at `/api/v1/openapi.json`, `/health` (`/health/live`,
//! `/health/ready`) and `/metrics`.
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
mod openapi;
mod ops;
mod ownership;
mod privacy;
mod requests;
mod runs;
pub(crate) mod schemas;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, FromRequest, FromRequestParts, Query, Request};
use axum::http::StatusCode;
use axum::http::request::Parts;
pub use error::{ApiError, ErrorBody, ErrorCode, ErrorDetail};
pub use openapi::{openapi, openapi_json};

use crate::lifecycle::Actor;
use crate::service::Service;

/// Largest request body accepted (a request file is a few KiB).
pub const BODY_LIMIT: usize = 256 * 1024;

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
    let (api, _) = openapi::api_routes().split_for_parts();
    api.layer(axum::Extension(engine.clone()))
        .layer(axum::Extension(console.trusted_proxies.clone()))
        .layer(axum::Extension(drift::DriftChecker(checker)))
        .with_state(service)
        .merge(crate::console::router(crate::console::Console::with_engine(engine, console)))
        .layer(DefaultBodyLimit::max(BODY_LIMIT))
        .layer(tower_http::trace::TraceLayer::new_for_http())
}

/// A query string read into `T`; a bad one is the API's own 400, not axum's plain text.
pub(crate) struct ApiQuery<T>(pub T);

impl<T: serde::de::DeserializeOwned, S: Send + Sync> FromRequestParts<S> for ApiQuery<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, ApiError> {
        let Query(q) = Query::<T>::try_from_uri(&parts.uri).map_err(|e| ApiError::BadRequest(format!("query: {}", e.body_text())))?;
        Ok(Self(q))
    }
}

/// A request body as bytes within [`BODY_LIMIT`]; one too large is the API's own 413.
pub(crate) struct ApiBody(pub Bytes);

impl<S: Send + Sync> FromRequest<S> for ApiBody {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        let bytes = Bytes::from_request(req, state).await.map_err(|e| match e.status() {
            StatusCode::PAYLOAD_TOO_LARGE => ApiError::PayloadTooLarge(format!("the body is larger than {} KiB", BODY_LIMIT / 1024)),
            _ => ApiError::BadRequest(e.body_text()),
        })?;
        Ok(Self(bytes))
    }
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
