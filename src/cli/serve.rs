//! `kolokasi serve`: the REST API, until SIGINT or SIGTERM.

use std::process::ExitCode;

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
    let service = ctx.service().await?;
    let addr = args.listen.unwrap_or_else(|| ctx.settings.listen.clone());
    let listener = tokio::net::TcpListener::bind(&addr).await.with_context(|| format!("cannot listen on {addr}"))?;
    eprintln!("kolokasi: serving on http://{}", listener.local_addr()?);
    crate::api::serve(service, listener, shutdown_signal()).await?;
    eprintln!("kolokasi: stopped");
    Ok(ExitCode::SUCCESS)
}

async fn shutdown_signal() {
    use tokio::signal::unix::{SignalKind, signal};
    let mut term = signal(SignalKind::terminate()).expect("SIGTERM handler");
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = term.recv() => {}
    }
}
