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

fn decode(s: &str) -> Result<String, ConsoleError> {
    let bad = || ConsoleError::BadRequest("malformed form encoding".into());
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' => {
                let hex = bytes.get(i + 1..i + 3).ok_or_else(bad)?;
                let hex = std::str::from_utf8(hex).map_err(|_| bad())?;
                out.push(u8::from_str_radix(hex, 16).map_err(|_| bad())?);
                i += 2;
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8(out).map_err(|_| bad())
}

/// Percent-encodes a value for a query string.
pub fn encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.~/".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
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
