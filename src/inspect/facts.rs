//! What the inspector measured on a server (`ServerFacts`): plain types, with no knowledge of
//! how they are gathered ([`super::script`], [`super::gather`]) or parsed ([`super::parse`]).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};


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
