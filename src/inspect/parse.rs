//! Parsers for the sections the gathering script prints: each turns one command's output into
//! a typed fact, or says why the fact is unavailable. Pure functions, tested on captured output.

use std::collections::{BTreeMap, BTreeSet};

use serde::Deserialize;

use super::debversion::DebVersion;
use super::facts::{Board, Cpu, Disk, Fact, Listener, OsRelease, PackageManager, Packages, Privilege, ServerFacts};
use super::script::{END, NEEDS_ROOT, SECTION, STATUS};
use super::rpmversion::RpmVersion;

/// One section of the script's output: the command's stdout and its exit status.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Section {
    pub body: String,
    pub status: Option<i32>,
}

/// Splits the script's output into sections by name. `None` when the final section is missing
/// (the output was cut short).
pub fn sections(stdout: &str) -> Option<BTreeMap<String, Section>> {
    let mut out = BTreeMap::new();
    let mut current: Option<(String, String)> = None;
    for line in stdout.lines() {
        if let Some(name) = line.strip_prefix(SECTION).and_then(|r| r.strip_prefix(' ')) {
            current = Some((name.trim().to_string(), String::new()));
        } else if let Some(rc) = line.strip_prefix(STATUS).and_then(|r| r.strip_prefix(' ')) {
            if let Some((name, body)) = current.take() {
                out.insert(name, Section { body, status: rc.trim().parse().ok() });
            }
        } else if let Some((_, body)) = current.as_mut() {
            body.push_str(line);
            body.push('\n');
        }
    }
    out.contains_key(END).then_some(out)
}

/// Parses the whole output of the gathering script.
pub fn server_facts(stdout: &str) -> Option<ServerFacts> {
    let s = sections(stdout)?;
    Some(ServerFacts {
        hostname: fact(&s, "hostname", "uname -n", |b| Some(b.trim().to_string())),
        os: match fact(&s, "os-release", "/etc/os-release", os_release) {
            // An old RHEL-family system without os-release: its redhat-release says as much.
            Fact::Found(os) => Fact::Found(os),
            missing => match fact(&s, "redhat-release", "/etc/redhat-release", redhat_release) {
                Fact::Found(os) => Fact::Found(os),
                _ => missing,
            },
        },
        kernel: fact(&s, "kernel", "uname -r", |b| Some(b.trim().to_string())),
        cpu: fact(&s, "cpuinfo", "/proc/cpuinfo", cpuinfo),
        mem_total_kib: fact(&s, "meminfo", "/proc/meminfo", mem_total_kib),
        disks: fact(&s, "lsblk", "lsblk -J", lsblk),
        board: Board {
            vendor: fact(&s, "board_vendor", "/sys/class/dmi/id/board_vendor", dmi_value),
            name: fact(&s, "board_name", "/sys/class/dmi/id/board_name", dmi_value),
            serial: fact(&s, "product_serial", "/sys/class/dmi/id/product_serial", dmi_value),
        },
        psu_watts: fact(&s, "psu", "dmidecode -t 39", psu_watts),
        packages: fact(&s, "packages", "dpkg-query/rpm", packages),
        tcp_listeners: fact_may_be_empty(&s, "tcp", "ss -ltn", listeners),
        udp_listeners: fact_may_be_empty(&s, "udp", "ss -lun", listeners),
        privilege: fact(&s, "privilege", "id -u / sudo -n", privilege),
    })
}

/// The fact from section `name`, read from `source` (named in the reason when unavailable); an
/// empty section is unavailable.
fn fact<T>(sections: &BTreeMap<String, Section>, name: &str, source: &str, parse: impl Fn(&str) -> Option<T>) -> Fact<T> {
    fact_of(sections, name, source, false, parse)
}

/// As [`fact`], for sources where empty output is an answer (no listening sockets at all).
fn fact_may_be_empty<T>(sections: &BTreeMap<String, Section>, name: &str, source: &str, parse: impl Fn(&str) -> Option<T>) -> Fact<T> {
    fact_of(sections, name, source, true, parse)
}

fn fact_of<T>(sections: &BTreeMap<String, Section>, name: &str, source: &str, empty_ok: bool, parse: impl Fn(&str) -> Option<T>) -> Fact<T> {
    let Some(section) = sections.get(name) else {
        return Fact::Unavailable(format!("{source} tidak dikumpulkan"));
    };
    match section.status {
        Some(0) => {}
        Some(127) => return Fact::Unavailable(format!("{source} tidak ada di server")),
        Some(NEEDS_ROOT) => return Fact::NeedsRoot(format!("{source} perlu akses root (login bukan root, sudo -n tidak diizinkan)")),
        Some(rc) => return Fact::Unavailable(format!("{source} tidak dapat dibaca (status {rc})")),
        None => return Fact::Unavailable(format!("{source} tidak dapat dibaca")),
    }
    if !empty_ok && section.body.trim().is_empty() {
        return Fact::Unavailable(format!("{source} kosong"));
    }
    match parse(&section.body) {
        Some(v) => Fact::Found(v),
        None => Fact::Unavailable(format!("{source} tidak dapat diurai")),
    }
}

/// `KEY=value` lines; values may be quoted with `"` or `'` (os-release(5)).
pub fn os_release(body: &str) -> Option<OsRelease> {
    let mut fields = BTreeMap::new();
    for line in body.lines() {
        let Some((key, value)) = line.trim().split_once('=') else { continue };
        let value = value.trim();
        let unquoted = value
            .strip_prefix('"')
            .and_then(|v| v.strip_suffix('"'))
            .or_else(|| value.strip_prefix('\'').and_then(|v| v.strip_suffix('\'')))
            .unwrap_or(value);
        let unescaped = unquoted.replace("\\\"", "\"").replace("\\\\", "\\");
        fields.insert(key.trim().to_string(), unescaped);
    }
    let get = |k: &str| fields.get(k).filter(|v| !v.is_empty()).cloned();
    // os-release(5): NAME defaults to "Linux"; a file with neither NAME nor ID is not one.
    let name = get("NAME").or_else(|| get("ID").map(|_| "Linux".to_string()))?;
    Some(OsRelease {
        name,
        id: get("ID"),
        version_id: get("VERSION_ID"),
        version: get("VERSION"),
        pretty_name: get("PRETTY_NAME"),
        id_like: get("ID_LIKE"),
    })
}

/// `Rocky Linux release 9.4 (Blue Onyx)`, `CentOS Linux release 7.9.2009 (Core)`: the name, the
/// version and, from the name, an `ID_LIKE` of rhel.
pub fn redhat_release(body: &str) -> Option<OsRelease> {
    let line = body.lines().next()?.trim();
    let (name, rest) = line.split_once(" release ")?;
    let version = rest.split_whitespace().next()?.to_string();
    Some(OsRelease {
        name: name.to_string(),
        id: None,
        version_id: Some(version.clone()),
        version: Some(rest.to_string()),
        pretty_name: Some(line.to_string()),
        id_like: Some("rhel".into()),
    })
}

/// `root 0`, `sudo 1500`, `unprivileged 1500`.
pub fn privilege(body: &str) -> Option<Privilege> {
    let mut f = body.split_whitespace();
    let (kind, uid) = (f.next()?, f.next()?.parse().ok()?);
    match kind {
        "root" => Some(Privilege::Root),
        "sudo" => Some(Privilege::Sudo { uid }),
        "unprivileged" => Some(Privilege::Unprivileged { uid }),
        _ => None,
    }
}

/// Logical CPUs (`processor` lines), the first model name, and physical cores.
pub fn cpuinfo(body: &str) -> Option<Cpu> {
    let fields = || body.lines().filter_map(|l| l.split_once(':')).map(|(k, v)| (k.trim(), v.trim()));
    // x86 / MIPS / 32-bit ARM spell the model differently.
    let model = fields().find(|(k, v)| matches!(*k, "model name" | "cpu model" | "Processor") && !v.is_empty()).map(|(_, v)| v.to_string());
    let mut processors: Vec<BTreeMap<&str, &str>> = Vec::new();
    for (key, value) in fields() {
        if key == "processor" {
            processors.push(BTreeMap::new());
        }
        if let Some(p) = processors.last_mut() {
            p.entry(key).or_insert(value);
        }
    }
    if processors.is_empty() {
        return None;
    }
    // Only when every processor names its package and core (VMs and some arches do not).
    let cores: Option<BTreeSet<(&str, &str)>> = processors.iter().map(|p| Some((*p.get("physical id")?, *p.get("core id")?))).collect();
    let physical_cores = cores.map(|c| c.len() as u32);
    Some(Cpu { model, logical: processors.len() as u32, physical_cores })
}

/// `MemTotal:  24683656 kB`.
pub fn mem_total_kib(body: &str) -> Option<u64> {
    body.lines().find_map(|l| l.strip_prefix("MemTotal:")).and_then(|v| v.split_whitespace().next()).and_then(|n| n.parse().ok())
}

#[derive(Deserialize)]
struct LsblkOutput {
    blockdevices: Vec<LsblkDevice>,
}

#[derive(Deserialize)]
struct LsblkDevice {
    name: String,
    /// A number in util-linux ≥ 2.33, a string before.
    size: Option<NumberOrText>,
    #[serde(rename = "type")]
    kind: Option<String>,
    model: Option<String>,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum NumberOrText {
    Number(u64),
    Text(String),
}

/// Whole disks from `lsblk -J -b -d -o NAME,SIZE,TYPE,MODEL`. `zram` devices are compressed
/// RAM (swap), not storage, so they are left out.
pub fn lsblk(body: &str) -> Option<Vec<Disk>> {
    let out: LsblkOutput = serde_json::from_str(body).ok()?;
    let disks = out
        .blockdevices
        .into_iter()
        .filter(|d| d.kind.as_deref() == Some("disk") && !d.name.starts_with("zram"))
        .map(|d| {
            let size_bytes = match d.size {
                Some(NumberOrText::Number(n)) => n,
                Some(NumberOrText::Text(t)) => t.trim().parse().unwrap_or(0),
                None => 0,
            };
            let model = d.model.map(|m| m.trim().to_string()).filter(|m| !m.is_empty());
            Disk { name: d.name, size_bytes, model }
        })
        .collect();
    Some(disks)
}

/// Values firmware vendors leave in DMI fields they did not fill in.
const DMI_PLACEHOLDERS: &[&str] =
    &["default string", "to be filled by o.e.m.", "not specified", "not applicable", "system serial number", "none", "0123456789", "0"];

/// One `/sys/class/dmi/id` value; a vendor placeholder counts as not readable.
pub fn dmi_value(body: &str) -> Option<String> {
    let v = body.trim();
    (!v.is_empty() && !DMI_PLACEHOLDERS.contains(&v.to_ascii_lowercase().as_str())).then(|| v.to_string())
}

/// `Max Power Capacity: 500 W` lines of `dmidecode -t 39` (one per power supply).
pub fn psu_watts(body: &str) -> Option<Vec<u32>> {
    let watts: Vec<u32> = body
        .lines()
        .filter_map(|l| l.trim().strip_prefix("Max Power Capacity:"))
        .filter_map(|v| v.trim().strip_suffix('W').and_then(|n| n.trim().parse().ok()))
        .collect();
    (!watts.is_empty()).then_some(watts)
}

/// The first line names the manager (`dpkg` or `rpm`), then `name<TAB>version[<TAB>status]`.
/// For dpkg only packages whose status is `installed` count (not `rc`: removed, config left).
pub fn packages(body: &str) -> Option<Packages> {
    let mut lines = body.lines();
    let manager = match lines.next()?.trim() {
        "dpkg" => PackageManager::Dpkg,
        "rpm" => PackageManager::Rpm,
        _ => return None,
    };
    let mut installed: BTreeMap<String, String> = BTreeMap::new();
    for line in lines {
        let mut f = line.split('\t');
        let (Some(name), Some(version)) = (f.next(), f.next()) else { continue };
        let (name, version) = (name.trim(), version.trim());
        if name.is_empty() || version.is_empty() {
            continue;
        }
        if manager == PackageManager::Dpkg && f.next().and_then(|s| s.split_whitespace().nth(2)) != Some("installed") {
            continue;
        }
        // Multi-arch (dpkg) and multilib (rpm) list a package once per architecture: keep the newest.
        let newer = installed.get(name).is_none_or(|old| match manager {
            PackageManager::Dpkg => matches!((DebVersion::parse(old), DebVersion::parse(version)), (Ok(old), Ok(new)) if new > old),
            PackageManager::Rpm => matches!((RpmVersion::parse(old), RpmVersion::parse(version)), (Ok(old), Ok(new)) if new > old),
        });
        if newer {
            installed.insert(name.to_string(), version.to_string());
        }
    }
    Some(Packages { manager, installed })
}

/// `ss -l[tu]nH` lines: `State Recv-Q Send-Q Local:Port Peer:Port [Process]`. A header line (from
/// an `ss` too old for `-H`) is skipped. An empty section means no listener at all.
pub fn listeners(body: &str) -> Option<Vec<Listener>> {
    Some(
        body.lines()
            .filter_map(|line| {
                let fields: Vec<&str> = line.split_whitespace().collect();
                if fields.first().is_some_and(|f| *f == "State" || *f == "Netid") {
                    return None;
                }
                let (address, port) = fields.get(3)?.rsplit_once(':')?;
                Some(Listener { address: address.to_string(), port: port.parse().ok()? })
            })
            .collect(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The script's output on the lab's srv-lama (cpu flags and most of meminfo cut).
    const SRV_LAMA: &str = include_str!("testdata/srv-lama.txt");

    #[test]
    fn whole_output_of_a_lab_server() {
        let f = server_facts(SRV_LAMA).unwrap();
        assert_eq!(f.hostname, Fact::Found("srv-lama".into()));
        let os = f.os.found().unwrap();
        assert_eq!((os.name.as_str(), os.version_id.as_deref(), os.pretty_name.as_deref()), ("Ubuntu", Some("20.04"), Some("Ubuntu 20.04.6 LTS")));
        assert_eq!(os.version.as_deref(), Some("20.04.6 LTS (Focal Fossa)"));
        assert_eq!(f.kernel, Fact::Found("6.18.44-fc-v769".into()));
        assert_eq!(f.cpu, Fact::Found(Cpu { model: Some("Intel(R) Xeon(R) Processor".into()), logical: 2, physical_cores: Some(2) }));
        assert_eq!(f.mem_total_kib, Fact::Found(24_683_656));
        assert_eq!(f.disks, Fact::Found(vec![Disk { name: "vda".into(), size_bytes: 274_877_906_944, model: None }]));
        // No /sys/class/dmi/id and no dmidecode in the lab: unavailable, with the reason.
        assert_eq!(f.board.vendor.reason(), Some("/sys/class/dmi/id/board_vendor tidak dapat dibaca (status 1)"));
        assert!(!f.board.name.is_available() && !f.board.serial.is_available());
        assert_eq!(f.psu_watts.reason(), Some("dmidecode -t 39 tidak ada di server"));
        let p = f.packages.found().unwrap();
        assert_eq!(p.manager, PackageManager::Dpkg);
        assert_eq!(p.installed.get("nginx").map(String::as_str), Some("1.18.0-0ubuntu1.4"));
        assert_eq!(p.installed.get("openssh-server").map(String::as_str), Some("1:8.2p1-4ubuntu0.11"));
        assert!(!p.installed.contains_key("postgresql-14"));
        let tcp: Vec<u16> = f.tcp_listeners.found().unwrap().iter().map(|l| l.port).collect();
        assert_eq!(tcp, [80, 22]);
        // No UDP listener at all is an answer, not a missing fact.
        assert_eq!(f.udp_listeners, Fact::Found(vec![]));
    }

    #[test]
    fn cut_short_output_is_rejected() {
        let cut = &SRV_LAMA[..SRV_LAMA.find("@@kolokasi-section end").unwrap()];
        assert!(server_facts(cut).is_none());
        assert!(server_facts("").is_none());
    }

    #[test]
    fn os_release_quoting_and_defaults() {
        let os = os_release("NAME='Debian GNU/Linux'\nID=debian\nVERSION_ID=\"12\"\nPRETTY_NAME=\"Debian \\\"bookworm\\\"\"\n# comment\n").unwrap();
        assert_eq!((os.name.as_str(), os.id.as_deref(), os.version_id.as_deref()), ("Debian GNU/Linux", Some("debian"), Some("12")));
        assert_eq!(os.pretty_name.as_deref(), Some("Debian \"bookworm\""));
        assert_eq!(os_release("ID=alpine\n").unwrap().name, "Linux");
        assert!(os_release("garbage\n").is_none());
    }

    #[test]
    fn cpuinfo_without_topology_or_model() {
        // 64-bit ARM: no model name, no physical/core ids.
        let arm = "processor\t: 0\nBogoMIPS\t: 50.00\nCPU part\t: 0xd0c\n\nprocessor\t: 1\nBogoMIPS\t: 50.00\n";
        assert_eq!(cpuinfo(arm), Some(Cpu { model: None, logical: 2, physical_cores: None }));
        // Hyper-threading: 4 logical CPUs on 2 cores of one package.
        let ht: String = (0..4).map(|i| format!("processor : {i}\nmodel name : Xeon\nphysical id : 0\ncore id : {}\n\n", i % 2)).collect();
        assert_eq!(cpuinfo(&ht), Some(Cpu { model: Some("Xeon".into()), logical: 4, physical_cores: Some(2) }));
        assert_eq!(cpuinfo("nothing: here\n"), None);
    }

    #[test]
    fn lsblk_old_and_new_formats() {
        let old = r#"{"blockdevices": [
            {"name": "sda", "size": "480103981056", "type": "disk", "model": "SAMSUNG MZ7LH480  "},
            {"name": "sdb", "size": "480103981056", "type": "disk", "model": "SAMSUNG MZ7LH480"},
            {"name": "sr0", "size": "1073741312", "type": "rom", "model": "DVD-ROM"},
            {"name": "loop0", "size": "4096", "type": "loop", "model": null},
            {"name": "zram0", "size": "8589934592", "type": "disk", "model": null}]}"#;
        let disks = lsblk(old).unwrap();
        assert_eq!(disks.iter().map(|d| d.name.as_str()).collect::<Vec<_>>(), ["sda", "sdb"]);
        assert_eq!(disks[0].model.as_deref(), Some("SAMSUNG MZ7LH480"));
        assert_eq!(Disk::total_bytes(&disks), 960_207_962_112);
        assert!(lsblk("not json").is_none());
    }

    #[test]
    fn dmi_placeholders_and_psus() {
        assert_eq!(dmi_value("Supermicro\n"), Some("Supermicro".into()));
        assert_eq!(dmi_value("To Be Filled By O.E.M.\n"), None);
        assert_eq!(dmi_value("Default string"), None);
        let dmidecode = "System Power Supply\n\tPower Unit Group: 1\n\tLocation: PSU1\n\tMax Power Capacity: 500 W\n\n\
                         System Power Supply\n\tMax Power Capacity: Unknown\n\n\
                         System Power Supply\n\tMax Power Capacity: 500 W\n";
        assert_eq!(psu_watts(dmidecode), Some(vec![500, 500]));
        assert_eq!(psu_watts("# No SMBIOS nor DMI entry point found, sorry.\n"), None);
    }

    #[test]
    fn packages_dpkg_states_multiarch_and_rpm() {
        let dpkg = "dpkg\nnginx\t1.18.0-6ubuntu14.4\tinstall ok installed\napache2\t2.4.52-1ubuntu4\tdeinstall ok config-files\n\
                    libc6\t2.35-0ubuntu3.6\tinstall ok installed\nlibc6\t2.35-0ubuntu3.1\tinstall ok installed\nheld\t1.0\thold ok installed\n\
                    broken\t1.0\tinstall reinstreq half-installed\n";
        let p = packages(dpkg).unwrap();
        assert_eq!(p.installed.keys().map(String::as_str).collect::<Vec<_>>(), ["held", "libc6", "nginx"]);
        assert_eq!(p.installed["libc6"], "2.35-0ubuntu3.6");
        let rpm = packages("rpm\nnginx\t1.20.1-14.el9\nopenssl-libs\t3.0.7-24.el9\n").unwrap();
        assert_eq!((rpm.manager, rpm.installed["nginx"].as_str()), (PackageManager::Rpm, "1.20.1-14.el9"));
        assert!(packages("pacman\nx\t1\n").is_none());
    }

    #[test]
    fn ss_addresses_headers_and_interfaces() {
        let out = "State  Recv-Q Send-Q Local Address:Port Peer Address:PortProcess\n\
                   LISTEN 0 511 0.0.0.0:80 0.0.0.0:*\n\
                   LISTEN 0 511 [::]:443 [::]:*\n\
                   LISTEN 0 4096 127.0.0.53%lo:53 0.0.0.0:*\n\
                   LISTEN 0 128 *:8080 *:* users:((\"java\",pid=1,fd=3))\n";
        let l = listeners(out).unwrap();
        let got: Vec<(&str, u16)> = l.iter().map(|l| (l.address.as_str(), l.port)).collect();
        assert_eq!(got, [("0.0.0.0", 80), ("[::]", 443), ("127.0.0.53%lo", 53), ("*", 8080)]);
        assert_eq!(listeners(""), Some(vec![]));
    }

    #[test]
    fn a_failed_or_missing_section_is_unavailable_not_an_error() {
        let out = "@@kolokasi-section meminfo\n@@kolokasi-status 2\n\
                   @@kolokasi-section lsblk\n[]\n@@kolokasi-status 0\n\
                   @@kolokasi-section end\n@@kolokasi-status 0\n";
        let f = server_facts(out).unwrap();
        assert_eq!(f.mem_total_kib.reason(), Some("/proc/meminfo tidak dapat dibaca (status 2)"));
        assert_eq!(f.disks.reason(), Some("lsblk -J tidak dapat diurai"));
        assert_eq!(f.os.reason(), Some("/etc/os-release tidak dikumpulkan"));
    }
}
