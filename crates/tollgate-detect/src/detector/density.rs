//! `fraudguard.burst` (100- and 1,000-number blocks) and
//! `fraudguard.density` (10,000 to 1,000,000): a range gets far more
//! distinct numbers in the last minutes than its share of the country's
//! current traffic allows (a Poisson tail test against the range's share
//! of the country's *verified* history, so a country-wide flash crowd is
//! not an anomaly and pumping cannot poison the baseline). The narrowest
//! range that holds most of the excess is blocked; attempts keep counting
//! while blocked, so a sweep that moves on escalates to the parent.

use super::Detector;
use super::evidence::Finding;
use crate::number::{Number, pow10, unpack};
use crate::request::Channel;
use crate::sketch::poisson_upper_tail_ln;
use crate::stats::RangeStats;
use crate::tuning::{FAST_HL, LEVELS, LONG_HL};
use crate::verdict::{RULE_BURST, RULE_DENSITY};

impl Detector {
    /// Expected share of the country's traffic that falls in a range.
    pub(super) fn share(
        &self,
        n: &Number,
        cut: usize,
        range: &RangeStats,
        country_verified: f64,
    ) -> f64 {
        // Uniform over the national number space, ×10 because users sit
        // in the mobile ranges, as a prior worth 20 verified sends.
        let national = n.len - n.cc_len;
        let uniform = (pow10(cut) as f64 / pow10(national) as f64 * 10.0).min(1.0);
        let v = range.verified.get(self.now, LONG_HL);
        (v + 20.0 * uniform) / (country_verified + 20.0)
    }

    /// The range to block when recent distinct numbers under the number
    /// are far more than its share of the country's traffic predicts.
    pub(super) fn density(&self, n: &Number, channel: Channel, t: f64) -> Option<Finding> {
        // A voice call can bill many minutes: a third less evidence will do.
        let needed = match channel {
            Channel::Sms => self.settings.density_ln_p,
            Channel::Call => self.settings.density_ln_p * 0.7,
        };
        let c = self.countries.get(&n.country())?;
        let country_fast = c.fast.get(t, FAST_HL);
        let country_verified = c.verified.get(t, LONG_HL);
        // (level index, count, ln p, expected)
        let mut hits: [Option<(f64, f64, f64)>; LEVELS.len()] = [None; LEVELS.len()];
        let mut any = false;
        for (i, cut) in LEVELS.into_iter().enumerate() {
            if !n.has_level(cut) {
                continue;
            }
            let Some(r) = self.ranges.get(&n.prefix(cut)) else {
                continue;
            };
            let k = r.fast.get(t, FAST_HL);
            if k < self.settings.density_min {
                continue;
            }
            // A dense range whose sends are verified is popular, not pumped.
            if r.fast_verified.get(t, FAST_HL) >= 0.2 * k {
                continue;
            }
            let lambda = country_fast * self.share(n, cut, r, country_verified) + 0.01;
            let ln_p = poisson_upper_tail_ln(k, lambda);
            if ln_p < needed {
                if let Some(slot) = hits.get_mut(i) {
                    *slot = Some((k, ln_p, lambda));
                }
                any = true;
            }
        }
        if !any {
            return None;
        }
        // The widest anomalous range, then down while a narrower anomalous
        // range holds most of its recent numbers.
        let widest = hits.iter().position(Option::is_some)?;
        let (k_w, _, _) = (*hits.get(widest)?)?;
        let mut chosen = widest;
        for (i, h) in hits.iter().enumerate().skip(widest + 1) {
            if let Some((k, _, _)) = h
                && *k >= 0.7 * k_w
            {
                chosen = i;
            }
        }
        let cut = *LEVELS.get(chosen)?;
        let (k, ln_p, lambda) = (*hits.get(chosen)?)?;
        let key = n.prefix(cut);
        let rule = if cut <= 3 { RULE_BURST } else { RULE_DENSITY };
        let evidence = format!(
            "+{}: {:.0} distinct numbers in the last ~{:.0} s where the range's share of +{}'s current traffic predicts {:.2} (P ≤ {:.1e}), none verified",
            unpack(key),
            k,
            FAST_HL / std::f64::consts::LN_2,
            unpack(n.country()),
            lambda,
            ln_p.exp()
        );
        let numbers = self.recent_under(key);
        Some(Finding {
            key,
            rule,
            evidence,
            numbers,
        })
    }
}
