//! `kolokasi audit show|verify`.

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
    /// Check the hash chain; names the first edited, deleted or reordered row.
    Verify,
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
        AuditCmd::Verify => match service.verify_audit(&ctx.reader()?).await? {
            Ok(n) => {
                if ctx.json { print_json(&serde_json::json!({ "ok": true, "rows": n })) } else { println!("audit chain intact: {n} rows") }
                Ok(ExitCode::SUCCESS)
            }
            Err(b) => {
                if ctx.json { print_json(&serde_json::json!({ "ok": false, "break": b })) } else { println!("audit chain BROKEN at row {}: {}", b.seq, b.problem) }
                Ok(ExitCode::from(2))
            }
        },
    }
}
