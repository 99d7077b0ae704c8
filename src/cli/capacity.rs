//! `kolokasi capacity check ID`: SOP step 3.

use std::process::ExitCode;

use clap::Subcommand;

use super::Ctx;
use super::output::{print_json, print_table};
use crate::capacity::Verdict;
use crate::domain::RequestId;
use crate::service::Command;

#[derive(Debug, Subcommand)]
pub enum CapacityCmd {
    /// Check capacity for a request and record the verdict (confirmed, or closed naming the
    /// short resource). With --dry-run, only show it.
    Check {
        id: String,
        #[arg(long)]
        dry_run: bool,
        #[arg(long)]
        reason: Option<String>,
    },
}

pub async fn run(ctx: &Ctx, cmd: CapacityCmd) -> anyhow::Result<ExitCode> {
    let CapacityCmd::Check { id, dry_run, reason } = cmd;
    let id = RequestId::parse(&id)?;
    let service = ctx.service().await?;
    let verdict = service.capacity_preview(&ctx.reader()?, &id).await?;
    let state = if dry_run { None } else { Some(service.apply(ctx.actor()?, &id, Command::CheckCapacity { reason }).await?) };
    if ctx.json {
        print_json(&serde_json::json!({ "id": id, "verdict": verdict, "state": state }));
    } else {
        print_verdict(&verdict);
        if let Some(s) = state {
            println!("{id}: {s} ({})", s.label_id());
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn print_verdict(v: &Verdict) {
    if v.ok {
        println!("Kapasitas tersedia di {}", v.noc.as_deref().unwrap_or("-"));
        let rows: Vec<Vec<String>> =
            v.placements.iter().map(|p| vec![p.server.clone(), p.noc.clone(), p.location(), format!("{} W", p.power_w)]).collect();
        if !rows.is_empty() {
            print_table(&["SERVER", "NOC", "LETAK", "DAYA"], &rows);
        }
    } else {
        println!("Kapasitas TIDAK tersedia:");
        let rows: Vec<Vec<String>> = v
            .shortages
            .iter()
            .map(|s| vec![s.resource.label_id().to_string(), s.needed.to_string(), s.available.to_string(), s.detail.clone()])
            .collect();
        print_table(&["SUMBER DAYA", "BUTUH", "TERSEDIA", "KETERANGAN"], &rows);
    }
}
