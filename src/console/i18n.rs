//! The console's two languages: Bahasa Indonesia (default) and English, from the tables in
//! `templates/console/i18n/{id,en}.yaml` (same keys in both; a test checks it). The choice is
//! a `lang` cookie set by `/language?l=en`.

use std::collections::BTreeMap;
use std::sync::LazyLock;

use axum::extract::Query;
use axum::http::{HeaderMap, header};
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;

/// The console speaks the documents' two languages.
pub use crate::documents::Lang;

impl Lang {
    pub fn parse(s: &str) -> Option<Self> {
        s.parse().ok()
    }

    /// The language chosen by the browser's `lang` cookie, else Indonesian.
    pub fn from_headers(headers: &HeaderMap) -> Self {
        super::session::cookie(headers, "lang").and_then(|v| Self::parse(&v)).unwrap_or_default()
    }

    pub fn table(self) -> &'static BTreeMap<String, String> {
        &TABLES[self as usize]
    }

    /// The text for `key`; the key itself if missing (tests keep the tables complete).
    pub fn t(self, key: &str) -> &'static str {
        self.table().get(key).map_or("?", String::as_str)
    }

    /// The text for `key` with `%s` replaced by `arg`.
    pub fn tf(self, key: &str, arg: &str) -> String {
        self.t(key).replacen("%s", arg, 1)
    }
}

pub const ID_YAML: &str = include_str!("../../templates/console/i18n/id.yaml");
pub const EN_YAML: &str = include_str!("../../templates/console/i18n/en.yaml");

static TABLES: LazyLock<[BTreeMap<String, String>; 2]> = LazyLock::new(|| {
    let load = |name: &str, text: &str| -> BTreeMap<String, String> {
        serde_yaml_ng::from_str(text).unwrap_or_else(|e| panic!("console translation table {name}: {e}"))
    };
    [load("id.yaml", ID_YAML), load("en.yaml", EN_YAML)]
});

#[derive(Debug, Deserialize)]
pub struct SwitchQuery {
    l: String,
    #[serde(default)]
    next: Option<String>,
}

/// `GET /language?l=en&next=/requests`: remembers the choice for a year and goes back.
pub async fn switch(Query(q): Query<SwitchQuery>) -> Response {
    let lang = Lang::parse(&q.l).unwrap_or_default();
    // Only paths on this site: never an absolute or protocol-relative URL (open redirect).
    let next = q
        .next
        .filter(|n| n.starts_with('/') && !n.starts_with("//") && !n.contains('\\'))
        .unwrap_or_else(|| "/".into());
    let cookie = format!("lang={}; Path=/; Max-Age=31536000; SameSite=Lax", lang.as_str());
    ([(header::SET_COOKIE, cookie)], Redirect::to(&next)).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_tables_have_the_same_keys() {
        let id: Vec<_> = Lang::Id.table().keys().collect();
        let en: Vec<_> = Lang::En.table().keys().collect();
        assert_eq!(id, en);
        assert!(id.len() > 150);
    }

    #[test]
    fn every_key_used_by_a_template_exists() {
        for (name, source) in super::super::TEMPLATES {
            let mut rest = *source;
            while let Some(i) = rest.find("t.") {
                let before = rest[..i].chars().last();
                rest = &rest[i + 2..];
                if before.is_some_and(|c| c.is_ascii_alphanumeric() || c == '_' || c == '.') {
                    continue;
                }
                let key: String = rest.chars().take_while(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == '_').collect();
                if !key.is_empty() {
                    assert!(Lang::Id.table().contains_key(&key), "{name} uses t.{key}, missing from id.yaml");
                }
            }
        }
    }
}
