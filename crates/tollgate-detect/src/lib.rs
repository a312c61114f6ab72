//! Fraud Guard's detector: pure, streaming, with time passed in.
//!
//! Before each send, [`Detector::decide`] answers allow or block, with the
//! rule, the range and the evidence (the figures and the numbers that
//! tripped it). Afterwards it learns from what happened to the sends it
//! allowed: delivery receipts ([`Detector::delivered`]) and successful checks
//! ([`Detector::verified`]). It never learns the outcome of a send it
//! blocked, as in reality. No clock is read, nothing is done on I/O; the
//! only dependency of the detector itself is `std` (`serde_json` is used by
//! the [`replay`] module only).
//!
//! Ranges are prefixes of the E.164 digits: the country (calling code) and
//! the 1,000,000-, 100,000-, 10,000-, 1,000- and 100-number ranges of each
//! destination (the first of these is the NDC level in most plans). The
//! rules, in the order they are tried:
//!
//! - `fraudguard.invalid_number`: the number is not valid (libphonenumber).
//! - a standing block on any enclosing range refuses the send and renews
//!   the block (blocks expire `block_ttl` after the last refused attempt).
//! - `fraudguard.new_country`: a country without verified history may have
//!   only a small budget of unverified sends (smaller when the price per
//!   message is high or the number's risk tier is high).
//! - `fraudguard.sweep`: a few numbers never verified, each within a few
//!   digits of the others, within seconds (a sequential sweep): the
//!   100-number block is refused at once, before any density test could
//!   trip. Neighbours are looked up by value, so a sweep that crosses a
//!   100- or 1,000-number boundary is caught on its first number past it.
//! - `fraudguard.hosted_call`: a voice call to a number never verified,
//!   asked for from a datacenter or Tor IP with no device fingerprint, is
//!   refused on its own (no range is blocked).
//! - `fraudguard.burst` (100- and 1,000-number blocks) and
//!   `fraudguard.density` (10,000 to 1,000,000): a range gets far more
//!   distinct numbers in the last minutes than its share of the country's
//!   current traffic allows (a Poisson tail test against the range's share
//!   of the country's *verified* history, so a country-wide flash crowd is
//!   not an anomaly and pumping cannot poison the baseline). The narrowest
//!   range that holds most of the excess is blocked; attempts keep counting
//!   while blocked, so a sweep that moves on escalates to the parent.
//!   Voice calls to new numbers are also counted per 100k and 10k range
//!   over the last hour against the country's own call rate (test calls,
//!   then a wave next to them); they block under the same rule name.
//! - `fraudguard.low_conversion`: a range whose matured sends are verified
//!   far less than its country's baseline (a binomial tail test; sends
//!   count once old enough that a real user would have verified, and
//!   undelivered sends do not count).
//! - `fraudguard.conversion`: the conversion of the country's sends to
//!   numbers never verified before has dropped significantly below its own
//!   baseline (slow-and-low pumping, ramps, conversion mimics; the
//!   baseline holds while the last day is already clearly below it). The
//!   estimated share of pumped sends among them (from the drop, or from
//!   their volume above its baseline) is the prior; each request's own signals are likelihood ratios, and
//!   only the requests whose posterior passes the mode's threshold are
//!   refused. The legitimate side of each ratio is learned per country from
//!   verified sends to new numbers; the fraud side starts from declared
//!   assumptions and is learned from the flagged countries' requests (what
//!   is left of them once the legitimate share is taken out). The signals:
//!   IP, device and 10,000-block with or without verified history, IP
//!   intelligence flags, a flagged IP in a network that flagged users
//!   verified from (a VPN exit, not a residential proxy), a missing device,
//!   and a retry of the same number. A number verified before is never
//!   refused by this rule, and the country is never blocked as a whole.

mod sketch;

pub mod replay;

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::hash::{BuildHasherDefault, Hasher};

use sketch::{
    Bloom, CountMin, Decay, Rate, binomial_lower_tail_ln, hash_str, mix, poisson_upper_tail_ln,
};

/// How hard the detector pushes (Twilio's Fraud Guard levels, plus off).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Off,
    Basic,
    Standard,
    Max,
}

impl Mode {
    pub fn parse(text: &str) -> Option<Mode> {
        Some(match text {
            "off" => Mode::Off,
            "basic" => Mode::Basic,
            "standard" => Mode::Standard,
            "max" => Mode::Max,
            _ => return None,
        })
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Mode::Off => "off",
            Mode::Basic => "basic",
            Mode::Standard => "standard",
            Mode::Max => "max",
        }
    }
}

/// Tuning, derived from the mode.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Settings {
    /// Density: ln of the Poisson tail probability below which a range is
    /// anomalous (-20 ≈ 2e-9).
    pub density_ln_p: f64,
    /// Density: fewest distinct recent numbers that can make an anomaly.
    pub density_min: f64,
    /// A send counts as unverified once this old (seconds).
    pub mature_after: f64,
    /// Range conversion: matured unverified sends a range needs first.
    pub min_failures: f64,
    /// Range conversion: ln of the binomial tail probability that trips it.
    pub conversion_ln_p: f64,
    /// Country conversion: z-score of the drop below baseline that flags it.
    pub country_z: f64,
    /// Country conversion: posterior odds of pumping that refuse a request.
    pub score_odds: f64,
    /// Unverified sends allowed to a country without verified history (at
    /// the reference price, see [`NOVELTY_REFERENCE_MICROS`]).
    pub new_country_budget: f64,
    /// How long a block lasts without new attempts (seconds).
    pub block_ttl: f64,
    /// Sweep: numbers never verified, within [`SWEEP_SPREAD`] of each other
    /// and [`SWEEP_WINDOW`] seconds, that refuse their 100-number block
    /// (0 turns the rule off).
    pub sweep_numbers: usize,
    /// Whether a voice call to a number never verified is refused when it
    /// comes from a datacenter or Tor IP with no device fingerprint.
    pub refuse_hosted_calls: bool,
    /// Whether an IP many users verified from lowers a request's risk
    /// (and a known IP few verified from raises it).
    pub popular_ip: bool,
}

impl Settings {
    pub fn for_mode(mode: Mode) -> Settings {
        let standard = Settings {
            density_ln_p: -20.0,
            density_min: 3.0,
            mature_after: 300.0,
            min_failures: 10.0,
            conversion_ln_p: -20.0,
            country_z: 4.0,
            score_odds: 4.0,
            new_country_budget: 5.0,
            block_ttl: 3600.0,
            // Measured on the simulator (BENCHMARKS.md, round 3): sequential
            // bursts are contained at their 3rd send, no legitimate send more
            // is refused.
            sweep_numbers: 3,
            refuse_hosted_calls: true,
            // Off: on the simulator it lowered fraud-cost recall (round 3).
            popular_ip: false,
        };
        match mode {
            Mode::Off | Mode::Standard => standard,
            Mode::Basic => Settings {
                density_ln_p: -28.0,
                density_min: 4.0,
                min_failures: 20.0,
                conversion_ln_p: -28.0,
                country_z: 6.0,
                score_odds: 49.0,
                new_country_budget: 10.0,
                sweep_numbers: 4,
                refuse_hosted_calls: false,
                ..standard
            },
            Mode::Max => Settings {
                density_ln_p: -14.0,
                density_min: 3.0,
                min_failures: 6.0,
                conversion_ln_p: -14.0,
                country_z: 3.0,
                score_odds: 3.0,
                new_country_budget: 3.0,
                ..standard
            },
        }
    }
}

/// SMS or voice.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Channel {
    #[default]
    Sms,
    Call,
}

/// IP intelligence flags of the end user's IP (`DeviceIp`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Hash)]
pub struct IpFlags(u8);

impl IpFlags {
    pub const NONE: IpFlags = IpFlags(0);
    pub const DATACENTER: IpFlags = IpFlags(1);
    pub const PROXY: IpFlags = IpFlags(2);
    pub const TOR: IpFlags = IpFlags(4);

    /// From names (`datacenter`, `proxy`, `tor`; others are ignored).
    pub fn from_names<'n>(names: impl IntoIterator<Item = &'n str>) -> IpFlags {
        let mut f = IpFlags::NONE;
        for n in names {
            f = f.with(match n {
                "datacenter" => IpFlags::DATACENTER,
                "proxy" => IpFlags::PROXY,
                "tor" => IpFlags::TOR,
                _ => IpFlags::NONE,
            });
        }
        f
    }

    pub fn with(self, other: IpFlags) -> IpFlags {
        IpFlags(self.0 | other.0)
    }

    pub fn contains(self, other: IpFlags) -> bool {
        self.0 & other.0 == other.0
    }

    pub fn is_empty(self) -> bool {
        self.0 == 0
    }

    pub fn names(self) -> Vec<&'static str> {
        [
            (IpFlags::DATACENTER, "datacenter"),
            (IpFlags::PROXY, "proxy"),
            (IpFlags::TOR, "tor"),
        ]
        .into_iter()
        .filter(|(f, _)| self.contains(*f))
        .map(|(_, n)| n)
        .collect()
    }
}

/// The number's risk tier (Twilio's voice dialing-permission classes).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Risk {
    #[default]
    Standard,
    HighRiskSpecial,
    HighRiskTollfraud,
}

/// One send to decide on.
#[derive(Debug, Clone, Default)]
pub struct Request<'a> {
    /// Seconds (any epoch; only differences matter).
    pub t: f64,
    pub id: &'a str,
    /// E.164 digits without `+`.
    pub digits: &'a str,
    /// The calling code's digits (its length splits country and national number).
    pub calling_code: &'a str,
    pub valid: bool,
    pub channel: Channel,
    /// The end user's IP (`DeviceIp`), when given.
    pub ip: Option<&'a str>,
    pub ip_flags: IpFlags,
    /// A device or browser fingerprint, when given.
    pub device: Option<&'a str>,
    /// What this send costs, in micro-USD; 0 when unknown.
    pub price_micros: i64,
    /// The number's risk tier (default standard).
    pub risk: Risk,
}

/// What the detector decided, and why.
#[derive(Debug, Clone, PartialEq)]
pub struct Verdict {
    pub allow: bool,
    /// `fraudguard.*`, or `allow`.
    pub rule: &'static str,
    /// The blocked range (`+` and the prefix digits), when one applies.
    pub range: Option<String>,
    /// Human-readable evidence, with the figures that tripped the rule.
    pub evidence: String,
    /// Up to [`EVIDENCE_NUMBERS`] E.164 numbers (`+digits`) that tripped it.
    pub numbers: Vec<String>,
}

impl Verdict {
    fn allow() -> Verdict {
        Verdict {
            allow: true,
            rule: "allow",
            range: None,
            evidence: String::new(),
            numbers: Vec::new(),
        }
    }

    fn invalid(digits: &str) -> Verdict {
        Verdict {
            allow: false,
            rule: RULE_INVALID,
            range: None,
            evidence: format!("+{digits} is not a valid number"),
            numbers: vec![format!("+{digits}")],
        }
    }
}

/// A block on a range (or, for `fraudguard.new_country` and
/// `fraudguard.conversion`, a country under watch: only the sends the rule
/// refuses are blocked there).
#[derive(Debug, Clone, PartialEq)]
pub struct Block {
    /// The prefix digits, without `+`.
    pub prefix: String,
    pub rule: &'static str,
    pub evidence: String,
    /// Up to [`EVIDENCE_NUMBERS`] numbers (`+digits`) that tripped it.
    pub numbers: Vec<String>,
    pub since: f64,
    pub expires: f64,
    /// Refused sends while it stood.
    pub refused: u64,
}

pub const RULE_INVALID: &str = "fraudguard.invalid_number";
pub const RULE_BURST: &str = "fraudguard.burst";
pub const RULE_DENSITY: &str = "fraudguard.density";
pub const RULE_LOW_CONVERSION: &str = "fraudguard.low_conversion";
pub const RULE_NEW_COUNTRY: &str = "fraudguard.new_country";
pub const RULE_CONVERSION: &str = "fraudguard.conversion";
pub const RULE_SWEEP: &str = "fraudguard.sweep";
pub const RULE_HOSTED_CALL: &str = "fraudguard.hosted_call";

/// Whether a refusal by `rule` is listed as a block (a range or a country
/// watch); an invalid number or a hosted call is refused on its own.
pub fn lists_a_block(rule: &str) -> bool {
    rule != RULE_INVALID && rule != RULE_HOSTED_CALL
}

/// The rules that block a whole range; the others (country watches) refuse
/// only the sends their own test refuses.
fn blocks_range(rule: &str) -> bool {
    rule != RULE_NEW_COUNTRY && rule != RULE_CONVERSION
}

/// Most numbers carried as evidence.
pub const EVIDENCE_NUMBERS: usize = 10;
/// The price at which a country without history gets `new_country_budget`
/// unverified sends (5 US cents); dearer destinations get fewer.
pub const NOVELTY_REFERENCE_MICROS: f64 = 50_000.0;
/// A country with fewer verified sends than this is new.
const NOVEL_VERIFIED: u64 = 10;

/// Sweep: how far apart (in value) numbers count as neighbours, and for
/// how long (seconds).
pub const SWEEP_SPREAD: u64 = 9;
pub const SWEEP_WINDOW: f64 = 30.0;
/// Most numbers the sweep window holds (a flood beyond this forgets the
/// oldest first).
const MAX_SWEEP: usize = 200_000;

/// Recent attempts to numbers never verified, by value, for the sweep rule.
#[derive(Debug, Default)]
struct SweepWindow {
    /// (length, value) → time of the last attempt.
    by_number: BTreeMap<(u8, u64), f64>,
    order: VecDeque<(f64, (u8, u64))>,
}

impl SweepWindow {
    /// Notes an attempt at `t` and returns the other numbers within
    /// [`SWEEP_SPREAD`] seen within [`SWEEP_WINDOW`] that `counts` keeps
    /// (at most `limit`).
    fn note(
        &mut self,
        len: u8,
        value: u64,
        t: f64,
        limit: usize,
        counts: impl Fn(u64) -> bool,
    ) -> Vec<u64> {
        while let Some(&(seen, key)) = self.order.front() {
            if t - seen <= SWEEP_WINDOW && self.order.len() < MAX_SWEEP {
                break;
            }
            self.order.pop_front();
            if self.by_number.get(&key) == Some(&seen) {
                self.by_number.remove(&key);
            }
        }
        let low = (len, value.saturating_sub(SWEEP_SPREAD));
        let high = (len, value.saturating_add(SWEEP_SPREAD));
        let near: Vec<u64> = self
            .by_number
            .range(low..=high)
            .filter(|((_, v), seen)| *v != value && t - **seen <= SWEEP_WINDOW)
            .map(|((_, v), _)| *v)
            .filter(|v| counts(*v))
            .take(limit)
            .collect();
        self.by_number.insert((len, value), t);
        self.order.push_back((t, (len, value)));
        near
    }
}

/// Range levels, as digits cut from the end of the number (1M … 100).
const LEVELS: [usize; 5] = [6, 5, 4, 3, 2];
/// Half-lives (seconds).
const FAST_HL: f64 = 120.0; // density windows
const LONG_HL: f64 = 7.0 * 86400.0; // verified history (shares)
const RANGE_CONV_HL: f64 = 86400.0; // range conversion
const CONV_HL: f64 = 2.0 * 3600.0; // country conversion, recent
const CONV_DAY_HL: f64 = 12.0 * 3600.0; // country conversion, last day or so
const BASE_HL: f64 = 7.0 * 86400.0; // country conversion and volume, baseline
const VOL_HL: f64 = 3600.0; // country volume, recent
const HOLD_HL: f64 = 2.0 * 3600.0; // a flagged country's pumping share
const FEATURE_HL: f64 = 2.0 * 86400.0; // what verified users look like
const CALL_HL: f64 = 3600.0; // calls to new numbers per range (voice IRSF)
/// Voice: range levels watched for concurrent calls (100k and 10k).
const CALL_LEVELS: [usize; 2] = [5, 4];
/// Voice: the share of the density test's ln p that trips a call range.
const CALL_LN_P_FACTOR: f64 = 0.475;
/// A repeated number within this many seconds is not a new distinct number.
const REPEAT_WINDOW: f64 = 3600.0;
/// Bounds on the tracked state.
const MAX_RANGES: usize = 2_000_000;
const MAX_RECENT_NUMBERS: usize = 1_000_000;
const MAX_PENDING: usize = 2_000_000;
const RING: usize = 2048;
const BLOOM_BITS: usize = 1 << 24;
const BLOOM_CAPACITY: usize = 1_500_000;

/// Prior baseline conversion of a country and its weight in sends.
const PRIOR_CONVERSION: f64 = 0.75;
const PRIOR_WEIGHT: f64 = 20.0;
/// The baseline volume is exceeded "for real" only beyond this factor
/// (diurnal peaks are ~1.7× the mean).
const VOLUME_SLACK: f64 = 2.0;
/// Country conversion: the last day's drop below the baseline (z-score,
/// and share of the baseline) that stops the baseline from learning.
const SUSPECT_Z: f64 = 2.0;
const SUSPECT_SHARE: f64 = 0.9;
/// Country conversion: fewest sends in a window for its drop to count.
const MIN_WINDOW_SENDS: f64 = 20.0;
/// How long the baseline may hold without the watch flagging (seconds).
const SUSPECT_MAX_HOLD: f64 = 7.0 * 86400.0;
/// Country conversion: the pumped share is estimated from the drop's
/// lower bound, this many standard errors below the recent conversion.
const BOUND_SIGMAS: f64 = 2.0;

/// Request features used by the conversion score (bits).
const F_NUM_KNOWN: u16 = 1;
const F_IP: u16 = 1 << 1;
const F_IP_KNOWN: u16 = 1 << 2;
const F_DEVICE: u16 = 1 << 3;
const F_DEVICE_KNOWN: u16 = 1 << 4;
const F_BLOCK_KNOWN: u16 = 1 << 5;
const F_PROXY: u16 = 1 << 6;
const F_DATACENTER: u16 = 1 << 7;
const F_TOR: u16 = 1 << 8;
/// An IP without intelligence flags (`F_IP_KNOWN` is only set for these).
const F_IP_CLEAN: u16 = 1 << 9;
/// A flagged IP in a network (IPv4 /24, IPv6 /48) that users on flagged
/// IPs verified from before: a VPN exit range, not a residential proxy.
const F_NET_KNOWN: u16 = 1 << 10;
/// The number was attempted within [`REPEAT_WINDOW`] (a user's retry).
const F_RETRY: u16 = 1 << 11;
/// An unflagged IP with at least [`POPULAR_IP_VERIFIED`] recent verified
/// sends (a shared home or mobile-carrier gateway users verify from).
const F_IP_POPULAR: u16 = 1 << 12;
const NFEAT: usize = 13;
/// Verified sends (halving every [`FEATURE_HL`]) that make an IP popular.
const POPULAR_IP_VERIFIED: u32 = 10;
const IP_SKETCH_WIDTH: usize = 1 << 18;
/// A country's own rates for sends to new numbers are blended with all
/// countries' rates, weighted as this many verified sends.
const FRESH_PRIOR_WEIGHT: f64 = 200.0;
/// The assumed fraud-side rates weigh as this many learned pumped requests.
const FRAUD_PRIOR_WEIGHT: f64 = 100.0;
/// A flagged country's requests teach the fraud side from this pumped share on.
const LEARN_MIN_SHARE: f64 = 0.1;

/// Assumed share of pumped requests with each feature (the fraud side of
/// the likelihood ratios; the legitimate side is learned from verified
/// sends). Declared assumptions: attackers use fresh numbers, mostly fresh
/// devices and IPs, IP intelligence flags about half of them, and they
/// spread over the number space where users concentrate in a fraction of
/// the blocks.
#[derive(Debug, Clone, Copy)]
struct FraudPriors {
    number_known: f64,
    ip_known: f64,
    device_missing: f64,
    device_known: f64,
    block_known: f64,
    tor: f64,
    datacenter: f64,
    proxy: f64,
    net_known: f64,
    retry: f64,
    /// Of the pumped requests from an IP verified before, those from a
    /// popular one.
    ip_popular: f64,
}

const FRAUD: FraudPriors = FraudPriors {
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

/// A hasher for keys that are already well mixed (u64 keys are mixed here).
#[derive(Default, Clone, Copy)]
struct KeyHasher(u64);

impl Hasher for KeyHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.0 = (self.0 ^ u64::from(*b)).wrapping_mul(0x0000_0100_0000_01b3);
        }
        self.0 = mix(self.0);
    }
    fn write_u64(&mut self, x: u64) {
        self.0 = mix(self.0 ^ x);
    }
}

type Map<K, V> = HashMap<K, V, BuildHasherDefault<KeyHasher>>;

/// A prefix packed into a u64: its value times 16 plus its length (≤ 15).
fn pack(value: u64, len: usize) -> u64 {
    (value << 4) | (len as u64 & 15)
}

fn unpack(key: u64) -> String {
    let len = (key & 15) as usize;
    format!("{:0len$}", key >> 4)
}

fn parse_key(prefix: &str) -> Option<u64> {
    let digits = prefix.strip_prefix('+').unwrap_or(prefix);
    if digits.is_empty() || digits.len() > 15 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    Some(pack(digits.parse().ok()?, digits.len()))
}

#[derive(Debug, Default, Clone)]
struct RangeStats {
    /// Distinct numbers attempted (allowed or refused), recent.
    fast: Decay,
    /// Verified sends, recent (a dense range that converts is not pumped).
    fast_verified: Decay,
    /// Verified sends, long history (the range's share of real users).
    verified: Decay,
    /// Matured sends and how many of them were verified.
    matured: Decay,
    matured_verified: Decay,
    /// Calls to distinct numbers never verified, recent.
    calls: Decay,
    last: f64,
}

/// A country's conversion over one stream of sends (all of them, or only
/// those to numbers never verified before), with its pumped-share estimate.
#[derive(Debug, Default, Clone)]
struct ConversionStream {
    short_n: Decay,
    short_v: Decay,
    day_n: Decay,
    day_v: Decay,
    base_n: Decay,
    base_v: Decay,
    /// Sends per second, recent and baseline.
    vol_short: Rate,
    vol_base: Rate,
    /// Held estimate of the stream's share of pumped sends.
    pumped: Decay,
    /// The figures behind the last estimate, for evidence.
    last_figures: Option<ConversionFigures>,
    /// Since when the baseline has been held (see [`Self::suspect`]).
    held_since: Option<f64>,
}

impl ConversionStream {
    fn flagged(&self, t: f64) -> bool {
        self.pumped.get(t, HOLD_HL) >= 0.02
    }

    /// A matured send. It counts towards the baseline (with
    /// `baseline_weight`) unless the stream is flagged or held.
    fn count(&mut self, t: f64, verified: f64, baseline_weight: f64) {
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
    fn suspect(&self, t: f64) -> bool {
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
    fn rebase(&mut self, t: f64) {
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
    fn count_refused(&mut self, t: f64) {
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
    fn volume_ratio(&self, t: f64) -> f64 {
        let (now, _) = self.vol_short.rate(t, VOL_HL);
        let (base, span) = self.vol_base.rate(t, BASE_HL);
        if span >= 86400.0 && base > 0.0 {
            now / base
        } else {
            1.0
        }
    }

    fn baseline(&self, t: f64) -> f64 {
        (self.base_v.get(t, BASE_HL) + PRIOR_CONVERSION * PRIOR_WEIGHT)
            / (self.base_n.get(t, BASE_HL) + PRIOR_WEIGHT)
    }
}

/// Verified sends by request feature (the legitimate side of the score's
/// likelihood ratios).
#[derive(Debug, Default, Clone)]
struct FeatureCounts {
    by_feature: [f64; NFEAT],
    total: f64,
    t: f64,
}

impl FeatureCounts {
    /// Counts one verified send at `t`; older ones fade with
    /// [`FEATURE_HL`], as what users look like drifts (the share of
    /// known IPs and blocks grows with the history).
    fn add(&mut self, t: f64, features: u16) {
        if t > self.t {
            let k = if self.total > 0.0 {
                (-(t - self.t) / FEATURE_HL).exp2()
            } else {
                1.0
            };
            self.total *= k;
            self.by_feature.iter_mut().for_each(|x| *x *= k);
            self.t = t;
        }
        self.total += 1.0;
        for (i, x) in self.by_feature.iter_mut().enumerate() {
            if features & (1 << i) != 0 {
                *x += 1.0;
            }
        }
    }

    fn get(&self, bit: u16) -> f64 {
        self.by_feature
            .get(bit.trailing_zeros() as usize)
            .copied()
            .unwrap_or(0.0)
    }

    /// This count blended with `prior` (worth `weight` sends): a country's
    /// own rates once it has enough history, the global rates before.
    fn blend(&self, prior: &FeatureCounts, weight: f64) -> FeatureCounts {
        let k = if prior.total > 0.0 {
            weight / prior.total
        } else {
            0.0
        };
        let mut out = self.clone();
        for (x, p) in out.by_feature.iter_mut().zip(prior.by_feature.iter()) {
            *x += k * p;
        }
        out.total += k * prior.total;
        out
    }
}

/// The fraud side of the likelihood ratios, learned by the method of
/// moments: the requests to new numbers of a flagged country are a mix of
/// pumped ones (the estimated share) and legitimate ones (with the
/// country's verified rates); what is left once the legitimate part is
/// taken out is what pumped requests look like. Every such request counts,
/// refused or not, so the estimate does not depend on what was blocked.
#[derive(Debug, Default, Clone)]
struct FraudLearner {
    mixed: [f64; NFEAT],
    mixed_n: f64,
    legit: [f64; NFEAT],
    legit_n: f64,
}

impl FraudLearner {
    fn add(&mut self, features: u16, pumped: f64, legit: &FeatureCounts) {
        if self.mixed_n >= 1e5 {
            self.mixed_n /= 2.0;
            self.legit_n /= 2.0;
            self.mixed.iter_mut().for_each(|x| *x /= 2.0);
            self.legit.iter_mut().for_each(|x| *x /= 2.0);
        }
        let w = 1.0 - pumped;
        self.mixed_n += 1.0;
        self.legit_n += w;
        for (i, (m, l)) in self.mixed.iter_mut().zip(self.legit.iter_mut()).enumerate() {
            if features & (1 << i) != 0 {
                *m += 1.0;
            }
            let bit = 1u16 << i;
            *l += w * smoothed(legit.get(bit), legit.total);
        }
    }

    /// Estimated pumped requests with the feature, and in all.
    fn pumped_count(&self, bit: u16) -> (f64, f64) {
        let i = bit.trailing_zeros() as usize;
        let n = (self.mixed_n - self.legit_n).max(0.0);
        let m = self.mixed.get(i).copied().unwrap_or(0.0);
        let l = self.legit.get(i).copied().unwrap_or(0.0);
        ((m - l).clamp(0.0, n), n)
    }

    /// The assumed priors, updated with what was learned (each prior is
    /// worth [`FRAUD_PRIOR_WEIGHT`] pumped requests).
    fn side(&self) -> FraudPriors {
        let w = FRAUD_PRIOR_WEIGHT;
        let (_, n) = self.pumped_count(F_IP);
        if n < 1.0 {
            return FRAUD;
        }
        let k = |bit: u16| self.pumped_count(bit).0;
        let ratio = |num: f64, den: f64| (num / den).clamp(0.005, 0.995);
        let with_ip = k(F_IP) + w;
        let prior_clean = 1.0 - FRAUD.tor - FRAUD.datacenter - FRAUD.proxy;
        let present = 1.0 - FRAUD.device_missing;
        FraudPriors {
            ip_known: ratio(
                k(F_IP_KNOWN) + w * prior_clean * FRAUD.ip_known,
                k(F_IP_CLEAN) + w * prior_clean,
            ),
            tor: ratio(k(F_TOR) + w * FRAUD.tor, with_ip),
            datacenter: ratio(k(F_DATACENTER) + w * FRAUD.datacenter, with_ip),
            proxy: ratio(k(F_PROXY) + w * FRAUD.proxy, with_ip),
            device_missing: 1.0 - ratio(k(F_DEVICE) + w * present, n + w),
            device_known: ratio(
                k(F_DEVICE_KNOWN) + w * present * FRAUD.device_known,
                k(F_DEVICE) + w * present,
            ),
            net_known: ratio(
                k(F_NET_KNOWN) + w * (1.0 - prior_clean) * FRAUD.net_known,
                k(F_TOR) + k(F_DATACENTER) + k(F_PROXY) + w * (1.0 - prior_clean),
            ),
            retry: ratio(k(F_RETRY) + w * FRAUD.retry, n + w),
            ip_popular: ratio(
                k(F_IP_POPULAR) + w * prior_clean * FRAUD.ip_known * FRAUD.ip_popular,
                k(F_IP_KNOWN) + w * prior_clean * FRAUD.ip_known,
            ),
            ..FRAUD
        }
    }
}

#[derive(Debug, Default, Clone)]
struct CountryStats {
    fast: Decay,
    /// Calls to distinct new numbers, over about a week (the call baseline).
    calls: Decay,
    verified: Decay,
    /// Conversion of all sends, and of sends to numbers never verified.
    all: ConversionStream,
    fresh: ConversionStream,
    /// What the country's verified users to new numbers looked like.
    fresh_legit: FeatureCounts,
    verified_total: u64,
    unverified: f64,
    in_flight: u32,
    /// Set by [`Detector::lift`]: the country's watch stays off until then.
    lifted_until: f64,
    lift_pending: bool,
    novelty_waived: bool,
}

impl CountryStats {
    fn flagged(&self, t: f64) -> bool {
        self.all.flagged(t) || self.fresh.flagged(t)
    }

    /// How much one event counts towards the baselines: fully at normal
    /// volume, less and less in a surge (beyond [`VOLUME_SLACK`] times the
    /// baseline), so a flood cannot rewrite the baseline before the
    /// conversion test has the evidence to flag it.
    fn baseline_weight(&self, t: f64) -> f64 {
        let (now, _) = self.all.vol_short.rate(t, VOL_HL);
        let (base, span) = self.all.vol_base.rate(t, BASE_HL);
        if span < 86400.0 || now <= 0.0 {
            return 1.0;
        }
        (VOLUME_SLACK * base / now).min(1.0)
    }
}

/// A window's conversion against the baseline: the recent conversion, its
/// standard error under the baseline, and the z-score of the drop.
#[derive(Debug, Clone, Copy)]
struct ConversionDrop {
    recent: f64,
    sigma: f64,
    z: f64,
}

impl ConversionDrop {
    /// `verified` of `sends` (more than zero) against `baseline`.
    fn of(baseline: f64, sends: f64, verified: f64) -> ConversionDrop {
        let recent = verified / sends;
        let sigma = (baseline * (1.0 - baseline) / sends).sqrt().max(1e-6);
        ConversionDrop {
            recent,
            sigma,
            z: (baseline - recent) / sigma,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq)]
struct ConversionFigures {
    recent: f64,
    recent_n: f64,
    baseline: f64,
    z: f64,
    volume_ratio: f64,
    pumped: f64,
}

#[derive(Debug, Clone)]
struct Pending {
    t: f64,
    number: u64,
    len: u8,
    cc_len: u8,
    features: u16,
    verified: bool,
    ip: Option<u64>,
    /// The network of a flagged IP.
    flagged_net: Option<u64>,
    device: Option<u64>,
}

/// The network part of an IP: an IPv4 /24 or an IPv6 /48 (as written).
fn network(ip: &str) -> &str {
    if ip.contains(':') {
        let mut end = ip.len();
        let mut groups = 0;
        for (i, b) in ip.bytes().enumerate() {
            if b == b':' {
                groups += 1;
                if groups == 3 {
                    end = i;
                    break;
                }
            }
        }
        ip.get(..end).unwrap_or(ip)
    } else {
        ip.rsplit_once('.').map_or(ip, |(net, _)| net)
    }
}

/// The streaming detector.
#[derive(Debug)]
pub struct Detector {
    mode: Mode,
    settings: Settings,
    ranges: Map<u64, RangeStats>,
    countries: Map<u64, CountryStats>,
    pending: HashMap<String, Pending, BuildHasherDefault<KeyHasher>>,
    /// Sends in time order, to mature them.
    queue: VecDeque<(f64, String)>,
    blocks: Map<u64, Block>,
    recent_numbers: Map<u64, f64>,
    sweep: SweepWindow,
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

/// Powers of ten up to 10^15.
const POW10: [u64; 16] = [
    1,
    10,
    100,
    1_000,
    10_000,
    100_000,
    1_000_000,
    10_000_000,
    100_000_000,
    1_000_000_000,
    10_000_000_000,
    100_000_000_000,
    1_000_000_000_000,
    10_000_000_000_000,
    100_000_000_000_000,
    1_000_000_000_000_000,
];

fn pow10(n: usize) -> u64 {
    POW10.get(n).copied().unwrap_or(u64::MAX)
}

/// A parsed destination: the number's value and length, and its calling
/// code's length.
#[derive(Debug, Clone, Copy)]
struct Number {
    value: u64,
    len: usize,
    cc_len: usize,
}

impl Number {
    fn parse(digits: &str, cc: &str) -> Option<Number> {
        let len = digits.len();
        if len == 0 || len > 15 || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        let cc_len = cc.len();
        if cc_len == 0 || cc_len >= len || !digits.starts_with(cc) {
            return None;
        }
        Some(Number {
            value: digits.parse().ok()?,
            len,
            cc_len,
        })
    }

    fn key(&self) -> u64 {
        pack(self.value, self.len)
    }

    fn country(&self) -> u64 {
        self.prefix(self.len - self.cc_len)
    }

    /// The prefix with `cut` digits removed, packed.
    fn prefix(&self, cut: usize) -> u64 {
        pack(self.value / pow10(cut), self.len.saturating_sub(cut))
    }

    /// Whether the `cut` level is a range below the country.
    fn has_level(&self, cut: usize) -> bool {
        self.len > cut && self.len - cut > self.cc_len
    }

    fn e164(&self) -> String {
        format!("+{:0w$}", self.value, w = self.len)
    }
}

/// The factor for a history feature (a number, IP or 10k block verified
/// before; an IP many users verified from): `fraud` and `legit` are the
/// shares of pumped and of legitimate requests that have it, within the
/// requests it applies to. The ratio is clamped at 1: having the feature
/// can only lower the risk, and lacking it only raise it.
fn history_factor(has: bool, fraud: f64, legit: f64) -> f64 {
    if has {
        (fraud / legit).min(1.0)
    } else {
        ((1.0 - fraud) / (1.0 - legit)).max(1.0)
    }
}

fn smoothed(count: f64, total: f64) -> f64 {
    ((count + 1.0) / (total + 2.0)).clamp(0.001, 0.999)
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
            pending: HashMap::default(),
            queue: VecDeque::new(),
            blocks: Map::default(),
            recent_numbers: Map::default(),
            sweep: SweepWindow::default(),
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

    /// Active blocks and country watches (for listing and lifting).
    pub fn blocks(&self) -> impl Iterator<Item = &Block> {
        self.blocks.values().filter(|b| b.expires > self.now)
    }

    /// Lifts a block (prefix digits, with or without `+`) by hand. True if
    /// there was one. Lifting a country watch switches it off for one
    /// `block_ttl` and takes its last day's conversion as the baseline;
    /// lifting a new-country block accepts the country.
    pub fn lift(&mut self, prefix: &str) -> bool {
        let Some(key) = parse_key(prefix) else {
            return false;
        };
        let Some(block) = self.blocks.remove(&key) else {
            return false;
        };
        if let Some(c) = self.countries.get_mut(&key) {
            if block.rule == RULE_NEW_COUNTRY {
                c.novelty_waived = true;
            }
            if block.rule == RULE_CONVERSION {
                c.lift_pending = true;
                c.all.rebase(self.now);
                c.fresh.rebase(self.now);
            }
        }
        true
    }

    /// Reinstates a persisted block (at startup). Unparsable prefixes are
    /// ignored.
    pub fn restore(&mut self, block: Block) {
        if let Some(key) = parse_key(&block.prefix) {
            self.blocks.insert(key, block);
        }
    }

    /// Tracked state sizes (ranges, countries, pending sends), for tests and
    /// monitoring of the memory bound.
    pub fn footprint(&self) -> (usize, usize, usize) {
        (self.ranges.len(), self.countries.len(), self.pending.len())
    }

    /// Sends older than `mature_after` and never verified count as failures.
    fn mature(&mut self, now: f64) {
        let horizon = now - self.settings.mature_after;
        while let Some((t, _)) = self.queue.front() {
            if *t > horizon {
                break;
            }
            let Some((_, id)) = self.queue.pop_front() else {
                break;
            };
            let Some(p) = self.pending.remove(&id) else {
                continue;
            };
            let n = Number {
                value: p.number,
                len: usize::from(p.len),
                cc_len: usize::from(p.cc_len),
            };
            let v = if p.verified { 1.0 } else { 0.0 };
            let c = self.countries.entry(n.country()).or_default();
            if !p.verified {
                c.in_flight = c.in_flight.saturating_sub(1);
                c.unverified += 1.0;
            }
            let w = c.baseline_weight(now);
            c.all.count(now, v, w);
            if p.features & F_NUM_KNOWN == 0 {
                c.fresh.count(now, v, w);
            }
            for cut in LEVELS.into_iter().take(4) {
                if n.has_level(cut)
                    && let Some(r) = self.ranges.get_mut(&n.prefix(cut))
                {
                    r.matured.add(now, RANGE_CONV_HL, 1.0);
                    r.matured_verified.add(now, RANGE_CONV_HL, v);
                }
            }
        }
    }

    /// Decides on one send, before it goes out.
    pub fn decide(&mut self, req: &Request<'_>) -> Verdict {
        if self.mode == Mode::Off {
            return Verdict::allow();
        }
        let t = req.t;
        self.now = self.now.max(t);
        self.mature(t);
        if !req.valid {
            return Verdict::invalid(req.digits);
        }
        let Some(n) = Number::parse(req.digits, req.calling_code) else {
            // Valid but not digits we can range: nothing to judge on.
            return Verdict::allow();
        };
        let cc = n.country();
        // Verified before: looked up once per decision.
        let known = self.known_numbers.contains(mix(n.key()));
        let distinct = self.note_attempt(&n, t);
        // Count the attempt in every range on its path (refused attempts
        // too: a sweep that goes on keeps its ranges hot).
        for cut in LEVELS {
            if n.has_level(cut) {
                let r = self.ranges.entry(n.prefix(cut)).or_default();
                r.fast.add(t, FAST_HL, distinct);
                r.last = t;
            }
        }
        self.countries
            .entry(cc)
            .or_default()
            .fast
            .add(t, FAST_HL, distinct);
        let call_expected = if req.channel == Channel::Call {
            self.note_call(&n, known, t, distinct)
        } else {
            None
        };
        let sweep = if self.settings.sweep_numbers > 0 && !known {
            // Neighbours verified since they were tried are users, not a sweep.
            let verified = &self.known_numbers;
            self.sweep
                .note(n.len as u8, n.value, t, EVIDENCE_NUMBERS, |v| {
                    !verified.contains(mix(pack(v, n.len)))
                })
        } else {
            Vec::new()
        };

        if let Some(v) = self.standing_block(&n, t) {
            return v;
        }
        // From here on, attempts count for the country's volume.
        {
            let fresh = !known;
            let c = self.countries.entry(cc).or_default();
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
        if let Some(v) = self.hosted_call(req, &n, known) {
            return v;
        }
        if let Some(v) = self.new_country(req, &n, t) {
            return v;
        }
        if let Some(v) = self.density(&n, req.channel, t) {
            return v;
        }
        // After density, so that a sweep that goes on escalates to the
        // wider range density finds.
        if let Some(v) = self.sweep_block(&n, &sweep, t) {
            return v;
        }
        if let Some(expected) = call_expected
            && let Some(v) = self.call_density(&n, expected, t)
        {
            return v;
        }
        if let Some(v) = self.range_conversion(&n, t) {
            return v;
        }
        let mut features = self.features(req, &n, known);
        if distinct == 0.0 {
            features |= F_RETRY;
        }
        if let Some(v) = self.country_conversion(&n, features, t) {
            return v;
        }
        self.record_send(req, &n, features);
        Verdict::allow()
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

    /// Up to [`EVIDENCE_NUMBERS`] recent distinct numbers under `prefix`.
    fn recent_under(&self, prefix: u64) -> Vec<String> {
        let (p, plen) = (prefix >> 4, (prefix & 15) as usize);
        let mut out: Vec<(u64, u8)> = Vec::new();
        for (value, len) in self.ring.iter().rev() {
            let len_us = usize::from(*len);
            if len_us < plen || value / pow10(len_us - plen) != p {
                continue;
            }
            if !out.contains(&(*value, *len)) {
                out.push((*value, *len));
                if out.len() >= EVIDENCE_NUMBERS {
                    break;
                }
            }
        }
        out.iter()
            .map(|(v, l)| format!("+{:0w$}", v, w = usize::from(*l)))
            .collect()
    }

    fn standing_block(&mut self, n: &Number, t: f64) -> Option<Verdict> {
        let ttl = self.settings.block_ttl;
        for cut in LEVELS {
            if !n.has_level(cut) {
                continue;
            }
            let key = n.prefix(cut);
            let Some(b) = self.blocks.get_mut(&key) else {
                continue;
            };
            if !blocks_range(b.rule) {
                continue;
            }
            if b.expires <= t {
                self.blocks.remove(&key);
                continue;
            }
            b.expires = t + ttl;
            b.refused += 1;
            let mut numbers = b.numbers.clone();
            let this = n.e164();
            if !numbers.contains(&this) {
                numbers.insert(0, this);
                numbers.truncate(EVIDENCE_NUMBERS);
            }
            return Some(Verdict {
                allow: false,
                rule: b.rule,
                range: Some(format!("+{}", b.prefix)),
                evidence: b.evidence.clone(),
                numbers,
            });
        }
        None
    }

    /// Opens (or refreshes) a block and returns its verdict.
    fn block(
        &mut self,
        key: u64,
        rule: &'static str,
        evidence: String,
        numbers: Vec<String>,
        t: f64,
    ) -> Verdict {
        let prefix = unpack(key);
        if blocks_range(rule) {
            // A wider block makes the narrower ones under it redundant.
            self.blocks
                .retain(|_, b| b.prefix == prefix || !b.prefix.starts_with(&prefix));
        }
        let ttl = self.settings.block_ttl;
        let b = self.blocks.entry(key).or_insert_with(|| Block {
            prefix: prefix.clone(),
            rule,
            evidence: String::new(),
            numbers: Vec::new(),
            since: t,
            expires: t,
            refused: 0,
        });
        if b.expires <= t && b.refused > 0 {
            b.since = t;
            b.refused = 0;
        }
        b.rule = rule;
        b.evidence.clone_from(&evidence);
        b.expires = t + ttl;
        b.refused += 1;
        if blocks_range(rule) {
            b.numbers.clone_from(&numbers);
        } else {
            for x in numbers.iter().rev() {
                if !b.numbers.contains(x) {
                    b.numbers.insert(0, x.clone());
                }
            }
            b.numbers.truncate(EVIDENCE_NUMBERS);
        }
        Verdict {
            allow: false,
            rule,
            range: Some(format!("+{prefix}")),
            evidence,
            numbers,
        }
    }

    fn new_country(&mut self, req: &Request<'_>, n: &Number, t: f64) -> Option<Verdict> {
        let cc = n.country();
        let c = self.countries.get(&cc)?;
        if c.verified_total >= NOVEL_VERIFIED || c.novelty_waived {
            if self
                .blocks
                .get(&cc)
                .is_some_and(|b| b.rule == RULE_NEW_COUNTRY)
            {
                self.blocks.remove(&cc);
            }
            return None;
        }
        let mut budget = self.settings.new_country_budget;
        if req.price_micros > 0 {
            budget *= (NOVELTY_REFERENCE_MICROS / req.price_micros as f64).clamp(0.25, 2.0);
        }
        if req.risk != Risk::Standard {
            budget *= 0.5;
        }
        let budget = budget.max(1.0).floor() + 2.0 * c.verified_total as f64;
        let unverified = c.unverified + f64::from(c.in_flight);
        if unverified < budget {
            if self
                .blocks
                .get(&cc)
                .is_some_and(|b| b.rule == RULE_NEW_COUNTRY)
            {
                self.blocks.remove(&cc);
            }
            return None;
        }
        let evidence = format!(
            "+{}: no sending history ({} verified), {} sends unverified, budget {}",
            unpack(cc),
            c.verified_total,
            unverified,
            budget
        );
        let mut numbers = vec![n.e164()];
        numbers.extend(
            self.recent_under(cc)
                .into_iter()
                .filter(|x| *x != n.e164())
                .take(EVIDENCE_NUMBERS - 1),
        );
        Some(self.block(cc, RULE_NEW_COUNTRY, evidence, numbers, t))
    }

    /// Counts a call to a new number in its ranges and the country's call
    /// baseline; returns the calls the country made in one [`CALL_HL`] of
    /// the last week, on average (before this one).
    fn note_call(&mut self, n: &Number, known: bool, t: f64, distinct: f64) -> Option<f64> {
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
    fn call_density(&mut self, n: &Number, expected: f64, t: f64) -> Option<Verdict> {
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
        Some(self.block(key, RULE_DENSITY, evidence, numbers, t))
    }

    /// Refuses a call to a number never verified from a datacenter or Tor IP
    /// with no device fingerprint: toll-fraud bots dial from hosting, a user
    /// who asks for a code by voice dials from a phone or a browser. The
    /// send alone is refused; no range is blocked.
    fn hosted_call(&self, req: &Request<'_>, n: &Number, known: bool) -> Option<Verdict> {
        let hosting = IpFlags::DATACENTER.with(IpFlags::TOR);
        let flags = IpFlags(req.ip_flags.0 & hosting.0);
        if !self.settings.refuse_hosted_calls
            || req.channel != Channel::Call
            || known
            || flags.is_empty()
            || req.device.is_some_and(|d| !d.is_empty())
        {
            return None;
        }
        Some(Verdict {
            allow: false,
            rule: RULE_HOSTED_CALL,
            range: None,
            evidence: format!(
                "call to {} (never verified) from a {} IP with no device fingerprint",
                n.e164(),
                flags.names().join("/")
            ),
            numbers: vec![n.e164()],
        })
    }

    /// Refuses the 100-number block when enough never-verified neighbours
    /// were tried within the sweep window.
    fn sweep_block(&mut self, n: &Number, near: &[u64], t: f64) -> Option<Verdict> {
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
        Some(self.block(key, RULE_SWEEP, evidence, numbers, t))
    }

    /// Expected share of the country's traffic that falls in a range.
    fn share(&self, n: &Number, cut: usize, range: &RangeStats, country_verified: f64) -> f64 {
        // Uniform over the national number space, ×10 because users sit
        // in the mobile ranges, as a prior worth 20 verified sends.
        let national = n.len - n.cc_len;
        let uniform = (pow10(cut) as f64 / pow10(national) as f64 * 10.0).min(1.0);
        let v = range.verified.get(self.now, LONG_HL);
        (v + 20.0 * uniform) / (country_verified + 20.0)
    }

    fn density(&mut self, n: &Number, channel: Channel, t: f64) -> Option<Verdict> {
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
        Some(self.block(key, rule, evidence, numbers, t))
    }

    fn baseline_conversion(c: &CountryStats, t: f64) -> f64 {
        c.all.baseline(t)
    }

    fn range_conversion(&mut self, n: &Number, t: f64) -> Option<Verdict> {
        let c = self.countries.get(&n.country())?;
        let baseline = Self::baseline_conversion(c, t);
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
            return Some(self.block(key, RULE_LOW_CONVERSION, evidence, numbers, t));
        }
        None
    }

    fn features(&self, req: &Request<'_>, n: &Number, known: bool) -> u16 {
        let mut f = 0;
        if known {
            f |= F_NUM_KNOWN;
        }
        if let Some(ip) = req.ip.filter(|s| !s.is_empty()) {
            f |= F_IP;
            if req.ip_flags.is_empty() {
                f |= F_IP_CLEAN;
                let h = hash_str(1, ip);
                if self.known_ips.contains(h) {
                    f |= F_IP_KNOWN;
                    if self
                        .ip_verified
                        .as_ref()
                        .is_some_and(|s| s.get(h) >= POPULAR_IP_VERIFIED)
                    {
                        f |= F_IP_POPULAR;
                    }
                }
            }
        }
        if let Some(d) = req.device.filter(|s| !s.is_empty()) {
            f |= F_DEVICE;
            if self.known_devices.contains(hash_str(2, d)) {
                f |= F_DEVICE_KNOWN;
            }
        }
        if n.has_level(4) {
            let block = n.prefix(4);
            if self.known_blocks.contains(mix(block))
                || self
                    .ranges
                    .get(&block)
                    .is_some_and(|r| r.verified.get(self.now, LONG_HL) >= 0.5)
            {
                f |= F_BLOCK_KNOWN;
            }
        }
        if !req.ip_flags.is_empty()
            && let Some(ip) = req.ip.filter(|s| !s.is_empty())
            && self.known_flagged_nets.contains(hash_str(3, network(ip)))
        {
            f |= F_NET_KNOWN;
        }
        if req.ip_flags.contains(IpFlags::TOR) {
            f |= F_TOR;
        } else if req.ip_flags.contains(IpFlags::DATACENTER) {
            f |= F_DATACENTER;
        } else if req.ip_flags.contains(IpFlags::PROXY) {
            f |= F_PROXY;
        }
        f
    }

    /// What the country's verified sends to new numbers looked like
    /// (blended with all countries' while it has little history).
    fn fresh_rates(&self, cc: u64) -> FeatureCounts {
        match self.countries.get(&cc) {
            Some(c) => c.fresh_legit.blend(&self.fresh_legit, FRESH_PRIOR_WEIGHT),
            None => self.fresh_legit.clone(),
        }
    }

    /// Likelihood ratio (pumped vs legitimate) of a request's features, and
    /// the factors worth citing. Verified history can only lower the risk
    /// and its absence only raise it (factors are clamped at 1).
    ///
    /// A request to a number never verified is compared with the verified
    /// sends to new numbers of the same country (blended with all countries'
    /// while the country has little history): its prior is then the pumped
    /// share of the country's new-number sends, so the number's novelty is
    /// not counted again.
    fn likelihood(&self, f: u16, cc: u64) -> (f64, Vec<String>) {
        let fresh = f & F_NUM_KNOWN == 0;
        let blended;
        let legit = if fresh {
            blended = self.fresh_rates(cc);
            &blended
        } else {
            &self.legit
        };
        let total = legit.total;
        let fraud = self.fraud.side();
        let mut lr = 1.0;
        let mut why = Vec::new();
        if fresh {
            why.push("number never verified".to_owned());
        }
        let mut factor = |name: &str, x: f64| {
            lr *= x;
            if !(0.5..=2.0).contains(&x) {
                why.push(format!("{name} ×{x:.2}"));
            }
        };
        if !fresh {
            let p = smoothed(legit.get(F_NUM_KNOWN), total);
            factor(
                "number verified before",
                history_factor(true, fraud.number_known, p),
            );
        }
        if f & F_IP != 0 {
            let with_ip = legit.get(F_IP);
            let p = smoothed(legit.get(F_IP_KNOWN), legit.get(F_IP_CLEAN));
            // A flagged IP is a shared exit: its history says nothing more.
            let flagged = f & (F_TOR | F_DATACENTER | F_PROXY) != 0;
            if !flagged {
                let known = f & F_IP_KNOWN != 0;
                factor(
                    if known {
                        "IP verified before"
                    } else {
                        "IP never verified"
                    },
                    history_factor(known, fraud.ip_known, p),
                );
                if known && self.settings.popular_ip {
                    let popular = f & F_IP_POPULAR != 0;
                    let p = smoothed(legit.get(F_IP_POPULAR), legit.get(F_IP_KNOWN));
                    factor(
                        if popular {
                            "IP many users verified from"
                        } else {
                            "IP few users verified from"
                        },
                        history_factor(popular, fraud.ip_popular, p),
                    );
                }
            }
            let tor = smoothed(legit.get(F_TOR), with_ip);
            let dc = smoothed(legit.get(F_DATACENTER), with_ip);
            let proxy = smoothed(legit.get(F_PROXY), with_ip);
            if flagged {
                let legit_flagged = legit.get(F_TOR) + legit.get(F_DATACENTER) + legit.get(F_PROXY);
                let p = smoothed(legit.get(F_NET_KNOWN), legit_flagged);
                if f & F_NET_KNOWN != 0 {
                    factor(
                        "flagged IP in a network users verified from",
                        fraud.net_known / p,
                    );
                } else {
                    factor(
                        "flagged IP in a network no user verified from",
                        (1.0 - fraud.net_known) / (1.0 - p),
                    );
                }
            }
            if f & F_TOR != 0 {
                factor("Tor exit", fraud.tor / tor);
            } else if f & F_DATACENTER != 0 {
                factor("datacenter IP", fraud.datacenter / dc);
            } else if f & F_PROXY != 0 {
                factor("proxy IP", fraud.proxy / proxy);
            } else {
                let clean = (1.0 - tor - dc - proxy).max(0.01);
                let fraud_clean = 1.0 - fraud.tor - fraud.datacenter - fraud.proxy;
                factor("unflagged IP", fraud_clean / clean);
            }
        }
        let missing = smoothed(total - legit.get(F_DEVICE), total);
        if missing > 0.5 {
            // Most users come without a device id: the integration does
            // not send one, so its absence says nothing.
        } else if f & F_DEVICE == 0 {
            factor("no device", fraud.device_missing / missing);
        } else {
            let known = smoothed(legit.get(F_DEVICE_KNOWN), total);
            let fraud_present = 1.0 - fraud.device_missing;
            if f & F_DEVICE_KNOWN != 0 {
                factor(
                    "device verified before",
                    (fraud_present * fraud.device_known / known).min(1.0),
                );
            } else {
                factor(
                    "new device",
                    fraud_present * (1.0 - fraud.device_known) / (1.0 - missing - known).max(0.01),
                );
            }
        }
        let p = smoothed(legit.get(F_RETRY), total);
        if f & F_RETRY != 0 {
            factor("a retry", fraud.retry / p);
        } else {
            factor("not a retry", (1.0 - fraud.retry) / (1.0 - p));
        }
        let p = smoothed(legit.get(F_BLOCK_KNOWN), total);
        let known = f & F_BLOCK_KNOWN != 0;
        factor(
            if known {
                "10k block verified before"
            } else {
                "10k block never verified"
            },
            history_factor(known, fraud.block_known, p),
        );
        (lr, why)
    }

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

    fn country_conversion(&mut self, n: &Number, features: u16, t: f64) -> Option<Verdict> {
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
        Some(self.block(cc, RULE_CONVERSION, evidence, vec![n.e164()], t))
    }

    fn record_send(&mut self, req: &Request<'_>, n: &Number, features: u16) {
        if self.ranges.len() >= MAX_RANGES {
            self.prune(req.t);
        }
        if self.pending.len() >= MAX_PENDING {
            // Bounded memory: the oldest pending sends are forgotten.
            while self.pending.len() >= MAX_PENDING / 2 {
                let Some((_, id)) = self.queue.pop_front() else {
                    break;
                };
                self.pending.remove(&id);
            }
        }
        let c = self.countries.entry(n.country()).or_default();
        c.in_flight += 1;
        self.pending.insert(
            req.id.to_owned(),
            Pending {
                t: req.t,
                number: n.value,
                len: n.len as u8,
                cc_len: n.cc_len as u8,
                features,
                verified: false,
                ip: req.ip.filter(|s| !s.is_empty()).map(|s| hash_str(1, s)),
                flagged_net: req
                    .ip
                    .filter(|s| !s.is_empty() && !req.ip_flags.is_empty())
                    .map(|s| hash_str(3, network(s))),
                device: req.device.filter(|s| !s.is_empty()).map(|s| hash_str(2, s)),
            },
        );
        self.queue.push_back((req.t, req.id.to_owned()));
    }

    /// Forgets ranges with nothing recent and no verified history.
    fn prune(&mut self, t: f64) {
        self.ranges.retain(|_, r| {
            r.fast.get(t, FAST_HL) > 0.05
                || r.verified.get(t, LONG_HL) > 0.5
                || r.matured.get(t, RANGE_CONV_HL) > 0.5
        });
        if self.ranges.len() >= MAX_RANGES * 9 / 10 {
            // Still full: keep the most recently touched half.
            let mut lasts: Vec<f64> = self.ranges.values().map(|r| r.last).collect();
            let mid = lasts.len() / 2;
            lasts.select_nth_unstable_by(mid, f64::total_cmp);
            let cutoff = lasts.get(mid).copied().unwrap_or(t);
            self.ranges.retain(|_, r| r.last >= cutoff);
        }
    }

    /// A delivery receipt for an allowed send. An undelivered send is not
    /// the user's failure: it is dropped from the conversion statistics.
    pub fn delivered(&mut self, t: f64, id: &str, delivered: bool) {
        self.now = self.now.max(t);
        self.mature(t);
        if delivered {
            return;
        }
        if let Some(p) = self.pending.remove(id) {
            let n = Number {
                value: p.number,
                len: usize::from(p.len),
                cc_len: usize::from(p.cc_len),
            };
            if let Some(c) = self.countries.get_mut(&n.country())
                && !p.verified
            {
                c.in_flight = c.in_flight.saturating_sub(1);
            }
        }
    }

    /// A successful check for an allowed send.
    pub fn verified(&mut self, t: f64, id: &str) {
        self.now = self.now.max(t);
        self.mature(t);
        let Some(p) = self.pending.get_mut(id) else {
            return;
        };
        if p.verified {
            return;
        }
        p.verified = true;
        let p = p.clone();
        let n = Number {
            value: p.number,
            len: usize::from(p.len),
            cc_len: usize::from(p.cc_len),
        };
        let c = self.countries.entry(n.country()).or_default();
        c.verified_total += 1;
        c.in_flight = c.in_flight.saturating_sub(1);
        c.verified.add(t, LONG_HL, 1.0);
        // In a country under watch, verifications may be the attacker's
        // (conversion mimics): they do not teach what users look like.
        let watched = c.flagged(t);
        for cut in LEVELS {
            if n.has_level(cut)
                && let Some(r) = self.ranges.get_mut(&n.prefix(cut))
            {
                r.verified.add(t, LONG_HL, 1.0);
                if t - p.t <= 2.0 * FAST_HL {
                    r.fast_verified.add(t, FAST_HL, 1.0);
                }
            }
        }
        if watched {
            return;
        }
        self.known_numbers.insert(mix(n.key()));
        if let Some(ip) = p.ip {
            self.known_ips.insert(ip);
            if p.features & F_IP_CLEAN != 0
                && let Some(s) = self.ip_verified.as_mut()
            {
                s.add(t, ip);
            }
        }
        if let Some(d) = p.device {
            self.known_devices.insert(d);
        }
        if n.has_level(4) {
            self.known_blocks.insert(mix(n.prefix(4)));
        }
        if let Some(net) = p.flagged_net {
            self.known_flagged_nets.insert(net);
        }
        // The legitimate side of the score, from what real users look like.
        self.legit.add(t, p.features);
        if p.features & F_NUM_KNOWN == 0 {
            self.fresh_legit.add(t, p.features);
            if let Some(c) = self.countries.get_mut(&n.country()) {
                c.fresh_legit.add(t, p.features);
            }
        }
    }
}

#[cfg(test)]
mod tests;
