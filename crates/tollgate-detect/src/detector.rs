//! The streaming detector: its state, and [`Detector::decide`], which runs
//! the rules in order. Each rule lives in its own file under `detector/`;
//! what they share is in `attempts` (what each attempt adds to the
//! counters), `blocks` (the block table), `evidence` and `learn` (what
//! the detector learns after a send).

mod attempts;
mod blocks;
mod call_density;
mod conversion;
mod conversion_score;
mod density;
mod evidence;
mod hosted_call;
mod learn;
mod low_conversion;
mod new_country;
mod sweep;

use std::collections::VecDeque;

use crate::features::{FeatureCounts, FraudLearner};
use crate::number::{Map, Number};
use crate::request::{Channel, Mode, Request, Settings};
use crate::sketch::{Bloom, CountMin, mix};
use crate::stats::{CountryStats, Pending, RangeStats};
use crate::sweep_window::SweepWindow;
use crate::tuning::{BLOOM_BITS, BLOOM_CAPACITY, FEATURE_HL, IP_SKETCH_WIDTH, RING};
use crate::verdict::{Block, Verdict};

/// The streaming detector.
#[derive(Debug)]
pub struct Detector {
    mode: Mode,
    settings: Settings,
    ranges: Map<u64, RangeStats>,
    countries: Map<u64, CountryStats>,
    pending: Map<String, Pending>,
    /// Sends in time order, to mature them.
    queue: VecDeque<(f64, String)>,
    blocks: Map<u64, Block>,
    recent_numbers: Map<u64, f64>,
    sweep_window: SweepWindow,
    /// Recent attempts (number value, length), newest last, for evidence.
    ring: VecDeque<(u64, u8)>,
    known_numbers: Bloom,
    known_ips: Bloom,
    /// Verified sends per unflagged IP (only with `Settings::popular_ip`:
    /// 4 MiB that no other rule reads).
    ip_verified: Option<CountMin>,
    known_devices: Bloom,
    /// 10,000-number blocks with a verified send (kept longer than the
    /// decayed range counts, which are also pruned).
    known_blocks: Bloom,
    /// Networks of flagged IPs with a verified send.
    known_flagged_nets: Bloom,
    /// Verified sends by feature (the legitimate side of the score's
    /// likelihood ratios), and those of sends to new numbers alone.
    legit: FeatureCounts,
    fresh_legit: FeatureCounts,
    fraud: FraudLearner,
    now: f64,
}

impl Detector {
    pub fn new(mode: Mode) -> Detector {
        Detector::with_settings(mode, Settings::for_mode(mode))
    }

    pub fn with_settings(mode: Mode, settings: Settings) -> Detector {
        Detector {
            mode,
            settings,
            ranges: Map::default(),
            countries: Map::default(),
            pending: Map::default(),
            queue: VecDeque::new(),
            blocks: Map::default(),
            recent_numbers: Map::default(),
            sweep_window: SweepWindow::default(),
            ring: VecDeque::with_capacity(RING),
            known_numbers: Bloom::new(BLOOM_BITS, BLOOM_CAPACITY),
            known_ips: Bloom::new(BLOOM_BITS, BLOOM_CAPACITY),
            ip_verified: settings
                .popular_ip
                .then(|| CountMin::new(IP_SKETCH_WIDTH, FEATURE_HL)),
            known_devices: Bloom::new(BLOOM_BITS, BLOOM_CAPACITY),
            known_blocks: Bloom::new(BLOOM_BITS, BLOOM_CAPACITY),
            known_flagged_nets: Bloom::new(BLOOM_BITS, BLOOM_CAPACITY),
            legit: FeatureCounts::default(),
            fresh_legit: FeatureCounts::default(),
            fraud: FraudLearner::default(),
            now: f64::NEG_INFINITY,
        }
    }

    pub fn mode(&self) -> Mode {
        self.mode
    }

    pub fn settings(&self) -> &Settings {
        &self.settings
    }

    /// Tracked state sizes (ranges, countries, pending sends), for tests and
    /// monitoring of the memory bound.
    pub fn footprint(&self) -> (usize, usize, usize) {
        (self.ranges.len(), self.countries.len(), self.pending.len())
    }

    /// Decides on one send, before it goes out: the rules in the order
    /// they are tried (numbered as in the crate doc), the first that
    /// refuses decides. A rule that finds an anomaly returns its evidence
    /// (a `Finding`); opening the block is done here.
    pub fn decide(&mut self, req: &Request<'_>) -> Verdict {
        if self.mode == Mode::Off {
            return Verdict::allow();
        }
        let t = req.t;
        self.now = self.now.max(t);
        self.mature(t);
        // 1. fraudguard.invalid_number
        if !req.valid {
            return Verdict::invalid(req.digits);
        }
        let Some(n) = Number::parse(req.digits, req.calling_code) else {
            // Valid but not digits we can range: nothing to judge on.
            return Verdict::allow();
        };

        // The attempt counts before any rule runs (refused attempts too: a
        // sweep that goes on keeps its ranges hot). `known`: verified
        // before, looked up once per decision.
        let known = self.known_numbers.contains(mix(n.key()));
        let distinct = self.count_attempt(&n, t);
        let call_expected = if req.channel == Channel::Call {
            self.note_call(&n, known, t, distinct)
        } else {
            None
        };
        let neighbours = self.note_sweep(&n, known, t);

        // 2. A standing block on an enclosing range.
        if let Some(v) = self.standing_block(&n, t) {
            return v;
        }
        // From here on, attempts count for the country's volume.
        self.count_volume(&n, known, t);

        // 3. fraudguard.hosted_call
        if let Some(v) = self.hosted_call(req, &n, known) {
            return v;
        }
        // 4. fraudguard.new_country
        if let Some(f) = self.new_country(req, &n) {
            return self.block(f, t);
        }
        // 5. fraudguard.burst and fraudguard.density
        if let Some(f) = self.density(&n, req.channel, t) {
            return self.block(f, t);
        }
        // 6. fraudguard.sweep, after density so that a sweep that goes on
        // escalates to the wider range density finds.
        if let Some(f) = self.sweep(&n, &neighbours) {
            return self.block(f, t);
        }
        // 7. fraudguard.density for voice calls
        if let Some(expected) = call_expected
            && let Some(f) = self.call_density(&n, expected, t)
        {
            return self.block(f, t);
        }
        // 8. fraudguard.low_conversion
        if let Some(f) = self.low_conversion(&n, t) {
            return self.block(f, t);
        }
        // 9. fraudguard.conversion, on the request's own signals
        let features = self.features(req, &n, known, distinct == 0.0);
        if let Some(f) = self.conversion(&n, features, t) {
            return self.block(f, t);
        }
        self.record_send(req, &n, features);
        Verdict::allow()
    }
}
