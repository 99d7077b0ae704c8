//! Pictures people would rather look at than read: a rack's elevation (which U are occupied by
//! the data center's own equipment, reserved by requests or planned for one, and how much of the
//! rack's power budget is left) and a bar for the SLA time used. Plain SVG strings, every text
//! escaped; no script, so they are safe to inline.

use std::fmt::Write as _;

use crate::capacity::inventory::Rack;
use crate::capacity::{Placement, ReservedUnits};

const U_PX: u32 = 12;
const WIDTH: u32 = 200;
const LEFT: u32 = 28;

/// Escapes text for SVG/XML content and attributes.
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c if c.is_control() => {}
            c => out.push(c),
        }
    }
    out
}

/// Labels of the legend, in the page's language.
pub struct RackLabels<'a> {
    pub free: &'a str,
    pub reserved: &'a str,
    pub planned: &'a str,
}

/// The elevation of one rack: U1 at the bottom, as racks are numbered.
pub fn rack_elevation(rack: &Rack, reserved: &[&ReservedUnits], planned: &[&Placement], labels: &RackLabels<'_>) -> String {
    let mut s = frame(rack);
    let mut used_w = 0u64;
    for o in &rack.occupied {
        used_w += o.power_w;
        block(&mut s, rack, o.from_u, o.to_u, "#8a94a6", "occupied", &format!("U{}-U{} {}", o.from_u, o.to_u, o.label));
    }
    for r in reserved {
        used_w += r.power_w;
        block(&mut s, rack, r.from_u, r.to_u, "#0b5cad", "reserved", &format!("U{}-U{} {}", r.from_u, r.to_u, labels.reserved));
    }
    let mut planned_w = 0u64;
    for p in planned {
        planned_w += p.power_w;
        block(&mut s, rack, p.from_u, p.to_u, "#f0a500", "planned", &format!("{} {} ({})", p.location(), p.server, labels.planned));
    }
    power_bar(&mut s, rack, used_w, planned_w, labels.free);
    s
}

/// The height of the rack's units in pixels, and the power bar's place below them.
fn power_y(rack: &Rack) -> u32 {
    u32::from(rack.height_u) * U_PX + 14
}

/// The top edge of unit `u` (U1 at the bottom).
fn y_of(rack: &Rack, u: u8) -> u32 {
    (u32::from(rack.height_u) - u32::from(u)) * U_PX + 4
}

/// The opened `<svg>` with the rack's outline and its numbered units.
fn frame(rack: &Rack) -> String {
    let body = u32::from(rack.height_u) * U_PX;
    let total_h = power_y(rack) + 30;
    let mut s = String::new();
    let _ = write!(
        s,
        r##"<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {total_h}" width="{WIDTH}" height="{total_h}" role="img" aria-label="{}" class="rack" data-rack="{}">"##,
        escape(&rack.name),
        escape(&rack.name)
    );
    let _ = write!(
        s,
        r##"<rect x="{LEFT}" y="4" width="{}" height="{body}" fill="#e9edf3" stroke="#5d6677"/>"##,
        WIDTH - LEFT - 4
    );
    for u in 1..=rack.height_u {
        let y = y_of(rack, u);
        let _ = write!(
            s,
            r##"<line x1="{LEFT}" x2="{}" y1="{y}" y2="{y}" stroke="#d0d6df" stroke-width="0.5"/>"##,
            WIDTH - 4
        );
        if u % 5 == 0 || u == 1 {
            let _ = write!(
                s,
                r##"<text x="{}" y="{}" font-size="8" text-anchor="end" fill="#5d6677">U{u}</text>"##,
                LEFT - 3,
                y + U_PX - 3
            );
        }
    }
    s
}

/// One block of units (`from`..=`to`, clipped to the rack) with its label.
fn block(s: &mut String, rack: &Rack, from: u8, to: u8, fill: &str, class: &str, label: &str) {
    let (from, to) = (from.max(1), to.min(rack.height_u));
    if from > to {
        return;
    }
    let y = y_of(rack, to);
    let hh = (u32::from(to) - u32::from(from) + 1) * U_PX;
    let _ = write!(
        s,
        r##"<g class="{class}"><rect x="{}" y="{y}" width="{}" height="{hh}" fill="{fill}" stroke="#fff"><title>{}</title></rect><text x="{}" y="{}" font-size="8" fill="#fff">{}</text></g>"##,
        LEFT + 1,
        WIDTH - LEFT - 6,
        escape(label),
        LEFT + 4,
        y + U_PX - 3,
        escape(&label.chars().take(30).collect::<String>())
    );
}

/// Power: used, planned, and what is left of the rack's budget; closes the `<svg>`.
fn power_bar(s: &mut String, rack: &Rack, used_w: u64, planned_w: u64, free_label: &str) {
    let power_y = power_y(rack);
    let budget = rack.power_budget_w.max(1);
    let bar_w = f64::from(WIDTH - LEFT - 4);
    let used_px = (bar_w * (used_w as f64 / budget as f64)).min(bar_w);
    let planned_px = (bar_w * (planned_w as f64 / budget as f64)).min(bar_w - used_px);
    let free_w = rack.power_budget_w.saturating_sub(used_w + planned_w);
    let _ = write!(
        s,
        r##"<rect x="{LEFT}" y="{power_y}" width="{bar_w}" height="8" fill="#e9edf3" stroke="#5d6677" stroke-width="0.5"/><rect x="{LEFT}" y="{power_y}" width="{used_px:.1}" height="8" fill="#0b5cad"/><rect x="{:.1}" y="{power_y}" width="{planned_px:.1}" height="8" fill="#f0a500"/><text x="{LEFT}" y="{}" font-size="8" fill="#1d2330" class="power">{} W / {} W — {} W {}</text>"##,
        f64::from(LEFT) + used_px,
        power_y + 19,
        used_w + planned_w,
        rack.power_budget_w,
        free_w,
        escape(free_label),
    );
    let _ = write!(s, r##"<text x="2" y="{}" font-size="8" fill="#5d6677">⚡</text></svg>"##, power_y + 8);
}

/// A bar of the SLA time used: green, amber past 75 %, red when overdue; grey while paused.
pub fn sla_bar(used_seconds: i64, budget_seconds: i64, paused: bool, overdue: bool) -> String {
    let frac = if budget_seconds > 0 {
        used_seconds.max(0) as f64 / budget_seconds as f64
    } else {
        0.0
    };
    let w = 400.0;
    let fill_w = (w * frac).min(w);
    let color = if overdue || frac > 1.0 {
        "#b3261e"
    } else if paused {
        "#8a94a6"
    } else if frac > 0.75 {
        "#b26a00"
    } else {
        "#1c7c3c"
    };
    let mut s = String::new();
    let _ = write!(
        s,
        r##"<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 404 34" role="img" aria-label="SLA {pct:.0}%" id="sla-bar" data-percent="{pct:.0}"><rect x="2" y="2" width="{w}" height="18" rx="4" fill="#e9edf3" stroke="#5d6677" stroke-width="0.5"/><rect x="2" y="2" width="{fill_w:.1}" height="18" rx="4" fill="{color}"/>"##,
        pct = frac * 100.0
    );
    for day in 1..4 {
        let x = 2.0 + w * f64::from(day) / 4.0;
        let _ = write!(s, r##"<line x1="{x}" x2="{x}" y1="2" y2="20" stroke="#fff" stroke-width="1"/>"##);
    }
    for day in 0..=4 {
        let x = 2.0 + w * f64::from(day) / 4.0;
        let anchor = match day {
            0 => "start",
            4 => "end",
            _ => "middle",
        };
        let _ = write!(s, r##"<text x="{x}" y="31" font-size="9" text-anchor="{anchor}" fill="#5d6677">{day}</text>"##);
    }
    s.push_str("</svg>");
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::capacity::Inventory;

    #[test]
    fn a_rack_shows_its_units_and_power() {
        let inv = Inventory::example();
        let rack = &inv.sites[0].racks[0];
        let reserved = ReservedUnits {
            noc: inv.sites[0].noc.clone(),
            rack: rack.name.clone(),
            from_u: 20,
            to_u: 21,
            power_w: 400,
        };
        let planned = Placement {
            server: "srv-<x>".into(),
            noc: reserved.noc.clone(),
            rack: rack.name.clone(),
            from_u: 25,
            to_u: 25,
            power_w: 300,
        };
        let labels = RackLabels {
            free: "free",
            reserved: "reserved",
            planned: "planned",
        };
        let svg = rack_elevation(rack, &[&reserved], &[&planned], &labels);
        assert!(svg.starts_with("<svg") && svg.ends_with("</svg>"));
        assert!(svg.contains(r#"class="reserved""#) && svg.contains(r#"class="planned""#));
        assert!(svg.contains("srv-&lt;x&gt;"), "labels are escaped");
        assert!(!svg.contains("<x>"));
        assert!(svg.contains(&format!("/ {} W", rack.power_budget_w)));
    }

    #[test]
    fn the_sla_bar_fills_and_turns_red_when_late() {
        assert!(sla_bar(0, 100, false, false).contains(r#"data-percent="0""#));
        let half = sla_bar(50, 100, false, false);
        assert!(half.contains(r#"data-percent="50""#) && half.contains("#1c7c3c"));
        assert!(sla_bar(150, 100, false, true).contains("#b3261e"));
    }
}
