//! Per-account phishing and privacy switches, parsed from the store's
//! name/value rows into the snapshot.

use std::collections::HashMap;

use tollgate_store::SettingRecord;

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
    /// ([`crate::lockdown::undo_seal`]).
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

/// Builds every account's settings from the rows.
pub fn from_rows(rows: &[SettingRecord]) -> HashMap<String, AccountSettings> {
    let mut out: HashMap<String, AccountSettings> = HashMap::new();
    for row in rows {
        let s = out.entry(row.account_sid.clone()).or_default();
        let on = row.value == "true";
        match row.name.as_str() {
            "RecipientPolicy" => {
                s.recipient_policy = match row.value.as_str() {
                    "allowlist" => RecipientPolicy::Allowlist,
                    "known" => RecipientPolicy::Known,
                    _ => RecipientPolicy::Any,
                }
            }
            "LinkPolicy" => {
                s.link_policy = match row.value.as_str() {
                    "block" => LinkPolicy::Block,
                    "allowlist" => LinkPolicy::Allowlist,
                    _ => LinkPolicy::Allow,
                }
            }
            "LinkDomains" => s.link_domains = domains(&row.value),
            "LinkBlocklist" => s.link_blocklist = domains(&row.value),
            "StripInboundLinks" => s.strip_inbound_links = on,
            "StripInboundPhoneNumbers" => s.strip_inbound_phone_numbers = on,
            "RedactPhoneNumbers" => s.redact_phone_numbers = on,
            "RedactMessageBodies" => s.redact_message_bodies = on,
            "SmsPumpingProtection" => s.sms_pumping_protection = on,
            "LockdownInbound" => s.inbound_blocked = on,
            "LockdownSeal" => s.lockdown_seal = Some(row.value.clone()),
            "InboundRatePerMinute" => s.inbound_rate_per_minute = row.value.parse().ok(),
            _ => {}
        }
    }
    out
}
