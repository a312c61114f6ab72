//! In-memory traffic state: velocity limiters, the spend ledger and the
//! price table. Checks read no database row.

use std::collections::HashSet;
use std::hash::{Hash, Hasher};
use std::sync::Mutex;

use tollgate_admission::{VelocityKeys, VelocityRefusal};
use tollgate_policy::pricing::PriceTable;
use tollgate_policy::spend::{CapExceeded, Ledger, Period};
use tollgate_policy::velocity::{Limiter, Rate};

use crate::state::snapshot::{AccountEntry, Snapshot};

/// Keys a velocity rule can count by.
pub const LIMIT_KEYS: [&str; 6] = ["account", "to", "to-prefix", "from", "ip", "country"];

/// Rules that apply with no configuration: per recipient number and per
/// 1,000-number range, so a bot cannot pump one number or one range. An
/// account rule with the same key replaces the default.
pub const DEFAULT_RULES: [(&str, u32, i64); 2] = [("to", 10, 3_600), ("to-prefix", 50, 3_600)];

const SHARDS: usize = 16;
/// Keys held per shard before old ones are dropped.
const KEYS_PER_SHARD: usize = 65_536;

/// Consecutive carrier failures that take a sender out of rotation.
const FAILURES_TO_BENCH: u32 = 3;
/// How long a benched sender stays out before it is tried again.
const BENCH_MS: i64 = 60_000;
/// Sticky (service, recipient) pairs remembered.
pub const STICKY_CAPACITY: usize = 100_000;

/// Sender-pool state: sticky senders, failures, rotation.
#[derive(Default)]
struct Pools {
    sticky: std::collections::HashMap<(String, String), String>,
    failures: std::collections::HashMap<String, (u32, i64)>,
    next: std::collections::HashMap<String, usize>,
}

/// Why inbound texts were dropped, counted per account.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct Dropped {
    pub blocklist: u64,
    pub flood: u64,
}

pub struct Traffic {
    dropped: Mutex<std::collections::HashMap<String, Dropped>>,
    pools: Mutex<Pools>,
    /// Numbers that have texted each account (`RecipientPolicy=known`).
    known: Mutex<std::collections::HashMap<String, HashSet<String>>>,
    shards: Vec<Mutex<Limiter<String>>>,
    ledger: Mutex<Ledger>,
    pub prices: PriceTable,
}

impl Traffic {
    pub fn new(prices: PriceTable) -> Traffic {
        Traffic {
            dropped: Mutex::new(std::collections::HashMap::new()),
            pools: Mutex::new(Pools::default()),
            known: Mutex::new(std::collections::HashMap::new()),
            shards: (0..SHARDS)
                .map(|_| Mutex::new(Limiter::new(KEYS_PER_SHARD)))
                .collect(),
            ledger: Mutex::new(Ledger::default()),
            prices,
        }
    }

    fn shard(&self, key: &str) -> Option<&Mutex<Limiter<String>>> {
        let mut h = std::collections::hash_map::DefaultHasher::new();
        key.hash(&mut h);
        self.shards.get((h.finish() as usize) % SHARDS)
    }

    /// Picks a sender from `pool` for `to`: the sticky one if it is healthy,
    /// else the next healthy one in rotation, never one of `exclude`.
    /// A benched sender is used only when no healthy one is left.
    pub fn pick_sender(
        &self,
        service: &str,
        pool: &[String],
        sticky: bool,
        to: &str,
        exclude: &[&str],
        now_ms: i64,
    ) -> Option<String> {
        let Ok(mut p) = self.pools.lock() else {
            return pool.first().cloned();
        };
        let healthy =
            |p: &Pools, n: &str| p.failures.get(n).is_none_or(|(_, until)| *until <= now_ms);
        let candidates: Vec<&String> = pool
            .iter()
            .filter(|n| !exclude.contains(&n.as_str()))
            .collect();
        if sticky
            && let Some(chosen) = p.sticky.get(&(service.to_owned(), to.to_owned())).cloned()
            && candidates.iter().any(|c| **c == chosen)
            && healthy(&p, &chosen)
        {
            return Some(chosen);
        }
        let start = p.next.get(service).copied().unwrap_or(0);
        let n = candidates.len();
        let pick = (0..n)
            .map(|i| (start + i) % n.max(1))
            .find(|&i| candidates.get(i).is_some_and(|c| healthy(&p, c)))
            .or_else(|| (n > 0).then_some(start % n))
            .and_then(|i| candidates.get(i).map(|c| (i, (*c).clone())));
        let (index, chosen) = pick?;
        p.next.insert(service.to_owned(), index + 1);
        if sticky {
            if p.sticky.len() >= STICKY_CAPACITY {
                p.sticky.clear();
            }
            p.sticky
                .insert((service.to_owned(), to.to_owned()), chosen.clone());
        }
        Some(chosen)
    }

    /// Restores sticky pairs at start, newest first: the first sender seen
    /// for a (service, recipient) pair is kept. Redacted recipients (stored
    /// with `XXXX`) are skipped: no send can match them.
    pub fn restore_sticky(&self, newest_first: impl IntoIterator<Item = (String, String, String)>) {
        let Ok(mut p) = self.pools.lock() else {
            return;
        };
        for (service, to, from) in newest_first {
            if p.sticky.len() >= STICKY_CAPACITY {
                break;
            }
            if to.contains('X') {
                continue;
            }
            p.sticky.entry((service, to)).or_insert(from);
        }
    }

    /// Records how a sender did at the carrier.
    pub fn sender_result(&self, number: &str, ok: bool, now_ms: i64) {
        if let Ok(mut p) = self.pools.lock() {
            if ok {
                p.failures.remove(number);
            } else {
                let entry = p.failures.entry(number.to_owned()).or_insert((0, 0));
                entry.0 += 1;
                if entry.0 >= FAILURES_TO_BENCH {
                    entry.1 = now_ms + BENCH_MS;
                    tracing::warn!(
                        number,
                        "sender taken out of rotation after repeated carrier failures"
                    );
                }
            }
        }
    }

    /// Counts one inbound text from `from` to `account`; false when the
    /// sender is over its per-minute allowance.
    pub fn inbound_allowed(&self, account: &str, from: &str, per_minute: u32, now_ms: i64) -> bool {
        let key = format!("inbound|{account}|{from}");
        let rate = Rate {
            max: per_minute.max(1),
            interval_ms: 60_000,
        };
        self.shard(&key)
            .and_then(|s| s.lock().ok())
            .is_none_or(|mut l| l.check(&key, rate, now_ms).is_ok())
    }

    pub fn count_dropped(&self, account: &str, flood: bool) {
        if let Ok(mut d) = self.dropped.lock() {
            let entry = d.entry(account.to_owned()).or_default();
            if flood {
                entry.flood += 1;
            } else {
                entry.blocklist += 1;
            }
        }
    }

    pub fn dropped(&self, account: &str) -> Dropped {
        self.dropped
            .lock()
            .ok()
            .and_then(|d| d.get(account).copied())
            .unwrap_or_default()
    }

    /// Remembers that `number` texted `account`.
    pub fn add_known(&self, account: &str, number: &str) {
        if let Ok(mut k) = self.known.lock() {
            k.entry(account.to_owned())
                .or_default()
                .insert(number.to_owned());
        }
    }

    pub fn is_known(&self, account: &str, number: &str) -> bool {
        self.known
            .lock()
            .map(|k| k.get(account).is_some_and(|s| s.contains(number)))
            .unwrap_or(false)
    }

    /// Checks every rule for this send, then counts it against all of them.
    pub fn velocity(
        &self,
        snapshot: &Snapshot,
        account: &AccountEntry,
        keys: &VelocityKeys<'_>,
        now_ms: i64,
    ) -> Result<(), VelocityRefusal> {
        let chain = snapshot.chain(account);
        let mut rules: Vec<(String, String, Rate)> = Vec::new();
        let mut overridden = HashSet::new();
        for owner in &chain {
            for r in snapshot
                .rate_limits
                .get(*owner)
                .into_iter()
                .flat_map(|l| l.iter())
            {
                let channel_ok = r
                    .channel
                    .as_deref()
                    .is_none_or(|c| c == keys.channel.as_str());
                if !channel_ok {
                    continue;
                }
                overridden.insert(r.limit_key.clone());
                rules.push((
                    r.sid.clone(),
                    r.limit_key.clone(),
                    Rate {
                        max: u32::try_from(r.max_events).unwrap_or(1),
                        interval_ms: i64::from(r.interval_seconds) * 1000,
                    },
                ));
            }
        }
        let family = chain.last().copied().unwrap_or(account.sid.as_str());
        for (key, max, seconds) in DEFAULT_RULES {
            if !overridden.contains(key) {
                rules.push((
                    format!("default:{key}:{family}"),
                    key.to_owned(),
                    Rate {
                        max,
                        interval_ms: seconds * 1000,
                    },
                ));
            }
        }
        let value_of = |key: &str| -> Option<String> {
            Some(match key {
                "account" => account.sid.clone(),
                "to" => keys.to.to_owned(),
                "to-prefix" => keys.to.get(..keys.to.len().saturating_sub(3))?.to_owned(),
                "from" => keys.from.to_owned(),
                "ip" => keys.ip?.to_string(),
                "country" => keys.country.to_owned(),
                _ => return None,
            })
        };
        let mut checked: Vec<(String, Rate)> = Vec::new();
        for (rule, key, rate) in &rules {
            let Some(value) = value_of(key) else {
                continue;
            };
            let full = format!("{rule}|{value}");
            let Some(shard) = self.shard(&full) else {
                continue;
            };
            let verdict = shard
                .lock()
                .map(|l| l.peek(&full, *rate, now_ms))
                .unwrap_or(Ok(()));
            if let Err(retry_after) = verdict {
                return Err(VelocityRefusal {
                    rule: rule.clone(),
                    key: key.clone(),
                    retry_after_ms: retry_after.0,
                });
            }
            checked.push((full, *rate));
        }
        for (full, rate) in checked {
            if let Some(shard) = self.shard(&full)
                && let Ok(mut l) = shard.lock()
            {
                l.record(&full, rate, now_ms);
            }
        }
        Ok(())
    }

    /// Checks the caps of `chain` and, if the send fits, counts its price.
    pub fn spend(
        &self,
        snapshot: &Snapshot,
        chain: &[&str],
        country: &str,
        price_micros: i64,
        now_ms: i64,
    ) -> Result<(), CapExceeded> {
        let Ok(mut ledger) = self.ledger.lock() else {
            return Ok(());
        };
        for account in chain {
            ledger.check(
                snapshot.spend_limits_of(account),
                chain,
                country,
                price_micros,
                now_ms,
            )?;
        }
        ledger.record(chain, country, price_micros, now_ms);
        Ok(())
    }

    /// Counts spend that happened (a call's minutes after the first), without a check.
    pub fn add_spend(&self, chain: &[&str], country: &str, price_micros: i64, at_ms: i64) {
        if let Ok(mut ledger) = self.ledger.lock() {
            ledger.record(chain, country, price_micros, at_ms);
            ledger.prune(at_ms);
        }
    }

    /// What the account (with its subaccounts) spent this period, for display.
    pub fn spent(&self, account: &str, period: Period, now_ms: i64) -> i64 {
        self.ledger
            .lock()
            .map(|l| {
                l.spent(
                    account,
                    &tollgate_policy::spend::Scope::Account,
                    period,
                    now_ms,
                )
            })
            .unwrap_or(0)
    }
}
