//! The event ids a stream has yielded, so that a resumed connection does not
//! yield them again, however much of the stream the server replays and in
//! whatever order.
//!
//! - Numeric ids (ASCII digits that fit a `u64`) are kept as runs of
//!   consecutive numbers: ids that count up by one, as the runtime's do, cost
//!   nothing; 16 bytes for each place where they jump ahead. A number that
//!   stays alone, as when ids count up by two, goes to the hashes instead, so
//!   that no id costs more than a hash.
//! - Any other id, and a number below one already yielded, is kept as a
//!   64-bit hash, keyed afresh for each stream so that a server cannot aim for
//!   collisions (by chance, the odds that one new id is taken for an old one
//!   are n / 2^64). The hashes sit in a sorted vector, 8 bytes each, the
//!   latest in a small hash table merged into it once it holds an eighth as
//!   many: about 11 bytes per id (up to 16 just after the vector grows). Measured with
//!   `examples/memory_probe.rs`, 1,000,000 such ids raise the peak resident
//!   set from 3.7 MB to 13.3 MB.
//! - Events without an id cannot be recognised and are always yielded.
//!
//! Only a resumed connection is checked: a server may send ids in any order,
//! and even repeat one, on a connection of its own; what it sends again after
//! a resume is what it sent before.

use std::collections::HashSet;
use std::hash::{BuildHasher, BuildHasherDefault, Hasher, RandomState};

/// The ids yielded so far on one stream.
#[derive(Debug, Default)]
pub(crate) struct SeenIds {
    /// Set at the first reconnect: from then on repeats are skipped.
    resumed: bool,
    /// Runs of consecutive numeric ids, ascending and apart; the last one
    /// grows as ids count up.
    runs: Vec<(u64, u64)>,
    hasher: RandomState,
    /// Hashes of the other ids yielded, but the latest: sorted.
    hashes: Vec<u64>,
    /// The latest hashes, until they are merged into `hashes`.
    latest: HashSet<u64, BuildHasherDefault<AlreadyHashed>>,
}

/// The table of latest hashes is merged once it has this many, or an eighth
/// of the sorted ones if that is more.
const MERGE_AT: usize = 1024;

impl SeenIds {
    /// A new connection resumes the stream: its repeats are skipped.
    pub(crate) fn resumed(&mut self) {
        self.resumed = true;
    }

    /// Records the id of an event about to be yielded; false when a resumed
    /// connection sends an id already yielded, and the event is to be skipped.
    pub(crate) fn first_time(&mut self, id: Option<&str>) -> bool {
        let Some(id) = id else { return true };
        let hash = match numeric(id) {
            Some(n) if self.extend_runs(n) => return true,
            Some(n) if self.in_runs(n) => return !self.resumed,
            // A number below one yielded and new: kept like any other id.
            Some(n) => self.hasher.hash_one(n),
            None => self.hasher.hash_one(id),
        };
        self.remember(hash) || !self.resumed
    }

    /// Adds `hash`; false when it was there already. Before a resume, when
    /// nothing is skipped, the sorted ones are not searched: a repeat on the
    /// first connection is kept twice until the next merge drops it.
    fn remember(&mut self, hash: u64) -> bool {
        let known = self.resumed && self.hashes.binary_search(&hash).is_ok();
        if known || !self.latest.insert(hash) {
            return false;
        }
        if self.latest.len() >= MERGE_AT.max(self.hashes.len() / 8) {
            // Merged from the back, in place: one pass, no second vector.
            let mut add: Vec<u64> = self.latest.drain().collect();
            add.sort_unstable();
            let mut old = self.hashes.len();
            self.hashes.resize(old + add.len(), 0);
            for slot in (0..self.hashes.len()).rev() {
                let Some(&last) = add.last() else { break };
                if old > 0 && self.hashes[old - 1] > last {
                    old -= 1;
                    self.hashes[slot] = self.hashes[old];
                } else {
                    self.hashes[slot] = last;
                    add.pop();
                }
            }
            // Repeats of the first connection, kept twice until now.
            self.hashes.dedup();
        }
        true
    }

    /// Records `n` if it is above every number yielded: the last run grows
    /// by it, or a new run starts. A last run of one number becomes a hash
    /// then, cheaper than a run of its own.
    fn extend_runs(&mut self, n: u64) -> bool {
        match self.runs.last_mut() {
            Some(&mut (_, end)) if n <= end => return false,
            // `n` is above `end`, so `end + 1` cannot overflow.
            Some((_, end)) if n == *end + 1 => *end = n,
            Some(&mut (start, end)) if start == end => {
                self.runs.pop();
                self.remember(self.hasher.hash_one(start));
                self.runs.push((n, n));
            }
            _ => self.runs.push((n, n)),
        }
        true
    }

    /// Whether `n` is in one of the runs of numbers yielded.
    fn in_runs(&self, n: u64) -> bool {
        let after = self.runs.partition_point(|&(start, _)| start <= n);
        after > 0 && n <= self.runs[after - 1].1
    }
}

/// The id as a number, when it is ASCII digits that fit a `u64`, written
/// without leading zeros: `0004` is another id than `4`.
fn numeric(id: &str) -> Option<u64> {
    // `parse` alone would also take a leading `+`.
    let canonical = id == "0" || !id.starts_with('0');
    (canonical && id.bytes().all(|b| b.is_ascii_digit()))
        .then(|| id.parse().ok())
        .flatten()
}

/// Hashes a `u64` that already is a hash to itself.
#[derive(Default)]
struct AlreadyHashed(u64);

impl Hasher for AlreadyHashed {
    fn write(&mut self, bytes: &[u8]) {
        // Only `u64`s are hashed; fold anything else in all the same.
        for &b in bytes {
            self.0 = self.0.rotate_left(8) ^ u64::from(b);
        }
    }

    fn write_u64(&mut self, n: u64) {
        self.0 = n;
    }

    fn finish(&self) -> u64 {
        self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_resumed_connection_skips_what_was_yielded() {
        let mut seen = SeenIds::default();
        for id in ["10", "2", "3", "a", "a", "+5"] {
            assert!(seen.first_time(Some(id)), "{id} on the first connection");
        }
        seen.resumed();
        for id in ["10", "3", "a", "+5"] {
            assert!(!seen.first_time(Some(id)), "{id} again after a resume");
        }
        assert!(seen.first_time(Some("11")));
        assert!(seen.first_time(Some("b")));
        assert!(seen.first_time(None));
        assert!(seen.first_time(None));
    }

    #[test]
    fn every_non_numeric_id_is_remembered() {
        let mut seen = SeenIds::default();
        for i in 0..10_000 {
            assert!(seen.first_time(Some(&format!("id-{i}"))));
        }
        seen.resumed();
        // The oldest as well as the newest, in any order.
        for i in (0..10_000).rev() {
            assert!(!seen.first_time(Some(&format!("id-{i}"))), "id-{i}");
        }
        assert!(seen.first_time(Some("id-10000")));
        assert_eq!(seen.hashes.len() + seen.latest.len(), 10_001);
        assert!(seen.hashes.is_sorted());
        assert!(seen.latest.len() <= seen.hashes.len() / 8);
    }

    #[test]
    fn numbers_in_any_order_are_remembered_exactly() {
        let mut seen = SeenIds::default();
        for id in ["1", "2", "3", "7", "8", "5", "100", "4"] {
            assert!(seen.first_time(Some(id)), "{id} on the first connection");
        }
        // Counting up by one costs nothing; each jump ahead is one run.
        assert_eq!(seen.runs, [(1, 3), (7, 8), (100, 100)]);
        assert_eq!(seen.latest.len(), 2, "5 and 4, below 8 and 100");
        seen.resumed();
        for id in ["1", "3", "7", "8", "5", "100", "4"] {
            assert!(!seen.first_time(Some(id)), "{id} again after a resume");
        }
        // In SSE `0004` is its own id, not a repeat of 4.
        assert!(seen.first_time(Some("0004")));
        assert!(!seen.first_time(Some("0004")));
        // Below the highest yielded but never yielded: new, not a repeat.
        for id in ["6", "0", "50", "101"] {
            assert!(seen.first_time(Some(id)), "{id} is new");
        }
        assert!(!seen.first_time(Some("6")));
    }

    #[test]
    fn numbers_that_skip_cost_no_more_than_hashes() {
        let mut seen = SeenIds::default();
        for n in (0..10_000).step_by(2) {
            assert!(seen.first_time(Some(&n.to_string())));
        }
        assert_eq!(seen.runs, [(9_998, 9_998)]);
        assert_eq!(seen.hashes.len() + seen.latest.len(), 4_999);
        seen.resumed();
        for n in (0..10_000).rev() {
            assert_eq!(seen.first_time(Some(&n.to_string())), n % 2 == 1, "{n}");
        }
    }

    #[test]
    fn numbers_up_to_u64_max_count_up() {
        let mut seen = SeenIds::default();
        seen.first_time(Some("18446744073709551614"));
        seen.first_time(Some("18446744073709551615"));
        assert_eq!(seen.runs, [(u64::MAX - 1, u64::MAX)]);
        seen.resumed();
        assert!(!seen.first_time(Some("18446744073709551615")));
    }

    #[test]
    fn numbers_are_digits_that_fit_a_u64_without_leading_zeros() {
        assert_eq!(numeric("0"), Some(0));
        assert_eq!(numeric("70"), Some(70));
        assert_eq!(numeric("18446744073709551615"), Some(u64::MAX));
        for id in [
            "",
            "+5",
            "-1",
            "1e3",
            " 1",
            "18446744073709551616",
            "007",
            "00",
        ] {
            assert_eq!(numeric(id), None, "{id:?}");
        }
    }
}
