//! The server table of the berita acara and the asset register: each cell the value the
//! inspector MEASURED on the server, with the declared value beside it where the two differ.
//!
//! Measured values come from the inspection step's saved `facts`; when a fact could not be read
//! (no DMI in a container, no `dmidecode`) the cell says so and shows the declared value.

use serde::Serialize;

use crate::domain::ServerSpec;
use crate::inspect::ServerFacts;

/// One cell: what was measured, what was declared, and whether they differ.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Cell {
    /// The measured value, or `None` when it could not be read.
    pub measured: Option<String>,
    pub declared: String,
    pub differs: bool,
}

/// One row of the table (Nama Server, Prosesor, RAM, Motherboard, Storage, PSU).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ServerRow {
    pub name: String,
    /// The host name the server reported, when measured.
    pub hostname: Option<String>,
    pub os: Cell,
    pub processor: Cell,
    pub ram: Cell,
    pub motherboard: Cell,
    pub storage: Cell,
    pub psu: Cell,
    /// Whether the row is filled from an inspection at all.
    pub inspected: bool,
}

fn cell(measured: Option<String>, declared: String, same: impl Fn(&str) -> bool) -> Cell {
    let differs = measured.as_deref().is_some_and(|m| !same(m));
    Cell { measured, declared, differs }
}

fn gib(kib: u64) -> f64 {
    kib as f64 / (1024.0 * 1024.0)
}

/// Declared and measured figures agree within `percent` (RAM: the kernel reserves some; disks:
/// vendors count in 10^9).
fn close(measured: f64, declared: f64, percent: f64) -> bool {
    declared > 0.0 && ((measured - declared).abs() / declared) * 100.0 <= percent
}

fn contains_ci(haystack: &str, needle: &str) -> bool {
    haystack.to_lowercase().contains(&needle.trim().to_lowercase())
}

/// The row for one declared server, filled from its facts when it was inspected.
pub fn server_row(spec: &ServerSpec, facts: Option<&ServerFacts>) -> ServerRow {
    let declared_processor = format!("{} ({} core)", spec.processor, spec.cpu_cores);
    let declared_ram = format!("{} GB", spec.ram_gb);
    let declared_storage = match &spec.storage {
        Some(s) => format!("{} GB ({s})", spec.storage_gb),
        None => format!("{} GB", spec.storage_gb),
    };
    let declared_psu = format!("{} W", spec.psu_watts);
    let declared_os = format!("{} {}", spec.os.name, spec.os.version);
    let Some(f) = facts else {
        let none = |d: String| Cell { measured: None, declared: d, differs: false };
        return ServerRow {
            name: spec.name.to_string(),
            hostname: None,
            os: none(declared_os),
            processor: none(declared_processor),
            ram: none(declared_ram),
            motherboard: none(spec.motherboard.to_string()),
            storage: none(declared_storage),
            psu: none(declared_psu),
            inspected: false,
        };
    };

    let os = f.os.found().map(|o| o.pretty_name.clone().unwrap_or_else(|| format!("{} {}", o.name, o.version_id.as_deref().unwrap_or(""))));
    let cpu = f.cpu.found().map(|c| {
        let cores = c.physical_cores.map(|p| format!("{p} core, ")).unwrap_or_default();
        format!("{} ({cores}{} thread)", c.model.as_deref().unwrap_or("unknown model"), c.logical)
    });
    let cpu_count = f.cpu.found().map(|c| c.physical_cores.unwrap_or(c.logical));
    let ram_gib = f.mem_total_kib.found().map(|k| gib(*k));
    let board = match (f.board.vendor.found(), f.board.name.found()) {
        (Some(v), Some(n)) => Some(format!("{v} {n}")),
        (None, Some(n)) => Some(n.clone()),
        _ => None,
    };
    let disks = f.disks.found().filter(|d| !d.is_empty());
    let storage_gb = disks.map(|d| d.iter().map(|x| x.size_bytes).sum::<u64>() as f64 / 1e9);
    let storage = disks.map(|d| {
        let total = d.iter().map(|x| x.size_bytes).sum::<u64>() as f64 / 1e9;
        format!("{total:.0} GB ({} disk)", d.len())
    });
    let psus = f.psu_watts.found().filter(|p| !p.is_empty());
    let psu = psus.map(|p| if p.len() == 1 { format!("{} W", p[0]) } else { format!("{} × {} W", p.len(), p[0]) });

    ServerRow {
        name: spec.name.to_string(),
        hostname: f.hostname.found().cloned(),
        os: cell(os, declared_os.clone(), |m| contains_ci(m, spec.os.name.as_str()) && contains_ci(m, spec.os.version.as_str())),
        processor: {
            let same_model = |m: &str| contains_ci(m, spec.processor.as_str());
            let c = cell(cpu, declared_processor, same_model);
            Cell { differs: c.differs || cpu_count.is_some_and(|n| n != u32::from(spec.cpu_cores)), ..c }
        },
        ram: cell(ram_gib.map(|g| format!("{g:.1} GB")), declared_ram, |_| ram_gib.is_some_and(|g| close(g, f64::from(spec.ram_gb), 10.0))),
        motherboard: cell(board, spec.motherboard.to_string(), |m| contains_ci(m, spec.motherboard.as_str())),
        storage: cell(storage, declared_storage, |_| storage_gb.is_some_and(|g| close(g, f64::from(spec.storage_gb), 10.0))),
        psu: cell(psu, declared_psu, |_| psus.is_some_and(|p| p.iter().all(|w| *w == spec.psu_watts))),
        inspected: true,
    }
}
