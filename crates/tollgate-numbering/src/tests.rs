use super::*;
use proptest::prelude::*;
use rlibphonenumber::PhoneNumber;

fn e164(n: &PhoneNumber) -> String {
    PHONE_NUMBER_UTIL
        .format(n, PhoneNumberFormat::E164)
        .into_owned()
}

const TYPES: [PhoneNumberType; 11] = [
    PhoneNumberType::FixedLine,
    PhoneNumberType::Mobile,
    PhoneNumberType::TollFree,
    PhoneNumberType::PremiumRate,
    PhoneNumberType::SharedCost,
    PhoneNumberType::VoIP,
    PhoneNumberType::PersonalNumber,
    PhoneNumberType::Pager,
    PhoneNumberType::UAN,
    PhoneNumberType::VoiceMail,
    PhoneNumberType::FixedLineOrMobile,
];

/// Every example number of every region and type, plus variants with the
/// last digits changed and a digit added or removed: the compiled path and
/// the parser give the same answer.
#[test]
fn compiled_path_agrees_with_the_parser_on_example_numbers() {
    let c = Classifier::new();
    let mut inputs = Vec::new();
    for region in PHONE_NUMBER_UTIL.get_supported_regions() {
        for t in TYPES {
            if let Ok(n) = PHONE_NUMBER_UTIL.get_example_number_for_type_and_region(region, t) {
                let s = e164(&n);
                inputs.push(s.clone());
                for tail in ["0", "9", "12", "99"] {
                    let cut = s.len().saturating_sub(tail.len());
                    inputs.push(format!("{}{tail}", &s[..cut]));
                }
                inputs.push(format!("{s}7"));
                inputs.push(s[..s.len() - 1].to_owned());
            }
        }
    }
    for code in PHONE_NUMBER_UTIL.get_supported_global_network_calling_codes() {
        if let Ok(n) = PHONE_NUMBER_UTIL.get_example_number_for_non_geo_entity(code) {
            inputs.push(e164(&n));
        }
    }
    assert!(inputs.len() > 5_000, "{}", inputs.len());
    let mut fast = 0;
    for input in &inputs {
        let ours = c.classify(input, None);
        let reference = c.classify_with_parser(input, None);
        assert_eq!(ours, reference, "{input}");
        if c.classify_plus(input).is_some() {
            fast += 1;
        }
    }
    // Most valid numbers take the compiled path.
    assert!(
        fast * 2 > inputs.len(),
        "only {fast} of {} took the compiled path",
        inputs.len()
    );
}

#[test]
fn known_numbers() {
    let c = Classifier::new();
    let us = c.classify("+1 (201) 555-0123", None);
    assert!(us.valid);
    assert_eq!(us.country, Some("US"));
    assert_eq!(us.number_type, NumberType::FixedLineOrMobile);
    assert_eq!(us.risk, RiskTier::Standard);
    let gb = c.classify("07400 123456", Some("GB"));
    assert_eq!(gb.e164.as_deref(), Some("+447400123456"));
    assert_eq!(gb.number_type, NumberType::Mobile);
    let via_idd = c.classify("011 44 7400 123456", Some("US"));
    assert_eq!(via_idd.e164.as_deref(), Some("+447400123456"));
    let premium = c.classify("+44 909 8765432", None);
    assert_eq!(premium.number_type, NumberType::PremiumRate);
    assert_eq!(premium.risk, RiskTier::HighRiskSpecial);
    let satellite = c.classify("+881 6 12345678", None);
    assert_eq!(satellite.risk, RiskTier::HighRiskSpecial);
    assert_eq!(satellite.country, Some("001"));
    let somalia = c.classify("+252 61 1234567", None);
    assert_eq!(somalia.risk, RiskTier::HighRiskTollfraud);
    assert!(
        matches!(somalia.risk_reason, RiskReason::Prefix { ref prefix, .. } if prefix == "252")
    );
    let junk = c.classify("call me", None);
    assert!(!junk.valid);
    assert_eq!(junk.error, Some(ValidationError::NotANumber));
    let short = c.classify("+1 201", None);
    assert!(!short.valid);
    assert!(short.error.is_some());
}

proptest! {
    #[test]
    fn never_panics_and_paths_agree(input in "\\+?[0-9 ()-]{0,22}|\\PC{0,25}") {
        let c = Classifier::new();
        let ours = c.classify(&input, None);
        if let Some(fast) = c.classify_plus(&input) {
            prop_assert_eq!(&fast, &c.classify_with_parser(&input, None));
        }
        if ours.valid {
            prop_assert!(ours.e164.is_some() && ours.country.is_some());
        }
    }
}

#[test]
fn calling_codes_are_the_assigned_ones() {
    let c = Classifier::new();
    assert_eq!(c.calling_code("12015550124"), Some(1));
    assert_eq!(c.calling_code("4474001235"), Some(44));
    assert_eq!(c.calling_code("2526"), Some(252));
    assert_eq!(c.calling_code("88234"), Some(882));
    for none in ["", "0", "0044", "-12015550124", "+1", "28", "999"] {
        assert_eq!(c.calling_code(none), None, "{none}");
    }
}

#[test]
fn special_prefixes_come_from_the_metadata() {
    let c = Classifier::new();
    let us = c.high_risk_special_prefixes("US");
    assert!(us.iter().any(|p| p == "1900"), "{us:?}");
    let gb = c.high_risk_special_prefixes("GB");
    assert!(gb.iter().any(|p| p.starts_with("449")), "{gb:?}");
    // Every listed prefix, padded to a plausible length, is special or invalid, never ordinary.
    for iso in ["US", "GB", "DE", "FR", "LV", "LT", "RS", "IT"] {
        for p in c.high_risk_special_prefixes(iso) {
            for len in 8..=13 {
                if len <= p.len() {
                    continue;
                }
                let n = c.classify(&format!("+{p:5<len$}"), None);
                assert!(
                    !n.valid || n.risk == RiskTier::HighRiskSpecial,
                    "{iso} {p}: {n:?}"
                );
            }
        }
    }
}
