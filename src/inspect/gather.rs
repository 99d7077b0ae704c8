//! Gathering: the script of [`super::script`] run once on the pooled SSH connection, its output
//! parsed into [`ServerFacts`].

use super::InspectError;
use super::facts::ServerFacts;
use super::script::{LIMITS, SCRIPT};
use crate::ssh::{ExecLimits, RemoteCommand, SshPool, SshTarget};

/// The one command that gathers the facts (constant text; the benchmarks time it on its own).
pub fn command() -> RemoteCommand {
    RemoteCommand::new("sh").arg("-c").arg(SCRIPT).named("inspection script")
}

/// Gathers the facts of the server behind `target` with one command on the pool's connection,
/// within [`LIMITS`].
pub async fn gather(pool: &SshPool, target: &SshTarget) -> Result<ServerFacts, InspectError> {
    gather_limited(pool, target, LIMITS).await
}

/// As [`gather`], within `limits`: a server that streams endlessly or hangs fails with
/// "output too large from <server>, `inspection script`" or a timeout, never exhausting memory.
pub async fn gather_limited(pool: &SshPool, target: &SshTarget, limits: ExecLimits) -> Result<ServerFacts, InspectError> {
    let command = command();
    let out = pool.exec_limited(target, &command, None, limits).await.map_err(InspectError::Ssh)?;
    super::parse::server_facts(&out.stdout).ok_or_else(|| InspectError::Incomplete {
        device: target.name.clone(),
        status: out.status_text(),
        stderr: out.stderr.trim().chars().take(500).collect(),
    })
}
