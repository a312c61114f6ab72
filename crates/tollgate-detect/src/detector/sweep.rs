//! `fraudguard.sweep`: a few numbers never verified, each within a few
//! digits of the others, within seconds (a bot walking a number block):
//! the 100-number block is refused before any density test could trip.
//! Neighbours are looked up by value, so a sweep that crosses a 100- or
//! 1,000-number boundary is caught on its first number past it.

use super::Detector;
use super::evidence::Finding;
use crate::number::{Number, pack, unpack};
use crate::sketch::mix;
use crate::tuning::{SWEEP_SPREAD, SWEEP_WINDOW};
use crate::verdict::{EVIDENCE_NUMBERS, RULE_SWEEP};

impl Detector {
    /// Notes an attempt to a number never verified in the sweep window and
    /// returns its neighbours there that are still never verified.
    pub(super) fn note_sweep(&mut self, n: &Number, known: bool, t: f64) -> Vec<u64> {
        if self.settings.sweep_numbers > 0 && !known {
            // Neighbours verified since they were tried are users, not a sweep.
            let verified = &self.known_numbers;
            self.sweep_window
                .note(n.len as u8, n.value, t, EVIDENCE_NUMBERS, |v| {
                    !verified.contains(mix(pack(v, n.len)))
                })
        } else {
            Vec::new()
        }
    }

    /// Refuses the 100-number block when enough never-verified neighbours
    /// were tried within the sweep window.
    pub(super) fn sweep(&self, n: &Number, near: &[u64]) -> Option<Finding> {
        let needed = self.settings.sweep_numbers;
        if needed == 0 || near.len() + 1 < needed || !n.has_level(2) {
            return None;
        }
        let key = n.prefix(2);
        let len = n.len;
        let mut numbers = vec![n.e164()];
        numbers.extend(near.iter().map(|v| format!("+{v:0len$}")));
        numbers.truncate(EVIDENCE_NUMBERS);
        let evidence = format!(
            "+{}: {} numbers never verified within ±{} of {} in the last {:.0} s (a sequential sweep)",
            unpack(key),
            near.len() + 1,
            SWEEP_SPREAD,
            n.e164(),
            SWEEP_WINDOW
        );
        Some(Finding {
            key,
            rule: RULE_SWEEP,
            evidence,
            numbers,
        })
    }
}
