//! What an attempt's outcome means for the delivery.

/// What happened when a webhook was sent once.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// The receiver answered with this HTTP status.
    Status(u16),
    /// No connection, a TLS failure, or a timeout before a status arrived.
    Unreachable(String),
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
        let reason = match outcome {
            Outcome::Status(code) if (200..300).contains(code) => return Next::Delivered,
            Outcome::Status(code) if *code >= 500 || *code == 408 || *code == 429 => {
                format!("HTTP {code}")
            }
            Outcome::Status(code) => {
                return Next::GiveUp {
                    reason: format!("HTTP {code} is final"),
                };
            }
            Outcome::Unreachable(why) => why.clone(),
            Outcome::Refused(why) => {
                return Next::GiveUp {
                    reason: why.clone(),
                };
            }
        };
        if attempt >= self.max_attempts {
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
