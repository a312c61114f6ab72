//! Instants as Unix milliseconds, formatted the two ways Twilio does:
//! RFC 2822 on `/2010-04-01`, ISO 8601 (whole seconds, `Z`) on v1/v2.

use time::OffsetDateTime;
use time::format_description::well_known::{Rfc2822, Rfc3339};

/// Milliseconds since the Unix epoch, UTC.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Timestamp(pub i64);

impl Timestamp {
    /// Whole seconds since the epoch.
    pub const fn unix_seconds(self) -> i64 {
        self.0.div_euclid(1000)
    }

    fn datetime(self) -> OffsetDateTime {
        // Out-of-range instants (beyond year ±9999) clamp to the epoch: they never
        // come from a real clock, and formatting must not fail.
        OffsetDateTime::from_unix_timestamp(self.unix_seconds())
            .unwrap_or(OffsetDateTime::UNIX_EPOCH)
    }

    /// `Wed, 18 Aug 2010 20:01:40 +0000`
    pub fn rfc2822(self) -> String {
        // RFC 2822 cannot express years before 1900; no real clock reads those.
        self.datetime()
            .format(&Rfc2822)
            .or_else(|_| OffsetDateTime::UNIX_EPOCH.format(&Rfc2822))
            .unwrap_or_default()
    }

    /// `2010-08-18T20:01:40Z`
    pub fn iso8601(self) -> String {
        self.datetime().format(&Rfc3339).unwrap_or_default()
    }

    /// Parses an ISO 8601 / RFC 3339 date-time, or a bare `YYYY-MM-DD` (midnight UTC).
    pub fn parse_iso8601(input: &str) -> Option<Timestamp> {
        if let Ok(dt) = OffsetDateTime::parse(input, &Rfc3339) {
            return i64::try_from(dt.unix_timestamp_nanos() / 1_000_000)
                .ok()
                .map(Timestamp);
        }
        let format = time::macros::format_description!("[year]-[month]-[day]");
        time::Date::parse(input, &format)
            .ok()
            .map(|d| Timestamp(d.midnight().assume_utc().unix_timestamp() * 1000))
    }

    /// The start of this instant's UTC hour.
    pub fn start_of_hour(self) -> Timestamp {
        Timestamp(self.0 - self.0.rem_euclid(3_600_000))
    }

    /// The start of this instant's UTC day.
    pub fn start_of_day(self) -> Timestamp {
        Timestamp(self.0 - self.0.rem_euclid(86_400_000))
    }

    /// The start of this instant's UTC month.
    pub fn start_of_month(self) -> Timestamp {
        let date = self.datetime().date();
        let first = date.replace_day(1).unwrap_or(date);
        Timestamp(first.midnight().assume_utc().unix_timestamp() * 1000)
    }

    /// The start of this instant's UTC year.
    pub fn start_of_year(self) -> Timestamp {
        let date = self.datetime().date();
        let first = date
            .replace_day(1)
            .and_then(|d| d.replace_month(time::Month::January))
            .unwrap_or(date);
        Timestamp(first.midnight().assume_utc().unix_timestamp() * 1000)
    }

    /// The calendar parts `(year, month, day, hour, minute)` in UTC.
    pub fn civil(self) -> (i32, u8, u8, u8, u8) {
        let dt = self.datetime();
        (
            dt.year(),
            u8::from(dt.month()),
            dt.day(),
            dt.hour(),
            dt.minute(),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn period_starts() {
        let t = Timestamp::parse_iso8601("2026-11-22T03:45:12Z").unwrap();
        assert_eq!(t.start_of_hour().iso8601(), "2026-11-22T03:00:00Z");
        assert_eq!(t.start_of_day().iso8601(), "2026-11-22T00:00:00Z");
        assert_eq!(t.start_of_month().iso8601(), "2026-11-01T00:00:00Z");
        assert_eq!(t.start_of_year().iso8601(), "2026-01-01T00:00:00Z");
    }

    #[test]
    fn formats_like_twilio() {
        let t = Timestamp(1_282_161_700_123);
        assert_eq!(t.rfc2822(), "Wed, 18 Aug 2010 20:01:40 +0000");
        assert_eq!(t.iso8601(), "2010-08-18T20:01:40Z");
        assert_eq!(t.civil(), (2010, 8, 18, 20, 1));
    }

    #[test]
    fn parses_dates_and_date_times() {
        assert_eq!(
            Timestamp::parse_iso8601("2010-08-18T20:01:40Z"),
            Some(Timestamp(1_282_161_700_000))
        );
        assert_eq!(
            Timestamp::parse_iso8601("2010-08-18"),
            Some(Timestamp(1_282_089_600_000))
        );
        assert_eq!(Timestamp::parse_iso8601("18/08/2010"), None);
    }

    proptest! {
        #[test]
        fn any_instant_formats_and_reparses(ms in -2_208_988_800_000i64..250_000_000_000_000i64) {
            let t = Timestamp(ms);
            let iso = t.iso8601();
            prop_assert_eq!(Timestamp::parse_iso8601(&iso), Some(Timestamp(t.unix_seconds() * 1000)));
            prop_assert!(!t.rfc2822().is_empty());
        }

        #[test]
        fn extreme_values_do_not_panic(ms in any::<i64>()) {
            let _ = Timestamp(ms).rfc2822();
            let _ = Timestamp(ms).iso8601();
        }
    }
}
