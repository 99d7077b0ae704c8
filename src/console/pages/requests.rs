//! `GET /requests`: the requests the signed-in person may see, filtered by state or lateness.

use axum::extract::{Query, State};
use axum::response::Response;
use minijinja::{Value, context};
use serde::Deserialize;
use time::OffsetDateTime;

use super::{state_label, wita};
use crate::console::session::Signed;
use crate::console::{Console, ConsoleError, Lang};
use crate::lifecycle::State as LifecycleState;
use crate::store::{ListFilter, RequestSummary};

#[derive(Debug, Deserialize)]
pub struct ListQuery {
    #[serde(default)]
    state: Option<String>,
    #[serde(default)]
    overdue: Option<String>,
}

/// Table rows for the request lists.
pub fn summary_rows<'a>(lang: Lang, items: impl Iterator<Item = &'a RequestSummary>, now: OffsetDateTime) -> Vec<Value> {
    items
        .map(|r| {
            context! {
                id => r.id.clone(), unit => r.unit.clone(), domain => r.domain.clone(), state => r.state.as_str(),
                state_label => state_label(lang, r.state),
                due => r.sla_due_at.map(wita).unwrap_or_default(),
                overdue => r.sla_due_at.is_some_and(|d| d < now) && r.state.sla_clock_runs(),
            }
        })
        .collect()
}

pub async fn list(State(console): State<Console>, me: Signed, Query(q): Query<ListQuery>) -> Result<Response, ConsoleError> {
    let page = &me.page;
    let state = q.state.as_deref().filter(|s| !s.is_empty()).and_then(|s| s.parse::<LifecycleState>().ok());
    let overdue = q.overdue.is_some_and(|v| v == "1");
    let now = OffsetDateTime::now_utc();
    let filter = ListFilter {
        state,
        due_before: overdue.then_some(now),
        limit: 500,
        ..ListFilter::default()
    };
    let items = console.service().list(page.me(), &filter).await?;
    let states: Vec<Value> = LifecycleState::ALL
        .iter()
        .map(|s| context! { value => s.as_str(), label => state_label(page.lang, *s) })
        .collect();
    console.render(
        "requests.html.j2",
        page,
        context! {
            requests => summary_rows(page.lang, items.iter(), now),
            states => states,
            filter_state => state.map(|s| s.as_str()).unwrap_or(""),
            filter_overdue => overdue,
        },
    )
}
