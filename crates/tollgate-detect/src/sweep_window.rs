//! Recent attempts to numbers never verified, by value (the sweep rule's
//! window).

use std::collections::{BTreeMap, VecDeque};

use crate::tuning::{MAX_SWEEP, SWEEP_SPREAD, SWEEP_WINDOW};

/// Recent attempts to numbers never verified, by value, for the sweep rule.
#[derive(Debug, Default)]
pub(crate) struct SweepWindow {
    /// (length, value) → time of the last attempt.
    pub(crate) by_number: BTreeMap<(u8, u64), f64>,
    pub(crate) order: VecDeque<(f64, (u8, u64))>,
}

impl SweepWindow {
    /// Notes an attempt at `t` and returns the other numbers within
    /// [`SWEEP_SPREAD`] seen within [`SWEEP_WINDOW`] that `counts` keeps
    /// (at most `limit`).
    pub(crate) fn note(
        &mut self,
        len: u8,
        value: u64,
        t: f64,
        limit: usize,
        counts: impl Fn(u64) -> bool,
    ) -> Vec<u64> {
        while let Some(&(seen, key)) = self.order.front() {
            if t - seen <= SWEEP_WINDOW && self.order.len() < MAX_SWEEP {
                break;
            }
            self.order.pop_front();
            if self.by_number.get(&key) == Some(&seen) {
                self.by_number.remove(&key);
            }
        }
        let low = (len, value.saturating_sub(SWEEP_SPREAD));
        let high = (len, value.saturating_add(SWEEP_SPREAD));
        let near: Vec<u64> = self
            .by_number
            .range(low..=high)
            .filter(|((_, v), seen)| *v != value && t - **seen <= SWEEP_WINDOW)
            .map(|((_, v), _)| *v)
            .filter(|v| counts(*v))
            .take(limit)
            .collect();
        self.by_number.insert((len, value), t);
        self.order.push_back((t, (len, value)));
        near
    }
}
