//! What the detector learns after a send it allowed: the send is recorded,
//! matures into a failure unless verified, is dropped if undelivered, and
//! a verification teaches what users look like.

use super::Detector;
use crate::features::{F_IP_CLEAN, F_NUM_KNOWN, network};
use crate::number::Number;
use crate::request::Request;
use crate::sketch::{hash_str, mix};
use crate::stats::Pending;
use crate::tuning::{FAST_HL, LEVELS, LONG_HL, MAX_PENDING, MAX_RANGES, RANGE_CONV_HL};

impl Detector {
    /// Sends older than `mature_after` and never verified count as failures.
    pub(super) fn mature(&mut self, now: f64) {
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

    /// Keeps an allowed send until it matures or is verified.
    pub(super) fn record_send(&mut self, req: &Request<'_>, n: &Number, features: u16) {
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
