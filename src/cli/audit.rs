//! `kolokasi audit show|verify|checkpoint`.

use std::process::ExitCode;

use clap::Subcommand;

use super::Ctx;
use super::output::{print_json, print_table, wita};

#[derive(Debug, Subcommand)]
pub enum AuditCmd {
    /// The audit trail of a request, or the latest rows.
    Show {
        #[arg(long)]
        request: Option<String>,
        #[arg(long, default_value_t = 50)]
        limit: i64,
    },
    /// Check the chain (hashes, links, MACs, head) and signed checkpoints; names the first bad
    /// row: edited, deleted, inserted, reordered or a cut-off tail.
    Verify {
        /// A checkpoint file (JSON lines); default the configured `audit.checkpoint_file` if it exists.
        #[arg(long)]
        checkpoints: Option<std::path::PathBuf>,
    },
    /// Sign a checkpoint of the chain head and append it to a file (default `audit.checkpoint_file`).
    Checkpoint {
        #[arg(long)]
        to: Option<std::path::PathBuf>,
    },
}

pub async fn run(ctx: &Ctx, cmd: AuditCmd) -> anyhow::Result<ExitCode> {
    let service = ctx.service().await?;
    match cmd {
        AuditCmd::Show { request, limit } => {
            let rows = match request {
                Some(id) => service.request_audit(&ctx.reader()?, &crate::domain::RequestId::parse(&id)?).await?,
                None => service.recent_audit(&ctx.reader()?, limit).await?,
            };
            if ctx.json {
                print_json(&rows);
            } else {
                let table: Vec<Vec<String>> = rows
                    .iter()
                    .map(|r| {
                        vec![
                            r.seq.to_string(),
                            wita(r.at),
                            format!("{} ({})", r.actor, r.role),
                            r.request_id.clone().unwrap_or_default(),
                            r.action.clone(),
                            r.reason.clone().unwrap_or_default(),
                        ]
                    })
                    .collect();
                print_table(&["#", "WAKTU", "OLEH", "PERMOHONAN", "TINDAKAN", "ALASAN"], &table);
            }
            Ok(ExitCode::SUCCESS)
        }
        AuditCmd::Verify { checkpoints } => {
            let file = checkpoints.or_else(|| ctx.settings.audit.checkpoint_file.clone().filter(|p| p.exists()));
            let list = match &file {
                Some(p) => crate::service::audit_checkpoints::read_checkpoints(p)?,
                None => Vec::new(),
            };
            let report = service.verify_audit_with(&ctx.reader()?, &list).await?;
            print_report(ctx.json, &report);
            Ok(if report.broken.is_some() { ExitCode::from(2) } else { ExitCode::SUCCESS })
        }
        AuditCmd::Checkpoint { to } => {
            let path = to.or_else(|| ctx.settings.audit.checkpoint_file.clone()).ok_or_else(|| anyhow::anyhow!("say where: --to FILE or audit.checkpoint_file"))?;
            let cp = service.audit_checkpoint(&ctx.reader()?).await?;
            crate::service::audit_checkpoints::append_checkpoint(&path, &cp)?;
            if ctx.json { print_json(&cp) } else { println!("checkpoint of row {} appended to {}", cp.seq, path.display()) }
            Ok(ExitCode::SUCCESS)
        }
    }
}

fn print_report(json: bool, report: &crate::store::VerifyReport) {
    if json {
        print_json(&serde_json::json!({ "ok": report.broken.is_none(), "report": report, "break": report.broken }));
        return;
    }
    match &report.broken {
        None => println!("audit chain intact: {} rows", report.rows),
        Some(b) => println!("audit chain BROKEN at row {}: {}", b.seq, b.problem),
    }
    println!(
        "  v1 rows {}, keyed rows {}, unkeyed rows {}, checkpoints checked {}{}",
        report.v1_rows,
        report.keyed_rows,
        report.unkeyed_rows,
        report.checkpoints_checked,
        if report.macs_checked { "" } else { "; MACs NOT checked (no master key here)" }
    );
}
