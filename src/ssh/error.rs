//! `SshError`: what can go wrong reaching a device over SSH, and whether trying again may help.

use std::net::SocketAddr;
use std::time::Duration;

#[derive(Debug, thiserror::Error)]
pub enum SshError {
    /// The device presented a key other than the pinned one: a re-installed host or a
    /// man in the middle. An operator must look; retrying would only repeat it.
    #[error("host key of {device} changed: expected {expected} got {got}")]
    HostKeyChanged { device: String, expected: String, got: String },
    #[error("cannot reach {device} at {address}")]
    Unreachable {
        device: String,
        address: SocketAddr,
        #[source]
        source: std::io::Error,
    },
    #[error("connecting to {device} at {address} timed out after {after:?}")]
    ConnectTimeout { device: String, address: SocketAddr, after: Duration },
    #[error("{device} refused the login of {user}")]
    LoginRefused { device: String, user: String },
    #[error("cannot load the SSH private key for {device}")]
    PrivateKey {
        device: String,
        #[source]
        source: Box<russh::keys::Error>,
    },
    #[error("{0:?} is not an SSH public key (expected \"ssh-ed25519 AAAA…\")")]
    BadHostKey(String),
    #[error("SSH session with {device} at {address} failed")]
    Session {
        device: String,
        address: SocketAddr,
        // Boxed: russh's error is large, and every result carrying an `SshError` pays for it.
        #[source]
        source: Box<russh::Error>,
    },
    #[error("`{program}` on {device} did not finish within {after:?}")]
    CommandTimeout { device: String, program: String, after: Duration },
    /// The command printed more than the cap: a broken or hostile device streaming endlessly.
    /// The channel was closed when the cap was hit; nothing more was read.
    #[error("output too large from {device}, `{program}`: more than {limit} bytes")]
    OutputTooLarge { device: String, program: String, limit: usize },
    /// The persistent shell kolokasi runs commands in ended in the middle of one (killed, or
    /// the session dropped): the command may or may not have run.
    #[error("the shell on {device} ended while `{program}` ran")]
    ShellEnded { device: String, program: String },
    #[error("`{program}` on {device} failed (exit status {status}): {stderr}")]
    CommandFailed { device: String, program: String, status: String, stderr: String },
}

impl SshError {
    /// Transient faults (the device is down, slow or restarting) are worth another try;
    /// a changed host key, a refused login or a failing command are not.
    pub fn is_retryable(&self) -> bool {
        matches!(self, Self::Unreachable { .. } | Self::ConnectTimeout { .. } | Self::Session { .. } | Self::CommandTimeout { .. } | Self::ShellEnded { .. })
    }
}
