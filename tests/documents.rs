//! The SOP's documents for a request provisioned on the lab (switch port bp90), on SQLite and
//! PostgreSQL: every form in HTML and PDF, the berita acara filled from the inspection's
//! measured facts, checked in the HTML and in the text `pdftotext` extracts from the PDF; the
//! canary password never printed without the audited, authorised flag; the same record gives
//! the same bytes; a broken template is an error naming its file and line.

mod common;

use std::path::Path;

use common::*;
use kolokasi::domain::{HardwareReceipt, RequestId, Revocation};
use kolokasi::engine::{Engine, RunStatus};
use kolokasi::service::{Command, DocFormat, DocumentKind, Lang, Service, ServiceError};
use serde_json::Value;

const PORT: &str = "bp90";

on_both_databases!(documents_of_a_provisioned_request, credentials_only_for_authorised_roles_and_audited, forms_of_a_new_and_of_a_rejected_request);

/// Serialises the tests that use switch port bp90 (SQLite and PostgreSQL run in parallel).
async fn port_lock() -> tokio::sync::MutexGuard<'static, ()> {
    static LOCK: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());
    LOCK.lock().await
}

fn quiet(_: &kolokasi::engine::Progress) {}

struct Provisioned {
    _port: tokio::sync::MutexGuard<'static, ()>,
    _dns: tokio::sync::MutexGuard<'static, ()>,
    _db: TestDb,
    engine: Engine,
    svc: Service,
    id: RequestId,
}

/// A co-location request approved (with the canary as host admin password), its hardware
/// received on bp90, and its provisioning run driven to the end on the lab (handed over).
async fn provisioned(db: Db) -> Provisioned {
    let port = port_lock().await;
    let dns = lab_dns_lock().await;
    reset_lab_port(PORT);
    let tdb = fresh_db(db).await;
    let svc = service(&tdb).await;
    let engine = lab_engine(svc.clone());
    let svc = engine.service().clone();
    let id = approved_request(&svc, sample_form()).await;
    svc.apply(&operator(), &id, Command::StartProvisioning { reason: None }).await.unwrap();
    let receipt = HardwareReceipt { serial_number: text("SN-DOC-4711"), type_brand: text("Dell PowerEdge R650"), switch_port: Some(text(PORT)), host_key: None };
    svc.apply(&inspector(), &id, Command::HardwareReceived { receipt, reason: None }).await.unwrap();
    let view = engine.drive(&Engine::run_id(id.as_str(), "colocation"), &quiet).await.unwrap();
    assert_eq!(view.status, RunStatus::Succeeded, "{view:?}");
    Provisioned { _port: port, _dns: dns, _db: tdb, engine, svc, id }
}

impl Provisioned {
    /// Revocation and decommissioning, so the lab is left as it was found.
    async fn decommission(&self) {
        let revocation = Revocation { reasons: vec![text("aplikasi dipindahkan")], effective: None, approved_by: None };
        if self.svc.can(&requester(), &self.id, kolokasi::lifecycle::EventKind::RequestRevocation).await.unwrap() {
            self.svc.apply(&requester(), &self.id, Command::RequestRevocation { revocation }).await.unwrap();
        }
        self.svc.apply(&head(), &self.id, Command::ApproveRevocation { approved_by: None, reason: None }).await.unwrap();
        let view = self.engine.drive(&Engine::run_id(self.id.as_str(), "decommission"), &quiet).await.unwrap();
        assert_eq!(view.status, RunStatus::Succeeded, "{view:?}");
    }

    async fn render(&self, kind: DocumentKind, format: DocFormat, lang: Lang) -> kolokasi::service::Document {
        self.svc.render_document(&admin(), &self.id, kind, format, lang, false).await.unwrap_or_else(|e| panic!("{kind} {format:?}: {e:?}"))
    }
}

/// Collapses runs of white space (PDF layout spreads words over columns and lines).
fn squash(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

fn assert_has(text: &str, needles: &[&str], what: &str) {
    let flat = squash(text);
    for n in needles {
        assert!(flat.contains(&squash(n)), "{what} lacks {n:?}:\n{text}");
    }
}

async fn inspection_facts(svc: &Service, id: &RequestId) -> Value {
    let steps = svc.store.step_outputs(&format!("{id}/colocation")).await.unwrap();
    steps.into_iter().find(|s| s.action == "inspect_server").expect("an inspection step").output["facts"].clone()
}

async fn documents_of_a_provisioned_request(db: Db) {
    let p = provisioned(db).await;
    let (svc, id) = (&p.svc, &p.id);
    let row = svc.store.request(id).await.unwrap();
    let domain = row.form.domain.to_string();
    let facts = inspection_facts(svc, id).await;
    let cpu_model = facts["cpu"]["found"]["model"].as_str().expect("the lab server reports its CPU model").to_string();
    let ipv4 = svc.store.allocations(Some(id.as_str()), None, 10).await.unwrap().into_iter().map(|a| a.address).find(|a| !a.contains(':')).unwrap();
    let placement = row.capacity.as_ref().unwrap().placements[0].location();

    // Berita acara: Indonesian opening, both units, measured values with the declared beside
    // them where they differ, addresses, names, rack, signatures, current law, hash.
    let bast = p.render(DocumentKind::BeritaAcara, DocFormat::Html, Lang::Id).await;
    assert_eq!(bast.content_type, "text/html; charset=utf-8");
    let html = String::from_utf8(bast.bytes.clone()).unwrap();
    let handed_over = svc.request(&admin(), id).await.unwrap().history.iter().find(|e| e.event == "hand_over").unwrap().at;
    let day = kolokasi::documents::words::day_name(handed_over.to_offset(kolokasi::lifecycle::sla::WITA).date(), Lang::Id);
    let common_fields = [
        id.as_str(),
        "Dinas Pendidikan dan Kebudayaan Provinsi Kalimantan Timur",
        "Budi Santoso, S.Kom.",
        "198503152010011002",
        "srv-sipd",
        "SN-DOC-4711",
        "Dell PowerEdge R650",
        &cpu_model,
        "Intel Xeon Silver 4310",
        &ipv4,
        &domain,
        &placement,
        "Dinas Komunikasi dan Informatika Provinsi Kalimantan Timur",
        "Andi Pratama, S.T.",
        "Yang Menyerahkan",
        "Yang Menerima",
        "Kepala Bidang",
        "Nomor 71 Tahun 2019",
        "Nomor 27 Tahun 2022",
        &bast.sha256,
    ];
    assert_has(&html, &common_fields, "the berita acara (HTML)");
    assert_has(&html, &[&format!("Pada hari ini, {day} tanggal"), "bulan", "tahun dua ribu", "dideklarasikan"], "the berita acara (HTML)");
    assert!(bast.filename.ends_with("-berita-acara-id.html"), "{}", bast.filename);

    let pdf = p.render(DocumentKind::BeritaAcara, DocFormat::Pdf, Lang::Id).await;
    assert!(pdf.bytes.starts_with(b"%PDF-"), "not a PDF");
    assert_eq!(pdf.sha256, bast.sha256, "both formats carry the hash of the same data");
    // To look at the documents (or time them): KOLOKASI_DOC_DUMP=DIR keeps them in DIR.
    if let Ok(dir) = std::env::var("KOLOKASI_DOC_DUMP") {
        std::fs::write(format!("{dir}/bast.pdf"), &pdf.bytes).unwrap();
        std::fs::write(format!("{dir}/bast.html"), &bast.bytes).unwrap();
        for format in [DocFormat::Html, DocFormat::Pdf] {
            let t = std::time::Instant::now();
            for _ in 0..5 {
                p.render(DocumentKind::BeritaAcara, format, Lang::Id).await;
            }
            eprintln!("berita acara {format:?}: {:.1} ms each (5 renderings, audited)", t.elapsed().as_secs_f64() * 1000.0 / 5.0);
        }
    }
    let pdf_words = pdf_text(&pdf.bytes);
    assert_has(&pdf_words, &common_fields, "the berita acara (PDF)");
    assert_has(&pdf_words, &[&format!("Pada hari ini, {day} tanggal")], "the berita acara (PDF)");

    // The same record gives the same bytes (later, so no clock can hide in them).
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    assert!(p.render(DocumentKind::BeritaAcara, DocFormat::Html, Lang::Id).await.bytes == bast.bytes, "HTML differs on regeneration");
    assert!(p.render(DocumentKind::BeritaAcara, DocFormat::Pdf, Lang::Id).await.bytes == pdf.bytes, "PDF differs on regeneration");

    // English on request.
    let en = p.render(DocumentKind::BeritaAcara, DocFormat::Pdf, Lang::En).await;
    assert_has(&pdf_text(&en.bytes), &["HANDOVER RECORD", "On this day", "Handed over by", "Government Regulation 71/2019"], "the English berita acara");

    // The other forms, in both formats.
    let mut all = vec![bast.bytes.clone(), pdf.bytes.clone(), en.bytes.clone()];
    for (kind, needles) in [
        (
            DocumentKind::Pengajuan,
            vec!["FORM. PENGAJUAN", "Nama Unit", "Penanggung Jawab", "Kontak Number", "Tanggal Aktif Domain", "Permanen", "Dra. Siti Rahmawati, M.Si."],
        ),
        (
            DocumentKind::Persetujuan,
            vec![
                "FORM. PERSETUJUAN",
                "menyetujui",
                "kapasitas mencukupi",
                "Data Center",
                "Co-Location",
                "SN-DOC-4711",
                "opd-admin",
                "disampaikan terpisah",
                "Letak Server",
            ],
        ),
    ] {
        for format in [DocFormat::Html, DocFormat::Pdf] {
            let doc = p.render(kind, format, Lang::Id).await;
            let text = if format == DocFormat::Pdf { pdf_text(&doc.bytes) } else { String::from_utf8(doc.bytes.clone()).unwrap() };
            let mut needles = needles.clone();
            needles.extend([id.as_str(), domain.as_str(), doc.sha256.as_str()]);
            assert_has(&text, &needles, &format!("{kind} ({format:?})"));
            assert!(!text.contains(CANARY), "{kind} ({format:?}) prints the host admin password");
            all.push(doc.bytes);
        }
    }
    // No revocation yet: the Form Pencabutan is not ready, and says so.
    let err = svc.render_document(&admin(), id, DocumentKind::Pencabutan, DocFormat::Html, Lang::Id, false).await.unwrap_err();
    assert!(err.to_string().contains("no revocation"), "{err}");

    // Pencabutan after the revocation is filed; then decommission (the lab back as found).
    let revocation = Revocation { reasons: vec![text("aplikasi dipindahkan ke cloud nasional")], effective: None, approved_by: None };
    svc.apply(&requester(), id, Command::RequestRevocation { revocation }).await.unwrap();
    for format in [DocFormat::Html, DocFormat::Pdf] {
        let doc = p.render(DocumentKind::Pencabutan, format, Lang::Id).await;
        let text = if format == DocFormat::Pdf { pdf_text(&doc.bytes) } else { String::from_utf8(doc.bytes.clone()).unwrap() };
        assert_has(
            &text,
            &["FORM. PENCABUTAN", "penarikan co-location", "aplikasi dipindahkan ke cloud nasional", "SN-DOC-4711", &domain, "Kepala Bidang TIK"],
            "pencabutan",
        );
        all.push(doc.bytes);
    }
    for bytes in &all {
        assert!(!bytes.windows(CANARY.len()).any(|w| w == CANARY.as_bytes()), "a document carries the canary");
    }
    // Every rendering was audited, none carries the password.
    let audit = svc.store.audit_for_request(id.as_str()).await.unwrap();
    assert!(audit.iter().filter(|a| a.action == "document.render").count() >= 12);
    assert!(!format!("{audit:?}").contains(CANARY));
    p.decommission().await;
}

async fn credentials_only_for_authorised_roles_and_audited(db: Db) {
    let p = provisioned(db).await;
    let (svc, id) = (&p.svc, &p.id);
    for who in [requester(), operator(), inspector()] {
        let err = svc.render_document(&who, id, DocumentKind::Persetujuan, DocFormat::Html, Lang::Id, true).await.unwrap_err();
        assert!(matches!(err, ServiceError::Forbidden(_)), "{} got {err:?}", who.role);
    }
    assert!(!svc.store.audit_for_request(id.as_str()).await.unwrap().iter().any(|a| a.action == "document.reveal_credentials"));
    // A requester still gets the form, without the password.
    let plain = svc.render_document(&requester(), id, DocumentKind::Persetujuan, DocFormat::Pdf, Lang::Id, false).await.unwrap();
    assert!(!pdf_text(&plain.bytes).contains(CANARY));

    for who in [admin(), head()] {
        let doc = svc.render_document(&who, id, DocumentKind::Persetujuan, DocFormat::Pdf, Lang::Id, true).await.unwrap();
        let text = pdf_text(&doc.bytes);
        assert_has(&text, &[CANARY, "RAHASIA"], "the Form Persetujuan with credentials");
        assert_eq!(doc.sha256, plain.sha256, "the hash never depends on the password");
    }
    let audit = svc.store.audit_for_request(id.as_str()).await.unwrap();
    let reveals: Vec<_> = audit.iter().filter(|a| a.action == "document.reveal_credentials").collect();
    assert_eq!(reveals.len(), 2, "{audit:?}");
    assert_eq!(reveals[0].actor, admin().name);
    assert!(!format!("{audit:?}").contains(CANARY), "the audit trail carries the password");
    // The CLI, in another process, gives the same bytes; a refused reveal prints no password
    // even at trace level.
    let out = tempfile::tempdir().unwrap();
    let file = out.path().join("bast.pdf");
    let (code, stdout, stderr) = cli(
        &p,
        &[
            "document",
            "render",
            id.as_str(),
            "--kind",
            "berita-acara",
            "--format",
            "pdf",
            "-o",
            file.to_str().unwrap(),
            "--actor",
            "admin.tik",
            "--role",
            "admin",
        ],
    );
    assert_eq!(code, 0, "{stdout}\n{stderr}");
    let direct = svc.render_document(&admin(), id, DocumentKind::BeritaAcara, DocFormat::Pdf, Lang::Id, false).await.unwrap();
    assert!(std::fs::read(&file).unwrap() == direct.bytes, "the CLI's PDF differs from the service's");
    let (code, stdout, stderr) =
        cli(&p, &["document", "render", id.as_str(), "--kind", "persetujuan", "--include-credentials", "--actor", "pengelola", "--role", "operator"]);
    assert_ne!(code, 0);
    assert!(stderr.contains("admin, head"), "{stderr}");
    assert!(!stdout.contains(CANARY) && !stderr.contains(CANARY));
    let (code, stdout, _) = cli(&p, &["asset", "list", "--json", "--actor", "admin.tik", "--role", "admin"]);
    assert_eq!(code, 0);
    assert!(stdout.contains(&format!("{id}-srv-sipd")), "{stdout}");

    // The REST API serves the same bytes with the hash in a header; another unit's requester
    // does not learn the request exists; the register exports as CSV.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let admin_token = api_token(svc, "admin.tik", kolokasi::lifecycle::Role::Admin).await;
    let stranger = api_token_in(svc, "orang-lain", kolokasi::lifecycle::Role::Requester, Some("Dinas Kesehatan")).await;
    tokio::spawn(kolokasi::api::serve(svc.clone(), listener, std::future::pending()));
    let http = reqwest::Client::new();
    let url = format!("{base}/api/v1/requests/{id}/documents/berita-acara?format=pdf&lang=id");
    let r = http.get(&url).bearer_auth(&admin_token).send().await.unwrap();
    assert_eq!(r.status().as_u16(), 200);
    assert_eq!(r.headers()["content-type"], "application/pdf");
    assert_eq!(r.headers()["x-kolokasi-sha256"].to_str().unwrap(), direct.sha256);
    assert!(r.bytes().await.unwrap().as_ref() == direct.bytes.as_slice(), "the API's PDF differs");
    let r = http.get(format!("{base}/api/v1/requests/{id}/documents/berita-acara?format=docx")).bearer_auth(&admin_token).send().await.unwrap();
    assert_eq!(r.status().as_u16(), 400);
    let r = http.get(&url).bearer_auth(&stranger).send().await.unwrap();
    assert_eq!(r.status().as_u16(), 404);
    let r = http.get(format!("{base}/api/v1/assets/export?format=csv")).bearer_auth(&admin_token).send().await.unwrap();
    assert_eq!(r.status().as_u16(), 200);
    assert!(r.text().await.unwrap().contains(&format!("{id}-srv-sipd")));
    let review = format!("{base}/api/v1/assets/{id}-srv-sipd/reviews");
    let r = http.post(&review).bearer_auth(&admin_token).body("{\"findings\": 1}").send().await.unwrap();
    assert_eq!(r.status().as_u16(), 400);
    let r = http.post(&review).bearer_auth(&admin_token).json(&serde_json::json!({"findings": "label dan posisi sesuai"})).send().await.unwrap();
    assert_eq!(r.status().as_u16(), 201);
    assert_eq!(r.json::<Value>().await.unwrap()["reviewer"], "admin.tik");

    // Credentials belong on the Form Persetujuan only.
    let err = svc.render_document(&admin(), id, DocumentKind::BeritaAcara, DocFormat::Html, Lang::Id, true).await.unwrap_err();
    assert!(matches!(err, ServiceError::Invalid(_)), "{err:?}");

    // A broken template names its file and line, for HTML and PDF alike.
    let dir = tempfile::tempdir().unwrap();
    copy_dir(Path::new("templates"), dir.path());
    let bast_html = dir.path().join("documents/bast.html.j2");
    let mut lines: Vec<String> = std::fs::read_to_string(&bast_html).unwrap().lines().map(str::to_string).collect();
    lines[6] = "<p>{{ doc.unit.name </p>".into();
    std::fs::write(&bast_html, lines.join("\n")).unwrap();
    let bast_typ = dir.path().join("documents/bast.typ");
    let mut lines: Vec<String> = std::fs::read_to_string(&bast_typ).unwrap().lines().map(str::to_string).collect();
    lines[9] = "#let broken = (".into();
    std::fs::write(&bast_typ, lines.join("\n")).unwrap();
    let broken = svc.clone().with_template_dir(dir.path());
    let err = broken.render_document(&admin(), id, DocumentKind::BeritaAcara, DocFormat::Html, Lang::Id, false).await.unwrap_err().to_string();
    assert!(err.contains("bast.html.j2") && err.contains("line 7"), "{err}");
    let err = broken.render_document(&admin(), id, DocumentKind::BeritaAcara, DocFormat::Pdf, Lang::Id, false).await.unwrap_err().to_string();
    assert!(err.contains("bast.typ") && err.contains("line 10"), "{err}");
    p.decommission().await;
}

/// Without provisioning: the Form Pengajuan of a request just filed, a Form Persetujuan that
/// rejects, no berita acara before an inspection.
async fn forms_of_a_new_and_of_a_rejected_request(db: Db) {
    let tdb = fresh_db(db).await;
    let svc = service(&tdb).await;
    let id = svc.submit(&requester(), sample_form()).await.unwrap();
    for lang in [Lang::Id, Lang::En] {
        for format in [DocFormat::Html, DocFormat::Pdf] {
            let doc = svc.render_document(&requester(), &id, DocumentKind::Pengajuan, format, lang, false).await.unwrap();
            let text = if format == DocFormat::Pdf { pdf_text(&doc.bytes) } else { String::from_utf8(doc.bytes).unwrap() };
            assert_has(&text, &[id.as_str(), "198503152010011002", "srv-sipd"], "a new request's Form Pengajuan");
        }
    }
    let err = svc.render_document(&admin(), &id, DocumentKind::BeritaAcara, DocFormat::Pdf, Lang::Id, false).await.unwrap_err();
    assert!(err.to_string().contains("no inspection yet"), "{err}");
    let err = svc.render_document(&admin(), &id, DocumentKind::Persetujuan, DocFormat::Pdf, Lang::Id, false).await.unwrap_err();
    assert!(err.to_string().contains("no Form Persetujuan"), "{err}");

    svc.apply(&admin(), &id, Command::Verify { reason: None }).await.unwrap();
    svc.apply(&operator(), &id, Command::CheckCapacity { reason: None }).await.unwrap();
    svc.apply(&requester(), &id, Command::CompleteForm { form: None, reason: None }).await.unwrap();
    let reject = kolokasi::service::RejectInput { place: text("Samarinda"), reasons: vec![text("rak penuh sampai Maret 2027")], signed_by: None };
    svc.apply(&admin(), &id, Command::Reject(reject)).await.unwrap();
    for format in [DocFormat::Html, DocFormat::Pdf] {
        let doc = svc.render_document(&admin(), &id, DocumentKind::Persetujuan, format, Lang::Id, false).await.unwrap();
        let text = if format == DocFormat::Pdf { pdf_text(&doc.bytes) } else { String::from_utf8(doc.bytes).unwrap() };
        assert_has(&text, &["FORM. PERSETUJUAN", "menolak", "rak penuh sampai Maret 2027", id.as_str()], "a rejection");
        assert!(!text.contains("Letak Server"), "a rejection has no Data Center block");
    }
}

/// Runs the `kolokasi` binary against the test's database (with the test's master key).
fn cli(p: &Provisioned, args: &[&str]) -> (i32, String, String) {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_kolokasi"))
        .args(args)
        .env("KOLOKASI_DATABASE_URL", &p._db.url)
        .env("KOLOKASI_MASTER_KEY", "KioqKioqKioqKioqKioqKioqKioqKioqKioqKioqKio=")
        .env("KOLOKASI_LOG", "trace")
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .unwrap();
    (out.status.code().unwrap_or(-1), String::from_utf8_lossy(&out.stdout).into(), String::from_utf8_lossy(&out.stderr).into())
}

fn copy_dir(from: &Path, to: &Path) {
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            std::fs::create_dir_all(&target).unwrap();
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).unwrap();
        }
    }
}
