//! The conformance report: one item per check with what was declared, what was found and the
//! verdict; rendered as a table with Indonesian headers for people and as JSON for the run log.

use std::fmt;

use serde::{Deserialize, Serialize};

/// What an item checks (stable, for code and the run log; `ReportItem::item` is for people).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", content = "subject", rename_all = "snake_case")]
pub enum Check {
    Hostname,
    OsName,
    OsVersion,
    Processor,
    CpuCount,
    Ram,
    Storage,
    Motherboard,
    Psu,
    /// An application by package name.
    Application(String),
    /// A service as `tcp/443`.
    Service(String),
}

impl Check {
    /// Informational checks never fail a server: the facts behind them are often unreadable
    /// (no DMI in VMs and containers) or written differently by vendor and unit.
    pub fn is_informational(&self) -> bool {
        matches!(self, Self::Hostname | Self::Processor | Self::Motherboard | Self::Psu)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    Pass,
    Fail,
    /// The fact could not be read (informational checks only; a required check that cannot be
    /// verified fails).
    Unavailable,
    /// An informational check found something other than the declared value. Never fails.
    Differs,
}

impl Verdict {
    /// The "Hasil" column.
    pub fn label_id(self) -> &'static str {
        match self {
            Self::Pass => "Sesuai",
            Self::Fail => "Tidak sesuai",
            Self::Unavailable => "Tidak tersedia",
            Self::Differs => "Berbeda (info)",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReportItem {
    pub check: Check,
    /// The "Item" column ("RAM", "Aplikasi nginx").
    pub item: String,
    pub declared: String,
    pub found: String,
    pub verdict: Verdict,
}

/// The inspection report of one server (SOP step 8).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Report {
    /// The declared server name.
    pub server: String,
    pub items: Vec<ReportItem>,
}

impl Report {
    /// True when no item failed (unavailable and differing informational items do not count).
    pub fn passed(&self) -> bool {
        self.failures().next().is_none()
    }

    pub fn failures(&self) -> impl Iterator<Item = &ReportItem> {
        self.items.iter().filter(|i| i.verdict == Verdict::Fail)
    }

    /// The item for `check`, if the report has one.
    pub fn item(&self, check: &Check) -> Option<&ReportItem> {
        self.items.iter().find(|i| &i.check == check)
    }

    /// The table with failing items first (for the operator who has to fix the server).
    pub fn text_failures_first(&self) -> String {
        let mut items: Vec<&ReportItem> = self.items.iter().collect();
        items.sort_by_key(|i| i.verdict != Verdict::Fail); // stable: keeps check order within groups
        self.render(&items)
    }

    fn render(&self, items: &[&ReportItem]) -> String {
        let failed = self.failures().count();
        let mut out = if failed == 0 {
            format!("Pemeriksaan server {}: SESUAI\n", self.server)
        } else {
            format!("Pemeriksaan server {}: TIDAK SESUAI ({failed} item tidak sesuai)\n", self.server)
        };
        let header = ["Item", "Dideklarasikan", "Ditemukan", "Hasil"];
        let rows: Vec<[&str; 4]> = items.iter().map(|i| [i.item.as_str(), &i.declared, &i.found, i.verdict.label_id()]).collect();
        let mut widths = header.map(|h| h.chars().count());
        for row in &rows {
            for (w, cell) in widths.iter_mut().zip(row) {
                *w = (*w).max(cell.chars().count());
            }
        }
        let line = |cells: [&str; 4]| {
            let padded: Vec<String> = cells.iter().zip(widths).map(|(c, w)| format!("{c:<w$}")).collect();
            padded.join(" | ").trim_end().to_string() + "\n"
        };
        out.push_str(&line(header));
        out.push_str(&(widths.iter().map(|w| "-".repeat(*w)).collect::<Vec<_>>().join("-+-") + "\n"));
        for row in rows {
            out.push_str(&line(row));
        }
        out
    }
}

/// The table in check order.
impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let items: Vec<&ReportItem> = self.items.iter().collect();
        f.write_str(&self.render(&items))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn item(check: Check, item: &str, verdict: Verdict) -> ReportItem {
        ReportItem { check, item: item.into(), declared: "d".into(), found: "f".into(), verdict }
    }

    #[test]
    fn passes_unless_an_item_fails_and_renders_failures_first() {
        let mut r = Report {
            server: "srv-sipd".into(),
            items: vec![
                item(Check::OsName, "Sistem operasi", Verdict::Pass),
                item(Check::Motherboard, "Motherboard", Verdict::Unavailable),
                item(Check::Processor, "Prosesor", Verdict::Differs),
            ],
        };
        assert!(r.passed());
        assert!(r.to_string().starts_with("Pemeriksaan server srv-sipd: SESUAI\nItem "));
        r.items.push(item(Check::Ram, "RAM", Verdict::Fail));
        assert!(!r.passed());
        let text = r.text_failures_first();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines[0], "Pemeriksaan server srv-sipd: TIDAK SESUAI (1 item tidak sesuai)");
        assert_eq!(lines[1], "Item           | Dideklarasikan | Ditemukan | Hasil");
        assert!(lines[3].starts_with("RAM ") && lines[3].ends_with("| Tidak sesuai"), "{text}");
        assert!(lines[4].starts_with("Sistem operasi"), "{text}");
        assert!(text.contains("| Tidak tersedia") && text.contains("| Berbeda (info)"));
    }

    #[test]
    fn json_shape_for_the_run_log() {
        let i = item(Check::Application("nginx".into()), "Aplikasi nginx", Verdict::Pass);
        let v = serde_json::to_value(&i).unwrap();
        assert_eq!(v["check"], serde_json::json!({"kind": "application", "subject": "nginx"}));
        assert_eq!(v["verdict"], "pass");
        assert_eq!(serde_json::from_value::<ReportItem>(v).unwrap(), i);
    }
}

/// What an `inspect_server` step saves and the documents and the asset register read back: the
/// server's name, the measured facts and the conformance report (always passed: a mismatch stops
/// the step instead).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct InspectionOutput {
    pub server: String,
    pub passed: bool,
    pub report: Report,
    pub facts: super::ServerFacts,
}

impl crate::domain::SavedOutput for InspectionOutput {}

