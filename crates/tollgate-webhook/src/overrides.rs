//! Twilio's connection overrides: a webhook URL's fragment, such as
//! `https://example.com/hook#rc=3&rp=5xx,ct&rt=2000`, sets the timeouts and
//! retries of that webhook's delivery. The fragment is never sent or signed.

/// Twilio's defaults: the connect timeout, the read timeout, and the most
/// time an attempt may take (ms).
pub const DEFAULT_CONNECT_TIMEOUT_MS: u32 = 5_000;
pub const DEFAULT_READ_TIMEOUT_MS: u32 = 15_000;
pub const MAX_TOTAL_TIMEOUT_MS: u32 = 15_000;

/// Which failures are retried (`rp`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct RetryOn {
    /// `4xx`: the receiver answered 400-499.
    pub client_errors: bool,
    /// `5xx`: the receiver answered 500-599.
    pub server_errors: bool,
    /// `ct`: no connection (refused, reset, or the connect timeout).
    pub connect: bool,
    /// `rt`: connected, but no answer in time.
    pub read: bool,
}

impl RetryOn {
    /// Twilio's default when a URL gives `rc` without `rp`: connect failures only.
    pub const CONNECT_ONLY: RetryOn = RetryOn {
        client_errors: false,
        server_errors: false,
        connect: true,
        read: false,
    };
    pub const ALL: RetryOn = RetryOn {
        client_errors: true,
        server_errors: true,
        connect: true,
        read: true,
    };
}

/// The overrides a URL gives; `None` where it gives none.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Overrides {
    /// `ct`, 100-10,000 ms.
    pub connect_timeout_ms: Option<u32>,
    /// `rt`, 100-15,000 ms.
    pub read_timeout_ms: Option<u32>,
    /// `tt`, 100-15,000 ms: one attempt's time, connect and read together.
    pub total_timeout_ms: Option<u32>,
    /// `rc`, 0-5: retries after the first attempt.
    pub retry_count: Option<u32>,
    /// `rp`.
    pub retry_on: Option<RetryOn>,
}

/// Why a fragment's overrides are refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InvalidOverride(pub String);

impl std::fmt::Display for InvalidOverride {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl Overrides {
    /// True when the URL changes the retries (`rc` or `rp`): delivery then
    /// follows Twilio's rules for them instead of the server's policy.
    pub fn sets_retries(&self) -> bool {
        self.retry_count.is_some() || self.retry_on.is_some()
    }

    /// One attempt's time limit, when the URL sets one: `ct` + `rt` (with
    /// Twilio's defaults, 5,000 and 15,000 ms, for the one not given),
    /// never above `tt` (default 15,000 ms, Twilio's maximum).
    pub fn attempt_timeout_ms(&self) -> Option<u64> {
        let (ct, rt, tt) = (
            self.connect_timeout_ms,
            self.read_timeout_ms,
            self.total_timeout_ms,
        );
        if ct.is_none() && rt.is_none() {
            return tt.map(u64::from);
        }
        let sum = u64::from(ct.unwrap_or(DEFAULT_CONNECT_TIMEOUT_MS))
            + u64::from(rt.unwrap_or(DEFAULT_READ_TIMEOUT_MS));
        Some(sum.min(u64::from(tt.unwrap_or(MAX_TOTAL_TIMEOUT_MS))))
    }

    /// Parses the text after `#`. Pairs that are not overrides (other
    /// keys, or text without `=`) are left alone, as a fragment may be
    /// anything; a known key with a bad value is refused.
    pub fn parse(fragment: &str) -> Result<Overrides, InvalidOverride> {
        let mut out = Overrides::default();
        for pair in fragment.split('&') {
            let Some((key, value)) = pair.split_once('=') else {
                continue;
            };
            match key {
                "ct" => out.connect_timeout_ms = Some(number(key, value, 100, 10_000)?),
                "rt" => out.read_timeout_ms = Some(number(key, value, 100, 15_000)?),
                "tt" => out.total_timeout_ms = Some(number(key, value, 100, MAX_TOTAL_TIMEOUT_MS)?),
                "rc" => out.retry_count = Some(number(key, value, 0, 5)?),
                "rp" => out.retry_on = Some(retry_on(value)?),
                // The edge and SNI have no meaning here: Tollgate sends from
                // where it runs, and always with SNI.
                "e" | "edge" | "sni" => {}
                _ => {}
            }
        }
        Ok(out)
    }
}

fn number(key: &str, value: &str, min: u32, max: u32) -> Result<u32, InvalidOverride> {
    value
        .parse::<u32>()
        .ok()
        .filter(|v| (min..=max).contains(v))
        .ok_or_else(|| {
            InvalidOverride(format!(
                "connection override {key} must be a whole number from {min} to {max}"
            ))
        })
}

fn retry_on(value: &str) -> Result<RetryOn, InvalidOverride> {
    let mut on = RetryOn::default();
    for class in value.split(',') {
        match class {
            "4xx" => on.client_errors = true,
            "5xx" => on.server_errors = true,
            "ct" => on.connect = true,
            "rt" => on.read = true,
            "all" => on = RetryOn::ALL,
            _ => {
                return Err(InvalidOverride(format!(
                    "connection override rp has an unknown retry policy {class:?} (use 4xx, 5xx, ct, rt or all, comma-separated)"
                )));
            }
        }
    }
    Ok(on)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn every_override_is_read() {
        let o =
            Overrides::parse("ct=1000&rt=2000&tt=2500&rc=3&rp=4xx,rt&e=frankfurt&sni=y").unwrap();
        assert_eq!(o.connect_timeout_ms, Some(1000));
        assert_eq!(o.read_timeout_ms, Some(2000));
        assert_eq!(o.total_timeout_ms, Some(2500));
        assert_eq!(o.retry_count, Some(3));
        assert_eq!(
            o.retry_on,
            Some(RetryOn {
                client_errors: true,
                read: true,
                ..RetryOn::default()
            })
        );
        assert!(o.sets_retries());
        assert_eq!(o.attempt_timeout_ms(), Some(2500), "ct + rt, capped by tt");
    }

    #[test]
    fn timeouts_fill_in_twilio_defaults() {
        let o = Overrides::parse("ct=1000").unwrap();
        assert_eq!(
            o.attempt_timeout_ms(),
            Some(15_000),
            "capped by tt's default"
        );
        let o = Overrides::parse("ct=1000&rt=2000").unwrap();
        assert_eq!(o.attempt_timeout_ms(), Some(3_000));
        assert!(!o.sets_retries());
        let o = Overrides::parse("tt=3000").unwrap();
        assert_eq!(o.attempt_timeout_ms(), Some(3000));
        assert_eq!(Overrides::parse("").unwrap(), Overrides::default());
        assert_eq!(Overrides::default().attempt_timeout_ms(), None);
    }

    #[test]
    fn other_fragments_are_left_alone() {
        assert_eq!(Overrides::parse("section-2").unwrap(), Overrides::default());
        assert_eq!(Overrides::parse("page=3&x").unwrap(), Overrides::default());
    }

    #[test]
    fn bad_values_are_refused_with_the_range() {
        for (fragment, says) in [
            ("ct=50", "ct must be a whole number from 100 to 10000"),
            ("rt=15001", "rt must be a whole number from 100 to 15000"),
            ("tt=abc", "tt must be"),
            ("rc=6", "rc must be a whole number from 0 to 5"),
            ("rc=-1", "rc must be"),
            ("rp=5xx,sometimes", "unknown retry policy \"sometimes\""),
            ("rp=", "unknown retry policy \"\""),
        ] {
            let e = Overrides::parse(fragment).unwrap_err();
            assert!(e.0.contains(says), "{fragment}: {e}");
        }
    }

    fn pair() -> impl Strategy<Value = String> {
        let key = prop_oneof![
            Just("ct"),
            Just("rt"),
            Just("tt"),
            Just("rc"),
            Just("rp"),
            Just("e"),
            Just("x")
        ];
        let value = prop_oneof![
            (0u32..20_000).prop_map(|v| v.to_string()),
            Just("5xx,ct".to_owned()),
            Just("all".to_owned()),
            "[a-z0-9,]{0,8}"
        ];
        (key, value).prop_map(|(k, v)| format!("{k}={v}"))
    }

    proptest! {
        #[test]
        fn arbitrary_fragments_never_panic(fragment in ".{0,200}") {
            let _ = Overrides::parse(&fragment);
        }

        #[test]
        fn accepted_overrides_stay_in_twilio_ranges(pairs in proptest::collection::vec(pair(), 0..6)) {
            let fragment = pairs.join("&");
            if let Ok(o) = Overrides::parse(&fragment) {
                if let Some(ms) = o.attempt_timeout_ms() {
                    prop_assert!((100..=15_000).contains(&ms), "{fragment}: {ms}");
                }
                prop_assert!(o.retry_count.is_none_or(|rc| rc <= 5));
                prop_assert!(o.connect_timeout_ms.is_none_or(|v| (100..=10_000).contains(&v)));
            } else {
                // Refused only for a known key with a bad value.
                prop_assert!(pairs.iter().any(|p| ["ct=", "rt=", "tt=", "rc=", "rp="].iter().any(|k| p.starts_with(k))));
            }
        }
    }
}
