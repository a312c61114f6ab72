//! The detector's constants, in one place, grouped by what reads them:
//! range levels and half-lives, bounds on the tracked state, then each
//! rule's own, and the declared assumptions about pumped requests
//! ([`FRAUD`]). The per-mode thresholds are in [`crate::Settings`].

// === Ranges and windows ===

/// Range levels, as digits cut from the end of the number (1M … 100).
pub(crate) const LEVELS: [usize; 5] = [6, 5, 4, 3, 2];
/// Half-lives (seconds).
pub(crate) const FAST_HL: f64 = 120.0; // density windows
pub(crate) const LONG_HL: f64 = 7.0 * 86400.0; // verified history (shares)
pub(crate) const RANGE_CONV_HL: f64 = 86400.0; // range conversion
pub(crate) const CONV_HL: f64 = 2.0 * 3600.0; // country conversion, recent
pub(crate) const CONV_DAY_HL: f64 = 12.0 * 3600.0; // country conversion, last day or so
pub(crate) const BASE_HL: f64 = 7.0 * 86400.0; // country conversion and volume, baseline
pub(crate) const VOL_HL: f64 = 3600.0; // country volume, recent
pub(crate) const HOLD_HL: f64 = 2.0 * 3600.0; // a flagged country's pumping share
pub(crate) const FEATURE_HL: f64 = 2.0 * 86400.0; // what verified users look like
pub(crate) const CALL_HL: f64 = 3600.0; // calls to new numbers per range (voice IRSF)
/// A repeated number within this many seconds is not a new distinct number.
pub(crate) const REPEAT_WINDOW: f64 = 3600.0;

// === Bounds on the tracked state ===

pub(crate) const MAX_RANGES: usize = 2_000_000;
pub(crate) const MAX_RECENT_NUMBERS: usize = 1_000_000;
pub(crate) const MAX_PENDING: usize = 2_000_000;
pub(crate) const RING: usize = 2048;
pub(crate) const BLOOM_BITS: usize = 1 << 24;
pub(crate) const BLOOM_CAPACITY: usize = 1_500_000;

// === fraudguard.new_country ===

/// The price at which a country without history gets `new_country_budget`
/// unverified sends (5 US cents); dearer destinations get fewer.
pub const NOVELTY_REFERENCE_MICROS: f64 = 50_000.0;
/// A country with fewer verified sends than this is new.
pub(crate) const NOVEL_VERIFIED: u64 = 10;

// === fraudguard.sweep ===

/// Sweep: how far apart (in value) numbers count as neighbours, and for
/// how long (seconds).
pub const SWEEP_SPREAD: u64 = 9;
pub const SWEEP_WINDOW: f64 = 30.0;
/// Most numbers the sweep window holds (a flood beyond this forgets the
/// oldest first).
pub(crate) const MAX_SWEEP: usize = 200_000;

// === fraudguard.density for voice calls ===

/// Voice: range levels watched for concurrent calls (100k and 10k).
pub(crate) const CALL_LEVELS: [usize; 2] = [5, 4];
/// Voice: the share of the density test's ln p that trips a call range.
pub(crate) const CALL_LN_P_FACTOR: f64 = 0.475;

// === fraudguard.conversion: the country's baseline ===

/// Prior baseline conversion of a country and its weight in sends.
pub(crate) const PRIOR_CONVERSION: f64 = 0.75;
pub(crate) const PRIOR_WEIGHT: f64 = 20.0;
/// The baseline volume is exceeded "for real" only beyond this factor
/// (diurnal peaks are ~1.7× the mean).
pub(crate) const VOLUME_SLACK: f64 = 2.0;
/// Country conversion: the last day's drop below the baseline (z-score,
/// and share of the baseline) that stops the baseline from learning.
pub(crate) const SUSPECT_Z: f64 = 2.0;
pub(crate) const SUSPECT_SHARE: f64 = 0.9;
/// Country conversion: fewest sends in a window for its drop to count.
pub(crate) const MIN_WINDOW_SENDS: f64 = 20.0;
/// How long the baseline may hold without the watch flagging (seconds).
pub(crate) const SUSPECT_MAX_HOLD: f64 = 7.0 * 86400.0;
/// Country conversion: the pumped share is estimated from the drop's
/// lower bound, this many standard errors below the recent conversion.
pub(crate) const BOUND_SIGMAS: f64 = 2.0;

// === fraudguard.conversion: the request's score ===

/// Verified sends (halving every [`FEATURE_HL`]) that make an IP popular.
pub(crate) const POPULAR_IP_VERIFIED: u32 = 10;
/// Width of the count-min sketch of verified sends per IP.
pub(crate) const IP_SKETCH_WIDTH: usize = 1 << 18;
/// A country's own rates for sends to new numbers are blended with all
/// countries' rates, weighted as this many verified sends.
pub(crate) const FRESH_PRIOR_WEIGHT: f64 = 200.0;
/// The assumed fraud-side rates weigh as this many learned pumped requests.
pub(crate) const FRAUD_PRIOR_WEIGHT: f64 = 100.0;
/// A flagged country's requests teach the fraud side from this pumped share on.
pub(crate) const LEARN_MIN_SHARE: f64 = 0.1;

/// Assumed share of pumped requests with each feature (the fraud side of
/// the likelihood ratios; the legitimate side is learned from verified
/// sends). Declared assumptions: attackers use fresh numbers, mostly fresh
/// devices and IPs, IP intelligence flags about half of them, and they
/// spread over the number space where users concentrate in a fraction of
/// the blocks.
#[derive(Debug, Clone, Copy)]
pub(crate) struct FraudPriors {
    pub(crate) number_known: f64,
    pub(crate) ip_known: f64,
    pub(crate) device_missing: f64,
    pub(crate) device_known: f64,
    pub(crate) block_known: f64,
    pub(crate) tor: f64,
    pub(crate) datacenter: f64,
    pub(crate) proxy: f64,
    pub(crate) net_known: f64,
    pub(crate) retry: f64,
    /// Of the pumped requests from an IP verified before, those from a
    /// popular one.
    pub(crate) ip_popular: f64,
}

pub(crate) const FRAUD: FraudPriors = FraudPriors {
    number_known: 0.02,
    ip_known: 0.3,
    device_missing: 0.3,
    device_known: 0.02,
    block_known: 0.3,
    tor: 0.05,
    datacenter: 0.15,
    proxy: 0.45,
    net_known: 0.3,
    retry: 0.05,
    ip_popular: 0.15,
};
