//! Number intelligence: for any input (E.164, national with a default
//! region, `00`/`011` prefixes, spaces, dashes) whether it is valid, its
//! E.164 form, country, calling code, type and risk tier.
//!
//! Classification follows Google's libphonenumber metadata (through the
//! `rlibphonenumber` crate). `+` input, the hot path, runs on DFAs compiled
//! from that metadata, one per region, built on first use
//! ([`Classifier::warm`] builds them all): no regex is interpreted per call.
//! Other input, and the rare `+` numbers where libphonenumber's parser would
//! strip a national prefix, go through `rlibphonenumber`'s parser, so the
//! answers are libphonenumber's in every case.
//!
//! This crate does no I/O and reads no clock; tables are passed in as text.

mod compiled;
pub mod countries;
pub mod risk;

use rlibphonenumber::{PHONE_NUMBER_UTIL, ParseError, PhoneNumberFormat, PhoneNumberType, Region};

pub use risk::{PrefixTable, RiskReason, RiskTier};

/// libphonenumber's number types.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum NumberType {
    FixedLine,
    Mobile,
    FixedLineOrMobile,
    TollFree,
    PremiumRate,
    SharedCost,
    Voip,
    PersonalNumber,
    Pager,
    Uan,
    Voicemail,
    Unknown,
}

impl NumberType {
    pub fn as_str(self) -> &'static str {
        match self {
            NumberType::FixedLine => "fixed_line",
            NumberType::Mobile => "mobile",
            NumberType::FixedLineOrMobile => "fixed_line_or_mobile",
            NumberType::TollFree => "toll_free",
            NumberType::PremiumRate => "premium_rate",
            NumberType::SharedCost => "shared_cost",
            NumberType::Voip => "voip",
            NumberType::PersonalNumber => "personal_number",
            NumberType::Pager => "pager",
            NumberType::Uan => "uan",
            NumberType::Voicemail => "voicemail",
            NumberType::Unknown => "unknown",
        }
    }

    fn from_lib(t: PhoneNumberType) -> NumberType {
        match t {
            PhoneNumberType::FixedLine => NumberType::FixedLine,
            PhoneNumberType::Mobile => NumberType::Mobile,
            PhoneNumberType::FixedLineOrMobile => NumberType::FixedLineOrMobile,
            PhoneNumberType::TollFree => NumberType::TollFree,
            PhoneNumberType::PremiumRate => NumberType::PremiumRate,
            PhoneNumberType::SharedCost => NumberType::SharedCost,
            PhoneNumberType::VoIP => NumberType::Voip,
            PhoneNumberType::PersonalNumber => NumberType::PersonalNumber,
            PhoneNumberType::Pager => NumberType::Pager,
            PhoneNumberType::UAN => NumberType::Uan,
            PhoneNumberType::VoiceMail => NumberType::Voicemail,
            PhoneNumberType::Unknown => NumberType::Unknown,
        }
    }
}

/// Why a number is not valid, in Twilio Lookup's vocabulary.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ValidationError {
    TooShort,
    TooLong,
    InvalidButPossible,
    InvalidCountryCode,
    InvalidLength,
    NotANumber,
}

impl ValidationError {
    pub fn as_str(self) -> &'static str {
        match self {
            ValidationError::TooShort => "TOO_SHORT",
            ValidationError::TooLong => "TOO_LONG",
            ValidationError::InvalidButPossible => "INVALID_BUT_POSSIBLE",
            ValidationError::InvalidCountryCode => "INVALID_COUNTRY_CODE",
            ValidationError::InvalidLength => "INVALID_LENGTH",
            ValidationError::NotANumber => "NOT_A_NUMBER",
        }
    }
}

/// Everything known about one number.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Classification {
    pub valid: bool,
    /// `+` and digits, when the input parsed (valid or not).
    pub e164: Option<String>,
    /// ISO 3166 alpha-2, `"001"` for non-geographic codes (+800, +881…).
    pub country: Option<&'static str>,
    pub calling_code: Option<u16>,
    pub number_type: NumberType,
    pub risk: RiskTier,
    pub risk_reason: RiskReason,
    /// Set when `valid` is false.
    pub error: Option<ValidationError>,
}

/// A reusable classifier: compiled rules and the risk tables.
pub struct Classifier {
    rules: compiled::CompiledRules,
    tollfraud: PrefixTable,
    special: PrefixTable,
}

impl Default for Classifier {
    fn default() -> Self {
        Classifier::new()
    }
}

/// Most digits an E.164 number has.
const MAX_E164_DIGITS: usize = 15;

impl Classifier {
    /// The default tables: Tollgate's toll-fraud table, no extra special prefixes.
    pub fn new() -> Classifier {
        let mut tollfraud = PrefixTable::new();
        // The embedded table is checked by a unit test; a bad line cannot ship.
        let _ = tollfraud.extend_from_text(risk::DEFAULT_TOLLFRAUD_TABLE);
        Classifier::with_tables(tollfraud, PrefixTable::new())
    }

    /// Explicit tables (the defaults plus users' additions, typically).
    pub fn with_tables(tollfraud: PrefixTable, special: PrefixTable) -> Classifier {
        Classifier {
            rules: compiled::CompiledRules::new(),
            tollfraud,
            special,
        }
    }

    pub fn tollfraud_table(&self) -> &PrefixTable {
        &self.tollfraud
    }

    pub fn special_table(&self) -> &PrefixTable {
        &self.special
    }

    /// E.164 prefixes (without `+`) of `iso`'s high-risk special numbers:
    /// derived from libphonenumber's premium-rate, shared-cost, UAN and
    /// personal-number patterns, plus the special table's entries for it.
    pub fn high_risk_special_prefixes(&self, iso: &str) -> Vec<String> {
        let Some(country) = countries::by_iso(iso) else {
            return Vec::new();
        };
        let Ok(region) = country.iso_code.parse::<Region>() else {
            return Vec::new();
        };
        let code = country.calling_code;
        let mut out: Vec<String> = self
            .rules
            .code(code)
            .map(|rules| rules.special_prefixes_of(region, 8))
            .unwrap_or_default()
            .into_iter()
            .map(|p| format!("{code}{p}"))
            .collect();
        for p in self.special.prefixes_under(&code.to_string()) {
            if self.classify(&format!("+{p:0<12}"), None).country == Some(country.iso_code) {
                out.push(p.to_owned());
            }
        }
        out.sort();
        out.dedup();
        out
    }

    /// The national format of a valid number (`(201) 555-0123`), for Lookup.
    pub fn national_format(&self, e164: &str) -> Option<String> {
        let parsed = PHONE_NUMBER_UTIL.parse(e164, None).ok()?;
        Some(
            PHONE_NUMBER_UTIL
                .format(&parsed, PhoneNumberFormat::National)
                .into_owned(),
        )
    }

    /// Compiles every region now instead of on first use.
    pub fn warm(&self) {
        self.rules.warm();
    }

    /// The country calling code that international `digits` (no `+`) begin
    /// with, if they begin with an assigned one.
    pub fn calling_code(&self, digits: &str) -> Option<u16> {
        if digits.starts_with('0') {
            return None;
        }
        // The first 1 to 3 digits that name one.
        (1..=3.min(digits.len())).find_map(|len| {
            let head = digits.get(..len)?;
            if !head.bytes().all(|b| b.is_ascii_digit()) {
                return None;
            }
            let code: u16 = head.parse().ok()?;
            self.rules.code(code).map(|_| code)
        })
    }

    /// Classifies any input. `default_region` (ISO alpha-2) is used for
    /// national numbers and `00`/`011`-style international prefixes.
    pub fn classify(&self, input: &str, default_region: Option<&str>) -> Classification {
        if let Some(fast) = self.classify_plus(input) {
            return fast;
        }
        self.classify_with_parser(input, default_region)
    }

    /// The compiled path for `+` followed by digits (spaces, dashes, dots and
    /// parentheses ignored). `None` when the full parser must decide.
    fn classify_plus(&self, input: &str) -> Option<Classification> {
        let rest = input.trim().strip_prefix('+')?;
        let mut digits = [0u8; MAX_E164_DIGITS];
        let mut n = 0usize;
        for b in rest.bytes() {
            match b {
                b'0'..=b'9' => {
                    *digits.get_mut(n)? = b;
                    n += 1;
                }
                b' ' | b'-' | b'.' | b'(' | b')' => {}
                _ => return None,
            }
        }
        let digits = std::str::from_utf8(digits.get(..n)?).ok()?;
        let code = self.calling_code(digits)?;
        let rules = self.rules.code(code)?;
        let nsn = digits.get(code_len(code)..)?;
        if !(2..=17).contains(&nsn.len()) || rules.national_prefix_may_apply(nsn) {
            return None;
        }
        let (region, number_type) = rules.classify(nsn);
        let valid = region.is_some() && number_type != NumberType::Unknown;
        let error = (!valid).then(|| rules.length_error(nsn.len()));
        let (risk, risk_reason) = risk::tier(
            digits,
            Some(code),
            number_type,
            &self.tollfraud,
            &self.special,
        );
        Some(Classification {
            valid,
            e164: Some(format!("+{digits}")),
            country: region.map(region_str),
            calling_code: Some(rules.calling_code),
            number_type,
            risk,
            risk_reason,
            error,
        })
    }

    /// libphonenumber's parser, for everything the compiled path leaves.
    fn classify_with_parser(&self, input: &str, default_region: Option<&str>) -> Classification {
        let region =
            default_region.and_then(|r| r.trim().to_ascii_uppercase().parse::<Region>().ok());
        let parsed = match PHONE_NUMBER_UTIL.parse(input, region) {
            Ok(number) => number,
            Err(e) => {
                let error = match e {
                    ParseError::InvalidCountryCode => ValidationError::InvalidCountryCode,
                    ParseError::NotANumber(_) => ValidationError::NotANumber,
                    ParseError::TooShortAfterIdd | ParseError::TooShortNsn => {
                        ValidationError::TooShort
                    }
                    ParseError::TooLongNsn => ValidationError::TooLong,
                };
                return unparsed(error);
            }
        };
        let e164 = PHONE_NUMBER_UTIL
            .format(&parsed, PhoneNumberFormat::E164)
            .into_owned();
        let code = u16::try_from(parsed.country_code).ok();
        let region = PHONE_NUMBER_UTIL.get_region_for_number(&parsed);
        let valid = PHONE_NUMBER_UTIL.is_valid_number(&parsed);
        let number_type = NumberType::from_lib(PHONE_NUMBER_UTIL.get_number_type(&parsed));
        let error = if valid {
            None
        } else {
            Some(
                match PHONE_NUMBER_UTIL.is_possible_number_with_reason(&parsed) {
                    Ok(_) => ValidationError::InvalidButPossible,
                    Err(rlibphonenumber::ValidationError::TooShort) => ValidationError::TooShort,
                    Err(rlibphonenumber::ValidationError::TooLong) => ValidationError::TooLong,
                    Err(rlibphonenumber::ValidationError::InvalidCountryCode) => {
                        ValidationError::InvalidCountryCode
                    }
                    Err(_) => ValidationError::InvalidLength,
                },
            )
        };
        let digits = e164.trim_start_matches('+');
        let (risk, risk_reason) =
            risk::tier(digits, code, number_type, &self.tollfraud, &self.special);
        Classification {
            valid,
            country: region.map(region_str),
            e164: Some(e164),
            calling_code: code,
            number_type,
            risk,
            risk_reason,
            error,
        }
    }
}

fn unparsed(error: ValidationError) -> Classification {
    Classification {
        valid: false,
        e164: None,
        country: None,
        calling_code: None,
        number_type: NumberType::Unknown,
        risk: RiskTier::Standard,
        risk_reason: RiskReason::None,
        error: Some(error),
    }
}

fn code_len(code: u16) -> usize {
    match code {
        0..=9 => 1,
        10..=99 => 2,
        _ => 3,
    }
}

/// The region's code as a `'static` string; the set is closed, so each is
/// allocated once for the life of the process.
pub(crate) fn region_str(region: Region) -> &'static str {
    use std::collections::HashMap;
    use std::sync::OnceLock;
    static CODES: OnceLock<HashMap<Region, &'static str>> = OnceLock::new();
    let codes = CODES.get_or_init(|| {
        PHONE_NUMBER_UTIL
            .get_supported_regions()
            .chain([Region::World])
            .map(|r| {
                let text: &'static str = Box::leak(r.as_region_str().to_string().into_boxed_str());
                (r, text)
            })
            .collect()
    });
    codes.get(&region).copied().unwrap_or("ZZ")
}

#[cfg(test)]
mod tests;
