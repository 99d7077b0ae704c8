//! `application/x-www-form-urlencoded` bodies, as browsers send forms. Values stay raw text
//! here; pages parse them into domain types before anything else sees them.

use std::collections::BTreeMap;

use axum::body::Bytes;

use super::ConsoleError;

/// A submitted form: the fields in order (a name may repeat).
#[derive(Debug, Default, Clone)]
pub struct FormData(Vec<(String, String)>);

impl FormData {
    pub fn parse(body: &Bytes) -> Result<Self, ConsoleError> {
        let text = std::str::from_utf8(body).map_err(|_| ConsoleError::BadRequest("form body is not UTF-8".into()))?;
        let mut out = Vec::new();
        for pair in text.split('&').filter(|p| !p.is_empty()) {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            out.push((decode(k)?, decode(v)?));
        }
        Ok(Self(out))
    }

    /// The first value of `name`, trimmed; "" if absent.
    pub fn get(&self, name: &str) -> &str {
        self.0.iter().find(|(k, _)| k == name).map_or("", |(_, v)| v.trim())
    }

    /// The value if present and not blank.
    pub fn opt(&self, name: &str) -> Option<&str> {
        Some(self.get(name)).filter(|v| !v.is_empty())
    }

    /// The fields as a map (first value wins), to refill a form after a validation error.
    /// Passwords are never echoed back.
    pub fn values(&self) -> BTreeMap<String, String> {
        let mut m = BTreeMap::new();
        for (k, v) in &self.0 {
            if k.starts_with('_') || k.contains("password") {
                continue;
            }
            m.entry(k.clone()).or_insert_with(|| v.clone());
        }
        m
    }
}

/// One key or value: `+` is a space, then percent-decoded (`percent-encoding`); the result must
/// be UTF-8 (no lossy replacement: a malformed field is refused, not guessed at).
fn decode(s: &str) -> Result<String, ConsoleError> {
    let bad = || ConsoleError::BadRequest("malformed form encoding".into());
    // percent-encoding passes a `%` without two hex digits through as text; a browser never
    // sends one, so it is refused.
    let escapes = s.match_indices('%').all(|(i, _)| s.as_bytes().get(i + 1..i + 3).is_some_and(|h| h.iter().all(u8::is_ascii_hexdigit)));
    if !escapes {
        return Err(bad());
    }
    let spaced = s.replace('+', " ");
    percent_encoding::percent_decode_str(&spaced).decode_utf8().map(std::borrow::Cow::into_owned).map_err(|_| bad())
}

/// Everything but unreserved characters and `/` is escaped in a console query value.
const QUERY_VALUE: &percent_encoding::AsciiSet =
    &percent_encoding::NON_ALPHANUMERIC.remove(b'-').remove(b'_').remove(b'.').remove(b'~').remove(b'/');

/// Percent-encodes a value for a query string.
pub fn encode(s: &str) -> String {
    percent_encoding::utf8_percent_encode(s, QUERY_VALUE).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_what_browsers_send() {
        let f = FormData::parse(&Bytes::from_static(
            b"a=Jl.+Basuki+Rahmat+No.%201&b=%3E%3D+1.18&empty=&a=second&_csrf=x&host_admin_password=p",
        ))
        .unwrap();
        assert_eq!(f.get("a"), "Jl. Basuki Rahmat No. 1");
        assert_eq!(f.get("b"), ">= 1.18");
        assert_eq!(f.opt("empty"), None);
        assert_eq!(f.get("missing"), "");
        let v = f.values();
        assert_eq!(v["a"], "Jl. Basuki Rahmat No. 1");
        assert!(!v.contains_key("_csrf") && !v.contains_key("host_admin_password"));
    }

    #[test]
    fn refuses_broken_encoding() {
        assert!(FormData::parse(&Bytes::from_static(b"a=%zz")).is_err());
        assert!(FormData::parse(&Bytes::from_static(b"a=%ff")).is_err());
        assert!(FormData::parse(&Bytes::from_static(b"a=%4")).is_err());
    }

    #[test]
    fn encodes_paths() {
        assert_eq!(encode("/requests/KLK-2026-00001?x=1&y"), "/requests/KLK-2026-00001%3Fx%3D1%26y");
    }
}
