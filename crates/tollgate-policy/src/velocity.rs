//! Velocity limits: GCRA (the generic cell rate algorithm) per key, with
//! bounded memory. Time is a parameter (Unix milliseconds).
//!
//! `max` per `interval` means: a burst of up to `max` events, then one per
//! `interval / max` (rounded up) sustained. Over any span of time `d` after
//! a first event, at most `max + d / (interval / max)` events pass.

use std::collections::HashMap;
use std::hash::Hash;

/// `max` events per `interval_ms`: bursts of `max`, sustained `max / interval`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rate {
    pub max: u32,
    pub interval_ms: i64,
}

/// State is kept in microseconds, so rates above 1,000 per second per key work.
const MICROS: i64 = 1000;

impl Rate {
    /// Time between events at the sustained rate, in µs.
    fn emission_us(self) -> i64 {
        let max = i64::from(self.max.max(1));
        let interval = self.interval_ms.saturating_mul(MICROS);
        ((interval + max - 1) / max).max(1)
    }

    /// How far ahead of now the theoretical arrival time may run, in µs.
    fn tolerance_us(self) -> i64 {
        self.interval_ms
            .saturating_mul(MICROS)
            .saturating_sub(self.emission_us())
    }
}

/// A refusal: try again after this many milliseconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryAfter(pub i64);

/// GCRA state per key: the theoretical arrival time. When `capacity` keys are
/// held, expired ones are dropped first, then the half least recently
/// relevant, so memory stays bounded whatever keys arrive.
#[derive(Debug, Clone)]
pub struct Limiter<K: Hash + Eq + Clone> {
    tat: HashMap<K, i64>,
    capacity: usize,
}

impl<K: Hash + Eq + Clone> Limiter<K> {
    pub fn new(capacity: usize) -> Limiter<K> {
        Limiter {
            tat: HashMap::new(),
            capacity: capacity.max(2),
        }
    }

    pub fn len(&self) -> usize {
        self.tat.len()
    }

    pub fn is_empty(&self) -> bool {
        self.tat.is_empty()
    }

    /// Would one more event for `key` conform? Changes nothing.
    pub fn peek(&self, key: &K, rate: Rate, now_ms: i64) -> Result<(), RetryAfter> {
        let now = now_ms.saturating_mul(MICROS);
        let tat = self.tat.get(key).copied().unwrap_or(now).max(now);
        let ahead = tat - now;
        if ahead > rate.tolerance_us() {
            let wait_us = ahead - rate.tolerance_us();
            Err(RetryAfter((wait_us + MICROS - 1) / MICROS))
        } else {
            Ok(())
        }
    }

    /// Counts one event for `key` if it conforms.
    pub fn check(&mut self, key: &K, rate: Rate, now_ms: i64) -> Result<(), RetryAfter> {
        self.peek(key, rate, now_ms)?;
        self.record(key, rate, now_ms);
        Ok(())
    }

    /// Counts one event for `key` unconditionally (after all checks passed).
    pub fn record(&mut self, key: &K, rate: Rate, now_ms: i64) {
        let now = now_ms.saturating_mul(MICROS);
        let tat = self.tat.get(key).copied().unwrap_or(now).max(now);
        if !self.tat.contains_key(key) && self.tat.len() >= self.capacity {
            self.make_room(now);
        }
        self.tat.insert(key.clone(), tat + rate.emission_us());
    }

    fn make_room(&mut self, now_us: i64) {
        self.tat.retain(|_, tat| *tat > now_us);
        if self.tat.len() * 10 >= self.capacity * 9 {
            let mut tats: Vec<i64> = self.tat.values().copied().collect();
            let middle = tats.len() / 2;
            let (_, &mut cut, _) = tats.select_nth_unstable(middle);
            self.tat.retain(|_, tat| *tat > cut);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const PER_MINUTE_3: Rate = Rate {
        max: 3,
        interval_ms: 60_000,
    };

    #[test]
    fn allows_a_burst_of_max_then_one_per_emission_interval() {
        let mut l = Limiter::new(100);
        for _ in 0..3 {
            assert!(l.check(&"k", PER_MINUTE_3, 0).is_ok());
        }
        assert_eq!(l.check(&"k", PER_MINUTE_3, 0), Err(RetryAfter(20_000)));
        assert!(l.check(&"other", PER_MINUTE_3, 0).is_ok());
        assert!(l.check(&"k", PER_MINUTE_3, 19_999).is_err());
        assert!(l.check(&"k", PER_MINUTE_3, 20_000).is_ok());
        assert!(l.check(&"k", PER_MINUTE_3, 20_001).is_err());
    }

    #[test]
    fn rates_above_one_per_millisecond_work() {
        let mut l = Limiter::new(10);
        let fast = Rate {
            max: 100_000,
            interval_ms: 1_000,
        };
        let passed = (0..50_000)
            .filter(|_| l.check(&"k", fast, 0).is_ok())
            .count();
        assert_eq!(passed, 50_000);
    }

    #[test]
    fn memory_is_bounded() {
        let mut l = Limiter::new(1_000);
        for i in 0..100_000u32 {
            let _ = l.check(&i, PER_MINUTE_3, 0);
        }
        assert!(l.len() <= 1_000);
    }

    proptest! {
        /// From any passed event to any later one, at most `max` plus one
        /// per emission interval elapsed pass; a burst never exceeds `max`.
        #[test]
        fn bounded_by_burst_plus_sustained_rate(max in 1u32..20, interval in 1_000i64..100_000,
                                            gaps in proptest::collection::vec(0i64..5_000, 1..200)) {
            let rate = Rate { max, interval_ms: interval };
            let mut l = Limiter::new(10);
            let mut now = 0i64;
            let mut passed: Vec<i64> = Vec::new();
            for gap in gaps {
                now += gap;
                if l.check(&(), rate, now).is_ok() {
                    passed.push(now);
                }
            }
            // Microseconds per event, rounded up, as the limiter counts.
            let emission_us = (interval * 1000 + i64::from(max) - 1) / i64::from(max);
            for (i, &t) in passed.iter().enumerate() {
                for (j, &u) in passed.iter().enumerate().skip(i) {
                    let count = (j - i + 1) as i64;
                    prop_assert!(count <= i64::from(max) + (u - t) * 1000 / emission_us,
                        "{} events in {} ms", count, u - t);
                }
                let same_instant = passed[i..].iter().take_while(|&&u| u == t).count();
                prop_assert!(same_instant as u32 <= max);
            }
        }
    }
}
