//! Signed checkpoints of the audit chain head (Ed25519), pure: making and checking one.
//!
//! A checkpoint written somewhere the database's attacker cannot rewrite (an append-only file,
//! another system) pins the chain: a later table whose row `seq` has another hash was rewritten,
//! one that ends before `seq` was truncated.

use ed25519_dalek::{Signature, Signer, SigningKey, VerifyingKey};
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

/// The chain head at a moment, signed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Checkpoint {
    pub seq: i64,
    pub hash: String,
    #[serde(with = "time::serde::rfc3339")]
    pub at: OffsetDateTime,
    /// The signing key's id in the store (`audit_keys`).
    pub key_id: String,
    /// The Ed25519 public key, hex.
    pub public_key: String,
    /// Hex of the signature over [`Checkpoint::message`].
    pub signature: String,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CheckpointError {
    #[error("the checkpoint's public key is not a valid Ed25519 key")]
    BadPublicKey,
    #[error("the trusted public key is not a valid Ed25519 key")]
    BadTrustedKey,
    #[error("the checkpoint signature is malformed")]
    MalformedSignature,
    #[error("the checkpoint signature does not verify")]
    BadSignature,
}

/// Parses a hex Ed25519 public key.
pub fn public_key(hex_text: &str) -> Option<VerifyingKey> {
    let bytes: [u8; 32] = hex::decode(hex_text).ok()?.try_into().ok()?;
    VerifyingKey::from_bytes(&bytes).ok()
}

impl Checkpoint {
    /// What is signed: `kolokasi-audit-checkpoint\n{seq}\n{hash}\n{at rfc3339}`.
    pub fn message(seq: i64, hash: &str, at: OffsetDateTime) -> String {
        let at = at.format(&Rfc3339).expect("a UTC time formats as RFC 3339");
        format!("kolokasi-audit-checkpoint\n{seq}\n{hash}\n{at}")
    }

    /// Signs the head `(seq, hash)` now (whole seconds, UTC, so the text round-trips exactly).
    pub fn sign(seq: i64, hash: &str, key_id: &str, key: &SigningKey) -> Self {
        let now = OffsetDateTime::now_utc();
        let at = now.replace_nanosecond(0).unwrap_or(now);
        let signature = key.sign(Self::message(seq, hash, at).as_bytes());
        Self {
            seq,
            hash: hash.to_string(),
            at,
            key_id: key_id.to_string(),
            public_key: hex::encode(key.verifying_key().as_bytes()),
            signature: hex::encode(signature.to_bytes()),
        }
    }

    /// Checks the signature against `trusted` (hex) if given, else against the embedded key.
    pub fn verify_signature(&self, trusted: Option<&str>) -> Result<(), CheckpointError> {
        let key = match trusted {
            Some(t) => public_key(t).ok_or(CheckpointError::BadTrustedKey)?,
            None => public_key(&self.public_key).ok_or(CheckpointError::BadPublicKey)?,
        };
        let bytes: [u8; 64] = hex::decode(&self.signature).ok().and_then(|b| b.try_into().ok()).ok_or(CheckpointError::MalformedSignature)?;
        let message = Self::message(self.seq, &self.hash, self.at);
        key.verify_strict(message.as_bytes(), &Signature::from_bytes(&bytes)).map_err(|_| CheckpointError::BadSignature)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signs_round_trips_and_rejects_changes() {
        let key = SigningKey::from_bytes(&[9; 32]);
        let cp = Checkpoint::sign(7, "abc", "k1", &key);
        let text = serde_json::to_string(&cp).unwrap();
        let back: Checkpoint = serde_json::from_str(&text).unwrap();
        assert_eq!(back, cp);
        assert_eq!(back.verify_signature(None), Ok(()));
        assert_eq!(back.verify_signature(Some(&cp.public_key)), Ok(()));
        let other = hex::encode(SigningKey::from_bytes(&[8; 32]).verifying_key().as_bytes());
        assert_eq!(back.verify_signature(Some(&other)), Err(CheckpointError::BadSignature));
        let moved = Checkpoint { seq: 6, ..cp.clone() };
        assert_eq!(moved.verify_signature(None), Err(CheckpointError::BadSignature));
    }
}
