//! `SshTarget`: how to reach one device (address, login, pinned host key). Its `Debug` never
//! prints a password or a private key.

use std::fmt;
use std::net::SocketAddr;
use std::path::PathBuf;

use super::SshError;
use crate::lab::{Lab, LabError};
use crate::secrets::Secret;

/// One device's SSH configuration. The `name` keys the session pool and appears in every error.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SshTarget {
    pub name: String,
    pub address: SocketAddr,
    pub user: String,
    pub auth: SshAuth,
    pub host_key: HostKey,
}

/// How kolokasi logs in. Secrets stay `Secret`, so a derived `Debug` prints `[redacted]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SshAuth {
    /// An unencrypted OpenSSH private key file (ed25519, ECDSA or RSA; RSA signs with SHA-2).
    KeyFile(PathBuf),
    /// The same, held in memory (e.g. unsealed from the secret store).
    KeyPem(Secret),
    Password(Secret),
}

/// A pinned host key, `"<algorithm> <base64>"` (a trailing comment is dropped).
#[derive(Clone, PartialEq, Eq)]
pub struct HostKey(String);

impl HostKey {
    pub fn parse(text: &str) -> Result<Self, SshError> {
        let mut fields = text.split_whitespace();
        let (Some(algorithm), Some(blob)) = (fields.next(), fields.next()) else {
            return Err(SshError::BadHostKey(text.to_string()));
        };
        let key = format!("{algorithm} {blob}");
        russh::keys::PublicKey::from_openssh(&key).map_err(|_| SshError::BadHostKey(text.to_string()))?;
        Ok(Self(key))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The SHA-256 fingerprint as OpenSSH prints it (`SHA256:` and unpadded base64), what an
    /// operator compares with `ssh-keygen -lf` on the server's console.
    pub fn fingerprint(&self) -> String {
        let key = russh::keys::PublicKey::from_openssh(&self.0).expect("checked when parsed");
        key.fingerprint(russh::keys::HashAlg::Sha256).to_string()
    }
}

impl fmt::Debug for HostKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "HostKey({})", self.0)
    }
}

impl serde::Serialize for HostKey {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.0)
    }
}

impl<'de> serde::Deserialize<'de> for HostKey {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        Self::parse(&text).map_err(serde::de::Error::custom)
    }
}

impl fmt::Display for HostKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl SshTarget {
    /// The lab host `host` (a key of lab.json's `hosts`) under the device name `name`, logging
    /// in with the lab key.
    pub fn from_lab(lab: &Lab, host: &str, name: &str) -> Result<Self, LabError> {
        let h = lab.host(host)?;
        let bad = |message: String| LabError::Parse { path: Lab::dir().join("lab.json").display().to_string(), message };
        let ip: std::net::IpAddr = h.address.parse().map_err(|_| bad(format!("hosts.{host}.address {:?} is not an address", h.address)))?;
        let host_key = HostKey::parse(&h.host_key).map_err(|e| bad(format!("hosts.{host}.host_key: {e}")))?;
        Ok(Self {
            name: name.to_string(),
            address: SocketAddr::new(ip, h.ssh_port),
            user: lab.ssh.user.clone(),
            auth: SshAuth::KeyFile(lab.ssh.private_key_file.clone()),
            host_key,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &str = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIBk22XtRBG8yOsriQvhm9dwxfnTdFmuaUYNbQ25EgjTd";

    #[test]
    fn debug_never_prints_secrets() {
        let t = SshTarget {
            name: "sw-r01".into(),
            address: "198.51.100.2:22".parse().unwrap(),
            user: "admin".into(),
            auth: SshAuth::Password(Secret::new("canary-Pa55w0rd")),
            host_key: HostKey::parse(KEY).unwrap(),
        };
        let pem = SshAuth::KeyPem(Secret::new("-----BEGIN OPENSSH PRIVATE KEY----- canary"));
        for text in [format!("{t:?}"), format!("{pem:?}")] {
            assert!(!text.contains("canary"), "{text}");
            assert!(text.contains("[redacted]"), "{text}");
        }
    }

    #[test]
    fn host_keys_are_checked_and_normalised() {
        assert_eq!(HostKey::parse(&format!("{KEY} root@sw")).unwrap().as_str(), KEY);
        assert!(HostKey::parse("ssh-ed25519").is_err());
        assert!(HostKey::parse("ssh-ed25519 AAAAnotbase64!").is_err());
    }
}
