//! What an attempt's outcome means for the delivery.

use crate::overrides::{Overrides, RetryOn};

/// What happened when a webhook was sent once.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// The receiver answered with this HTTP status.
    Status(u16),
    /// No connection: refused, a TLS failure, or the connect timeout.
    Unreachable(String),
    /// Connected and sent, but no status arrived in time (or the
    /// connection dropped before it did).
    NoAnswer(String),
    /// Refused before sending (for example an SSRF-blocked address, or a
    /// malformed URL): retrying cannot help.
    Refused(String),
}

/// How often and how patiently to retry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Attempts in all, the first included.
    pub max_attempts: u32,
    /// Delay before the first retry; each further retry doubles it.
    pub base_delay_ms: u64,
    /// No delay exceeds this.
    pub max_delay_ms: u64,
}

impl Default for RetryPolicy {
    /// Five attempts: after 1 s, 2 s, 4 s and 8 s.
    fn default() -> Self {
        RetryPolicy {
            max_attempts: 5,
            base_delay_ms: 1_000,
            max_delay_ms: 300_000,
        }
    }
}

/// The decision after an attempt, with its reason.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Next {
    /// 2xx: delivered.
    Delivered,
    /// Try again at this time (Unix ms).
    RetryAt { at_ms: i64, reason: String },
    /// Stop: a final answer, or out of attempts.
    GiveUp { reason: String },
}

impl RetryPolicy {
    /// Delay before retry number `retry` (1 = the first retry).
    pub fn delay_ms(&self, retry: u32) -> u64 {
        let shift = retry.saturating_sub(1).min(32);
        self.base_delay_ms
            .saturating_mul(1u64 << shift)
            .min(self.max_delay_ms)
    }

    /// Decides after attempt number `attempt` (1-based) ended with `outcome`
    /// at `now_ms`. 5xx, 408, 429 and unreachable receivers are retried;
    /// other answers are final (redirects are not followed).
    pub fn decide(&self, attempt: u32, outcome: &Outcome, now_ms: i64) -> Next {
        self.decide_with(attempt, outcome, now_ms, &Overrides::default())
    }

    /// As [`RetryPolicy::decide`], for a URL with connection overrides.
    /// When they set `rc` or `rp`, Twilio's rules apply: `rc` retries
    /// (default 1) of the failures `rp` names (default `ct`, connect
    /// failures only), at this policy's back-off.
    pub fn decide_with(
        &self,
        attempt: u32,
        outcome: &Outcome,
        now_ms: i64,
        overrides: &Overrides,
    ) -> Next {
        // With `rc` or `rp` in the URL, what `rp` names is retried (default
        // `ct`); else the server's rule (5xx, 408, 429, no connection, no answer).
        let rp = overrides
            .sets_retries()
            .then(|| overrides.retry_on.unwrap_or(RetryOn::CONNECT_ONLY));
        let (retry, reason) = match outcome {
            Outcome::Status(code) if (200..300).contains(code) => return Next::Delivered,
            Outcome::Refused(why) => {
                return Next::GiveUp {
                    reason: why.clone(),
                };
            }
            Outcome::Status(code) => {
                let retry = match rp {
                    Some(on) => {
                        (on.client_errors && (400..500).contains(code))
                            || (on.server_errors && (500..600).contains(code))
                    }
                    None => *code >= 500 || *code == 408 || *code == 429,
                };
                (retry, format!("HTTP {code}"))
            }
            Outcome::Unreachable(why) => (rp.is_none_or(|on| on.connect), why.clone()),
            Outcome::NoAnswer(why) => (rp.is_none_or(|on| on.read), why.clone()),
        };
        if !retry {
            let reason = match rp {
                Some(_) => format!("{reason}; the URL's retry policy (rp) does not retry it"),
                None => format!("{reason} is final"),
            };
            return Next::GiveUp { reason };
        }
        // The operator's limit on attempts holds for a URL's `rc` too.
        let attempts = match rp {
            Some(_) => overrides
                .retry_count
                .unwrap_or(1)
                .saturating_add(1)
                .min(self.max_attempts),
            None => self.max_attempts,
        };
        self.retry_or_give_up(attempt, attempts, reason, now_ms)
    }

    fn retry_or_give_up(&self, attempt: u32, attempts: u32, reason: String, now_ms: i64) -> Next {
        if attempt >= attempts {
            return Next::GiveUp {
                reason: format!("{reason}; gave up after {attempt} attempts"),
            };
        }
        let delay = i64::try_from(self.delay_ms(attempt)).unwrap_or(i64::MAX);
        Next::RetryAt {
            at_ms: now_ms.saturating_add(delay),
            reason,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn server_errors_back_off_then_give_up() {
        let p = RetryPolicy::default();
        let out = Outcome::Status(503);
        let ats: Vec<Next> = (1..=5).map(|a| p.decide(a, &out, 10_000)).collect();
        assert_eq!(
            ats.iter()
                .take(4)
                .map(|n| match n {
                    Next::RetryAt { at_ms, .. } => *at_ms,
                    _ => -1,
                })
                .collect::<Vec<_>>(),
            [11_000, 12_000, 14_000, 18_000]
        );
        assert!(matches!(&ats[4], Next::GiveUp { reason } if reason.contains("HTTP 503")));
    }

    #[test]
    fn final_answers_and_success() {
        let p = RetryPolicy::default();
        assert_eq!(p.decide(1, &Outcome::Status(204), 0), Next::Delivered);
        assert!(matches!(
            p.decide(1, &Outcome::Status(404), 0),
            Next::GiveUp { .. }
        ));
        assert!(matches!(
            p.decide(1, &Outcome::Status(301), 0),
            Next::GiveUp { .. }
        ));
        assert!(matches!(
            p.decide(1, &Outcome::Refused("loopback address".into()), 0),
            Next::GiveUp { .. }
        ));
        assert!(matches!(
            p.decide(1, &Outcome::Unreachable("connection refused".into()), 0),
            Next::RetryAt { at_ms: 1_000, .. }
        ));
        assert!(matches!(
            p.decide(2, &Outcome::Status(429), 0),
            Next::RetryAt { at_ms: 2_000, .. }
        ));
    }

    #[test]
    fn url_overrides_follow_twilio_retry_rules() {
        let p = RetryPolicy::default();
        let with = |fragment: &str| Overrides::parse(fragment).unwrap();
        let retries = |o: &Overrides, out: &Outcome| {
            (1..=10)
                .take_while(|&a| matches!(p.decide_with(a, out, 0, o), Next::RetryAt { .. }))
                .count()
        };
        // rc alone: connect failures only, rc times.
        let o = with("rc=3");
        assert_eq!(retries(&o, &Outcome::Unreachable("refused".into())), 3);
        assert_eq!(retries(&o, &Outcome::Status(503)), 0);
        assert_eq!(retries(&o, &Outcome::NoAnswer("timed out".into())), 0);
        // rp alone: one retry of what it names.
        let o = with("rp=5xx,rt");
        assert_eq!(retries(&o, &Outcome::Status(502)), 1);
        assert_eq!(retries(&o, &Outcome::NoAnswer("timed out".into())), 1);
        assert_eq!(retries(&o, &Outcome::Unreachable("refused".into())), 0);
        assert_eq!(retries(&o, &Outcome::Status(404)), 0);
        // 4xx is retried only when asked; rc=0 never retries.
        assert_eq!(retries(&with("rc=2&rp=4xx"), &Outcome::Status(404)), 2);
        assert_eq!(retries(&with("rc=0&rp=all"), &Outcome::Status(500)), 0);
        // Refused destinations and successes are final whatever the URL says.
        let all = with("rc=5&rp=all");
        assert_eq!(retries(&all, &Outcome::Refused("loopback".into())), 0);
        assert_eq!(
            p.decide_with(1, &Outcome::Status(200), 0, &all),
            Next::Delivered
        );
        assert!(matches!(
            p.decide_with(1, &Outcome::Status(404), 0, &with("rc=2")),
            Next::GiveUp { reason } if reason.contains("rp")
        ));
        // The operator's webhook_max_attempts still bounds them.
        let strict = RetryPolicy {
            max_attempts: 2,
            ..p
        };
        let five = with("rc=5&rp=all");
        assert_eq!(
            (1..=10)
                .take_while(|&a| matches!(
                    strict.decide_with(a, &Outcome::Status(500), 0, &five),
                    Next::RetryAt { .. }
                ))
                .count(),
            1
        );
        // Timeouts alone change no retry rule.
        assert_eq!(retries(&with("ct=1000"), &Outcome::Status(503)), 4);
    }

    #[test]
    fn delays_are_capped_and_never_overflow() {
        let p = RetryPolicy {
            max_attempts: 100,
            base_delay_ms: 1_000,
            max_delay_ms: 60_000,
        };
        assert_eq!(p.delay_ms(7), 60_000);
        assert_eq!(p.delay_ms(u32::MAX), 60_000);
        assert!(matches!(
            p.decide(99, &Outcome::Status(500), i64::MAX),
            Next::RetryAt {
                at_ms: i64::MAX,
                ..
            }
        ));
    }
}
