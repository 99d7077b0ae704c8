//! `kolokasi asset …`: the asset register (servers registered at handover, withdrawn at
//! decommissioning): list (all, due or overdue for the yearly review), review, export.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::{ArgGroup, Subcommand};

use super::Ctx;
use super::output::{print_json, print_table};
use crate::service::ExportFormat;
use crate::store::AssetFilter;

#[derive(Debug, Subcommand)]
pub enum AssetCmd {
    /// The register; `--due`: review due within 30 days or overdue; `--overdue`: past due.
    #[command(group(ArgGroup::new("which").args(["due", "overdue"])))]
    List {
        #[arg(long)]
        due: bool,
        #[arg(long)]
        overdue: bool,
    },
    /// Record a review of an asset (who and when are recorded; the next is due a year on).
    Review {
        asset: String,
        #[arg(long)]
        findings: String,
    },
    /// Export the register as CSV or XLSX.
    Export {
        /// csv or xlsx.
        #[arg(long, default_value = "xlsx")]
        format: ExportFormat,
        #[arg(short = 'o', long)]
        output: PathBuf,
    },
}

fn day(t: time::OffsetDateTime) -> String {
    let d = t.to_offset(crate::lifecycle::sla::WITA).date();
    format!("{:04}-{:02}-{:02}", d.year(), u8::from(d.month()), d.day())
}

pub async fn run(ctx: &Ctx, cmd: AssetCmd) -> anyhow::Result<ExitCode> {
    let service = ctx.service().await?;
    match cmd {
        AssetCmd::List { due, overdue } => {
            let actor = ctx.reader()?;
            let assets = if due || overdue { service.assets_due(&actor, overdue).await? } else { service.assets(&actor, AssetFilter::All).await? };
            if ctx.json {
                print_json(&assets);
            } else {
                let rows: Vec<Vec<String>> = assets
                    .iter()
                    .map(|a| {
                        vec![
                            a.id.clone(),
                            a.serial_number.clone().unwrap_or_default(),
                            a.unit.clone(),
                            format!("{} {}", a.noc.as_deref().unwrap_or("-"), a.rack.as_deref().unwrap_or("")),
                            a.ipv4.clone().unwrap_or_default(),
                            a.status.clone(),
                            day(a.review_due_at),
                        ]
                    })
                    .collect();
                print_table(&["ASSET", "S/N", "UNIT", "LOCATION", "IPV4", "STATUS", "REVIEW DUE"], &rows);
            }
        }
        AssetCmd::Review { asset, findings } => {
            let review = service.review_asset(ctx.actor()?, &asset, &findings).await?;
            if ctx.json {
                print_json(&review);
            } else {
                println!("asset {asset}: review {} recorded by {} ({})", review.seq, review.reviewer, review.role);
            }
        }
        AssetCmd::Export { format, output } => {
            let (bytes, _, _) = service.export_assets(&ctx.reader()?, format).await?;
            std::fs::write(&output, &bytes).with_context(|| format!("cannot write {}", output.display()))?;
            eprintln!("{} written ({} bytes)", output.display(), bytes.len());
        }
    }
    Ok(ExitCode::SUCCESS)
}
