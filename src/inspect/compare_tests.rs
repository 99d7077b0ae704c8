//! Unit tests of the comparison rules on hand-made facts.

use std::collections::BTreeMap;

use super::*;
use crate::domain::RequestForm;
use crate::inspect::facts::{Board, Cpu, Listener, OsRelease, PackageManager, Packages};

fn sample_spec() -> ServerSpec {
    let form = RequestForm::from_yaml(include_str!("../../deploy/examples/colocation-request.yaml")).unwrap();
    form.servers.into_iter().next().unwrap()
}

fn found<T>(v: T) -> Fact<T> {
    Fact::Found(v)
}

fn listen(port: u16) -> Listener {
    Listener { address: "0.0.0.0".into(), port }
}

/// A server that matches the sample spec in every respect.
fn conforming() -> ServerFacts {
    let packages = [("nginx", "1.18.0-6ubuntu14.4"), ("postgresql-14", "14.11-0ubuntu0.22.04.1"), ("php8.1-fpm", "8.1.2-1ubuntu2.14")];
    ServerFacts {
        hostname: found("srv-sipd".into()),
        os: found(OsRelease {
            name: "Ubuntu".into(),
            id: Some("ubuntu".into()),
            version_id: Some("22.04".into()),
            version: Some("22.04.4 LTS (Jammy Jellyfish)".into()),
            pretty_name: Some("Ubuntu 22.04.4 LTS".into()),
            id_like: Some("debian".into()),
        }),
        kernel: found("5.15.0-105-generic".into()),
        cpu: found(Cpu { model: Some("Intel(R) Xeon(R) Silver 4310 CPU @ 2.10GHz".into()), logical: 24, physical_cores: Some(12) }),
        // 64 GiB of DIMMs as the kernel reports it (~2% kept by firmware and kernel).
        mem_total_kib: found(65_776_000),
        disks: found(vec![
            Disk { name: "sda".into(), size_bytes: 960_197_124_096, model: Some("SAMSUNG MZ7LH960".into()) },
            Disk { name: "sdb".into(), size_bytes: 960_197_124_096, model: Some("SAMSUNG MZ7LH960".into()) },
        ]),
        board: Board { vendor: found("Supermicro".into()), name: found("X12SPi-TF".into()), serial: found("S41234567".into()) },
        psu_watts: found(vec![500, 500]),
        packages: found(Packages {
            manager: PackageManager::Dpkg,
            installed: packages.iter().map(|(n, v)| (n.to_string(), v.to_string())).collect::<BTreeMap<_, _>>(),
        }),
        tcp_listeners: found(vec![listen(22), listen(80), Listener { address: "[::]".into(), port: 443 }]),
        udp_listeners: found(vec![]),
        privilege: found(crate::inspect::Privilege::Root),
    }
}

fn failing(report: &Report) -> Vec<Check> {
    report.failures().map(|i| i.check.clone()).collect()
}

fn verdict(report: &Report, check: Check) -> Verdict {
    report.item(&check).unwrap_or_else(|| panic!("no item {check:?}")).verdict
}

#[test]
fn a_conforming_server_passes_every_item() {
    let r = compare(&sample_spec(), &conforming(), &Rules::default());
    assert!(r.passed(), "{r}");
    assert!(r.items.iter().all(|i| i.verdict == Verdict::Pass), "{r}");
    // 9 fixed checks + 3 applications + 2 services.
    assert_eq!(r.items.len(), 14);
    assert_eq!(r.item(&Check::Ram).unwrap().found, "62.7 GB (MemTotal 65776000 kB; minimal 57.6 GB = 90%; 1 GB = 2^30 byte)");
    assert_eq!(r.item(&Check::Storage).unwrap().found, "1920.4 GB (sda 960.2 GB, sdb 960.2 GB; 1 GB = 10^9 byte)");
    assert_eq!(r.item(&Check::Service("tcp/443".into())).unwrap().found, "mendengarkan di [::]:443");
}

#[test]
fn every_required_mismatch_fails_its_own_item_only() {
    let spec = sample_spec();
    let mut f = conforming();
    f.os = found(OsRelease {
        name: "Ubuntu".into(),
        id: Some("ubuntu".into()),
        version_id: Some("20.04".into()),
        version: Some("20.04.6 LTS (Focal Fossa)".into()),
        pretty_name: Some("Ubuntu 20.04.6 LTS".into()),
        id_like: Some("debian".into()),
    });
    f.cpu = found(Cpu { model: Some("AMD EPYC 7313".into()), logical: 8, physical_cores: Some(8) });
    f.mem_total_kib = found(32_000_000);
    f.disks = found(vec![Disk { name: "sda".into(), size_bytes: 480_103_981_056, model: None }]);
    if let Fact::Found(p) = &mut f.packages {
        p.installed.remove("postgresql-14");
        p.installed.insert("nginx".into(), "1.14.0-0ubuntu1".into());
    }
    f.tcp_listeners = found(vec![listen(22), listen(80)]);
    let r = compare(&spec, &f, &Rules::default());
    assert_eq!(
        failing(&r),
        [
            Check::OsVersion,
            Check::CpuCount,
            Check::Ram,
            Check::Storage,
            Check::Application("nginx".into()),
            Check::Application("postgresql-14".into()),
            Check::Service("tcp/443".into())
        ],
        "{r}"
    );
    assert_eq!(verdict(&r, Check::Processor), Verdict::Differs);
    assert_eq!(r.item(&Check::Application("postgresql-14".into())).unwrap().found, "tidak terpasang");
    assert_eq!(r.item(&Check::Service("tcp/443".into())).unwrap().found, "tidak ada yang mendengarkan di port 443");
}

#[test]
fn informational_items_never_fail() {
    let mut f = conforming();
    f.hostname = found("web01.example".into());
    f.cpu = found(Cpu { model: Some("Intel(R) Xeon(R) Processor".into()), logical: 24, physical_cores: None });
    f.board = Board { vendor: found("Dell Inc.".into()), name: found("0X8DXD".into()), serial: Fact::Unavailable("x".into()) };
    f.psu_watts = found(vec![750]);
    let r = compare(&sample_spec(), &f, &Rules::default());
    assert!(r.passed(), "{r}");
    for check in [Check::Hostname, Check::Processor, Check::Motherboard, Check::Psu] {
        assert_eq!(verdict(&r, check), Verdict::Differs);
    }
    // And when DMI cannot be read at all (VMs, containers, no dmidecode): unavailable.
    f.board = Board { vendor: Fact::Unavailable("a".into()), name: Fact::Unavailable("b".into()), serial: Fact::Unavailable("c".into()) };
    f.psu_watts = Fact::Unavailable("dmidecode -t 39 tidak ada di server".into());
    let r = compare(&sample_spec(), &f, &Rules::default());
    assert!(r.passed());
    assert_eq!(verdict(&r, Check::Motherboard), Verdict::Unavailable);
    assert_eq!(r.item(&Check::Psu).unwrap().found, "tidak tersedia: dmidecode -t 39 tidak ada di server");
}

#[test]
fn required_facts_that_cannot_be_read_fail() {
    let mut f = conforming();
    f.packages = Fact::Unavailable("dpkg-query/rpm tidak ada di server".into());
    f.tcp_listeners = Fact::Unavailable("ss -ltn tidak ada di server".into());
    let r = compare(&sample_spec(), &f, &Rules::default());
    assert_eq!(failing(&r).len(), 5, "{r}");
    assert_eq!(r.item(&Check::Application("nginx".into())).unwrap().found, "tidak dapat diperiksa: dpkg-query/rpm tidak ada di server");
}

#[test]
fn ram_tolerance() {
    let mut spec = sample_spec();
    spec.ram_gb = 64;
    let mut f = conforming();
    // 57.6 GiB is exactly 90% of 64 GiB.
    f.mem_total_kib = found(60_397_978); // 57.6 GiB, rounded up to the next kB
    assert_eq!(verdict(&compare(&spec, &f, &Rules::default()), Check::Ram), Verdict::Pass);
    f.mem_total_kib = found(60_397_976);
    assert_eq!(verdict(&compare(&spec, &f, &Rules::default()), Check::Ram), Verdict::Fail);
    assert_eq!(verdict(&compare(&spec, &f, &Rules { ram_tolerance_percent: 20 }), Check::Ram), Verdict::Pass);
    assert_eq!(verdict(&compare(&spec, &f, &Rules { ram_tolerance_percent: 0 }), Check::Ram), Verdict::Fail);
    assert_eq!(verdict(&compare(&spec, &f, &Rules { ram_tolerance_percent: 255 }), Check::Ram), Verdict::Pass);
}

#[test]
fn os_name_and_version_rules() {
    let os = |name: &str, id: &str, version_id: &str, version: &str| OsRelease {
        name: name.into(),
        id: Some(id.into()),
        version_id: Some(version_id.into()),
        version: Some(version.into()),
        pretty_name: None,
        id_like: None,
    };
    let check = |declared_name: &str, declared_version: &str, facts_os: OsRelease| {
        let mut spec = sample_spec();
        spec.os.name = crate::domain::Text::parse(declared_name).unwrap();
        spec.os.version = crate::domain::Text::parse(declared_version).unwrap();
        let mut f = conforming();
        f.os = found(facts_os);
        let r = compare(&spec, &f, &Rules::default());
        (verdict(&r, Check::OsName), verdict(&r, Check::OsVersion))
    };
    use Verdict::{Fail, Pass};
    let jammy = || os("Ubuntu", "ubuntu", "22.04", "22.04.4 LTS (Jammy Jellyfish)");
    assert_eq!(check("ubuntu", "22.04", jammy()), (Pass, Pass));
    assert_eq!(check("UBUNTU", "22", jammy()), (Pass, Pass));
    assert_eq!(check("Ubuntu", "22.04.4", jammy()), (Pass, Pass));
    assert_eq!(check("Ubuntu", "22.04.3", jammy()), (Pass, Fail));
    assert_eq!(check("Ubuntu", "22.0", jammy()), (Pass, Fail));
    assert_eq!(check("Ubuntu", "2", jammy()), (Pass, Fail));
    assert_eq!(check("Debian", "12", os("Debian GNU/Linux", "debian", "12", "12 (bookworm)")), (Pass, Pass));
    assert_eq!(check("Rocky", "9.3", os("Rocky Linux", "rocky", "9.3", "9.3 (Blue Onyx)")), (Pass, Pass));
    assert_eq!(check("Ubuntu", "22.04", os("Debian GNU/Linux", "debian", "12", "12 (bookworm)")), (Fail, Fail));
    assert_eq!(check("Deb", "12", os("Debian GNU/Linux", "debian", "12", "12 (bookworm)")).0, Fail);
}

#[test]
fn version_constraints_at_declared_precision() {
    let c = |s: &str| s.parse::<VersionConstraint>().unwrap();
    let cases = [
        ("1.18.0-6ubuntu14.4", ">= 1.18", true),
        ("1.18.0-6ubuntu14.4", ">= 1.20", false),
        ("1.18.0-6ubuntu14.4", "<= 1.18", true),
        ("1.18.0-6ubuntu14.4", "= 1.18", true),
        ("1.18.0-6ubuntu14.4", "> 1.18", false),
        ("1.18.0-6ubuntu14.4", "< 1.19", true),
        ("1.18.0-6ubuntu14.4", "= 1.18.0-6ubuntu14.4", true),
        ("1.18.0-6ubuntu14.4", ">= 1.18.0-7", false),
        ("14.11-0ubuntu0.22.04.1", ">= 14", true),
        ("14.11-0ubuntu0.22.04.1", "= 14", true),
        ("14.11-0ubuntu0.22.04.1", "= 14.11", true),
        ("14.11-0ubuntu0.22.04.1", "= 14.1", false),
        ("14.11-0ubuntu0.22.04.1", "< 15", true),
        // The packaging epoch does not make openssh 8.9 newer than upstream 9.
        ("1:8.9p1-3ubuntu0.6", ">= 9", false),
        ("1:8.9p1-3ubuntu0.6", ">= 8.9", true),
        ("1:8.9p1-3ubuntu0.6", ">= 1:8.9p1-3", true),
        ("1.20~rc1-1", ">= 1.20", false),
        ("8.1.2-1ubuntu2.14", "*", true),
        ("8.1.2-1ubuntu2.14", ">= 8.1.10", false),
        ("1.20.1-14.el9", ">= 1.20", true),
    ];
    for (installed, constraint, want) in cases {
        assert_eq!(version_satisfies(installed, &c(constraint)), want, "{installed} {constraint}");
    }
    assert!(!version_satisfies("", &c(">= 1")));
}

#[test]
fn failing_items_come_first_in_the_text() {
    let mut f = conforming();
    f.tcp_listeners = found(vec![listen(80)]);
    let r = compare(&sample_spec(), &f, &Rules::default());
    let text = r.text_failures_first();
    let third = text.lines().nth(3).unwrap();
    assert!(third.starts_with("Layanan tcp/443") && third.ends_with("Tidak sesuai"), "{text}");
}

/// rpm versions by rpm's order: epochs, releases, `~`; a plain constraint cuts the version.
#[test]
fn rpm_versions_follow_rpmvercmp() {
    use crate::inspect::compare::version_satisfies_in;
    let ok = |installed: &str, constraint: &str| version_satisfies_in(PackageManager::Rpm, installed, &constraint.parse().unwrap());
    assert!(ok("1:1.20.1-14.el9_2.1", ">= 1.20"));
    assert!(ok("1:1.20.1-14.el9_2.1", "= 1.20"));
    assert!(!ok("1:1.20.1-14.el9_2.1", ">= 1.22"));
    assert!(ok("1:1.20.1-14.el9_2.1", "> 0:1.22.0-1.el9"), "the epoch wins");
    assert!(!ok("13.14-1.el9_3", ">= 14"));
    assert!(ok("8.7p1-38.el9", ">= 8.7p1-34.el9_3.3"));
    assert!(ok("2.0~rc1-1", "< 2.0"));
    assert!(ok("anything", "*"));
    assert!(!ok("", ">= 1"));
}

/// A login without root: facts only root reads are unavailable ("perlu root"), on required and
/// informational items alike; nothing fails for it.
#[test]
fn facts_needing_root_are_unavailable_not_failed() {
    let spec = sample_spec();
    let mut f = conforming();
    let why = "x perlu akses root (login bukan root, sudo -n tidak diizinkan)".to_string();
    f.psu_watts = Fact::NeedsRoot(why.clone());
    f.board.serial = Fact::NeedsRoot(why.clone());
    f.tcp_listeners = Fact::NeedsRoot(why.clone());
    let report = compare(&spec, &f, &Rules::default());
    assert!(report.passed(), "{report}");
    assert_eq!(verdict(&report, Check::Psu), Verdict::Unavailable);
    let https = report.item(&Check::Service("tcp/443".into())).unwrap();
    assert_eq!((https.verdict, https.found.as_str()), (Verdict::Unavailable, format!("tidak tersedia (perlu root): {why}").as_str()));
    // Unreadable for another reason: still a failure.
    f.tcp_listeners = Fact::Unavailable("ss -ltn tidak ada di server".into());
    assert_eq!(verdict(&compare(&spec, &f, &Rules::default()), Check::Service("tcp/443".into())), Verdict::Fail);
}
