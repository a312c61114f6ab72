//! Twilio resource identifiers: two upper-case letters and 32 lower-case hex digits.

use std::fmt;

/// The two-letter prefix that names a SID's resource type.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SidPrefix {
    /// `AC`: an account or subaccount.
    Account,
    /// `SK`: an API key.
    ApiKey,
    /// `CR`: a public key for client validation (a credential).
    PublicKey,
    /// `WD`: one webhook Tollgate delivers (Tollgate's own resource).
    WebhookDelivery,
    /// `SM`: a message.
    Message,
    /// `CA`: a call.
    Call,
    /// `PN`: a phone number of an account.
    PhoneNumber,
    /// `RL`: a velocity limit (Tollgate's own).
    RateLimit,
    /// `SL`: a spend cap (Tollgate's own).
    SpendLimit,
    /// `MG`: a Messaging Service.
    MessagingService,
    /// `AE`: an audit event.
    AuditEvent,
    /// `UT`: a usage trigger.
    UsageTrigger,
    /// `NO`: an alert.
    Alert,
    /// `AK`: an alarm (Monitor v2; older alarms kept `AL`).
    Alarm,
    VerifyService,
    Verification,
    VerifyAttempt,
    VerifyRateLimit,
    VerifyBucket,
    SafeListNumber,
}

impl SidPrefix {
    /// The two letters, as they appear on the wire.
    pub const fn as_str(self) -> &'static str {
        match self {
            SidPrefix::Account => "AC",
            SidPrefix::ApiKey => "SK",
            SidPrefix::PublicKey => "CR",
            SidPrefix::WebhookDelivery => "WD",
            SidPrefix::Message => "SM",
            SidPrefix::Call => "CA",
            SidPrefix::PhoneNumber => "PN",
            SidPrefix::RateLimit => "RL",
            SidPrefix::SpendLimit => "SL",
            SidPrefix::MessagingService => "MG",
            SidPrefix::AuditEvent => "AE",
            SidPrefix::UsageTrigger => "UT",
            SidPrefix::Alert => "NO",
            SidPrefix::Alarm => "AK",
            SidPrefix::VerifyService => "VA",
            SidPrefix::Verification => "VE",
            SidPrefix::VerifyAttempt => "VL",
            SidPrefix::VerifyRateLimit => "RK",
            SidPrefix::VerifyBucket => "BL",
            SidPrefix::SafeListNumber => "GN",
        }
    }
}

/// Why a string is not a SID of the expected kind.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SidError {
    #[error("expected a {expected} SID: 2 letters then 32 lower-case hex digits")]
    Malformed { expected: &'static str },
}

/// A validated SID. Always 34 ASCII bytes.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
#[serde(transparent)]
pub struct Sid(String);

impl Sid {
    /// Length of every SID on the wire.
    pub const LEN: usize = 34;

    /// Builds a SID from 16 random bytes drawn by the caller.
    pub fn from_random(prefix: SidPrefix, random: [u8; 16]) -> Sid {
        let mut s = String::with_capacity(Self::LEN);
        s.push_str(prefix.as_str());
        s.push_str(&hex::encode(random));
        Sid(s)
    }

    /// A SID whose first 12 hex digits are `unix_ms` (big-endian), then 80
    /// random bits, like a UUIDv7: SIDs of high-volume records (messages,
    /// calls) then sort by creation, so a database index takes them at its
    /// right edge instead of at random pages.
    pub fn time_ordered(prefix: SidPrefix, unix_ms: i64, random: [u8; 10]) -> Sid {
        let mut bytes = [0u8; 16];
        let ms = u64::try_from(unix_ms).unwrap_or(0).to_be_bytes();
        for (dst, src) in bytes.iter_mut().zip(ms.iter().skip(2)) {
            *dst = *src;
        }
        for (dst, src) in bytes.iter_mut().skip(6).zip(random) {
            *dst = src;
        }
        Self::from_random(prefix, bytes)
    }

    /// Parses a SID that must carry `prefix`.
    pub fn parse(input: &str, prefix: SidPrefix) -> Result<Sid, SidError> {
        if is_sid_of(input, prefix) {
            Ok(Sid(input.to_owned()))
        } else {
            Err(SidError::Malformed {
                expected: prefix.as_str(),
            })
        }
    }

    /// The SID as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The SID's prefix, if it is one Tollgate knows.
    pub fn prefix(&self) -> Option<SidPrefix> {
        [
            SidPrefix::Account,
            SidPrefix::ApiKey,
            SidPrefix::PublicKey,
            SidPrefix::WebhookDelivery,
            SidPrefix::Message,
            SidPrefix::Call,
            SidPrefix::PhoneNumber,
            SidPrefix::RateLimit,
            SidPrefix::SpendLimit,
            SidPrefix::MessagingService,
            SidPrefix::AuditEvent,
            SidPrefix::UsageTrigger,
            SidPrefix::Alert,
            SidPrefix::Alarm,
            SidPrefix::VerifyService,
            SidPrefix::Verification,
            SidPrefix::VerifyAttempt,
            SidPrefix::VerifyRateLimit,
            SidPrefix::VerifyBucket,
            SidPrefix::SafeListNumber,
        ]
        .into_iter()
        .find(|p| self.0.starts_with(p.as_str()))
    }
}

/// True when `input` is exactly `prefix` followed by 32 lower-case hex digits.
pub fn is_sid_of(input: &str, prefix: SidPrefix) -> bool {
    let bytes = input.as_bytes();
    bytes.len() == Sid::LEN
        && input.starts_with(prefix.as_str())
        && bytes
            .iter()
            .skip(2)
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(b))
}

impl fmt::Display for Sid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for Sid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Sid({})", self.0)
    }
}

impl AsRef<str> for Sid {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn time_ordered_sids_sort_by_time_and_keep_80_random_bits() {
        let a = Sid::time_ordered(SidPrefix::Message, 1_700_000_000_000, [0xff; 10]);
        let b = Sid::time_ordered(SidPrefix::Message, 1_700_000_000_001, [0x00; 10]);
        assert!(a.as_str() < b.as_str());
        assert!(Sid::parse(a.as_str(), SidPrefix::Message).is_ok());
        assert_eq!(&a.as_str()[2..14], "018bcfe56800");
        assert_eq!(&a.as_str()[14..], "ffffffffffffffffffff");
    }

    use super::*;
    use proptest::prelude::*;

    #[test]
    fn random_sid_has_wire_shape() {
        let sid = Sid::from_random(SidPrefix::Account, [0xab; 16]);
        assert_eq!(sid.as_str(), format!("AC{}", "ab".repeat(16)));
        assert_eq!(
            Sid::parse(sid.as_str(), SidPrefix::Account),
            Ok(sid.clone())
        );
        assert!(Sid::parse(sid.as_str(), SidPrefix::ApiKey).is_err());
        assert_eq!(sid.prefix(), Some(SidPrefix::Account));
    }

    #[test]
    fn rejects_upper_case_hex_and_wrong_lengths() {
        let upper = format!("AC{}", "AB".repeat(16));
        assert!(Sid::parse(&upper, SidPrefix::Account).is_err());
        let short = format!("AC{}", "a".repeat(31));
        assert!(Sid::parse(&short, SidPrefix::Account).is_err());
        assert!(Sid::parse("", SidPrefix::Account).is_err());
    }

    proptest! {
        #[test]
        fn parse_never_panics_and_accepts_only_the_shape(s in "\\PC{0,40}") {
            let ok = Sid::parse(&s, SidPrefix::Account).is_ok();
            let shape = s.len() == 34 && s.starts_with("AC")
                && s[2..].chars().all(|c| matches!(c, '0'..='9' | 'a'..='f'));
            prop_assert_eq!(ok, shape);
        }

        #[test]
        fn every_random_sid_parses_back(bytes in any::<[u8; 16]>()) {
            let sid = Sid::from_random(SidPrefix::ApiKey, bytes);
            prop_assert_eq!(Sid::parse(sid.as_str(), SidPrefix::ApiKey), Ok(sid));
        }
    }
}
