//! The audit chain's arithmetic, pure: the v1 row hash, and the v2 digest, link hash and MAC.
//!
//! v1: `hash = SHA-256(json [prev, seq, at, actor, role, request, action, reason, before, after])`.
//! v2: `digest = SHA-256(json [seq, at, …])` (content only), `hash = SHA-256("kolokasi-audit-v2\n"
//! prev "\n" seq "\n" digest)` (links, checkable from digests alone) and `mac = HMAC-SHA256(key,
//! hash)` (only the key holder can make one).

use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};

/// One row's content as stored (JSON columns as their text).
#[derive(Debug, Clone, Copy)]
pub struct Canonical<'a> {
    pub seq: i64,
    pub at: i64,
    pub actor: &'a str,
    pub role: &'a str,
    pub request_id: Option<&'a str>,
    pub action: &'a str,
    pub reason: Option<&'a str>,
    pub before: Option<&'a str>,
    pub after: Option<&'a str>,
}

/// The v1 row hash (content and previous hash in one).
pub fn v1_hash(prev: &str, c: &Canonical<'_>) -> String {
    let canonical = serde_json::json!([prev, c.seq, c.at, c.actor, c.role, c.request_id, c.action, c.reason, c.before, c.after]);
    hex::encode(Sha256::digest(canonical.to_string().as_bytes()))
}

/// The v2 content digest.
pub fn digest(c: &Canonical<'_>) -> String {
    let canonical = serde_json::json!([c.seq, c.at, c.actor, c.role, c.request_id, c.action, c.reason, c.before, c.after]);
    hex::encode(Sha256::digest(canonical.to_string().as_bytes()))
}

/// The v2 link hash: the previous row's hash, this row's number and its digest.
pub fn link_hash(prev: &str, seq: i64, digest: &str) -> String {
    hex::encode(Sha256::digest(format!("kolokasi-audit-v2\n{prev}\n{seq}\n{digest}").as_bytes()))
}

/// The v2 MAC of a link hash under an audit key.
pub fn mac(key: &[u8; 32], hash: &str) -> String {
    let mut m = Hmac::<Sha256>::new_from_slice(key).expect("HMAC takes any key length");
    m.update(hash.as_bytes());
    hex::encode(m.finalize().into_bytes())
}

/// Whether `mac` is the MAC of `hash` under `key`, compared in constant time.
pub fn mac_matches(key: &[u8; 32], hash: &str, mac: &str) -> bool {
    let Ok(tag) = hex::decode(mac) else { return false };
    let mut m = Hmac::<Sha256>::new_from_slice(key).expect("HMAC takes any key length");
    m.update(hash.as_bytes());
    m.verify_slice(&tag).is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_are_stable_and_the_mac_needs_the_key() {
        let c = Canonical { seq: 1, at: 5, actor: "a", role: "admin", request_id: None, action: "x", reason: None, before: None, after: Some("{}") };
        let d = digest(&c);
        assert_eq!(d.len(), 64);
        let h = link_hash("genesis", 1, &d);
        assert_ne!(h, link_hash("genesis", 2, &d));
        let m = mac(&[1; 32], &h);
        assert!(mac_matches(&[1; 32], &h, &m));
        assert!(!mac_matches(&[2; 32], &h, &m));
        assert!(!mac_matches(&[1; 32], &h, "zz"));
        assert_ne!(v1_hash("genesis", &c), h);
    }
}
