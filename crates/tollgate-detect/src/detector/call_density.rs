//! `fraudguard.density` for voice calls (IRSF): calls to new numbers are
//! counted per 100,000- and 10,000-number range over the last hour
//! against the country's own call rate (test calls, then a wave to the
//! range next to them).

use super::Detector;
use super::evidence::Finding;
use crate::number::{Number, unpack};
use crate::sketch::poisson_upper_tail_ln;
use crate::tuning::{CALL_HL, CALL_LEVELS, CALL_LN_P_FACTOR, LONG_HL};
use crate::verdict::RULE_DENSITY;

impl Detector {
    /// Counts a call to a new number in its ranges and the country's call
    /// baseline; returns the calls the country made in one [`CALL_HL`] of
    /// the last week, on average (before this one).
    pub(super) fn note_call(
        &mut self,
        n: &Number,
        known: bool,
        t: f64,
        distinct: f64,
    ) -> Option<f64> {
        if known {
            return None;
        }
        let c = self.countries.entry(n.country()).or_default();
        let expected = c.calls.get(t, LONG_HL) * CALL_HL / LONG_HL;
        c.calls.add(t, LONG_HL, distinct);
        for cut in CALL_LEVELS {
            if n.has_level(cut)
                && let Some(r) = self.ranges.get_mut(&n.prefix(cut))
            {
                r.calls.add(t, CALL_HL, distinct);
            }
        }
        Some(expected)
    }

    /// Voice IRSF: calls to several new numbers of one range within the
    /// hour (test calls, then a wave to the bought range next to them),
    /// where the country's own call rate and the range's share of its
    /// verified users predict almost none.
    pub(super) fn call_density(&self, n: &Number, expected: f64, t: f64) -> Option<Finding> {
        let needed = self.settings.density_ln_p * CALL_LN_P_FACTOR;
        let c = self.countries.get(&n.country())?;
        let country_verified = c.verified.get(t, LONG_HL);
        let mut hit = None;
        // The widest range that trips.
        for cut in CALL_LEVELS {
            if !n.has_level(cut) {
                continue;
            }
            let Some(r) = self.ranges.get(&n.prefix(cut)) else {
                continue;
            };
            let k = r.calls.get(t, CALL_HL);
            if k < 1.5 {
                continue;
            }
            let lambda = expected * self.share(n, cut, r, country_verified) + 0.01;
            let ln_p = poisson_upper_tail_ln(k, lambda);
            if ln_p < needed {
                hit = Some((cut, k, lambda, ln_p));
                break;
            }
        }
        let (cut, k, lambda, ln_p) = hit?;
        let key = n.prefix(cut);
        let evidence = format!(
            "+{}: calls to {:.0} new numbers in the last ~{:.0} min where +{}'s call rate and the range's share of its users predict {:.2} (P ≤ {:.1e})",
            unpack(key),
            k,
            CALL_HL / std::f64::consts::LN_2 / 60.0,
            unpack(n.country()),
            lambda,
            ln_p.exp()
        );
        let numbers = self.recent_under(key);
        Some(Finding {
            key,
            rule: RULE_DENSITY,
            evidence,
            numbers,
        })
    }
}
