//! Build script: the font faces the document templates use, picked out of typst's bundled fonts
//! (typst-assets) and written to `OUT_DIR`, so the binary embeds those faces only — Libertinus
//! Serif (the templates' text) and DejaVu Sans Mono (raw text): 3.0 MB instead of all 17
//! bundled faces (9.9 MB: New Computer Modern and its math faces are never used). A data center
//! adds its own fonts in `<template_dir>/fonts/` (`src/documents/pdf.rs`). Not compressed: the
//! faces deflate to 70 % only, and inflating them would cost every process that renders a PDF.

fn main() {
    #[cfg(feature = "pdf")]
    document_fonts::write();
}

#[cfg(feature = "pdf")]
mod document_fonts {
    use std::fmt::Write as _;
    use std::path::PathBuf;

    /// Families the templates name (`templates/documents/common.typ`) or typst falls back to.
    const FAMILIES: [&str; 2] = ["Libertinus Serif", "DejaVu Sans Mono"];

    fn family_matches(data: &[u8]) -> bool {
        let Ok(face) = ttf_parser::Face::parse(data, 0) else { return false };
        face.names()
            .into_iter()
            .filter(|n| n.name_id == ttf_parser::name_id::FAMILY || n.name_id == ttf_parser::name_id::TYPOGRAPHIC_FAMILY)
            .filter_map(|n| n.to_string())
            .any(|name| FAMILIES.iter().any(|f| name.starts_with(f)))
    }

    pub fn write() {
        let out = PathBuf::from(std::env::var_os("OUT_DIR").expect("cargo sets OUT_DIR"));
        let mut list = String::from("&[\n");
        for (i, data) in typst_assets::fonts().filter(|d| family_matches(d)).enumerate() {
            let path = out.join(format!("document-font-{i}"));
            std::fs::write(&path, data).expect("OUT_DIR is writable");
            writeln!(list, "    include_bytes!({:?}),", path.display().to_string()).expect("a String");
        }
        list.push(']');
        std::fs::write(out.join("document_fonts.rs"), list).expect("OUT_DIR is writable");
        println!("cargo::rerun-if-changed=build.rs");
    }
}
