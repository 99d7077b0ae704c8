//! Server inspection (SOP step 8) against the lab's customer servers: srv-sipd (Ubuntu 22.04 with
//! nginx, PostgreSQL 14, PHP-FPM, listening on 80 and 443) and srv-lama (Ubuntu 20.04, nginx only,
//! port 80 only). Both are namespaces on this machine, so CPU, RAM and disks are the machine's
//! own: the declared specs here are built from what this machine has, measured locally.
//! Needs the lab (`bash deploy/lab/lab.sh up`); without it every test fails and says so.

mod common;

use kolokasi::domain::{HardwareReceipt, RequestForm, RequestId, ServerSpec};
use kolokasi::engine::{ActionCtx, Drivers, Env, Outcome};
use kolokasi::inspect::{self, Check, Fact, Report, Rules, ServerFacts, Verdict};
use kolokasi::lab::Lab;
use kolokasi::lifecycle::State;
use kolokasi::secrets::Secret;
use kolokasi::service::{ApproveInput, Command};
use kolokasi::ssh::HostKey;
use kolokasi::store::RequestRow;
use serde_json::json;

fn drivers() -> Drivers {
    let lab = Lab::load().unwrap_or_else(|e| panic!("{e}"));
    Drivers::from_lab(&lab).unwrap_or_else(|e| panic!("{e}"))
}

fn sample_spec() -> ServerSpec {
    let form = RequestForm::from_yaml(include_str!("../deploy/examples/colocation-request.yaml")).unwrap();
    form.servers.into_iter().next().unwrap()
}

/// This machine's logical CPUs, RAM in whole GiB and disk in whole GB, read here (not over SSH).
struct Machine {
    cpus: u16,
    mem_kib: u64,
    disk_bytes: u64,
}

fn this_machine() -> Machine {
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap();
    let cpus = cpuinfo.lines().filter(|l| l.split(':').next().is_some_and(|k| k.trim() == "processor")).count() as u16;
    let meminfo = std::fs::read_to_string("/proc/meminfo").unwrap();
    let mem_kib = meminfo.lines().find_map(|l| l.strip_prefix("MemTotal:")).unwrap().trim().trim_end_matches("kB").trim().parse().unwrap();
    let out = std::process::Command::new("lsblk").args(["-J", "-b", "-d", "-o", "NAME,SIZE,TYPE"]).output().unwrap();
    let disks: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let disk_bytes = disks["blockdevices"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|d| d["type"] == "disk" && !d["name"].as_str().unwrap().starts_with("zram"))
        .map(|d| d["size"].as_u64().or_else(|| d["size"].as_str().and_then(|s| s.parse().ok())).unwrap())
        .sum();
    Machine { cpus, mem_kib, disk_bytes }
}

/// The sample spec with CPU, RAM and storage this machine meets.
fn spec_this_machine_meets() -> ServerSpec {
    let m = this_machine();
    let mut spec = sample_spec();
    spec.cpu_cores = m.cpus;
    spec.ram_gb = (m.mem_kib >> 20) as u32; // whole GiB, at or under MemTotal
    spec.storage_gb = (m.disk_bytes / 1_000_000_000) as u32;
    spec
}

async fn facts_of(d: &Drivers, server: &str) -> ServerFacts {
    inspect::gather(&d.ssh, &d.servers[server]).await.unwrap_or_else(|e| panic!("gathering {server}: {e:?}"))
}

fn failing(r: &Report) -> Vec<Check> {
    r.failures().map(|i| i.check.clone()).collect()
}

fn verdict(r: &Report, check: Check) -> Verdict {
    r.item(&check).unwrap_or_else(|| panic!("no item {check:?} in\n{r}")).verdict
}

#[tokio::test]
async fn srv_sipd_matches_a_spec_it_really_meets() {
    let d = drivers();
    let facts = facts_of(&d, "srv-sipd").await;
    let spec = spec_this_machine_meets();
    let report = inspect::compare(&spec, &facts, &Rules::default());
    eprintln!("{report}");
    assert!(report.passed(), "{report}");

    // Every check has its item, in this order.
    let checks: Vec<Check> = report.items.iter().map(|i| i.check.clone()).collect();
    let app = |n: &str| Check::Application(n.into());
    let svc = |s: &str| Check::Service(s.into());
    assert_eq!(
        checks,
        [
            Check::Hostname,
            Check::OsName,
            Check::OsVersion,
            Check::Processor,
            Check::CpuCount,
            Check::Ram,
            Check::Storage,
            Check::Motherboard,
            Check::Psu,
            app("nginx"),
            app("postgresql-14"),
            app("php8.1-fpm"),
            svc("tcp/80"),
            svc("tcp/443"),
        ]
    );
    for required in [Check::Hostname, Check::OsName, Check::OsVersion, Check::CpuCount, Check::Ram, Check::Storage, app("nginx"), svc("tcp/443")] {
        assert_eq!(verdict(&report, required), Verdict::Pass, "{report}");
    }
    // The lab has no DMI and no dmidecode: reported as unavailable, not failed.
    assert_eq!(verdict(&report, Check::Motherboard), Verdict::Unavailable);
    assert_eq!(verdict(&report, Check::Psu), Verdict::Unavailable);
    assert!(!facts.board.serial.is_available());
    // The VM's CPU is not the declared Xeon Silver 4310: informational only.
    assert_ne!(verdict(&report, Check::Processor), Verdict::Fail);

    // The facts are the server's (the bind-mounted OS and packages) and this machine's hardware.
    let m = this_machine();
    assert_eq!(facts.hostname, Fact::Found("srv-sipd".into()));
    let os = facts.os.found().unwrap();
    assert_eq!((os.name.as_str(), os.version_id.as_deref(), os.pretty_name.as_deref()), ("Ubuntu", Some("22.04"), Some("Ubuntu 22.04.4 LTS")));
    assert_eq!(facts.cpu.found().unwrap().logical, u32::from(m.cpus));
    assert_eq!(facts.mem_total_kib, Fact::Found(m.mem_kib));
    assert_eq!(inspect::Disk::total_bytes(facts.disks.found().unwrap()), m.disk_bytes);
    let installed = &facts.packages.found().unwrap().installed;
    assert_eq!(installed["nginx"], "1.18.0-6ubuntu14.4");
    assert_eq!(installed["postgresql-14"], "14.11-0ubuntu0.22.04.1");
    let ports: Vec<u16> = facts.tcp_listeners.found().unwrap().iter().map(|l| l.port).collect();
    assert!(ports.contains(&80) && ports.contains(&443), "{ports:?}");

    // One connection, one command per inspection; JSON round-trips for the run log.
    let again = facts_of(&d, "srv-sipd").await;
    assert_eq!(again.hostname, facts.hostname);
    assert_eq!(d.ssh.connections_opened(), 1);
    let json = serde_json::to_value(&facts).unwrap();
    assert_eq!(serde_json::from_value::<ServerFacts>(json).unwrap(), facts);
    let json = serde_json::to_value(&report).unwrap();
    assert_eq!(serde_json::from_value::<Report>(json).unwrap(), report);
}

#[tokio::test]
async fn srv_lama_fails_exactly_on_os_version_missing_packages_and_https() {
    let d = drivers();
    let facts = facts_of(&d, "srv-lama").await;
    let mut spec = spec_this_machine_meets();
    spec.name = kolokasi::domain::Hostname::parse("srv-lama").unwrap();
    let report = inspect::compare(&spec, &facts, &Rules::default());
    eprintln!("{}", report.text_failures_first());
    assert_eq!(
        failing(&report),
        [
            Check::OsVersion,
            Check::Application("postgresql-14".into()),
            Check::Application("php8.1-fpm".into()),
            Check::Service("tcp/443".into())
        ],
        "{report}"
    );
    let os = report.item(&Check::OsVersion).unwrap();
    assert_eq!((os.declared.as_str(), os.found.as_str()), ("22.04", "20.04 (Ubuntu 20.04.6 LTS)"));
    assert_eq!(report.item(&Check::Application("php8.1-fpm".into())).unwrap().found, "tidak terpasang");
    // nginx 1.18.0-0ubuntu1.4 satisfies ">= 1.18"; port 80 listens.
    assert_eq!(verdict(&report, Check::Application("nginx".into())), Verdict::Pass);
    assert_eq!(verdict(&report, Check::Service("tcp/80".into())), Verdict::Pass);
}

#[tokio::test]
async fn too_little_ram_fails_the_ram_item_only() {
    let d = drivers();
    let facts = facts_of(&d, "srv-sipd").await;
    let mut spec = spec_this_machine_meets();
    spec.ram_gb = ((this_machine().mem_kib >> 20) as u32 + 1) * 4;
    let report = inspect::compare(&spec, &facts, &Rules::default());
    assert_eq!(failing(&report), [Check::Ram], "{report}");
    // A tolerance wide enough lets it pass; the tolerance is the only thing that changed.
    assert!(inspect::compare(&spec, &facts, &Rules { ram_tolerance_percent: 80 }).passed());
}

#[tokio::test]
async fn an_unsatisfied_version_constraint_fails_that_application_only() {
    let d = drivers();
    let facts = facts_of(&d, "srv-sipd").await;
    let mut spec = spec_this_machine_meets();
    let nginx = spec.applications.iter_mut().find(|a| a.name.as_str() == "nginx").unwrap();
    nginx.version = ">= 1.20".parse().unwrap();
    let report = inspect::compare(&spec, &facts, &Rules::default());
    assert_eq!(failing(&report), [Check::Application("nginx".into())], "{report}");
    let item = report.item(&Check::Application("nginx".into())).unwrap();
    assert_eq!((item.declared.as_str(), item.found.as_str()), (">= 1.20", "1.18.0-6ubuntu14.4"));
}

fn request_row(form: RequestForm) -> RequestRow {
    let now = time::OffsetDateTime::now_utc();
    RequestRow {
        id: RequestId::new(2099, 80_801),
        state: State::Provisioning,
        submitted_at: now,
        updated_at: now,
        sla_due_at: None,
        form,
        approval: None,
        hardware: None,
        revocation: None,
        capacity: None,
        version: 1,
    }
}

/// The action, called directly (playbooks wire it elsewhere): passes on a server that meets its
/// spec, stops the run with the report (failures first) on one that does not.
#[tokio::test]
async fn the_inspect_server_action() {
    let db = common::fresh_db(common::Db::Sqlite).await;
    let env = Env { service: common::service(&db).await, drivers: drivers(), locks: Default::default(), registry: kolokasi::actions::builtin() };
    let action = env.registry.get("inspect_server").expect("registered").clone();
    let mut form = common::sample_form();
    form.servers = vec![spec_this_machine_meets()];
    let request = request_row(form);

    let params = json!({"server": "srv-sipd"});
    let ctx = ActionCtx { run_id: "test-run", step: "inspect", request: &request, params: &params, env: &env };
    assert_eq!(action.devices(&params), ["server:srv-sipd"]);
    assert!(action.plan(&ctx).contains("srv-sipd"));
    let Outcome::Done(out) = action.run(&ctx).await.unwrap() else { panic!("not done") };
    assert_eq!((out["server"].as_str(), out["passed"].as_bool()), (Some("srv-sipd"), Some(true)));
    assert_eq!(out["facts"]["hostname"], json!({"found": "srv-sipd"}));
    assert!(out["report"]["items"].as_array().unwrap().len() >= 14);
    action.undo(&ctx, Some(&out)).await.unwrap();

    // srv-lama is checked against the request's first (only) server: srv-sipd's spec.
    let params = json!({"server": "srv-lama"});
    let ctx = ActionCtx { params: &params, ..ctx };
    let err = action.run(&ctx).await.unwrap_err();
    assert!(!err.is_retryable(), "a failed inspection must be fatal");
    let text = err.chain();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines[0], "Pemeriksaan server srv-sipd: TIDAK SESUAI (4 item tidak sesuai)", "{text}");
    assert!(lines[1].starts_with("Item ") && lines[1].contains("| Dideklarasikan") && lines[1].ends_with("| Hasil"), "{text}");
    assert!(lines[3..7].iter().all(|l| l.ends_with("| Tidak sesuai")), "failures first:\n{text}");
    assert!(lines[7..].iter().all(|l| !l.ends_with("| Tidak sesuai")), "{text}");

    // A tighter RAM rule from the playbook, and bad parameters.
    let params = json!({"server": "srv-sipd", "ram_tolerance_percent": 0});
    let ctx = ActionCtx { params: &params, ..ctx };
    assert!(matches!(action.run(&ctx).await, Ok(Outcome::Done(_))));
    for bad in [json!({"server": "srv-unknown"}), json!({"server": "srv-sipd", "ram_tolerance_percent": 101}), json!({})] {
        let ctx = ActionCtx { params: &bad, ..ctx };
        let err = action.run(&ctx).await.unwrap_err();
        assert!(!err.is_retryable(), "{bad}: {err:?}");
    }
    assert_eq!(env.drivers.ssh.connections_opened(), 2, "one connection per server");
}

/// A new request approved with `approve` (its host admin login), provisioning started.
async fn approved_with(svc: &kolokasi::service::Service, form: RequestForm, approve: Command) -> RequestId {
    let id = svc.submit(&common::requester(), form).await.unwrap();
    svc.apply(&common::admin(), &id, Command::Verify { reason: None }).await.unwrap();
    svc.apply(&common::operator(), &id, Command::CheckCapacity { reason: None }).await.unwrap();
    svc.apply(&common::requester(), &id, Command::CompleteForm { form: None, reason: None }).await.unwrap();
    svc.apply(&common::admin(), &id, approve).await.unwrap();
    svc.apply(&common::operator(), &id, Command::StartProvisioning { reason: None }).await.unwrap();
    id
}

/// A server no driver is configured for — a unit's own server, as in production — is reached at
/// the step's `address`, trusting only the host key the inspector recorded at the hardware gate,
/// logging in with the Form Persetujuan's host admin user and (sealed) password. Every missing
/// piece is named; a wrong host key or password stops the step; no session with the unit's
/// admin login stays open afterwards. srv1's login is the lab's `klk-admin` with a password.
#[tokio::test]
async fn a_units_own_server_is_inspected_with_its_recorded_host_key_and_admin_login() {
    let lab = Lab::load().unwrap_or_else(|e| panic!("{e}"));
    let (srv1, srv2) = (lab.host("srv1").unwrap(), lab.host("srv2").unwrap());
    let file = srv1.admin_password_file.as_ref().expect("lab.json names srv1's host admin password (deploy/lab/lab.sh up)");
    let password = std::fs::read_to_string(file).unwrap().trim().to_string();
    let user = srv1.admin_user.clone().unwrap();
    let db = common::fresh_db(common::Db::Sqlite).await;
    let svc = common::service(&db).await;
    // No configured servers: only the request says where and how to log in.
    let env = Env { service: svc.clone(), drivers: Drivers::default(), locks: Default::default(), registry: kolokasi::actions::builtin() };
    let action = env.registry.get("inspect_server").unwrap().clone();
    let approve = |password: &str| {
        Command::Approve(ApproveInput {
            place: common::text("Samarinda"),
            reasons: vec![],
            signed_by: None,
            host_admin_user: Some(common::text(&user)),
            host_admin_password: Some(Secret::new(password)),
        })
    };
    let receive = |host_key: Option<&str>| Command::HardwareReceived {
        receipt: HardwareReceipt {
            serial_number: common::text("SN-OWN-1"),
            type_brand: common::text("Dell R650"),
            switch_port: None,
            host_key: host_key.map(|k| HostKey::parse(k).unwrap()),
        },
        reason: None,
    };
    let form = || {
        let mut f = common::sample_form();
        f.servers = vec![spec_this_machine_meets()];
        f
    };
    let run = |id: RequestId, params: serde_json::Value| {
        let (svc, env, action) = (&svc, &env, &action);
        async move {
            let row = svc.store.request(&id).await.unwrap();
            let ctx = ActionCtx { run_id: "test-run", step: "inspect", request: &row, params: &params, env };
            action.run(&ctx).await
        }
    };
    let params = json!({"server": "srv-sipd", "address": srv1.address});

    // The right key and login: inspected, and the session is closed again.
    let id = approved_with(&svc, form(), approve(&password)).await;
    svc.apply(&common::inspector(), &id, receive(Some(&srv1.host_key))).await.unwrap();
    let Outcome::Done(out) = run(id.clone(), params.clone()).await.unwrap() else { panic!("not done") };
    assert_eq!((out["passed"].as_bool(), &out["facts"]["hostname"]), (Some(true), &json!({"found": "srv-sipd"})));
    assert_eq!(env.drivers.ssh.live_connections().await, 0, "no session with the unit's admin login stays open");
    let err = run(id.clone(), json!({"server": "srv-sipd"})).await.unwrap_err();
    assert!(!err.is_retryable() && { let m = err.chain(); m.contains("no `address`") }, "{err:?}");

    // Another server answering at that address (srv2's key was recorded): refused, fatal.
    let id = approved_with(&svc, form(), approve(&password)).await;
    svc.apply(&common::inspector(), &id, receive(Some(&srv2.host_key))).await.unwrap();
    let err = run(id, params.clone()).await.unwrap_err();
    assert!(!err.is_retryable() && { let m = err.chain(); m.contains("host key") }, "{err:?}");

    // A wrong password: the login is refused, and the password is not in the message.
    let id = approved_with(&svc, form(), approve("not-the-password-1")).await;
    svc.apply(&common::inspector(), &id, receive(Some(&srv1.host_key))).await.unwrap();
    let err = run(id, params.clone()).await.unwrap_err();
    let text = err.chain();
    assert!(text.contains("refused the login") && !text.contains("not-the-password-1") && !format!("{err:?}").contains("not-the-password-1"), "{text}");

    // No host key recorded at the hardware gate: named, nothing attempted.
    let id = approved_with(&svc, form(), approve(&password)).await;
    svc.apply(&common::inspector(), &id, receive(None)).await.unwrap();
    let err = run(id, params).await.unwrap_err();
    assert!(!err.is_retryable() && { let m = err.chain(); m.contains("records no SSH host key") }, "{err:?}");
    assert!(!format!("{err:?}").contains(&password));
}
