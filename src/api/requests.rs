//! `/api/v1/requests`: submit, list, show, move through the SOP, capacity, audit.

use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::routing::get;
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{Value, json};

use super::{ApiError, Caller};
use crate::domain::{RequestForm, RequestId, RequestKind};
use crate::lifecycle::State as LifecycleState;
use crate::service::{Command, Service};
use crate::store::ListFilter;

pub fn routes() -> Router<Service> {
    Router::new()
        .route("/api/v1/requests", get(list).post(submit))
        .route("/api/v1/requests/{id}", get(show))
        .route("/api/v1/requests/{id}/events", axum::routing::post(apply))
        .route("/api/v1/requests/{id}/host-admin-key", axum::routing::post(attach_key))
        .route("/api/v1/requests/{id}/capacity", get(capacity))
        .route("/api/v1/requests/{id}/audit", get(audit))
        .route("/api/v1/datacenter", get(datacenter))
        .route("/api/v1/audit/verify", get(audit_verify))
}

pub(super) fn request_id(raw: &str) -> Result<RequestId, ApiError> {
    RequestId::parse(raw).map_err(|e| ApiError::BadRequest(e.to_string()))
}

pub(super) fn utf8(body: &Bytes) -> Result<&str, ApiError> {
    std::str::from_utf8(body).map_err(|e| ApiError::BadRequest(format!("body is not valid UTF-8 (at byte {})", e.valid_up_to())))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ListQuery {
    state: Option<String>,
    unit: Option<String>,
    kind: Option<String>,
    #[serde(default)]
    overdue: bool,
    after: Option<String>,
    limit: Option<i64>,
}

async fn list(State(service): State<Service>, Caller(actor): Caller, Query(q): Query<ListQuery>) -> Result<Json<Value>, ApiError> {
    let state = q.state.map(|s| s.parse::<LifecycleState>().map_err(|e| ApiError::BadRequest(e.to_string()))).transpose()?;
    let kind = q.kind.map(|k| RequestKind::parse(&k).ok_or_else(|| ApiError::BadRequest(format!("unknown kind {k:?}")))).transpose()?;
    let filter = ListFilter {
        state,
        unit: q.unit,
        kind,
        due_before: q.overdue.then(time::OffsetDateTime::now_utc),
        after: q.after,
        limit: q.limit.unwrap_or(100),
    };
    let items = service.list(&actor, &filter).await?;
    let next = (items.len() as i64 == filter.limit.clamp(1, 1000)).then(|| items.last().map(|r| r.id.clone())).flatten();
    Ok(Json(json!({ "items": items, "next_after": next })))
}

async fn submit(State(service): State<Service>, Caller(actor): Caller, body: Bytes) -> Result<(StatusCode, Json<Value>), ApiError> {
    let form = RequestForm::from_json(utf8(&body)?).map_err(|e| ApiError::BadRequest(e.to_string()))?;
    let id = service.submit(&actor, form).await?;
    Ok((StatusCode::CREATED, Json(json!({ "id": id, "state": LifecycleState::Submitted }))))
}

async fn show(State(service): State<Service>, Caller(actor): Caller, Path(id): Path<String>) -> Result<Json<Value>, ApiError> {
    let view = service.request(&actor, &request_id(&id)?).await?;
    Ok(Json(serde_json::to_value(view).expect("serialisable")))
}

async fn apply(State(service): State<Service>, Caller(actor): Caller, Path(id): Path<String>, body: Bytes) -> Result<Json<Value>, ApiError> {
    let id = request_id(&id)?;
    let de = &mut serde_json::Deserializer::from_str(utf8(&body)?);
    let command: Command = serde_path_to_error::deserialize(de).map_err(|e| ApiError::BadRequest(format!("invalid command: {e}")))?;
    let state = service.apply(&actor, &id, command).await?;
    Ok(Json(json!({ "id": id, "state": state, "state_label": state.label_id() })))
}

/// `{"private_key": "-----BEGIN OPENSSH PRIVATE KEY-----…"}`: attaches the host admin's key;
/// answers with its type and fingerprint only.
async fn attach_key(State(service): State<Service>, Caller(actor): Caller, Path(id): Path<String>, body: Bytes) -> Result<Json<Value>, ApiError> {
    #[derive(serde::Deserialize)]
    struct Body {
        private_key: crate::secrets::Secret,
    }
    let id = request_id(&id)?;
    // The body holds the key: the error names the problem, never quotes the input.
    let body: Body = serde_json::from_str(utf8(&body)?).map_err(|_| ApiError::BadRequest("expected {\"private_key\": \"<OpenSSH or PEM private key>\"}".into()))?;
    let attached = service.attach_host_admin_key(&actor, &id, &body.private_key).await?;
    Ok(Json(json!({ "id": id, "algorithm": attached.algorithm, "fingerprint": attached.fingerprint })))
}

async fn capacity(State(service): State<Service>, Caller(actor): Caller, Path(id): Path<String>) -> Result<Json<Value>, ApiError> {
    let verdict = service.capacity_preview(&actor, &request_id(&id)?).await?;
    Ok(Json(serde_json::to_value(verdict).expect("serialisable")))
}

async fn audit(State(service): State<Service>, Caller(actor): Caller, Path(id): Path<String>) -> Result<Json<Value>, ApiError> {
    let id = request_id(&id)?;
    let rows = service.request_audit(&actor, &id).await?;
    Ok(Json(json!({ "items": rows })))
}

async fn datacenter(State(service): State<Service>, Caller(actor): Caller) -> Result<Json<Value>, ApiError> {
    let usage = service.datacenter_usage(&actor).await?;
    Ok(Json(json!({ "inventory": *service.inventory, "usage": usage })))
}

async fn audit_verify(State(service): State<Service>, Caller(actor): Caller) -> Result<Json<Value>, ApiError> {
    match service.verify_audit(&actor).await? {
        Ok(rows) => Ok(Json(json!({ "ok": true, "rows": rows }))),
        Err(b) => Ok(Json(json!({ "ok": false, "break": b }))),
    }
}

