//! `kolokasi run …`: start a request's provisioning (or decommissioning) run in the foreground
//! with progress, show its steps, plan it, and the operator's controls.

use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context;
use clap::{Args, Subcommand};
use indicatif::{ProgressBar, ProgressStyle};

use super::Ctx;
use super::output::{print_json, print_table};
use crate::domain::RequestId;
use crate::engine::{Engine, Progress, ProgressPhase, RunStatus, StepStatus};
use crate::lifecycle::State;
use crate::service::{Command, Service};

#[derive(Debug, Subcommand)]
pub enum RunCmd {
    /// Start (or resume) the request's run in the foreground, with progress.
    Start(Target),
    /// The run's steps, their status and attempts, and the actions allowed now.
    #[command(alias = "show")]
    Status(Target),
    /// What each step would do, without changing anything.
    Plan(Target),
    /// Re-run a step (default: the failed one), then continue.
    Retry {
        #[command(flatten)]
        target: Target,
        #[arg(long)]
        step: Option<String>,
        #[arg(long)]
        reason: String,
    },
    /// Skip a step (default: the failed one) with a recorded reason, then continue.
    Skip {
        #[command(flatten)]
        target: Target,
        #[arg(long)]
        step: Option<String>,
        #[arg(long)]
        reason: String,
    },
    /// Undo every step that did work, last first.
    Unwind {
        #[command(flatten)]
        target: Target,
        #[arg(long)]
        reason: String,
    },
    /// Try the failed undo a stuck run is blocked on again (after fixing the device), then go on.
    RetryUndo {
        #[command(flatten)]
        target: Target,
        #[arg(long)]
        reason: String,
    },
    /// Mark the failed undo a stuck run is blocked on as resolved by hand (you undid it on the
    /// device yourself); the saved state stays in the log and the audit row.
    Resolve {
        #[command(flatten)]
        target: Target,
        #[arg(long)]
        reason: String,
    },
    /// Drive every unfinished run (after a crash or restart).
    Resume,
}

#[derive(Debug, Args)]
pub struct Target {
    request: String,
    /// The playbook (default: decommission if it exists, else the provisioning one).
    #[arg(long)]
    playbook: Option<String>,
}

async fn run_id(ctx: &Ctx, engine: &Engine, t: &Target) -> anyhow::Result<(RequestId, String)> {
    let id = RequestId::parse(&t.request)?;
    if let Some(p) = &t.playbook {
        return Ok((id.clone(), Engine::run_id(id.as_str(), p)));
    }
    let reader = ctx.reader()?;
    let runs = engine.service().request_runs(&reader, &id).await?;
    let chosen = runs.iter().find(|r| r.playbook == "decommission").or_else(|| runs.first());
    match chosen {
        Some(r) => Ok((id, r.id.clone())),
        None => {
            let kind = engine.service().request(&reader, &id).await?.kind;
            Ok((id.clone(), Engine::run_id(id.as_str(), Service::provisioning_playbook(kind))))
        }
    }
}

pub async fn run(ctx: &Ctx, cmd: RunCmd) -> anyhow::Result<ExitCode> {
    if let Some(remote) = &ctx.remote {
        return remote_status(ctx, remote, &cmd).await;
    }
    let engine = ctx.engine().await?;
    match cmd {
        RunCmd::Start(t) => {
            engine.service().may_drive_runs(ctx.actor()?)?;
            let (id, run) = run_id(ctx, &engine, &t).await?;
            if engine.service().request_state(ctx.actor()?, &id).await? == State::Approved {
                // SOP step 6: telling the unit it is approved starts provisioning.
                engine.service().apply(ctx.actor()?, &id, Command::StartProvisioning { reason: None }).await?;
            }
            engine.service().request_run(ctx.actor()?, &id, &run).await.with_context(|| format!("{id} has no run yet: it starts when the request is approved and the team starts provisioning"))?;
            drive(ctx, &engine, &run).await
        }
        RunCmd::Status(t) => status(ctx, &engine, &t).await,
        RunCmd::Plan(t) => plan(ctx, &engine, &t).await,
        RunCmd::Retry { target, step, reason } => {
            let (_, run) = run_id(ctx, &engine, &target).await?;
            let name = engine.retry(ctx.actor()?, &run, step.as_deref(), &reason).await?;
            eprintln!("re-running step {name}");
            drive(ctx, &engine, &run).await
        }
        RunCmd::Skip { target, step, reason } => {
            let (_, run) = run_id(ctx, &engine, &target).await?;
            let name = engine.skip(ctx.actor()?, &run, step.as_deref(), &reason).await?;
            eprintln!("skipped step {name}");
            drive(ctx, &engine, &run).await
        }
        RunCmd::Unwind { target, reason } => {
            let (_, run) = run_id(ctx, &engine, &target).await?;
            engine.unwind(ctx.actor()?, &run, &reason).await?;
            drive(ctx, &engine, &run).await
        }
        RunCmd::RetryUndo { target, reason } => {
            let (_, run) = run_id(ctx, &engine, &target).await?;
            let name = engine.retry_undo(ctx.actor()?, &run, &reason).await?;
            eprintln!("trying the undo of step {name} again");
            drive(ctx, &engine, &run).await
        }
        RunCmd::Resolve { target, reason } => {
            let (_, run) = run_id(ctx, &engine, &target).await?;
            let name = engine.resolve(ctx.actor()?, &run, &reason).await?;
            eprintln!("the undo of step {name} is marked resolved by hand");
            drive(ctx, &engine, &run).await
        }
        RunCmd::Resume => {
            engine.service().may_drive_runs(ctx.actor()?)?;
            let runs = engine.service().runnable_runs(ctx.actor()?, 1000).await?;
            for r in runs {
                eprintln!("resuming {}", r.id);
                drive(ctx, &engine, &r.id).await?;
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// Remotely, only the status is offered: driving runs belongs to the server's workers.
async fn remote_status(ctx: &Ctx, remote: &super::remote::Remote, cmd: &RunCmd) -> anyhow::Result<ExitCode> {
    let RunCmd::Status(t) = cmd else { anyhow::bail!("with --server, only `run status` is available; the server's workers drive runs") };
    let id = RequestId::parse(&t.request)?;
    let r = remote.get(&format!("/api/v1/requests/{id}/runs")).await?;
    if ctx.json {
        print_json(&r);
    } else {
        for item in r["items"].as_array().into_iter().flatten() {
            println!("{}: {}", item["run"].as_str().unwrap_or("?"), item["view"]["status"].as_str().unwrap_or("?"));
            for step in item["view"]["steps"].as_array().into_iter().flatten() {
                println!("  {:<20} {}", step["name"].as_str().unwrap_or("?"), step["status"].get("status").or(Some(&step["status"])).map(|v| v.to_string()).unwrap_or_default());
            }
        }
        if r["items"].as_array().is_none_or(Vec::is_empty) {
            println!("{id} has no run yet");
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// `run status`: the run's steps and where each stands.
async fn status(ctx: &Ctx, engine: &Engine, t: &Target) -> anyhow::Result<ExitCode> {
    let (id, run) = run_id(ctx, engine, t).await?;
    let runs = engine.service().request_runs(&ctx.reader()?, &id).await?;
    if !runs.iter().any(|r| r.id == run) {
        if ctx.json { print_json(&serde_json::json!({ "run": null, "request": id })) } else { println!("{id} has no run yet") }
        return Ok(ExitCode::SUCCESS);
    }
    let (_, reports) = crate::engine::report::request_runs(engine.service(), &ctx.reader()?, &id).await?;
    let report = reports.into_iter().find(|r| r.run == run).context("the run disappeared")?;
    if ctx.json { print_json(&report) } else { print_status(&report) }
    Ok(ExitCode::SUCCESS)
}

/// `run plan`: what each step would do, changing nothing.
async fn plan(ctx: &Ctx, engine: &Engine, t: &Target) -> anyhow::Result<ExitCode> {
    let (id, run) = run_id(ctx, engine, t).await?;
    engine.service().may_plan_run(&ctx.reader()?, &id).await?;
    let lines = engine.plan(&id, &run).await?;
    let (_, view) = engine.planned(&run).await?;
    if ctx.json {
        let steps: Vec<_> = lines.iter().zip(&view.steps).map(|((step, what), s)| serde_json::json!({ "step": step, "plan": what, "after": s.after })).collect();
        print_json(&steps);
    } else {
        println!("Rencana {run} (tidak ada perubahan; langkah yang menunggu langkah yang sama berjalan bersamaan):");
        for (i, ((step, what), s)) in lines.iter().zip(&view.steps).enumerate() {
            println!("  {:>2}. {step:<16} {}{what}", i + 1, after_label(&s.after));
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// Drives a run in the foreground: a progress bar for people, JSON lines with `--json`.
async fn drive(ctx: &Ctx, engine: &Engine, run: &str) -> anyhow::Result<ExitCode> {
    let (pb_def, _) = engine.view(run).await?;
    let bar = ProgressBar::new(pb_def.steps.len() as u64);
    if ctx.json {
        bar.set_draw_target(indicatif::ProgressDrawTarget::hidden());
    }
    bar.set_style(ProgressStyle::with_template("{spinner} [{bar:20}] {pos}/{len} {msg}").expect("template").progress_chars("=> "));
    bar.enable_steady_tick(Duration::from_millis(120));
    let json = ctx.json;
    let tty = std::io::IsTerminal::is_terminal(&std::io::stderr());
    let observer = |p: &Progress| {
        if json {
            println!(
                "{}",
                serde_json::json!({ "run": p.run_id, "step": p.step, "index": p.index, "total": p.total, "phase": format!("{:?}", p.phase).to_lowercase(), "detail": p.detail, "elapsed_ms": p.elapsed_ms as u64 })
            );
            return;
        }
        let mark = match p.phase {
            ProgressPhase::Started => {
                bar.set_message(format!("{} …", p.step));
                return;
            }
            ProgressPhase::Retrying => "↻",
            ProgressPhase::Succeeded => {
                bar.inc(1);
                "✔"
            }
            ProgressPhase::Waiting => "⏸",
            ProgressPhase::Failed => "✘",
            ProgressPhase::Undoing => return bar.set_message(format!("undo {} …", p.step)),
            ProgressPhase::Undone => "↺",
            ProgressPhase::UndoFailed => "✘",
        };
        let line = format!("{mark} {:<16} {:>6} ms  {}", p.step, p.elapsed_ms, p.detail);
        if tty { bar.println(line) } else { eprintln!("{line}") }
    };
    let started = std::time::Instant::now();
    let view = engine.drive(run, &observer).await?;
    bar.finish_and_clear();
    if json {
        print_json(&serde_json::json!({ "run": run, "status": view.status, "elapsed_ms": started.elapsed().as_millis() as u64 }));
    } else {
        println!("{run}: {} in {} ms", view.status.as_str(), started.elapsed().as_millis());
        if let Some(s) = view.current() {
            match &s.status {
                StepStatus::Failed { error } => println!("  failed at {}: {error}\n  then: kolokasi run retry|skip|unwind {} --reason …", s.name, crate::domain::RunId::parse(run).map(|r| r.request().to_string()).unwrap_or_default()),
                StepStatus::UndoFailed { error } => println!("  undo failed at {}: {error}\n  then: kolokasi run retry-undo|resolve {} --reason …", s.name, crate::domain::RunId::parse(run).map(|r| r.request().to_string()).unwrap_or_default()),
                StepStatus::Waiting { reason } => println!("  waiting at {}: {reason}", s.name),
                _ => {}
            }
        }
    }
    Ok(match view.status {
        RunStatus::Succeeded | RunStatus::Waiting | RunStatus::Unwound => ExitCode::SUCCESS,
        _ => ExitCode::from(3),
    })
}

fn print_status(report: &crate::engine::report::RunReport) {
    let (run, view) = (&report.run, &report.view);
    println!("{run}: {}", view.status.as_str());
    let rows: Vec<Vec<String>> = view
        .steps
        .iter()
        .map(|s| {
            let (status, detail) = match &s.status {
                StepStatus::Failed { error } => ("failed".to_string(), error.clone()),
                StepStatus::Waiting { reason } => ("waiting".into(), reason.clone()),
                StepStatus::Skipped { reason } => ("skipped".into(), reason.clone()),
                StepStatus::UndoFailed { error } => ("undo_failed".into(), error.clone()),
                StepStatus::Succeeded if s.output.as_ref().is_some_and(|o| o.get("not_applicable").is_some()) => {
                    ("not_applicable".into(), s.output.as_ref().and_then(|o| o["not_applicable"].as_str()).unwrap_or_default().to_string())
                }
                other => (format!("{other:?}").to_lowercase(), s.output.as_ref().map(|o| o.to_string()).unwrap_or_default()),
            };
            vec![(s.index + 1).to_string(), s.name.clone(), s.after.join(","), s.action.clone(), s.attempt.to_string(), status, detail]
        })
        .collect();
    print_table(&["#", "STEP", "AFTER", "ACTION", "TRY", "STATUS", "DETAIL"], &rows);
    let to_undo: Vec<String> = view.undo_queue().iter().map(|i| format!("{} (attempt {})", view.steps[i.index].name, i.attempt)).collect();
    if view.unwind_requested && !to_undo.is_empty() {
        println!("still to undo, in order: {}", to_undo.join(", "));
    }
    let allowed: Vec<&str> = report.allowed_actions.iter().map(|a| a.as_str()).collect();
    println!("allowed now: {}", if allowed.is_empty() { "nothing (the run is closed)".to_string() } else { allowed.join(", ") });
}

/// `[after a, b] ` for a plan line (nothing for a step that waits for none).
fn after_label(after: &[String]) -> String {
    if after.is_empty() { String::new() } else { format!("[after {}] ", after.join(", ")) }
}
