//! `GET /requests/{id}/audit`: the request's audit trail, oldest first, with who, in which role,
//! what and why.

use axum::extract::{Path, State};
use axum::response::Response;
use minijinja::context;

use super::{parse_id, wita};
use crate::console::session::Signed;
use crate::console::{Console, ConsoleError};

pub async fn show(State(console): State<Console>, me: Signed, Path(id): Path<String>) -> Result<Response, ConsoleError> {
    let id = parse_id(&id)?;
    let page = &me.page;
    // Scoped (a requester of another unit gets "not found"), and the read is audited.
    let rows = console.service().request_audit(page.me(), &id).await?;
    let chain = rows
        .last()
        .map(|r| format!("#{} {}…", r.seq, &r.hash[..r.hash.len().min(16)]))
        .unwrap_or_default();
    let rows: Vec<_> = rows
        .iter()
        .map(|a| {
            let state = |v: &Option<serde_json::Value>| v.as_ref().and_then(|v| v.get("state")).and_then(|s| s.as_str()).map(str::to_string);
            let change = match (state(&a.before), state(&a.after)) {
                (Some(b), Some(n)) if b != n => format!("{b} → {n}"),
                _ => String::new(),
            };
            context! { seq => a.seq, at => wita(a.at), actor => a.actor.clone(), role => a.role.clone(), action => a.action.clone(), reason => a.reason.clone(), change => change }
        })
        .collect();
    console.render("audit.html.j2", page, context! { id => id.as_str(), rows => rows, chain => chain })
}
