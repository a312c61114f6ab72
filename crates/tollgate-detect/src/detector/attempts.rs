//! What each attempt adds to the counters the rules read, before they run.

use super::Detector;
use crate::number::Number;
use crate::tuning::{BASE_HL, FAST_HL, LEVELS, MAX_RECENT_NUMBERS, REPEAT_WINDOW, RING, VOL_HL};

impl Detector {
    /// Counts the attempt in every range on its path and in its country's
    /// recent traffic; returns 1.0 if its number is new within
    /// [`REPEAT_WINDOW`] (retries are not density), else 0.0.
    pub(super) fn count_attempt(&mut self, n: &Number, t: f64) -> f64 {
        let distinct = self.note_attempt(n, t);
        for cut in LEVELS {
            if n.has_level(cut) {
                let r = self.ranges.entry(n.prefix(cut)).or_default();
                r.fast.add(t, FAST_HL, distinct);
                r.last = t;
            }
        }
        self.countries
            .entry(n.country())
            .or_default()
            .fast
            .add(t, FAST_HL, distinct);
        distinct
    }

    /// Remembers an attempt; returns 1.0 if its number is new within
    /// [`REPEAT_WINDOW`] (retries are not density), else 0.0.
    fn note_attempt(&mut self, n: &Number, t: f64) -> f64 {
        if self.ring.len() >= RING {
            self.ring.pop_front();
        }
        self.ring.push_back((n.value, n.len as u8));
        if self.recent_numbers.len() >= MAX_RECENT_NUMBERS {
            self.recent_numbers
                .retain(|_, last| t - *last < REPEAT_WINDOW);
            if self.recent_numbers.len() >= MAX_RECENT_NUMBERS {
                self.recent_numbers.clear();
            }
        }
        let previous = self.recent_numbers.insert(n.key(), t);
        match previous {
            Some(last) if t - last < REPEAT_WINDOW => 0.0,
            _ => 1.0,
        }
    }

    /// Counts an attempt no standing block refused in its country's volume
    /// (all sends, and sends to numbers never verified), and starts the
    /// pause of a watch lifted by hand.
    pub(super) fn count_volume(&mut self, n: &Number, known: bool, t: f64) {
        let fresh = !known;
        let c = self.countries.entry(n.country()).or_default();
        let w = if c.flagged(t) {
            0.0
        } else {
            c.baseline_weight(t)
        };
        for (s, counts) in [(&mut c.all, true), (&mut c.fresh, fresh)] {
            if !counts {
                continue;
            }
            s.vol_short.add(t, VOL_HL, 1.0);
            if w > 0.0 {
                s.vol_base.add(t, BASE_HL, w);
            }
        }
        if c.lift_pending {
            c.lift_pending = false;
            c.lifted_until = t + self.settings.block_ttl;
        }
    }
}
