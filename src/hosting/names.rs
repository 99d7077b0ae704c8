//! Kubernetes naming rules (DNS-1123 labels and subdomains, label values, qualified keys) and
//! the deterministic encoding of free text (a unit's name) into a label value.
//!
//! The API server rejects objects that break these rules; checking them here turns that into a
//! clear error before anything is sent, and lets tests check every generated object.

use sha2::{Digest, Sha256};

/// The prefix of kolokasi's label and annotation keys.
pub const KEY_PREFIX: &str = "kolokasi.diskominfo.kaltimprov.go.id";

fn alnum_lower(b: u8) -> bool {
    b.is_ascii_lowercase() || b.is_ascii_digit()
}

/// An RFC 1123 label as Kubernetes names namespaces and most objects: 1-63 of `a-z 0-9 -`,
/// starting and ending with a letter or digit.
pub fn is_dns1123_label(s: &str) -> bool {
    let b = s.as_bytes();
    !b.is_empty() && b.len() <= 63 && b.iter().all(|&c| alnum_lower(c) || c == b'-') && alnum_lower(b[0]) && alnum_lower(b[b.len() - 1])
}

/// An RFC 1123 subdomain (object names such as ingress classes, secrets, roles): labels
/// joined by dots, at most 253 characters.
pub fn is_dns1123_subdomain(s: &str) -> bool {
    !s.is_empty() && s.len() <= 253 && s.split('.').all(is_dns1123_label)
}

/// A label value: empty, or up to 63 of `A-Z a-z 0-9 - _ .` starting and ending alphanumeric.
pub fn is_label_value(s: &str) -> bool {
    let b = s.as_bytes();
    if b.is_empty() {
        return true;
    }
    b.len() <= 63
        && b.iter().all(|&c| c.is_ascii_alphanumeric() || b"-_.".contains(&c))
        && b[0].is_ascii_alphanumeric()
        && b[b.len() - 1].is_ascii_alphanumeric()
}

/// A label or annotation key: an optional DNS subdomain prefix and `/`, then a name of up to
/// 63 of `A-Z a-z 0-9 - _ .` starting and ending alphanumeric.
pub fn is_qualified_key(s: &str) -> bool {
    let (prefix, name) = match s.split_once('/') {
        Some((p, n)) => (Some(p), n),
        None => (None, s),
    };
    prefix.is_none_or(is_dns1123_subdomain) && !name.is_empty() && is_label_value(name)
}

/// Free text as a DNS-1123 label: lower-case ASCII letters and digits kept, every other run
/// of characters becomes one `-`. Text that does not fit (or leaves nothing) is shortened
/// and given 8 hex digits of its SHA-256, so the result is always valid and stable for the
/// same input. Different texts may share an encoding ("Dinas A" and "dinas-a"): the exact text
/// goes into an annotation next to it.
pub fn encode_label(text: &str, max: usize) -> String {
    let max = max.clamp(10, 63);
    let mut out = String::new();
    for c in text.chars() {
        let c = c.to_ascii_lowercase();
        if c.is_ascii_lowercase() || c.is_ascii_digit() {
            out.push(c);
        } else if !out.is_empty() && !out.ends_with('-') {
            out.push('-');
        }
    }
    let out = out.trim_end_matches('-').to_string();
    if !out.is_empty() && out.len() <= max {
        return out;
    }
    let hash = hex::encode(&Sha256::digest(text.as_bytes())[..4]);
    let keep = out[..out.len().min(max - 9)].trim_end_matches('-');
    if keep.is_empty() { format!("x-{hash}") } else { format!("{keep}-{hash}") }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn rules() {
        assert!(is_dns1123_label("klk-2026-00001-app-pajak"));
        for bad in ["", "-a", "a-", "A", "a_b", "a.b", &"a".repeat(64)] {
            assert!(!is_dns1123_label(bad), "{bad:?}");
        }
        assert!(is_dns1123_subdomain("letsencrypt.prod") && !is_dns1123_subdomain("a..b"));
        assert!(is_label_value("KLK-2026-00001") && is_label_value("") && !is_label_value("a b") && !is_label_value("-a"));
        assert!(is_qualified_key("kolokasi.diskominfo.kaltimprov.go.id/request") && is_qualified_key("app"));
        assert!(!is_qualified_key("Bad_Prefix/x") && !is_qualified_key("a/") && !is_qualified_key("a/b/c"));
    }

    #[test]
    fn unit_names_encode_readably() {
        assert_eq!(
            encode_label("Badan Pendapatan Daerah Provinsi Kalimantan Timur", 63),
            "badan-pendapatan-daerah-provinsi-kalimantan-timur"
        );
        assert_eq!(encode_label("Dinas Kominfo (Diskominfo), Kaltim", 63), "dinas-kominfo-diskominfo-kaltim");
        let long = "Dinas Penanaman Modal dan Pelayanan Terpadu Satu Pintu Provinsi Kalimantan Timur";
        let e = encode_label(long, 63);
        assert!(e.len() <= 63 && is_dns1123_label(&e) && e.starts_with("dinas-penanaman"), "{e}");
        assert_eq!(e, encode_label(long, 63), "stable");
        assert_ne!(e, encode_label(&format!("{long} II"), 63));
        assert!(is_dns1123_label(&encode_label("'; rm -rf / #", 63)));
        assert!(is_dns1123_label(&encode_label("ÉÉÉ", 63)));
    }

    proptest! {
        #[test]
        fn any_text_encodes_to_a_valid_label(s in "\\PC{0,120}", max in 10usize..=63) {
            let e = encode_label(&s, max);
            prop_assert!(is_dns1123_label(&e) && is_label_value(&e) && e.len() <= max, "{:?} -> {:?}", s, e);
        }
    }
}
