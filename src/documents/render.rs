//! HTML documents through minijinja: sandboxed (templates reach no files but their own folder,
//! no network, no code), autoescaping for `.html` templates, and strict undefined values so a
//! misspelt field is an error naming the file and line instead of a blank on paper.
//!
//! Also reads the two data files beside the templates: `labels.yaml` (the words of each
//! language) and `office.yaml` (the data center's own unit and officials).

use std::path::{Path, PathBuf};

use minijinja::{AutoEscape, Environment, UndefinedBehavior};
use serde_json::Value;

use super::{DocumentError, DocumentKind, Lang};

/// The template folder (`templates/`, with the documents in `templates/documents/`).
#[derive(Debug, Clone)]
pub struct Templates {
    root: PathBuf,
}

fn read(path: &Path) -> Result<String, DocumentError> {
    std::fs::read_to_string(path).map_err(|source| DocumentError::Read { path: path.display().to_string(), source })
}

fn yaml(path: &Path) -> Result<Value, DocumentError> {
    let text = read(path)?;
    serde_yaml_ng::from_str(&text).map_err(|e| DocumentError::Template {
        file: path.display().to_string(),
        line: e.location().map(|l| l.line()).unwrap_or(0),
        message: e.to_string(),
    })
}

/// A template name a template may load: a plain file name in the documents folder.
fn safe_name(name: &str) -> bool {
    !name.is_empty() && !name.contains("..") && !name.starts_with('/') && !name.contains('\\')
}

impl Templates {
    pub fn new(root: impl Into<PathBuf>) -> Self {
        Self { root: root.into() }
    }

    /// The folder holding the document templates.
    pub fn dir(&self) -> &Path {
        &self.root
    }

    fn documents(&self) -> PathBuf {
        self.root.join("documents")
    }

    /// The words of `lang` from `labels.yaml`.
    pub fn labels(&self, lang: Lang) -> Result<Value, DocumentError> {
        let path = self.documents().join("labels.yaml");
        let all = yaml(&path)?;
        all.get(lang.as_str()).cloned().ok_or_else(|| DocumentError::Template {
            file: path.display().to_string(),
            line: 0,
            message: format!("no labels for language {:?}", lang.as_str()),
        })
    }

    /// The data center's identity from `office.yaml`.
    pub fn office(&self) -> Result<Value, DocumentError> {
        yaml(&self.documents().join("office.yaml"))
    }

    /// Renders `<kind>.html.j2` with `context`.
    pub fn html(&self, kind: DocumentKind, context: &Value) -> Result<String, DocumentError> {
        let dir = self.documents();
        let mut env = Environment::new();
        env.set_undefined_behavior(UndefinedBehavior::Strict);
        env.set_auto_escape_callback(|name| if name.contains(".html") { AutoEscape::Html } else { AutoEscape::None });
        let loader_dir = dir.clone();
        env.set_loader(move |name| {
            if !safe_name(name) {
                return Ok(None);
            }
            match std::fs::read_to_string(loader_dir.join(name)) {
                Ok(text) => Ok(Some(text)),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
                Err(e) => Err(minijinja::Error::new(minijinja::ErrorKind::InvalidOperation, format!("cannot read template {name}")).with_source(e)),
            }
        });
        let name = format!("{}.html.j2", kind.template_stem());
        let located = |e: minijinja::Error| {
            let file = dir.join(e.name().unwrap_or(&name)).display().to_string();
            let mut message = e.kind().to_string();
            if let Some(d) = e.detail() {
                message = format!("{message}: {d}");
            }
            DocumentError::Template { file, line: e.line().unwrap_or(0), message }
        };
        let template = env.get_template(&name).map_err(located)?;
        template.render(minijinja::value::Serde(context)).map_err(located)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn template_names_stay_in_their_folder() {
        assert!(safe_name("base.html.j2"));
        assert!(!safe_name("../secrets.yaml"));
        assert!(!safe_name("/etc/passwd"));
    }

    #[test]
    fn a_broken_template_names_file_and_line() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("documents")).unwrap();
        std::fs::write(dir.path().join("documents/pengajuan.html.j2"), "<p>ok</p>\n<p>{{ doc.unit.name }</p>\n").unwrap();
        let err = Templates::new(dir.path()).html(DocumentKind::Pengajuan, &serde_json::json!({})).unwrap_err().to_string();
        assert!(err.contains("pengajuan.html.j2") && err.contains("line 2"), "{err}");
    }

    #[test]
    fn values_are_escaped_in_html() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("documents")).unwrap();
        std::fs::write(dir.path().join("documents/pengajuan.html.j2"), "<p>{{ doc.x }}</p>").unwrap();
        let out = Templates::new(dir.path()).html(DocumentKind::Pengajuan, &serde_json::json!({"doc": {"x": "<script>"}})).unwrap();
        assert_eq!(out, "<p>&lt;script&gt;</p>");
    }
}
