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
    /// Readable by root only, and the login is neither root nor allowed `sudo -n` (the reason
    /// names the source and says "perlu akses root").
    NeedsRoot(String),
}

impl<T> Fact<T> {
    pub fn found(&self) -> Option<&T> {
        match self {
            Self::Found(v) => Some(v),
            Self::Unavailable(_) | Self::NeedsRoot(_) => None,
        }
    }

    pub fn needs_root(&self) -> bool {
        matches!(self, Self::NeedsRoot(_))
    }

    pub fn is_available(&self) -> bool {
        matches!(self, Self::Found(_))
    }

    /// Why the fact is missing (`None` when it was found).
    pub fn reason(&self) -> Option<&str> {
        match self {
            Self::Found(_) => None,
            Self::Unavailable(r) | Self::NeedsRoot(r) => Some(r),
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
    /// How privileged the login was: root facts are read directly, through `sudo -n`, or not.
    #[serde(default = "unknown_privilege")]
    pub privilege: Fact<Privilege>,
}

fn unknown_privilege() -> Fact<Privilege> {
    Fact::Unavailable("tidak dikumpulkan".into())
}

/// Who the inspection ran as, as the script found out (`id -u`, then `sudo -n true`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "as")]
pub enum Privilege {
    Root,
    /// Not root, but `sudo -n` works: root-only sources are read through it.
    Sudo { uid: u32 },
    /// Not root and no password-less sudo (none installed, or it asks for a password):
    /// root-only sources are reported [`Fact::NeedsRoot`].
    Unprivileged { uid: u32 },
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
    /// `ID_LIKE` ("rhel centos fedora" on Rocky Linux).
    #[serde(default)]
    pub id_like: Option<String>,
}

impl OsRelease {
    /// A RHEL-family system: `ID` or `ID_LIKE` names rhel, centos or fedora.
    pub fn is_rhel_like(&self) -> bool {
        let words = self.id.iter().chain(&self.id_like).flat_map(|s| s.split_whitespace());
        words.into_iter().any(|w| matches!(w, "rhel" | "centos" | "fedora"))
    }
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
/// `[EPOCH:]VERSION-RELEASE` for rpm), each ordered by its manager's rules.
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

/// Exit status of a root-only source the login may not read (sysexits' `EX_NOPERM`).
pub(super) const NEEDS_ROOT: i32 = 77;

/// The gathering script. Each `s NAME COMMAND…` prints `@@kolokasi-section NAME`, the command's
/// output, then `@@kolokasi-status RC`. Errors go to /dev/null: a missing source shows as a
/// non-zero status or an empty section, which the parser reports as unavailable.
///
/// Root-only sources (`product_serial`, `dmidecode`) run through `asroot`: directly as root,
/// through `sudo -n` when that works without a password, else not at all (status 77, reported
/// "needs root"; for `dmidecode` even when it is not installed, since root is what is missing
/// first). Everything else is readable by any user and runs as the login.
/// Packages: rpm on a RHEL-family system (`/etc/redhat-release`, or rhel/centos/fedora in
/// os-release's `ID`/`ID_LIKE`), else dpkg, else rpm.
pub(super) const SCRIPT: &str = r#"export LC_ALL=C
s() { n=$1; shift; printf '%s %s\n' '@@kolokasi-section' "$n"; "$@" 2>/dev/null; printf '\n%s %s\n' '@@kolokasi-status' "$?"; }
uid=$(id -u)
if [ "$uid" = 0 ]; then priv=root; asroot() { "$@"; }
elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null </dev/null; then priv=sudo; asroot() { sudo -n "$@" </dev/null; }
else priv=unprivileged; asroot() { return 77; }; fi
privilege() { echo "$priv $uid"; }
osrel() { cat /etc/os-release || cat /usr/lib/os-release; }
dmi() { cat "/sys/class/dmi/id/$1"; }
psu() { [ "$priv" = unprivileged ] && return 77; command -v dmidecode >/dev/null 2>&1 || return 127; asroot dmidecode -q -t 39; }
rhel() { [ -e /etc/redhat-release ] || grep -Eqs '^(ID|ID_LIKE)=.*(rhel|centos|fedora)' /etc/os-release; }
rpms() { echo rpm; rpm -qa --qf '%{NAME}\t%|EPOCH?{%{EPOCH}:}:{}|%{VERSION}-%{RELEASE}\n'; }
pkgs() {
  if rhel && command -v rpm >/dev/null 2>&1; then rpms
  elif command -v dpkg-query >/dev/null 2>&1; then
    echo dpkg; dpkg-query -W -f='${Package}\t${Version}\t${Status}\n'
  elif command -v rpm >/dev/null 2>&1; then rpms
  else return 127; fi
}
tcp() { ss -ltnH || ss -ltn; }
udp() { ss -lunH || ss -lun; }
s hostname uname -n
s privilege privilege
s os-release osrel
s redhat-release cat /etc/redhat-release
s kernel uname -r
s cpuinfo cat /proc/cpuinfo
s meminfo cat /proc/meminfo
s lsblk lsblk -J -b -d -o NAME,SIZE,TYPE,MODEL
s board_vendor dmi board_vendor
s board_name dmi board_name
s product_serial asroot cat /sys/class/dmi/id/product_serial
s psu psu
s packages pkgs
s tcp tcp
s udp udp
s end true
"#;

/// The caps of the gathering command: what a healthy server prints is ~10-200 KiB (most of
/// it the package list) in well under a second.
pub const LIMITS: ExecLimits = ExecLimits { timeout: Duration::from_secs(60), max_output_bytes: SshSettings::MAX_OUTPUT_BYTES };

/// The one command that gathers the facts (constant text; the benchmarks time it on its own).
pub fn command() -> RemoteCommand {
    RemoteCommand::new("sh").arg("-c").arg(SCRIPT).named("inspection script")
}

/// Gathers the facts of the server behind `target` with one command on the pool's connection,
/// within [`LIMITS`].
pub async fn gather(pool: &SshPool, target: &SshTarget) -> Result<ServerFacts, InspectError> {
    gather_limited(pool, target, LIMITS).await
}

/// As [`gather`], within `limits`: a server that streams endlessly or hangs fails with
/// "output too large from <server>, `inspection script`" or a timeout, never exhausting memory.
pub async fn gather_limited(pool: &SshPool, target: &SshTarget, limits: ExecLimits) -> Result<ServerFacts, InspectError> {
    let command = command();
    let out = pool.exec_limited(target, &command, None, limits).await.map_err(InspectError::Ssh)?;
    super::parse::server_facts(&out.stdout).ok_or_else(|| InspectError::Incomplete {
        device: target.name.clone(),
        status: out.status_text(),
        stderr: out.stderr.trim().chars().take(500).collect(),
    })
}
