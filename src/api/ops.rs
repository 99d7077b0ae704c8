//! Endpoints for the platform running kolokasi: liveness, readiness (the database answers and
//! is migrated to this binary's schema) and Prometheus metrics. None needs a caller's name:
//! probes and scrapers are not people, and nothing here reveals a request.

use axum::Json;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;

use crate::service::Service;

/// The process is up and serving (no database call: a slow database must not get the pod
/// restarted, only taken out of the Service by readiness).
pub async fn live() -> Json<serde_json::Value> {
    Json(json!({ "status": "live" }))
}

/// 200 when the database answers a query and every migration this binary knows is applied;
/// 503 otherwise, saying which.
pub async fn ready(State(service): State<Service>) -> Response {
    if service.worker_is_down() {
        return (StatusCode::SERVICE_UNAVAILABLE, Json(json!({ "status": "not ready", "worker": "stopped" }))).into_response();
    }
    match service.database_readiness().await {
        Ok(m) if m.is_empty() => Json(json!({ "status": "ready", "database": "ok", "schema_version": crate::store::expected_schema_version() })).into_response(),
        Ok(m) => (StatusCode::SERVICE_UNAVAILABLE, Json(json!({ "status": "not ready", "database": "ok", "missing_migrations": m }))).into_response(),
        Err(e) => {
            tracing::warn!(error = %e, source = ?std::error::Error::source(&e), "readiness: database check failed");
            (StatusCode::SERVICE_UNAVAILABLE, Json(json!({ "status": "not ready", "database": "unreachable" }))).into_response()
        }
    }
}

/// Prometheus text exposition: the store's counts (three GROUP BY queries) and this process's
/// step measurements.
pub async fn metrics(State(service): State<Service>) -> Response {
    match service.counts().await {
        Ok(counts) => ([(header::CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8")], crate::metrics::render(&counts)).into_response(),
        Err(e) => {
            tracing::warn!(error = %e, "metrics: cannot read counts from the database");
            (StatusCode::SERVICE_UNAVAILABLE, "database unreachable\n").into_response()
        }
    }
}
