//! Hard spend caps, checked before a send: a send whose price would take a
//! period's spend over a cap is refused. A parent's cap counts its
//! subaccounts' spend. Periods are UTC hours, days and months; time is a
//! parameter. Amounts are micro-dollars.

use std::collections::HashMap;

use tollgate_types::Timestamp;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Period {
    Hour,
    Day,
    Month,
}

impl Period {
    pub fn parse(text: &str) -> Option<Period> {
        match text.to_ascii_lowercase().as_str() {
            "hour" => Some(Period::Hour),
            "day" => Some(Period::Day),
            "month" => Some(Period::Month),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Period::Hour => "hour",
            Period::Day => "day",
            Period::Month => "month",
        }
    }

    /// The start of the period that contains `now_ms`.
    pub fn start(self, now_ms: i64) -> i64 {
        let t = Timestamp(now_ms);
        match self {
            Period::Hour => t.start_of_hour().0,
            Period::Day => t.start_of_day().0,
            Period::Month => t.start_of_month().0,
        }
    }
}

/// What a cap covers: all the account's spend, or spend to one country.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Scope {
    Account,
    Country(String),
}

impl Scope {
    /// `account` or `country:XX`.
    pub fn parse(text: &str) -> Option<Scope> {
        if text.eq_ignore_ascii_case("account") {
            return Some(Scope::Account);
        }
        let (kind, iso) = text.split_once(':')?;
        (kind.eq_ignore_ascii_case("country")
            && iso.len() == 2
            && iso.bytes().all(|b| b.is_ascii_alphabetic()))
        .then(|| Scope::Country(iso.to_ascii_uppercase()))
    }

    pub fn render(&self) -> String {
        match self {
            Scope::Account => "account".into(),
            Scope::Country(iso) => format!("country:{iso}"),
        }
    }
}

/// One cap of one account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SpendLimit {
    pub sid: String,
    pub account_sid: String,
    pub scope: Scope,
    pub period: Period,
    pub limit_micros: i64,
}

/// Why a send was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CapExceeded {
    pub limit_sid: String,
    pub account_sid: String,
    pub scope: Scope,
    pub period: Period,
    pub limit_micros: i64,
    pub spent_micros: i64,
    pub price_micros: i64,
}

type Bucket = (String, Scope, Period, i64);

/// Spend per account, scope and period, in memory.
#[derive(Debug, Clone, Default)]
pub struct Ledger {
    spent: HashMap<Bucket, i64>,
}

/// Periods every send counts toward.
const PERIODS: [Period; 3] = [Period::Hour, Period::Day, Period::Month];

impl Ledger {
    pub fn spent(&self, account: &str, scope: &Scope, period: Period, now_ms: i64) -> i64 {
        self.spent
            .get(&(
                account.to_owned(),
                scope.clone(),
                period,
                period.start(now_ms),
            ))
            .copied()
            .unwrap_or(0)
    }

    /// Checks `price` to `country` against `limits` (the caps of every account
    /// in `chain`: the sender first, then its parent).
    pub fn check(
        &self,
        limits: &[SpendLimit],
        chain: &[&str],
        country: &str,
        price_micros: i64,
        now_ms: i64,
    ) -> Result<(), CapExceeded> {
        for limit in limits {
            if !chain.contains(&limit.account_sid.as_str()) {
                continue;
            }
            if let Scope::Country(iso) = &limit.scope
                && iso != country
            {
                continue;
            }
            let spent = self.spent(&limit.account_sid, &limit.scope, limit.period, now_ms);
            if spent.saturating_add(price_micros) > limit.limit_micros {
                return Err(CapExceeded {
                    limit_sid: limit.sid.clone(),
                    account_sid: limit.account_sid.clone(),
                    scope: limit.scope.clone(),
                    period: limit.period,
                    limit_micros: limit.limit_micros,
                    spent_micros: spent,
                    price_micros,
                });
            }
        }
        Ok(())
    }

    /// Adds a send's price to every account of `chain`, for both scopes and
    /// every period.
    pub fn record(&mut self, chain: &[&str], country: &str, price_micros: i64, at_ms: i64) {
        for account in chain {
            for scope in [Scope::Account, Scope::Country(country.to_owned())] {
                for period in PERIODS {
                    *self
                        .spent
                        .entry((
                            (*account).to_owned(),
                            scope.clone(),
                            period,
                            period.start(at_ms),
                        ))
                        .or_insert(0) += price_micros;
                }
            }
        }
    }

    /// Drops buckets of periods that ended before `now_ms`.
    pub fn prune(&mut self, now_ms: i64) {
        self.spent
            .retain(|(_, _, period, start), _| *start >= period.start(now_ms));
    }
}

/// Dollars (`"0.0079"`, `"-0.00790"`) to micro-dollars, as a positive amount.
pub fn parse_usd_micros(text: &str) -> Option<i64> {
    let text = text.trim().trim_start_matches('-');
    let (whole, frac) = text.split_once('.').unwrap_or((text, ""));
    if whole.is_empty() && frac.is_empty() || frac.len() > 6 {
        return None;
    }
    if !whole.bytes().all(|b| b.is_ascii_digit()) || !frac.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let whole: i64 = if whole.is_empty() {
        0
    } else {
        whole.parse().ok()?
    };
    let frac: i64 = format!("{frac:0<6}").parse().ok()?;
    whole.checked_mul(1_000_000)?.checked_add(frac)
}

/// Micro-dollars as Twilio prints prices: negative, five decimals (`-0.00790`).
pub fn format_price(micros: i64) -> String {
    let cents5 = (micros + 5) / 10; // to 1e-5 dollars
    format!("-{}.{:05}", cents5 / 100_000, cents5 % 100_000)
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: i64 = 1_795_000_000_000; // 2026-11-18T…Z

    fn cap(account: &str, scope: Scope, period: Period, usd: i64) -> SpendLimit {
        SpendLimit {
            sid: format!("cap-{account}"),
            account_sid: account.into(),
            scope,
            period,
            limit_micros: usd * 1_000_000,
        }
    }

    #[test]
    fn a_send_that_would_cross_the_cap_is_refused() {
        let mut l = Ledger::default();
        let caps = [cap("AC1", Scope::Account, Period::Day, 1)];
        for _ in 0..100 {
            assert!(l.check(&caps, &["AC1"], "US", 10_000, NOW).is_ok());
            l.record(&["AC1"], "US", 10_000, NOW);
        }
        let e = l.check(&caps, &["AC1"], "US", 10_000, NOW).unwrap_err();
        assert_eq!((e.spent_micros, e.limit_micros), (1_000_000, 1_000_000));
        // The next UTC day starts afresh.
        assert!(
            l.check(&caps, &["AC1"], "US", 10_000, NOW + 86_400_000)
                .is_ok()
        );
    }

    #[test]
    fn parents_count_subaccounts_and_country_caps_apply_only_there() {
        let mut l = Ledger::default();
        let caps = [
            cap("ACparent", Scope::Account, Period::Month, 1),
            cap("ACsub", Scope::Country("GB".into()), Period::Hour, 0),
        ];
        l.record(&["ACsub", "ACparent"], "US", 900_000, NOW);
        assert!(
            l.check(&caps, &["ACsub", "ACparent"], "US", 100_000, NOW)
                .is_ok()
        );
        let e = l
            .check(&caps, &["ACsub", "ACparent"], "US", 100_001, NOW)
            .unwrap_err();
        assert_eq!(e.account_sid, "ACparent");
        let e = l
            .check(&caps, &["ACsub", "ACparent"], "GB", 1, NOW)
            .unwrap_err();
        assert_eq!(e.scope, Scope::Country("GB".into()));
        // Another subaccount is bound by the parent's cap too.
        assert!(
            l.check(&caps, &["ACother", "ACparent"], "US", 200_000, NOW)
                .is_err()
        );
    }

    #[test]
    fn prices_parse_and_print_like_twilio() {
        assert_eq!(parse_usd_micros("0.0079"), Some(7_900));
        assert_eq!(parse_usd_micros("-0.00790"), Some(7_900));
        assert_eq!(parse_usd_micros("12"), Some(12_000_000));
        assert_eq!(parse_usd_micros("1.2345678"), None);
        assert_eq!(parse_usd_micros("abc"), None);
        assert_eq!(format_price(7_900), "-0.00790");
        assert_eq!(format_price(1_234_567), "-1.23457");
        assert_eq!(
            Scope::parse("country:gb"),
            Some(Scope::Country("GB".into()))
        );
        assert_eq!(Scope::parse("country:GBR"), None);
    }
}
