//! `fraudguard.low_conversion`: a range whose matured sends are verified
//! far less than its country's baseline (a binomial tail test; sends count
//! once old enough that a real user would have verified, and undelivered
//! sends do not count).

use super::Detector;
use super::evidence::Finding;
use crate::number::{Number, unpack};
use crate::sketch::binomial_lower_tail_ln;
use crate::tuning::RANGE_CONV_HL;
use crate::verdict::RULE_LOW_CONVERSION;

impl Detector {
    /// The narrowest range (1,000 up to 1,000,000) whose matured sends
    /// convert far below the country's baseline.
    pub(super) fn low_conversion(&self, n: &Number, t: f64) -> Option<Finding> {
        let c = self.countries.get(&n.country())?;
        let baseline = c.all.baseline(t);
        for cut in [3, 4, 5, 6] {
            if !n.has_level(cut) {
                continue;
            }
            let key = n.prefix(cut);
            let Some(r) = self.ranges.get(&key) else {
                continue;
            };
            let m = r.matured.get(t, RANGE_CONV_HL);
            let v = r.matured_verified.get(t, RANGE_CONV_HL);
            if m - v < self.settings.min_failures {
                continue;
            }
            let ln_p = binomial_lower_tail_ln(v, m, baseline);
            if ln_p >= self.settings.conversion_ln_p {
                continue;
            }
            let evidence = format!(
                "+{}: {:.0} of {:.0} matured sends verified ({:.0}%), country +{} converts {:.0}% (P ≤ {:.1e})",
                unpack(key),
                v,
                m,
                100.0 * v / m,
                unpack(n.country()),
                100.0 * baseline,
                ln_p.exp()
            );
            let numbers = self.recent_under(key);
            return Some(Finding {
                key,
                rule: RULE_LOW_CONVERSION,
                evidence,
                numbers,
            });
        }
        None
    }
}
