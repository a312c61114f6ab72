//! What the detector answers: a [`Verdict`] for each send, the [`Block`]s
//! it keeps, and the rule ids that name them.

/// What the detector decided, and why.
#[derive(Debug, Clone, PartialEq)]
pub struct Verdict {
    pub allow: bool,
    /// `fraudguard.*`, or `allow`.
    pub rule: &'static str,
    /// The blocked range (`+` and the prefix digits), when one applies.
    pub range: Option<String>,
    /// Human-readable evidence, with the figures that tripped the rule.
    pub evidence: String,
    /// Up to [`EVIDENCE_NUMBERS`] E.164 numbers (`+digits`) that tripped it.
    pub numbers: Vec<String>,
}

impl Verdict {
    pub(crate) fn allow() -> Verdict {
        Verdict {
            allow: true,
            rule: "allow",
            range: None,
            evidence: String::new(),
            numbers: Vec::new(),
        }
    }

    /// `fraudguard.invalid_number`: refused on its own.
    pub(crate) fn invalid(digits: &str) -> Verdict {
        Verdict {
            allow: false,
            rule: RULE_INVALID,
            range: None,
            evidence: format!("+{digits} is not a valid number"),
            numbers: vec![format!("+{digits}")],
        }
    }
}

/// A block on a range (or, for `fraudguard.new_country` and
/// `fraudguard.conversion`, a country under watch: only the sends the rule
/// refuses are blocked there).
#[derive(Debug, Clone, PartialEq)]
pub struct Block {
    /// The prefix digits, without `+`.
    pub prefix: String,
    pub rule: &'static str,
    pub evidence: String,
    /// Up to [`EVIDENCE_NUMBERS`] numbers (`+digits`) that tripped it.
    pub numbers: Vec<String>,
    pub since: f64,
    pub expires: f64,
    /// Refused sends while it stood.
    pub refused: u64,
}

pub const RULE_INVALID: &str = "fraudguard.invalid_number";
pub const RULE_BURST: &str = "fraudguard.burst";
pub const RULE_DENSITY: &str = "fraudguard.density";
pub const RULE_LOW_CONVERSION: &str = "fraudguard.low_conversion";
pub const RULE_NEW_COUNTRY: &str = "fraudguard.new_country";
pub const RULE_CONVERSION: &str = "fraudguard.conversion";
pub const RULE_SWEEP: &str = "fraudguard.sweep";
pub const RULE_HOSTED_CALL: &str = "fraudguard.hosted_call";

/// Whether a refusal by `rule` is listed as a block (a range or a country
/// watch); an invalid number or a hosted call is refused on its own.
pub fn lists_a_block(rule: &str) -> bool {
    rule != RULE_INVALID && rule != RULE_HOSTED_CALL
}

/// The rules that block a whole range; the others (country watches) refuse
/// only the sends their own test refuses.
pub(crate) fn blocks_range(rule: &str) -> bool {
    rule != RULE_NEW_COUNTRY && rule != RULE_CONVERSION
}

/// Most numbers carried as evidence.
pub const EVIDENCE_NUMBERS: usize = 10;
