//! libphonenumber's region and type rules, compiled: every national-number
//! pattern of a region becomes one pattern of an anchored multi-pattern DFA,
//! built once per region on first use. Classifying walks the DFA over the
//! national significant number (a table lookup per digit) and applies
//! libphonenumber's decision order to the set of patterns that matched.

use std::sync::OnceLock;

use regex_automata::dfa::{Automaton, dense};
use regex_automata::util::start;
use regex_automata::util::syntax;
use regex_automata::{Anchored, Input, MatchKind};
use rlibphonenumber::interfaces::AsOriginal;
use rlibphonenumber::{PHONE_NUMBER_UTIL, Region};

use crate::NumberType;

/// The descriptors of a region, in the order of the DFA's pattern ids.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Desc {
    General = 0,
    PremiumRate,
    TollFree,
    SharedCost,
    Voip,
    Personal,
    Pager,
    Uan,
    Voicemail,
    FixedLine,
    Mobile,
    /// The region's `leading_digits`, as a prefix match.
    Leading,
}

const DESC_COUNT: usize = 12;

/// libphonenumber's order for the special types (first match wins).
const SPECIAL_ORDER: [(Desc, NumberType); 8] = [
    (Desc::PremiumRate, NumberType::PremiumRate),
    (Desc::TollFree, NumberType::TollFree),
    (Desc::SharedCost, NumberType::SharedCost),
    (Desc::Voip, NumberType::Voip),
    (Desc::Personal, NumberType::PersonalNumber),
    (Desc::Pager, NumberType::Pager),
    (Desc::Uan, NumberType::Uan),
    (Desc::Voicemail, NumberType::Voicemail),
];

/// Lengths a descriptor allows: bit n = length n; all bits = no constraint.
type LengthMask = u32;
const ANY_LENGTH: LengthMask = u32::MAX;

/// One region's compiled rules.
pub(crate) struct RegionRules {
    pub region: Region,
    dfa: Option<dense::DFA<Vec<u32>>>,
    /// For each descriptor: its pattern id in the DFA and its lengths.
    slots: [Option<(usize, LengthMask)>; DESC_COUNT],
    same_mobile_and_fixed_line_pattern: bool,
}

/// What the DFA found for one national number.
struct Matched {
    bits: u32,
}

impl Matched {
    fn has(&self, rules: &RegionRules, desc: Desc, len: usize) -> bool {
        match rules.slots.get(desc as usize).copied().flatten() {
            Some((pattern, lengths)) => {
                let length_ok = lengths == ANY_LENGTH || (len < 32 && lengths & (1 << len) != 0);
                length_ok && self.bits & (1 << pattern) != 0
            }
            None => false,
        }
    }
}

impl RegionRules {
    fn build(region: Region, calling_code: i32) -> RegionRules {
        let util = PHONE_NUMBER_UTIL.as_original();
        let Some(md) = util.get_metadata_for_region_or_calling_code(calling_code, region) else {
            return RegionRules {
                region,
                dfa: None,
                slots: [None; DESC_COUNT],
                same_mobile_and_fixed_line_pattern: false,
            };
        };
        let descs = [
            (Desc::General, &md.general_desc),
            (Desc::PremiumRate, &md.premium_rate),
            (Desc::TollFree, &md.toll_free),
            (Desc::SharedCost, &md.shared_cost),
            (Desc::Voip, &md.voip),
            (Desc::Personal, &md.personal_number),
            (Desc::Pager, &md.pager),
            (Desc::Uan, &md.uan),
            (Desc::Voicemail, &md.voicemail),
            (Desc::FixedLine, &md.fixed_line),
            (Desc::Mobile, &md.mobile),
        ];
        let mut patterns: Vec<String> = Vec::new();
        let mut slots = [None; DESC_COUNT];
        for (desc, wrapper) in descs {
            let base = wrapper.national_number_pattern().original_base();
            let lengths = &wrapper.original.possible_length;
            // [-1]: no numbers of this type; no pattern: never matches.
            if base.is_empty() || lengths.as_slice() == [-1] {
                continue;
            }
            let lengths = mask(lengths);
            if let Some(slot) = slots.get_mut(desc as usize) {
                *slot = Some((patterns.len(), lengths));
            }
            patterns.push(format!("(?:{base})"));
        }
        let leading = md.leading_digits().original_base();
        if !leading.is_empty()
            && let Some(slot) = slots.get_mut(Desc::Leading as usize)
        {
            *slot = Some((patterns.len(), ANY_LENGTH));
            patterns.push(format!("(?:{leading})[0-9]*"));
        }
        let dfa = dense::Builder::new()
            .configure(
                dense::Config::new()
                    .match_kind(MatchKind::All)
                    .start_kind(regex_automata::dfa::StartKind::Anchored),
            )
            .syntax(syntax::Config::new().unicode(false).utf8(false))
            .build_many(&patterns)
            .ok();
        RegionRules {
            region,
            dfa,
            slots,
            same_mobile_and_fixed_line_pattern: md.original.same_mobile_and_fixed_line_pattern(),
        }
    }

    /// The shortest national prefixes under which every number the metadata
    /// allows is a special service (premium rate, shared cost, UAN, personal),
    /// found by exploring the DFA: what `HighRiskSpecialPrefixes` lists.
    /// Length limits are not considered, so a prefix may also cover numbers
    /// of impossible lengths (harmless: those are invalid anyway).
    pub fn special_prefixes(&self, max_depth: usize) -> Vec<String> {
        let Some(dfa) = &self.dfa else {
            return Vec::new();
        };
        let bit = |desc: Desc| {
            self.slots
                .get(desc as usize)
                .copied()
                .flatten()
                .map_or(0u32, |(id, _)| 1 << id)
        };
        let special =
            bit(Desc::PremiumRate) | bit(Desc::SharedCost) | bit(Desc::Uan) | bit(Desc::Personal);
        let ordinary = bit(Desc::FixedLine)
            | bit(Desc::Mobile)
            | bit(Desc::TollFree)
            | bit(Desc::Voip)
            | bit(Desc::Pager)
            | bit(Desc::Voicemail);
        if special == 0 {
            return Vec::new();
        }
        let config = start::Config::new().anchored(Anchored::Yes);
        let Ok(start_state) = dfa.start_state(&config) else {
            return Vec::new();
        };
        // Which patterns can still match from each state (a fixpoint over
        // the states reachable on digits).
        let mut states = vec![start_state];
        let mut index = std::collections::HashMap::new();
        index.insert(start_state, 0usize);
        let mut at = 0;
        while let Some(&state) = states.get(at) {
            for d in b'0'..=b'9' {
                let next = dfa.next_state(state, d);
                if !dfa.is_dead_state(next) && !index.contains_key(&next) {
                    index.insert(next, states.len());
                    states.push(next);
                }
            }
            at += 1;
            if states.len() > 100_000 {
                return Vec::new();
            }
        }
        let mut reach: Vec<u32> = states
            .iter()
            .map(|&s| {
                let eoi = dfa.next_eoi_state(s);
                let mut bits = 0u32;
                if dfa.is_match_state(eoi) {
                    for i in 0..dfa.match_len(eoi) {
                        let id = dfa.match_pattern(eoi, i).as_usize();
                        if id < 32 {
                            bits |= 1 << id;
                        }
                    }
                }
                bits
            })
            .collect();
        let mut changed = true;
        while changed {
            changed = false;
            for (i, &state) in states.iter().enumerate() {
                let mut bits = reach.get(i).copied().unwrap_or(0);
                for d in b'0'..=b'9' {
                    let next = dfa.next_state(state, d);
                    if let Some(&j) = index.get(&next) {
                        bits |= reach.get(j).copied().unwrap_or(0);
                    }
                }
                if let Some(slot) = reach.get_mut(i)
                    && *slot != bits
                {
                    *slot = bits;
                    changed = true;
                }
            }
        }
        let reach_of = |state| {
            index
                .get(&state)
                .and_then(|&i| reach.get(i))
                .copied()
                .unwrap_or(0)
        };
        let mut out = Vec::new();
        let mut stack: Vec<(String, regex_automata::util::primitives::StateID)> =
            vec![(String::new(), start_state)];
        while let Some((prefix, state)) = stack.pop() {
            for d in (b'0'..=b'9').rev() {
                let next = dfa.next_state(state, d);
                if dfa.is_dead_state(next) {
                    continue;
                }
                let bits = reach_of(next);
                if bits & special == 0 {
                    continue;
                }
                let mut longer = prefix.clone();
                longer.push(char::from(d));
                if bits & ordinary == 0 {
                    out.push(longer);
                } else if longer.len() < max_depth {
                    stack.push((longer, next));
                }
            }
        }
        out.sort();
        out
    }

    /// The patterns matching all of `nsn` (digits only).
    fn run(&self, nsn: &[u8]) -> Matched {
        let mut bits = 0u32;
        let Some(dfa) = &self.dfa else {
            return Matched { bits };
        };
        let config = start::Config::new().anchored(Anchored::Yes);
        let Ok(mut state) = dfa.start_state(&config) else {
            return Matched { bits };
        };
        for &byte in nsn {
            state = dfa.next_state(state, byte);
            if dfa.is_dead_state(state) {
                return Matched { bits };
            }
        }
        state = dfa.next_eoi_state(state);
        if dfa.is_match_state(state) {
            for i in 0..dfa.match_len(state) {
                let id = dfa.match_pattern(state, i).as_usize();
                if id < 32 {
                    bits |= 1 << id;
                }
            }
        }
        Matched { bits }
    }

    /// libphonenumber's `getNumberTypeHelper`.
    fn number_type(&self, m: &Matched, len: usize) -> NumberType {
        if !m.has(self, Desc::General, len) {
            return NumberType::Unknown;
        }
        for (desc, number_type) in SPECIAL_ORDER {
            if m.has(self, desc, len) {
                return number_type;
            }
        }
        if m.has(self, Desc::FixedLine, len) {
            return if self.same_mobile_and_fixed_line_pattern || m.has(self, Desc::Mobile, len) {
                NumberType::FixedLineOrMobile
            } else {
                NumberType::FixedLine
            };
        }
        if !self.same_mobile_and_fixed_line_pattern && m.has(self, Desc::Mobile, len) {
            return NumberType::Mobile;
        }
        NumberType::Unknown
    }
}

fn mask(lengths: &[i32]) -> LengthMask {
    if lengths.is_empty() {
        return ANY_LENGTH;
    }
    lengths
        .iter()
        .filter(|&&l| (0..32).contains(&l))
        .fold(0, |acc, &l| acc | (1 << l))
}

/// Everything about one calling code.
pub(crate) struct CodeRules {
    pub calling_code: u16,
    pub regions: Vec<RegionRules>,
    /// The main region's `national_prefix_for_parsing`: when it matches the
    /// start of the national number, libphonenumber may strip it even from
    /// `+` input, so such numbers take the full parser.
    national_prefix: Option<dense::DFA<Vec<u32>>>,
    /// The main region rewrites what the national prefix captures.
    national_prefix_transforms: bool,
    /// The main region's general lengths (bit n = length n), and its
    /// local-only lengths: libphonenumber's `isPossibleNumberWithReason`.
    possible_mask: u64,
    local_mask: u64,
}

fn mask64(lengths: &[i32]) -> u64 {
    lengths
        .iter()
        .filter(|&&l| (0..64).contains(&l))
        .fold(0, |acc, &l| acc | (1u64 << l))
}

impl CodeRules {
    fn build(calling_code: u16) -> Option<CodeRules> {
        let code = i32::from(calling_code);
        let util = PHONE_NUMBER_UTIL.as_original();
        let regions: Vec<Region> = util.get_regions_for_country_calling_code(code)?.collect();
        if regions.is_empty() {
            return None;
        }
        let national_prefix_transforms = regions
            .first()
            .and_then(|main| util.get_metadata_for_region_or_calling_code(code, *main))
            .is_some_and(|md| !md.original.national_prefix_transform_rule().is_empty());
        let (possible_mask, local_mask) = regions
            .first()
            .and_then(|main| util.get_metadata_for_region_or_calling_code(code, *main))
            .map(|md| {
                (
                    mask64(&md.general_desc.original.possible_length),
                    mask64(&md.general_desc.original.possible_length_local_only),
                )
            })
            .unwrap_or((0, 0));
        let national_prefix = regions.first().and_then(|main| {
            let md = util.get_metadata_for_region_or_calling_code(code, *main)?;
            let pattern = md.national_prefix_for_parsing().original_base();
            if pattern.is_empty() {
                return None;
            }
            dense::Builder::new()
                .configure(
                    dense::Config::new()
                        .match_kind(MatchKind::LeftmostFirst)
                        .start_kind(regex_automata::dfa::StartKind::Anchored),
                )
                .syntax(syntax::Config::new().unicode(false).utf8(false))
                .build(&format!("(?:{pattern})"))
                .ok()
        });
        Some(CodeRules {
            calling_code,
            regions: regions
                .into_iter()
                .map(|r| RegionRules::build(r, code))
                .collect(),
            national_prefix,
            national_prefix_transforms,
            possible_mask,
            local_mask,
        })
    }

    /// True when the national prefix for parsing matches a non-empty start of
    /// `nsn` (then only the full parser gives libphonenumber's answer).
    pub fn national_prefix_may_apply(&self, nsn: &str) -> bool {
        let Some(dfa) = &self.national_prefix else {
            return false;
        };
        let input = Input::new(nsn).anchored(Anchored::Yes);
        match dfa.try_search_fwd(&input) {
            Ok(Some(m)) => m.offset() > 0 || self.national_prefix_transforms,
            Ok(None) => false,
            // A search error never happens without look-around; be exact anyway.
            Err(_) => true,
        }
    }

    /// `special_prefixes` of `region` (one of this code's regions).
    pub fn special_prefixes_of(&self, region: Region, max_depth: usize) -> Vec<String> {
        self.regions
            .iter()
            .find(|r| r.region == region)
            .map(|r| r.special_prefixes(max_depth))
            .unwrap_or_default()
    }

    /// Why an invalid national number of `len` digits is invalid, as
    /// libphonenumber's `isPossibleNumberWithReason` says.
    pub fn length_error(&self, len: usize) -> crate::ValidationError {
        use crate::ValidationError as E;
        if self.possible_mask == 0 {
            return E::InvalidLength;
        }
        if len >= 64 {
            return E::TooLong;
        }
        let bit = 1u64 << len;
        if self.local_mask & bit != 0 {
            return E::InvalidButPossible;
        }
        let min = self.possible_mask.trailing_zeros() as usize;
        let max = 63 - self.possible_mask.leading_zeros() as usize;
        if min == len {
            E::InvalidButPossible
        } else if min > len {
            E::TooShort
        } else if max < len {
            E::TooLong
        } else if self.possible_mask & bit != 0 {
            E::InvalidButPossible
        } else {
            E::InvalidLength
        }
    }

    /// The region and type of a national significant number, as
    /// libphonenumber's `getRegionCodeForNumber` then `getNumberType`.
    pub fn classify(&self, nsn: &str) -> (Option<Region>, NumberType) {
        let digits = nsn.as_bytes();
        let len = digits.len();
        if let [only] = self.regions.as_slice() {
            let m = only.run(digits);
            return (Some(only.region), only.number_type(&m, len));
        }
        for rules in &self.regions {
            let m = rules.run(digits);
            let leading = rules
                .slots
                .get(Desc::Leading as usize)
                .copied()
                .flatten()
                .is_some_and(|(id, _)| m.bits & (1 << id) != 0);
            let number_type = rules.number_type(&m, len);
            if leading || number_type != NumberType::Unknown {
                return (Some(rules.region), number_type);
            }
        }
        (None, NumberType::Unknown)
    }
}

/// Calling codes 1–999, each compiled on first use.
pub(crate) struct CompiledRules {
    codes: Vec<OnceLock<Option<CodeRules>>>,
}

impl CompiledRules {
    pub fn new() -> CompiledRules {
        CompiledRules {
            codes: (0..1000).map(|_| OnceLock::new()).collect(),
        }
    }

    /// The rules for `code`, compiling them if needed; `None` if no region uses it.
    pub fn code(&self, code: u16) -> Option<&CodeRules> {
        self.codes
            .get(usize::from(code))?
            .get_or_init(|| CodeRules::build(code))
            .as_ref()
    }

    /// Compiles every calling code now (for servers that want no first-use cost).
    pub fn warm(&self) {
        for code in 1..1000u16 {
            let _ = self.code(code);
        }
    }
}
