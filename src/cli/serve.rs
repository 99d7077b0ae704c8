//! `kolokasi serve`: the REST API and a worker that drives runs, until SIGINT or SIGTERM.
//! On a signal it stops claiming runs, lets the run in hand rest at its next step boundary
//! (its lease is released), and stops serving.

use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use anyhow::Context;
use clap::Args;

use super::Ctx;

#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Address to listen on (default from configuration: 127.0.0.1:8080).
    #[arg(long)]
    listen: Option<String>,
}

pub async fn run(ctx: &Ctx, args: ServeArgs) -> anyhow::Result<ExitCode> {
    let engine = ctx.engine().await?;
    let addr = args.listen.unwrap_or_else(|| ctx.settings.listen.clone());
    let listener = tokio::net::TcpListener::bind(&addr).await.with_context(|| format!("cannot listen on {addr}"))?;
    let json = ctx.settings.log_format == "json";
    say(json, &format!("serving on http://{} (worker {})", listener.local_addr()?, if ctx.settings.worker { engine.owner.as_str() } else { "off" }));
    let stop = Arc::new(AtomicBool::new(false));
    let worker_ended = Arc::new(tokio::sync::Notify::new());
    let worker = ctx.settings.worker.then(|| supervised_worker(engine.clone(), stop.clone(), worker_ended.clone()));
    // The drift check on its schedule (read-only on the devices; results, metrics, notices).
    let checker = crate::drift::Checker::new(engine.clone());
    let interval = ctx.settings.drift.interval_seconds;
    let drift = (interval > 0).then(|| {
        say(json, &format!("drift check every {interval} s"));
        tokio::spawn(crate::drift::schedule::run(checker.clone(), std::time::Duration::from_secs(interval), stop.clone()))
    });
    // Signed checkpoints of the audit head to the operator's append-only file, and one at shutdown.
    let checkpoints = ctx.settings.audit.checkpoint_file.clone().map(|path| {
        let every = ctx.settings.audit.checkpoint_interval_seconds;
        say(json, &format!("audit checkpoint to {} every {every} s", path.display()));
        let every = if every == 0 { std::time::Duration::from_secs(10 * 365 * 86_400) } else { std::time::Duration::from_secs(every) };
        tokio::spawn(crate::service::audit_checkpoints::schedule(engine.service().clone(), path, every, stop.clone()))
    });
    let signalled = {
        let stop = stop.clone();
        let ended = worker_ended.clone();
        async move {
            tokio::select! {
                _ = shutdown_signal() => say(json, "stopping: no new runs are claimed"),
                _ = ended.notified() => say(json, "stopping: the run worker stopped unasked; readiness fails"),
            }
            stop.store(true, Ordering::Relaxed);
        }
    };
    let console = crate::console::Options {
        secure_cookies: ctx.settings.console_secure_cookies,
        trusted_proxies: ctx.settings.proxies(),
        ..crate::console::Options::default()
    };
    crate::api::serve_with_engine(engine.clone(), console, Some(checker), listener, signalled).await?;
    if let Some(d) = drift {
        d.abort();
    }
    if let Some(c) = checkpoints {
        // It writes its last checkpoint within 250 ms of the stop.
        let _ = tokio::time::timeout(std::time::Duration::from_secs(5), c).await;
    }
    let worker_failed = match worker {
        Some(w) => w.await.unwrap_or(true),
        None => false,
    };
    if worker_failed {
        say(json, "stopped: the run worker had failed");
        return Ok(ExitCode::FAILURE);
    }
    say(json, "stopped");
    Ok(ExitCode::SUCCESS)
}

/// The run worker, supervised: if it stops unasked (a panic, say), readiness fails, the server
/// shuts down and the process exits non-zero, so its supervisor starts it again. The task's
/// result says whether it stopped unasked.
fn supervised_worker(engine: crate::engine::Engine, stop: Arc<AtomicBool>, ended: Arc<tokio::sync::Notify>) -> tokio::task::JoinHandle<bool> {
    tokio::spawn(async move {
        let work = tokio::spawn({
            let (engine, stop) = (engine.clone(), stop.clone());
            async move { engine.work(stop).await }
        });
        let outcome = work.await;
        let unasked = !stop.load(Ordering::Relaxed);
        if unasked {
            engine.service().report_worker_down();
            let why = match &outcome {
                Err(e) if e.is_panic() => "it panicked",
                _ => "it returned",
            };
            tracing::error!(worker = %engine.owner, "the run worker stopped: {why}");
            ended.notify_one();
        }
        unasked
    })
}

/// A status line for the operator: plain text, or with `log_format: json` a JSON object shaped
/// like the tracing lines, so a log shipper sees nothing but JSON.
fn say(json: bool, message: &str) {
    if json {
        let at = time::OffsetDateTime::now_utc().format(&time::format_description::well_known::Rfc3339).unwrap_or_default();
        eprintln!("{}", serde_json::json!({ "timestamp": at, "level": "INFO", "fields": { "message": message }, "target": "kolokasi::serve" }));
    } else {
        eprintln!("kolokasi: {message}");
    }
}

async fn shutdown_signal() {
    use tokio::signal::unix::{SignalKind, signal};
    let mut term = signal(SignalKind::terminate()).expect("SIGTERM handler");
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = term.recv() => {}
    }
}
