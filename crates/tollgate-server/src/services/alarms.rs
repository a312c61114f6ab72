//! Alarms (Monitor v2 shape): a count of matching alerts in a sliding window.
//! An alarm fires its signed webhook when the count reaches `triggerValue`,
//! and again only after the count has dropped below it. Tollgate's
//! extension: `action=suspend|lockdown` acts on the account at once.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};

use tollgate_store::{AlarmRecord, AlertRecord};
use tollgate_types::{AccountStatus, Timestamp};

use crate::app::App;
use crate::audit::Actor;

/// `timeWindow` in milliseconds.
pub fn window_ms(name: &str) -> Option<i64> {
    Some(match name {
        "FIVE_MINS" => 5 * 60_000,
        "FIFTEEN_MINS" => 15 * 60_000,
        "ONE_HOUR" => 3_600_000,
        "TWELVE_HOURS" => 12 * 3_600_000,
        "ONE_DAY" => 86_400_000,
        _ => return None,
    })
}

/// Whether `alert` is one the alarm counts.
pub fn matches(alarm: &AlarmRecord, alert: &AlertRecord) -> bool {
    match alarm.query_type.as_str() {
        "ERROR_CODE" => alarm.query.as_deref() == Some(alert.error_code.to_string().as_str()),
        "LOG_LEVEL" => alarm
            .query
            .as_deref()
            .is_some_and(|q| q.eq_ignore_ascii_case(&alert.log_level)),
        _ => true,
    }
}

/// The sliding window of one alarm: pure, time passed in.
#[derive(Debug, Clone)]
pub struct Window {
    window: i64,
    threshold: usize,
    /// Times of the latest matching alerts (at most `threshold`).
    hits: VecDeque<i64>,
    armed: bool,
}

impl Window {
    pub fn new(window: i64, threshold: i64) -> Window {
        Window {
            window,
            threshold: usize::try_from(threshold.max(1)).unwrap_or(1),
            hits: VecDeque::new(),
            armed: true,
        }
    }

    /// Counts a matching alert at `now`; true when the alarm fires.
    pub fn hit(&mut self, now: i64) -> bool {
        while self.hits.front().is_some_and(|t| *t <= now - self.window) {
            self.hits.pop_front();
        }
        if self.hits.len() < self.threshold {
            // Below the value (before this alert): armed again.
            self.armed = true;
        }
        self.hits.push_back(now);
        while self.hits.len() > self.threshold {
            self.hits.pop_front();
        }
        if self.armed && self.hits.len() >= self.threshold {
            self.armed = false;
            return true;
        }
        false
    }
}

struct Watched {
    record: AlarmRecord,
    window: Window,
}

#[derive(Default)]
pub struct Alarms {
    by_account: Mutex<HashMap<String, Vec<Watched>>>,
}

impl Alarms {
    pub fn watch(&self, record: AlarmRecord) {
        let Some(window) = window_ms(&record.time_window) else {
            return;
        };
        if let Ok(mut m) = self.by_account.lock() {
            let list = m.entry(record.account_sid.clone()).or_default();
            list.retain(|w| w.record.sid != record.sid);
            list.push(Watched {
                window: Window::new(window, record.trigger_value),
                record,
            });
        }
    }

    pub fn forget(&self, account: &str, sid: &str) {
        if let Ok(mut m) = self.by_account.lock()
            && let Some(list) = m.get_mut(account)
        {
            list.retain(|w| w.record.sid != sid);
        }
    }

    /// Counts `alert` for the alarms of its account and of the account's
    /// parent; fires those that reach their value.
    pub fn observe(&self, app: &Arc<App>, alert: &AlertRecord) {
        let snapshot = app.snapshot();
        // Its own account's alarms, and its parent's (once, for a main account).
        let mut accounts = vec![alert.account_sid.as_str()];
        if let Some(owner) = snapshot
            .accounts
            .get(&alert.account_sid)
            .map(|a| a.owner_account_sid.as_str())
            && owner != alert.account_sid
        {
            accounts.push(owner);
        }
        let mut fired = Vec::new();
        if let Ok(mut m) = self.by_account.lock() {
            for account in accounts {
                for w in m.get_mut(account).into_iter().flatten() {
                    if w.record.enabled
                        && matches(&w.record, alert)
                        && w.window.hit(alert.date_created)
                    {
                        fired.push((w.record.clone(), w.window.hits.len()));
                    }
                }
            }
        }
        for (alarm, count) in fired {
            let app = app.clone();
            let alert = alert.clone();
            tokio::spawn(async move { fire(&app, &alarm, &alert, count).await });
        }
    }
}

async fn fire(app: &Arc<App>, alarm: &AlarmRecord, alert: &AlertRecord, count: usize) {
    let now = app.clock.now().0;
    tracing::warn!(alarm = %alarm.sid, account = %alarm.account_sid, count, "alarm fired");
    if let Some(sealed) = &alarm.webhook_sealed
        && let Ok(url) = app.master_key().open_text(&alarm.sid, sealed)
    {
        let params = vec![
            ("AlarmSid".to_owned(), alarm.sid.clone()),
            ("AccountSid".to_owned(), alarm.account_sid.clone()),
            (
                "FriendlyName".to_owned(),
                alarm.friendly_name.clone().unwrap_or_default(),
            ),
            ("QueryType".to_owned(), alarm.query_type.clone()),
            ("Query".to_owned(), alarm.query.clone().unwrap_or_default()),
            ("TriggerValue".to_owned(), alarm.trigger_value.to_string()),
            ("TimeWindow".to_owned(), alarm.time_window.clone()),
            ("CurrentValue".to_owned(), count.to_string()),
            ("ErrorCode".to_owned(), alert.error_code.to_string()),
            ("AlertSid".to_owned(), alert.sid.clone()),
            ("AlertAccountSid".to_owned(), alert.account_sid.clone()),
            ("DateFired".to_owned(), Timestamp(now).rfc2822()),
            ("Action".to_owned(), alarm.action.clone()),
        ];
        let hook = crate::services::webhooks::NewWebhook {
            account_sid: &alarm.account_sid,
            url: &url,
            method: tollgate_webhook::request::Method::Post,
            payload: tollgate_webhook::request::Payload::Form(params),
        };
        if let Err(e) = crate::services::webhooks::enqueue(app, hook).await {
            tracing::error!(alarm = %alarm.sid, code = e.spec.code, "alarm webhook not queued");
        }
    }
    // The account the alert was about, unless it is the main account.
    let target = app
        .snapshot()
        .accounts
        .get(&alert.account_sid)
        .filter(|a| !a.is_main() && a.status == AccountStatus::Active)
        .map(|a| a.sid.clone());
    let Some(target) = target else {
        return;
    };
    let actor = Actor::tollgate();
    let result = match alarm.action.as_str() {
        "lockdown" => {
            let change = app.change().await;
            crate::services::lockdown::apply(change, app, &target, false, false, &actor)
                .await
                .map(|_| ())
                .map_err(|e| e.to_string())
        }
        "suspend" => {
            let change = app.change().await;
            async {
                let mut record = app
                    .store
                    .account(&target)
                    .await
                    .map_err(|e| e.to_string())?
                    .ok_or("no such account")?;
                record.status = AccountStatus::Suspended;
                record.date_updated = now;
                let event = actor.event(now, &target, "account.updated", ("account", Some(&target)),
                    serde_json::json!({"before": {"status": "active"}, "after": {"status": "suspended"},
                        "reason": format!("alarm {}", alarm.sid)}));
                app.store
                    .update_account(&record, &[event])
                    .await
                    .map_err(|e| e.to_string())?;
                change
                    .commit(|snapshot, key| snapshot.put_account(key, &record))
                    .map_err(|e| e.message.clone())
            }
            .await
        }
        _ => return,
    };
    match result {
        Ok(()) => {
            app.carrier.end_calls_of(&target);
            tracing::warn!(alarm = %alarm.sid, account = %target, action = %alarm.action, "alarm acted");
        }
        Err(e) => tracing::error!(alarm = %alarm.sid, error = %e, "alarm action failed"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fires_at_the_value_and_again_only_after_dropping_below() {
        let mut w = Window::new(60_000, 3);
        assert!(!w.hit(0));
        assert!(!w.hit(1_000));
        assert!(w.hit(2_000), "third in the window");
        assert!(!w.hit(3_000), "still above: no second firing");
        assert!(!w.hit(4_000));
        // A minute later the window holds one: below the value, armed again.
        assert!(!w.hit(70_000));
        assert!(!w.hit(71_000));
        assert!(w.hit(72_000));
    }

    #[test]
    fn windows_have_twilio_names() {
        assert_eq!(window_ms("FIVE_MINS"), Some(300_000));
        assert_eq!(window_ms("ONE_DAY"), Some(86_400_000));
        assert_eq!(window_ms("TEN_MINS"), None);
    }
}
