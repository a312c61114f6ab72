//! Account status, as Twilio names it.

use std::fmt;
use std::str::FromStr;

/// `active`, `suspended` or `closed`. Closed is final.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum AccountStatus {
    Active,
    Suspended,
    Closed,
}

/// The text is not one of Twilio's account statuses.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("status must be one of active, suspended, closed")]
pub struct ParseStatusError;

impl AccountStatus {
    pub const fn as_str(self) -> &'static str {
        match self {
            AccountStatus::Active => "active",
            AccountStatus::Suspended => "suspended",
            AccountStatus::Closed => "closed",
        }
    }
}

impl FromStr for AccountStatus {
    type Err = ParseStatusError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "active" => Ok(AccountStatus::Active),
            "suspended" => Ok(AccountStatus::Suspended),
            "closed" => Ok(AccountStatus::Closed),
            _ => Err(ParseStatusError),
        }
    }
}

impl TryFrom<String> for AccountStatus {
    type Error = ParseStatusError;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        s.parse()
    }
}

impl fmt::Display for AccountStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_rejects_other_case() {
        for s in [
            AccountStatus::Active,
            AccountStatus::Suspended,
            AccountStatus::Closed,
        ] {
            assert_eq!(s.as_str().parse::<AccountStatus>(), Ok(s));
        }
        assert!("Active".parse::<AccountStatus>().is_err());
        assert_eq!(
            serde_json::to_string(&AccountStatus::Suspended).unwrap(),
            "\"suspended\""
        );
    }
}
