//! The SOP's paper: Form Pengajuan, Form Persetujuan, Form Pencabutan and the Berita Acara
//! Serah Terima, rendered from templates a data center edits without recompiling
//! (`templates/documents/`), as HTML (minijinja) and PDF (typst, fonts embedded, no network).
//!
//! - [`data`]: the canonical data of one document, built only from the stored record (the
//!   request, its history and the provisioning run's saved outputs), and its SHA-256.
//! - [`server_table`]: the measured-versus-declared server table (berita acara, asset register).
//! - [`words`]: Indonesian dates and numbers in words ("Pada hari ini, Senin tanggal …").
//! - [`render`]: HTML through minijinja (sandboxed, autoescaping, strict undefined values).
//! - [`pdf`]: PDF through typst (feature `pdf`), with the creation date and document id taken
//!   from the record, so the same record always gives the same bytes.
//!
//! Owns no store access and no authorisation: the service layer loads the record, decides who
//! may see credentials, and audits every rendering. The host admin password reaches a document
//! only when the service passes it in.

pub mod data;
#[cfg(feature = "pdf")]
mod pdf;
pub mod render;
pub mod server_table;
pub mod words;

use std::fmt;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use serde::Serialize;

pub use data::{Record, StepOutput, document_data};
pub use render::Templates;

/// Which of the SOP's documents.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum DocumentKind {
    /// Form Pengajuan (SOP step 4).
    Pengajuan,
    /// Form Persetujuan (SOP step 5).
    Persetujuan,
    /// Form Pencabutan (revocation).
    Pencabutan,
    /// Berita Acara Serah Terima (SOP step 8).
    BeritaAcara,
}

impl DocumentKind {
    pub const ALL: [Self; 4] = [Self::Pengajuan, Self::Persetujuan, Self::Pencabutan, Self::BeritaAcara];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pengajuan => "pengajuan",
            Self::Persetujuan => "persetujuan",
            Self::Pencabutan => "pencabutan",
            Self::BeritaAcara => "berita-acara",
        }
    }

    /// The template's file stem (`bast.html.j2`, `bast.typ`).
    pub fn template_stem(self) -> &'static str {
        match self {
            Self::BeritaAcara => "bast",
            other => other.as_str(),
        }
    }
}

impl fmt::Display for DocumentKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown document {0:?}: use pengajuan, persetujuan, pencabutan or berita-acara")]
pub struct UnknownDocument(pub String);

impl FromStr for DocumentKind {
    type Err = UnknownDocument;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL.into_iter().find(|k| k.as_str() == s.trim()).ok_or_else(|| UnknownDocument(s.to_string()))
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum DocFormat {
    Html,
    Pdf,
}

impl DocFormat {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Html => "html",
            Self::Pdf => "pdf",
        }
    }

    pub fn content_type(self) -> &'static str {
        match self {
            Self::Html => "text/html; charset=utf-8",
            Self::Pdf => "application/pdf",
        }
    }
}

impl FromStr for DocFormat {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s.trim() {
            "html" => Ok(Self::Html),
            "pdf" => Ok(Self::Pdf),
            other => Err(format!("unknown format {other:?}: use html or pdf")),
        }
    }
}

/// The language of a document: Bahasa Indonesia by default, English on request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Lang {
    #[default]
    Id,
    En,
}

impl Lang {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Id => "id",
            Self::En => "en",
        }
    }
}

impl FromStr for Lang {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s.trim() {
            "id" => Ok(Self::Id),
            "en" => Ok(Self::En),
            other => Err(format!("unknown language {other:?}: use id or en")),
        }
    }
}

/// A rendered document.
#[derive(Clone)]
pub struct Document {
    pub bytes: Vec<u8>,
    pub content_type: &'static str,
    pub filename: String,
    /// SHA-256 of the canonical data (printed in the document's footer).
    pub sha256: String,
}

impl fmt::Debug for Document {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Document").field("filename", &self.filename).field("bytes", &self.bytes.len()).field("sha256", &self.sha256).finish()
    }
}

#[derive(Debug, thiserror::Error)]
pub enum DocumentError {
    /// A template (or the labels and office files beside it) does not compile or render.
    #[error("template {file} line {line}: {message}")]
    Template { file: String, line: usize, message: String },
    #[error("cannot read template file {path}")]
    Read {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("PDF output is not built into this kolokasi (build it with the `pdf` feature)")]
    PdfUnavailable,
    /// The record does not have what the document needs yet (a berita acara before inspection).
    #[error("{0}")]
    NotReady(String),
}

/// Renders one document from its canonical data (see [`document_data`]); `data` already carries
/// its `sha256`. Both formats read their templates from `dir/documents/`.
pub fn render(templates: &Templates, kind: DocumentKind, format: DocFormat, lang: Lang, data: &serde_json::Value) -> Result<Vec<u8>, DocumentError> {
    let context = serde_json::json!({ "doc": data, "t": templates.labels(lang)? });
    match format {
        DocFormat::Html => Ok(templates.html(kind, &context)?.into_bytes()),
        DocFormat::Pdf => pdf_bytes(templates.dir(), kind, &context, data),
    }
}

#[cfg(feature = "pdf")]
fn pdf_bytes(dir: &Path, kind: DocumentKind, context: &serde_json::Value, data: &serde_json::Value) -> Result<Vec<u8>, DocumentError> {
    let ident = format!("{}/{}/{}", data["request"]["id"].as_str().unwrap_or(""), kind, data["lang"].as_str().unwrap_or(""));
    let at = data["issued_at"].as_str().and_then(|s| time::OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339).ok());
    pdf::render(dir, kind, context, &ident, at)
}

#[cfg(not(feature = "pdf"))]
fn pdf_bytes(_: &Path, _: DocumentKind, _: &serde_json::Value, _: &serde_json::Value) -> Result<Vec<u8>, DocumentError> {
    Err(DocumentError::PdfUnavailable)
}

/// `KLK-2026-00042-berita-acara-id.pdf`.
pub fn filename(request: &str, kind: DocumentKind, lang: Lang, format: DocFormat) -> String {
    format!("{request}-{kind}-{}.{}", lang.as_str(), format.as_str())
}

/// The default template folder (`templates`, relative to the working directory).
pub fn default_template_dir() -> PathBuf {
    PathBuf::from("templates")
}
