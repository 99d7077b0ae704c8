//! XChaCha20-Poly1305 sealing of secrets under a master key.
//!
//! Sealed text: `kv1:<key id>:<base64(nonce ‖ ciphertext)>`. The key id (first 8 hex digits of
//! SHA-256 of the key) lets rotation find what was sealed under an old key. The caller passes a
//! context (e.g. `request/KLK-2026-00001/host-admin`) that is bound as associated data, so a
//! sealed value copied to another place does not open there.

use std::fmt;
use std::path::Path;

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use rand::RngCore;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::Secret;

#[derive(Debug, thiserror::Error)]
pub enum CipherError {
    #[error("no master key: set KOLOKASI_MASTER_KEY (base64 of 32 bytes) or master_key_file")]
    NoKey,
    #[error("the master key must be base64 of exactly 32 bytes")]
    BadKey,
    #[error("cannot read the master key file {path}")]
    KeyFile {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("the master key file {path} is readable or writable by others (mode {mode:04o}); run: chmod 600 {path}")]
    KeyFileOpen { path: String, mode: u32 },
    #[error("sealed value is malformed")]
    Malformed,
    #[error("sealed value was sealed under key {found}, but the master key is {expected}")]
    WrongKey { found: String, expected: String },
    #[error("sealed value does not open: it was altered or belongs to another record")]
    Tampered,
}

/// The master key. Never serialised, never printed.
#[derive(Clone)]
pub struct MasterKey {
    key: [u8; 32],
    id: String,
}

impl fmt::Debug for MasterKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "MasterKey(id={}, [redacted])", self.id)
    }
}

impl MasterKey {
    pub fn from_base64(text: &str) -> Result<Self, CipherError> {
        let bytes = B64.decode(text.trim()).map_err(|_| CipherError::BadKey)?;
        let key: [u8; 32] = bytes.try_into().map_err(|_| CipherError::BadKey)?;
        Ok(Self::from_bytes(key))
    }

    pub fn from_bytes(key: [u8; 32]) -> Self {
        let id = hex::encode(&Sha256::digest(key)[..4]);
        Self { key, id }
    }

    /// Reads the key from `path`, refusing a file that group or others may read or write.
    pub fn from_file(path: &Path) -> Result<Self, CipherError> {
        use std::os::unix::fs::PermissionsExt;
        let meta = std::fs::metadata(path).map_err(|source| CipherError::KeyFile { path: path.display().to_string(), source })?;
        let mode = meta.permissions().mode() & 0o7777;
        if mode & 0o077 != 0 {
            return Err(CipherError::KeyFileOpen { path: path.display().to_string(), mode });
        }
        let text = std::fs::read_to_string(path)
            .map_err(|source| CipherError::KeyFile { path: path.display().to_string(), source })?;
        Self::from_base64(&text)
    }

    pub fn generate() -> Self {
        let mut key = [0u8; 32];
        rand::rng().fill_bytes(&mut key);
        Self::from_bytes(key)
    }

    /// Writes a new random key to `path` with mode 0600 and returns it. Refuses to overwrite.
    pub fn generate_file(path: &Path) -> std::io::Result<Self> {
        use std::io::Write;
        use std::os::unix::fs::OpenOptionsExt;
        let key = Self::generate();
        let mut f = std::fs::OpenOptions::new().write(true).create_new(true).mode(0o600).open(path)?;
        writeln!(f, "{}", B64.encode(key.key))?;
        Ok(key)
    }

    pub fn id(&self) -> &str {
        &self.id
    }

    pub fn seal(&self, secret: &Secret, context: &str) -> Sealed {
        let cipher = XChaCha20Poly1305::new((&self.key).into());
        let mut nonce = [0u8; 24];
        rand::rng().fill_bytes(&mut nonce);
        let ct = cipher
            .encrypt(&XNonce::from(nonce), Payload { msg: secret.expose().as_bytes(), aad: context.as_bytes() })
            .expect("XChaCha20-Poly1305 encryption cannot fail for in-memory input");
        let mut blob = nonce.to_vec();
        blob.extend_from_slice(&ct);
        Sealed(format!("kv1:{}:{}", self.id, B64.encode(blob)))
    }

    pub fn open(&self, sealed: &Sealed, context: &str) -> Result<Secret, CipherError> {
        let mut parts = sealed.0.splitn(3, ':');
        let (Some("kv1"), Some(id), Some(body)) = (parts.next(), parts.next(), parts.next()) else {
            return Err(CipherError::Malformed);
        };
        if id != self.id {
            return Err(CipherError::WrongKey { found: id.to_string(), expected: self.id.clone() });
        }
        let blob = B64.decode(body).map_err(|_| CipherError::Malformed)?;
        if blob.len() < 24 + 16 {
            return Err(CipherError::Malformed);
        }
        let cipher = XChaCha20Poly1305::new((&self.key).into());
        let plain = cipher
            .decrypt(&XNonce::try_from(&blob[..24]).map_err(|_| CipherError::Malformed)?, Payload { msg: &blob[24..], aad: context.as_bytes() })
            .map_err(|_| CipherError::Tampered)?;
        String::from_utf8(plain).map(Secret::new).map_err(|_| CipherError::Tampered)
    }
}

/// A sealed secret as stored. Its text is ciphertext, but it is still kept out of views.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Sealed(String);

impl Sealed {
    /// A sealed text as read back from the store (checked when opened).
    pub(crate) fn from_stored(text: String) -> Self {
        Self(text)
    }

    /// The text to store.
    pub(crate) fn as_stored(&self) -> &str {
        &self.0
    }

    pub fn key_id(&self) -> Option<&str> {
        self.0.split(':').nth(1)
    }
}

impl fmt::Debug for Sealed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Sealed(key={})", self.key_id().unwrap_or("?"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seals_and_opens_bound_to_context() {
        let key = MasterKey::generate();
        let sealed = key.seal(&Secret::new("canary-Pa55w0rd"), "request/1/host-admin");
        assert!(!format!("{sealed:?}").contains("canary"));
        assert!(!sealed.0.contains("canary"));
        assert_eq!(key.open(&sealed, "request/1/host-admin").unwrap().expose(), "canary-Pa55w0rd");
        assert!(matches!(key.open(&sealed, "request/2/host-admin"), Err(CipherError::Tampered)));
        let other = MasterKey::generate();
        assert!(matches!(other.open(&sealed, "request/1/host-admin"), Err(CipherError::WrongKey { .. })));
    }

    #[test]
    fn key_parsing() {
        assert!(matches!(MasterKey::from_base64("c2hvcnQ="), Err(CipherError::BadKey)));
        let k = MasterKey::from_bytes([7; 32]);
        assert_eq!(MasterKey::from_base64(&B64.encode([7u8; 32])).unwrap().id(), k.id());
        assert!(!format!("{k:?}").contains("0707"));
    }
}
