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
//! rules, in the order `decide` tries them (from 3 on, each in its own
//! file under `detector/`; standing blocks are in `detector/blocks.rs`):
//!
//! 1. `fraudguard.invalid_number`: the number is not valid (libphonenumber).
//! 2. A standing block on any enclosing range refuses the send and renews
//!    the block (blocks expire `block_ttl` after the last refused attempt).
//! 3. `fraudguard.hosted_call`: a voice call to a number never verified,
//!    asked for from a datacenter or Tor IP with no device fingerprint, is
//!    refused on its own (no range is blocked).
//! 4. `fraudguard.new_country`: a country without verified history may have
//!    only a small budget of unverified sends (smaller when the price per
//!    message is high or the number's risk tier is high).
//! 5. `fraudguard.burst` (100- and 1,000-number blocks) and
//!    `fraudguard.density` (10,000 to 1,000,000): a range gets far more
//!    distinct numbers in the last minutes than its share of the country's
//!    current traffic allows (a Poisson tail test against the range's share
//!    of the country's *verified* history, so a country-wide flash crowd is
//!    not an anomaly and pumping cannot poison the baseline). The narrowest
//!    range that holds most of the excess is blocked; attempts keep counting
//!    while blocked, so a sweep that moves on escalates to the parent.
//! 6. `fraudguard.sweep`: a few numbers never verified, each within a few
//!    digits of the others, within seconds (a sequential sweep): the
//!    100-number block is refused before the density test could trip.
//!    Neighbours are looked up by value, so a sweep that crosses a 100- or
//!    1,000-number boundary is caught on its first number past it.
//! 7. `fraudguard.density` for voice calls: calls to new numbers are counted
//!    per 100k and 10k range over the last hour against the country's own
//!    call rate (test calls, then a wave next to them).
//! 8. `fraudguard.low_conversion`: a range whose matured sends are verified
//!    far less than its country's baseline (a binomial tail test; sends
//!    count once old enough that a real user would have verified, and
//!    undelivered sends do not count).
//! 9. `fraudguard.conversion`: the conversion of the country's sends to
//!    numbers never verified before has dropped significantly below its own
//!    baseline (slow-and-low pumping, ramps, conversion mimics; the
//!    baseline holds while the last day is already clearly below it). The
//!    estimated share of pumped sends among them (from the drop, or from
//!    their volume above its baseline) is the prior; each request's own
//!    signals are likelihood ratios, and only the requests whose posterior
//!    passes the mode's threshold are refused. The legitimate side of each
//!    ratio is learned per country from verified sends to new numbers; the
//!    fraud side starts from declared assumptions and is learned from the
//!    flagged countries' requests (what is left of them once the legitimate
//!    share is taken out). The signals: IP, device and 10,000-block with or
//!    without verified history, IP intelligence flags, a flagged IP in a
//!    network that flagged users verified from (a VPN exit, not a
//!    residential proxy), a missing device, and a retry of the same number.
//!    A number verified before is never refused by this rule, and the
//!    country is never blocked as a whole.
//!
//! The modules: `request` and `verdict` (what goes in and comes out),
//! `detector` (the state and `decide`, with a file per rule), `stats`,
//! `conversion_stream`, `features` and `sweep_window` (the counters the
//! rules read), `number` (numbers and prefixes as integers), `tuning`
//! (every constant), `sketch` (decayed counters, Bloom filters and the
//! tail tests) and [`replay`].

mod conversion_stream;
mod detector;
mod features;
mod number;
mod request;
mod sketch;
mod stats;
mod sweep_window;
mod tuning;
mod verdict;

pub mod replay;

pub use detector::Detector;
pub use request::{Channel, IpFlags, Mode, Request, Risk, Settings};
pub use tuning::{NOVELTY_REFERENCE_MICROS, SWEEP_SPREAD, SWEEP_WINDOW};
pub use verdict::{
    Block, EVIDENCE_NUMBERS, RULE_BURST, RULE_CONVERSION, RULE_DENSITY, RULE_HOSTED_CALL,
    RULE_INVALID, RULE_LOW_CONVERSION, RULE_NEW_COUNTRY, RULE_SWEEP, Verdict, lists_a_block,
};

#[cfg(test)]
mod tests;
