//! The admin's ownership forms on a request page (issue 17 part 1): allow a zone apex or a name
//! outside the configured zones (`POST /requests/{id}/allow-name`), and let the DNS step adopt a
//! record it finds there (`POST /requests/{id}/adopt-record`). Both go through the same audited
//! service calls as `kolokasi request allow-name` / `adopt-record` and the REST API.

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};

use super::{parse_id, request, user_message};
use crate::console::form::FormData;
use crate::console::session::Signed;
use crate::console::{Console, ConsoleError, Lang, csrf};
use crate::domain::{Fqdn, RequestId};
use crate::service::ServiceError;

/// The service's answer as the page shows it: back to the request with a note, or the error.
async fn answer(console: &Console, me: &Signed, id: &RequestId, done: &str, result: Result<(), ServiceError>) -> Result<Response, ConsoleError> {
    match result {
        Ok(()) => Ok(Redirect::to(&format!("/requests/{id}?done={done}#ownership")).into_response()),
        Err(e) => {
            let status = match e {
                ServiceError::Forbidden(_) => StatusCode::FORBIDDEN,
                ServiceError::Conflict(_) => StatusCode::CONFLICT,
                _ => StatusCode::BAD_REQUEST,
            };
            match user_message(me.page.lang, &e) {
                Some(m) => request::render(console, &me.page.clone().with_flash("error", m), id, status).await,
                None => Err(e.into()),
            }
        }
    }
}

fn name_of(lang: Lang, form: &FormData) -> Result<Fqdn, ServiceError> {
    Fqdn::parse(form.get("name").trim()).map_err(|e| ServiceError::Invalid(format!("{}: {e}", lang.t("own_name"))))
}

pub async fn allow_name(State(console): State<Console>, me: Signed, Path(id): Path<String>, body: Bytes) -> Result<Response, ConsoleError> {
    let form = FormData::parse(&body)?;
    csrf::check(&me.session.csrf_token, &form)?;
    let id = parse_id(&id)?;
    let result = match name_of(me.page.lang, &form) {
        Ok(name) => console.service().allow_name(me.page.me(), &id, &name, form.get("reason")).await,
        Err(e) => Err(e),
    };
    answer(&console, &me, &id, "allow_name", result).await
}

pub async fn adopt_record(State(console): State<Console>, me: Signed, Path(id): Path<String>, body: Bytes) -> Result<Response, ConsoleError> {
    let form = FormData::parse(&body)?;
    csrf::check(&me.session.csrf_token, &form)?;
    let id = parse_id(&id)?;
    let result = match name_of(me.page.lang, &form) {
        Ok(name) => console.service().adopt_record(me.page.me(), &id, &name, form.get("type"), form.get("reason")).await,
        Err(e) => Err(e),
    };
    answer(&console, &me, &id, "adopt_record", result).await
}
