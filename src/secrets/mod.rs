//! Secrets: the `Secret` type that never prints itself, and the AEAD that seals secrets at rest.
//!
//! Owns: redaction (`Secret`), the master key (`MasterKey`, from a file or the environment, never
//! from the database or the repository) and sealing/opening (`Sealed`). It must not log, audit or
//! store anything itself; callers audit reveals. Names and kinds of stored secrets
//! (`SecretName`, `SecretKind`) live here; the store holds them (`store::secrets`).

mod cipher;
pub mod files;
pub(crate) mod secret;
mod stored;

pub use cipher::{CipherError, MasterKey, Sealed};
pub use secret::Secret;
pub use stored::{SecretKind, SecretName, SecretNameError};
