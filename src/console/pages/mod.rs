//! The console's pages, one file each (or one per group of forms), and what they share: the
//! page context every template gets, labels in the chosen language, times in WITA.

pub mod assets;
pub mod audit;
pub mod dashboard;
pub mod documents;
pub mod new_request;
pub mod ownership;
pub mod racks;
pub mod request;
pub mod requests;
pub mod runs;
pub mod steps;

use minijinja::value::Serde;
use minijinja::{Value, context};
use serde::Serialize;
use time::OffsetDateTime;

use super::Lang;
use crate::domain::RequestId;
use crate::engine::{RunStatus, RunView, StepStatus};
use crate::lifecycle::{Actor, Role, State, sla};
use crate::service::{ConsoleSession, ServiceError};

/// A message shown at the top of a page.
#[derive(Debug, Clone, Serialize)]
pub struct Flash {
    /// `ok`, `error` or `info`.
    pub kind: &'static str,
    pub text: String,
}

/// What every template gets: the language table, the signed-in person, the CSRF token.
#[derive(Debug, Clone)]
pub struct PageCtx {
    pub lang: Lang,
    pub path: String,
    pub actor: Option<Actor>,
    pub csrf: String,
    pub flash: Option<Flash>,
}

impl PageCtx {
    pub fn new(lang: Lang, path: String, session: Option<&ConsoleSession>) -> Self {
        Self {
            lang,
            path,
            actor: session.map(|s| s.actor.clone()),
            csrf: session.map(|s| s.csrf_token.clone()).unwrap_or_default(),
            flash: None,
        }
    }

    pub fn with_flash(mut self, kind: &'static str, text: impl Into<String>) -> Self {
        self.flash = Some(Flash { kind, text: text.into() });
        self
    }

    pub fn value(&self) -> Value {
        let me = self.actor.as_ref().map(|a| {
            context! {
                name => a.name.clone(),
                role => a.role.as_str(),
                role_title => a.role.sop_title(),
                unit => a.unit.clone(),
                staff => !matches!(a.role, Role::Requester),
                may_submit => matches!(a.role, Role::Requester | Role::Admin),
            }
        });
        context! {
            t => Value::from(Serde(self.lang.table())),
            lang => self.lang.as_str(),
            path => self.path.clone(),
            me => me,
            csrf => self.csrf.clone(),
            flash => self.flash.clone().map(Serde),
        }
    }

    pub fn t(&self, key: &str) -> &'static str {
        self.lang.t(key)
    }

    /// The signed-in actor (pages that use this are behind sign-in).
    pub fn me(&self) -> &Actor {
        self.actor.as_ref().expect("signed-in page")
    }
}

/// A service error a person can act on, as a message in their language; `None` for errors
/// that are not theirs to fix (those become the generic error page).
pub fn user_message(lang: Lang, e: &ServiceError) -> Option<String> {
    Some(match e {
        ServiceError::Forbidden(_) => lang.t("err_forbidden").to_string(),
        ServiceError::Transition(crate::lifecycle::TransitionError::Forbidden { .. }) => lang.t("err_forbidden").to_string(),
        ServiceError::Transition(e) => format!("{}: {e}", lang.t("err_conflict")),
        ServiceError::Conflict(m) => format!("{}: {m}", lang.t("err_conflict")),
        ServiceError::Invalid(m) => format!("{}: {m}", lang.t("err_invalid")),
        ServiceError::Form(e) => format!("{}: {e}", lang.t("err_invalid")),
        _ => return None,
    })
}

pub fn parse_id(raw: &str) -> Result<RequestId, super::ConsoleError> {
    RequestId::parse(raw).map_err(|_| super::ConsoleError::NotFound)
}

/// A time as people in Kalimantan Timur read it: WITA, `2026-12-01 14:05 WITA`.
pub fn wita(t: OffsetDateTime) -> String {
    let t = t.to_offset(sla::WITA);
    format!(
        "{:04}-{:02}-{:02} {:02}:{:02} WITA",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute()
    )
}

pub fn state_label(lang: Lang, s: State) -> &'static str {
    lang.t(&format!("state_{}", s.as_str()))
}

pub fn run_status_label(lang: Lang, s: RunStatus) -> &'static str {
    lang.t(&format!("run_{}", s.as_str()))
}

pub fn step_status_name(s: &StepStatus) -> &'static str {
    match s {
        StepStatus::Pending => "pending",
        StepStatus::Running => "running",
        StepStatus::Waiting { .. } => "waiting",
        StepStatus::Succeeded => "succeeded",
        StepStatus::Failed { .. } => "failed",
        StepStatus::Skipped { .. } => "skipped",
        StepStatus::Undoing => "undoing",
        StepStatus::Undone => "undone",
        StepStatus::UndoFailed { .. } => "undo_failed",
    }
}

/// One run as the page and the live updates show it.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct RunRowView {
    pub id: String,
    pub playbook: String,
    pub status: &'static str,
    pub status_label: &'static str,
    pub steps: Vec<StepRowView>,
    /// The controls the run allows now (`retry`, `skip`, `unwind`, `retry_undo`, `resolve`).
    pub controls: Vec<&'static str>,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct StepRowView {
    pub n: usize,
    pub name: String,
    pub status: &'static str,
    pub status_label: &'static str,
    pub attempt: i64,
    pub detail: String,
}

pub fn run_row(lang: Lang, id: &str, playbook: &str, view: &RunView, allowed: &[crate::engine::RunAction]) -> RunRowView {
    RunRowView {
        controls: allowed.iter().filter(|a| **a != crate::engine::RunAction::Resume).map(|a| a.as_str()).collect(),
        id: id.to_string(),
        playbook: playbook.to_string(),
        status: view.status.as_str(),
        status_label: run_status_label(lang, view.status),
        steps: view
            .steps
            .iter()
            .map(|s| {
                let status = step_status_name(&s.status);
                let detail = match &s.status {
                    StepStatus::Waiting { reason } | StepStatus::Skipped { reason } => reason.clone(),
                    // The cause in the page's language first, then the whole chain of errors.
                    StepStatus::Failed { error } | StepStatus::UndoFailed { error } => match s.cause {
                        Some(c) => format!("{}: {} — {error}", lang.t("cause"), if lang == Lang::Id { c.label_id() } else { c.as_str() }),
                        None => error.clone(),
                    },
                    // A step that found nothing to do here (an IPv6 step on an IPv4-only site).
                    _ => s.output.as_ref().and_then(|o| o.get("not_applicable")).and_then(serde_json::Value::as_str).unwrap_or_default().to_string(),
                };
                StepRowView {
                    n: s.index + 1,
                    name: s.name.clone(),
                    status,
                    status_label: lang.t(&format!("st_{status}")),
                    attempt: s.attempt,
                    detail: detail.chars().take(300).collect(),
                }
            })
            .collect(),
    }
}

/// The runs of a request the caller may already see (the caller checked scope), from the run
/// log through the store's read functions.
pub async fn runs_of(service: &crate::service::Service, lang: Lang, id: &RequestId) -> Result<Vec<RunRowView>, super::ConsoleError> {
    // The caller has checked the page's scope; the runs are read as the system would.
    let (_, reports) = crate::engine::report::request_runs(service, &crate::lifecycle::Actor::system(), id).await.map_err(|e| match e {
        crate::engine::EngineError::Service(e) => super::ConsoleError::from(e),
        other => super::ConsoleError::internal(other),
    })?;
    Ok(reports.iter().map(|r| run_row(lang, &r.run, &r.playbook, &r.view, &r.allowed_actions)).collect())
}
