//! Server inspection (SOP step 8): gather what a server really is over SSH and compare it with
//! the declared specification of the request, item by item.
//!
//! - [`gather`]: runs the script once on the pooled SSH connection and parses its output.
//! - [`script`]: the one fixed gathering script, its section markers and its caps.
//! - [`parse`]: the parsers of that script's sections (os-release, cpuinfo, lsblk, dpkg, ss, …).
//! - [`facts`]: `ServerFacts`, plain types.
//! - [`compare`]: the rules (`compare`, `Rules`, `version_satisfies`).
//! - [`report`]: the `Report` of `ReportItem`s with verdicts, as a table and as JSON.
//! - [`debversion`]: Debian version ordering (`dpkg --compare-versions`).
//! - [`rpmversion`]: RPM version ordering (`rpmvercmp`, epoch:version-release).
//!
//! Reads only; changes nothing on the server. Sends the server nothing but constant text: the
//! server's name from a request is used to look up its target, never put in a command.

pub mod compare;
pub mod debversion;
pub mod facts;
pub mod gather;
pub mod parse;
pub mod report;
pub mod rpmversion;
pub mod script;

pub use compare::{Rules, compare, version_satisfies};
pub use debversion::{DebVersion, DebVersionError};
pub use facts::{Board, Cpu, Disk, Fact, Listener, OsRelease, PackageManager, Packages, Privilege, ServerFacts};
pub use gather::{gather, gather_limited};
pub use report::{Check, InspectionOutput, Report, ReportItem, Verdict};
pub use rpmversion::{RpmVersion, RpmVersionError};

use crate::ssh::SshError;

#[derive(Debug, thiserror::Error)]
pub enum InspectError {
    /// Transparent: the SSH error already names the server and the command ("output too large
    /// from srv-sipd, `inspection script`").
    #[error(transparent)]
    Ssh(SshError),
    /// The script's output ended before its last section (killed, or the session dropped).
    #[error("the fact-gathering script on {device} stopped early (exit status {status}): {stderr}")]
    Incomplete { device: String, status: String, stderr: String },
}

impl InspectError {
    /// Connection faults may pass; a script cut short is retried too (it changes nothing).
    pub fn is_retryable(&self) -> bool {
        match self {
            Self::Ssh(e) => e.is_retryable(),
            Self::Incomplete { .. } => true,
        }
    }
}
