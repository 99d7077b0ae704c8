//! Prometheus metrics for `/metrics`: what this process's executor measured (step durations
//! and failures per action and driver) plus counts read from the store when scraped (runs by
//! status, requests by state, overdue SLAs), written in the text exposition format by hand.
//!
//! Owns only in-memory counters; never writes to the store.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::{LazyLock, Mutex};
use std::time::Duration;

use crate::engine::Drivers;
use crate::store::StoreCounts;

/// Upper bounds (seconds) of the step-duration histogram: from an address in the store
/// (milliseconds) to an inspection over a slow link (a minute).
pub const BUCKETS: [f64; 12] = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 15.0, 60.0];

/// How one attempt of a step ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StepResult {
    Succeeded,
    Waiting,
    Failed,
}

#[derive(Debug, Default, Clone)]
struct Series {
    buckets: [u64; BUCKETS.len()],
    count: u64,
    sum_seconds: f64,
    failures: u64,
}

/// Step measurements keyed by (action, driver).
#[derive(Debug, Default)]
pub struct StepMetrics {
    series: Mutex<BTreeMap<(String, String), Series>>,
}

static STEPS: LazyLock<StepMetrics> = LazyLock::new(StepMetrics::default);

/// The process's step metrics (one executor per process records here).
pub fn steps() -> &'static StepMetrics {
    &STEPS
}

impl StepMetrics {
    pub fn record(&self, action: &str, driver: &str, elapsed: Duration, result: StepResult) {
        let mut map = self.series.lock().unwrap_or_else(|p| p.into_inner());
        let s = map.entry((action.to_string(), driver.to_string())).or_default();
        let secs = elapsed.as_secs_f64();
        for (i, le) in BUCKETS.iter().enumerate() {
            if secs <= *le {
                s.buckets[i] += 1;
            }
        }
        s.count += 1;
        s.sum_seconds += secs;
        if result == StepResult::Failed {
            s.failures += 1;
        }
    }

    fn snapshot(&self) -> BTreeMap<(String, String), Series> {
        self.series.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }
}

/// What this process's drift checks did (`src/drift`).
#[derive(Debug, Default)]
pub struct DriftMetrics {
    /// (checks, requests checked, drifted items seen), since the process started.
    totals: Mutex<(u64, u64, u64)>,
}

static DRIFT: LazyLock<DriftMetrics> = LazyLock::new(DriftMetrics::default);

/// The process's drift-check counters.
pub fn drift() -> &'static DriftMetrics {
    &DRIFT
}

impl DriftMetrics {
    pub fn record(&self, reports: &[crate::drift::DriftReport]) {
        let mut t = self.totals.lock().unwrap_or_else(|p| p.into_inner());
        t.0 += 1;
        t.1 += reports.len() as u64;
        t.2 += reports.iter().map(|r| r.drifted.len() as u64).sum::<u64>();
    }

    fn snapshot(&self) -> (u64, u64, u64) {
        *self.totals.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// The driver a step reaches the world through, from the devices it names: the kind of the
/// configured switch, firewall or DNS provider, `ssh` for an inspected server, `store` for a
/// step that touches no device (addresses, gates).
pub fn driver_of(drivers: &Drivers, devices: &[String]) -> String {
    use crate::dns::DnsProvider;
    use crate::firewall::FirewallDriver;
    use crate::switch::SwitchDriver;
    let Some(device) = devices.first() else { return "store".into() };
    if let Some(sw) = drivers.switches.get(device) {
        return match sw.as_ref() {
            SwitchDriver::OvsSsh(_) => "ovs-ssh",
            SwitchDriver::IosCli(_) => "ios-cli",
            SwitchDriver::Ovsdb(_) => "ovsdb",
        }
        .into();
    }
    if let Some(fw) = drivers.firewalls.get(device) {
        return match fw.as_ref() {
            FirewallDriver::Nftables(_) => "nftables",
            FirewallDriver::Opnsense(_) => "opnsense",
        }
        .into();
    }
    if let Some(provider) = device.strip_prefix("dns:") {
        return match drivers.dns.get(provider).map(|t| &t.provider) {
            Some(DnsProvider::Rfc2136(_)) => "rfc2136",
            Some(DnsProvider::PowerDns(_)) => "powerdns",
            None => "dns",
        }
        .into();
    }
    if device.starts_with("server:") {
        return "ssh".into();
    }
    // Devices of actions this function does not know yet: the part before ':' names the kind.
    device.split(':').next().unwrap_or("other").to_string()
}

/// The exposition text: build info, the store's counts, and the step series.
pub fn render(counts: &StoreCounts) -> String {
    let mut out = String::with_capacity(4096);
    let _ = writeln!(out, "# HELP kolokasi_build_info The running kolokasi version.");
    let _ = writeln!(out, "# TYPE kolokasi_build_info gauge");
    let _ = writeln!(out, "kolokasi_build_info{{version=\"{}\"}} 1", env!("CARGO_PKG_VERSION"));
    let _ = writeln!(out, "# HELP kolokasi_schema_version The store's migration version.");
    let _ = writeln!(out, "# TYPE kolokasi_schema_version gauge");
    let _ = writeln!(out, "kolokasi_schema_version {}", counts.schema_version);

    let _ = writeln!(out, "# HELP kolokasi_runs Runs by status.");
    let _ = writeln!(out, "# TYPE kolokasi_runs gauge");
    for (status, n) in &counts.runs_by_status {
        let _ = writeln!(out, "kolokasi_runs{{status=\"{}\"}} {n}", label(status));
    }
    let _ = writeln!(out, "# HELP kolokasi_requests Requests by lifecycle state.");
    let _ = writeln!(out, "# TYPE kolokasi_requests gauge");
    for (state, n) in &counts.requests_by_state {
        let _ = writeln!(out, "kolokasi_requests{{state=\"{}\"}} {n}", label(state));
    }
    let _ = writeln!(out, "# HELP kolokasi_sla_overdue Requests past their SLA due time while the data center holds the ball.");
    let _ = writeln!(out, "# TYPE kolokasi_sla_overdue gauge");
    let _ = writeln!(out, "kolokasi_sla_overdue {}", counts.sla_overdue);

    let _ = writeln!(out, "# HELP kolokasi_drift_requests Live requests by the status of their latest drift check.");
    let _ = writeln!(out, "# TYPE kolokasi_drift_requests gauge");
    for (status, n) in &counts.drift_by_status {
        let _ = writeln!(out, "kolokasi_drift_requests{{status=\"{}\"}} {n}", label(status));
    }
    let (checks, checked, drifted) = drift().snapshot();
    let _ = writeln!(out, "# HELP kolokasi_drift_checks_total Drift checks this process ran.");
    let _ = writeln!(out, "# TYPE kolokasi_drift_checks_total counter");
    let _ = writeln!(out, "kolokasi_drift_checks_total {checks}");
    let _ = writeln!(out, "# HELP kolokasi_drift_requests_checked_total Requests those checks compared with their devices.");
    let _ = writeln!(out, "# TYPE kolokasi_drift_requests_checked_total counter");
    let _ = writeln!(out, "kolokasi_drift_requests_checked_total {checked}");
    let _ = writeln!(out, "# HELP kolokasi_drift_items_found_total Drifted items those checks found (accepted ones not counted).");
    let _ = writeln!(out, "# TYPE kolokasi_drift_items_found_total counter");
    let _ = writeln!(out, "kolokasi_drift_items_found_total {drifted}");

    let steps = steps().snapshot();
    let _ = writeln!(out, "# HELP kolokasi_step_duration_seconds Time one attempt of a step took, retries inside the step included.");
    let _ = writeln!(out, "# TYPE kolokasi_step_duration_seconds histogram");
    for ((action, driver), s) in &steps {
        let labels = format!("action=\"{}\",driver=\"{}\"", label(action), label(driver));
        for (le, n) in BUCKETS.iter().zip(s.buckets) {
            let _ = writeln!(out, "kolokasi_step_duration_seconds_bucket{{{labels},le=\"{le}\"}} {n}");
        }
        let _ = writeln!(out, "kolokasi_step_duration_seconds_bucket{{{labels},le=\"+Inf\"}} {}", s.count);
        let _ = writeln!(out, "kolokasi_step_duration_seconds_sum{{{labels}}} {}", s.sum_seconds);
        let _ = writeln!(out, "kolokasi_step_duration_seconds_count{{{labels}}} {}", s.count);
    }
    let _ = writeln!(out, "# HELP kolokasi_step_failures_total Step attempts that failed (after the in-step retries).");
    let _ = writeln!(out, "# TYPE kolokasi_step_failures_total counter");
    for ((action, driver), s) in &steps {
        let _ = writeln!(out, "kolokasi_step_failures_total{{action=\"{}\",driver=\"{}\"}} {}", label(action), label(driver), s.failures);
    }
    out
}

/// Escapes a label value (backslash, quote, newline).
fn label(v: &str) -> String {
    v.replace('\\', "\\\\").replace('"', "\\\"").replace('\n', "\\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn histogram_buckets_are_cumulative() {
        let m = StepMetrics::default();
        m.record("a", "store", Duration::from_millis(3), StepResult::Succeeded);
        m.record("a", "store", Duration::from_millis(300), StepResult::Failed);
        let s = &m.snapshot()[&("a".to_string(), "store".to_string())];
        assert_eq!(s.buckets[0], 1);
        assert_eq!(s.buckets[BUCKETS.len() - 1], 2);
        assert_eq!((s.count, s.failures), (2, 1));
    }

    #[test]
    fn label_values_are_escaped() {
        assert_eq!(label("a\"b\\c\nd"), "a\\\"b\\\\c\\nd");
    }
}
