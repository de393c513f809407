//! Waiting between attempts: the backoff and jitter of lock-timeout retries, and the batch size
//! that adapts toward a target duration. Backend-neutral.

use std::time::Duration;

/// A small xorshift generator for jitter: no dependency, seeded from the clock and pid.
pub struct Jitter(u64);

impl Jitter {
    #[allow(clippy::new_without_default)]
    pub fn new() -> Jitter {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.subsec_nanos() as u64)
            .unwrap_or(1);
        Jitter(nanos ^ ((std::process::id() as u64) << 32) | 1)
    }

    /// A factor in [0.5, 1.5).
    pub fn factor(&mut self) -> f64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        0.5 + (self.0 % 10_000) as f64 / 10_000.0
    }
}

/// Backoff before retry `attempt` (1-based): doubling from 100 ms, capped at 5 s, jittered.
pub fn backoff(attempt: u32, jitter_factor: f64) -> Duration {
    let base = 100u64.saturating_mul(1 << attempt.min(6).saturating_sub(1));
    Duration::from_millis((base.min(5_000) as f64 * jitter_factor) as u64)
}

/// Next batch size: toward the target duration, at most doubling or halving per batch.
pub fn adapt(size: u64, took: Duration, target: Duration) -> u64 {
    let took = took.as_secs_f64().max(1e-4);
    let wanted = size as f64 * target.as_secs_f64() / took;
    let bounded = wanted.clamp(size as f64 / 2.0, size as f64 * 2.0);
    (bounded as u64).clamp(100, 200_000)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_and_is_capped() {
        assert_eq!(backoff(1, 1.0), Duration::from_millis(100));
        assert_eq!(backoff(2, 1.0), Duration::from_millis(200));
        assert_eq!(backoff(30, 1.0), Duration::from_millis(3200));
        assert!(backoff(3, 0.5) < backoff(3, 1.4));
    }

    #[test]
    fn jitter_stays_in_range() {
        let mut j = Jitter::new();
        for _ in 0..1000 {
            let f = j.factor();
            assert!((0.5..1.5).contains(&f), "{f}");
        }
    }

    #[test]
    fn batch_size_moves_toward_the_target() {
        let target = Duration::from_millis(200);
        assert_eq!(adapt(1000, Duration::from_millis(100), target), 2000);
        assert_eq!(adapt(1000, Duration::from_millis(400), target), 500);
        assert_eq!(adapt(1000, Duration::from_secs(10), target), 500);
        assert_eq!(adapt(150, Duration::from_secs(1), target), 100);
    }
}
