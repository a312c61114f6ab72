//! `fraudguard.hosted_call`: a voice call to a number never verified,
//! asked for from a datacenter or Tor IP with no device fingerprint. Only
//! that call is refused; no range is blocked.

use super::Detector;
use crate::number::Number;
use crate::request::{Channel, IpFlags, Request};
use crate::verdict::{RULE_HOSTED_CALL, Verdict};

impl Detector {
    /// Refuses a call to a number never verified from a datacenter or Tor IP
    /// with no device fingerprint: toll-fraud bots dial from hosting, a user
    /// who asks for a code by voice dials from a phone or a browser. The
    /// send alone is refused; no range is blocked.
    pub(super) fn hosted_call(
        &self,
        req: &Request<'_>,
        n: &Number,
        known: bool,
    ) -> Option<Verdict> {
        let hosting = IpFlags::DATACENTER.with(IpFlags::TOR);
        let flags = req.ip_flags.intersection(hosting);
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
}
