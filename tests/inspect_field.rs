//! Server inspection as it works in the field, against the lab's real sshd hosts: output and
//! time caps on a server that streams endlessly or hangs.
//! Needs the lab (`bash deploy/lab/lab.sh up`); without it every test fails and says so.

use std::time::{Duration, Instant};

use kolokasi::inspect::{self, InspectError};
use kolokasi::lab::Lab;
use kolokasi::ssh::{ExecLimits, RemoteCommand, SshError, SshPool, SshSettings, SshTarget};

fn lab() -> Lab {
    Lab::load().unwrap_or_else(|e| panic!("{e}"))
}

fn lab_target(host: &str, name: &str) -> SshTarget {
    SshTarget::from_lab(&lab(), host, name).unwrap_or_else(|e| panic!("{e}"))
}

/// `yes` on a real sshd streams endlessly: the cap stops it with a clear error, quickly, and the
/// next command on the pool works (the flooded connection was dropped, not reused).
#[tokio::test]
async fn an_endless_stream_hits_the_output_cap() {
    let pool = SshPool::new(SshSettings::default());
    let target = lab_target("srv1", "srv-sipd");
    let started = Instant::now();
    let err = pool.exec(&target, &RemoteCommand::new("yes")).await.unwrap_err();
    let took = started.elapsed();
    eprintln!("endless `yes` stopped after {took:?}: {err}");
    assert!(matches!(&err, SshError::OutputTooLarge { limit, .. } if *limit == 1 << 20), "{err:?}");
    assert_eq!(err.to_string(), "output too large from srv-sipd, `yes`: more than 1048576 bytes");
    assert!(!err.is_retryable());
    assert!(took < Duration::from_secs(10), "took {took:?}");
    let out = pool.exec_ok(&target, &RemoteCommand::new("hostname"), None).await.unwrap();
    assert_eq!(out.stdout.trim(), "srv-sipd");
    assert_eq!(pool.connections_opened(), 2, "the flooded connection is not reused");
}

/// stderr counts against the same cap.
#[tokio::test]
async fn an_endless_stderr_hits_the_cap_too() {
    let pool = SshPool::new(SshSettings { max_output_bytes: 64 << 10, ..SshSettings::default() });
    let target = lab_target("srv1", "srv-sipd");
    let command = RemoteCommand::new("sh").arg("-c").arg("yes >&2").named("yes to stderr");
    let err = pool.exec(&target, &command).await.unwrap_err();
    assert_eq!(err.to_string(), "output too large from srv-sipd, `yes to stderr`: more than 65536 bytes");
}

/// A command that never ends (and prints nothing) gets the time cap, and the pool recovers.
#[tokio::test]
async fn a_hanging_command_hits_the_time_cap() {
    let pool = SshPool::new(SshSettings::default());
    let target = lab_target("srv1", "srv-sipd");
    let limits = ExecLimits { timeout: Duration::from_millis(500), max_output_bytes: 1 << 20 };
    let started = Instant::now();
    let err = pool.exec_limited(&target, &RemoteCommand::new("sleep").arg("600"), None, limits).await.unwrap_err();
    assert!(matches!(&err, SshError::CommandTimeout { .. }), "{err:?}");
    assert!(started.elapsed() < Duration::from_secs(5));
    assert_eq!(err.to_string(), "`sleep` on srv-sipd did not finish within 500ms");
    let out = pool.exec_ok(&target, &RemoteCommand::new("true"), None).await;
    assert!(out.is_ok(), "{out:?}");
    assert_eq!(pool.connections_opened(), 1, "the timed-out command's channel was closed; the connection kept");
}

/// The inspection's own command is capped: with a cap below what the script prints, the
/// inspection fails naming the server and the command, not with a parse error or a panic.
#[tokio::test]
async fn the_inspection_script_is_capped() {
    let pool = SshPool::new(SshSettings::default());
    let target = lab_target("srv1", "srv-sipd");
    let limits = ExecLimits { max_output_bytes: 4 << 10, ..inspect::script::LIMITS };
    let err = inspect::gather_limited(&pool, &target, limits).await.unwrap_err();
    assert!(matches!(&err, InspectError::Ssh(SshError::OutputTooLarge { .. })), "{err:?}");
    assert_eq!(err.to_string(), "output too large from srv-sipd, `inspection script`: more than 4096 bytes");
    assert!(!err.is_retryable(), "retrying a flood floods again");
    // The default cap holds the real output with room to spare.
    let facts = inspect::gather(&pool, &target).await.unwrap();
    assert!(facts.packages.is_available());
}

// ---------------------------------------------------------------------------------------------
// srv3 "srv-rocky": a Rocky Linux 9.4 server with a real rpm database, logins by password, by
// an attached ed25519 or RSA key, and an unprivileged one.
// ---------------------------------------------------------------------------------------------

mod common;

use kolokasi::domain::{HardwareReceipt, RequestForm, RequestId, ServerSpec};
use kolokasi::engine::{ActionCtx, Drivers, Env, Outcome, StepError};
use kolokasi::inspect::{Check, Fact, PackageManager, Privilege, Report, Rules, ServerFacts, Verdict};
use kolokasi::secrets::Secret;
use kolokasi::service::{ApproveInput, Command, Service};
use kolokasi::ssh::{HostKey, SshAuth};
use serde_json::json;

/// This machine's CPUs, RAM (whole GiB) and disk (whole GB): srv3 is a namespace on it.
fn rocky_spec() -> ServerSpec {
    let form = RequestForm::from_yaml(include_str!("../deploy/examples/colocation-request.yaml")).unwrap();
    let mut v = serde_json::to_value(form.servers.into_iter().next().unwrap()).unwrap();
    let cpus = std::fs::read_to_string("/proc/cpuinfo").unwrap().lines().filter(|l| l.split(':').next().is_some_and(|k| k.trim() == "processor")).count();
    let meminfo = std::fs::read_to_string("/proc/meminfo").unwrap();
    let mem_kib: u64 = meminfo.lines().find_map(|l| l.strip_prefix("MemTotal:")).unwrap().trim().trim_end_matches("kB").trim().parse().unwrap();
    v["name"] = json!("srv-rocky");
    v["cpu_cores"] = json!(cpus);
    v["ram_gb"] = json!(mem_kib >> 20);
    v["storage_gb"] = json!(1);
    v["os"] = json!({"name": "Rocky Linux", "version": "9"});
    v["applications"] = json!([
        {"name": "nginx", "version": ">= 1.20"},
        {"name": "postgresql-server", "version": ">= 13"},
        {"name": "php-fpm", "version": "= 8.0"},
        {"name": "openssh-server", "version": ">= 8.7p1-34.el9_3.3"},
    ]);
    v["services"] = json!(["tcp/80"]);
    serde_json::from_value(v).unwrap()
}

fn srv3() -> kolokasi::lab::LabHost {
    lab().host("srv3").unwrap_or_else(|e| panic!("{e} (bash deploy/lab/lab.sh up adds srv3)")).clone()
}

fn read(path: &std::path::Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e} (bash deploy/lab/lab.sh up)", path.display()))
}

fn verdict(r: &Report, check: Check) -> Verdict {
    r.item(&check).unwrap_or_else(|| panic!("no item {check:?} in\n{r}")).verdict
}

/// srv3 as the lab's root login sees it: Rocky's os-release, the rpm database read by the real
/// `rpm`, epochs included.
#[tokio::test]
async fn the_rpm_host_conforms_to_a_spec_it_meets() {
    let pool = SshPool::new(SshSettings::default());
    let facts = inspect::gather(&pool, &lab_target("srv3", "srv-rocky")).await.unwrap();
    let os = facts.os.found().unwrap();
    assert_eq!((os.name.as_str(), os.version_id.as_deref()), ("Rocky Linux", Some("9.4")));
    assert!(os.is_rhel_like());
    let p = facts.packages.found().expect("the rpm database is read");
    assert_eq!(p.manager, PackageManager::Rpm);
    assert_eq!(p.installed["nginx"], "1:1.20.1-14.el9_2.1");
    assert_eq!(p.installed["openssh-server"], "8.7p1-38.el9");
    assert!(!p.installed.contains_key("dpkg"), "the host's Debian packages are not srv3's");
    assert_eq!(facts.privilege, Fact::Found(Privilege::Root));
    let report = inspect::compare(&rocky_spec(), &facts, &Rules::default());
    eprintln!("{report}");
    assert!(report.passed(), "{report}");
    assert_eq!(verdict(&report, Check::OsName), Verdict::Pass);
    assert_eq!(verdict(&report, Check::Application("openssh-server".into())), Verdict::Pass);
}

/// A version constraint the rpm host does not meet fails that item only, by rpm's order.
#[tokio::test]
async fn the_rpm_host_fails_an_unmet_version_constraint() {
    let pool = SshPool::new(SshSettings::default());
    let facts = inspect::gather(&pool, &lab_target("srv3", "srv-rocky")).await.unwrap();
    let mut spec = rocky_spec();
    spec.applications.iter_mut().find(|a| a.name.as_str() == "nginx").unwrap().version = ">= 1.22".parse().unwrap();
    spec.applications.iter_mut().find(|a| a.name.as_str() == "openssh-server").unwrap().version = ">= 8.7p1-40.el9".parse().unwrap();
    let report = inspect::compare(&spec, &facts, &Rules::default());
    let failing: Vec<Check> = report.failures().map(|i| i.check.clone()).collect();
    assert_eq!(failing, [Check::Application("nginx".into()), Check::Application("openssh-server".into())], "{report}");
    let nginx = report.item(&Check::Application("nginx".into())).unwrap();
    assert_eq!((nginx.declared.as_str(), nginx.found.as_str()), (">= 1.22", "1:1.20.1-14.el9_2.1"));
}

/// The inspector's rpmvercmp agrees with the real rpm's (`rpm.vercmp` in rpm's Lua) on every
/// pair of a set of awkward versions.
#[test]
fn rpmvercmp_agrees_with_the_real_rpm() {
    let versions = [
        "1.0", "1.0.0", "1.0~rc1", "1.0~rc2", "1.0^git1", "1.0^", "1.01", "1.0a", "1.0.a", "1_0", "2.0", "10", "9", "5.5p1", "5.5p10",
        "8.7p1", "8.9p1", "1.20.1", "1.22", "el9_2.1", "el9", "el9_3.3", "0001", "1", "a", "b", "xyz10.1", "xyz10", "2.0.1a",
    ];
    let mut lua = String::new();
    for a in &versions {
        for b in &versions {
            // rpm's Lua `print` appends to the expansion without a separator: add one.
            lua.push_str(&format!("print(rpm.vercmp('{a}', '{b}') .. ' ') "));
        }
    }
    let out = std::process::Command::new("rpm").arg("--eval").arg(format!("%{{lua: {lua}}}")).output().expect("rpm is installed (deploy/lab/lab.sh up)");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let theirs: Vec<i32> = String::from_utf8(out.stdout).unwrap().split_whitespace().map(|n| n.parse().unwrap()).collect();
    assert_eq!(theirs.len(), versions.len() * versions.len());
    let mut i = 0;
    for a in &versions {
        for b in &versions {
            let ours = inspect::rpmversion::rpmvercmp(a, b) as i32;
            assert_eq!(ours, theirs[i].signum(), "rpmvercmp({a:?}, {b:?})");
            i += 1;
        }
    }
}

/// An unprivileged host admin (`klk-user`, no sudo): the inspection completes, facts only root
/// can read are "needs root", the report shows it and still passes on every required item.
#[tokio::test]
async fn an_unprivileged_login_reports_root_facts_as_needing_root() {
    let host = srv3();
    let user = host.unprivileged_user.clone().expect("lab.json names srv3's unprivileged user");
    let password = read(host.unprivileged_password_file.as_ref().unwrap()).trim().to_string();
    let mut target = lab_target("srv3", "srv-rocky");
    target.user = user;
    target.auth = SshAuth::Password(Secret::new(password));
    let pool = SshPool::new(SshSettings::default());
    let facts = inspect::gather(&pool, &target).await.unwrap();
    assert_eq!(facts.privilege, Fact::Found(Privilege::Unprivileged { uid: 1500 }));
    assert!(facts.board.serial.needs_root(), "{:?}", facts.board.serial);
    assert!(facts.psu_watts.needs_root(), "{:?}", facts.psu_watts);
    assert!(facts.psu_watts.reason().unwrap().contains("perlu akses root"));
    // Everything required is readable without root.
    for (what, ok) in [("os", facts.os.is_available()), ("cpu", facts.cpu.is_available()), ("mem", facts.mem_total_kib.is_available()), ("disks", facts.disks.is_available()), ("packages", facts.packages.is_available()), ("tcp", facts.tcp_listeners.is_available())] {
        assert!(ok, "{what} unavailable to an unprivileged login: {facts:?}");
    }
    let report = inspect::compare(&rocky_spec(), &facts, &Rules::default());
    eprintln!("{report}");
    assert!(report.passed(), "{report}");
    let psu = report.item(&Check::Psu).unwrap();
    assert_eq!(psu.verdict, Verdict::Unavailable);
    assert!(psu.found.contains("perlu akses root"), "{}", psu.found);
    // The same server as root: the serial is merely absent (no DMI here), not "needs root".
    let root = inspect::gather(&pool, &lab_target("srv3", "srv-rocky")).await.unwrap();
    assert!(!root.board.serial.needs_root() && !root.board.serial.is_available());
}

/// A host admin that is not root: with password-less `sudo` the root-only sources are read
/// through `sudo -n` (as root would read them: the serial is merely absent here, not "needs
/// root"); where sudo asks for a password (`klk-user` is in srv3's sudoers with a password)
/// `sudo -n` is refused and those facts are "needs root", never a hang on a password prompt.
#[tokio::test]
async fn password_less_sudo_reads_root_facts_and_a_sudo_password_prompt_does_not_hang() {
    let host = srv3();
    let password = read(host.unprivileged_password_file.as_ref().unwrap()).trim().to_string();
    let pool = SshPool::new(SshSettings::default());
    let login = |user: &str| {
        let mut target = lab_target("srv3", "srv-rocky");
        target.user = user.to_string();
        target.auth = SshAuth::Password(Secret::new(password.clone()));
        target
    };
    let sudo_user = host.sudo_user.clone().expect("lab.json names srv3's sudo login (run deploy/lab/lab.sh up)");
    let facts = inspect::gather(&pool, &login(&sudo_user)).await.unwrap();
    assert_eq!(facts.privilege, Fact::Found(Privilege::Sudo { uid: 1502 }), "{facts:?}");
    assert!(!facts.board.serial.needs_root() && !facts.psu_watts.needs_root(), "{facts:?}");
    let report = inspect::compare(&rocky_spec(), &facts, &Rules::default());
    assert!(report.passed(), "{report}");

    let started = Instant::now();
    let prompted = inspect::gather(&pool, &login(host.unprivileged_user.as_deref().unwrap())).await.unwrap();
    assert!(started.elapsed() < Duration::from_secs(10), "sudo's password prompt held the inspection");
    assert_eq!(prompted.privilege, Fact::Found(Privilege::Unprivileged { uid: 1500 }));
    assert!(prompted.board.serial.needs_root() && prompted.psu_watts.needs_root(), "{prompted:?}");
}

/// A request approved with host admin `klk-admin` and (optionally) its password, the hardware
/// receipt recording srv3's host key.
async fn rocky_request(svc: &Service, password: Option<&str>) -> RequestId {
    let mut form = common::sample_form();
    form.servers = vec![rocky_spec()];
    let id = svc.submit(&common::requester(), form).await.unwrap();
    svc.apply(&common::admin(), &id, Command::Verify { reason: None }).await.unwrap();
    svc.apply(&common::operator(), &id, Command::CheckCapacity { reason: None }).await.unwrap();
    svc.apply(&common::requester(), &id, Command::CompleteForm { form: None, reason: None }).await.unwrap();
    let approve = ApproveInput {
        place: common::text("Samarinda"),
        reasons: vec![],
        signed_by: None,
        host_admin_user: Some(common::text("klk-admin")),
        host_admin_password: password.map(Secret::new),
    };
    svc.apply(&common::admin(), &id, Command::Approve(approve)).await.unwrap();
    svc.apply(&common::operator(), &id, Command::StartProvisioning { reason: None }).await.unwrap();
    let receipt = HardwareReceipt {
        serial_number: common::text("SN-ROCKY-1"),
        type_brand: common::text("Lenovo SR630"),
        switch_port: None,
        host_key: Some(HostKey::parse(&srv3().host_key).unwrap()),
    };
    svc.apply(&common::inspector(), &id, Command::HardwareReceived { receipt, reason: None }).await.unwrap();
    id
}

async fn inspect_request(env: &Env, id: &RequestId) -> Result<Outcome, StepError> {
    let action = env.registry.get("inspect_server").unwrap().clone();
    let row = env.service.store.request(id).await.unwrap();
    let params = json!({"server": "srv-rocky", "address": srv3().address});
    let ctx = ActionCtx { run_id: "test-run", step: "inspect", request: &row, params: &params, env };
    action.run(&ctx).await
}

fn env_of(svc: &Service) -> Env {
    // No configured servers: only the request says where and how to log in.
    Env { service: svc.clone(), drivers: Drivers::default(), locks: Default::default(), registry: kolokasi::actions::builtin() }
}

fn ssh_keygen(dir: &std::path::Path, kind: &str) -> String {
    let file = dir.join(format!("id_{kind}"));
    let st = std::process::Command::new("ssh-keygen").args(["-q", "-t", kind, "-N", "", "-f"]).arg(&file).status().unwrap();
    assert!(st.success());
    read(&file)
}

/// The operator attaches the key the unit handed over (ed25519, then RSA): the inspection logs
/// in with it — the request has no password at all — and the request view shows its
/// fingerprint and the host key's, never the key. A key the server does not know is refused
/// with a clear message.
#[tokio::test]
async fn inspection_by_attached_ed25519_and_rsa_keys() {
    let db = common::fresh_db(common::Db::Sqlite).await;
    let svc = common::service(&db).await;
    let env = env_of(&svc);
    let host = srv3();
    let id = rocky_request(&svc, None).await;

    // No key yet and no password: named, nothing attempted.
    let err = inspect_request(&env, &id).await.unwrap_err();
    assert!(!err.is_retryable() && { let m = err.chain(); m.contains("no SSH key is attached") }, "{err:?}");

    let kinds = ["ed25519", "rsa"];
    for kind in kinds {
        let pem = read(&host.admin_key_files[kind]);
        let attached = svc.attach_host_admin_key(&common::operator(), &id, &Secret::new(pem.clone())).await.unwrap();
        let pub_file = host.admin_key_files[kind].with_extension("pub");
        let keygen = std::process::Command::new("ssh-keygen").arg("-lf").arg(&pub_file).output().unwrap();
        let theirs = String::from_utf8(keygen.stdout).unwrap();
        assert!(theirs.contains(&attached.fingerprint), "{kind}: ours {} vs ssh-keygen {theirs}", attached.fingerprint);
        assert_eq!(attached.algorithm, if kind == "rsa" { "ssh-rsa" } else { "ssh-ed25519" });
        let Outcome::Done(out) = inspect_request(&env, &id).await.unwrap_or_else(|e| panic!("{kind}: {e:?}")) else { panic!("not done") };
        assert_eq!((out["passed"].as_bool(), &out["facts"]["hostname"]), (Some(true), &json!({"found": "srv-rocky"})), "{kind}");
        assert_eq!(out["facts"]["packages"]["found"]["manager"], "rpm");
        assert_eq!(env.drivers.ssh.live_connections().await, 0);

        let view = svc.request(&common::operator(), &id).await.unwrap();
        assert_eq!(view.host_admin_key.as_ref(), Some(&attached));
        let text = serde_json::to_string(&view).unwrap();
        let body = pem.lines().nth(1).unwrap();
        assert!(!text.contains(body), "the key is in the request view");
    }
    // The host key's fingerprint as ssh-keygen prints it.
    let view = svc.request(&common::operator(), &id).await.unwrap();
    let host_pub = lab().lab_dir.join("hosts/srv3/ssh_host_ed25519_key.pub");
    let keygen = String::from_utf8(std::process::Command::new("ssh-keygen").arg("-lf").arg(&host_pub).output().unwrap().stdout).unwrap();
    let fp = view.host_key_fingerprint.clone().unwrap();
    assert!(fp.starts_with("SHA256:") && keygen.contains(&fp), "{fp} vs {keygen}");

    // Attaching is audited with type and fingerprint, never the key.
    let audit = svc.store.audit_for_request(id.as_str()).await.unwrap();
    let attaches: Vec<_> = audit.iter().filter(|e| e.action == "request.host_admin_key.attach").collect();
    assert_eq!(attaches.len(), kinds.len());
    assert!(serde_json::to_string(&attaches).unwrap().contains("SHA256:"));

    // A key srv3 does not know: refused, the message names server and user, not the key.
    let dir = tempfile::tempdir().unwrap();
    let stranger = ssh_keygen(dir.path(), "ed25519");
    svc.attach_host_admin_key(&common::operator(), &id, &Secret::new(stranger.clone())).await.unwrap();
    let err = inspect_request(&env, &id).await.unwrap_err();
    let text = format!("{err:?} {err}");
    assert!(!err.is_retryable() && { let m = err.chain(); m.contains("refused the login of klk-admin") }, "{text}");
    assert!(!text.contains(stranger.lines().nth(1).unwrap()));

    // Not a key, or not allowed to attach: refused without quoting the input.
    let err = svc.attach_host_admin_key(&common::operator(), &id, &Secret::new("not-a-key-canary")).await.unwrap_err();
    assert!(err.to_string().contains("ed25519 or RSA") && !err.to_string().contains("canary"), "{err}");
    let err = svc.attach_host_admin_key(&common::requester(), &id, &Secret::new(stranger)).await.unwrap_err();
    assert!(err.to_string().contains("operator or admin"), "{err}");
}

/// The same from the web console, as the operator does it: the request page offers the key
/// form (operator and admin only), a pasted key is attached and its fingerprint shown, a
/// pasted non-key is refused on the page without echoing it, and the inspection then logs in
/// with the attached key.
#[tokio::test]
async fn the_console_attaches_the_host_admin_key() {
    let db = common::fresh_db(common::Db::Sqlite).await;
    let svc = common::service(&db).await;
    let id = rocky_request(&svc, None).await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(kolokasi::api::serve(svc.clone(), listener, std::future::pending()));
    let browser = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
    let sign_in = |name: &'static str, role: kolokasi::lifecycle::Role| {
        let svc = svc.clone();
        async move {
            let password = Secret::new("sandi-konsol-2026");
            let root = kolokasi::lifecycle::Actor::new("root", kolokasi::lifecycle::Role::Admin).unwrap();
            let unit = (role == kolokasi::lifecycle::Role::Requester).then(|| common::SAMPLE_UNIT.to_string());
            let user = kolokasi::service::NewUser { username: name.into(), display_name: name.into(), role, unit, password: Some(password.clone()) };
            svc.create_user(&root, user).await.unwrap();
            svc.console_sign_in(name, &password, "127.0.0.1", time::Duration::hours(1)).await.unwrap()
        }
    };
    let op = sign_in("op.kunci", kolokasi::lifecycle::Role::Operator).await;
    let cookie = format!("kolokasi_session={}", op.token.expose());
    let page = browser.get(format!("{base}/requests/{id}")).header("cookie", &cookie).send().await.unwrap().text().await.unwrap();
    assert!(page.contains("id=\"form-host-admin-key\"") && page.contains("Kunci SSH admin host"), "the operator is offered the key form");
    let post = |cookie: String, csrf: String, key: String| {
        let (browser, base, id) = (browser.clone(), base.clone(), id.clone());
        async move {
            let body = format!("_csrf={}&private_key={}", csrf, percent_encode(&key));
            browser
                .post(format!("{base}/requests/{id}/host-admin-key"))
                .header("cookie", cookie)
                .header("content-type", "application/x-www-form-urlencoded")
                .body(body)
                .send()
                .await
                .unwrap()
        }
    };
    // Not a key: refused on the page, the input not echoed back.
    let r = post(cookie.clone(), op.csrf_token.clone(), "not-a-key-canary".into()).await;
    assert_eq!(r.status(), 400);
    let text = r.text().await.unwrap();
    assert!(text.contains("ed25519") && !text.contains("canary"), "{text:.400}");
    // The unit's ed25519 key: attached, the page shows its fingerprint.
    let pem = read(&srv3().admin_key_files["ed25519"]);
    let r = post(cookie.clone(), op.csrf_token.clone(), pem.replace('\n', "\r\n")).await;
    assert_eq!(r.status(), 303, "{}", r.text().await.unwrap());
    let page = browser.get(format!("{base}/requests/{id}?done=key")).header("cookie", &cookie).send().await.unwrap().text().await.unwrap();
    let attached = svc.request(&common::operator(), &id).await.unwrap().host_admin_key.expect("attached");
    // The page escapes it as HTML does ('/' is "&#x2f;"; base64 fingerprints often hold one).
    let shown = attached.fingerprint.replace('/', "&#x2f;");
    assert!(page.contains(&shown) && page.contains("Kunci SSH admin host dilampirkan"), "the page shows the fingerprint {shown}");
    assert!(!page.contains(pem.lines().nth(1).unwrap()), "never the key itself");
    // A requester is not offered the form and may not post it.
    let unit = sign_in("budi.kunci", kolokasi::lifecycle::Role::Requester).await;
    let unit_cookie = format!("kolokasi_session={}", unit.token.expose());
    let page = browser.get(format!("{base}/requests/{id}")).header("cookie", &unit_cookie).send().await.unwrap().text().await.unwrap();
    assert!(!page.contains("form-host-admin-key"));
    assert_eq!(post(unit_cookie, unit.csrf_token.clone(), pem.clone()).await.status(), 403);
    // The inspection logs in with the key attached from the console.
    let Outcome::Done(out) = inspect_request(&env_of(&svc), &id).await.unwrap() else { panic!("not done") };
    assert_eq!(out["passed"].as_bool(), Some(true), "{out}");
}

fn percent_encode(s: &str) -> String {
    s.bytes()
        .map(|b| if b.is_ascii_alphanumeric() || b"-._~".contains(&b) { (b as char).to_string() } else { format!("%{b:02X}") })
        .collect()
}

/// The Form Persetujuan's password on the rpm host, through the action (no key attached).
#[tokio::test]
async fn inspection_by_the_form_password_on_the_rpm_host() {
    let db = common::fresh_db(common::Db::Sqlite).await;
    let svc = common::service(&db).await;
    let env = env_of(&svc);
    let password = read(srv3().admin_password_file.as_ref().unwrap()).trim().to_string();
    let id = rocky_request(&svc, Some(&password)).await;
    let Outcome::Done(out) = inspect_request(&env, &id).await.unwrap() else { panic!("not done") };
    assert_eq!(out["passed"].as_bool(), Some(true));
    let facts: ServerFacts = serde_json::from_value(out["facts"].clone()).unwrap();
    assert_eq!(facts.privilege, Fact::Found(Privilege::Root));
}

fn vm_hwm_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    status.lines().find_map(|l| l.strip_prefix("VmHWM:")).unwrap().trim().trim_end_matches("kB").trim().parse().unwrap()
}

/// A hostile or broken server: srv3's `klk-flood`, whose login shell answers every command with
/// an endless `yes`. The inspection with its default limits stops at 1 MiB with a clear error,
/// in well under the time cap, and the process's peak memory stays put.
#[tokio::test]
async fn an_endless_server_fails_the_inspection_clearly() {
    let host = srv3();
    let user = host.flood_user.clone().expect("lab.json names srv3's flood user (bash deploy/lab/lab.sh up)");
    let password = read(host.unprivileged_password_file.as_ref().unwrap()).trim().to_string();
    let mut target = lab_target("srv3", "srv-rocky");
    target.user = user;
    target.auth = SshAuth::Password(Secret::new(password));
    let pool = SshPool::new(SshSettings::default());
    let before = vm_hwm_kib();
    let started = Instant::now();
    let err = inspect::gather(&pool, &target).await.unwrap_err();
    let took = started.elapsed();
    let grew = vm_hwm_kib().saturating_sub(before);
    eprintln!("endless server stopped after {took:?}, peak memory grew {grew} KiB: {err}");
    assert_eq!(err.to_string(), "output too large from srv-rocky, `inspection script`: more than 1048576 bytes");
    assert!(took < Duration::from_secs(10), "{took:?}");
    assert!(grew < 32 << 10, "peak memory grew {grew} KiB");
}
