//! Signed checkpoints of the audit head, kept outside the database: taken on request
//! (`kolokasi audit checkpoint`) or on `serve`'s schedule, appended as one JSON line each to an
//! operator-chosen file (make it append-only: `chattr +a`, a log host, WORM storage), and read
//! back by `audit verify --checkpoints` to catch a rewritten or cut-off chain.

use std::io::{BufRead, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use super::{Service, ServiceError, access};
use crate::lifecycle::{Actor, Role};
use crate::store::{Checkpoint, VerifyReport};

#[derive(Debug, thiserror::Error)]
pub enum CheckpointFileError {
    #[error("cannot read or write the checkpoint file {path}")]
    Io {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("line {line} of the checkpoint file {path} is not a checkpoint")]
    Line {
        path: String,
        line: usize,
        #[source]
        source: serde_json::Error,
    },
}

/// Appends one checkpoint as a JSON line, synced before returning.
pub fn append_checkpoint(path: &Path, checkpoint: &Checkpoint) -> Result<(), CheckpointFileError> {
    let io = |source| CheckpointFileError::Io { path: path.display().to_string(), source };
    let mut f = std::fs::OpenOptions::new().append(true).create(true).open(path).map_err(io)?;
    let line = serde_json::to_string(checkpoint).expect("a checkpoint serialises");
    writeln!(f, "{line}").map_err(io)?;
    f.sync_data().map_err(io)
}

/// Every checkpoint in a file, in file order (blank lines skipped).
pub fn read_checkpoints(path: &Path) -> Result<Vec<Checkpoint>, CheckpointFileError> {
    let io = |source| CheckpointFileError::Io { path: path.display().to_string(), source };
    let f = std::fs::File::open(path).map_err(io)?;
    let mut out = Vec::new();
    for (n, line) in std::io::BufReader::new(f).lines().enumerate() {
        let line = line.map_err(io)?;
        if line.trim().is_empty() {
            continue;
        }
        out.push(serde_json::from_str(&line).map_err(|source| CheckpointFileError::Line { path: path.display().to_string(), line: n + 1, source })?);
    }
    Ok(out)
}

impl Service {
    /// A signed checkpoint of the audit head: admin and auditor.
    pub async fn audit_checkpoint(&self, by: &Actor) -> Result<Checkpoint, ServiceError> {
        access::require(by, &[Role::Admin, Role::Auditor], "taking an audit checkpoint")?;
        Ok(self.store.audit_checkpoint().await?)
    }

    /// Walks the chain and checks `checkpoints` against it: admin, head and auditor.
    pub async fn verify_audit_with(&self, by: &Actor, checkpoints: &[Checkpoint]) -> Result<VerifyReport, ServiceError> {
        access::require(by, &[Role::Admin, Role::Head, Role::Auditor], "verifying the audit chain")?;
        Ok(self.store.audit_verify_with(checkpoints).await?)
    }
}

/// `serve`'s schedule: a checkpoint to `path` every `every` and one more when `stop` is set.
pub async fn schedule(service: Service, path: PathBuf, every: Duration, stop: Arc<AtomicBool>) {
    let write = |service: Service, path: PathBuf| async move {
        match service.store.audit_checkpoint().await {
            Ok(cp) => match append_checkpoint(&path, &cp) {
                Ok(()) => tracing::info!(seq = cp.seq, file = %path.display(), "audit checkpoint written"),
                Err(e) => tracing::warn!(error = %e, "audit checkpoint not written"),
            },
            Err(e) => tracing::warn!(error = %e, "audit checkpoint not taken"),
        }
    };
    loop {
        write(service.clone(), path.clone()).await;
        let deadline = Instant::now() + every;
        while Instant::now() < deadline {
            if stop.load(Ordering::Relaxed) {
                write(service.clone(), path.clone()).await;
                return;
            }
            tokio::time::sleep(deadline.saturating_duration_since(Instant::now()).min(Duration::from_millis(250))).await;
        }
    }
}
