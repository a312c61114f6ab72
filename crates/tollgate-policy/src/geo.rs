//! Destination checks: Twilio's voice dialing permissions (per country, three
//! risk tiers) and messaging geo permissions (per country).

use std::collections::{HashMap, HashSet};

use tollgate_numbering::{Classification, RiskReason, RiskTier};

use crate::{Decision, Evidence, RuleId};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Channel {
    Sms,
    Voice,
}

impl Channel {
    pub fn parse(text: &str) -> Option<Channel> {
        match text.to_ascii_lowercase().as_str() {
            "sms" => Some(Channel::Sms),
            "voice" => Some(Channel::Voice),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Channel::Sms => "sms",
            Channel::Voice => "voice",
        }
    }
}

/// One country's voice tiers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct VoicePermission {
    pub low_risk: bool,
    pub high_risk_special: bool,
    pub high_risk_tollfraud: bool,
}

/// The permissions that apply to an account (its own, or inherited).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GeoPolicy {
    /// The account whose permissions these are.
    pub owner: String,
    /// ISO code (or `001` for international networks) → tiers. Absent: all off.
    pub voice: HashMap<String, VoicePermission>,
    /// ISO codes enabled for SMS.
    pub sms: HashSet<String>,
}

/// The seeds' ten destinations most used for fraud (Latvia, Lithuania,
/// Serbia, Somalia, the two Congos, Chad, Gambia, Sierra Leone, Guinea):
/// enabling one is logged as a warning.
pub const FRAUD_DESTINATIONS: [&str; 10] =
    ["LV", "LT", "RS", "SO", "CG", "CD", "TD", "GM", "SL", "GN"];

/// Countries whose SMS permission cannot be enabled (sanctions).
pub const SMS_NEVER: [&str; 3] = ["IR", "SY", "CU"];

/// Decides whether `channel` may reach `number` under `policy`.
pub fn decide(
    policy: &GeoPolicy,
    number: &Classification,
    input: &str,
    channel: Channel,
) -> Decision {
    let (matched_prefix, risk_reason) = match &number.risk_reason {
        RiskReason::None => (None, None),
        RiskReason::Prefix { prefix, reason } => (Some(format!("+{prefix}")), Some(reason.clone())),
        RiskReason::SpecialType(t) => (None, Some(format!("number type {}", t.as_str()))),
        RiskReason::SpecialNetwork(code) => (None, Some(format!("international network +{code}"))),
    };
    let evidence = Evidence {
        input: input.to_owned(),
        e164: number.e164.clone(),
        country: number.country,
        calling_code: number.calling_code,
        number_type: number.number_type.as_str(),
        risk: number.risk.as_str(),
        matched_prefix,
        risk_reason,
        permissions_of: policy.owner.clone(),
    };
    let to = number.e164.as_deref().unwrap_or(input);
    let deny = |rule: RuleId, code: u32, message: String| Decision {
        allowed: false,
        rule,
        error_code: Some(code),
        message,
        evidence: evidence.clone(),
    };
    let (true, Some(country)) = (number.valid, number.country) else {
        return deny(
            RuleId::InvalidNumber,
            21211,
            format!("The 'To' number {input} is not a valid phone number."),
        );
    };
    let blocked_code = match channel {
        Channel::Sms => 21408,
        Channel::Voice => 21215,
    };
    let blocked_message = || match channel {
        Channel::Sms => format!(
            "Permission to send an SMS has not been enabled for the region indicated by the 'To' number: {to}."
        ),
        Channel::Voice => format!(
            "Account not authorized to call {to}. Perhaps you need to enable some international permissions: /v1/DialingPermissions/Countries/{country}"
        ),
    };
    match channel {
        Channel::Sms => {
            if !policy.sms.contains(country) {
                return deny(RuleId::CountryNotEnabled, blocked_code, blocked_message());
            }
        }
        Channel::Voice => {
            let p = policy.voice.get(country).copied().unwrap_or_default();
            if !p.low_risk {
                return deny(RuleId::CountryNotEnabled, blocked_code, blocked_message());
            }
            match number.risk {
                RiskTier::HighRiskTollfraud if !p.high_risk_tollfraud => {
                    return deny(
                        RuleId::HighRiskTollfraudNotEnabled,
                        blocked_code,
                        blocked_message(),
                    );
                }
                RiskTier::HighRiskSpecial if !p.high_risk_special => {
                    return deny(
                        RuleId::HighRiskSpecialNotEnabled,
                        blocked_code,
                        blocked_message(),
                    );
                }
                _ => {}
            }
        }
    }
    Decision {
        allowed: true,
        rule: RuleId::Allowed,
        error_code: None,
        message: format!("{} to {to} is permitted", channel.as_str()),
        evidence,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tollgate_numbering::Classifier;

    fn policy() -> GeoPolicy {
        let mut p = GeoPolicy {
            owner: "AC1".into(),
            ..GeoPolicy::default()
        };
        p.voice.insert(
            "US".into(),
            VoicePermission {
                low_risk: true,
                ..VoicePermission::default()
            },
        );
        p.voice.insert(
            "GB".into(),
            VoicePermission {
                low_risk: true,
                high_risk_special: false,
                high_risk_tollfraud: false,
            },
        );
        p.voice.insert(
            "SO".into(),
            VoicePermission {
                low_risk: true,
                high_risk_special: false,
                high_risk_tollfraud: false,
            },
        );
        p.sms.insert("US".into());
        p
    }

    #[test]
    fn home_country_passes_and_others_are_blocked_with_twilio_codes() {
        let c = Classifier::new();
        let p = policy();
        let us = c.classify("+12015550123", None);
        let d = decide(&p, &us, "+12015550123", Channel::Sms);
        assert!(d.allowed, "{d:?}");
        assert_eq!(d.rule, RuleId::Allowed);

        let fr = c.classify("+33612345678", None);
        let d = decide(&p, &fr, "+33612345678", Channel::Sms);
        assert_eq!(
            (d.allowed, d.rule, d.error_code),
            (false, RuleId::CountryNotEnabled, Some(21408))
        );
        assert_eq!(d.evidence.country, Some("FR"));
        let d = decide(&p, &fr, "+33612345678", Channel::Voice);
        assert_eq!(d.error_code, Some(21215));

        let bad = c.classify("+1201", None);
        let d = decide(&p, &bad, "+1201", Channel::Voice);
        assert_eq!((d.rule, d.error_code), (RuleId::InvalidNumber, Some(21211)));
    }

    #[test]
    fn risk_tiers_need_their_own_enable() {
        let c = Classifier::new();
        let mut p = policy();
        let premium = c.classify("+449098765432", None);
        let d = decide(&p, &premium, "+449098765432", Channel::Voice);
        assert_eq!(d.rule, RuleId::HighRiskSpecialNotEnabled);
        assert_eq!(d.evidence.risk, "high_risk_special");
        let somalia = c.classify("+252611234567", None);
        let d = decide(&p, &somalia, "+252611234567", Channel::Voice);
        assert_eq!(d.rule, RuleId::HighRiskTollfraudNotEnabled);
        assert_eq!(d.evidence.matched_prefix.as_deref(), Some("+252"));
        if let Some(gb) = p.voice.get_mut("GB") {
            gb.high_risk_special = true;
        }
        assert!(decide(&p, &premium, "+449098765432", Channel::Voice).allowed);
    }
}
