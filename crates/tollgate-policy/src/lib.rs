//! Decisions as pure functions: each takes the policy snapshot and the
//! request, and returns a [`Decision`] with the rule that decided and the
//! evidence it used. The server records and reports them; this crate never
//! logs, counts, or reads a clock.

pub mod content;
pub mod geo;
pub mod pricing;
pub mod spend;
pub mod triggers;
pub mod velocity;

pub use geo::{Channel, GeoPolicy, VoicePermission, decide};

/// Which rule decided.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RuleId {
    /// The destination passed every check.
    Allowed,
    /// `To` is not a valid number.
    InvalidNumber,
    /// The destination's country is not enabled for this channel.
    CountryNotEnabled,
    /// The number is high-risk special and that tier is off for the country.
    HighRiskSpecialNotEnabled,
    /// The number is in a toll-fraud range and that tier is off for the country.
    HighRiskTollfraudNotEnabled,
}

impl RuleId {
    pub fn as_str(self) -> &'static str {
        match self {
            RuleId::Allowed => "allowed",
            RuleId::InvalidNumber => "geo.invalid_number",
            RuleId::CountryNotEnabled => "geo.country_not_enabled",
            RuleId::HighRiskSpecialNotEnabled => "geo.high_risk_special_not_enabled",
            RuleId::HighRiskTollfraudNotEnabled => "geo.high_risk_tollfraud_not_enabled",
        }
    }
}

/// What was known about the destination when deciding.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Evidence {
    pub input: String,
    pub e164: Option<String>,
    pub country: Option<&'static str>,
    pub calling_code: Option<u16>,
    pub number_type: &'static str,
    pub risk: &'static str,
    /// The table prefix that set the risk tier, if one did.
    pub matched_prefix: Option<String>,
    /// Why the tier: the table's reason, the special type, or the network.
    pub risk_reason: Option<String>,
    /// Whose permissions applied (the account, or the parent it inherits from).
    pub permissions_of: String,
}

/// A verdict with its rule, the Twilio error a send gets, and the evidence.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decision {
    pub allowed: bool,
    pub rule: RuleId,
    /// 21211 (invalid `To`), 21408 (SMS region not enabled), 21215 (call not permitted).
    pub error_code: Option<u32>,
    pub message: String,
    pub evidence: Evidence,
}
