//! `kolokasi demo`: a sample co-location request through every SOP step on a fresh embedded
//! SQLite store; the technical steps run for real against the local lab (addresses, DNS, …)
//! with progress, waiting at the hardware gate until the demo records the delivery.
//! `--no-lab` walks the lifecycle only.

use std::process::ExitCode;

use anyhow::Context;
use clap::Args;

use super::Ctx;
use crate::config::Settings;
use crate::domain::{HardwareReceipt, RequestForm, Text};
use crate::engine::{Drivers, Engine, Progress, ProgressPhase, RunStatus};
use crate::lifecycle::{Actor, Role};
use crate::secrets::Secret;
use crate::service::{ApproveInput, Command, Service};
use crate::store::Store;

#[derive(Debug, Args)]
pub struct DemoArgs {
    /// Keep the demo database in this folder instead of a temporary one.
    #[arg(long)]
    dir: Option<std::path::PathBuf>,
    /// Do not touch the lab: walk the lifecycle only.
    #[arg(long)]
    no_lab: bool,
}

pub async fn run(ctx: &Ctx, args: DemoArgs) -> anyhow::Result<ExitCode> {
    let (engine, url) = demo_engine(ctx, &args).await?;
    let service = engine.service().clone();

    let form = RequestForm::from_yaml(include_str!("../../deploy/examples/colocation-request-lab.yaml"))?;
    let requester = Actor::in_unit("budi.santoso", Role::Requester, form.unit.name.as_str())?;
    let admin = Actor::new("admin.tik", Role::Admin)?;
    let operator = Actor::new("pengelola.ti", Role::Operator)?;
    let inspector = Actor::new("pemeriksa.ti", Role::Inspector)?;
    let text = |s: &str| Text::parse(s).expect("literal");
    let say = |label: &str, actor: &Actor, state: crate::lifecycle::State| {
        println!("  {label:<32} {} ({}) → {}", actor.name, actor.role.sop_title(), state.label_id());
    };

    println!("kolokasi demo — database {url}{}", if args.no_lab { " (lifecycle only)" } else { ", lab /tmp/kolokasi-lab" });
    let started = std::time::Instant::now();
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
    ];
    for (label, actor, command) in steps {
        let state = service.apply(actor, &id, command).await?;
        say(label, actor, state);
    }
    let run = Engine::run_id(id.as_str(), "colocation");
    let observer = |p: &Progress| {
        let mark = match p.phase {
            ProgressPhase::Started => return,
            ProgressPhase::Succeeded => "✔",
            ProgressPhase::Waiting => "⏸",
            ProgressPhase::Retrying => "↻",
            ProgressPhase::Failed | ProgressPhase::UndoFailed => "✘",
            ProgressPhase::Undoing | ProgressPhase::Undone => "↺",
        };
        let detail: String = p.detail.chars().take(90).collect();
        println!("     {mark} [{}/{}] {:<12} {:>5} ms  {detail}", p.index + 1, p.total, p.step, p.elapsed_ms);
    };
    if !args.no_lab {
        let view = engine.drive(&run, &observer).await?;
        adopt_earlier_demo_records(&engine, &admin, &operator, &id, &run, &view).await?;
    }
    let receipt = HardwareReceipt { serial_number: text("SMC-X12-0042"), type_brand: text("Supermicro SYS-1029P"), switch_port: Some(text("r1p1")), host_key: None };
    let state = service.apply(&inspector, &id, Command::HardwareReceived { receipt, reason: None }).await?;
    say("7. perangkat diterima", &inspector, state);
    if args.no_lab {
        // Handover and going live follow the run's work on the devices; without a lab there is
        // none, so the lifecycle-only demo stops here.
        println!("  8-9. serah terima & laporan    follow the provisioning run on real devices (run the demo without --no-lab)");
    } else {
        let view = engine.drive(&run, &observer).await?;
        anyhow::ensure!(view.status == RunStatus::Succeeded, "the run stopped: {:?} (see `kolokasi run status {id}`)", view.status);
        println!("  8-9. serah terima & laporan    kolokasi (run {run} succeeded) → {}", service.request(&admin, &id).await?.state.label_id());
    }
    summary(ctx, &service, &admin, &id, &url, started).await?;
    Ok(ExitCode::SUCCESS)
}

/// A new embedded store in the demo folder, with the lab's drivers unless `--no-lab`.
async fn demo_engine(ctx: &Ctx, args: &DemoArgs) -> anyhow::Result<(Engine, String)> {
    let dir = match &args.dir {
        Some(d) => d.clone(),
        None => std::env::temp_dir().join(format!("kolokasi-demo-{}", std::process::id())),
    };
    std::fs::create_dir_all(&dir)?;
    let url = format!("sqlite://{}/kolokasi-demo.db", dir.display());
    let settings = Settings { database_url: url.clone(), master_key: None, master_key_file: None, ..ctx.settings.clone() };
    let key = settings.master_key()?.context("the demo folder already holds a database without its key file; use another --dir")?;
    let store = Store::connect(&url).await.context("cannot create the demo database")?;
    let service = Service::new(store, settings.inventory()?, settings.calendar()?, Some(key));
    service.ensure_pools().await?;
    let drivers = if args.no_lab { Drivers::default() } else { Drivers::from_lab(&crate::lab::Lab::load()?)? };
    let registry = crate::actions::builtin();
    let playbooks = Engine::load_playbooks(settings.playbook_dir().as_deref(), &registry)?;
    let engine = Engine::new(service, drivers, registry, playbooks)?;

    Ok((engine, url))
}

/// What the demo leaves: the request's view (`--json`), or the capacity line, the audit chain's
/// check and the commands to look further.
async fn summary(ctx: &Ctx, service: &Service, admin: &Actor, id: &crate::domain::RequestId, url: &str, started: std::time::Instant) -> anyhow::Result<()> {
    let view = service.request(admin, id).await?;
    if ctx.json {
        super::output::print_json(&view);
    } else {
        if let Some(c) = &view.capacity {
            println!("\n{}", c.summary());
        }
        let audit = service.store.audit_verify().await?.map_err(|b| anyhow::anyhow!("audit chain broken at {}", b.seq))?;
        println!("audit chain: {audit} rows intact; whole SOP in {} ms", started.elapsed().as_millis());
        println!("\nNext: kolokasi --database-url {url} request show {id}");
        println!("      kolokasi --database-url {url} run status {id}");
    }
    Ok(())
}

/// The lab keeps the records an earlier demo wrote (this demo's database is new), and kolokasi
/// never overwrites a record it did not write: the DNS step stops with a conflict. The demo then
/// does what an operator would: the admin adopts the demo's records (audited), the step is
/// retried, and the run goes on to the hardware gate.
async fn adopt_earlier_demo_records(
    engine: &Engine,
    admin: &Actor,
    operator: &Actor,
    id: &crate::domain::RequestId,
    run: &str,
    view: &crate::engine::RunView,
) -> anyhow::Result<()> {
    use crate::engine::StepStatus;
    let stopped_at_dns = view.steps.iter().any(|s| s.name == "dns" && matches!(s.status, StepStatus::Failed { .. }));
    if view.status != RunStatus::Failed || !stopped_at_dns {
        return Ok(());
    }
    let service = engine.service();
    let domain = service.store.request(id).await?.form.domain;
    let www = crate::domain::Fqdn::parse(&format!("www.{domain}"))?;
    let mut records = vec![(domain.clone(), "A"), (domain.clone(), "AAAA"), (www, "CNAME")];
    for step in view.steps.iter().filter(|s| s.name.starts_with("address-")) {
        if let Some(addr) = step.output.as_ref().and_then(|o| o["address"].as_str()).and_then(|a| a.parse().ok()) {
            records.push((crate::dns::reverse_name(addr), "PTR"));
        }
    }
    let reason = "demo: records an earlier demo left on the lab";
    for (name, kind) in &records {
        service.adopt_record(admin, id, name, kind, reason).await?;
    }
    println!("     ↻ the lab holds an earlier demo's records: {} adopts them ({reason}), the step is retried", admin.name);
    engine.retry(operator, run, Some("dns"), reason).await?;
    let observer = |_: &Progress| {};
    let view = engine.drive(run, &observer).await?;
    anyhow::ensure!(view.status != RunStatus::Failed, "the run stopped again: see `kolokasi run status {id}`");
    Ok(())
}

fn random_password() -> String {
    use rand::Rng;
    rand::rng().sample_iter(rand::distr::Alphanumeric).take(20).map(char::from).collect()
}
