//! `kolokasi drift …`: check live requests for drift (exit status 2 when something drifted,
//! 3 when a device could not be read), repair one (the plan first, then the re-run), or accept
//! a drifted item with a reason.

use std::process::ExitCode;

use anyhow::Context;
use clap::Subcommand;

use super::Ctx;
use super::output::print_json;
use crate::domain::RequestId;
use crate::drift::{Checker, DriftReport, DriftStatus, RepairPlan};

#[derive(Debug, Subcommand)]
pub enum DriftCmd {
    /// Re-read the devices and compare with what the run log says was written.
    Check {
        /// One request (default with --all: every live request).
        request: Option<String>,
        #[arg(long)]
        all: bool,
    },
    /// Show the repair plan, then re-run the drifted steps (an ordinary, audited run).
    Repair {
        request: String,
        #[arg(long)]
        reason: String,
        /// Only show the plan.
        #[arg(long)]
        plan_only: bool,
    },
    /// Accept a drifted item as it is now, so it is no longer reported (audited).
    Accept {
        request: String,
        /// The item as the check names it (`dns:www.example.go.id/CNAME`).
        item: String,
        #[arg(long)]
        reason: String,
    },
}

fn exit_for(reports: &[DriftReport]) -> ExitCode {
    if reports.iter().any(|r| r.status == DriftStatus::Drifted) {
        ExitCode::from(2)
    } else if reports.iter().any(|r| r.status == DriftStatus::Unknown) {
        ExitCode::from(3)
    } else {
        ExitCode::SUCCESS
    }
}

fn print_plan(plan: &RepairPlan) {
    println!("Rencana perbaikan {} (run {}):", plan.request, plan.run);
    for (i, s) in plan.steps.iter().enumerate() {
        println!("  {:>2}. re-run {:<12} {}\n      for {}", i + 1, s.step, s.plan, s.items.join(", "));
    }
}

pub async fn run(ctx: &Ctx, cmd: DriftCmd) -> anyhow::Result<ExitCode> {
    anyhow::ensure!(ctx.remote.is_none(), "drift commands need the devices: run them where the drivers are configured (or POST /api/v1/requests/ID/drift)");
    let checker = Checker::new(ctx.engine().await?);
    let actor = ctx.actor()?;
    match cmd {
        DriftCmd::Check { request, all } => {
            let started = std::time::Instant::now();
            let reports = match (request, all) {
                (Some(r), false) => vec![checker.check_one(actor, &RequestId::parse(&r)?).await?],
                (None, true) => checker.check_all(actor).await?,
                _ => anyhow::bail!("name one REQUEST or say --all"),
            };
            if ctx.json {
                print_json(&reports);
            } else {
                for r in &reports {
                    print!("{}", r.to_text());
                }
                let drifted = reports.iter().filter(|r| r.status == DriftStatus::Drifted).count();
                println!("{} live requests checked in {} ms: {drifted} drifted", reports.len(), started.elapsed().as_millis());
            }
            Ok(exit_for(&reports))
        }
        DriftCmd::Repair { request, reason, plan_only } => {
            let id = RequestId::parse(&request)?;
            let (plan, report) = checker.plan_repair(actor, &id).await?;
            if plan.steps.is_empty() {
                if ctx.json { print_json(&serde_json::json!({ "plan": plan, "report": report })) } else { print!("{}", report.to_text()) }
                return Ok(ExitCode::SUCCESS);
            }
            if !ctx.json {
                print!("{}", report.to_text());
                print_plan(&plan);
            }
            if plan_only {
                if ctx.json { print_json(&serde_json::json!({ "plan": plan, "report": report })) }
                return Ok(ExitCode::SUCCESS);
            }
            let (plan, after) = checker.repair(actor, &id, &reason).await.context("the repair did not finish")?;
            if ctx.json { print_json(&serde_json::json!({ "plan": plan, "report": after })) } else { print!("after the repair: {}", after.to_text()) }
            Ok(exit_for(std::slice::from_ref(&after)))
        }
        DriftCmd::Accept { request, item, reason } => {
            let report = checker.accept(actor, &RequestId::parse(&request)?, &item, &reason).await?;
            if ctx.json { print_json(&report) } else { print!("{}", report.to_text()) }
            Ok(ExitCode::SUCCESS)
        }
    }
}
