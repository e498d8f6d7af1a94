//! One backoff schedule, for call retries and stream resumes alike:
//! exponential, capped, and jittered where many clients could retry in step.

use std::hash::{BuildHasher, RandomState};
use std::time::Duration;

/// `min(initial * 2^attempt, max)`, or between half and all of it with jitter.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Backoff {
    pub initial: Duration,
    pub max: Duration,
    pub jitter: bool,
}

impl Backoff {
    /// The wait before retry number `attempt` (from 0).
    pub(crate) fn delay(&self, attempt: u32) -> Duration {
        let factor = 2u32.saturating_pow(attempt.min(31));
        let wait = self.initial.saturating_mul(factor).min(self.max);
        if self.jitter { jittered(wait) } else { wait }
    }
}

/// Between half and all of `d`, so that many clients do not retry in step.
fn jittered(d: Duration) -> Duration {
    let random = RandomState::new().hash_one(std::time::Instant::now());
    let fraction = (random % 1000) as f64 / 1000.0;
    d.mul_f64(0.5 + fraction / 2.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: Duration = Duration::from_millis(1);

    #[test]
    fn doubles_up_to_the_cap() {
        let b = Backoff {
            initial: 100 * MS,
            max: 1000 * MS,
            jitter: false,
        };
        let waits: Vec<_> = (0..6).map(|a| b.delay(a)).collect();
        assert_eq!(waits, [100, 200, 400, 800, 1000, 1000].map(|n| n * MS));
        assert_eq!(b.delay(u32::MAX), 1000 * MS);
    }

    #[test]
    fn jitter_stays_between_half_and_all() {
        let b = Backoff {
            initial: 1000 * MS,
            max: 1000 * MS,
            jitter: true,
        };
        for _ in 0..100 {
            let d = b.delay(0);
            assert!(d >= 500 * MS && d <= 1000 * MS, "{d:?}");
        }
    }
}
