//! Retries of passing faults inside a step: bounded, exponential backoff with jitter.

use std::time::Duration;

use rand::Rng;

#[derive(Debug, Clone, Copy)]
pub struct RetryPolicy {
    /// Tries in all (the first one included).
    pub attempts: u32,
    pub base: Duration,
    pub max_delay: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self { attempts: 4, base: Duration::from_millis(200), max_delay: Duration::from_secs(3) }
    }
}

impl RetryPolicy {
    /// The pause before try number `n + 1` (n ≥ 1): base·2^(n-1), capped, times a random
    /// factor in [0.5, 1) so that runs failing together do not retry together.
    pub fn delay(&self, n: u32) -> Duration {
        let exp = self.base.saturating_mul(1u32 << (n - 1).min(16)).min(self.max_delay);
        exp.mul_f64(rand::rng().random_range(0.5..1.0))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delays_grow_and_stay_bounded() {
        let p = RetryPolicy::default();
        assert!(p.delay(1) < Duration::from_millis(200));
        assert!(p.delay(2) >= Duration::from_millis(200) && p.delay(2) < Duration::from_millis(400));
        assert!(p.delay(30) <= Duration::from_secs(3));
    }
}
