//! Per-account phishing and privacy switches, parsed from the store's
//! name/value rows into the snapshot.

pub use tollgate_admission::{LinkPolicy, RecipientPolicy};

/// Inbound texts one sender may send one account per minute before the rest
/// are dropped (SMS flood / TDoS defence), unless the account sets
/// `InboundRatePerMinute`.
pub const DEFAULT_INBOUND_PER_MINUTE: u32 = 20;

/// The switches of one account; defaults when unset.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AccountSettings {
    pub recipient_policy: RecipientPolicy,
    pub link_policy: LinkPolicy,
    /// Domains links may point to (with subdomains).
    pub link_domains: Vec<String>,
    /// Domains links may never point to (30111).
    pub link_blocklist: Vec<String>,
    pub strip_inbound_links: bool,
    pub strip_inbound_phone_numbers: bool,
    pub redact_phone_numbers: bool,
    pub redact_message_bodies: bool,
    /// Fraud Guard on Programmable Messaging sends (30450), as Twilio's
    /// SMS Pumping Protection.
    pub sms_pumping_protection: bool,
    /// Inbound texts one sender may send per minute (flood control).
    pub inbound_rate_per_minute: Option<u32>,
    /// Set by a lockdown (not through Settings): inbound calls and texts to
    /// the account's numbers are refused.
    pub inbound_blocked: bool,
    /// Set by a lockdown: what the account's own undo must match
    /// (the lockdown's undo seal).
    pub lockdown_seal: Option<String>,
}

/// Every setting name, with how to validate its value.
pub const NAMES: [&str; 10] = [
    "InboundRatePerMinute",
    "RecipientPolicy",
    "LinkPolicy",
    "LinkDomains",
    "LinkBlocklist",
    "StripInboundLinks",
    "StripInboundPhoneNumbers",
    "RedactPhoneNumbers",
    "RedactMessageBodies",
    "SmsPumpingProtection",
];

/// Most domains in `LinkDomains` or `LinkBlocklist`.
const MAX_DOMAINS: usize = 1000;

fn domains(value: &str) -> Vec<String> {
    value
        .split(',')
        .map(|d| d.trim().trim_start_matches("*.").to_ascii_lowercase())
        .filter(|d| !d.is_empty())
        .collect()
}

/// Checks `value` for setting `name`; the normalised value, or why not.
pub fn validate(name: &str, value: &str) -> Result<String, &'static str> {
    let v = value.trim();
    match name {
        "RecipientPolicy" => match v.to_ascii_lowercase().as_str() {
            x @ ("any" | "allowlist" | "known") => Ok(x.to_owned()),
            _ => Err("must be any, allowlist or known"),
        },
        "LinkPolicy" => match v.to_ascii_lowercase().as_str() {
            x @ ("allow" | "block" | "allowlist") => Ok(x.to_owned()),
            _ => Err("must be allow, block or allowlist"),
        },
        "InboundRatePerMinute" => match v.parse::<u32>() {
            Ok(n) if (1..=100_000).contains(&n) => Ok(n.to_string()),
            _ => Err("must be a whole number from 1 to 100000"),
        },
        "LinkDomains" | "LinkBlocklist" => {
            let list = domains(v);
            if list.len() > MAX_DOMAINS {
                return Err("must list at most 1000 domains");
            }
            if list.iter().all(|d| {
                d.contains('.')
                    && d.len() <= 253
                    && d.bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'-')
            }) {
                Ok(list.join(","))
            } else {
                Err("must be a comma-separated list of domains")
            }
        }
        _ => match v.to_ascii_lowercase().as_str() {
            x @ ("true" | "false") => Ok(x.to_owned()),
            _ => Err("must be true or false"),
        },
    }
}

impl AccountSettings {
    /// Sets setting `name` from its stored value; `None` (the row is gone)
    /// puts back the default.
    pub fn set(&mut self, name: &str, value: Option<&str>) {
        let on = value == Some("true");
        match name {
            "RecipientPolicy" => {
                self.recipient_policy = match value {
                    Some("allowlist") => RecipientPolicy::Allowlist,
                    Some("known") => RecipientPolicy::Known,
                    _ => RecipientPolicy::Any,
                }
            }
            "LinkPolicy" => {
                self.link_policy = match value {
                    Some("block") => LinkPolicy::Block,
                    Some("allowlist") => LinkPolicy::Allowlist,
                    _ => LinkPolicy::Allow,
                }
            }
            "LinkDomains" => self.link_domains = value.map(domains).unwrap_or_default(),
            "LinkBlocklist" => self.link_blocklist = value.map(domains).unwrap_or_default(),
            "StripInboundLinks" => self.strip_inbound_links = on,
            "StripInboundPhoneNumbers" => self.strip_inbound_phone_numbers = on,
            "RedactPhoneNumbers" => self.redact_phone_numbers = on,
            "RedactMessageBodies" => self.redact_message_bodies = on,
            "SmsPumpingProtection" => self.sms_pumping_protection = on,
            "LockdownInbound" => self.inbound_blocked = on,
            "LockdownSeal" => self.lockdown_seal = value.map(str::to_owned),
            "InboundRatePerMinute" => {
                self.inbound_rate_per_minute = value.and_then(|v| v.parse().ok())
            }
            _ => {}
        }
    }
}
