//! `kolokasi backup -o FILE` and `kolokasi restore FILE [--force]`: a consistent logical
//! snapshot of the whole store (SQLite or PostgreSQL) and its verified round trip. Both leave
//! an audit row (who copied or replaced the data).

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::Args;
use serde_json::json;

use super::Ctx;
use super::output::print_json;
use crate::lifecycle::Actor;
use crate::store::{AuditEntry, Store};

#[derive(Debug, Args)]
pub struct BackupArgs {
    /// The backup file to write (JSON lines; written to FILE.partial, then renamed).
    #[arg(short, long)]
    output: PathBuf,
    /// SQLite only: copy the database file with `VACUUM INTO` (online, consistent) and write
    /// FILE.manifest.json beside it, instead of the portable format.
    #[arg(long)]
    sqlite_copy: bool,
}

#[derive(Debug, Args)]
pub struct RestoreArgs {
    /// A file written by `kolokasi backup`.
    file: PathBuf,
    /// Replace the content of a store that is not empty.
    #[arg(long)]
    force: bool,
}

async fn store(ctx: &Ctx) -> anyhow::Result<Store> {
    // The store alone: `ctx.service()` would seed IP pools into the store being restored.
    let key = ctx.settings.master_key()?;
    let store = Store::connect(&ctx.settings.database_url).await.with_context(|| format!("cannot open the database {}", super::redact_url(&ctx.settings.database_url)))?;
    // The audit row of the backup or restore is MAC'd, and a restore checks the MACs.
    store.use_master_key(key.map(std::sync::Arc::new));
    Ok(store)
}

async fn audit(store: &Store, ctx: &Ctx, action: &str, after: serde_json::Value) -> anyhow::Result<()> {
    let actor = ctx.actor.clone().unwrap_or_else(Actor::system);
    let mut w = store.write().await?;
    w.audit(AuditEntry { actor, request_id: None, action: action.into(), reason: None, before: None, after: Some(after) }).await?;
    w.commit().await?;
    Ok(())
}

pub async fn backup(ctx: &Ctx, args: BackupArgs) -> anyhow::Result<ExitCode> {
    let store = store(ctx).await?;
    if args.sqlite_copy {
        let m = store.sqlite_snapshot(&args.output).await.with_context(|| format!("copy to {} failed", args.output.display()))?;
        let rows: u64 = m.rows.values().sum();
        audit(&store, ctx, "store.backup", json!({ "file": args.output.display().to_string(), "rows": rows, "audit_head": m.audit_head.seq, "sha256": m.sha256 })).await?;
        if ctx.json {
            print_json(&m);
        } else {
            println!("SQLite copy written: {} ({rows} rows, schema {}, audit head #{}, sha256 {}; manifest {}.manifest.json)", args.output.display(), m.schema_version, m.audit_head.seq, m.sha256, args.output.display());
        }
        return Ok(ExitCode::SUCCESS);
    }
    let manifest = store.backup_to(&args.output).await.with_context(|| format!("backup to {} failed", args.output.display()))?;
    let rows: u64 = manifest.tables.iter().map(|t| t.rows).sum();
    audit(&store, ctx, "store.backup", json!({ "file": args.output.display().to_string(), "rows": rows, "audit_head": manifest.audit_head.seq, "sha256": manifest.content_sha256 })).await?;
    if ctx.json {
        print_json(&manifest);
    } else {
        println!(
            "backup written: {} ({} tables, {rows} rows, schema {}, audit head #{}, sha256 {})",
            args.output.display(),
            manifest.tables.len(),
            manifest.schema_version,
            manifest.audit_head.seq,
            manifest.content_sha256
        );
    }
    Ok(ExitCode::SUCCESS)
}

pub async fn restore(ctx: &Ctx, args: RestoreArgs) -> anyhow::Result<ExitCode> {
    let store = store(ctx).await?;
    let report = store.restore_from(&args.file, args.force).await.with_context(|| format!("restore of {} failed", args.file.display()))?;
    audit(&store, ctx, "store.restore", json!({ "file": args.file.display().to_string(), "rows": report.rows, "from_backend": report.manifest.backend, "created_at": report.manifest.created_at, "sha256": report.manifest.content_sha256 })).await?;
    if ctx.json {
        print_json(&report);
    } else {
        println!(
            "restored {} rows in {} tables from {} (taken {} on {}); audit chain intact: {} rows",
            report.rows,
            report.tables,
            args.file.display(),
            report.manifest.created_at,
            report.manifest.backend,
            report.audit_rows_verified
        );
    }
    Ok(ExitCode::SUCCESS)
}
