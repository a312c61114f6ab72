//! Request features (bits) and what verified users and pumped requests
//! look like by feature: the two sides of the likelihood ratios that
//! `fraudguard.conversion` scores a request with.

use crate::tuning::{FEATURE_HL, FRAUD, FRAUD_PRIOR_WEIGHT, FraudPriors};

/// Request features used by the conversion score (bits).
pub(crate) const F_NUM_KNOWN: u16 = 1;
pub(crate) const F_IP: u16 = 1 << 1;
pub(crate) const F_IP_KNOWN: u16 = 1 << 2;
pub(crate) const F_DEVICE: u16 = 1 << 3;
pub(crate) const F_DEVICE_KNOWN: u16 = 1 << 4;
pub(crate) const F_BLOCK_KNOWN: u16 = 1 << 5;
pub(crate) const F_PROXY: u16 = 1 << 6;
pub(crate) const F_DATACENTER: u16 = 1 << 7;
pub(crate) const F_TOR: u16 = 1 << 8;
/// An IP without intelligence flags (`F_IP_KNOWN` is only set for these).
pub(crate) const F_IP_CLEAN: u16 = 1 << 9;
/// A flagged IP in a network (IPv4 /24, IPv6 /48) that users on flagged
/// IPs verified from before: a VPN exit range, not a residential proxy.
pub(crate) const F_NET_KNOWN: u16 = 1 << 10;
/// The number was attempted within
/// [`REPEAT_WINDOW`](crate::tuning::REPEAT_WINDOW) (a user's retry).
pub(crate) const F_RETRY: u16 = 1 << 11;
/// An unflagged IP with at least
/// [`POPULAR_IP_VERIFIED`](crate::tuning::POPULAR_IP_VERIFIED) recent verified
/// sends (a shared home or mobile-carrier gateway users verify from).
pub(crate) const F_IP_POPULAR: u16 = 1 << 12;
const NFEAT: usize = 13;

/// Verified sends by request feature (the legitimate side of the score's
/// likelihood ratios).
#[derive(Debug, Default, Clone)]
pub(crate) struct FeatureCounts {
    by_feature: [f64; NFEAT],
    pub(crate) total: f64,
    t: f64,
}

impl FeatureCounts {
    /// Counts one verified send at `t`; older ones fade with
    /// [`FEATURE_HL`], as what users look like drifts (the share of
    /// known IPs and blocks grows with the history).
    pub(crate) fn add(&mut self, t: f64, features: u16) {
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

    pub(crate) fn get(&self, bit: u16) -> f64 {
        self.by_feature
            .get(bit.trailing_zeros() as usize)
            .copied()
            .unwrap_or(0.0)
    }

    /// This count blended with `prior` (worth `weight` sends): a country's
    /// own rates once it has enough history, the global rates before.
    pub(crate) fn blend(&self, prior: &FeatureCounts, weight: f64) -> FeatureCounts {
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
pub(crate) struct FraudLearner {
    mixed: [f64; NFEAT],
    mixed_n: f64,
    legit: [f64; NFEAT],
    legit_n: f64,
}

impl FraudLearner {
    pub(crate) fn add(&mut self, features: u16, pumped: f64, legit: &FeatureCounts) {
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
    pub(crate) fn side(&self) -> FraudPriors {
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

/// The factor for a history feature (a number, IP or 10k block verified
/// before; an IP many users verified from): `fraud` and `legit` are the
/// shares of pumped and of legitimate requests that have it, within the
/// requests it applies to. The ratio is clamped at 1: having the feature
/// can only lower the risk, and lacking it only raise it.
pub(crate) fn history_factor(has: bool, fraud: f64, legit: f64) -> f64 {
    if has {
        (fraud / legit).min(1.0)
    } else {
        ((1.0 - fraud) / (1.0 - legit)).max(1.0)
    }
}

/// A share with add-one smoothing, kept off 0 and 1.
pub(crate) fn smoothed(count: f64, total: f64) -> f64 {
    ((count + 1.0) / (total + 2.0)).clamp(0.001, 0.999)
}

/// The network part of an IP: an IPv4 /24 or an IPv6 /48 (as written).
pub(crate) fn network(ip: &str) -> &str {
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
