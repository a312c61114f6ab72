//! The request's own signals for `fraudguard.conversion`: its features
//! (number, IP, device and 10,000-block with or without verified history,
//! IP intelligence flags, a flagged IP in a network users verified from, a
//! retry) and their likelihood ratio, pumped against legitimate.

use super::Detector;
use crate::features::{
    F_BLOCK_KNOWN, F_DATACENTER, F_DEVICE, F_DEVICE_KNOWN, F_IP, F_IP_CLEAN, F_IP_KNOWN,
    F_IP_POPULAR, F_NET_KNOWN, F_NUM_KNOWN, F_PROXY, F_RETRY, F_TOR, FeatureCounts, history_factor,
    network, smoothed,
};
use crate::number::Number;
use crate::request::{IpFlags, Request};
use crate::sketch::{hash_str, mix};
use crate::tuning::{FRESH_PRIOR_WEIGHT, LONG_HL, POPULAR_IP_VERIFIED};

impl Detector {
    /// The request's features; `retry`: its number was attempted within
    /// the repeat window.
    pub(super) fn features(&self, req: &Request<'_>, n: &Number, known: bool, retry: bool) -> u16 {
        let mut f = 0;
        if known {
            f |= F_NUM_KNOWN;
        }
        if retry {
            f |= F_RETRY;
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
    pub(super) fn fresh_rates(&self, cc: u64) -> FeatureCounts {
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
    pub(super) fn likelihood(&self, f: u16, cc: u64) -> (f64, Vec<String>) {
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
}
