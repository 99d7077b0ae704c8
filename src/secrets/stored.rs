//! What names and kinds a secret in the store has (`kolokasi secret set NAME --kind …`).

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// What a stored secret is for; drivers pick how to use it (an SSH key or a password login).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum SecretKind {
    /// An unencrypted OpenSSH private key (PEM).
    SshKey,
    Password,
    /// A TSIG key (base64), for RFC 2136 updates.
    Tsig,
    /// An HTTP API key or secret (PowerDNS, OPNsense).
    ApiKey,
}

impl SecretKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::SshKey => "ssh-key",
            Self::Password => "password",
            Self::Tsig => "tsig",
            Self::ApiKey => "api-key",
        }
    }
}

impl fmt::Display for SecretKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for SecretKind {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        [Self::SshKey, Self::Password, Self::Tsig, Self::ApiKey]
            .into_iter()
            .find(|k| k.as_str() == s)
            .ok_or_else(|| format!("secret kind {s:?} is not one of ssh-key, password, tsig, api-key"))
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("secret name {0:?} must be 1-64 of letters, digits, '.', '_' and '-', starting with a letter or digit")]
pub struct SecretNameError(String);

/// A secret's name in the store (`sw-r01-ssh`). It is also part of the sealing context, so a
/// sealed value copied under another name does not open.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(transparent)]
pub struct SecretName(String);

impl SecretName {
    pub fn parse(text: &str) -> Result<Self, SecretNameError> {
        let b = text.as_bytes();
        let ok = (1..=64).contains(&b.len())
            && b[0].is_ascii_alphanumeric()
            && b.iter().all(|c| c.is_ascii_alphanumeric() || matches!(c, b'.' | b'_' | b'-'));
        if ok { Ok(Self(text.to_string())) } else { Err(SecretNameError(text.to_string())) }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The associated data the value is sealed with.
    pub fn sealing_context(&self) -> String {
        format!("secret/{}", self.0)
    }
}

impl fmt::Display for SecretName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_kinds() {
        assert_eq!(SecretName::parse("sw-r01.ssh_key").unwrap().sealing_context(), "secret/sw-r01.ssh_key");
        for bad in ["", "-x", "a b", "a/b", "$(id)", &"x".repeat(65)] {
            assert!(SecretName::parse(bad).is_err(), "{bad:?}");
        }
        for k in [SecretKind::SshKey, SecretKind::Password, SecretKind::Tsig, SecretKind::ApiKey] {
            assert_eq!(k.as_str().parse::<SecretKind>().unwrap(), k);
        }
    }
}
