//! The runs of a request: live progress over server-sent events (`GET /requests/{id}/live`)
//! and the operator controls (`POST /requests/{id}/run`: retry, skip or unwind, each with a
//! required reason), which go through [`crate::engine::control`] and its audit.

use std::convert::Infallible;
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Redirect, Response};
use serde_json::json;

use super::{parse_id, request, runs_of};
use crate::console::form::FormData;
use crate::console::session::Signed;
use crate::console::{Console, ConsoleError, Lang, csrf};
use crate::domain::RequestId;
use crate::service::ServiceError;

/// How often the run log is read for changes.
const POLL: Duration = Duration::from_millis(500);
/// A stream ends after this long; the browser reconnects (and its session is checked again).
const STREAM_LIFETIME: Duration = Duration::from_secs(600);

/// What the page shows of the runs right now, as the JSON the script applies.
async fn snapshot(console: &Console, actor: &crate::lifecycle::Actor, lang: Lang, id: &RequestId) -> Result<String, ConsoleError> {
    let state = console.service().request_state(actor, id).await?;
    let runs = runs_of(console.service(), lang, id).await?;
    Ok(json!({ "state": state.as_str(), "live_label": lang.t("live_on"), "runs": runs }).to_string())
}

pub async fn live(State(console): State<Console>, me: Signed, Path(id): Path<String>) -> Result<Response, ConsoleError> {
    let id = parse_id(&id)?;
    // Scope (and audit) once: a requester of another unit gets "not found" here.
    console.service().request(me.page.me(), &id).await?;
    let lang = me.page.lang;
    let actor = me.page.me().clone();
    let started = tokio::time::Instant::now();
    let stream = futures_util::stream::unfold((console, id, String::new(), true), move |(console, id, last, first)| {
        let actor = actor.clone();
        async move {
        let mut first = first;
        loop {
            if !first {
                tokio::time::sleep(POLL).await;
            }
            first = false;
            if started.elapsed() > STREAM_LIFETIME {
                return None;
            }
            match snapshot(&console, &actor, lang, &id).await {
                Ok(now) if now != last => {
                    let event = Event::default().event("runs").data(now.clone());
                    return Some((Ok::<_, Infallible>(event), (console, id, now, false)));
                }
                Ok(_) => {}
                Err(e) => {
                    tracing::warn!(request = %id, error = %e, "console: live updates stopped");
                    return None;
                }
            }
        }
        }
    });
    Ok(Sse::new(stream).keep_alive(KeepAlive::default()).into_response())
}

pub async fn control(State(console): State<Console>, me: Signed, Path(id): Path<String>, body: Bytes) -> Result<Response, ConsoleError> {
    let form = FormData::parse(&body)?;
    csrf::check(&me.session.csrf_token, &form)?;
    let id = parse_id(&id)?;
    let page = &me.page;
    let actor = page.me();
    let run_id = form.get("run");
    // Scoped, and a run of another request is "not found".
    console.service().request_run(actor, &id, run_id).await?;
    let reason = form.get("reason");
    let step = form.opt("step");
    let engine = console.controls();
    let result = if reason.is_empty() {
        Err(crate::engine::EngineError::Invalid(page.t("err_reason").into()))
    } else {
        match form.get("control") {
            "retry" => engine.retry(actor, run_id, step, reason).await.map(|_| ()),
            "skip" => engine.skip(actor, run_id, step, reason).await.map(|_| ()),
            "unwind" => engine.unwind(actor, run_id, reason).await,
            "retry_undo" => engine.retry_undo(actor, run_id, reason).await.map(|_| ()),
            "resolve" => engine.resolve(actor, run_id, reason).await.map(|_| ()),
            _ => Err(crate::engine::EngineError::Invalid("unknown control".into())),
        }
    };
    match result {
        Ok(()) => Ok(Redirect::to(&format!("/requests/{id}?done=control#runs")).into_response()),
        Err(crate::engine::EngineError::Service(ServiceError::Forbidden(_))) => Err(ConsoleError::Forbidden),
        Err(crate::engine::EngineError::Invalid(m)) => {
            let flash = format!("{}: {m}", page.t("err_invalid"));
            request::render(&console, &page.clone().with_flash("error", flash), &id, StatusCode::BAD_REQUEST).await
        }
        Err(e) => Err(e.into()),
    }
}
