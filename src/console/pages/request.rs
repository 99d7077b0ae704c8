//! `GET /requests/{id}`: one request — the nine SOP steps as a timeline, the SLA bar, the
//! details, the capacity picture, the forms for the next steps the signed-in role may take, the
//! runs with live progress, the documents and a link to the audit trail.

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use minijinja::value::Serde;
use minijinja::{Value, context};
use serde::Deserialize;

use super::{PageCtx, parse_id, racks::rack_figures, runs_of, state_label, wita};
use crate::console::session::Signed;
use crate::console::svg::sla_bar;
use crate::console::{Console, ConsoleError, Lang};
use crate::domain::{ApprovalDecision, RequestId, RequestKind, Validity};
use crate::lifecycle::{EventKind, Role, State as LifecycleState, next_state};
use crate::service::RequestView;

#[derive(Debug, Deserialize)]
pub struct DoneQuery {
    #[serde(default)]
    done: Option<String>,
}

pub async fn show(State(console): State<Console>, me: Signed, Path(id): Path<String>, Query(q): Query<DoneQuery>) -> Result<Response, ConsoleError> {
    let id = parse_id(&id)?;
    let mut page = me.page;
    page = match q.done.as_deref() {
        Some("submitted") => {
            let text = page.lang.tf("submitted", id.as_str());
            page.with_flash("ok", text)
        }
        Some("step") => {
            let text = page.t("done_step");
            page.with_flash("ok", text)
        }
        Some("control") => {
            let text = page.t("done_control");
            page.with_flash("ok", text)
        }
        Some("key") => {
            let text = page.t("done_key");
            page.with_flash("ok", text)
        }
        Some("allow_name") => {
            let text = page.t("done_allow_name");
            page.with_flash("ok", text)
        }
        Some("adopt_record") => {
            let text = page.t("done_adopt_record");
            page.with_flash("ok", text)
        }
        _ => page,
    };
    render(&console, &page, &id, StatusCode::OK).await
}

/// The SOP step an event completes.
fn step_of(event: &str) -> Option<u8> {
    Some(match event {
        "verify" => 2,
        "capacity_ok" | "capacity_short" => 3,
        "complete_form" => 4,
        "approve" | "reject" => 5,
        "start_provisioning" => 6,
        "hardware_received" => 7,
        "hand_over" => 8,
        "report_live" => 9,
        _ => return None,
    })
}

fn timeline(lang: Lang, view: &RequestView) -> Vec<Value> {
    let mut done_at: [Option<String>; 10] = Default::default();
    done_at[1] = Some(format!("{} — {}", wita(view.submitted_at), view.form.unit.name.as_str()));
    for e in &view.history {
        if let Some(step) = step_of(&e.event) {
            done_at[usize::from(step)] = Some(format!("{} — {} ({})", wita(e.at), e.actor, e.role));
        }
    }
    // Hosting has no hardware to bring: step 7 is done with step 6.
    if view.kind == RequestKind::Hosting && done_at[6].is_some() {
        done_at[7] = done_at[6].clone();
    }
    let stopped = view.state.is_final();
    let current = (1..=9u8).find(|s| done_at[usize::from(*s)].is_none());
    (1..=9u8)
        .map(|step| {
            let done = done_at[usize::from(step)].clone();
            let status = if done.is_some() {
                "done"
            } else if Some(step) == current {
                if stopped { "stopped" } else { "current" }
            } else {
                "todo"
            };
            let detail = match (&done, status) {
                (Some(d), _) => d.clone(),
                (None, "stopped") => format!("{} — {}", lang.t("step_stopped"), state_label(lang, view.state)),
                _ => String::new(),
            };
            context! { step => step, title => lang.t(&format!("sop_{step}")), status => status, detail => detail }
        })
        .collect()
}

/// The forms the actor's role may submit in the request's present state.
fn actions(view: &RequestView, role: Role) -> Vec<&'static str> {
    let mut out = Vec::new();
    for event in EventKind::ALL {
        // Run outcomes follow the run; nobody submits them by hand.
        if event.is_run_outcome() || next_state(view.state, event, view.kind, role).is_err() {
            continue;
        }
        let name = match event {
            EventKind::CapacityOk => "check_capacity",
            EventKind::CapacityShort => continue,
            other => other.as_str(),
        };
        out.push(name);
    }
    out
}

/// The documents that exist for a request in this state (SOP forms and the handover record).
fn documents(lang: Lang, view: &RequestView) -> Vec<Value> {
    let mut kinds = vec![("pengajuan", "doc_pengajuan")];
    if view.approval.is_some() {
        kinds.push(("persetujuan", "doc_persetujuan"));
    }
    if matches!(
        view.state,
        LifecycleState::HandedOver
            | LifecycleState::Active
            | LifecycleState::RevocationRequested
            | LifecycleState::Decommissioning
            | LifecycleState::Decommissioned
    ) {
        kinds.push(("berita-acara", "doc_berita_acara"));
    }
    if view.revocation.is_some() {
        kinds.push(("pencabutan", "doc_pencabutan"));
    }
    kinds
        .into_iter()
        .map(|(kind, label)| context! { kind => kind, label => lang.t(label), href => format!("/requests/{}/documents/{kind}", view.id) })
        .collect()
}

/// The capacity verdict in the page's language: where it fits, or what is short and by how much.
fn capacity_summary(lang: Lang, v: &crate::capacity::Verdict) -> String {
    if v.ok {
        let places: Vec<_> = v.placements.iter().map(|p| format!("{} → {}", p.server, p.location())).collect();
        let noc = v.noc.as_deref().unwrap_or("-");
        return match lang {
            Lang::Id => format!("Kapasitas tersedia di {noc}: {}", places.join(", ")),
            Lang::En => format!("Capacity available at {noc}: {}", places.join(", ")),
        };
    }
    let short: Vec<_> = v
        .shortages
        .iter()
        .map(|s| format!("{} ({} / {})", s.resource.label_id(), s.needed, s.available))
        .collect();
    match lang {
        Lang::Id => format!("Kapasitas tidak mencukupi: {}", short.join("; ")),
        Lang::En => format!("Not enough capacity: {}", v.summary()),
    }
}

fn sla_text(lang: Lang, view: &RequestView) -> String {
    let s = &view.sla;
    let days = 4.0 * s.used_seconds as f64 / s.budget_seconds.max(1) as f64;
    let mut parts = vec![lang.tf("sla_used", &format!("{days:.1}"))];
    if s.overdue {
        parts.push(lang.t("sla_overdue").into());
    } else if s.paused {
        parts.push(lang.t("sla_paused").into());
    }
    if let Some(due) = s.due_at.filter(|_| !s.stopped) {
        parts.push(lang.tf("sla_due_at", &wita(due)));
    }
    parts.join(" · ")
}

/// The latest drift check as a badge ("Sesuai" / "Menyimpang") and the drifted items.
async fn drift_badge(console: &Console, actor: &crate::lifecycle::Actor, lang: Lang, id: &RequestId) -> Result<Option<Value>, ConsoleError> {
    let Some(row) = console.service().drift_result(actor, id).await? else { return Ok(None) };
    let Some(status) = crate::drift::DriftStatus::parse(&row.status) else { return Ok(None) };
    let report: Option<crate::drift::DriftReport> = serde_json::from_value(row.report).ok();
    let show = |v: &serde_json::Value| v.as_str().map_or_else(|| v.to_string(), str::to_string);
    let items: Vec<Value> = report
        .iter()
        .flat_map(|r| &r.drifted)
        .map(|d| context! { item => d.item.clone(), device => d.device.clone(), expected => show(&d.expected), found => show(&d.found) })
        .collect();
    let label = match lang {
        Lang::Id => status.label_id(),
        Lang::En => status.label_en(),
    };
    Ok(Some(context! { status => status.as_str(), label => label, checked => wita(row.checked_at), items => items }))
}

/// The request's own facts as the page shows them: form, decision, hardware, servers.
fn request_summary(lang: Lang, view: &RequestView) -> Value {
    let approval = view.approval.as_ref();
    let location = approval
        .and_then(|a| a.pointer("/data_center/server_location"))
        .and_then(|v| v.as_str())
        .map(str::to_string);
    let decision = approval
        .and_then(|a| a.get("decision"))
        .and_then(|d| serde_json::from_value::<ApprovalDecision>(d.clone()).ok())
        .map(|d| match d {
            ApprovalDecision::Approve => lang.t("ev_approve"),
            ApprovalDecision::Reject => lang.t("ev_reject"),
        });
    let hardware = view.hardware.as_ref().map(|h| {
        let port = h.switch_port.as_ref().map(|p| format!(", port {}", p.as_str())).unwrap_or_default();
        // The pinned host key and the attached login key as fingerprints, for the operator to
        // compare with `ssh-keygen -lf` on the server's console; never the keys themselves.
        let host_key = view.host_key_fingerprint.as_ref().map(|fp| format!("; host key {fp}")).unwrap_or_default();
        let login_key = view.host_admin_key.as_ref().map(|k| format!("; SSH key admin {} {}", k.algorithm, k.fingerprint)).unwrap_or_default();
        format!("S/N {} — {}{port}{host_key}{login_key}", h.serial_number.as_str(), h.type_brand.as_str())
    });
    let servers: Vec<Value> = view
        .form
        .servers
        .iter()
        .map(|s| {
            let summary = format!(
                "{}, {} core, {} GB RAM, {} GB storage, {} W, {} U, {} {}, {} Mbps",
                s.processor.as_str(),
                s.cpu_cores,
                s.ram_gb,
                s.storage_gb,
                s.psu_watts,
                s.rack_units,
                s.os.name.as_str(),
                s.os.version.as_str(),
                s.bandwidth_mbps
            );
            context! { name => s.name.to_string(), summary => summary }
        })
        .collect();
    context! {
        id => view.id.clone(),
        state => view.state.as_str(),
        state_label => state_label(lang, view.state),
        kind_label => lang.t(match view.kind { RequestKind::Colocation => "kind_colocation", RequestKind::Hosting => "kind_hosting" }),
        domain => view.form.domain.as_str(),
        unit => view.form.unit.name.as_str(),
        official => format!("{} (NIP {})", view.form.official.name.as_str(), view.form.official.nip.as_str()),
        contact => view.form.contact.to_string(),
        domain_active_from => view.form.domain_active_from.to_string(),
        validity => match view.form.validity { Validity::Permanent => lang.t("validity_permanent").to_string(), Validity::Until(d) => format!("{} {d}", lang.t("validity_until_date")) },
        submitted => wita(view.submitted_at),
        location => location,
        hardware => hardware,
        decision => decision,
        servers => servers,
    }
}

/// The capacity picture for staff on an open co-location: where the request would go (before
/// approval) or where it is.
async fn capacity_section(console: &Console, lang: Lang, actor: &crate::lifecycle::Actor, id: &RequestId, view: &RequestView) -> Result<Option<Value>, ConsoleError> {
    let service = console.service();
    Ok(if actor.role != Role::Requester && view.form.kind == RequestKind::Colocation && !view.state.is_final() {
        let usage = service.datacenter_usage(actor).await?;
        let before_approval = matches!(
            view.state,
            LifecycleState::Submitted | LifecycleState::Verified | LifecycleState::CapacityConfirmed | LifecycleState::FormCompleted
        );
        let verdict = if before_approval {
            Some(service.capacity_preview(actor, id).await?)
        } else {
            view.capacity.clone()
        };
        verdict.map(|v| {
            // Before approval the placement is a plan (drawn over the free units); after, it is
            // among the reservations already drawn, and only its racks are shown.
            let planned = if before_approval { v.placements.clone() } else { Vec::new() };
            let racks: Vec<(String, String)> = v.placements.iter().map(|p| (p.noc.clone(), p.rack.clone())).collect();
            let figures = rack_figures(console, lang, &usage, v.noc.as_deref(), &planned, Some(&racks));
            context! { ok => v.ok, summary => capacity_summary(lang, &v), racks => figures }
        })
    } else {
        None
    })
}

/// Renders the page (also after a failed action, with the page's flash saying why).
pub async fn render(console: &Console, page: &PageCtx, id: &RequestId, status: StatusCode) -> Result<Response, ConsoleError> {
    let actor = page.me();
    let service = console.service();
    let view = service.request(actor, id).await?;
    let lang = page.lang;
    let staff = actor.role != Role::Requester;

    let r = request_summary(lang, &view);
    let capacity = capacity_section(console, lang, actor, id, &view).await?;

    let drift = if staff { drift_badge(console, actor, lang, id).await? } else { None };
    let runs = runs_of(service, lang, id).await?;
    let run_controls = !runs.is_empty() && matches!(actor.role, Role::Operator | Role::Inspector | Role::Admin);
    // The host admin's SSH key (instead of the Form Persetujuan's password) may be attached by
    // an operator or admin until the request is live; only its fingerprint is ever shown.
    let key_open = matches!(view.kind, RequestKind::Colocation)
        && matches!(view.state, LifecycleState::Approved | LifecycleState::AwaitingHardware | LifecycleState::Provisioning);
    let host_key_form = (key_open && matches!(actor.role, Role::Operator | Role::Admin)).then(|| {
        context! { attached => view.host_admin_key.as_ref().map(|k| format!("{} {}", k.algorithm, k.fingerprint)) }
    });
    let ctx = context! {
        r => r,
        timeline => timeline(lang, &view),
        sla_svg => Value::from_safe_string(sla_bar(view.sla.used_seconds, view.sla.budget_seconds, view.sla.paused, view.sla.overdue)),
        sla_text => sla_text(lang, &view),
        capacity => capacity,
        actions => actions(&view, actor.role),
        runs => Serde(runs),
        run_controls => run_controls,
        host_key_form => host_key_form,
        ownership => ownership_section(console, lang, actor, &view.form, view.state.is_final()),
        documents => documents(lang, &view),
        drift => drift,
    };
    let mut resp = console.render("request.html.j2", page, ctx)?;
    *resp.status_mut() = status;
    Ok(resp)
}

/// The ownership section's context (its forms post to `ownership.rs`) for an admin on an open request: each name the request claims with
/// where it stands against the configured zones, and the record types that may be adopted.
fn ownership_section(console: &Console, lang: Lang, actor: &crate::lifecycle::Actor, form: &crate::domain::RequestForm, is_final: bool) -> Option<Value> {
    use crate::service::ownership::{ADOPTABLE, NamePlace};
    if actor.role != Role::Admin || is_final {
        return None;
    }
    let service = console.service();
    let names: Vec<Value> = service
        .claimed_names(form)
        .into_iter()
        .map(|(name, _)| {
            let place = match service.name_place(&name) {
                NamePlace::Inside => lang.t("own_place_inside"),
                NamePlace::Apex => lang.t("own_place_apex"),
                NamePlace::Outside => lang.t("own_place_outside"),
            };
            context! { name => name.as_str(), place => place, needs_leave => service.name_place(&name) != NamePlace::Inside }
        })
        .collect();
    Some(context! { names => names, kinds => ADOPTABLE.to_vec() })
}
