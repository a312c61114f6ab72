//! Usage triggers with their running values, in memory (the send path reads
//! no database row). Firing them is `services::triggers`.

use std::collections::HashMap;
use std::sync::Mutex;

use tollgate_policy::triggers::{Recurring, TriggerBy, Usage, fires, format_value, is_price};
use tollgate_store::UsageTriggerRecord;

/// A trigger and the value it watches in its current period.
#[derive(Debug, Clone)]
pub struct Watched {
    pub record: UsageTriggerRecord,
    pub recurring: Recurring,
    pub by: TriggerBy,
    /// The period `value` counts in.
    pub period: i64,
    pub value: i64,
}

/// Every trigger, by account, with its running value (in memory: the send
/// path reads no database row).
#[derive(Default)]
pub struct Triggers {
    by_account: Mutex<HashMap<String, Vec<Watched>>>,
}

pub fn parse(record: &UsageTriggerRecord) -> Option<(Recurring, TriggerBy)> {
    Some((
        Recurring::parse(&record.recurring)?,
        TriggerBy::parse(&record.trigger_by)?,
    ))
}

impl Triggers {
    /// Watches `record` from `value` in the period starting at `period`
    /// (replacing an earlier watch of it).
    pub fn put(&self, record: UsageTriggerRecord, period: i64, value: i64) -> Result<(), String> {
        let Some((recurring, by)) = parse(&record) else {
            return Err(format!(
                "trigger {} has an unknown period or metric",
                record.sid
            ));
        };
        let account = record.account_sid.clone();
        if let Ok(mut m) = self.by_account.lock() {
            let list = m.entry(account).or_default();
            list.retain(|w| w.record.sid != record.sid);
            list.push(Watched {
                record,
                recurring,
                by,
                period,
                value,
            });
        }
        Ok(())
    }

    /// Replaces the stored fields of a watched trigger (callback, name).
    pub fn replace(&self, record: &UsageTriggerRecord) {
        if let Ok(mut m) = self.by_account.lock()
            && let Some(w) = m
                .get_mut(&record.account_sid)
                .and_then(|l| l.iter_mut().find(|w| w.record.sid == record.sid))
        {
            let fired = w.record.fired_period;
            w.record = record.clone();
            w.record.fired_period = w.record.fired_period.max(fired);
        }
    }

    pub fn forget(&self, account: &str, sid: &str) {
        if let Ok(mut m) = self.by_account.lock()
            && let Some(list) = m.get_mut(account)
        {
            list.retain(|w| w.record.sid != sid);
        }
    }

    /// The current value of a trigger, as shown (`current_value`).
    pub fn current_value(&self, account: &str, sid: &str) -> Option<String> {
        let m = self.by_account.lock().ok()?;
        let w = m.get(account)?.iter().find(|w| w.record.sid == sid)?;
        Some(format_value(
            w.value,
            is_price(&w.record.usage_category, w.by),
        ))
    }

    /// Adds `delta` to the account's triggers (starting a new period where
    /// one began) and claims those that crossed their threshold: the
    /// triggers to fire.
    pub fn crossed(&self, account: &str, delta: &Usage, now: i64) -> Vec<Watched> {
        let Ok(mut m) = self.by_account.lock() else {
            return Vec::new();
        };
        let Some(list) = m.get_mut(account) else {
            return Vec::new();
        };
        let mut crossed = Vec::new();
        for w in list.iter_mut() {
            let period = w.recurring.period_start(now);
            if period != w.period {
                // A new period starts from nothing but this change.
                w.period = period;
                w.value = 0;
            }
            w.value += delta.value(&w.record.usage_category, w.by).unwrap_or(0);
            if fires(w.value, w.record.threshold, w.record.fired_period, period) {
                // Claimed here, so concurrent changes do not fire it again;
                // the store's conditional update is the real guard.
                w.record.fired_period = Some(period);
                crossed.push(w.clone());
            }
        }
        crossed
    }

    /// Gives back a claim whose firing failed, so the next change retries it.
    pub fn unclaim(&self, fired: &Watched) {
        if let Ok(mut m) = self.by_account.lock()
            && let Some(w) = m
                .get_mut(&fired.record.account_sid)
                .and_then(|l| l.iter_mut().find(|w| w.record.sid == fired.record.sid))
            && w.record.fired_period == Some(fired.period)
        {
            w.record.fired_period = None;
        }
    }
}
