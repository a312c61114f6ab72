//! A country's conversion over one stream of sends, against its own
//! baseline: what the `fraudguard.conversion` watch reads.

use crate::sketch::{Decay, Rate};
use crate::tuning::{
    BASE_HL, CONV_DAY_HL, CONV_HL, HOLD_HL, MIN_WINDOW_SENDS, PRIOR_CONVERSION, PRIOR_WEIGHT,
    SUSPECT_MAX_HOLD, SUSPECT_SHARE, SUSPECT_Z, VOL_HL, VOLUME_SLACK,
};

/// A country's conversion over one stream of sends (all of them, or only
/// those to numbers never verified before), with its pumped-share estimate.
#[derive(Debug, Default, Clone)]
pub(crate) struct ConversionStream {
    pub(crate) short_n: Decay,
    pub(crate) short_v: Decay,
    pub(crate) day_n: Decay,
    pub(crate) day_v: Decay,
    pub(crate) base_n: Decay,
    pub(crate) base_v: Decay,
    /// Sends per second, recent and baseline.
    pub(crate) vol_short: Rate,
    pub(crate) vol_base: Rate,
    /// Held estimate of the stream's share of pumped sends.
    pub(crate) pumped: Decay,
    /// The figures behind the last estimate, for evidence.
    pub(crate) last_figures: Option<ConversionFigures>,
    /// Since when the baseline has been held (see [`Self::suspect`]).
    pub(crate) held_since: Option<f64>,
}

impl ConversionStream {
    pub(crate) fn flagged(&self, t: f64) -> bool {
        self.pumped.get(t, HOLD_HL) >= 0.02
    }

    /// A matured send. It counts towards the baseline (with
    /// `baseline_weight`) unless the stream is flagged or held.
    pub(crate) fn count(&mut self, t: f64, verified: f64, baseline_weight: f64) {
        self.add_recent(t, 1.0, verified);
        // A hold ends after [`SUSPECT_MAX_HOLD`]: a lasting drop that has
        // not flagged by then is the users', and the baseline follows it.
        let held = if self.suspect(t) {
            let since = *self.held_since.get_or_insert(t);
            t - since < SUSPECT_MAX_HOLD
        } else {
            self.held_since = None;
            false
        };
        if baseline_weight > 0.0 && !self.flagged(t) && !held {
            self.base_n.add(t, BASE_HL, baseline_weight);
            self.base_v.add(t, BASE_HL, baseline_weight * verified);
        }
    }

    /// Whether the last day's conversion is already below the baseline,
    /// by [`SUSPECT_Z`] and [`SUSPECT_SHARE`], though not yet enough to
    /// flag: the baseline then stops learning, so that slow pumping cannot
    /// drag it down before the evidence is in.
    pub(crate) fn suspect(&self, t: f64) -> bool {
        let n = self.day_n.get(t, CONV_DAY_HL);
        if n < MIN_WINDOW_SENDS {
            return false;
        }
        let baseline = self.baseline(t);
        let drop = ConversionDrop::of(baseline, n, self.day_v.get(t, CONV_DAY_HL));
        drop.recent < SUSPECT_SHARE * baseline && drop.z >= SUSPECT_Z
    }

    /// Takes the last day's conversion (12-hour half-life, refused sends
    /// included) as the baseline, at the baseline's weight: a watch lifted
    /// by hand, the operator says the drop is real. With fewer than 20
    /// recent sends the baseline is left as it is.
    pub(crate) fn rebase(&mut self, t: f64) {
        self.pumped = Decay::default();
        self.held_since = None;
        let n = self.day_n.get(t, CONV_DAY_HL);
        if n < MIN_WINDOW_SENDS {
            return;
        }
        let weight = self.base_n.get(t, BASE_HL).max(n);
        self.base_n.set(t, weight);
        self.base_v
            .set(t, weight * self.day_v.get(t, CONV_DAY_HL) / n);
    }

    /// A send this watch refused, presumed unverified. While the stream's
    /// volume is more than [`VOLUME_SLACK`] times its baseline, each counts
    /// for less (at most that many times the baseline volume in all): the
    /// volume keeps such an attack's estimate up while it lasts, and its
    /// refused sends do not hold the country for days after it stops. With
    /// less than a day of baseline volume, each counts in full.
    pub(crate) fn count_refused(&mut self, t: f64) {
        let weight = (VOLUME_SLACK / self.volume_ratio(t)).min(1.0);
        self.add_recent(t, weight, 0.0);
    }

    /// `sends` sends, `verified` of them verified, in the recent windows.
    fn add_recent(&mut self, t: f64, sends: f64, verified: f64) {
        self.short_n.add(t, CONV_HL, sends);
        self.short_v.add(t, CONV_HL, verified);
        self.day_n.add(t, CONV_DAY_HL, sends);
        self.day_v.add(t, CONV_DAY_HL, verified);
    }

    /// The stream's recent volume over its baseline (1 until a day of
    /// baseline).
    pub(crate) fn volume_ratio(&self, t: f64) -> f64 {
        let (now, _) = self.vol_short.rate(t, VOL_HL);
        let (base, span) = self.vol_base.rate(t, BASE_HL);
        if span >= 86400.0 && base > 0.0 {
            now / base
        } else {
            1.0
        }
    }

    pub(crate) fn baseline(&self, t: f64) -> f64 {
        (self.base_v.get(t, BASE_HL) + PRIOR_CONVERSION * PRIOR_WEIGHT)
            / (self.base_n.get(t, BASE_HL) + PRIOR_WEIGHT)
    }
}

/// A window's conversion against the baseline: the recent conversion, its
/// standard error under the baseline, and the z-score of the drop.
#[derive(Debug, Clone, Copy)]
pub(crate) struct ConversionDrop {
    pub(crate) recent: f64,
    pub(crate) sigma: f64,
    pub(crate) z: f64,
}

impl ConversionDrop {
    /// `verified` of `sends` (more than zero) against `baseline`.
    pub(crate) fn of(baseline: f64, sends: f64, verified: f64) -> ConversionDrop {
        let recent = verified / sends;
        let sigma = (baseline * (1.0 - baseline) / sends).sqrt().max(1e-6);
        ConversionDrop {
            recent,
            sigma,
            z: (baseline - recent) / sigma,
        }
    }
}

/// The figures behind a stream's pumped-share estimate (for evidence).
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct ConversionFigures {
    pub(crate) recent: f64,
    pub(crate) recent_n: f64,
    pub(crate) baseline: f64,
    pub(crate) z: f64,
    pub(crate) volume_ratio: f64,
    pub(crate) pumped: f64,
}
