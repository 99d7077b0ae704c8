//! Slows down guessing: a token bucket per client address and per username, spent only by
//! failed sign-ins, and a global budget for the audit rows that failures write.
//!
//! In memory, per process: a restart forgets the buckets, which only helps an attacker by one
//! bucket's worth of guesses per restart. The audit budget keeps a flood of failures from
//! filling the database: beyond it, failures are counted and the next audited failure carries
//! the count of those not written one by one.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Failed attempts allowed in a burst per key, and how fast the allowance comes back.
const BURST: f64 = 5.0;
const REFILL_PER_SECOND: f64 = 1.0 / 12.0;
/// Audit rows for failures: a burst, then one every two seconds, across all keys.
const AUDIT_BURST: f64 = 30.0;
const AUDIT_REFILL_PER_SECOND: f64 = 0.5;
/// Past this many tracked keys, full buckets are forgotten (they carry no information).
const MAX_KEYS: usize = 10_000;

#[derive(Debug, Clone, Copy)]
struct Bucket {
    tokens: f64,
    at: Instant,
}

impl Bucket {
    fn full(capacity: f64, now: Instant) -> Self {
        Self { tokens: capacity, at: now }
    }

    fn refill(&mut self, capacity: f64, rate: f64, now: Instant) {
        let elapsed = now.saturating_duration_since(self.at).as_secs_f64();
        self.tokens = (self.tokens + elapsed * rate).min(capacity);
        self.at = now;
    }
}

/// Too many failures for this key: try again after `retry_after`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("too many failed sign-ins; try again in {} s", retry_after.as_secs().max(1))]
pub struct Limited {
    pub retry_after: Duration,
}

#[derive(Debug)]
struct AuditBudget {
    bucket: Bucket,
    suppressed: u64,
}

#[derive(Debug)]
pub struct AuthLimiter {
    burst: f64,
    rate: f64,
    buckets: Mutex<HashMap<String, Bucket>>,
    audit: Mutex<AuditBudget>,
}

impl Default for AuthLimiter {
    fn default() -> Self {
        Self::new(BURST, REFILL_PER_SECOND)
    }
}

impl AuthLimiter {
    pub fn new(burst: f64, refill_per_second: f64) -> Self {
        let now = Instant::now();
        Self {
            burst,
            rate: refill_per_second,
            buckets: Mutex::default(),
            audit: Mutex::new(AuditBudget { bucket: Bucket::full(AUDIT_BURST, now), suppressed: 0 }),
        }
    }

    /// Fails if any of `keys` (e.g. `addr:10.0.0.1`, `user:budi`) has no attempt left.
    pub fn check(&self, keys: &[&str]) -> Result<(), Limited> {
        let now = Instant::now();
        let mut buckets = self.buckets.lock().expect("limiter lock");
        let mut wait = Duration::ZERO;
        for key in keys {
            if let Some(b) = buckets.get_mut(*key) {
                b.refill(self.burst, self.rate, now);
                if b.tokens < 1.0 {
                    wait = wait.max(Duration::from_secs_f64((1.0 - b.tokens) / self.rate));
                }
            }
        }
        if wait.is_zero() { Ok(()) } else { Err(Limited { retry_after: wait }) }
    }

    /// Spends one attempt from each of `keys` after a failure.
    pub fn failed(&self, keys: &[&str]) {
        let now = Instant::now();
        let mut buckets = self.buckets.lock().expect("limiter lock");
        if buckets.len() > MAX_KEYS {
            let (burst, rate) = (self.burst, self.rate);
            buckets.retain(|_, b| {
                b.refill(burst, rate, now);
                b.tokens < burst
            });
        }
        for key in keys {
            let b = buckets.entry((*key).to_string()).or_insert_with(|| Bucket::full(self.burst, now));
            b.refill(self.burst, self.rate, now);
            b.tokens = (b.tokens - 1.0).max(0.0);
        }
    }

    /// Whether a failure may write its own audit row now. `Some(n)`: yes, and `n` failures
    /// before it were not written one by one (the row should say so); `None`: over budget,
    /// counted for the next row.
    pub fn audit_slot(&self) -> Option<u64> {
        let now = Instant::now();
        let mut a = self.audit.lock().expect("limiter lock");
        a.bucket.refill(AUDIT_BURST, AUDIT_REFILL_PER_SECOND, now);
        if a.bucket.tokens >= 1.0 {
            a.bucket.tokens -= 1.0;
            Some(std::mem::take(&mut a.suppressed))
        } else {
            a.suppressed += 1;
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_burst_of_failures_is_limited_per_key() {
        let l = AuthLimiter::new(3.0, 0.001);
        for _ in 0..3 {
            assert!(l.check(&["user:a", "addr:x"]).is_ok());
            l.failed(&["user:a", "addr:x"]);
        }
        let limited = l.check(&["user:a"]).unwrap_err();
        assert!(limited.retry_after > Duration::from_secs(100));
        assert!(l.check(&["addr:x"]).is_err());
        assert!(l.check(&["user:b", "addr:y"]).is_ok(), "other keys are untouched");
    }

    #[test]
    fn audit_rows_are_budgeted_and_suppressed_ones_counted() {
        let l = AuthLimiter::default();
        let written = (0..100).filter_map(|_| l.audit_slot()).count();
        assert!(written <= AUDIT_BURST as usize + 1, "{written}");
    }
}
