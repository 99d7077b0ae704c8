//! The OpenAPI 3.1 document, generated: each handler's `#[utoipa::path]` and each body's
//! `ToSchema` make it up, and [`api_routes`] is the only place the API's routes are made, by
//! `utoipa_axum::routes!`, so a route cannot be served without its documentation. The document
//! is served at `/api/v1/openapi.json`; [`openapi_json`] gives the same text to tests and tools.

use std::sync::OnceLock;

use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use utoipa::openapi::header::HeaderBuilder;
use utoipa::openapi::schema::{ObjectBuilder, Type};
use utoipa::openapi::{OpenApi as Document, RefOr};
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::{assets, documents, drift, evidence, ops, ownership, privacy, requests, runs};
use crate::service::Service;

#[derive(OpenApi)]
#[openapi(
    info(
        title = "kolokasi",
        description = "The co-location and application-hosting SOP of the data center: requests, their moves through the SOP, \
                       runs, documents, the asset register, drift and audit. Every `/api/v1` call but this document carries \
                       `Authorization: Bearer <token>`; a read-only token may only GET. Errors are `{\"error\": {\"code\", \"message\"}}`."
    ),
    modifiers(&BearerToken),
    security(("bearer" = [])),
    tags(
        (name = "requests", description = "Submit, list and show requests; move them through the SOP"),
        (name = "runs", description = "A request's provisioning and decommissioning runs, and the operators' controls"),
        (name = "documents", description = "The SOP's documents and the evidence bundle"),
        (name = "drift", description = "Whether the devices still hold what a run wrote"),
        (name = "ownership", description = "Names and DNS records a request may use or take over (admin)"),
        (name = "assets", description = "The asset register and its periodic reviews"),
        (name = "datacenter", description = "The inventory, its use, and the firewalls' check"),
        (name = "audit", description = "The hash-chained audit trail"),
        (name = "privacy", description = "What kolokasi holds about one official"),
        (name = "operations", description = "Health, readiness and metrics for the platform (no token)"),
        (name = "meta", description = "This document (no token)"),
    )
)]
struct ApiDoc;

/// The `bearer` security scheme: an API token from `kolokasi token create`.
struct BearerToken;

impl Modify for BearerToken {
    fn modify(&self, openapi: &mut Document) {
        let scheme = HttpBuilder::new()
            .scheme(HttpAuthScheme::Bearer)
            .description(Some("An API token from `kolokasi token create` (`klk_` followed by 64 hex digits)."))
            .build();
        openapi.components.get_or_insert_with(Default::default).add_security_scheme("bearer", SecurityScheme::Http(scheme));
    }
}

/// Every route of the REST API with its documentation (the console's pages are not part of it).
pub(super) fn api_routes() -> OpenApiRouter<Service> {
    OpenApiRouter::with_openapi(ApiDoc::openapi())
        .routes(routes!(ops::health))
        .routes(routes!(ops::live))
        .routes(routes!(ops::ready))
        .routes(routes!(ops::metrics))
        .routes(routes!(document))
        .merge(requests::routes())
        .merge(documents::routes())
        .merge(evidence::routes())
        .merge(assets::routes())
        .merge(privacy::routes())
        .merge(runs::routes())
        .merge(drift::routes())
        .merge(ownership::routes())
}

/// The API's OpenAPI document.
pub fn openapi() -> Document {
    let mut doc = api_routes().into_openapi();
    describe_responses(&mut doc);
    doc
}

/// What every operation answers alike: OpenAPI 3.1 requires a description on every response
/// (one the handler does not give is the status's reason phrase, "Not Found"); a 401 carries
/// `WWW-Authenticate: Bearer` and a 429 `Retry-After` (see [`super::ApiError`]).
fn describe_responses(doc: &mut Document) {
    for item in doc.paths.paths.values_mut() {
        let operations = [&mut item.get, &mut item.put, &mut item.post, &mut item.delete, &mut item.patch];
        for operation in operations.into_iter().flatten() {
            for (status, response) in operation.responses.responses.iter_mut() {
                if let RefOr::T(response) = response
                    && response.description.is_empty()
                {
                    let reason = status.parse::<u16>().ok().and_then(|s| StatusCode::from_u16(s).ok()).and_then(|s| s.canonical_reason());
                    response.description = reason.unwrap_or("Response").to_string();
                }
                if let RefOr::T(response) = response {
                    let header = match status.as_str() {
                        "401" => Some(("WWW-Authenticate", Type::String, "`Bearer`: send an API token.")),
                        "429" => Some(("Retry-After", Type::Integer, "Seconds until this address may try again.")),
                        _ => None,
                    };
                    if let Some((name, kind, description)) = header {
                        let header = HeaderBuilder::new().schema(Some(ObjectBuilder::new().schema_type(kind))).description(Some(description));
                        response.headers.insert(name.to_string(), RefOr::T(header.build()));
                    }
                }
            }
        }
    }
}

/// The document as served at `/api/v1/openapi.json`, built once.
pub fn openapi_json() -> &'static str {
    static JSON: OnceLock<String> = OnceLock::new();
    JSON.get_or_init(|| openapi().to_pretty_json().expect("the OpenAPI document serialises"))
}

/// This document.
#[utoipa::path(get, path = "/api/v1/openapi.json", operation_id = "openapi", tag = "meta", security(()),
    responses((status = 200, description = "The OpenAPI 3.1 document", content_type = "application/json", body = Object)))]
async fn document() -> impl IntoResponse {
    ([(header::CONTENT_TYPE, "application/json")], openapi_json())
}
