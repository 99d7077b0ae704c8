//! Endpoints for the platform running kolokasi: health, liveness, readiness (the database
//! answers and is migrated to this binary's schema) and Prometheus metrics. None needs a
//! caller's name: probes and scrapers are not people, and nothing here reveals a request.

use axum::Json;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use utoipa::ToSchema;

use super::{ApiError, ErrorBody};
use crate::service::Service;

/// `{"status": "ok", "database": "ok"}`.
#[derive(Serialize, ToSchema)]
pub struct Health {
    status: &'static str,
    database: &'static str,
}

/// The process serves and its database answers.
#[utoipa::path(get, path = "/health", operation_id = "health", tag = "operations", security(()),
    responses((status = 200, body = Health), (status = 500, description = "The database does not answer", body = ErrorBody)))]
pub async fn health(State(service): State<Service>) -> Result<Json<Health>, ApiError> {
    service.database_readiness().await.map_err(|e| ApiError::Internal(Box::new(e)))?;
    Ok(Json(Health { status: "ok", database: "ok" }))
}

/// `{"status": "live"}`.
#[derive(Serialize, ToSchema)]
pub struct Liveness {
    #[schema(pattern = "^live$")]
    status: &'static str,
}

/// The process is up and serving (no database call: a slow database must not get the pod
/// restarted, only taken out of the Service by readiness).
#[utoipa::path(get, path = "/health/live", operation_id = "live", tag = "operations", security(()), responses((status = 200, body = Liveness)))]
pub async fn live() -> Json<Liveness> {
    Json(Liveness { status: "live" })
}

/// Whether this replica should get traffic, and if not, why.
#[derive(Serialize, ToSchema)]
pub struct Readiness {
    /// `ready` or `not ready`.
    #[schema(pattern = "^(ready|not ready)$")]
    status: &'static str,
    /// `ok` or `unreachable`.
    #[serde(skip_serializing_if = "Option::is_none")]
    database: Option<&'static str>,
    /// The schema version this binary expects (when ready).
    #[serde(skip_serializing_if = "Option::is_none")]
    schema_version: Option<i64>,
    /// Migrations this binary knows that the database lacks.
    #[serde(skip_serializing_if = "Option::is_none")]
    missing_migrations: Option<Vec<i64>>,
    /// `stopped` when this process's worker has stopped.
    #[serde(skip_serializing_if = "Option::is_none")]
    worker: Option<&'static str>,
}

impl Readiness {
    fn not_ready() -> Self {
        Self { status: "not ready", database: None, schema_version: None, missing_migrations: None, worker: None }
    }
}

/// 200 when the database answers a query and every migration this binary knows is applied;
/// 503 otherwise, saying which.
#[utoipa::path(get, path = "/health/ready", operation_id = "ready", tag = "operations", security(()),
    responses((status = 200, description = "Ready", body = Readiness), (status = 503, description = "Not ready, and why", body = Readiness)))]
pub async fn ready(State(service): State<Service>) -> Response {
    let unavailable = |r: Readiness| (StatusCode::SERVICE_UNAVAILABLE, Json(r)).into_response();
    if service.worker_is_down() {
        return unavailable(Readiness { worker: Some("stopped"), ..Readiness::not_ready() });
    }
    match service.database_readiness().await {
        Ok(m) if m.is_empty() => Json(Readiness {
            status: "ready",
            database: Some("ok"),
            schema_version: Some(crate::store::expected_schema_version()),
            ..Readiness::not_ready()
        })
        .into_response(),
        Ok(m) => unavailable(Readiness { database: Some("ok"), missing_migrations: Some(m), ..Readiness::not_ready() }),
        Err(e) => {
            tracing::warn!(error = %e, source = ?std::error::Error::source(&e), "readiness: database check failed");
            unavailable(Readiness { database: Some("unreachable"), ..Readiness::not_ready() })
        }
    }
}

/// Prometheus text exposition: the store's counts (three GROUP BY queries) and this process's
/// step measurements.
#[utoipa::path(get, path = "/metrics", operation_id = "metrics", tag = "operations", security(()),
    responses(
        (status = 200, description = "Prometheus text format 0.0.4", content_type = "text/plain; version=0.0.4; charset=utf-8", body = String),
        (status = 503, description = "The database does not answer", content_type = "text/plain", body = String)))]
pub async fn metrics(State(service): State<Service>) -> Response {
    match service.counts().await {
        Ok(counts) => ([(header::CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8")], crate::metrics::render(&counts)).into_response(),
        Err(e) => {
            tracing::warn!(error = %e, "metrics: cannot read counts from the database");
            (StatusCode::SERVICE_UNAVAILABLE, "database unreachable\n").into_response()
        }
    }
}
