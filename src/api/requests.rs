//! `/api/v1/requests`: submit, list, show, move through the SOP, capacity, audit.

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::{ApiBody, ApiError, ApiQuery, Caller, ErrorBody};
use crate::capacity::{Usage, Verdict};
use crate::domain::{RequestForm, RequestId, RequestKind};
use crate::lifecycle::State as LifecycleState;
use crate::service::{AttachedKey, Command, RequestView, Service};
use crate::store::{AuditRecord, ChainBreak, ListFilter, RequestSummary};

pub fn routes() -> OpenApiRouter<Service> {
    OpenApiRouter::new()
        .routes(routes!(list, submit))
        .routes(routes!(show))
        .routes(routes!(apply))
        .routes(routes!(attach_key))
        .routes(routes!(capacity))
        .routes(routes!(audit))
        .routes(routes!(datacenter))
        .routes(routes!(audit_verify))
}

/// The `{id}` of a request's paths.
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Path)]
#[allow(dead_code)] // documents the `{id}` the handlers read with `Path<String>`; never built
pub(super) struct RequestPath {
    /// The request number.
    #[param(value_type = RequestId)]
    id: String,
}

pub(super) fn request_id(raw: &str) -> Result<RequestId, ApiError> {
    RequestId::parse(raw).map_err(|e| ApiError::BadRequest(e.to_string()))
}

pub(super) fn utf8(body: &Bytes) -> Result<&str, ApiError> {
    std::str::from_utf8(body).map_err(|e| ApiError::BadRequest(format!("body is not valid UTF-8 (at byte {})", e.valid_up_to())))
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
struct ListQuery {
    #[param(value_type = Option<LifecycleState>)]
    state: Option<String>,
    /// The unit's name, exactly.
    unit: Option<String>,
    #[param(value_type = Option<RequestKind>)]
    kind: Option<String>,
    /// Only requests whose service time has run out.
    #[serde(default)]
    overdue: bool,
    /// The `next_after` of the previous page.
    after: Option<String>,
    /// Page size, 1-1000 (100 if not given).
    #[param(minimum = 1, maximum = 1000)]
    limit: Option<i64>,
}

/// One page of requests, oldest first.
#[derive(Serialize, ToSchema)]
struct RequestPage {
    items: Vec<RequestSummary>,
    /// Pass as `after` for the next page; `null` on the last one.
    next_after: Option<String>,
}

/// The requests the caller may see (a requester: their unit's).
#[utoipa::path(get, path = "/api/v1/requests", operation_id = "list_requests", tag = "requests", params(ListQuery),
    responses((status = 200, body = RequestPage), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 429, body = ErrorBody)))]
async fn list(State(service): State<Service>, Caller(actor): Caller, ApiQuery(q): ApiQuery<ListQuery>) -> Result<Json<RequestPage>, ApiError> {
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
    Ok(Json(RequestPage { items, next_after: next }))
}

/// A request's number and state after a move.
#[derive(Serialize, ToSchema)]
struct Moved {
    id: RequestId,
    state: LifecycleState,
    /// The state's name in Indonesian, as the forms print it.
    #[serde(skip_serializing_if = "Option::is_none")]
    state_label: Option<&'static str>,
}

/// SOP step 1: a unit files a request (the admin may file for any unit).
#[utoipa::path(post, path = "/api/v1/requests", operation_id = "submit_request", tag = "requests", request_body = RequestForm,
    responses((status = 201, body = Moved), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 409, body = ErrorBody), (status = 413, body = ErrorBody), (status = 429, body = ErrorBody)))]
async fn submit(State(service): State<Service>, Caller(actor): Caller, ApiBody(body): ApiBody) -> Result<(StatusCode, Json<Moved>), ApiError> {
    let form = RequestForm::from_json(utf8(&body)?).map_err(|e| ApiError::BadRequest(e.to_string()))?;
    let id = service.submit(&actor, form).await?;
    Ok((StatusCode::CREATED, Json(Moved { id, state: LifecycleState::Submitted, state_label: None })))
}

/// A request with its approval (password redacted), capacity verdict, SLA and history.
#[utoipa::path(get, path = "/api/v1/requests/{id}", operation_id = "show_request", tag = "requests", params(RequestPath),
    responses((status = 200, body = RequestView), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody), (status = 429, body = ErrorBody)))]
async fn show(State(service): State<Service>, Caller(actor): Caller, Path(id): Path<String>) -> Result<Json<RequestView>, ApiError> {
    Ok(Json(service.request(&actor, &request_id(&id)?).await?))
}

/// One SOP move (`{"event": "approve", …}`); moves that follow a run (hand-over, decommissioned) are the run's.
#[utoipa::path(post, path = "/api/v1/requests/{id}/events", operation_id = "move_request", tag = "requests", params(RequestPath), request_body = Command,
    responses((status = 200, body = Moved), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 409, body = ErrorBody), (status = 413, body = ErrorBody), (status = 429, body = ErrorBody)))]
async fn apply(State(service): State<Service>, Caller(actor): Caller, Path(id): Path<String>, ApiBody(body): ApiBody) -> Result<Json<Moved>, ApiError> {
    let id = request_id(&id)?;
    let de = &mut serde_json::Deserializer::from_str(utf8(&body)?);
    let command: Command = serde_path_to_error::deserialize(de).map_err(|e| ApiError::BadRequest(format!("invalid command: {e}")))?;
    let state = service.apply(&actor, &id, command).await?;
    Ok(Json(Moved { id, state, state_label: Some(state.label_id()) }))
}

/// `{"private_key": "-----BEGIN OPENSSH PRIVATE KEY-----…"}`.
#[derive(Deserialize, ToSchema)]
struct HostAdminKeyBody {
    /// An OpenSSH or PEM private key.
    private_key: crate::secrets::Secret,
}

/// The key attached: its type and fingerprint, never the key.
#[derive(Serialize, ToSchema)]
struct AttachedKeyAnswer {
    id: RequestId,
    /// `ssh-ed25519`, `ssh-rsa`.
    algorithm: String,
    /// The public key's SHA-256 fingerprint as OpenSSH prints it (`SHA256:…`).
    fingerprint: String,
}

/// Attaches the host admin's key for the inspection's login; answers with its type and fingerprint only.
#[utoipa::path(post, path = "/api/v1/requests/{id}/host-admin-key", operation_id = "attach_host_admin_key", tag = "requests", params(RequestPath), request_body = HostAdminKeyBody,
    responses((status = 200, body = AttachedKeyAnswer), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 409, body = ErrorBody), (status = 413, body = ErrorBody), (status = 429, body = ErrorBody)))]
async fn attach_key(State(service): State<Service>, Caller(actor): Caller, Path(id): Path<String>, ApiBody(body): ApiBody) -> Result<Json<AttachedKeyAnswer>, ApiError> {
    let id = request_id(&id)?;
    // The body holds the key: the error names the problem, never quotes the input.
    let body: HostAdminKeyBody =
        serde_json::from_str(utf8(&body)?).map_err(|_| ApiError::BadRequest("expected {\"private_key\": \"<OpenSSH or PEM private key>\"}".into()))?;
    let AttachedKey { algorithm, fingerprint } = service.attach_host_admin_key(&actor, &id, &body.private_key).await?;
    Ok(Json(AttachedKeyAnswer { id, algorithm, fingerprint }))
}

/// The capacity check as it would come out now (nothing is recorded).
#[utoipa::path(get, path = "/api/v1/requests/{id}/capacity", operation_id = "preview_capacity", tag = "requests", params(RequestPath),
    responses((status = 200, body = Verdict), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody), (status = 429, body = ErrorBody)))]
async fn capacity(State(service): State<Service>, Caller(actor): Caller, Path(id): Path<String>) -> Result<Json<Verdict>, ApiError> {
    Ok(Json(service.capacity_preview(&actor, &request_id(&id)?).await?))
}

#[derive(Serialize, ToSchema)]
struct AuditPage {
    items: Vec<AuditRecord>,
}

/// The request's audit trail: who did what, when, why, before and after.
#[utoipa::path(get, path = "/api/v1/requests/{id}/audit", operation_id = "request_audit", tag = "audit", params(RequestPath),
    responses((status = 200, body = AuditPage), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody), (status = 429, body = ErrorBody)))]
async fn audit(State(service): State<Service>, Caller(actor): Caller, Path(id): Path<String>) -> Result<Json<AuditPage>, ApiError> {
    let id = request_id(&id)?;
    Ok(Json(AuditPage { items: service.request_audit(&actor, &id).await? }))
}

#[derive(Serialize, ToSchema)]
struct Datacenter {
    /// The inventory file as loaded (sites, racks, power, uplinks, IP pools, devices).
    // TODO(design): the inventory's own schema (it spans capacity, ipam and engine::devices).
    #[schema(value_type = Object)]
    inventory: Value,
    usage: Usage,
}

/// The data center's inventory and what the live requests use of it (staff and the auditor).
#[utoipa::path(get, path = "/api/v1/datacenter", operation_id = "datacenter", tag = "datacenter",
    responses((status = 200, body = Datacenter), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 429, body = ErrorBody)))]
async fn datacenter(State(service): State<Service>, Caller(actor): Caller) -> Result<Json<Datacenter>, ApiError> {
    let usage = service.datacenter_usage(&actor).await?;
    let inventory = serde_json::to_value(&*service.inventory).map_err(|e| ApiError::Internal(Box::new(e)))?;
    Ok(Json(Datacenter { inventory, usage }))
}

/// The audit chain's check: every row's hash follows from the one before.
#[derive(Serialize, ToSchema)]
struct ChainCheck {
    ok: bool,
    /// Rows checked (when the chain holds).
    #[serde(skip_serializing_if = "Option::is_none")]
    rows: Option<i64>,
    /// Where it breaks (when it does not).
    #[serde(rename = "break", skip_serializing_if = "Option::is_none")]
    broken: Option<ChainBreak>,
}

/// Verifies the whole audit chain (admin, head, auditor).
#[utoipa::path(get, path = "/api/v1/audit/verify", operation_id = "verify_audit", tag = "audit",
    responses((status = 200, body = ChainCheck), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 429, body = ErrorBody)))]
async fn audit_verify(State(service): State<Service>, Caller(actor): Caller) -> Result<Json<ChainCheck>, ApiError> {
    Ok(Json(match service.verify_audit(&actor).await? {
        Ok(rows) => ChainCheck { ok: true, rows: Some(rows), broken: None },
        Err(b) => ChainCheck { ok: false, rows: None, broken: Some(b) },
    }))
}

