//! Proxy mode's outbound side: where each Twilio domain is, and the HTTP
//! client that reaches it. Only the configured base URLs are ever called.

use std::collections::BTreeMap;
use std::time::Duration;

/// Which carrier takes admitted sends.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum CarrierKind {
    /// The built-in, in-process sandbox (no real traffic).
    #[default]
    Sandbox,
    /// A real Twilio account per Tollgate account (proxy mode).
    Twilio,
}

impl CarrierKind {
    pub fn parse(text: &str) -> Option<CarrierKind> {
        match text.trim().to_ascii_lowercase().as_str() {
            "sandbox" => Some(CarrierKind::Sandbox),
            "twilio" => Some(CarrierKind::Twilio),
            _ => None,
        }
    }
}

/// The Twilio domains Tollgate proxies (`https://{domain}.twilio.com`).
pub const DOMAINS: [&str; 7] = [
    "api",
    "accounts",
    "messaging",
    "voice",
    "monitor",
    "lookups",
    "verify",
];

/// The domain of each (version, first segment) of the paths in Twilio's
/// specs for the proxied domains: unique across them, so one base URL on
/// the application's side is enough.
const PATH_DOMAINS: [(&str, &str, &str); 34] = [
    ("2010-04-01", "Accounts", "api"),
    ("2010-04-01", "Accounts.json", "api"),
    ("v1", "Alerts", "monitor"),
    ("v1", "Archives", "voice"),
    ("v1", "AuthTokens", "accounts"),
    ("v1", "ByocTrunks", "voice"),
    ("v1", "ConnectionPolicies", "voice"),
    ("v1", "Consents", "accounts"),
    ("v1", "Contacts", "accounts"),
    ("v1", "Credentials", "accounts"),
    ("v1", "Deactivations", "messaging"),
    ("v1", "DialingPermissions", "voice"),
    ("v1", "Events", "monitor"),
    ("v1", "IpRecords", "voice"),
    ("v1", "LinkShortening", "messaging"),
    ("v1", "PhoneNumbers", "lookups"),
    ("v1", "SafeList", "accounts"),
    ("v1", "Services", "messaging"),
    ("v1", "Settings", "voice"),
    ("v1", "SourceIpMappings", "voice"),
    ("v1", "Tollfree", "messaging"),
    ("v1", "a2p", "messaging"),
    ("v2", "Alarms", "monitor"),
    ("v2", "Attempts", "verify"),
    ("v2", "Channels", "messaging"),
    ("v2", "Forms", "verify"),
    ("v2", "Jobs", "lookups"),
    ("v2", "PhoneNumbers", "lookups"),
    ("v2", "RateLimits", "lookups"),
    ("v2", "SafeList", "verify"),
    ("v2", "Services", "verify"),
    ("v2", "Templates", "verify"),
    ("v2", "batch", "lookups"),
    ("v2", "test", "verify"),
];

/// The Twilio domain a request path belongs to, if Tollgate proxies it.
pub fn domain_of(path: &str) -> Option<&'static str> {
    let mut parts = path.trim_start_matches('/').split('/');
    let version = parts.next()?;
    let first = parts.next()?;
    PATH_DOMAINS
        .iter()
        .find(|(v, f, _)| *v == version && *f == first)
        .map(|(_, _, d)| *d)
}

/// How proxy mode reaches Twilio.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UpstreamSettings {
    pub carrier: CarrierKind,
    /// Base URL by domain, without a trailing slash.
    pub base_urls: BTreeMap<String, String>,
    /// Whole-request timeout.
    pub timeout_ms: u64,
    pub connect_timeout_ms: u64,
}

impl Default for UpstreamSettings {
    fn default() -> Self {
        UpstreamSettings {
            carrier: CarrierKind::Sandbox,
            base_urls: DOMAINS
                .iter()
                .map(|d| ((*d).to_owned(), format!("https://{d}.twilio.com")))
                .collect(),
            timeout_ms: 15_000,
            connect_timeout_ms: 3_000,
        }
    }
}

impl UpstreamSettings {
    /// The base URL of `domain` (`api` when unknown).
    pub fn base_url(&self, domain: &str) -> &str {
        self.base_urls
            .get(domain)
            .or_else(|| self.base_urls.get("api"))
            .map_or("https://api.twilio.com", String::as_str)
    }
}

/// The client proxy mode calls Twilio with: no redirects, bounded time.
pub struct UpstreamClient {
    pub settings: UpstreamSettings,
    pub http: reqwest::Client,
    /// Opens after repeated failures to reach Twilio.
    pub breaker: std::sync::Mutex<Breaker>,
}

/// Failures to reach Twilio in a row that open the breaker.
pub const BREAKER_FAILURES: u32 = 5;
/// How long an open breaker refuses before it lets one request try.
pub const BREAKER_OPEN_MS: i64 = 10_000;

/// A circuit breaker: after [`BREAKER_FAILURES`] connections in a row that
/// could not reach Twilio, requests fail at once (99502, nothing sent) for
/// [`BREAKER_OPEN_MS`]; then one request may try, and a success closes it.
/// Time is a parameter.
#[derive(Debug, Default)]
pub struct Breaker {
    failures: u32,
    open_until: Option<i64>,
}

impl Breaker {
    /// May a request go to Twilio at `now`?
    pub fn allows(&mut self, now: i64) -> bool {
        match self.open_until {
            Some(until) if now < until => false,
            Some(_) => {
                // Half open: this one tries; a failure opens it again.
                self.open_until = None;
                self.failures = BREAKER_FAILURES - 1;
                true
            }
            None => true,
        }
    }

    /// Twilio answered (whatever the status).
    pub fn reached(&mut self) {
        self.failures = 0;
        self.open_until = None;
    }

    /// Twilio could not be reached at `now`.
    pub fn failed(&mut self, now: i64) {
        self.failures += 1;
        if self.failures >= BREAKER_FAILURES {
            self.open_until = Some(now + BREAKER_OPEN_MS);
        }
    }
}

impl UpstreamClient {
    pub fn new(settings: UpstreamSettings) -> Result<UpstreamClient, String> {
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(Duration::from_millis(settings.timeout_ms))
            .connect_timeout(Duration::from_millis(settings.connect_timeout_ms))
            .user_agent(concat!("tollgate/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| e.to_string())?;
        Ok(UpstreamClient {
            settings,
            http,
            breaker: std::sync::Mutex::default(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn carriers_parse_and_unknown_domains_fall_back_to_api() {
        assert_eq!(CarrierKind::parse(" Twilio "), Some(CarrierKind::Twilio));
        assert_eq!(CarrierKind::parse("sandbox"), Some(CarrierKind::Sandbox));
        assert_eq!(CarrierKind::parse("smpp"), None);
        let s = UpstreamSettings::default();
        assert_eq!(s.base_url("verify"), "https://verify.twilio.com");
        assert_eq!(s.base_url("chat"), "https://api.twilio.com");
    }

    #[test]
    fn the_breaker_opens_after_failures_in_a_row_and_half_opens_later() {
        let mut b = Breaker::default();
        for t in 0..4 {
            assert!(b.allows(t));
            b.failed(t);
        }
        b.reached();
        for t in 10..15 {
            assert!(b.allows(t));
            b.failed(t);
        }
        assert!(!b.allows(15), "five failures in a row open it");
        assert!(!b.allows(14 + BREAKER_OPEN_MS - 1));
        assert!(b.allows(14 + BREAKER_OPEN_MS), "then one request may try");
        b.failed(14 + BREAKER_OPEN_MS);
        assert!(
            !b.allows(15 + BREAKER_OPEN_MS),
            "a failed try opens it again"
        );
        assert!(b.allows(14 + 2 * BREAKER_OPEN_MS));
        b.reached();
        assert!(b.allows(15 + 2 * BREAKER_OPEN_MS));
    }

    #[test]
    fn paths_map_to_their_domain() {
        assert_eq!(
            domain_of("/2010-04-01/Accounts/AC1/Conferences.json"),
            Some("api")
        );
        assert_eq!(domain_of("/v2/Services/VA1/Entities"), Some("verify"));
        assert_eq!(
            domain_of("/v1/Services/MG1/Compliance/Usa2p"),
            Some("messaging")
        );
        assert_eq!(domain_of("/v1/ByocTrunks"), Some("voice"));
        assert_eq!(domain_of("/v3/Anything"), None);
        assert_eq!(domain_of("/v1"), None);
        assert_eq!(domain_of(""), None);
    }
}
