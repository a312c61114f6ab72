//! Alarms with their sliding windows (Monitor v2 shape), in memory, and the
//! queue of alerts they count. Acting on a fired alarm is
//! `services::alarms`.

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;

use tokio::sync::mpsc;
use tollgate_store::{AlarmRecord, AlertRecord};

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

/// Alerts that may wait for the alarms' task.
pub const ALERT_QUEUE: usize = 65_536;

/// Every alarm, by account, with its window; and the queue of new alerts.
pub struct Alarms {
    by_account: Mutex<HashMap<String, Vec<Watched>>>,
    alerts: mpsc::Sender<AlertRecord>,
    receiver: Mutex<Option<mpsc::Receiver<AlertRecord>>>,
}

impl Default for Alarms {
    fn default() -> Self {
        let (alerts, receiver) = mpsc::channel(ALERT_QUEUE);
        Alarms {
            by_account: Mutex::default(),
            alerts,
            receiver: Mutex::new(Some(receiver)),
        }
    }
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

    /// Counts `alert` for the alarms of `accounts`; the alarms that reach
    /// their value, with the count.
    pub fn counted(&self, accounts: &[&str], alert: &AlertRecord) -> Vec<(AlarmRecord, usize)> {
        let mut fired = Vec::new();
        if let Ok(mut m) = self.by_account.lock() {
            for account in accounts {
                for w in m.get_mut(*account).into_iter().flatten() {
                    if w.record.enabled
                        && matches(&w.record, alert)
                        && w.window.hit(alert.date_created)
                    {
                        fired.push((w.record.clone(), w.window.hits.len()));
                    }
                }
            }
        }
        fired
    }

    /// Hands a new alert to the alarms' task (`services::alarms::run`).
    /// Beyond [`ALERT_QUEUE`] waiting, an alert is stored but not counted.
    pub fn send(&self, alert: AlertRecord) {
        if self.alerts.try_send(alert).is_err() {
            tracing::warn!("the alarms' queue is full; an alert was not counted");
        }
    }

    /// The receiving end of [`Alarms::send`], for the one task that drains it.
    pub fn take_receiver(&self) -> Option<mpsc::Receiver<AlertRecord>> {
        self.receiver.lock().ok()?.take()
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
