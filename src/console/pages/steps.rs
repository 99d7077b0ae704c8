//! `POST /requests/{id}/step`: the SOP step forms of the request page (verify, capacity check,
//! Form Persetujuan, hardware gate, Form Pencabutan, …) turned into service commands. A
//! refused step (wrong role, wrong state, bad input) shows the request page again with the
//! reason; nothing is changed.

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};

use super::{parse_id, request, user_message};
use crate::console::form::FormData;
use crate::console::session::Signed;
use crate::console::{Console, ConsoleError, Lang, csrf};
use crate::domain::{HardwareReceipt, Nip, Official, Revocation, Text, parse_date};
use crate::secrets::Secret;
use crate::service::{ApproveInput, Command, RejectInput, ServiceError};

fn invalid(lang: Lang, field: &str) -> ServiceError {
    ServiceError::Invalid(format!("{field}: {}", lang.t("err_text")))
}

fn text(lang: Lang, form: &FormData, name: &str) -> Result<Text, ServiceError> {
    Text::parse(form.get(name)).map_err(|_| invalid(lang, name))
}

fn reason(form: &FormData) -> Option<String> {
    form.opt("reason").map(str::to_string)
}

/// One reason per line (pertimbangan).
fn reasons(lang: Lang, form: &FormData) -> Result<Vec<Text>, ServiceError> {
    form.get("reasons")
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(|l| Text::parse(l).map_err(|_| invalid(lang, "reasons")))
        .collect()
}

fn official(lang: Lang, form: &FormData, prefix: &str) -> Result<Option<Official>, ServiceError> {
    let Some(name) = form.opt(&format!("{prefix}_name")) else { return Ok(None) };
    let nip = Nip::parse(form.get(&format!("{prefix}_nip"))).map_err(|_| ServiceError::Invalid(lang.t("err_nip").into()))?;
    Ok(Some(Official {
        name: Text::parse(name).map_err(|_| invalid(lang, prefix))?,
        nip,
        position: None,
    }))
}

/// The command a step form stands for.
fn command(lang: Lang, form: &FormData) -> Result<Command, ServiceError> {
    Ok(match form.get("event") {
        "verify" => Command::Verify { reason: reason(form) },
        "check_capacity" => Command::CheckCapacity { reason: reason(form) },
        "complete_form" => Command::CompleteForm {
            form: None,
            reason: reason(form),
        },
        "approve" => Command::Approve(ApproveInput {
            place: text(lang, form, "place")?,
            reasons: reasons(lang, form)?,
            signed_by: official(lang, form, "signed_by")?,
            host_admin_user: form
                .opt("host_admin_user")
                .map(|u| Text::parse(u).map_err(|_| invalid(lang, "host_admin_user")))
                .transpose()?,
            host_admin_password: form.opt("host_admin_password").map(Secret::new),
        }),
        "reject" => Command::Reject(RejectInput {
            place: text(lang, form, "place")?,
            reasons: reasons(lang, form)?,
            signed_by: official(lang, form, "signed_by")?,
        }),
        "start_provisioning" => Command::StartProvisioning { reason: reason(form) },
        "hardware_received" => Command::HardwareReceived {
            receipt: HardwareReceipt {
                serial_number: text(lang, form, "serial_number")?,
                type_brand: text(lang, form, "type_brand")?,
                switch_port: form
                    .opt("switch_port")
                    .map(|p| Text::parse(p).map_err(|_| invalid(lang, "switch_port")))
                    .transpose()?,
                host_key: form
                    .opt("host_key")
                    .map(|k| crate::ssh::HostKey::parse(k).map_err(|_| ServiceError::Invalid(format!("host_key: {}", lang.t("err_host_key")))))
                    .transpose()?,
            },
            reason: reason(form),
        },
        "request_revocation" => Command::RequestRevocation {
            revocation: Revocation {
                reasons: reasons(lang, form)?,
                effective: form
                    .opt("effective")
                    .map(|d| parse_date(d).map_err(|_| ServiceError::Invalid(lang.t("err_date").into())))
                    .transpose()?,
                approved_by: None,
            },
        },
        "approve_revocation" => Command::ApproveRevocation {
            approved_by: None,
            reason: reason(form),
        },
        "withdraw" => Command::Withdraw {
            reason: form
                .opt("reason")
                .ok_or_else(|| ServiceError::Invalid(lang.t("err_reason").into()))?
                .to_string(),
        },
        other => return Err(ServiceError::Invalid(format!("unknown step {other:?}"))),
    })
}

pub async fn apply(State(console): State<Console>, me: Signed, Path(id): Path<String>, body: Bytes) -> Result<Response, ConsoleError> {
    let form = FormData::parse(&body)?;
    csrf::check(&me.session.csrf_token, &form)?;
    let id = parse_id(&id)?;
    let page = &me.page;
    let result = match command(page.lang, &form) {
        Ok(cmd) => console.service().apply(page.me(), &id, cmd).await.map(|_| ()),
        Err(e) => Err(e),
    };
    match result {
        Ok(()) => Ok(Redirect::to(&format!("/requests/{id}?done=step")).into_response()),
        Err(e) => {
            let status = match &e {
                ServiceError::Forbidden(_) | ServiceError::Transition(crate::lifecycle::TransitionError::Forbidden { .. }) => StatusCode::FORBIDDEN,
                ServiceError::Conflict(_) | ServiceError::Transition(_) => StatusCode::CONFLICT,
                _ => StatusCode::BAD_REQUEST,
            };
            match user_message(page.lang, &e) {
                Some(m) => request::render(&console, &page.clone().with_flash("error", m), &id, status).await,
                None => Err(e.into()),
            }
        }
    }
}

/// `POST /requests/{id}/host-admin-key`: attaches (or replaces) the host admin's private SSH key
/// (operator or admin); the page then shows its fingerprint. The key is sealed in the secret
/// store and never shown again.
pub async fn attach_key(State(console): State<Console>, me: Signed, Path(id): Path<String>, body: Bytes) -> Result<Response, ConsoleError> {
    let form = FormData::parse(&body)?;
    csrf::check(&me.session.csrf_token, &form)?;
    let id = parse_id(&id)?;
    let page = &me.page;
    let pem = Secret::new(form.get("private_key").replace("\r\n", "\n"));
    match console.service().attach_host_admin_key(page.me(), &id, &pem).await {
        Ok(_) => Ok(Redirect::to(&format!("/requests/{id}?done=key")).into_response()),
        Err(e) => {
            let status = if matches!(e, ServiceError::Forbidden(_)) { StatusCode::FORBIDDEN } else { StatusCode::BAD_REQUEST };
            match user_message(page.lang, &e) {
                Some(m) => request::render(&console, &page.clone().with_flash("error", m), &id, status).await,
                None => Err(e.into()),
            }
        }
    }
}
