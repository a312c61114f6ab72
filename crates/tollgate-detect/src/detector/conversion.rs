//! `fraudguard.conversion`: the conversion of a country's sends to numbers
//! never verified has dropped significantly below its own baseline
//! (slow-and-low pumping, ramps, conversion mimics). The estimated share of
//! pumped sends among them is the prior; each request's own signals
//! (`conversion_score`) are likelihood ratios, and only the requests whose
//! posterior passes the mode's threshold are refused. A number verified
//! before is never refused by this rule, and the country is never blocked
//! as a whole.

use super::Detector;
use super::evidence::Finding;
use crate::conversion_stream::{ConversionDrop, ConversionFigures};
use crate::features::F_NUM_KNOWN;
use crate::number::{Number, unpack};
use crate::tuning::{
    BOUND_SIGMAS, CONV_DAY_HL, CONV_HL, HOLD_HL, LEARN_MIN_SHARE, MIN_WINDOW_SENDS, VOLUME_SLACK,
};
use crate::verdict::RULE_CONVERSION;

impl Detector {
    /// The estimated share of pumped sends now in one of the country's
    /// streams (held for a while once flagged), updating the estimate.
    fn pumped_share(&mut self, cc: u64, t: f64, fresh: bool) -> f64 {
        let z_needed = self.settings.country_z;
        let Some(c) = self.countries.get_mut(&cc) else {
            return 0.0;
        };
        if t < c.lifted_until {
            return 0.0;
        }
        let s = if fresh { &mut c.fresh } else { &mut c.all };
        let volume_ratio = s.volume_ratio(t);
        let baseline = s.baseline(t);
        let held = s.pumped.get(t, HOLD_HL);
        // The last hours (fast attacks) and the last day (slow ones).
        let windows = [
            (s.short_n.get(t, CONV_HL), s.short_v.get(t, CONV_HL)),
            (s.day_n.get(t, CONV_DAY_HL), s.day_v.get(t, CONV_DAY_HL)),
        ];
        let mut best: Option<ConversionFigures> = None;
        for (n, v) in windows {
            if n < MIN_WINDOW_SENDS {
                continue;
            }
            let ConversionDrop { recent, sigma, z } = ConversionDrop::of(baseline, n, v);
            if z < z_needed || recent >= 0.85 * baseline {
                continue;
            }
            // Conservative: the drop's lower confidence bound, or the
            // volume beyond the baseline (with diurnal slack).
            let by_conversion = (1.0 - (recent + BOUND_SIGMAS * sigma) / baseline).max(0.0);
            let by_volume = (1.0 - VOLUME_SLACK / volume_ratio.max(1e-9)).max(0.0);
            let pumped = by_conversion.max(by_volume).min(0.999);
            if best.is_none_or(|b| pumped > b.pumped) {
                best = Some(ConversionFigures {
                    recent,
                    recent_n: n,
                    baseline,
                    z,
                    volume_ratio,
                    pumped,
                });
            }
        }
        if let Some(f) = best {
            if f.pumped > held {
                s.pumped.set(t, f.pumped);
            }
            s.last_figures = Some(f);
            return f.pumped.max(held);
        }
        held
    }

    /// Refuses a request to a number never verified when the country's
    /// pumped share and the request's own signals make it likely fraud. In a
    /// clearly flagged country the request first teaches the fraud side.
    pub(super) fn conversion(&mut self, n: &Number, features: u16, t: f64) -> Option<Finding> {
        let cc = n.country();
        let fresh = features & F_NUM_KNOWN == 0;
        if !fresh {
            // A number verified before is a returning user: the watch
            // never refuses it.
            return None;
        }
        let pumped = self.pumped_share(cc, t, fresh);
        if pumped < 0.02 {
            return None;
        }
        if fresh && pumped >= LEARN_MIN_SHARE {
            let legit = self.fresh_rates(cc);
            self.fraud.add(features, pumped, &legit);
        }
        let (lr, why) = self.likelihood(features, cc);
        let odds = pumped / (1.0 - pumped) * lr;
        if odds < self.settings.score_odds {
            return None;
        }
        let c = self.countries.get_mut(&cc)?;
        c.all.count_refused(t);
        if fresh {
            c.fresh.count_refused(t);
        }
        let s = if fresh { &c.fresh } else { &c.all };
        let figures = s.last_figures?;
        let evidence = format!(
            "+{}: {:.0}% of ~{:.0} recent matured sends{} verified vs {:.0}% baseline (z = {:.1}), volume ×{:.1} of baseline: ~{:.0}% estimated pumped; this request: {} → P(pumped) {:.0}%",
            unpack(cc),
            100.0 * figures.recent,
            figures.recent_n,
            if fresh { " to new numbers" } else { "" },
            100.0 * figures.baseline,
            figures.z,
            figures.volume_ratio,
            100.0 * pumped,
            if why.is_empty() {
                "no strong factor".to_owned()
            } else {
                why.join(", ")
            },
            100.0 * odds / (1.0 + odds)
        );
        Some(Finding {
            key: cc,
            rule: RULE_CONVERSION,
            evidence,
            numbers: vec![n.e164()],
        })
    }
}
