//! `kolokasi document render`: one of the SOP's documents of a request, as HTML or PDF, to a
//! file (or standard output). Credentials only with `--include-credentials` (admin or head;
//! audited).

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::Subcommand;

use super::Ctx;
use crate::documents::{DocFormat, DocumentKind, Lang};
use crate::domain::RequestId;

#[derive(Debug, Subcommand)]
pub enum DocumentCmd {
    /// Render a document: pengajuan, persetujuan, pencabutan or berita-acara.
    Render {
        request: String,
        #[arg(long, default_value = "berita-acara")]
        kind: DocumentKind,
        /// html or pdf.
        #[arg(long, default_value = "pdf")]
        format: DocFormat,
        /// id (Bahasa Indonesia) or en.
        #[arg(long, default_value = "id")]
        lang: Lang,
        /// Write here (default: standard output).
        #[arg(short = 'o', long)]
        output: Option<PathBuf>,
        /// Print the host admin password on the Form Persetujuan (admin or head; audited).
        #[arg(long)]
        include_credentials: bool,
    },
}

pub async fn run(ctx: &Ctx, cmd: DocumentCmd) -> anyhow::Result<ExitCode> {
    let service = ctx.service().await?;
    match cmd {
        DocumentCmd::Render { request, kind, format, lang, output, include_credentials } => {
            let id = RequestId::parse(&request)?;
            let doc = service.render_document(ctx.actor()?, &id, kind, format, lang, include_credentials).await?;
            match output {
                Some(path) => {
                    // A render with the host admin's password is for its owner only (0600).
                    let written = if include_credentials { crate::secrets::files::write_private(&path, &doc.bytes) } else { std::fs::write(&path, &doc.bytes) };
                    written.with_context(|| format!("cannot write {}", path.display()))?;
                    if ctx.json {
                        super::output::print_json(
                            &serde_json::json!({ "file": path, "bytes": doc.bytes.len(), "sha256": doc.sha256, "content_type": doc.content_type }),
                        );
                    } else {
                        eprintln!("{} written ({} bytes, data SHA-256 {})", path.display(), doc.bytes.len(), doc.sha256);
                    }
                }
                None => std::io::stdout().write_all(&doc.bytes).context("cannot write to standard output")?,
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}
