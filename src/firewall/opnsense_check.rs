//! `datacenter check` for OPNsense: reads every filter rule (`searchRule`) and says whether
//! kolokasi's pass rules, at their sequence on their interface, can take effect.
//!
//! OPNsense evaluates filter rules in sequence order and the first matching `quick` rule wins;
//! inbound traffic no rule passes is blocked by the interface's default. So kolokasi's passes
//! are shadowed by an enabled quick `block`/`reject` rule on the same interface (or a floating
//! one) at a lower sequence, and they restrict nothing if an earlier rule already passes all
//! traffic. Rows are compared case-insensitively: the API lists option fields by value on some
//! versions and by their display text ("Block", "WAN") on others.

use serde_json::Value;

use super::doctor::{Diagnosis, Finding, Level};
use super::rule::PREFIX as KOLOKASI_PREFIX;

/// OPNsense's default `sequence` (Filter.xml), which kolokasi's rules get when none is set.
pub const DEFAULT_SEQUENCE: u32 = 1;

/// One operator rule, as far as the check needs it.
struct Row<'a> {
    description: &'a str,
    sequence: u32,
    action: String,
    quick: bool,
    interfaces: Vec<String>,
    any_destination: bool,
    any_source: bool,
    any_protocol: bool,
}

fn text(row: &Value, field: &str) -> String {
    match &row[field] {
        Value::String(s) => s.trim().to_ascii_lowercase(),
        Value::Number(n) => n.to_string(),
        _ => String::new(),
    }
}

fn flag(row: &Value, field: &str, default: bool) -> bool {
    match &row[field] {
        Value::Null => default,
        Value::Bool(b) => *b,
        Value::Number(n) => n.as_u64() != Some(0),
        Value::String(s) => !matches!(s.trim(), "" | "0"),
        _ => default,
    }
}

fn any(row: &Value, field: &str) -> bool {
    matches!(text(row, field).as_str(), "" | "any")
}

fn row(r: &Value) -> Option<Row<'_>> {
    let description = r["description"].as_str().unwrap_or_default();
    if description.starts_with(KOLOKASI_PREFIX) || !flag(r, "enabled", true) {
        return None;
    }
    let negated = |f: &str| flag(r, f, false);
    Some(Row {
        description,
        sequence: text(r, "sequence").parse().unwrap_or(DEFAULT_SEQUENCE),
        action: text(r, "action"),
        quick: flag(r, "quick", true),
        interfaces: text(r, "interface").split(',').map(|s| s.trim().to_string()).filter(|s| !s.is_empty()).collect(),
        any_destination: any(r, "destination_net") && !negated("destination_not"),
        any_source: any(r, "source_net") && !negated("source_not"),
        any_protocol: any(r, "protocol"),
    })
}

impl Row<'_> {
    fn label(&self) -> String {
        let name = if self.description.is_empty() { "(no description)" } else { self.description };
        format!("rule {name:?} (sequence {})", self.sequence)
    }

    /// On kolokasi's interface: named there, or floating (no interface).
    fn on(&self, interface: &str) -> bool {
        self.interfaces.is_empty() || self.interfaces.iter().any(|i| i == interface)
    }
}

/// The diagnosis of `device` from every `searchRule` row, for kolokasi's rules on `interface`
/// at `sequence`.
pub fn diagnose(device: &str, interface: &str, sequence: u32, rows: &[Value]) -> Diagnosis {
    let interface = interface.to_ascii_lowercase();
    let operator: Vec<Row<'_>> = rows.iter().filter_map(row).filter(|r| r.on(&interface)).collect();
    let mut findings = Vec::new();
    let mut works = true;
    for r in operator.iter().filter(|r| r.quick && matches!(r.action.as_str(), "block" | "reject")) {
        let before = r.sequence < sequence;
        let tie = r.sequence == sequence;
        if !(before || tie) {
            continue;
        }
        let (level, what, apa) = match (r.any_destination, tie) {
            (true, false) => (Level::Problem, "blocks all traffic before kolokasi's pass rules", "memblokir semua lalu lintas sebelum aturan pass kolokasi"),
            (true, true) => (Level::Warning, "blocks all traffic at the same sequence as kolokasi's pass rules (their order is not defined)", "memblokir semua lalu lintas pada urutan yang sama dengan aturan kolokasi (urutannya tidak pasti)"),
            (false, _) => (Level::Warning, "blocks some destinations before kolokasi's pass rules; a server there stays unreachable", "memblokir sebagian tujuan sebelum aturan kolokasi; server di sana tetap tidak terjangkau"),
        };
        works &= level != Level::Problem;
        findings.push(Finding {
            level,
            message: format!("{} on {interface} {what} (sequence {sequence}); set the device's `sequence` below {}", r.label(), r.sequence),
            pesan: format!("aturan {:?} (urutan {}) di {interface} {apa} (urutan {sequence}); atur `sequence` perangkat di bawah {}", r.description, r.sequence, r.sequence),
        });
    }
    let pass_all = operator.iter().find(|r| r.quick && r.action == "pass" && r.any_destination && r.any_source && r.any_protocol && r.sequence <= sequence);
    if let Some(r) = pass_all {
        findings.push(Finding {
            level: Level::Warning,
            message: format!("{} on {interface} passes all traffic first: kolokasi's rules restrict nothing, every port of a new server is reachable", r.label()),
            pesan: format!("aturan {:?} (urutan {}) di {interface} meloloskan semua lalu lintas lebih dulu: aturan kolokasi tidak membatasi apa pun, semua port server baru terjangkau", r.description, r.sequence),
        });
    }
    if findings.is_empty() {
        findings.push(Finding {
            level: Level::Ok,
            message: format!("no earlier rule on {interface} blocks or passes all before kolokasi's rules (sequence {sequence}); other inbound traffic falls to OPNsense's default block ({} operator rules read)", operator.len()),
            pesan: format!("tidak ada aturan sebelumnya di {interface} yang memblokir atau meloloskan semua sebelum aturan kolokasi (urutan {sequence}); lalu lintas masuk lainnya diblokir oleh blokir bawaan OPNsense ({} aturan operator dibaca)", operator.len()),
        });
    }
    Diagnosis { device: device.to_string(), mode: "opnsense", works, base_chains: Vec::new(), findings }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn rule(seq: &str, action: &str, interface: &str, destination: &str) -> Value {
        json!({"enabled": "1", "sequence": seq, "action": action, "quick": "1", "interface": interface, "destination_net": destination, "source_net": "any", "protocol": "any", "description": format!("{action} {seq}")})
    }

    #[test]
    fn an_earlier_block_all_cannot_work_and_a_later_one_can() {
        let d = diagnose("fw", "wan", 100, &[rule("50", "block", "wan", "any")]);
        assert!(!d.works && d.findings[0].level == Level::Problem && d.findings[0].message.contains("below 50"), "{d:?}");
        let d = diagnose("fw", "wan", 10, &[rule("50", "Block", "WAN", "any")]);
        assert!(d.works && d.findings[0].level == Level::Ok, "{d:?}");
    }

    #[test]
    fn other_interfaces_disabled_and_kolokasi_rules_are_ignored_floating_ones_count() {
        let mut disabled = rule("5", "block", "wan", "any");
        disabled["enabled"] = json!("0");
        let mut ours = rule("5", "block", "wan", "any");
        ours["description"] = json!("kolokasi:KLK-2026-00001:x");
        let d = diagnose("fw", "wan", 100, &[rule("5", "block", "lan", "any"), disabled, ours]);
        assert!(d.works && d.findings[0].level == Level::Ok, "{d:?}");
        let d = diagnose("fw", "wan", 100, &[rule("5", "reject", "", "any")]);
        assert!(!d.works, "a floating reject applies to every interface");
    }

    #[test]
    fn a_pass_all_and_a_partial_block_are_warnings() {
        let d = diagnose("fw", "wan", 100, &[rule("5", "pass", "wan", "any"), rule("6", "block", "wan", "10.0.0.0/8")]);
        assert!(d.works && d.findings.iter().all(|f| f.level == Level::Warning) && d.findings.len() == 2, "{d:?}");
    }
}
