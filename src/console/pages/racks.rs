//! `GET /racks`: every rack of every NOC as an elevation, with what requests hold and the
//! power left (staff only).

use axum::extract::State;
use axum::response::Response;
use minijinja::{Value, context};

use crate::capacity::{Placement, Usage};
use crate::console::session::Signed;
use crate::console::svg::{RackLabels, rack_elevation};
use crate::console::{Console, ConsoleError, Lang};
use crate::firewall::doctor::Level;

/// Figures (SVG + caption) for the racks of `noc` (all NOCs if `None`), or only the racks
/// named in `only` (NOC, rack), with `planned` placements drawn over them.
pub fn rack_figures(console: &Console, lang: Lang, usage: &Usage, noc: Option<&str>, planned: &[Placement], only: Option<&[(String, String)]>) -> Vec<Value> {
    let labels = RackLabels {
        free: lang.t("u_free"),
        reserved: lang.t("u_reserved"),
        planned: lang.t("u_planned"),
    };
    let mut out = Vec::new();
    for site in console.service().inventory.sites.iter().filter(|s| noc.is_none_or(|n| n == s.noc)) {
        for rack in &site.racks {
            let plan: Vec<&Placement> = planned.iter().filter(|p| p.noc == site.noc && p.rack == rack.name).collect();
            if only.is_some_and(|o| !o.iter().any(|(n, r)| *n == site.noc && *r == rack.name)) {
                continue;
            }
            let held: Vec<_> = usage.units.iter().filter(|u| u.noc == site.noc && u.rack == rack.name).collect();
            let used_u: u32 = rack.occupied.iter().map(|o| u32::from(o.to_u - o.from_u) + 1).sum::<u32>()
                + held.iter().map(|u| u32::from(u.to_u - u.from_u) + 1).sum::<u32>();
            let caption = format!("{} {} — {}/{} U", site.noc, rack.name, used_u, rack.height_u);
            out.push(context! { svg => Value::from_safe_string(rack_elevation(rack, &held, &plan, &labels)), caption => caption });
        }
    }
    out
}

pub async fn show(State(console): State<Console>, me: Signed) -> Result<Response, ConsoleError> {
    let page = &me.page;
    let usage = console.service().datacenter_usage(page.me()).await?;
    let sites: Vec<Value> = console
        .service()
        .inventory
        .sites
        .iter()
        .map(|site| {
            let summary = format!(
                "UPS {} W · genset {} W · uplink {} Mbps ({} Mbps {})",
                site.ups.capacity_watts(),
                site.genset.capacity_watts(),
                site.uplink_mbps,
                usage.bandwidth_mbps.get(&site.noc).copied().unwrap_or(0) + site.uplink_committed_mbps,
                page.t("u_reserved"),
            );
            context! { noc => site.noc.clone(), name => site.name.clone(), summary => summary, racks => rack_figures(&console, page.lang, &usage, Some(&site.noc), &[], None) }
        })
        .collect();
    console.render("racks.html.j2", page, context! { sites => sites })
}

/// `GET /datacenter/check`: every firewall's ruleset read now and whether its integration mode
/// can work there, in the page's language (staff and the auditor).
pub async fn check(State(console): State<Console>, me: Signed) -> Result<Response, ConsoleError> {
    let page = &me.page;
    let report = console.controls().datacenter_check(page.me()).await?;
    let firewalls: Vec<Value> = report
        .firewalls
        .iter()
        .map(|d| {
            let findings: Vec<Value> = d
                .findings
                .iter()
                .map(|f| {
                    let (level, key) = match f.level {
                        Level::Ok => ("ok", "dc_level_ok"),
                        Level::Warning => ("warning", "dc_level_warning"),
                        Level::Problem => ("problem", "dc_level_problem"),
                    };
                    let text = if matches!(page.lang, Lang::Id) { &f.pesan } else { &f.message };
                    context! { level => level, level_label => page.t(key), text => text }
                })
                .collect();
            let chains: Vec<Value> = d.base_chains.iter().map(|c| context! { label => c.label(), hook => &c.hook, priority => c.priority, policy => &c.policy }).collect();
            context! { device => &d.device, mode => d.mode, works => d.works, findings => findings, base_chains => chains }
        })
        .collect();
    console.render("datacenter_check.html.j2", page, context! { works => report.works, firewalls => firewalls })
}
