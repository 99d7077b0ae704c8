//! PDF documents through typst: the template `<kind>.typ` from the documents folder (it may
//! import other `.typ` files beside it), the data passed as `sys.inputs.data` (JSON text, read
//! with `json(bytes(sys.inputs.data))`), the fonts typst embeds (no system fonts, no network,
//! no packages).
//!
//! Reproducible: the PDF's creation date and document id come from the record (the issue time
//! and the request number), never from the clock, so the same record gives the same bytes.

use std::path::Path;

use serde_json::Value;
use time::OffsetDateTime;
use typst::World;
use typst::WorldExt;
use typst::diag::{Severity, SourceDiagnostic};
use typst::foundations::{Datetime, Dict, IntoValue, Smart};
use typst_as_lib::TypstEngine;
use typst_as_lib::typst_kit_options::TypstKitFontOptions;
use typst_pdf::{PdfOptions, Timestamp};

use super::{DocumentError, DocumentKind};

/// "file line N: message" for the first error (typst reports the span; we turn it into a line).
fn located(world: &dyn World, dir: &Path, main: &str, diags: &[SourceDiagnostic]) -> DocumentError {
    let first = diags.iter().find(|d| d.severity == Severity::Error).or(diags.first());
    let Some(d) = first else {
        return DocumentError::Template { file: dir.join(main).display().to_string(), line: 0, message: "typst failed without a message".into() };
    };
    let file = d.span.id().map(|id| id.vpath().get_without_slash().to_string()).unwrap_or_else(|| main.to_string());
    let line = d
        .span
        .id()
        .and_then(|id| world.source(id).ok())
        .zip(world.range(d.span))
        .and_then(|(source, range)| source.lines().byte_to_line(range.start))
        .map_or(0, |l| l + 1);
    let mut message = d.message.to_string();
    for hint in &d.hints {
        message.push_str(&format!(" (hint: {})", hint.v));
    }
    DocumentError::Template { file: dir.join(file).display().to_string(), line, message }
}

pub fn render(root: &Path, kind: DocumentKind, context: &Value, ident: &str, at: Option<OffsetDateTime>) -> Result<Vec<u8>, DocumentError> {
    let dir = root.join("documents");
    let main = format!("{}.typ", kind.template_stem());
    let path = dir.join(&main);
    let text = std::fs::read_to_string(&path).map_err(|source| DocumentError::Read { path: path.display().to_string(), source })?;
    let engine = TypstEngine::builder()
        .main_file((main.as_str(), text))
        .search_fonts_with(TypstKitFontOptions::default().include_system_fonts(false).include_embedded_fonts(true))
        .with_file_system_resolver(dir.clone())
        .build();
    let mut inputs = Dict::new();
    inputs.insert("data".into(), serde_json::to_string(context).expect("serialisable").into_value());
    let world = engine.world_builder().with_inputs(inputs).build().map_err(|e| DocumentError::Template {
        file: path.display().to_string(),
        line: 0,
        message: e.to_string(),
    })?;
    let compiled = typst::compile(&world).output.map_err(|diags| located(&world, &dir, &main, &diags));
    // typst memoises across compilations; keep what recent renderings use, drop the rest.
    typst::comemo::evict(10);
    let document = compiled?;
    let timestamp = at.and_then(|t| {
        let t = t.to_offset(time::UtcOffset::UTC);
        Datetime::from_ymd_hms(t.year(), u8::from(t.month()), t.day(), t.hour(), t.minute(), t.second()).map(Timestamp::new_utc)
    });
    let options = PdfOptions { ident: Smart::Custom(ident.to_string()), creator: Smart::Custom(Some("kolokasi".into())), timestamp, ..PdfOptions::default() };
    typst_pdf::pdf(&document, &options).map_err(|diags| located(&world, &dir, &main, &diags))
}
