//! `kolokasi demo`: walks the sample co-location request through every SOP step on a fresh
//! embedded SQLite store, printing each step, then shows the request.

use std::process::ExitCode;

use anyhow::Context;
use clap::Args;

use super::Ctx;
use crate::config::Settings;
use crate::domain::{HardwareReceipt, RequestForm, Text};
use crate::lifecycle::{Actor, Role};
use crate::secrets::Secret;
use crate::service::{ApproveInput, Command, Service};
use crate::store::Store;

#[derive(Debug, Args)]
pub struct DemoArgs {
    /// Keep the demo database in this folder instead of a temporary one.
    #[arg(long)]
    dir: Option<std::path::PathBuf>,
}

pub async fn run(ctx: &Ctx, args: DemoArgs) -> anyhow::Result<ExitCode> {
    let tmp = tempdir()?;
    let dir = args.dir.unwrap_or_else(|| tmp.clone());
    std::fs::create_dir_all(&dir)?;
    let url = format!("sqlite://{}/kolokasi-demo.db", dir.display());
    let settings = Settings { database_url: url.clone(), master_key: None, master_key_file: None, ..ctx.settings.clone() };
    let key = settings.master_key()?.context("the demo folder already holds a database without its key file; use another --dir")?;
    let store = Store::connect(&url).await.context("cannot create the demo database")?;
    let service = Service::new(store, settings.inventory()?, settings.calendar()?, Some(key));

    let form = RequestForm::from_yaml(include_str!("../../deploy/examples/colocation-request.yaml"))?;
    let requester = Actor::new("budi.santoso", Role::Requester)?;
    let admin = Actor::new("admin.tik", Role::Admin)?;
    let operator = Actor::new("pengelola.ti", Role::Operator)?;
    let inspector = Actor::new("pemeriksa.ti", Role::Inspector)?;
    let text = |s: &str| Text::parse(s).expect("literal");

    println!("kolokasi demo — database {url}");
    let id = service.submit(&requester, form).await?;
    println!("  1. {id} diajukan oleh {} (OPD)", requester.name);
    let steps: Vec<(&str, &Actor, Command)> = vec![
        ("2. verifikasi & disposisi", &admin, Command::Verify { reason: Some("berkas lengkap; disposisi ke Pengawas Infrastruktur TIK".into()) }),
        ("3. cek kapasitas", &operator, Command::CheckCapacity { reason: None }),
        ("4. Form Pengajuan lengkap", &requester, Command::CompleteForm { form: None, reason: None }),
        (
            "5. Form Persetujuan",
            &admin,
            Command::Approve(ApproveInput {
                place: text("Samarinda"),
                reasons: vec![text("kapasitas rak, daya dan bandwidth mencukupi")],
                signed_by: None,
                host_admin_user: Some(text("opd-admin")),
                host_admin_password: Some(Secret::new(random_password())),
            }),
        ),
        ("6. pemberitahuan persetujuan", &operator, Command::StartProvisioning { reason: None }),
        (
            "7. perangkat diterima",
            &inspector,
            Command::HardwareReceived {
                receipt: HardwareReceipt { serial_number: text("SMC-X12-0042"), type_brand: text("Supermicro SYS-1029P"), switch_port: Some(text("r1p1")) },
                reason: None,
            },
        ),
        ("8. serah terima", &inspector, Command::HandOver { reason: Some("berita acara serah terima ditandatangani".into()) }),
        ("9. laporan selesai", &inspector, Command::ReportLive { reason: Some("dilaporkan ke OPD, tembusan Kepala Bidang".into()) }),
    ];
    for (label, actor, command) in steps {
        let state = service.apply(actor, &id, command).await?;
        println!("  {label:<32} {} ({}) → {}", actor.name, actor.role.sop_title(), state.label_id());
    }
    let view = service.request(&id).await?;
    if ctx.json {
        super::output::print_json(&view);
    } else {
        if let Some(c) = &view.capacity {
            println!("\n{}", c.summary());
        }
        println!("audit chain: {} rows intact", service.store.audit_verify().await?.map_err(|b| anyhow::anyhow!("audit chain broken at {}", b.seq))?);
        println!("\nNext: kolokasi --database-url {url} request show {id}");
    }
    Ok(ExitCode::SUCCESS)
}

fn tempdir() -> anyhow::Result<std::path::PathBuf> {
    let dir = std::env::temp_dir().join(format!("kolokasi-demo-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    Ok(dir)
}

fn random_password() -> String {
    use rand::Rng;
    rand::rng().sample_iter(rand::distr::Alphanumeric).take(20).map(char::from).collect()
}
