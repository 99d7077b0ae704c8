//! The web console in a real browser (headless Chromium through Debian's chromium-driver):
//! a requester files a request through the Form Pengajuan, an admin verifies and approves, an
//! operator checks capacity, records the hardware gate (lab switch port bp92) and watches the
//! run finish on the lab through server-sent events, and the handover record downloads as a
//! PDF; a requester of another unit cannot see the request, and a form posted without its CSRF
//! token is refused. Screenshots of the main pages go to `target/console-screenshots/`.
//!
//! Needs the lab (`deploy/lab/lab.sh up`) and `apt-get install chromium chromium-driver`; fails,
//! never skips, without them.

mod common;
#[path = "support/webdriver.rs"]
mod webdriver;

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use common::{CANARY, Db, SAMPLE_UNIT, fresh_db, lab_drivers, reset_lab_port};
use kolokasi::engine::Engine;
use kolokasi::lifecycle::{Actor, Role};
use kolokasi::secrets::Secret;
use kolokasi::service::{NewUser, Service};
use webdriver::{Browser, Driver};

const PASSWORD: &str = "Kaltim-console-2026!";
const OTHER_UNIT: &str = "Dinas Kesehatan Provinsi Kalimantan Timur";
const SWITCH_PORT: &str = "bp92";

fn shots() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/console-screenshots")
}

async fn accounts(svc: &Service) {
    let root = Actor::new("root", Role::Admin).unwrap();
    for (username, name, role, unit) in [
        ("budi", "Budi Santoso", Role::Requester, Some(SAMPLE_UNIT)),
        ("admin.tik", "Administrator TIK", Role::Admin, None),
        ("pengelola", "Pengelola TI", Role::Operator, None),
        ("sari", "Sari (Dinkes)", Role::Requester, Some(OTHER_UNIT)),
    ] {
        svc.create_user(
            &root,
            NewUser {
                username: username.into(),
                display_name: name.into(),
                role,
                unit: unit.map(str::to_string),
                password: Some(Secret::new(PASSWORD)),
            },
        )
        .await
        .unwrap();
    }
}

struct Console {
    base: String,
    http: reqwest::Client,
}

impl Console {
    async fn sign_in(&self, b: &Browser, user: &str) {
        b.goto(&format!("{}/sign-in", self.base)).await;
        b.type_into("#username", user).await;
        b.type_into("#password", PASSWORD).await;
        b.click("#sign-in").await;
        b.wait_text("#me", Duration::from_secs(10), |t| t.starts_with(user)).await;
    }

    async fn sign_out(&self, b: &Browser) {
        b.click("#sign-out").await;
        b.find("#sign-in").await;
        assert!(b.cookie("kolokasi_session").await.is_none_or(|v| v.is_empty()), "the session cookie is gone");
    }

    async fn open(&self, b: &Browser, id: &str) {
        b.goto(&format!("{}/requests/{id}", self.base)).await;
        b.find("#request").await;
    }

    /// Submits the step form `event` on the request page and waits for the confirmation.
    async fn step(&self, b: &Browser, id: &str, event: &str) {
        self.open(b, id).await;
        b.click(&format!("#do-{event}")).await;
        let flash = b.wait_text("#flash", Duration::from_secs(15), |_| true).await;
        assert!(flash.contains("Langkah tercatat"), "{event}: {flash}");
    }

    async fn state(&self, b: &Browser) -> String {
        b.attr("#request", "data-state").await.unwrap()
    }
}

async fn fill_form(b: &Browser, domain: &str, nip: &str) {
    let text_fields = [
        ("unit_name", SAMPLE_UNIT),
        ("unit_address", "Jl. Basuki Rahmat No. 1, Samarinda 75117"),
        ("official_name", "Budi Santoso, S.Kom."),
        ("official_nip", nip),
        ("official_position", "Kepala Seksi Sistem Informasi"),
        ("contact", "0541-741234"),
        ("email", "tik@disdikbud.kaltimprov.go.id"),
        ("domain", domain),
        ("server_name", "srv-sipd"),
        ("processor", "Intel Xeon Silver 4310"),
        ("cpu_cores", "2"),
        ("ram_gb", "8"),
        ("motherboard", "Supermicro X12SPi-TF"),
        ("storage_gb", "20"),
        ("storage", "1x virtio disk"),
        ("psu_watts", "500"),
        ("rack_units", "1"),
        ("os_name", "Ubuntu"),
        ("os_version", "22.04"),
        ("bandwidth_mbps", "100"),
        ("services", "tcp/80, tcp/443"),
        ("applications", "nginx >= 1.18\npostgresql-14 >= 14\nphp8.1-fpm"),
    ];
    for (name, value) in text_fields {
        b.type_into(&format!("#f-{name}"), value).await;
    }
    b.set_value("#f-domain_active_from", "2026-12-01").await;
    b.set_value("#f-kind", "colocation").await;
    b.set_value("#f-validity", "permanent").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_whole_sop_in_a_real_browser() {
    // Provisions on the lab: the first addresses' PTRs an earlier run left are cleared first
    // (kolokasi does not overwrite a record it did not write).
    let _dns = common::lab_dns_lock().await;
    reset_lab_port(SWITCH_PORT);
    let db = fresh_db(Db::Sqlite).await;
    let svc = common::service(&db).await;
    let registry = kolokasi::actions::builtin();
    let playbooks = Engine::load_playbooks(None, &registry).unwrap();
    let engine = Engine::new(svc, lab_drivers(), registry, playbooks).unwrap();
    let svc = engine.service().clone();
    accounts(&svc).await;

    // `kolokasi serve` in process: the API and the console on port 0, and a worker.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(kolokasi::api::serve(svc.clone(), listener, std::future::pending()));
    let stop = Arc::new(AtomicBool::new(false));
    let worker = {
        let (engine, stop) = (engine.clone(), stop.clone());
        tokio::spawn(async move { engine.work(stop).await })
    };
    let c = Console {
        base: base.clone(),
        http: reqwest::Client::new(),
    };
    let driver = Driver::start().await;
    let b = driver.browser().await;
    let shots = shots();

    // Not signed in: every page leads to the sign-in form, which refuses a wrong password.
    b.goto(&format!("{base}/requests")).await;
    b.find("#sign-in").await;
    assert!(b.current_url().await.contains("/sign-in?next=/requests"));
    b.type_into("#username", "budi").await;
    b.type_into("#password", "salah").await;
    b.click("#sign-in").await;
    assert!(b.text("#sign-in-error").await.contains("salah"), "the Indonesian failure message");
    b.screenshot(&shots.join("01-sign-in.png")).await;

    // 1. The requester files the Form Pengajuan; a bad NIP comes back next to its field.
    c.sign_in(&b, "budi").await;
    let flags = b.cookie_flags("kolokasi_session").await;
    assert_eq!(flags["httpOnly"], true, "{flags}");
    assert_eq!(flags["sameSite"], "Lax", "{flags}");
    b.goto(&format!("{base}/requests/new")).await;
    let domain = common::sample_form().domain.to_string();
    fill_form(&b, &domain, "19850315201001100").await;
    // A second server block comes and goes without submitting anything or losing what was typed.
    b.click("#add-server").await;
    b.find("#f-server_name_2").await;
    assert_eq!(b.attr("#f-domain", "value").await.as_deref(), Some(domain.as_str()));
    assert!(b.text("#server-2 legend").await.ends_with(" 2"));
    b.click("#remove-server").await;
    b.find("#f-server_name").await;
    assert!(b.try_find("#f-server_name_2").await.is_none(), "the second block is gone");
    assert_eq!(b.attr("#f-server_name", "value").await.as_deref(), Some("srv-sipd"));
    b.click("#submit-request").await;
    let nip_error = b.text("#e-official_nip").await;
    assert!(nip_error.contains("NIP harus 18 digit"), "{nip_error}");
    assert_eq!(
        b.attr("#f-domain", "value").await.as_deref(),
        Some(domain.as_str()),
        "the form comes back filled in"
    );
    b.screenshot(&shots.join("02-form-pengajuan-errors.png")).await;
    b.type_into("#f-official_nip", "198503152010011002").await;
    b.click("#submit-request").await;
    let flash = b.wait_text("#flash", Duration::from_secs(10), |_| true).await;
    assert!(flash.contains("telah diajukan"), "{flash}");
    let id = b.attr("#request", "data-id").await.unwrap();
    assert_eq!(c.state(&b).await, "submitted");
    b.screenshot(&shots.join("03-request-submitted.png")).await;

    // A form posted without its CSRF token is refused before anything happens.
    let session = b.cookie("kolokasi_session").await.unwrap();
    let r = c
        .http
        .post(format!("{base}/requests/{id}/step"))
        .header("cookie", format!("kolokasi_session={session}"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body("event=withdraw&reason=forged")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403, "a POST without _csrf");
    let r = c
        .http
        .post(format!("{base}/requests/{id}/step"))
        .header("cookie", format!("kolokasi_session={session}"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body("_csrf=not-the-token&event=withdraw&reason=forged")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403, "a POST with a wrong _csrf");
    c.open(&b, &id).await;
    assert_eq!(c.state(&b).await, "submitted", "the forged withdrawal changed nothing");
    c.sign_out(&b).await;

    // 2. The admin verifies; 3. the operator checks capacity (the rack picture shows where).
    c.sign_in(&b, "admin.tik").await;
    c.step(&b, &id, "verify").await;
    c.sign_out(&b).await;
    c.sign_in(&b, "pengelola").await;
    c.open(&b, &id).await;
    assert!(b.try_find("svg.rack .planned").await.is_some(), "the planned placement is drawn");
    b.screenshot(&shots.join("04-capacity.png")).await;
    c.step(&b, &id, "check_capacity").await;
    assert_eq!(c.state(&b).await, "capacity_confirmed");
    c.sign_out(&b).await;

    // 4. The unit completes the form; 5. the admin approves (Form Persetujuan).
    c.sign_in(&b, "budi").await;
    c.step(&b, &id, "complete_form").await;
    c.sign_out(&b).await;
    c.sign_in(&b, "admin.tik").await;
    c.open(&b, &id).await;
    b.type_into("#form-approve textarea[name=reasons]", "kapasitas rak, daya dan bandwidth mencukupi")
        .await;
    b.type_into("#host-admin-user", "opd-admin").await;
    b.type_into("#host-admin-password", CANARY).await;
    b.click("#do-approve").await;
    b.wait_text("#flash", Duration::from_secs(15), |t| t.contains("Langkah tercatat")).await;
    assert_eq!(c.state(&b).await, "approved");
    assert!(!b.source().await.contains(CANARY), "the host admin password never comes back");
    c.sign_out(&b).await;

    // 6. The operator starts provisioning; the run waits at the hardware gate (SOP step 7).
    c.sign_in(&b, "pengelola").await;
    c.step(&b, &id, "start_provisioning").await;
    b.wait_text("tr[data-step=hardware] [data-step-status]", Duration::from_secs(60), |t| t == "menunggu")
        .await;
    b.screenshot(&shots.join("05-waiting-for-hardware.png")).await;
    // The operator unwinds the run from the page ("Batalkan semua", with a reason): serve's
    // worker undoes the addresses and records and the request is approved again; starting
    // provisioning once more runs the playbook anew, to the gate.
    b.type_into("form.controls input[name=reason]", "uji pembatalan dari konsol").await;
    b.click("form.controls button[value=unwind]").await;
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    loop {
        c.open(&b, &id).await;
        if c.state(&b).await == "approved" {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "the unwind from the console was not carried out");
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    assert_eq!(b.text("[data-run-status]").await, run_label_unwound(), "the run shows as unwound");
    c.step(&b, &id, "start_provisioning").await;
    b.wait_text("tr[data-step=hardware] [data-step-status]", Duration::from_secs(60), |t| t == "menunggu")
        .await;
    b.type_into("#serial-number", "SMC-X12-0042").await;
    b.type_into("#type-brand", "Supermicro SYS-1029P").await;
    b.type_into("#switch-port", SWITCH_PORT).await;
    b.click("#do-hardware_received").await;
    b.wait_text("#flash", Duration::from_secs(15), |t| t.contains("Langkah tercatat")).await;
    // 8-9. The run configures the lab (switch, firewall, inspection) while the page follows it
    // over server-sent events, and reloads itself when the request is handed over.
    b.wait_text("#live-status", Duration::from_secs(10), |t| t.contains("pembaruan langsung")).await;
    b.wait_text("#state", Duration::from_secs(120), |t| t == "Aktif").await;
    b.wait_text("[data-run-status]", Duration::from_secs(10), |t| t == "selesai").await;
    for step in ["switch", "firewall", "inspect"] {
        let status = b.text(&format!("tr[data-step={step}] [data-step-status]")).await;
        assert_eq!(status, "berhasil", "step {step}");
    }
    b.screenshot(&shots.join("06-request-active.png")).await;

    // The handover record downloads as a PDF.
    let href = b.attr("#doc-berita-acara", "href").await.unwrap();
    let session = b.cookie("kolokasi_session").await.unwrap();
    let pdf = c
        .http
        .get(format!("{base}{href}"))
        .header("cookie", format!("kolokasi_session={session}"))
        .send()
        .await
        .unwrap();
    assert_eq!(pdf.status(), 200);
    assert_eq!(pdf.headers()["content-type"], "application/pdf");
    let bytes = pdf.bytes().await.unwrap();
    assert!(bytes.starts_with(b"%PDF"), "a PDF");
    assert!(!String::from_utf8_lossy(&bytes).contains(CANARY));

    // The audit trail, the racks, the dashboard; and the English switch.
    b.click("#audit-link").await;
    let audit = b.text("#audit").await;
    for action in [
        "request.submit",
        "request.verify",
        "request.approve",
        "request.hardware_received",
        "request.view",
    ] {
        assert!(audit.contains(action), "{action} in the audit trail:\n{audit}");
    }
    assert!(!b.source().await.contains(CANARY));
    b.screenshot(&shots.join("07-audit.png")).await;
    b.goto(&format!("{base}/racks")).await;
    b.find("svg.rack").await;
    b.screenshot(&shots.join("08-racks.png")).await;
    b.goto(&format!("{base}/")).await;
    b.find("#by-step").await;
    b.screenshot(&shots.join("09-dashboard.png")).await;
    b.goto(&format!("{base}/assets")).await;
    b.screenshot(&shots.join("10-assets.png")).await;
    b.goto(&format!("{base}/language?l=en&next=/requests/{id}")).await;
    b.wait_text("#state", Duration::from_secs(10), |t| t == "Active").await;
    assert_eq!(b.text("#sign-out").await, "Sign out");
    b.goto(&format!("{base}/language?l=id&next=/")).await;
    // On a phone.
    b.set_size(390, 844).await;
    c.open(&b, &id).await;
    b.screenshot(&shots.join("11-request-phone.png")).await;
    b.set_size(1280, 1000).await;
    c.sign_out(&b).await;

    // Form Pencabutan: the unit asks, the admin approves, decommissioning undoes it all on the
    // lab (firewall, switch port, DNS, addresses) and the request ends decommissioned.
    c.sign_in(&b, "budi").await;
    c.open(&b, &id).await;
    b.type_into("#form-revoke textarea[name=reasons]", "aplikasi dipindahkan ke hosting").await;
    b.click("#do-request_revocation").await;
    b.wait_text("#flash", Duration::from_secs(15), |t| t.contains("Langkah tercatat")).await;
    assert_eq!(c.state(&b).await, "revocation_requested");
    c.sign_out(&b).await;
    c.sign_in(&b, "admin.tik").await;
    c.step(&b, &id, "approve_revocation").await;
    b.wait_text("#state", Duration::from_secs(120), |t| t == "Dicabut").await;
    let runs = b.text("#runs").await;
    assert!(runs.contains("decommission") && !runs.contains("gagal"), "{runs}");
    b.screenshot(&shots.join("12-decommissioned.png")).await;
    c.sign_out(&b).await;

    // A requester of another unit sees neither the request nor its progress nor its documents.
    c.sign_in(&b, "sari").await;
    b.goto(&format!("{base}/requests")).await;
    b.find("#no-requests").await;
    assert!(!b.source().await.contains(&id));
    b.goto(&format!("{base}/requests/{id}")).await;
    assert!(b.text("#error-message").await.contains("tidak ditemukan"));
    let session = b.cookie("kolokasi_session").await.unwrap();
    for path in [
        format!("/requests/{id}"),
        format!("/requests/{id}/live"),
        format!("/requests/{id}/audit"),
        format!("/requests/{id}/documents/berita-acara"),
    ] {
        let r = c
            .http
            .get(format!("{base}{path}"))
            .header("cookie", format!("kolokasi_session={session}"))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 404, "{path}");
    }
    b.screenshot(&shots.join("13-other-unit.png")).await;
    b.quit().await;

    stop.store(true, Ordering::Relaxed);
    worker.await.unwrap();
}

/// How the console labels an unwound run (Bahasa Indonesia).
fn run_label_unwound() -> String {
    let id: serde_json::Value = serde_yaml_ng::from_str(include_str!("../templates/console/i18n/id.yaml")).unwrap();
    id["run_unwound"].as_str().unwrap().to_string()
}
