//! `kolokasi evidence …`: export one request's evidence bundle (admin or auditor; audited), and
//! verify a bundle offline — `verify` opens no database and reads no configuration; it exits 2
//! when anything does not check out.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;
use clap::Subcommand;

use super::Ctx;
use super::output::print_json;
use crate::domain::RequestId;

#[derive(Debug, Subcommand)]
pub enum EvidenceCmd {
    /// Write the request's evidence bundle (.zip): forms, run logs, device read-backs,
    /// inspection, documents, and its slice of the audit chain.
    Export {
        request: String,
        /// Where to write (default: evidence-REQUEST.zip in the current folder).
        #[arg(short = 'o', long)]
        output: Option<PathBuf>,
    },
    /// Check a bundle offline: every file against the manifest, the signature, the audit slice.
    Verify {
        archive: PathBuf,
        /// The audit checkpoint public key (hex) the bundle must be signed with.
        #[arg(long)]
        public_key: Option<String>,
    },
}

/// `evidence verify`, before any configuration is read (it needs none).
pub fn verify(archive: &Path, public_key: Option<&str>, json: bool) -> anyhow::Result<ExitCode> {
    let bytes = std::fs::read(archive).with_context(|| format!("cannot read {}", archive.display()))?;
    let report = crate::evidence::verify(&bytes, public_key);
    if json {
        print_json(&report);
    } else {
        print!("{}", report.to_text());
    }
    Ok(if report.ok { ExitCode::SUCCESS } else { ExitCode::from(2) })
}

pub async fn run(ctx: &Ctx, cmd: EvidenceCmd) -> anyhow::Result<ExitCode> {
    match cmd {
        EvidenceCmd::Verify { archive, public_key } => verify(&archive, public_key.as_deref(), ctx.json),
        EvidenceCmd::Export { request, output } => {
            let id = RequestId::parse(&request)?;
            let service = ctx.service().await?;
            let bundle = crate::evidence::export(&service, &ctx.reader()?, &id).await?;
            let path = output.unwrap_or_else(|| PathBuf::from(&bundle.filename));
            // Personal data (names, NIPs): readable by its owner only.
            crate::secrets::files::write_private(&path, &bundle.bytes).with_context(|| format!("cannot write {}", path.display()))?;
            let sha256 = crate::evidence::manifest::sha256_hex(&bundle.bytes);
            if ctx.json {
                print_json(&serde_json::json!({
                    "file": path, "bytes": bundle.bytes.len(), "sha256": sha256, "files": bundle.manifest.files.len(),
                    "export_audit_seq": bundle.manifest.export_audit_seq, "notes": bundle.manifest.notes, "elapsed_ms": bundle.elapsed_ms,
                }));
            } else {
                println!("{} written: {} files, {} bytes, SHA-256 {sha256} ({} ms)", path.display(), bundle.manifest.files.len(), bundle.bytes.len(), bundle.elapsed_ms);
                for note in &bundle.manifest.notes {
                    println!("  note: {note}");
                }
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}
