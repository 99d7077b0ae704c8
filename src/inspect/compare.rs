//! The rules of SOP step 8: how each declared value is checked against the measured facts.
//!
//! - OS name: case-insensitive, equal to `NAME` or `ID`, or the first words of `NAME`
//!   ("Debian" matches "Debian GNU/Linux").
//! - OS version: the declared dotted components are a prefix of `VERSION_ID` or of the point
//!   release at the start of `VERSION` ("22.04" matches "22.04" and "22.04.4"; "22" too).
//! - CPU: logical CPUs ≥ declared cores.
//! - RAM: `MemTotal` ≥ (100 − tolerance)% of the declared size. RAM is sold in binary units, so
//!   a declared GB is 2^30 bytes; `MemTotal` sits a few percent under the nominal size because
//!   the kernel and firmware keep some.
//! - Storage: the sum of whole disks ≥ declared GB, where storage GB are 10^9 bytes as disks are
//!   sold.
//! - Applications: installed, and the version satisfies the constraint (see
//!   [`version_satisfies`]).
//! - Services: something listens on the port, on any address, with that protocol.
//! - Informational (never fail, see [`Check::is_informational`]): host name, processor model
//!   (declared text contained in the found model, ignoring case, ® and ™), motherboard,
//!   PSU nameplate watts. They are `Differs` when they disagree and `Unavailable` when the
//!   fact cannot be read (no DMI in VMs and containers; `dmidecode` needs root and /dev/mem).
//!
//! A required check whose fact cannot be read fails: the inspector cannot sign off what it could
//! not see. The operator fixes access (or skips the step, which the run log records).
//!
//! Except a fact that needs root on a login that has none (an unprivileged host admin, `sudo`
//! asking for a password): that item is `Unavailable` ("tidak tersedia (perlu root)"), on
//! required and informational checks alike, so the report says what root would have shown
//! instead of failing the server for the login it was given. With the script as written, only
//! informational facts need root (the serial number and `dmidecode`'s PSU); every required fact
//! (os-release, /proc, lsblk, the package database, `ss -l`) is readable by any user, so an
//! unprivileged login still decides pass or fail on every required item.
//!
//! Versions are compared by the server's package manager's own order: dpkg's for dpkg, rpm's
//! `rpmvercmp` for rpm (see [`version_satisfies_in`]).

use std::cmp::Ordering;

use serde::{Deserialize, Serialize};

use super::debversion::DebVersion;
use super::facts::{Disk, Fact, PackageManager, ServerFacts};
use super::rpmversion::RpmVersion;
use super::report::{Check, Report, ReportItem, Verdict};
use crate::domain::{CompareOp, Protocol, ServerSpec, VersionConstraint};

/// Tolerances of the comparison.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Rules {
    /// How far `MemTotal` may fall short of the declared RAM, in percent (0–100).
    pub ram_tolerance_percent: u8,
}

impl Default for Rules {
    fn default() -> Self {
        Self { ram_tolerance_percent: 10 }
    }
}

const GIB: f64 = (1u64 << 30) as f64;
const GB: u64 = 1_000_000_000;

/// Compares the declared specification with the facts, one item per check.
pub fn compare(spec: &ServerSpec, facts: &ServerFacts, rules: &Rules) -> Report {
    let mut items = vec![
        hostname(spec, facts),
        os_name(spec, facts),
        os_version(spec, facts),
        processor(spec, facts),
        cpu_count(spec, facts),
        ram(spec, facts, rules),
        storage(spec, facts),
        motherboard(spec, facts),
        psu(spec, facts),
    ];
    items.extend(spec.applications.iter().map(|app| {
        let name = app.name.as_str();
        let declared = match app.version.op {
            CompareOp::Any => "terpasang (versi apa pun)".to_string(),
            _ => app.version.to_string(),
        };
        let check = Check::Application(name.to_string());
        let item = format!("Aplikasi {name}");
        match &facts.packages {
            Fact::Found(p) => {
                let (found, verdict) = match p.installed.get(name) {
                    None => ("tidak terpasang".to_string(), Verdict::Fail),
                    Some(v) => (v.clone(), pass_if(version_satisfies_in(p.manager, v, &app.version))),
                };
                ReportItem { check, item, declared, found, verdict }
            }
            missing => not_found(check, &item, declared, missing),
        }
    }));
    items.extend(spec.services.iter().map(|service| {
        let listeners = match service.protocol {
            Protocol::Tcp => &facts.tcp_listeners,
            Protocol::Udp => &facts.udp_listeners,
        };
        let (check, label) = (Check::Service(service.to_string()), format!("Layanan {service}"));
        let (found, verdict) = match listeners {
            Fact::Unavailable(_) | Fact::NeedsRoot(_) => return not_found(check, &label, "mendengarkan", listeners),
            Fact::Found(all) => {
                // TODO(design): a listener on loopback only is not reachable from the network;
                // the rule (any address) follows the SOP as written.
                let on_port: Vec<String> = all.iter().filter(|l| l.port == service.port).map(|l| format!("{}:{}", l.address, l.port)).collect();
                if on_port.is_empty() {
                    (format!("tidak ada yang mendengarkan di port {}", service.port), Verdict::Fail)
                } else {
                    (format!("mendengarkan di {}", on_port.join(", ")), Verdict::Pass)
                }
            }
        };
        ReportItem { check, item: label, declared: "mendengarkan".into(), found, verdict }
    }));
    Report { server: spec.name.to_string(), items }
}

/// Whether an installed version satisfies a declared constraint.
///
/// Versions are ordered as `dpkg --compare-versions` orders them. A constraint written with an
/// epoch or a revision (`>= 1:8.9p1-3`) compares full versions. A plain upstream version, as
/// people write on a form (`>= 1.18`, `= 14`), compares the installed *upstream* version, cut to
/// as many dotted components as the declared one: nginx `1.18.0-6ubuntu14.4` is `1.18` for
/// `<= 1.18` and `= 1.18`, and openssh `1:8.9p1` is not `>= 9` because of its packaging epoch.
pub fn version_satisfies(installed: &str, constraint: &VersionConstraint) -> bool {
    version_satisfies_in(PackageManager::Dpkg, installed, constraint)
}

/// As [`version_satisfies`], in the order of `manager`: for rpm, `[epoch:]version-release` by
/// `rpmvercmp`; a constraint with an epoch or a release (`>= 1:1.20.1-14.el9`) compares full
/// versions, a plain one (`>= 1.20`) the installed *version* cut to as many dotted components.
pub fn version_satisfies_in(manager: PackageManager, installed: &str, constraint: &VersionConstraint) -> bool {
    if constraint.op == CompareOp::Any {
        return true;
    }
    let ordering = match manager {
        PackageManager::Dpkg => deb_ordering(installed, constraint),
        PackageManager::Rpm => rpm_ordering(installed, constraint),
    };
    let Some(ordering) = ordering else { return false };
    match constraint.op {
        CompareOp::Any => true,
        CompareOp::Eq => ordering == Ordering::Equal,
        CompareOp::Ge => ordering != Ordering::Less,
        CompareOp::Gt => ordering == Ordering::Greater,
        CompareOp::Le => ordering != Ordering::Greater,
        CompareOp::Lt => ordering == Ordering::Less,
    }
}

/// The first `n` dotted components of `version`.
fn cut(version: &str, n: usize) -> String {
    version.split('.').take(n).collect::<Vec<_>>().join(".")
}

fn rpm_ordering(installed: &str, constraint: &VersionConstraint) -> Option<Ordering> {
    let (found, declared) = (RpmVersion::parse(installed).ok()?, RpmVersion::parse(&constraint.version).ok()?);
    if constraint.version.contains([':', '-']) {
        return Some(found.cmp(&declared));
    }
    let precision = declared.version().split('.').count();
    Some(super::rpmversion::rpmvercmp(&cut(found.version(), precision), declared.version()))
}

fn deb_ordering(installed: &str, constraint: &VersionConstraint) -> Option<Ordering> {
    let (found, declared) = (DebVersion::parse(installed).ok()?, DebVersion::parse(&constraint.version).ok()?);
    if constraint.version.contains([':', '-']) {
        return Some(found.cmp(&declared));
    }
    let precision = declared.upstream().split('.').count();
    Some(DebVersion::parse(&cut(found.upstream(), precision)).ok()?.cmp(&declared))
}

fn pass_if(ok: bool) -> Verdict {
    if ok { Verdict::Pass } else { Verdict::Fail }
}

fn informational(ok: bool) -> Verdict {
    if ok { Verdict::Pass } else { Verdict::Differs }
}

fn item(check: Check, item: &str, declared: impl Into<String>, found: impl Into<String>, verdict: Verdict) -> ReportItem {
    ReportItem { check, item: item.to_string(), declared: declared.into(), found: found.into(), verdict }
}

/// A required check whose fact is missing: it fails, saying why.
fn unverifiable(check: Check, label: &str, declared: impl Into<String>, why: &str) -> ReportItem {
    item(check, label, declared, format!("tidak dapat diperiksa: {why}"), Verdict::Fail)
}

/// A required check whose fact is missing: unavailable when only root could have read it, else
/// it fails, saying why.
fn not_found<T>(check: Check, label: &str, declared: impl Into<String>, fact: &Fact<T>) -> ReportItem {
    let why = fact.reason().unwrap_or_default();
    if fact.needs_root() {
        item(check, label, declared, format!("tidak tersedia (perlu root): {why}"), Verdict::Unavailable)
    } else {
        unverifiable(check, label, declared, why)
    }
}

fn unavailable(check: Check, label: &str, declared: impl Into<String>, why: &str) -> ReportItem {
    item(check, label, declared, format!("tidak tersedia: {why}"), Verdict::Unavailable)
}

/// Lower case, without ®/™ marks, single spaces: "Intel(R) Xeon(R)  Silver" → "intel xeon silver".
fn normalise(text: &str) -> String {
    let lower = text.to_lowercase();
    let stripped = ["(r)", "(tm)", "®", "™"].iter().fold(lower, |t, mark| t.replace(mark, " "));
    stripped.split_whitespace().collect::<Vec<_>>().join(" ")
}

fn hostname(spec: &ServerSpec, facts: &ServerFacts) -> ReportItem {
    let (check, label, declared) = (Check::Hostname, "Nama host", spec.name.as_str());
    match &facts.hostname {
        Fact::Unavailable(why) | Fact::NeedsRoot(why) => unavailable(check, label, declared, why),
        Fact::Found(h) => {
            let short = h.split('.').next().unwrap_or(h);
            item(check, label, declared, h.as_str(), informational(short.eq_ignore_ascii_case(declared)))
        }
    }
}

fn os_name(spec: &ServerSpec, facts: &ServerFacts) -> ReportItem {
    let (check, label, declared) = (Check::OsName, "Sistem operasi", spec.os.name.as_str());
    let Fact::Found(os) = &facts.os else { return not_found(check, label, declared, &facts.os) };
    let want = normalise(declared);
    let name = normalise(&os.name);
    let ok = name == want || os.id.as_deref().is_some_and(|id| normalise(id) == want) || name.starts_with(&format!("{want} "));
    let found = match &os.pretty_name {
        Some(p) => format!("{} ({p})", os.name),
        None => os.name.clone(),
    };
    item(check, label, declared, found, pass_if(ok))
}

/// `VERSION_ID`, and the point release `VERSION` starts with when it extends `VERSION_ID`.
fn os_versions(os: &super::facts::OsRelease) -> Vec<String> {
    let mut out: Vec<String> = os.version_id.iter().cloned().collect();
    let point = os.version.as_deref().and_then(|v| v.split_whitespace().next()).filter(|p| p.bytes().all(|b| b.is_ascii_digit() || b == b'.'));
    if let Some(p) = point
        && !out.iter().any(|v| v == p)
        && os.version_id.as_deref().is_none_or(|id| p.starts_with(id))
    {
        out.push(p.to_string());
    }
    out
}

fn os_version(spec: &ServerSpec, facts: &ServerFacts) -> ReportItem {
    let (check, label, declared) = (Check::OsVersion, "Versi OS", spec.os.version.as_str());
    let Fact::Found(os) = &facts.os else { return not_found(check, label, declared, &facts.os) };
    let versions = os_versions(os);
    if versions.is_empty() {
        return unverifiable(check, label, declared, "/etc/os-release tidak memuat VERSION_ID");
    }
    let want: Vec<&str> = declared.split('.').collect();
    let ok = versions.iter().any(|v| {
        let have: Vec<&str> = v.split('.').collect();
        have.len() >= want.len() && have.iter().zip(&want).all(|(h, w)| h == w)
    });
    let found = match (os.version_id.as_deref(), os.pretty_name.as_deref()) {
        (Some(id), Some(pretty)) => format!("{id} ({pretty})"),
        _ => versions.join(" / "),
    };
    item(check, label, declared, found, pass_if(ok))
}

fn processor(spec: &ServerSpec, facts: &ServerFacts) -> ReportItem {
    let (check, label, declared) = (Check::Processor, "Prosesor", spec.processor.as_str());
    match facts.cpu.found().map(|c| c.model.as_deref()) {
        None => unavailable(check, label, declared, facts.cpu.reason().unwrap_or_default()),
        Some(None) => unavailable(check, label, declared, "/proc/cpuinfo tidak menyebut model"),
        Some(Some(model)) => item(check, label, declared, model, informational(normalise(model).contains(&normalise(declared)))),
    }
}

fn cpu_count(spec: &ServerSpec, facts: &ServerFacts) -> ReportItem {
    let (check, label, declared) = (Check::CpuCount, "Jumlah CPU", format!("{} core", spec.cpu_cores));
    let Fact::Found(cpu) = &facts.cpu else { return not_found(check, label, declared, &facts.cpu) };
    let found = match cpu.physical_cores {
        Some(p) => format!("{} CPU logis ({p} core fisik)", cpu.logical),
        None => format!("{} CPU logis", cpu.logical),
    };
    item(check, label, declared, found, pass_if(cpu.logical >= u32::from(spec.cpu_cores)))
}

fn ram(spec: &ServerSpec, facts: &ServerFacts, rules: &Rules) -> ReportItem {
    let (check, label, declared) = (Check::Ram, "RAM", format!("{} GB", spec.ram_gb));
    let Fact::Found(kib) = facts.mem_total_kib else { return not_found(check, label, declared, &facts.mem_total_kib) };
    let found_bytes = u128::from(kib) * 1024;
    let keep = u128::from(100 - rules.ram_tolerance_percent.min(100));
    let ok = found_bytes * 100 >= u128::from(spec.ram_gb) * (1u128 << 30) * keep;
    let minimum = f64::from(spec.ram_gb) * keep as f64 / 100.0;
    let found = format!("{:.1} GB (MemTotal {kib} kB; minimal {minimum:.1} GB = {keep}%; 1 GB = 2^30 byte)", found_bytes as f64 / GIB);
    item(check, label, declared, found, pass_if(ok))
}

fn storage(spec: &ServerSpec, facts: &ServerFacts) -> ReportItem {
    let (check, label, declared) = (Check::Storage, "Penyimpanan", format!("{} GB", spec.storage_gb));
    let Fact::Found(disks) = &facts.disks else { return not_found(check, label, declared, &facts.disks) };
    let total = Disk::total_bytes(disks);
    let gb = |b: u64| b as f64 / GB as f64;
    let each: Vec<String> = disks.iter().map(|d| format!("{} {:.1} GB", d.name, gb(d.size_bytes))).collect();
    let found = format!("{:.1} GB ({}; 1 GB = 10^9 byte)", gb(total), if each.is_empty() { "tidak ada disk".to_string() } else { each.join(", ") });
    item(check, label, declared, found, pass_if(u128::from(total) >= u128::from(spec.storage_gb) * u128::from(GB)))
}

fn motherboard(spec: &ServerSpec, facts: &ServerFacts) -> ReportItem {
    let (check, label, declared) = (Check::Motherboard, "Motherboard", spec.motherboard.as_str());
    let parts: Vec<&str> = [&facts.board.vendor, &facts.board.name].into_iter().filter_map(|f| f.found().map(String::as_str)).collect();
    if parts.is_empty() {
        return unavailable(check, label, declared, facts.board.name.reason().unwrap_or_default());
    }
    let found = parts.join(" ");
    let ok = normalise(&found).contains(&normalise(declared)) || facts.board.name.found().is_some_and(|n| normalise(declared).contains(&normalise(n)));
    item(check, label, declared, found, informational(ok))
}

fn psu(spec: &ServerSpec, facts: &ServerFacts) -> ReportItem {
    let (check, label, declared) = (Check::Psu, "PSU", format!("{} W", spec.psu_watts));
    let Fact::Found(watts) = &facts.psu_watts else { return unavailable(check, label, declared, facts.psu_watts.reason().unwrap_or_default()) };
    let found: Vec<String> = watts.iter().map(|w| format!("{w} W")).collect();
    // Redundant supplies share the load: the largest nameplate is the comparable figure.
    let ok = watts.iter().max() == Some(&spec.psu_watts);
    item(check, label, declared, found.join(" + "), informational(ok))
}

#[cfg(test)]
#[path = "compare_tests.rs"]
mod tests;
