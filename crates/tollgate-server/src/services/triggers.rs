//! Usage triggers that act: evaluated on every usage change (not on a
//! timer), each firing exactly once per period, durably before its callback
//! is queued, and optionally suspending the account at the crossing.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use tollgate_policy::triggers::{Recurring, TriggerBy, Usage, fires, format_value, is_price};
use tollgate_store::UsageTriggerRecord;
use tollgate_types::{AccountStatus, Timestamp};

use crate::app::App;
use crate::audit::Actor;
use crate::services::webhooks::{NewWebhook, prepare};

/// A trigger and the value it watches in its current period.
#[derive(Debug, Clone)]
struct Watched {
    record: UsageTriggerRecord,
    recurring: Recurring,
    by: TriggerBy,
    /// The period `value` counts in.
    period: i64,
    value: i64,
}

/// Every trigger, by account, with its running value (in memory: the send
/// path reads no database row).
#[derive(Default)]
pub struct Triggers {
    by_account: Mutex<HashMap<String, Vec<Watched>>>,
}

fn parse(record: &UsageTriggerRecord) -> Option<(Recurring, TriggerBy)> {
    Some((
        Recurring::parse(&record.recurring)?,
        TriggerBy::parse(&record.trigger_by)?,
    ))
}

/// The account's usage since `start`, from the store.
pub async fn usage_since(app: &App, account: &str, start: i64) -> Result<Usage, String> {
    let rows = app
        .store
        .usage(account, start, i64::MAX)
        .await
        .map_err(|e| e.to_string())?;
    let mut usage = Usage::default();
    for row in rows {
        if let Some(t) = usage.base_mut(&row.category) {
            t.count += row.count;
            t.usage += row.usage;
            t.price_micros += row.price_micros;
        }
    }
    Ok(usage)
}

impl Triggers {
    /// Starts watching `record` from the store's usage in its period, and
    /// fires it at once if it is already crossed (a crash between a send
    /// and its trigger, or a trigger created below the current value).
    pub async fn watch(&self, app: &Arc<App>, record: UsageTriggerRecord) -> Result<(), String> {
        let Some((recurring, by)) = parse(&record) else {
            return Err(format!(
                "trigger {} has an unknown period or metric",
                record.sid
            ));
        };
        let now = app.clock.now().0;
        let period = recurring.period_start(now);
        let usage = usage_since(app, &record.account_sid, period).await?;
        let value = usage.value(&record.usage_category, by).unwrap_or(0);
        let account = record.account_sid.clone();
        if let Ok(mut m) = self.by_account.lock() {
            let list = m.entry(account.clone()).or_default();
            list.retain(|w| w.record.sid != record.sid);
            list.push(Watched {
                record,
                recurring,
                by,
                period,
                value,
            });
        }
        self.observe(app, &account, &Usage::default()).await;
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

    /// Adds `delta` (durable already) to the account's triggers and fires
    /// those that crossed. Returns when their state is durable and any
    /// suspension is in force, so the next send sees it.
    pub async fn observe(&self, app: &Arc<App>, account: &str, delta: &Usage) {
        let now = app.clock.now().0;
        let crossed: Vec<Watched> = {
            let Ok(mut m) = self.by_account.lock() else {
                return;
            };
            let Some(list) = m.get_mut(account) else {
                return;
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
        };
        for w in crossed {
            if let Err(e) = fire(app, &w, now).await {
                tracing::error!(error = %e, trigger = %w.record.sid, "usage trigger did not fire; retried on the next change");
                self.unclaim(&w);
            }
        }
    }

    fn unclaim(&self, fired: &Watched) {
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

/// Records the firing, queues the signed callback and (with `Action=suspend`)
/// suspends the account, in one transaction.
async fn fire(app: &Arc<App>, w: &Watched, now: i64) -> Result<(), String> {
    let r = &w.record;
    let price = is_price(&r.usage_category, w.by);
    let current = format_value(w.value, price);
    let url = app
        .master_key()
        .open_text(&r.sid, &r.callback_url_sealed)
        .map_err(|_| "cannot open the callback URL".to_owned())?;
    let record_kind = match w.recurring {
        Recurring::Daily => "/Daily",
        Recurring::Monthly => "/Monthly",
        Recurring::Yearly | Recurring::AllTime => "",
    };
    let usage_uri = format!(
        "/2010-04-01/Accounts/{}/Usage/Records{record_kind}.json?Category={}&StartDate={}&EndDate={}",
        r.account_sid,
        r.usage_category,
        &Timestamp(w.period).iso8601()[..10],
        &Timestamp(now).iso8601()[..10],
    );
    let params: Vec<(String, String)> = vec![
        ("AccountSid".into(), r.account_sid.clone()),
        ("UsageTriggerSid".into(), r.sid.clone()),
        ("DateFired".into(), Timestamp(now).rfc2822()),
        ("Recurring".into(), w.recurring.as_str().to_owned()),
        ("UsageCategory".into(), r.usage_category.clone()),
        ("TriggerBy".into(), r.trigger_by.clone()),
        ("TriggerValue".into(), r.trigger_value.clone()),
        ("CurrentValue".into(), current.clone()),
        ("UsageRecordUri".into(), usage_uri),
        // The same for every delivery attempt of this firing.
        ("IdempotencyToken".into(), format!("{}-{}", r.sid, w.period)),
    ];
    let method = if r.callback_method.eq_ignore_ascii_case("GET") {
        tollgate_webhook::request::Method::Get
    } else {
        tollgate_webhook::request::Method::Post
    };
    let hook = prepare(
        app,
        NewWebhook {
            account_sid: &r.account_sid,
            url: &url,
            method,
            payload: tollgate_webhook::request::Payload::Form(params),
        },
    )
    .map_err(|e| e.message.clone())?;
    let snapshot = app.snapshot();
    let suspend = (r.action == "suspend")
        .then(|| snapshot.accounts.get(&r.account_sid))
        .flatten()
        .filter(|a| !a.is_main() && a.status == AccountStatus::Active)
        .map(|a| a.sid.clone());
    let actor = Actor::tollgate();
    let mut events = vec![actor.event(
        now,
        &r.account_sid,
        "usage-trigger.fired",
        ("usage-trigger", Some(&r.sid)),
        serde_json::json!({"usage_category": r.usage_category, "trigger_by": r.trigger_by,
            "trigger_value": r.trigger_value, "current_value": current, "action": r.action}),
    )];
    if let Some(account) = &suspend {
        events.push(actor.event(
            now,
            account,
            "account.updated",
            ("account", Some(account)),
            serde_json::json!({"before": {"status": "active"}, "after": {"status": "suspended"},
                "reason": format!("usage trigger {}", r.sid)}),
        ));
    }
    // The suspension must be in the snapshot before the next send: hold the
    // write lock across the store write and the refresh.
    let change = app.change().await;
    let fired = app
        .store
        .fire_usage_trigger(
            &r.sid,
            w.period,
            now,
            &current,
            &hook,
            suspend.as_deref(),
            &events,
        )
        .await
        .map_err(|e| e.to_string())?;
    if !fired {
        return Ok(()); // fired already in this period (another node, or before a restart)
    }
    if let Some(account) = &suspend {
        let record = app
            .store
            .account(account)
            .await
            .map_err(|e| e.to_string())?;
        change
            .commit(|snapshot, key| match &record {
                Some(record) => snapshot.put_account(key, record),
                None => Ok(()),
            })
            .map_err(|e| e.message.clone())?;
        app.carrier.end_calls_of(account);
        tracing::warn!(%account, trigger = %r.sid, "account suspended by a usage trigger");
    } else {
        change.commit_outside_snapshot();
    }
    app.webhooks.wake_dispatcher();
    tracing::info!(trigger = %r.sid, account = %r.account_sid, value = %current, "usage trigger fired");
    Ok(())
}
