//! Password hashing with argon2id (PHC strings, parameters from the argon2 crate's defaults:
//! 19 MiB, 2 passes, 1 lane — OWASP's minimum for argon2id).

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;

use crate::secrets::Secret;

/// Shortest password accepted for an account.
pub const MIN_LENGTH: usize = 12;

#[derive(Debug, thiserror::Error)]
pub enum PasswordError {
    #[error("a password needs at least {MIN_LENGTH} characters")]
    TooShort,
    #[error("a password must not be longer than 1024 bytes")]
    TooLong,
    #[error("hashing the password failed")]
    Hash,
}

/// Hashes `password` into an argon2id PHC string with a fresh random salt.
pub fn hash_password(password: &Secret) -> Result<String, PasswordError> {
    let p = password.expose();
    if p.chars().count() < MIN_LENGTH {
        return Err(PasswordError::TooShort);
    }
    if p.len() > 1024 {
        return Err(PasswordError::TooLong);
    }
    let mut salt = [0u8; 16];
    rand::fill(&mut salt);
    let salt = SaltString::encode_b64(&salt).map_err(|_| PasswordError::Hash)?;
    Argon2::default().hash_password(p.as_bytes(), &salt).map(|h| h.to_string()).map_err(|_| PasswordError::Hash)
}

/// Checks `password` against a stored PHC string; a malformed hash never matches.
pub fn verify_password(password: &Secret, phc: &str) -> bool {
    PasswordHash::new(phc).is_ok_and(|h| Argon2::default().verify_password(password.expose().as_bytes(), &h).is_ok())
}

/// A hash of a password nobody has, so that a sign-in for an unknown user costs as much as
/// one for a known user (no timing hint about which usernames exist).
pub fn dummy_hash() -> &'static str {
    static DUMMY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    DUMMY.get_or_init(|| {
        let mut random = [0u8; 24];
        rand::fill(&mut random);
        hash_password(&Secret::new(hex::encode(random))).expect("hashing a random password")
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_verify_and_differ() {
        let p = Secret::new("CANARY-correct-horse");
        let a = hash_password(&p).unwrap();
        let b = hash_password(&p).unwrap();
        assert!(a.starts_with("$argon2id$"), "{a}");
        assert_ne!(a, b, "fresh salt each time");
        assert!(verify_password(&p, &a));
        assert!(!verify_password(&Secret::new("CANARY-wrong-horse"), &a));
        assert!(!verify_password(&p, "not a hash"));
        assert!(matches!(hash_password(&Secret::new("short")), Err(PasswordError::TooShort)));
    }
}
