//! PDF documents through typst: the template `<kind>.typ` from the documents folder (it may
//! import other `.typ` files beside it), the data passed as `sys.inputs.data` (JSON text, read
//! with `json(bytes(sys.inputs.data))`), the fonts embedded at build time (`build.rs`: the
//! faces the templates use) plus any in `<template_dir>/fonts/` (no system fonts, no network,
//! no packages).
//!
//! Reproducible: the PDF's creation date and document id come from the record (the issue time
//! and the request number), never from the clock, so the same record gives the same bytes.
//!
//! The engine of each template (its fonts, typst's standard library, the files it imports) is
//! built once and kept while no file of the documents folder changes (names, sizes and
//! modification times are compared on every rendering): building it took ~2.5 ms a document,
//! and a kept engine lets typst reuse its memoised work, so a warm rendering costs about half.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, LazyLock, Mutex};
use std::time::SystemTime;

use serde_json::Value;
use time::OffsetDateTime;
use typst::World;
use typst::WorldExt;
use typst::diag::{Severity, SourceDiagnostic};
use typst::foundations::{Bytes, Datetime, Dict, IntoValue, Smart};
use typst::text::Font;
use typst_as_lib::{TypstEngine, TypstTemplateMainFile};
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

type Engine = TypstEngine<TypstTemplateMainFile>;

/// What an engine was built from: the main file's text and every file of the folder.
type Fingerprint = (String, Vec<(PathBuf, u64, Option<SystemTime>)>);

type EngineCache = HashMap<PathBuf, (Fingerprint, Arc<Engine>)>;

static ENGINES: LazyLock<Mutex<EngineCache>> = LazyLock::new(Mutex::default);

fn fingerprint(dir: &Path, text: String) -> Fingerprint {
    let mut files: Vec<_> = std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| {
            let m = e.metadata().ok()?;
            Some((e.path(), m.len(), m.modified().ok()))
        })
        .collect();
    files.sort();
    (text, files)
}

/// The faces build.rs picked out of typst's bundled fonts (Libertinus Serif, DejaVu Sans Mono).
static EMBEDDED_FONT_FILES: &[&[u8]] = include!(concat!(env!("OUT_DIR"), "/document_fonts.rs"));

/// The embedded faces, parsed once per process (a `Font` shares its bytes; cloning is cheap).
static EMBEDDED_FONTS: LazyLock<Vec<Font>> = LazyLock::new(|| EMBEDDED_FONT_FILES.iter().flat_map(|data| Font::iter(Bytes::new(*data))).collect());

/// The fonts for the templates under `root`: the embedded faces, then every font file in
/// `root/fonts/` (`.ttf`, `.otf`, `.ttc`, `.otc`), which a data center adds (its letterhead's
/// face, say) without recompiling. A file that cannot be read or holds no font is skipped with a
/// warning. Read when a template's engine is built (at its first rendering after a start).
fn fonts(root: &Path) -> Vec<Font> {
    let mut fonts = EMBEDDED_FONTS.clone();
    let Ok(entries) = std::fs::read_dir(root.join("fonts")) else { return fonts };
    let is_font = |p: &Path| p.extension().and_then(|e| e.to_str()).is_some_and(|e| ["ttf", "otf", "ttc", "otc"].contains(&e.to_ascii_lowercase().as_str()));
    let mut paths: Vec<PathBuf> = entries.flatten().map(|e| e.path()).filter(|p| is_font(p)).collect();
    paths.sort();
    for path in paths {
        let before = fonts.len();
        match std::fs::read(&path) {
            Ok(data) => fonts.extend(Font::iter(Bytes::new(data))),
            Err(e) => tracing::warn!(path = %path.display(), error = %e, "cannot read a font file; skipped"),
        }
        if fonts.len() == before {
            tracing::warn!(path = %path.display(), "no font in this file; skipped");
        }
    }
    fonts
}

/// The engine for `main` in `dir`: the kept one while nothing in `dir` changed, else a new one.
fn engine(dir: &Path, main: &str, text: String) -> Arc<Engine> {
    let path = dir.join(main);
    let print = fingerprint(dir, text);
    let mut engines = ENGINES.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
    if let Some((kept, engine)) = engines.get(&path)
        && *kept == print
    {
        return engine.clone();
    }
    let engine = Arc::new(
        TypstEngine::builder()
            .main_file((main, print.0.clone()))
            .fonts(fonts(dir.parent().unwrap_or(dir)))
            .with_file_system_resolver(dir.to_path_buf())
            .build(),
    );
    engines.insert(path, (print, engine.clone()));
    engine
}

pub fn render(root: &Path, kind: DocumentKind, context: &Value, ident: &str, at: Option<OffsetDateTime>) -> Result<Vec<u8>, DocumentError> {
    let dir = root.join("documents");
    let main = format!("{}.typ", kind.template_stem());
    let path = dir.join(&main);
    let text = std::fs::read_to_string(&path).map_err(|source| DocumentError::Read { path: path.display().to_string(), source })?;
    let engine = engine(&dir, &main, text);
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_embedded_fonts_are_the_faces_the_templates_use() {
        let mut families: Vec<String> = EMBEDDED_FONTS.iter().map(|f| f.info().family.clone()).collect();
        families.dedup();
        assert_eq!(families, ["Libertinus Serif", "DejaVu Sans Mono"]);
        assert_eq!(EMBEDDED_FONTS.len(), 10, "6 Libertinus Serif faces, 4 DejaVu Sans Mono");
    }

    #[test]
    fn fonts_in_the_template_folder_are_added_and_other_files_skipped() {
        let root = tempfile::tempdir().unwrap();
        assert_eq!(fonts(root.path()).len(), EMBEDDED_FONTS.len(), "no fonts folder: the embedded faces");
        std::fs::create_dir(root.path().join("fonts")).unwrap();
        std::fs::write(root.path().join("fonts/Kop.OTF"), EMBEDDED_FONT_FILES[0]).unwrap();
        std::fs::write(root.path().join("fonts/broken.ttf"), b"not a font").unwrap();
        std::fs::write(root.path().join("fonts/README"), b"letterhead fonts").unwrap();
        assert_eq!(fonts(root.path()).len(), EMBEDDED_FONTS.len() + 1);
    }

    #[test]
    fn an_engine_is_kept_until_a_file_of_its_folder_changes() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("main.typ"), "#import \"lib.typ\": x\n#x").unwrap();
        std::fs::write(dir.path().join("lib.typ"), "#let x = [one]").unwrap();
        let text = || std::fs::read_to_string(dir.path().join("main.typ")).unwrap();
        let first = engine(dir.path(), "main.typ", text());
        assert!(Arc::ptr_eq(&first, &engine(dir.path(), "main.typ", text())), "nothing changed: the same engine");
        // An edited import (its cached content would be stale) gives a new engine.
        std::fs::write(dir.path().join("lib.typ"), "#let x = [one, edited]").unwrap();
        let second = engine(dir.path(), "main.typ", text());
        assert!(!Arc::ptr_eq(&first, &second));
        // So does a new file beside it, and an edited main file.
        std::fs::write(dir.path().join("logo.svg"), "<svg/>").unwrap();
        let third = engine(dir.path(), "main.typ", text());
        assert!(!Arc::ptr_eq(&second, &third));
        assert!(!Arc::ptr_eq(&third, &engine(dir.path(), "main.typ", format!("{}\n", text()))));
    }
}
