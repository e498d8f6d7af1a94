//! The fake's clock: real time plus an offset tests can advance.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

#[derive(Default)]
pub(super) struct Clock {
    /// How far the clock is ahead of real time.
    offset: Duration,
}

impl Clock {
    /// Moves the clock forward by `by`.
    pub fn advance(&mut self, by: Duration) {
        self.offset = self.offset.saturating_add(by);
    }

    /// Real time moved forward by the offset, as a duration since the Unix epoch.
    pub fn now(&self) -> Duration {
        let real = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default();
        real.saturating_add(self.offset)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_clock_moves_by_the_offset() {
        let base = Clock::default().now();
        let mut clock = Clock::default();
        clock.advance(Duration::from_secs(3600));
        let later = clock.now();
        assert!(later >= base + Duration::from_secs(3600));
        assert!(later < base + Duration::from_secs(3600 + 60));
    }
}
