//! `GET /`: requests by SOP step, what is overdue, and runs that failed or are stuck.

use axum::extract::State;
use axum::response::Response;
use minijinja::context;
use minijinja::value::Serde;
use serde::Serialize;
use time::OffsetDateTime;

use super::{PageCtx, requests::summary_rows, run_status_label, state_label, wita};
use crate::console::session::Signed;
use crate::console::{Console, ConsoleError};
use crate::engine::RunStatus;
use crate::lifecycle::Role;
use crate::store::ListFilter;

#[derive(Serialize)]
struct StepCount {
    step: u8,
    label: &'static str,
    count: usize,
}

#[derive(Serialize)]
struct ProblemRun {
    id: String,
    request_id: String,
    status: String,
    status_label: &'static str,
}

pub async fn show(State(console): State<Console>, me: Signed) -> Result<Response, ConsoleError> {
    let page: &PageCtx = &me.page;
    let actor = page.me();
    let service = console.service();
    let all = service
        .list(
            actor,
            &ListFilter {
                limit: 1000,
                ..ListFilter::default()
            },
        )
        .await?;
    let now = OffsetDateTime::now_utc();
    let mut by_step: Vec<StepCount> = (1..=9)
        .map(|step| StepCount {
            step,
            label: page.t(&format!("sop_{step}")),
            count: 0,
        })
        .collect();
    let mut closed = 0;
    for r in &all {
        if r.state.is_final() || matches!(r.state, crate::lifecycle::State::Active) {
            closed += 1;
        } else {
            by_step[usize::from(r.state.sop_step()) - 1].count += 1;
        }
    }
    let overdue: Vec<_> = all
        .iter()
        .filter(|r| r.sla_due_at.is_some_and(|d| d < now) && !r.state.is_final() && r.state.sla_clock_runs())
        .take(20)
        .map(|r| context! { id => r.id.clone(), domain => r.domain.clone(), due => r.sla_due_at.map(wita), state => state_label(page.lang, r.state) })
        .collect();
    let problem_runs: Vec<ProblemRun> = if actor.role == Role::Requester {
        Vec::new()
    } else {
        service
            .problem_runs(actor, 20)
            .await?
            .into_iter()
            .map(|r| {
                let status = if r.status == "stuck" { RunStatus::Stuck } else { RunStatus::Failed };
                ProblemRun {
                    status_label: run_status_label(page.lang, status),
                    id: r.id,
                    request_id: r.request_id,
                    status: r.status,
                }
            })
            .collect()
    };
    let recent = summary_rows(page.lang, all.iter().rev().take(15), now);
    console.render(
        "dashboard.html.j2",
        page,
        context! { by_step => Serde(by_step), closed => closed, overdue => overdue, problem_runs => Serde(problem_runs), requests => recent },
    )
}
