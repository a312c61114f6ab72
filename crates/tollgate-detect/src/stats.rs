//! The decayed counters the rules read: per range, per country, and per
//! allowed send until it matures.

use crate::conversion_stream::ConversionStream;
use crate::features::FeatureCounts;
use crate::sketch::Decay;
use crate::tuning::{BASE_HL, VOL_HL, VOLUME_SLACK};

/// One range's counters.
#[derive(Debug, Default, Clone)]
pub(crate) struct RangeStats {
    /// Distinct numbers attempted (allowed or refused), recent.
    pub(crate) fast: Decay,
    /// Verified sends, recent (a dense range that converts is not pumped).
    pub(crate) fast_verified: Decay,
    /// Verified sends, long history (the range's share of real users).
    pub(crate) verified: Decay,
    /// Matured sends and how many of them were verified.
    pub(crate) matured: Decay,
    pub(crate) matured_verified: Decay,
    /// Calls to distinct numbers never verified, recent.
    pub(crate) calls: Decay,
    pub(crate) last: f64,
}

/// One country's counters and its conversion watch.
#[derive(Debug, Default, Clone)]
pub(crate) struct CountryStats {
    pub(crate) fast: Decay,
    /// Calls to distinct new numbers, over about a week (the call baseline).
    pub(crate) calls: Decay,
    pub(crate) verified: Decay,
    /// Conversion of all sends, and of sends to numbers never verified.
    pub(crate) all: ConversionStream,
    pub(crate) fresh: ConversionStream,
    /// What the country's verified users to new numbers looked like.
    pub(crate) fresh_legit: FeatureCounts,
    pub(crate) verified_total: u64,
    pub(crate) unverified: f64,
    pub(crate) in_flight: u32,
    /// Set by [`Detector::lift`](crate::Detector::lift): the country's watch stays off until then.
    pub(crate) lifted_until: f64,
    pub(crate) lift_pending: bool,
    pub(crate) novelty_waived: bool,
}

impl CountryStats {
    pub(crate) fn flagged(&self, t: f64) -> bool {
        self.all.flagged(t) || self.fresh.flagged(t)
    }

    /// How much one event counts towards the baselines: fully at normal
    /// volume, less and less in a surge (beyond [`VOLUME_SLACK`] times the
    /// baseline), so a flood cannot rewrite the baseline before the
    /// conversion test has the evidence to flag it.
    pub(crate) fn baseline_weight(&self, t: f64) -> f64 {
        let (now, _) = self.all.vol_short.rate(t, VOL_HL);
        let (base, span) = self.all.vol_base.rate(t, BASE_HL);
        if span < 86400.0 || now <= 0.0 {
            return 1.0;
        }
        (VOLUME_SLACK * base / now).min(1.0)
    }
}

/// An allowed send, until it matures.
#[derive(Debug, Clone)]
pub(crate) struct Pending {
    pub(crate) t: f64,
    pub(crate) number: u64,
    pub(crate) len: u8,
    pub(crate) cc_len: u8,
    pub(crate) features: u16,
    pub(crate) verified: bool,
    pub(crate) ip: Option<u64>,
    /// The network of a flagged IP.
    pub(crate) flagged_net: Option<u64>,
    pub(crate) device: Option<u64>,
}
