//! Risk tiers: `high_risk_special` (premium rate, shared cost, UAN, personal
//! numbers, satellite and international networks) and `high_risk_tollfraud`
//! (a maintained prefix table users can extend), else `standard`.

use crate::NumberType;

/// The three tiers of Twilio's voice dialing permissions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RiskTier {
    Standard,
    HighRiskSpecial,
    HighRiskTollfraud,
}

impl RiskTier {
    pub fn as_str(self) -> &'static str {
        match self {
            RiskTier::Standard => "standard",
            RiskTier::HighRiskSpecial => "high_risk_special",
            RiskTier::HighRiskTollfraud => "high_risk_tollfraud",
        }
    }
}

/// Why a number got its tier.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RiskReason {
    None,
    /// The number type is a special service (premium rate, shared cost…).
    SpecialType(NumberType),
    /// A satellite or international network calling code.
    SpecialNetwork(u16),
    /// A prefix of a table, with the table's reason.
    Prefix {
        prefix: String,
        reason: String,
    },
}

/// Calling codes of satellite and international networks.
pub const SPECIAL_NETWORK_CODES: [u16; 6] = [808, 870, 881, 882, 883, 979];

/// The default toll-fraud table (see the file for sources).
pub const DEFAULT_TOLLFRAUD_TABLE: &str = include_str!("../data/high_risk_tollfraud.tsv");

/// A digit trie of E.164 prefixes (without `+`), longest match wins.
#[derive(Debug, Clone, Default)]
pub struct PrefixTable {
    nodes: Vec<Node>,
    reasons: Vec<(String, String)>,
}

#[derive(Debug, Clone, Default)]
struct Node {
    children: [u32; 10],
    entry: Option<u32>,
}

/// A line of a prefix table that is not `digits<TAB>reason`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TableError {
    pub line: usize,
    pub message: String,
}

impl std::fmt::Display for TableError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "line {}: {}", self.line, self.message)
    }
}

impl PrefixTable {
    pub fn new() -> PrefixTable {
        PrefixTable {
            nodes: vec![Node::default()],
            reasons: Vec::new(),
        }
    }

    /// Adds `prefix` (digits, an optional leading `+`). A repeated prefix
    /// keeps its first reason.
    pub fn insert(&mut self, prefix: &str, reason: &str) -> Result<(), String> {
        let digits = prefix.trim().trim_start_matches('+');
        if digits.is_empty() || digits.len() > 15 || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return Err(format!("'{prefix}' is not 1 to 15 digits"));
        }
        if self.nodes.is_empty() {
            self.nodes.push(Node::default());
        }
        let mut at = 0usize;
        for b in digits.bytes() {
            let d = usize::from(b - b'0');
            let next = self
                .nodes
                .get(at)
                .and_then(|n| n.children.get(d))
                .copied()
                .unwrap_or(0);
            at = if next == 0 {
                let id = self.nodes.len();
                self.nodes.push(Node::default());
                if let Some(slot) = self.nodes.get_mut(at).and_then(|n| n.children.get_mut(d)) {
                    *slot = u32::try_from(id).unwrap_or(0);
                }
                id
            } else {
                next as usize
            };
        }
        if let Some(node) = self.nodes.get_mut(at)
            && node.entry.is_none()
        {
            node.entry = u32::try_from(self.reasons.len()).ok();
            self.reasons
                .push((digits.to_owned(), reason.trim().to_owned()));
        }
        Ok(())
    }

    /// Parses `digits<TAB>reason` lines; `#` comments and blank lines are skipped.
    pub fn extend_from_text(&mut self, text: &str) -> Result<(), TableError> {
        for (index, raw) in text.lines().enumerate() {
            let line = raw.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let (prefix, reason) = line
                .split_once(['\t', ' '])
                .map(|(p, r)| (p, r.trim()))
                .unwrap_or((line, ""));
            self.insert(prefix, reason).map_err(|message| TableError {
                line: index + 1,
                message,
            })?;
        }
        Ok(())
    }

    /// The longest prefix of `digits` in the table, with its reason.
    pub fn longest_match(&self, digits: &str) -> Option<(&str, &str)> {
        let mut at = 0usize;
        let mut best = self.nodes.first().and_then(|n| n.entry);
        for b in digits.bytes() {
            if !b.is_ascii_digit() {
                break;
            }
            let next = self
                .nodes
                .get(at)
                .and_then(|n| n.children.get(usize::from(b - b'0')))
                .copied()
                .unwrap_or(0);
            if next == 0 {
                break;
            }
            at = next as usize;
            if let Some(entry) = self.nodes.get(at).and_then(|n| n.entry) {
                best = Some(entry);
            }
        }
        best.and_then(|e| self.reasons.get(e as usize))
            .map(|(p, r)| (p.as_str(), r.as_str()))
    }

    /// Every prefix under `start` (digits), in order: for listing a country's ranges.
    pub fn prefixes_under(&self, start: &str) -> Vec<&str> {
        let mut out: Vec<&str> = self
            .reasons
            .iter()
            .filter(|(p, _)| p.starts_with(start))
            .map(|(p, _)| p.as_str())
            .collect();
        out.sort_unstable();
        out
    }

    pub fn len(&self) -> usize {
        self.reasons.len()
    }

    pub fn is_empty(&self) -> bool {
        self.reasons.is_empty()
    }
}

/// The tier of a number: toll fraud first (narrowest and costliest), then
/// special services, else standard.
pub fn tier(
    e164_digits: &str,
    calling_code: Option<u16>,
    number_type: NumberType,
    tollfraud: &PrefixTable,
    special: &PrefixTable,
) -> (RiskTier, RiskReason) {
    if let Some((prefix, reason)) = tollfraud.longest_match(e164_digits) {
        return (
            RiskTier::HighRiskTollfraud,
            RiskReason::Prefix {
                prefix: prefix.to_owned(),
                reason: reason.to_owned(),
            },
        );
    }
    if let Some(code) = calling_code.filter(|c| SPECIAL_NETWORK_CODES.contains(c)) {
        return (RiskTier::HighRiskSpecial, RiskReason::SpecialNetwork(code));
    }
    if matches!(
        number_type,
        NumberType::PremiumRate
            | NumberType::SharedCost
            | NumberType::Uan
            | NumberType::PersonalNumber
    ) {
        return (
            RiskTier::HighRiskSpecial,
            RiskReason::SpecialType(number_type),
        );
    }
    if let Some((prefix, reason)) = special.longest_match(e164_digits) {
        return (
            RiskTier::HighRiskSpecial,
            RiskReason::Prefix {
                prefix: prefix.to_owned(),
                reason: reason.to_owned(),
            },
        );
    }
    (RiskTier::Standard, RiskReason::None)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn longest_prefix_wins_and_text_parses() {
        let mut t = PrefixTable::new();
        t.extend_from_text("# comment\n\n371\tLatvia\n3712\tLatvian mobile block\n")
            .unwrap();
        assert_eq!(
            t.longest_match("37120000000"),
            Some(("3712", "Latvian mobile block"))
        );
        assert_eq!(t.longest_match("37160000000"), Some(("371", "Latvia")));
        assert_eq!(t.longest_match("14155550100"), None);
        assert_eq!(t.prefixes_under("371"), ["371", "3712"]);
        let err = t.extend_from_text("12a\tbad").unwrap_err();
        assert_eq!(err.line, 1);
    }

    #[test]
    fn the_default_table_loads() {
        let mut t = PrefixTable::new();
        t.extend_from_text(DEFAULT_TOLLFRAUD_TABLE).unwrap();
        assert!(t.len() >= 20);
        assert!(t.longest_match("252612345678").is_some());
    }

    proptest! {
        #[test]
        fn match_is_a_real_prefix(prefixes in proptest::collection::vec("[0-9]{1,6}", 0..30), number in "[0-9]{0,15}") {
            let mut t = PrefixTable::new();
            for p in &prefixes { t.insert(p, "r").unwrap(); }
            match t.longest_match(&number) {
                Some((p, _)) => {
                    prop_assert!(number.starts_with(p));
                    prop_assert!(prefixes.iter().filter(|q| number.starts_with(q.as_str())).all(|q| q.len() <= p.len()));
                }
                None => prop_assert!(prefixes.iter().all(|q| !number.starts_with(q.as_str()))),
            }
        }
    }
}
