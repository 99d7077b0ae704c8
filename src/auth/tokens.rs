//! API tokens: 256 random bits, shown once, stored only as their SHA-256.
//!
//! Why SHA-256 and not argon2 as for passwords: a token is checked on every API call, and a
//! slow hash (tens of milliseconds, by design) would cost that on each one. Slow hashes protect
//! low-entropy secrets that people choose; a 256-bit random token cannot be guessed or
//! brute-forced from its hash, so a fast hash is as safe here, and it lets the store find the
//! token by an indexed equality lookup instead of trying every row.

use sha2::{Digest, Sha256};

use crate::secrets::Secret;

/// Every token starts with this, so that secret scanners (and the CI grep) recognise one.
pub const TOKEN_PREFIX: &str = "klk_";

/// A new random token (`klk_` + 64 hex digits) and its id (12 hex digits, for listing and
/// revoking; not secret).
pub fn new_token() -> (String, Secret) {
    let mut bits = [0u8; 32];
    rand::fill(&mut bits);
    let mut id = [0u8; 6];
    rand::fill(&mut id);
    (hex::encode(id), Secret::new(format!("{TOKEN_PREFIX}{}", hex::encode(bits))))
}

/// The stored form of a token: SHA-256, hex.
pub fn hash_token(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// Cheap shape check before touching the database.
pub fn looks_like_token(token: &str) -> bool {
    token.len() == TOKEN_PREFIX.len() + 64 && token.starts_with(TOKEN_PREFIX) && token[TOKEN_PREFIX.len()..].bytes().all(|b| b.is_ascii_hexdigit())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_random_and_well_formed() {
        let (id_a, a) = new_token();
        let (id_b, b) = new_token();
        assert_ne!(a.expose(), b.expose());
        assert_ne!(id_a, id_b);
        assert!(looks_like_token(a.expose()));
        assert!(!looks_like_token("klk_short"));
        assert_eq!(hash_token(a.expose()).len(), 64);
        assert_ne!(hash_token(a.expose()), hash_token(b.expose()));
    }
}
