//! The asset register on SQLite and PostgreSQL: a server provisioned on the lab (switch port
//! bp90) becomes an asset at handover with its measured spec, is withdrawn (and kept) at
//! decommissioning; reviews move the due date; due and overdue lists; CSV and XLSX exports
//! (quoted, formulas defused, a valid workbook with the values in its sheet).

mod common;

use std::io::Read;

use common::*;
use kolokasi::domain::{HardwareReceipt, Revocation};
use kolokasi::engine::{Engine, RunStatus};
use kolokasi::service::{Command, ExportFormat, ServiceError};
use kolokasi::store::AssetFilter;

const PORT: &str = "bp90";

on_both_databases!(a_server_becomes_an_asset_at_handover_and_is_kept_when_withdrawn);

async fn port_lock() -> tokio::sync::MutexGuard<'static, ()> {
    static LOCK: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());
    LOCK.lock().await
}

fn quiet(_: &kolokasi::engine::Progress) {}

fn unzip(bytes: &[u8], entry: &str) -> String {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("x.xlsx");
    std::fs::write(&file, bytes).unwrap();
    // Python's zipfile, independent of the writer.
    let out = std::process::Command::new("/usr/bin/python3")
        .args([
            "-c",
            "import sys, zipfile; z = zipfile.ZipFile(sys.argv[1]); assert z.testzip() is None; sys.stdout.write(z.read(sys.argv[2]).decode())",
            file.to_str().unwrap(),
            entry,
        ])
        .output()
        .unwrap();
    assert!(out.status.success(), "not a valid workbook: {}", String::from_utf8_lossy(&out.stderr));
    let mut s = String::new();
    out.stdout.as_slice().read_to_string(&mut s).unwrap();
    s
}

async fn a_server_becomes_an_asset_at_handover_and_is_kept_when_withdrawn(db: Db) {
    let _port = port_lock().await;
    let _dns = lab_dns_lock().await;
    reset_lab_port(PORT);
    let tdb = fresh_db(db).await;
    let svc = service(&tdb).await;
    let engine = lab_engine(svc.clone());
    let svc = engine.service().clone();

    let id = approved_request(&svc, sample_form()).await;
    assert!(svc.assets(&admin(), AssetFilter::All).await.unwrap().is_empty(), "no asset before handover");
    svc.apply(&operator(), &id, Command::StartProvisioning { reason: None }).await.unwrap();
    // A serial number a spreadsheet would run as a formula: the exports must defuse it.
    let receipt = HardwareReceipt { serial_number: text("=SN-ASSET-42"), type_brand: text("HPE ProLiant DL360 Gen10"), switch_port: Some(text(PORT)), host_key: None };
    svc.apply(&inspector(), &id, Command::HardwareReceived { receipt, reason: None }).await.unwrap();
    let view = engine.drive(&Engine::run_id(id.as_str(), "colocation"), &quiet).await.unwrap();
    assert_eq!(view.status, RunStatus::Succeeded, "{view:?}");

    // Registered at handover with the measured spec, placement and addresses.
    let assets = svc.assets(&admin(), AssetFilter::All).await.unwrap();
    assert_eq!(assets.len(), 1, "{assets:?}");
    let a = &assets[0];
    let facts =
        svc.store.step_outputs(&format!("{id}/colocation")).await.unwrap().into_iter().find(|s| s.action == "inspect_server").unwrap().output["facts"].clone();
    let kib = facts["mem_total_kib"]["found"].as_u64().unwrap();
    assert_eq!(a.id, format!("{id}-srv-sipd"));
    assert_eq!(a.request_id, id.as_str());
    assert_eq!(a.serial_number.as_deref(), Some("=SN-ASSET-42"));
    assert_eq!(a.type_brand.as_deref(), Some("HPE ProLiant DL360 Gen10"));
    assert_eq!(a.spec["ram"]["measured"], format!("{:.1} GB", kib as f64 / 1024.0 / 1024.0));
    assert_eq!(a.spec["ram"]["declared"], "8 GB");
    assert_eq!(a.spec["processor"]["measured"].as_str().unwrap().split(" (").next().unwrap(), facts["cpu"]["found"]["model"].as_str().unwrap());
    assert_eq!(a.spec["inspected"], true);
    assert_eq!(a.unit, "Dinas Pendidikan dan Kebudayaan Provinsi Kalimantan Timur");
    assert_eq!(a.official_nip, "198503152010011002");
    let row = svc.store.request(&id).await.unwrap();
    let p = &row.capacity.as_ref().unwrap().placements[0];
    assert_eq!(
        (a.noc.as_deref(), a.rack.as_deref(), a.from_u, a.to_u),
        (Some(p.noc.as_str()), Some(p.rack.as_str()), Some(i64::from(p.from_u)), Some(i64::from(p.to_u)))
    );
    let addresses = svc.store.allocations(Some(id.as_str()), None, 10).await.unwrap();
    assert!(addresses.iter().any(|x| Some(&x.address) == a.ipv4.as_ref()), "{a:?}");
    assert!(addresses.iter().any(|x| Some(&x.address) == a.ipv6.as_ref()), "{a:?}");
    assert_eq!(a.domain, row.form.domain.as_str());
    assert_eq!(a.status, "active");
    let year = time::Duration::days(365);
    assert!((a.review_due_at - a.installed_at - year).abs() < time::Duration::seconds(1));
    let audit = svc.store.audit_for_request(id.as_str()).await.unwrap();
    assert!(audit.iter().any(|e| e.action == "asset.register"), "registration audited");

    // Due lists: nothing due now; a review due in the past shows as due and overdue.
    assert!(svc.assets_due(&admin(), false).await.unwrap().is_empty());
    sqlx::query("UPDATE assets SET review_due_at = review_due_at - $1 WHERE id = $2")
        .bind(400_i64 * 86_400 * 1_000_000)
        .bind(&a.id)
        .execute(svc.store.pool())
        .await
        .unwrap();
    assert_eq!(svc.assets_due(&admin(), true).await.unwrap().len(), 1);
    assert_eq!(svc.assets_due(&admin(), false).await.unwrap().len(), 1);

    // A review (who, when, findings) moves the due date a year on.
    let err = svc.review_asset(&requester(), &a.id, "looks fine").await.unwrap_err();
    assert!(matches!(err, ServiceError::Forbidden(_)), "{err:?}");
    let review = svc.review_asset(&inspector(), &a.id, "S/N dan posisi rak sesuai; label terpasang").await.unwrap();
    assert_eq!((review.seq, review.reviewer.as_str(), review.role.as_str()), (1, "pemeriksa", "inspector"));
    assert!(svc.assets_due(&admin(), true).await.unwrap().is_empty());
    let reviews = svc.asset_reviews(&admin(), &a.id).await.unwrap();
    assert_eq!(reviews.len(), 1);
    assert_eq!(reviews[0].findings, "S/N dan posisi rak sesuai; label terpasang");

    // Exports: CSV quoted with formulas defused; XLSX a valid workbook with the values.
    let (csv, content_type, _) = svc.export_assets(&admin(), ExportFormat::Csv).await.unwrap();
    assert!(content_type.starts_with("text/csv"));
    let csv = String::from_utf8(csv).unwrap();
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(lines.len(), 2, "{csv}");
    assert!(lines[0].starts_with("\"Asset\",\"Request\",\"Server\",\"S/N\""), "{csv}");
    assert!(lines[1].contains("\"'=SN-ASSET-42\""), "the formula is not defused: {csv}");
    assert!(lines[1].contains(&format!("\"{}\"", a.id)) && lines[1].contains("\"198503152010011002\""), "{csv}");
    assert!(lines[1].contains("label terpasang"), "{csv}");
    let (xlsx, _, filename) = svc.export_assets(&admin(), ExportFormat::Xlsx).await.unwrap();
    assert!(filename.ends_with(".xlsx"));
    assert!(xlsx.starts_with(b"PK"), "not a zip");
    let book = unzip(&xlsx, "xl/workbook.xml");
    assert!(book.contains("Aset Register"), "{book}");
    let strings = unzip(&xlsx, "xl/sharedStrings.xml");
    for v in [a.id.as_str(), "'=SN-ASSET-42", "HPE ProLiant DL360 Gen10", "198503152010011002", a.ipv4.as_deref().unwrap()] {
        assert!(strings.contains(v), "the workbook lacks {v}: {strings}");
    }
    let sheet = unzip(&xlsx, "xl/worksheets/sheet1.xml");
    assert!(!sheet.contains("<f>"), "the workbook holds a formula: {sheet}");

    // Decommissioning withdraws the asset with the date and keeps it in the register.
    svc.apply(
        &requester(),
        &id,
        Command::RequestRevocation { revocation: Revocation { reasons: vec![text("server diganti")], effective: None, approved_by: None } },
    )
    .await
    .unwrap();
    svc.apply(&head(), &id, Command::ApproveRevocation { approved_by: None, reason: None }).await.unwrap();
    let view = engine.drive(&Engine::run_id(id.as_str(), "decommission"), &quiet).await.unwrap();
    assert_eq!(view.status, RunStatus::Succeeded, "{view:?}");
    let assets = svc.assets(&admin(), AssetFilter::All).await.unwrap();
    assert_eq!(assets.len(), 1, "the withdrawn asset is kept");
    assert_eq!(assets[0].status, "withdrawn");
    assert!(assets[0].withdrawn_at.is_some());
    assert!(svc.assets_due(&admin(), true).await.unwrap().is_empty(), "withdrawn assets are not due for review");
    let err = svc.review_asset(&inspector(), &a.id, "again").await.unwrap_err();
    assert!(matches!(err, ServiceError::Conflict(_)), "{err:?}");
    let audit = svc.store.audit_for_request(id.as_str()).await.unwrap();
    assert!(audit.iter().any(|e| e.action == "asset.withdraw"));
    assert!(audit.iter().any(|e| e.action == "asset.review"));
}
