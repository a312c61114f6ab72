//! Fraud Guard's detector: pure, streaming, with time passed in.
//!
//! Before each send, [`Detector::decide`] answers allow or block, with the
//! rule and the evidence. Afterwards it learns from what happened to the
//! sends it allowed: delivery receipts ([`Detector::delivered`]) and
//! successful checks ([`Detector::verified`]). It never learns the outcome
//! of a send it blocked, as in reality.
//!
//! Ranges are prefixes of the E.164 digits. The detector looks at the
//! 100-, 1,000- and 10,000-number blocks and the 100,000-number range of
//! each destination, and at its country (by calling code):
//!
//! - `fraudguard.burst`: many sends to one block in a short window, none of
//!   them verified (sequential pumping);
//! - `fraudguard.low_conversion`: a range whose sends go unverified far more
//!   than its country's (random-in-range pumping), judged on sends old
//!   enough that a real user would have verified by now;
//! - `fraudguard.new_country`: a country with no verified send yet may have
//!   only a few unverified sends in flight;
//! - `fraudguard.invalid_number`: numbers that are not valid.
//!
//! A block covers the narrowest range that holds the attack and expires
//! unless the attack goes on (each refused send renews it).

use std::collections::{HashMap, VecDeque};

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
}

/// Tuning, derived from the mode.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Settings {
    /// Sends to one 1,000-number block within `burst_window` seconds,
    /// none verified, that make a burst.
    pub burst_sends: usize,
    pub burst_window: f64,
    /// A send counts as unverified once this old (seconds).
    pub mature_after: f64,
    /// Unverified sends a range needs before its conversion is judged.
    pub min_failures: u32,
    /// A range is pumped when its conversion is below this share of its
    /// country's.
    pub conversion_ratio: f64,
    /// Unverified sends allowed in flight to a country with no verified send.
    pub new_country_in_flight: u32,
    /// How long a block lasts without new attempts (seconds).
    pub block_ttl: f64,
}

impl Settings {
    pub fn for_mode(mode: Mode) -> Settings {
        let base = Settings {
            burst_sends: 5,
            burst_window: 60.0,
            mature_after: 90.0,
            min_failures: 10,
            conversion_ratio: 0.25,
            new_country_in_flight: 5,
            block_ttl: 12.0 * 3600.0,
        };
        match mode {
            Mode::Off | Mode::Standard => base,
            Mode::Basic => Settings {
                burst_sends: 8,
                min_failures: 20,
                conversion_ratio: 0.15,
                new_country_in_flight: 10,
                ..base
            },
            Mode::Max => Settings {
                burst_sends: 4,
                min_failures: 6,
                conversion_ratio: 0.4,
                new_country_in_flight: 3,
                ..base
            },
        }
    }
}

/// One send to decide on.
#[derive(Debug, Clone)]
pub struct Request<'a> {
    /// Seconds (any epoch; only differences matter).
    pub t: f64,
    pub id: &'a str,
    /// E.164 digits without `+`.
    pub digits: &'a str,
    /// The calling code's digits (its length splits country and national number).
    pub calling_code: &'a str,
    pub valid: bool,
}

/// What the detector decided, and why.
#[derive(Debug, Clone, PartialEq)]
pub struct Verdict {
    pub allow: bool,
    /// `fraudguard.*`, or `allow`.
    pub rule: &'static str,
    /// The blocked range (`+` and the prefix digits), when one applies.
    pub range: Option<String>,
    /// Human-readable evidence.
    pub evidence: String,
}

impl Verdict {
    fn allow() -> Verdict {
        Verdict {
            allow: true,
            rule: "allow",
            range: None,
            evidence: String::new(),
        }
    }
}

/// An active block on a range.
#[derive(Debug, Clone, PartialEq)]
pub struct Block {
    pub prefix: String,
    pub rule: &'static str,
    pub evidence: String,
    pub since: f64,
    pub expires: f64,
    /// Refused sends while it stood.
    pub refused: u64,
}

#[derive(Debug, Default, Clone)]
struct RangeStats {
    /// Times of recent sends (bounded).
    recent: VecDeque<f64>,
    /// Recent sends verified (within the burst window).
    recent_verified: u32,
    sent: u32,
    verified: u32,
    /// Matured sends that were never verified.
    failed: u32,
}

impl RangeStats {
    /// Drops attempts at or before `window_start`, and the oldest beyond
    /// room for one more (at most [`RECENT`]).
    fn trim(&mut self, window_start: f64) {
        while self.recent.front().is_some_and(|r| *r <= window_start) || self.recent.len() >= RECENT
        {
            self.recent.pop_front();
        }
    }
}

#[derive(Debug, Default, Clone)]
struct CountryStats {
    sent: u64,
    verified: u64,
    failed: u64,
    /// Unverified sends not yet matured.
    in_flight: u32,
}

impl CountryStats {
    /// Smoothed conversion (a prior of 0.7 worth 20 sends).
    fn conversion(&self) -> f64 {
        (self.verified as f64 + 14.0) / ((self.verified + self.failed) as f64 + 20.0)
    }
}

#[derive(Debug, Clone)]
struct Pending {
    t: f64,
    digits: String,
    cc_len: usize,
    verified: bool,
}

/// Block sizes looked at, as digits cut from the end of the number.
const LEVELS: [usize; 4] = [2, 3, 4, 5];
/// Most sends remembered per range for bursts.
const RECENT: usize = 32;
/// Most ranges tracked; beyond, the oldest-touched are dropped.
const MAX_RANGES: usize = 1_000_000;

/// The streaming detector.
#[derive(Debug)]
pub struct Detector {
    mode: Mode,
    settings: Settings,
    ranges: HashMap<String, RangeStats>,
    countries: HashMap<String, CountryStats>,
    pending: HashMap<String, Pending>,
    /// Sends in time order, to mature them.
    queue: VecDeque<(f64, String)>,
    blocks: HashMap<String, Block>,
}

fn prefix(digits: &str, cut: usize) -> Option<&str> {
    digits.get(..digits.len().checked_sub(cut)?)
}

impl Detector {
    pub fn new(mode: Mode) -> Detector {
        Detector {
            mode,
            settings: Settings::for_mode(mode),
            ranges: HashMap::new(),
            countries: HashMap::new(),
            pending: HashMap::new(),
            queue: VecDeque::new(),
            blocks: HashMap::new(),
        }
    }

    pub fn with_settings(mode: Mode, settings: Settings) -> Detector {
        Detector {
            settings,
            ..Detector::new(mode)
        }
    }

    /// Active blocks (for listing and lifting).
    pub fn blocks(&self) -> impl Iterator<Item = &Block> {
        self.blocks.values()
    }

    /// Lifts a block by hand. True if there was one.
    pub fn lift(&mut self, prefix: &str) -> bool {
        self.blocks.remove(prefix).is_some()
    }

    /// Sends older than `mature_after` and never verified count as failures.
    fn mature(&mut self, now: f64) {
        while let Some((t, _)) = self.queue.front() {
            if *t > now - self.settings.mature_after {
                break;
            }
            let Some((_, id)) = self.queue.pop_front() else {
                break;
            };
            let Some(p) = self.pending.remove(&id) else {
                continue;
            };
            let cc = p.digits.get(..p.cc_len).unwrap_or("").to_owned();
            let c = self.countries.entry(cc).or_default();
            c.in_flight = c.in_flight.saturating_sub(u32::from(!p.verified));
            if p.verified {
                continue;
            }
            c.failed += 1;
            for cut in LEVELS {
                if let Some(r) = prefix(&p.digits, cut).and_then(|k| self.ranges.get_mut(k)) {
                    r.failed += 1;
                }
            }
        }
    }

    /// Decides on one send, before it goes out.
    pub fn decide(&mut self, req: &Request<'_>) -> Verdict {
        if self.mode == Mode::Off {
            return Verdict::allow();
        }
        self.mature(req.t);
        if !req.valid {
            return Verdict {
                allow: false,
                rule: "fraudguard.invalid_number",
                range: None,
                evidence: format!("+{} is not a valid number", req.digits),
            };
        }
        // A standing block on any enclosing range: renewed while it is hit.
        for cut in LEVELS {
            let Some(key) = prefix(req.digits, cut) else {
                continue;
            };
            if let Some(b) = self.blocks.get_mut(key) {
                if b.expires > req.t {
                    b.expires = req.t + self.settings.block_ttl;
                    b.refused += 1;
                    let verdict = Verdict {
                        allow: false,
                        rule: b.rule,
                        range: Some(format!("+{key}")),
                        evidence: b.evidence.clone(),
                    };
                    // Refused attempts are evidence too: a sweep that moves
                    // on to the next block finds its parent already busy.
                    self.record_attempt(req);
                    return verdict;
                }
                self.blocks.remove(key);
            }
        }
        let cc_len = req.calling_code.len();
        let cc = req.calling_code.to_owned();
        // A country with no verified send: only a few unverified in flight.
        let country = self.countries.get(&cc).cloned().unwrap_or_default();
        if country.verified == 0 && country.in_flight >= self.settings.new_country_in_flight {
            return Verdict {
                allow: false,
                rule: "fraudguard.new_country",
                range: Some(format!("+{cc}")),
                evidence: format!(
                    "+{cc}: no verified send yet and {} unverified in flight",
                    country.in_flight
                ),
            };
        }
        // Bursts (1,000- and 100-number blocks) and low conversion (10,000
        // and 100,000), narrowest first.
        let country_conversion = country.conversion();
        for cut in LEVELS {
            let Some(key) = prefix(req.digits, cut) else {
                continue;
            };
            if key.len() <= cc_len {
                continue;
            }
            let Some(r) = self.ranges.get(key) else {
                continue;
            };
            let window_start = req.t - self.settings.burst_window;
            let recent = r.recent.iter().filter(|t| **t > window_start).count();
            if cut <= 3 && recent + 1 >= self.settings.burst_sends && r.recent_verified == 0 {
                let evidence = format!(
                    "+{key}: {} sends in {:.0} s, none verified",
                    recent + 1,
                    self.settings.burst_window
                );
                return self.block(key, "fraudguard.burst", evidence, req.t);
            }
            let judged = r.verified + r.failed;
            if cut >= 4 && r.failed >= self.settings.min_failures {
                let conversion = f64::from(r.verified) / f64::from(judged.max(1));
                if conversion < self.settings.conversion_ratio * country_conversion {
                    let evidence = format!(
                        "+{key}: {} of {} matured sends verified ({:.0}%), country +{cc} converts {:.0}%",
                        r.verified,
                        judged,
                        conversion * 100.0,
                        country_conversion * 100.0
                    );
                    return self.block(key, "fraudguard.low_conversion", evidence, req.t);
                }
            }
        }
        self.record_send(req, cc, cc_len);
        Verdict::allow()
    }

    fn block(&mut self, key: &str, rule: &'static str, evidence: String, now: f64) -> Verdict {
        // Narrowest first, but a second block of the same rule under one
        // parent range means the attack spans it: block the parent.
        let parent = key.get(..key.len().saturating_sub(1)).unwrap_or(key);
        let spans = self.blocks.values().any(|b| {
            b.rule == rule && b.prefix != key && b.prefix.starts_with(parent) && b.expires > now
        });
        let key = if spans && parent.len() + 5 >= key.len() {
            parent
        } else {
            key
        };
        self.blocks.insert(
            key.to_owned(),
            Block {
                prefix: key.to_owned(),
                rule,
                evidence: evidence.clone(),
                since: now,
                expires: now + self.settings.block_ttl,
                refused: 1,
            },
        );
        Verdict {
            allow: false,
            rule,
            range: Some(format!("+{key}")),
            evidence,
        }
    }

    fn record_attempt(&mut self, req: &Request<'_>) {
        let window_start = req.t - self.settings.burst_window;
        for cut in LEVELS {
            if let Some(key) = prefix(req.digits, cut) {
                let r = self.ranges.entry(key.to_owned()).or_default();
                r.trim(window_start);
                r.recent.push_back(req.t);
            }
        }
    }

    fn record_send(&mut self, req: &Request<'_>, cc: String, cc_len: usize) {
        if self.ranges.len() >= MAX_RANGES {
            // Bounded memory: forget ranges with nothing recent.
            let horizon = req.t - self.settings.burst_window;
            self.ranges
                .retain(|_, r| r.recent.back().is_some_and(|t| *t > horizon) || r.failed > 0);
        }
        for cut in LEVELS {
            if let Some(key) = prefix(req.digits, cut) {
                let r = self.ranges.entry(key.to_owned()).or_default();
                r.sent += 1;
                r.trim(req.t - self.settings.burst_window);
                if r.recent.is_empty() {
                    r.recent_verified = 0;
                }
                r.recent.push_back(req.t);
            }
        }
        let c = self.countries.entry(cc).or_default();
        c.sent += 1;
        c.in_flight += 1;
        self.pending.insert(
            req.id.to_owned(),
            Pending {
                t: req.t,
                digits: req.digits.to_owned(),
                cc_len,
                verified: false,
            },
        );
        self.queue.push_back((req.t, req.id.to_owned()));
    }

    /// A delivery receipt for an allowed send (used for evidence only: a
    /// failed delivery is not the user's fault, so it is not a failure).
    pub fn delivered(&mut self, t: f64, id: &str, delivered: bool) {
        self.mature(t);
        if !delivered && let Some(p) = self.pending.remove(id) {
            // Undeliverable: neither a conversion nor a pumping signal.
            let cc = p.digits.get(..p.cc_len).unwrap_or("").to_owned();
            if let Some(c) = self.countries.get_mut(&cc) {
                c.in_flight = c.in_flight.saturating_sub(1);
            }
        }
    }

    /// A successful check for an allowed send.
    pub fn verified(&mut self, t: f64, id: &str) {
        self.mature(t);
        let Some(p) = self.pending.get_mut(id) else {
            return;
        };
        if p.verified {
            return;
        }
        p.verified = true;
        let within_window = t - p.t <= self.settings.burst_window;
        let digits = p.digits.clone();
        let cc = digits.get(..p.cc_len).unwrap_or("").to_owned();
        let c = self.countries.entry(cc).or_default();
        c.verified += 1;
        c.in_flight = c.in_flight.saturating_sub(1);
        for cut in LEVELS {
            if let Some(r) = prefix(&digits, cut).and_then(|k| self.ranges.get_mut(k)) {
                r.verified += 1;
                if within_window {
                    r.recent_verified += 1;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req<'a>(t: f64, id: &'a str, digits: &'a str, cc: &'a str) -> Request<'a> {
        Request {
            t,
            id,
            digits,
            calling_code: cc,
            valid: true,
        }
    }

    /// Warms a country up with verified traffic spread over many blocks.
    fn warm(d: &mut Detector, cc: &str, n: usize) -> f64 {
        let mut t = 0.0;
        for i in 0..n {
            let digits = format!("{cc}7{:03}{:05}", i % 997, i * 7919 % 100_000);
            let id = format!("w{i}");
            assert!(d.decide(&req(t, &id, &digits, cc)).allow);
            d.verified(t + 20.0, &id);
            t += 30.0;
        }
        t
    }

    #[test]
    fn a_sequential_burst_is_blocked_within_five_sends_at_the_narrowest_block() {
        let mut d = Detector::new(Mode::Standard);
        let t0 = warm(&mut d, "371", 200);
        let mut blocked_at = None;
        let mut allowed = 0;
        // A sweep over a whole 10,000-number block at 5 per second.
        for i in 0..10_000 {
            let digits = format!("3712000{i:04}");
            let id = format!("a{i}");
            let v = d.decide(&req(t0 + f64::from(i) * 0.2, &id, &digits, "371"));
            if v.allow {
                allowed += 1;
            } else if blocked_at.is_none() {
                blocked_at = Some(i);
                assert_eq!(v.rule, "fraudguard.burst");
                assert_eq!(
                    v.range.as_deref(),
                    Some("+371200000"),
                    "the narrowest block first"
                );
            }
        }
        assert!(blocked_at.is_some_and(|i| i < 5), "{blocked_at:?}");
        assert!(
            allowed <= 10,
            "{allowed} of 10,000 sequential sends got through"
        );
        // Legitimate traffic elsewhere in the country still passes.
        assert!(d.decide(&req(t0 + 20.0, "ok", "37129991234", "371")).allow);
    }

    #[test]
    fn random_in_range_pumping_is_blocked_on_conversion() {
        let mut d = Detector::new(Mode::Standard);
        let t0 = warm(&mut d, "994", 300);
        let mut first_block = None;
        for i in 0..600u32 {
            let digits = format!("99450{:05}", (i * 7919) % 100_000);
            let id = format!("a{i}");
            let v = d.decide(&req(t0 + f64::from(i), &id, &digits, "994"));
            if !v.allow && first_block.is_none() {
                first_block = Some((i, v.rule));
            }
        }
        let (i, rule) = first_block.expect("blocked");
        assert_eq!(rule, "fraudguard.low_conversion");
        assert!(i < 200, "after {i} sends");
    }

    #[test]
    fn an_unseen_country_gets_only_a_few_unverified_sends() {
        let mut d = Detector::new(Mode::Standard);
        let mut allowed = 0;
        for i in 0..50 {
            let digits = format!("69262{i:05}");
            let id = format!("m{i}");
            if d.decide(&req(f64::from(i) * 600.0, &id, &digits, "692"))
                .allow
            {
                allowed += 1;
            }
        }
        assert!(allowed <= 10, "{allowed}");
        // Once users verify there, it opens up.
        let mut d = Detector::new(Mode::Standard);
        for i in 0..50 {
            let digits = format!("69262{:05}", i * 131);
            let id = format!("m{i}");
            assert!(
                d.decide(&req(f64::from(i) * 600.0, &id, &digits, "692"))
                    .allow
            );
            d.verified(f64::from(i) * 600.0 + 10.0, &id);
        }
    }

    #[test]
    fn blocks_expire_unless_renewed_and_can_be_lifted() {
        let mut d = Detector::new(Mode::Standard);
        let t0 = warm(&mut d, "381", 100);
        for i in 0..10 {
            let digits = format!("3816000{i:04}");
            d.decide(&req(t0 + f64::from(i), &format!("b{i}"), &digits, "381"));
        }
        let blocked: Vec<String> = d.blocks().map(|b| b.prefix.clone()).collect();
        assert_eq!(blocked, ["381600000"]);
        assert!(
            !d.decide(&req(t0 + 20.0, "again", "38160000099", "381"))
                .allow
        );
        assert!(d.lift("381600000"));
        assert_eq!(d.blocks().count(), 0);
        // Without new attempts a block expires.
        for i in 0..10 {
            let digits = format!("3817000{i:04}");
            d.decide(&req(
                t0 + 100.0 + f64::from(i),
                &format!("c{i}"),
                &digits,
                "381",
            ));
        }
        let later = t0 + 100.0 + Settings::for_mode(Mode::Standard).block_ttl + 60.0;
        assert!(d.decide(&req(later, "late", "38170000001", "381")).allow);
    }

    #[test]
    fn invalid_numbers_and_off_mode() {
        let mut d = Detector::new(Mode::Standard);
        let mut r = req(0.0, "x", "99412", "994");
        r.valid = false;
        assert_eq!(d.decide(&r).rule, "fraudguard.invalid_number");
        let mut off = Detector::new(Mode::Off);
        assert!(off.decide(&r).allow);
    }
}
