//! The worker inside `serve`: claims runnable runs (pending, running, unwinding) with a lease
//! and drives them. On PostgreSQL
//! several workers share the work (`FOR UPDATE SKIP LOCKED`); a worker that dies loses its
//! lease when it expires and another takes the run over. Stopping (SIGTERM) stops claiming;
//! the run in hand rests at its next step boundary and its lease is released.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use tracing::Instrument;

use super::Engine;

impl Engine {
    /// Claims and drives runs until `stop` is set.
    pub async fn work(&self, stop: Arc<AtomicBool>) {
        let quiet = |_: &super::Progress| {};
        while !stop.load(Ordering::Relaxed) {
            worker_fault_hook();
            match self.service().store.claim_run(&self.owner, self.lease).await {
                Ok(Some(run_id)) => {
                    tracing::info!(run = %run_id, worker = %self.owner, "claimed run");
                    let span = tracing::info_span!("run", run = %run_id, worker = %self.owner);
                    if let Err(e) = self.drive_until(&run_id, &quiet, Some(&stop)).instrument(span).await {
                        tracing::warn!(run = %run_id, error = %e, "run stopped with an error");
                    }
                    if let Err(e) = self.service().store.release_lease(&run_id, &self.owner).await {
                        tracing::warn!(run = %run_id, error = %e, "cannot release lease");
                    }
                }
                Ok(None) => tokio::time::sleep(Duration::from_millis(250)).await,
                Err(e) => {
                    tracing::warn!(error = %e, "cannot claim runs");
                    tokio::time::sleep(Duration::from_secs(1)).await;
                }
            }
        }
    }
}

/// Test hook for the supervision test: `KOLOKASI_TEST_WORKER_PANIC=1` makes the worker panic,
/// as a bug would. Only in builds with the `test-hooks` feature.
#[cfg(feature = "test-hooks")]
fn worker_fault_hook() {
    if std::env::var_os("KOLOKASI_TEST_WORKER_PANIC").is_some() {
        panic!("test: the worker panics (KOLOKASI_TEST_WORKER_PANIC)");
    }
}

#[cfg(not(feature = "test-hooks"))]
fn worker_fault_hook() {}
