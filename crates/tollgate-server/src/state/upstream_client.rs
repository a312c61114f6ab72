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
        Ok(UpstreamClient { settings, http })
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
