//! Whether an nftables firewall's configured integration can work, read from its ruleset
//! (`nft -j list ruleset`): the operator's table and chain exist, the chain's hook and priority,
//! and — the case where kolokasi's rules silently open nothing — another base chain on the same
//! hook that drops by policy (a packet must pass every base chain on its hook; a drop anywhere is
//! final). Pure over the listing, so it is tested on listings; `kolokasi datacenter check` reads
//! each firewall and prints this.

use serde::Serialize;
use serde_json::Value;

use super::integration::{Integration, RuleAnchor};
use super::nft_layout::{FAMILY, JUMP_COMMENT, TABLE};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Level {
    Ok,
    Warning,
    Problem,
}

/// One thing found, in English (CLI) and Indonesian (console).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Finding {
    pub level: Level,
    pub message: String,
    pub pesan: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct BaseChain {
    pub family: String,
    pub table: String,
    pub name: String,
    pub hook: String,
    pub priority: i64,
    pub policy: String,
}

impl BaseChain {
    pub fn label(&self) -> String {
        format!("{} {} {}", self.family, self.table, self.name)
    }

    /// Whether IPv4 or IPv6 traffic (what kolokasi filters) passes this chain.
    fn sees_ip(&self) -> bool {
        matches!(self.family.as_str(), "inet" | "ip" | "ip6")
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Diagnosis {
    pub device: String,
    pub mode: &'static str,
    pub works: bool,
    pub base_chains: Vec<BaseChain>,
    pub findings: Vec<Finding>,
}

fn finding(level: Level, message: String, pesan: String) -> Finding {
    Finding { level, message, pesan }
}

/// Every base chain of a listing.
pub fn base_chains(doc: &Value) -> Vec<BaseChain> {
    doc["nftables"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|i| i.get("chain"))
        .filter_map(|c| {
            Some(BaseChain {
                family: c["family"].as_str()?.into(),
                table: c["table"].as_str()?.into(),
                name: c["name"].as_str()?.into(),
                hook: c["hook"].as_str()?.into(),
                priority: c["prio"].as_i64().unwrap_or(0),
                policy: c["policy"].as_str().unwrap_or("accept").into(),
            })
        })
        .collect()
}

fn chain_exists(doc: &Value, family: &str, table: &str, name: &str) -> Option<Value> {
    doc["nftables"]
        .as_array()?
        .iter()
        .filter_map(|i| i.get("chain"))
        .find(|c| c["family"] == family && c["table"] == table && c["name"] == name)
        .cloned()
}

fn table_exists(doc: &Value, family: &str, table: &str) -> bool {
    doc["nftables"].as_array().into_iter().flatten().filter_map(|i| i.get("table")).any(|t| t["family"] == family && t["name"] == table)
}

fn rules<'a>(doc: &'a Value, family: &'a str, table: &'a str) -> impl Iterator<Item = &'a Value> + 'a {
    doc["nftables"].as_array().into_iter().flatten().filter_map(|i| i.get("rule")).filter(move |r| r["family"] == family && r["table"] == table)
}

/// Chains dropping by policy on `hook`, other than `except` (family, table, chain).
fn dropping_on(chains: &[BaseChain], hook: &str, except: (&str, &str, Option<&str>)) -> Vec<BaseChain> {
    chains
        .iter()
        .filter(|c| c.hook == hook && c.sees_ip() && c.policy == "drop")
        .filter(|c| !(c.family == except.0 && c.table == except.1 && except.2.is_none_or(|n| n == c.name)))
        .cloned()
        .collect()
}

/// What `integration` on `device` finds in `listing` (`nft -j list ruleset`).
pub fn diagnose(device: &str, integration: &Integration, listing: &str) -> Diagnosis {
    let doc: Value = serde_json::from_str(listing).unwrap_or(Value::Null);
    let chains = base_chains(&doc);
    let f = if doc.is_null() {
        vec![finding(Level::Problem, "the firewall printed no JSON ruleset".into(), "Firewall tidak mengembalikan ruleset.".into())]
    } else {
        match integration {
            Integration::OwnTable => own_table(&chains),
            Integration::Jump { family, table, chain, before, .. } => {
                let at = Place { doc: &doc, family: family.as_str(), table: table.as_str(), chain: chain.as_str() };
                jump(&at, &chains, before.as_ref())
            }
            Integration::WriteInto { family, table, chain } => {
                let at = Place { doc: &doc, family: family.as_str(), table: table.as_str(), chain: chain.as_str() };
                write_into(&at, &chains)
            }
        }
    };
    Diagnosis { device: device.into(), mode: integration.name(), works: f.iter().all(|x| x.level != Level::Problem), base_chains: chains, findings: f }
}

/// The operator's chain kolokasi is told to use, in the listing.
struct Place<'a> {
    doc: &'a Value,
    family: &'a str,
    table: &'a str,
    chain: &'a str,
}

impl Place<'_> {
    fn label(&self) -> String {
        format!("{} {} {}", self.family, self.table, self.chain)
    }
}

/// Own table: works only if no other base chain on forward or input drops by policy.
fn own_table(chains: &[BaseChain]) -> Vec<Finding> {
    let mut f = Vec::new();
    for hook in ["forward", "input"] {
        for c in dropping_on(chains, hook, (FAMILY, TABLE, None)) {
            f.push(finding(
                Level::Problem,
                format!(
                    "base chain {} (hook {hook}, priority {}) drops by policy: a packet must pass every base chain on its hook, so kolokasi's accepts in its own table {FAMILY} {TABLE} open nothing here — provisioned servers would stay unreachable while the step reports success. Use integration mode jump (into {}) or write_into.",
                    c.label(), c.priority, c.label()
                ),
                format!(
                    "Chain {} (hook {hook}, prioritas {}) menolak paket secara default (policy drop): aturan kolokasi di tabelnya sendiri tidak akan membuka apa pun, server tetap tidak dapat dijangkau. Gunakan mode jump atau write_into.",
                    c.label(), c.priority
                ),
            ));
        }
    }
    if f.is_empty() {
        f.push(finding(
            Level::Ok,
            format!("no other base chain on the forward or input hook drops by policy: table {FAMILY} {TABLE} can filter alone"),
            "Tidak ada base chain lain yang menolak paket secara default; tabel kolokasi dapat bekerja.".into(),
        ));
    }
    f
}

/// Jump: the chain must be an existing base chain, alone in dropping on its hook, with the
/// anchor the jump goes before.
fn jump(at: &Place<'_>, chains: &[BaseChain], before: Option<&RuleAnchor>) -> Vec<Finding> {
    let (fam, tab) = (at.family, at.table);
    let label = at.label();
    if !table_exists(at.doc, fam, tab) {
        return vec![finding(Level::Problem, format!("table {fam} {tab} does not exist"), format!("Tabel {fam} {tab} tidak ada."))];
    }
    let Some(c) = chain_exists(at.doc, fam, tab, at.chain) else {
        return vec![finding(Level::Problem, format!("chain {label} does not exist"), format!("Chain {label} tidak ada."))];
    };
    let Some(hook) = c["hook"].as_str() else {
        return vec![finding(
            Level::Problem,
            format!("{label} is a regular chain (no hook): jump mode needs the operator's base chain; use write_into for a regular chain"),
            format!("{label} bukan base chain; mode jump memerlukan base chain."),
        )];
    };
    let mut f = vec![finding(
        Level::Ok,
        format!("{label} is a base chain: hook {hook}, priority {}, policy {}", c["prio"].as_i64().unwrap_or(0), c["policy"].as_str().unwrap_or("accept")),
        format!("{label} adalah base chain (hook {hook}).",),
    )];
    for other in dropping_on(chains, hook, (fam, tab, Some(at.chain))) {
        f.push(finding(
            Level::Problem,
            format!(
                "base chain {} (hook {hook}, priority {}) also drops by policy: what kolokasi accepts in {label} is still dropped there — accept kolokasi's addresses in it too, or jump from it instead",
                other.label(), other.priority
            ),
            format!("Base chain {} juga menolak paket secara default; yang diterima kolokasi di {label} tetap ditolak di sana.", other.label()),
        ));
    }
    let rules: Vec<&Value> = rules(at.doc, fam, tab).filter(|r| r["chain"] == at.chain).collect();
    let jumps = rules.iter().filter(|r| r["comment"] == JUMP_COMMENT).count();
    f.push(match jumps {
        0 => finding(Level::Ok, format!("no kolokasi jump yet in {label}: the first request adds it"), "Belum ada jump kolokasi; permintaan pertama akan menambahkannya.".into()),
        1 => finding(Level::Ok, format!("one kolokasi jump in {label}"), "Satu jump kolokasi sudah ada.".into()),
        n => finding(Level::Warning, format!("{n} kolokasi jumps in {label}: the next change keeps the first"), format!("Ada {n} jump kolokasi; perubahan berikutnya menyisakan satu.")),
    });
    if let Some(anchor) = before {
        let found = rules.iter().any(|r| {
            anchor.handle.is_some_and(|h| r["handle"].as_u64() == Some(h)) || anchor.comment.as_ref().is_some_and(|c| r["comment"] == c.as_str())
        });
        f.push(if found {
            finding(Level::Ok, format!("the jump goes before {anchor}"), "Posisi jump ditemukan.".into())
        } else {
            finding(Level::Problem, format!("{anchor}, which the jump must precede, is not in {label}"), "Aturan acuan posisi jump tidak ditemukan.".into())
        });
    }
    f
}

/// Write into: the regular chain must exist and be reached, and nothing else on its hook drop.
fn write_into(at: &Place<'_>, chains: &[BaseChain]) -> Vec<Finding> {
    let (fam, tab, ch) = (at.family, at.table, at.chain);
    let label = at.label();
    if chain_exists(at.doc, fam, tab, ch).is_none() {
        return vec![finding(Level::Problem, format!("chain {label} does not exist"), format!("Chain {label} tidak ada."))];
    }
    let from: Vec<String> = rules(at.doc, fam, tab)
        .filter(|r| r["expr"].as_array().into_iter().flatten().any(|e| e["jump"]["target"] == ch || e["goto"]["target"] == ch))
        .filter_map(|r| r["chain"].as_str().map(String::from))
        .collect();
    if from.is_empty() && chains.iter().all(|c| !(c.family == fam && c.table == tab && c.name == ch)) {
        return vec![finding(
            Level::Problem,
            format!("no rule jumps to {label}: rules kolokasi writes there would filter nothing"),
            format!("Tidak ada aturan yang melompat ke {label}; aturan kolokasi di sana tidak berpengaruh."),
        )];
    }
    let mut f = vec![finding(Level::Ok, format!("{label} exists and is reached from chain {}", from.join(", ")), format!("{label} ada dan dijangkau."))];
    for base in chains.iter().filter(|c| c.family == fam && c.table == tab && from.contains(&c.name)) {
        for other in dropping_on(chains, &base.hook, (fam, tab, Some(&base.name))) {
            f.push(finding(
                Level::Problem,
                format!("base chain {} (hook {}, priority {}) also drops by policy: what kolokasi accepts in {label} is still dropped there", other.label(), base.hook, other.priority),
                format!("Base chain {} juga menolak paket secara default.", other.label()),
            ));
        }
    }
    f
}

#[cfg(test)]
mod tests {
    use super::*;

    const OPERATOR: &str = r#"{"nftables": [{"metainfo": {}}, {"table": {"family": "inet", "name": "filter", "handle": 1}},
        {"chain": {"family": "inet", "table": "filter", "name": "forward", "handle": 2, "type": "filter", "hook": "forward", "prio": 0, "policy": "drop"}},
        {"chain": {"family": "inet", "table": "filter", "name": "customers", "handle": 3}},
        {"rule": {"family": "inet", "table": "filter", "chain": "forward", "handle": 8, "comment": "ops: established", "expr": []}},
        {"rule": {"family": "inet", "table": "filter", "chain": "forward", "handle": 9, "expr": [{"jump": {"target": "customers"}}]}},
        {"rule": {"family": "inet", "table": "filter", "chain": "forward", "handle": 10, "comment": "ops: refuse the rest", "expr": []}}]}"#;

    fn mode(yaml: &str) -> Integration {
        serde_yaml_ng::from_str(yaml).unwrap()
    }

    #[test]
    fn own_table_behind_a_default_deny_chain_cannot_work() {
        let d = diagnose("fw-2", &Integration::OwnTable, OPERATOR);
        assert!(!d.works);
        assert!(d.findings[0].message.contains("inet filter forward") && d.findings[0].message.contains("drops by policy"), "{d:?}");
        assert!(diagnose("fw-1", &Integration::OwnTable, r#"{"nftables": []}"#).works);
    }

    #[test]
    fn jump_and_write_into_into_the_operators_chains_can() {
        let j = diagnose("fw-2", &mode("{mode: jump, family: inet, table: filter, chain: forward, before: {comment: 'ops: refuse the rest'}}"), OPERATOR);
        assert!(j.works, "{j:?}");
        let w = diagnose("fw-2", &mode("{mode: write_into, family: inet, table: filter, chain: customers}"), OPERATOR);
        assert!(w.works, "{w:?}");
        for bad in [
            "{mode: jump, family: inet, table: filter, chain: customers}",
            "{mode: jump, family: inet, table: nat, chain: forward}",
            "{mode: jump, family: inet, table: filter, chain: forward, before: {handle: 99}}",
            "{mode: write_into, family: inet, table: filter, chain: nowhere}",
        ] {
            assert!(!diagnose("fw-2", &mode(bad), OPERATOR).works, "{bad}");
        }
        // A second default-deny chain on the hook defeats a jump too.
        let two = OPERATOR.replace(
            r#"{"chain": {"family": "inet", "table": "filter", "name": "customers""#,
            r#"{"chain": {"family": "ip", "table": "legacy", "name": "fwd", "handle": 1, "type": "filter", "hook": "forward", "prio": 10, "policy": "drop"}},
               {"chain": {"family": "inet", "table": "filter", "name": "customers""#,
        );
        let j = diagnose("fw-2", &mode("{mode: jump, family: inet, table: filter, chain: forward}"), &two);
        assert!(!j.works && j.findings.iter().any(|f| f.message.contains("ip legacy fwd")), "{j:?}");
    }
}
