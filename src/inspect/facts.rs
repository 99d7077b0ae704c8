//! What the inspector measured on a server (`ServerFacts`) and how it gathers it: one fixed
//! script, run with one command on the pooled SSH connection, printing one marked section per
//! source; [`super::parse`] turns each section into a typed fact.
//!
//! The script is constant text: nothing from a request, a form or the server's name is in it.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::InspectError;
use crate::ssh::{ExecLimits, RemoteCommand, SshPool, SshSettings, SshTarget};

/// One measured fact, or why it could not be read (no `/sys/class/dmi/id` in a container, no
/// `dmidecode`, a command missing or refused). An unavailable fact is reported, never an error.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Fact<T> {
    Found(T),
    Unavailable(String),
}

impl<T> Fact<T> {
    pub fn found(&self) -> Option<&T> {
        match self {
            Self::Found(v) => Some(v),
            Self::Unavailable(_) => None,
        }
    }

    pub fn is_available(&self) -> bool {
        matches!(self, Self::Found(_))
    }

    /// Why the fact is missing (`None` when it was found).
    pub fn reason(&self) -> Option<&str> {
        match self {
            Self::Found(_) => None,
            Self::Unavailable(r) => Some(r),
        }
    }
}

/// Everything the inspector gathers from one server.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServerFacts {
    /// `uname -n`.
    pub hostname: Fact<String>,
    pub os: Fact<OsRelease>,
    /// `uname -r`.
    pub kernel: Fact<String>,
    pub cpu: Fact<Cpu>,
    /// `MemTotal` of `/proc/meminfo`, in KiB (the kernel's "kB").
    pub mem_total_kib: Fact<u64>,
    /// Whole disks (`lsblk -d`, type `disk`), RAM-backed `zram` devices left out.
    pub disks: Fact<Vec<Disk>>,
    pub board: Board,
    /// Nameplate capacity of each power supply (`dmidecode -t 39`), in watts.
    pub psu_watts: Fact<Vec<u32>>,
    pub packages: Fact<Packages>,
    pub tcp_listeners: Fact<Vec<Listener>>,
    pub udp_listeners: Fact<Vec<Listener>>,
}

/// The fields of `/etc/os-release` the inspector uses.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OsRelease {
    /// `NAME` ("Ubuntu", "Debian GNU/Linux").
    pub name: String,
    /// `ID` ("ubuntu").
    pub id: Option<String>,
    /// `VERSION_ID` ("22.04").
    pub version_id: Option<String>,
    /// `VERSION` ("22.04.4 LTS (Jammy Jellyfish)").
    pub version: Option<String>,
    /// `PRETTY_NAME` ("Ubuntu 22.04.4 LTS").
    pub pretty_name: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Cpu {
    /// `model name` of the first processor; `None` on CPUs that do not report one.
    pub model: Option<String>,
    /// Logical CPUs (threads) the kernel sees.
    pub logical: u32,
    /// Distinct (`physical id`, `core id`) pairs, when the kernel reports them.
    pub physical_cores: Option<u32>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Disk {
    pub name: String,
    pub size_bytes: u64,
    pub model: Option<String>,
}

/// Motherboard and system identity from `/sys/class/dmi/id`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Board {
    pub vendor: Fact<String>,
    pub name: Fact<String>,
    /// `product_serial` (readable by root only).
    pub serial: Fact<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PackageManager {
    Dpkg,
    Rpm,
}

/// Installed packages by name, with their version (`[epoch:]upstream[-revision]` for dpkg,
/// `VERSION-RELEASE` for rpm).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Packages {
    pub manager: PackageManager,
    pub installed: BTreeMap<String, String>,
}

/// A listening socket: the local address as `ss` prints it (`0.0.0.0`, `[::]`, `*`,
/// `127.0.0.1%lo`) and the port.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Listener {
    pub address: String,
    pub port: u16,
}

impl Disk {
    pub fn total_bytes(disks: &[Disk]) -> u64 {
        disks.iter().map(|d| d.size_bytes).sum()
    }
}

/// Starts every section; `parse::sections` splits the output on these lines.
pub(super) const SECTION: &str = "@@kolokasi-section";
/// Ends every section, followed by the exit status of the section's command.
pub(super) const STATUS: &str = "@@kolokasi-status";
/// The last section; without it the output was cut short.
pub(super) const END: &str = "end";

/// The gathering script. Each `s NAME COMMAND…` prints `@@kolokasi-section NAME`, the command's
/// output, then `@@kolokasi-status RC`. Errors go to /dev/null: a missing source shows as a
/// non-zero status or an empty section, which the parser reports as unavailable.
pub(super) const SCRIPT: &str = r#"export LC_ALL=C
s() { n=$1; shift; printf '%s %s\n' '@@kolokasi-section' "$n"; "$@" 2>/dev/null; printf '\n%s %s\n' '@@kolokasi-status' "$?"; }
osrel() { cat /etc/os-release || cat /usr/lib/os-release; }
dmi() { cat "/sys/class/dmi/id/$1"; }
psu() { command -v dmidecode >/dev/null 2>&1 || return 127; dmidecode -q -t 39; }
pkgs() {
  if command -v dpkg-query >/dev/null 2>&1; then
    echo dpkg; dpkg-query -W -f='${Package}\t${Version}\t${Status}\n'
  elif command -v rpm >/dev/null 2>&1; then
    echo rpm; rpm -qa --qf '%{NAME}\t%{VERSION}-%{RELEASE}\n'
  else return 127; fi
}
tcp() { ss -ltnH || ss -ltn; }
udp() { ss -lunH || ss -lun; }
s hostname uname -n
s os-release osrel
s kernel uname -r
s cpuinfo cat /proc/cpuinfo
s meminfo cat /proc/meminfo
s lsblk lsblk -J -b -d -o NAME,SIZE,TYPE,MODEL
s board_vendor dmi board_vendor
s board_name dmi board_name
s product_serial dmi product_serial
s psu psu
s packages pkgs
s tcp tcp
s udp udp
s end true
"#;

/// The caps of the gathering command: what a healthy server prints is ~10-200 KiB (most of
/// it the package list) in well under a second.
pub const LIMITS: ExecLimits = ExecLimits { timeout: Duration::from_secs(60), max_output_bytes: SshSettings::MAX_OUTPUT_BYTES };

/// Gathers the facts of the server behind `target` with one command on the pool's connection,
/// within [`LIMITS`].
pub async fn gather(pool: &SshPool, target: &SshTarget) -> Result<ServerFacts, InspectError> {
    gather_limited(pool, target, LIMITS).await
}

/// As [`gather`], within `limits`: a server that streams endlessly or hangs fails with
/// "output too large from <server>, `inspection script`" or a timeout, never exhausting memory.
pub async fn gather_limited(pool: &SshPool, target: &SshTarget, limits: ExecLimits) -> Result<ServerFacts, InspectError> {
    let command = RemoteCommand::new("sh").arg("-c").arg(SCRIPT).named("inspection script");
    let out = pool.exec_limited(target, &command, None, limits).await.map_err(InspectError::Ssh)?;
    super::parse::server_facts(&out.stdout).ok_or_else(|| InspectError::Incomplete {
        device: target.name.clone(),
        status: out.status_text(),
        stderr: out.stderr.trim().chars().take(500).collect(),
    })
}
