//! The check `serve` runs on a schedule (`drift.interval_seconds`, default hourly): every live
//! request, once at start and then at each interval, until serve stops.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use super::service::Checker;
use crate::lifecycle::Actor;

/// Checks every live request every `every`, until `stop` is set.
pub async fn run(checker: Checker, every: Duration, stop: Arc<AtomicBool>) {
    loop {
        let started = Instant::now();
        match checker.check_all(&Actor::system()).await {
            Ok(reports) => {
                let drifted = reports.iter().filter(|r| r.status == super::DriftStatus::Drifted).count();
                tracing::info!(requests = reports.len(), drifted, elapsed_ms = started.elapsed().as_millis() as u64, "drift check done");
            }
            Err(e) => tracing::warn!(error = %e, "drift check failed; trying again at the next interval"),
        }
        let deadline = Instant::now() + every;
        while Instant::now() < deadline {
            if stop.load(Ordering::Relaxed) {
                return;
            }
            tokio::time::sleep(deadline.saturating_duration_since(Instant::now()).min(Duration::from_millis(250))).await;
        }
    }
}
