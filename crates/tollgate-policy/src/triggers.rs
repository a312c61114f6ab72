//! Usage triggers, as pure decisions: the period a recurring trigger counts
//! in (UTC), the value it watches, its threshold, and whether it fires.

use tollgate_types::Timestamp;

/// `Recurring`: the period a trigger counts in. Empty means `alltime`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Recurring {
    Daily,
    Monthly,
    Yearly,
    AllTime,
}

impl Recurring {
    pub fn parse(text: &str) -> Option<Recurring> {
        Some(match text {
            "daily" => Recurring::Daily,
            "monthly" => Recurring::Monthly,
            "yearly" => Recurring::Yearly,
            "" | "alltime" => Recurring::AllTime,
            _ => return None,
        })
    }

    /// As Twilio shows it (`""` for a trigger that is not recurring).
    pub fn as_str(self) -> &'static str {
        match self {
            Recurring::Daily => "daily",
            Recurring::Monthly => "monthly",
            Recurring::Yearly => "yearly",
            Recurring::AllTime => "",
        }
    }

    /// The start (ms, UTC) of the period that `now` is in; 0 for all time.
    pub fn period_start(self, now: i64) -> i64 {
        let t = Timestamp(now);
        match self {
            Recurring::Daily => t.start_of_day().0,
            Recurring::Monthly => t.start_of_month().0,
            Recurring::Yearly => t.start_of_year().0,
            Recurring::AllTime => 0,
        }
    }
}

/// `TriggerBy`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TriggerBy {
    Count,
    Usage,
    Price,
}

impl TriggerBy {
    pub fn parse(text: &str) -> Option<TriggerBy> {
        Some(match text {
            "count" => TriggerBy::Count,
            "usage" => TriggerBy::Usage,
            "price" => TriggerBy::Price,
            _ => return None,
        })
    }

    pub fn as_str(self) -> &'static str {
        match self {
            TriggerBy::Count => "count",
            TriggerBy::Usage => "usage",
            TriggerBy::Price => "price",
        }
    }
}

/// The usage categories Tollgate meters.
pub const CATEGORIES: [&str; 7] = [
    "sms",
    "sms-outbound",
    "sms-inbound",
    "calls",
    "calls-outbound",
    "calls-inbound",
    "totalprice",
];

/// Count, usage (segments or minutes) and price (micro-dollars) of one
/// base category.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Tally {
    pub count: i64,
    pub usage: i64,
    pub price_micros: i64,
}

impl Tally {
    pub fn add(&mut self, other: Tally) {
        self.count += other.count;
        self.usage += other.usage;
        self.price_micros += other.price_micros;
    }
}

/// Usage split into the four base categories every other one sums.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Usage {
    pub sms_outbound: Tally,
    pub sms_inbound: Tally,
    pub calls_outbound: Tally,
    pub calls_inbound: Tally,
}

impl Usage {
    pub fn add(&mut self, other: &Usage) {
        self.sms_outbound.add(other.sms_outbound);
        self.sms_inbound.add(other.sms_inbound);
        self.calls_outbound.add(other.calls_outbound);
        self.calls_inbound.add(other.calls_inbound);
    }

    /// A base category's tally, by its name in the store's usage rows.
    pub fn base_mut(&mut self, category: &str) -> Option<&mut Tally> {
        match category {
            "sms-outbound" => Some(&mut self.sms_outbound),
            "sms-inbound" => Some(&mut self.sms_inbound),
            "calls-outbound" => Some(&mut self.calls_outbound),
            "calls-inbound" => Some(&mut self.calls_inbound),
            _ => None,
        }
    }

    fn of(&self, category: &str) -> Option<Tally> {
        let mut t = Tally::default();
        let parts: &[Tally] = match category {
            "sms" => &[self.sms_outbound, self.sms_inbound],
            "sms-outbound" => &[self.sms_outbound],
            "sms-inbound" => &[self.sms_inbound],
            "calls" => &[self.calls_outbound, self.calls_inbound],
            "calls-outbound" => &[self.calls_outbound],
            "calls-inbound" => &[self.calls_inbound],
            "totalprice" => &[
                self.sms_outbound,
                self.sms_inbound,
                self.calls_outbound,
                self.calls_inbound,
            ],
            _ => return None,
        };
        for p in parts {
            t.add(*p);
        }
        Some(t)
    }

    /// The value a trigger watches, in its units: a count, segments or
    /// minutes, or micro-dollars. `totalprice` is a price whatever `by` is.
    pub fn value(&self, category: &str, by: TriggerBy) -> Option<i64> {
        let t = self.of(category)?;
        Some(if category == "totalprice" {
            t.price_micros
        } else {
            match by {
                TriggerBy::Count => t.count,
                TriggerBy::Usage => t.usage,
                TriggerBy::Price => t.price_micros,
            }
        })
    }
}

/// Whether the value is money (micro-dollars).
pub fn is_price(category: &str, by: TriggerBy) -> bool {
    category == "totalprice" || by == TriggerBy::Price
}

/// Parses `TriggerValue` into the trigger's units. An offset (`+30`) is
/// added to `current`. Counts and usage round up to whole units.
pub fn parse_threshold(text: &str, price: bool, current: i64) -> Option<i64> {
    let text = text.trim();
    let (offset, number) = match text.strip_prefix('+') {
        Some(rest) => (true, rest),
        None => (false, text),
    };
    let micros = crate::spend::parse_usd_micros(number).filter(|_| !number.starts_with('-'))?;
    let units = if price {
        micros
    } else {
        micros.checked_add(999_999)? / 1_000_000
    };
    if units <= 0 {
        return None;
    }
    if offset {
        current.checked_add(units)
    } else {
        Some(units)
    }
}

/// A value as Twilio shows it: counts as integers, money with up to six
/// decimals.
pub fn format_value(units: i64, price: bool) -> String {
    if !price {
        return units.to_string();
    }
    let whole = units / 1_000_000;
    let frac = (units % 1_000_000).abs();
    let text = format!("{whole}.{frac:06}");
    let text = text.trim_end_matches('0');
    text.trim_end_matches('.').to_owned()
}

/// Whether a trigger fires now: its value reached the threshold and it has
/// not fired in this period.
pub fn fires(value: i64, threshold: i64, fired_period: Option<i64>, period: i64) -> bool {
    value >= threshold && fired_period.is_none_or(|p| p < period)
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: i64 = 1_795_000_000_000; // 2026-11-18

    #[test]
    fn periods_are_utc() {
        assert_eq!(
            Timestamp(Recurring::Daily.period_start(NOW)).iso8601(),
            "2026-11-18T00:00:00Z"
        );
        assert_eq!(
            Timestamp(Recurring::Monthly.period_start(NOW)).iso8601(),
            "2026-11-01T00:00:00Z"
        );
        assert_eq!(
            Timestamp(Recurring::Yearly.period_start(NOW)).iso8601(),
            "2026-01-01T00:00:00Z"
        );
        assert_eq!(Recurring::AllTime.period_start(NOW), 0);
        assert_eq!(Recurring::parse(""), Some(Recurring::AllTime));
        assert_eq!(Recurring::parse("weekly"), None);
    }

    #[test]
    fn values_sum_their_base_categories() {
        let u = Usage {
            sms_outbound: Tally {
                count: 3,
                usage: 4,
                price_micros: 24_000,
            },
            sms_inbound: Tally {
                count: 1,
                usage: 1,
                price_micros: 7_900,
            },
            calls_outbound: Tally {
                count: 2,
                usage: 5,
                price_micros: 70_000,
            },
            calls_inbound: Tally::default(),
        };
        assert_eq!(u.value("sms", TriggerBy::Count), Some(4));
        assert_eq!(u.value("sms", TriggerBy::Usage), Some(5));
        assert_eq!(u.value("sms-outbound", TriggerBy::Price), Some(24_000));
        assert_eq!(u.value("calls", TriggerBy::Usage), Some(5));
        assert_eq!(u.value("totalprice", TriggerBy::Count), Some(101_900));
        assert_eq!(u.value("mms", TriggerBy::Count), None);
    }

    #[test]
    fn thresholds_take_offsets_and_units() {
        assert_eq!(parse_threshold("30", true, 0), Some(30_000_000));
        assert_eq!(parse_threshold("+30", false, 12), Some(42));
        assert_eq!(parse_threshold("2.5", false, 0), Some(3));
        assert_eq!(parse_threshold("0.5", true, 0), Some(500_000));
        assert_eq!(parse_threshold("-3", false, 0), None);
        assert_eq!(parse_threshold("0", false, 0), None);
        assert_eq!(parse_threshold("abc", false, 0), None);
        assert_eq!(format_value(30_500_000, true), "30.5");
        assert_eq!(format_value(42, false), "42");
    }

    #[test]
    fn a_trigger_fires_once_per_period() {
        let day = Recurring::Daily.period_start(NOW);
        assert!(!fires(4, 5, None, day));
        assert!(fires(5, 5, None, day));
        assert!(!fires(9, 5, Some(day), day));
        assert!(fires(5, 5, Some(day - 86_400_000), day));
    }
}
